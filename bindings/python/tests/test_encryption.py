"""Encrypted repositories and retention from Python: a LOCAL one through SQL, a Python one through
attach_repository(properties=)."""
import pytest

import tabsnap
from conftest import tree, write

MARKER = b"PYTHON-ENCRYPTION-MARKER"
KDF = "m=64,t=1,p=1"


def marked(data_dir):
    # The marker between bytes zstd cannot shrink, so a plain repository would store it as it is.
    import random

    rnd = random.Random(7)
    body = b"".join(MARKER + bytes(rnd.getrandbits(8) for _ in range(500)) for _ in range(200))
    write(data_dir / "db1" / "t2" / "t2" / "2002" / "m.dat", body)


def holding(root, needle):
    return [p for p in root.rglob("*") if p.is_file() and needle in p.read_bytes()]


def test_an_encrypted_local_repository_round_trips_through_sql(data_dir, tmp_path):
    marked(data_dir)
    repo_dir = tmp_path / "repo"
    with tabsnap.Engine(data_dir, state_dir=tmp_path / "state") as engine:
        engine.query(
            f"CREATE REPOSITORY enc WITH LOCAL ON LOCATION 'file://{repo_dir}' PROPERTIES "
            f"('encryption' = 'on', 'encryption.password' = 'py-secret', 'encryption.kdf' = '{KDF}')"
        )
        engine.query("BACKUP SNAPSHOT db1.s1 TO enc ON (t2)").wait(timeout=60)
        ts = engine.query("SHOW SNAPSHOT ON enc")[0]["Timestamp"]
        engine.query(
            f"RESTORE SNAPSHOT db1.s1 FROM enc ON (t2 AS t2c) PROPERTIES ('backup_timestamp' = '{ts}')"
        ).wait(timeout=60)
        shown = str(engine.query("SHOW REPOSITORIES"))
    assert tree(data_dir / "db1" / "t2") == tree(data_dir / "db1" / "t2c")
    assert holding(repo_dir, MARKER) == []
    assert holding(tmp_path / "state", b"py-secret") == [] and "py-secret" not in shown
    with tabsnap.Engine(data_dir) as engine:
        with pytest.raises(tabsnap.TabsnapError, match="wrong password"):
            engine.query(
                f"CREATE REPOSITORY again WITH LOCAL ON LOCATION 'file://{repo_dir}' PROPERTIES "
                "('encryption' = 'on', 'encryption.password' = 'not-it')"
            )


def test_a_python_repository_encrypted_with_retention(data_dir):
    marked(data_dir)
    repo = tabsnap.MemoryRepository()
    props = {"encryption": "on", "encryption.password": "pw", "encryption.kdf": KDF, "retention": "keep_last=1"}
    with tabsnap.Engine(data_dir) as engine:
        engine.attach_repository("mem", repo, properties=props)
        for label in ("s1", "s2"):
            engine.query(f"BACKUP SNAPSHOT db1.{label} TO mem ON (t2)").wait(timeout=60)
        snaps = engine.query("SHOW SNAPSHOT ON mem")
        assert [s["Snapshot"] for s in snaps] == ["s2"]
        ts = snaps[0]["Timestamp"]
        engine.query(
            f"RESTORE SNAPSHOT db1.s2 FROM mem ON (t2 AS t2m) PROPERTIES ('backup_timestamp' = '{ts}')"
        ).wait(timeout=60)
    assert tree(data_dir / "db1" / "t2") == tree(data_dir / "db1" / "t2m")
    assert any(k.startswith("keys/") for k in repo.objects)
    assert not any(MARKER in v for v in repo.objects.values())
    with tabsnap.Engine(data_dir) as engine:
        with pytest.raises(tabsnap.TabsnapError, match="does not apply"):
            engine.attach_repository("bad", tabsnap.MemoryRepository(), properties={"s3.region": "x"})
        with pytest.raises(tabsnap.TabsnapError, match="wrong password"):
            engine.attach_repository("wrong", repo, properties={"encryption": "on", "encryption.password": "no"})
