import pytest

import tabsnap
from conftest import tree


def test_version():
    assert tabsnap.version().count(".") == 2


def test_backup_show_restore_round_trip(tmp_path, data_dir):
    with tabsnap.Engine(data_dir, state_dir=tmp_path / "state", threads=2) as engine:
        out = engine.execute(f"CREATE REPOSITORY r WITH LOCAL ON LOCATION 'file://{tmp_path}/repo'; "
                             "BACKUP SNAPSHOT db1.s1 TO r PROPERTIES ('timeout' = '3600')")
        assert out[0] is None
        job = out[1]
        assert isinstance(job, tabsnap.Job)
        info = job.wait(timeout=60)
        assert info.state == "FINISHED" and info.files_done == info.files_total == 5
        rows = engine.query("SHOW BACKUP", database="db1")
        assert rows[0]["SnapshotName"] == "s1" and rows[0]["State"] == "FINISHED"
        assert rows[0]["BackupObjs"] == "[db1.t1], [db1.t2]"
        ts = engine.query("SHOW SNAPSHOT ON r")[0]["Timestamp"]
        restore = engine.query(f"RESTORE SNAPSHOT db1.s1 FROM r ON (t1 AS t1_copy) PROPERTIES ('backup_timestamp' = '{ts}')")
        assert restore.wait(timeout=60).state == "FINISHED"
        assert job.error() is None
    assert tree(data_dir / "db1" / "t1") == tree(data_dir / "db1" / "t1_copy")


def test_a_backup_in_batches_of_one_file_restores_the_same_tables(tmp_path, data_dir):
    with tabsnap.Engine(data_dir, threads=2, batch_files=1) as engine:
        engine.execute(f"CREATE REPOSITORY r WITH LOCAL ON LOCATION 'file://{tmp_path}/repo'")
        info = engine.query("BACKUP SNAPSHOT db1.s1 TO r ON (t1)").wait(timeout=60)
        assert info.state == "FINISHED" and info.files_done == info.files_total > 1
        ts = engine.query("SHOW SNAPSHOT ON r")[0]["Timestamp"]
        restore = engine.query(f"RESTORE SNAPSHOT db1.s1 FROM r ON (t1 AS t1_copy) PROPERTIES ('backup_timestamp' = '{ts}')")
        assert restore.wait(timeout=60).state == "FINISHED"
    assert tree(data_dir / "db1" / "t1") == tree(data_dir / "db1" / "t1_copy")
    with pytest.raises(tabsnap.ArgumentError, match="batch files 0"):
        tabsnap.Engine(data_dir, batch_files=0)


def test_errors_become_exceptions(tmp_path, data_dir):
    engine = tabsnap.Engine(data_dir)
    with pytest.raises(tabsnap.ParseError) as e:
        engine.execute("SHOW REPOSITORIES;\nBACKUP SNAPSHOT db1.s TO r ON (t1 PARTITON (p1))")
    assert (e.value.line, e.value.column) == (2, 35)
    assert "PARTITON" in e.value.message and e.value.status == 200
    with pytest.raises(tabsnap.AnalysisError, match="Missing backup_timestamp property"):
        engine.execute("RESTORE SNAPSHOT db1.s FROM r")
    with pytest.raises(tabsnap.AnalysisError, match="ADMIN"):
        engine.execute("SHOW REPOSITORIES", user="bob")
    with pytest.raises(tabsnap.AnalysisError, match="Repository nope does not exist"):
        engine.execute("BACKUP SNAPSHOT db1.s TO nope")
    with pytest.raises(tabsnap.ArgumentError, match="zstd level 40"):
        tabsnap.Engine(data_dir, zstd_level=40)
    with pytest.raises(tabsnap.NotFoundError):
        tabsnap.Engine(tmp_path / "missing")
    engine.close()
    engine.close()
    with pytest.raises(ValueError, match="closed"):
        engine.execute("SHOW REPOSITORIES")


def test_state_survives_a_new_engine(tmp_path, data_dir):
    with tabsnap.Engine(data_dir, state_dir=tmp_path / "state") as engine:
        engine.execute(f"CREATE REPOSITORY r WITH LOCAL ON LOCATION 'file://{tmp_path}/repo'")
        engine.query("BACKUP SNAPSHOT db1.s1 TO r ON (t2)").wait(timeout=60)
    with tabsnap.Engine(data_dir, state_dir=tmp_path / "state") as engine:
        assert [r["RepoName"] for r in engine.query("SHOW REPOSITORIES")] == ["r"]
        assert engine.query("SHOW BACKUP", database="db1")[0]["State"] == "FINISHED"


def test_progress_callback_sees_the_job_to_its_end(tmp_path, data_dir):
    seen = []
    with tabsnap.Engine(data_dir, progress=lambda job_id, info: seen.append((job_id, info.state))) as engine:
        engine.execute(f"CREATE REPOSITORY r WITH LOCAL ON LOCATION 'file://{tmp_path}/repo'")
        job = engine.query("BACKUP SNAPSHOT db1.s1 TO r")
        job.wait(timeout=60)
    states = [s for j, s in seen if j == job.id]
    assert "UPLOADING" in states and states[-1] == "FINISHED", states


def test_a_progress_callback_may_call_the_engine_back(tmp_path, data_dir):
    holder, seen, errors = [], [], []

    def progress(job_id, info):
        try:
            engine = holder[0]
            job = tabsnap.Job(engine, job_id)
            seen.append((job.info().state, info.state))
            job.wait(timeout=0, raise_on_failure=False)
            engine.query("SHOW BACKUP", database="db1")
        except Exception as e:  # recorded, then asserted on below
            errors.append(e)

    with tabsnap.Engine(data_dir, progress=progress) as engine:
        holder.append(engine)
        engine.execute(f"CREATE REPOSITORY r WITH LOCAL ON LOCATION 'file://{tmp_path}/repo'")
        job = engine.query("BACKUP SNAPSHOT db1.s1 TO r")
        info = job.wait(timeout=60)
        # The FINISHED callback ran before wait returned.
        assert info.state == "FINISHED" and seen and seen[-1][1] == "FINISHED", seen
    assert not errors, errors
