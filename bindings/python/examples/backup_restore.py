"""Back up a data directory into a local repository and restore a table under another name.

    python backup_restore.py WORKDIR
"""
import pathlib
import sys

import tabsnap

work = pathlib.Path(sys.argv[1])
data = work / "data"
(data / "sales" / "orders" / "p2024" / "10001").mkdir(parents=True, exist_ok=True)
(data / "sales" / "orders" / "p2024" / "10001" / "0_0.dat").write_bytes(b"segment bytes " * 1000)

with tabsnap.Engine(data, state_dir=work / "state") as engine:
    engine.execute(f"CREATE REPOSITORY backups WITH LOCAL ON LOCATION 'file://{work}/repo'")
    job = engine.query("BACKUP SNAPSHOT sales.nightly TO backups")
    print(job.wait(timeout=600))
    print(engine.query("SHOW BACKUP", database="sales")[0]["State"])
    ts = engine.query("SHOW SNAPSHOT ON backups WHERE SNAPSHOT = 'nightly'")[0]["Timestamp"]
    try:
        engine.query(f"RESTORE SNAPSHOT sales.nightly FROM backups ON (orders AS orders_copy) "
                     f"PROPERTIES ('backup_timestamp' = '{ts}')").wait(timeout=600)
    except tabsnap.TabsnapError as e:
        sys.exit(f"restore failed: {e}")
print((data / "sales" / "orders_copy" / "p2024" / "10001" / "0_0.dat").read_bytes()[:13].decode())
