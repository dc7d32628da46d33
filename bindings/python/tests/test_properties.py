"""Engine options and statement properties through the Python engine: each has an effect, or is refused."""
import pytest

import tabsnap
from conftest import write


def test_ignore_backup_not_support_table_type_skips_tables_that_are_not_olap(tmp_path, data_dir):
    write(data_dir / "db1" / "ext" / "_table.json", b'{"kind": "odbc"}')
    repo = f"CREATE REPOSITORY r WITH LOCAL ON LOCATION 'file://{tmp_path}/repo'"
    with tabsnap.Engine(data_dir) as engine:
        engine.execute(repo)
        with pytest.raises(tabsnap.AnalysisError, match="^Table 'ext' is not a OLAP table$"):
            engine.execute("BACKUP SNAPSHOT db1.s1 TO r")
        assert engine.query("SHOW BACKUP", database="db1") == []
    with tabsnap.Engine(data_dir, ignore_backup_not_support_table_type=True) as engine:
        engine.execute(repo.replace("repo'", "repo2'"))
        job = engine.query("BACKUP SNAPSHOT db1.s1 TO r")
        assert job.wait(timeout=60).state == "FINISHED"
        assert "Table 'ext' is not a OLAP table: skipped" in job.error()
        row = engine.query("SHOW BACKUP", database="db1")[0]
        assert row["BackupObjs"] == "[db1.t1], [db1.t2]"


def test_clean_tables_drops_what_the_snapshot_lacks_and_unknown_properties_are_refused(tmp_path, data_dir):
    with tabsnap.Engine(data_dir) as engine:
        engine.execute(f"CREATE REPOSITORY r WITH LOCAL ON LOCATION 'file://{tmp_path}/repo'")
        engine.query("BACKUP SNAPSHOT db1.s1 TO r ON (t1)").wait(timeout=60)
        ts = engine.query("SHOW SNAPSHOT ON r")[0]["Timestamp"]
        restore = f"RESTORE SNAPSHOT db1.s1 FROM r PROPERTIES ('backup_timestamp' = '{ts}'"
        with pytest.raises(tabsnap.AnalysisError, match="meta_version is not supported"):
            engine.execute(restore + ", 'meta_version' = '40')")
        with pytest.raises(tabsnap.AnalysisError, match="Unknown restore job properties"):
            engine.execute(restore + ", 'no_such_property' = '1')")
        assert (data_dir / "db1" / "t2").is_dir()
        assert engine.query(restore + ")").wait(timeout=60).state == "FINISHED"
        assert (data_dir / "db1" / "t2").is_dir(), "without clean_tables the other table stays"
        assert engine.query(restore + ", 'clean_tables' = 'true')").wait(timeout=60).state == "FINISHED"
        assert not (data_dir / "db1" / "t2").exists(), "clean_tables drops the table the snapshot lacks"
        assert (data_dir / "db1" / "t1" / "p1").is_dir()


def _packs_bytes(repo):
    return sum(p.stat().st_size for p in (repo / "packs").rglob("*") if p.is_file())


def test_compression_option_and_property_change_what_is_stored(tmp_path, data_dir):
    raw = sum(p.stat().st_size for p in (data_dir / "db1" / "t1").rglob("*") if p.is_file())
    with tabsnap.Engine(data_dir, compression="none") as engine:
        for name, props in (("none", ""), ("z1", "PROPERTIES ('compression' = 'zstd-1')")):
            engine.execute(f"CREATE REPOSITORY {name} WITH LOCAL ON LOCATION 'file://{tmp_path}/{name}'")
            job = engine.query(f"BACKUP SNAPSHOT db1.s1 TO {name} ON (t1) {props}")
            assert job.wait(timeout=60).state == "FINISHED"
        with pytest.raises(tabsnap.AnalysisError, match="Invalid compression value: lz4. Must be 'auto', 'none'"):
            engine.execute("BACKUP SNAPSHOT db1.s2 TO none PROPERTIES ('compression' = 'lz4')")
    assert _packs_bytes(tmp_path / "none") >= raw, "the engine's compression=none stores every byte"
    assert _packs_bytes(tmp_path / "z1") < raw // 4, "the statement's zstd-1 overrides the engine's none"
    with pytest.raises(tabsnap.ArgumentError, match="Invalid compression value: zstd:5"):
        tabsnap.Engine(data_dir, compression="zstd:5")
