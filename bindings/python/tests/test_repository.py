"""Repositories implemented in Python, behind the C callback table."""
import threading

import pytest

import tabsnap
from conftest import tree


def test_memory_repository_round_trip(data_dir):
    repo = tabsnap.MemoryRepository()
    with tabsnap.Engine(data_dir) as engine:
        engine.attach_repository("mem", repo)
        job = engine.query("BACKUP SNAPSHOT db1.s1 TO mem")
        job.wait(timeout=60)
        assert any(k.startswith("packs/") for k in repo.objects)
        assert any(k.startswith("snapshots/s1/") for k in repo.objects)
        ts = engine.query("SHOW SNAPSHOT ON mem")[0]["Timestamp"]
        engine.query(f"RESTORE SNAPSHOT db1.s1 FROM mem ON (t2 AS t2b) PROPERTIES ('backup_timestamp' = '{ts}')").wait(timeout=60)
    assert tree(data_dir / "db1" / "t2") == tree(data_dir / "db1" / "t2b")


class Flaky(tabsnap.MemoryRepository):
    """Fails every pack upload with a message of its own."""

    def put(self, key, data, if_absent):
        if key.startswith("packs/"):
            raise IOError("bucket quota exceeded")
        return super().put(key, data, if_absent)


def test_a_failing_python_repository_fails_the_job_with_its_message(data_dir):
    with tabsnap.Engine(data_dir) as engine:
        engine.attach_repository("flaky", Flaky())
        job = engine.query("BACKUP SNAPSHOT db1.s1 TO flaky")
        with pytest.raises(tabsnap.CallbackError, match="bucket quota exceeded"):
            job.wait(timeout=60)
        info = job.wait(timeout=60, raise_on_failure=False)
        assert info.state == "CANCELLED"
        assert "OSError: bucket quota exceeded" in job.error()
        assert engine.query("SHOW BACKUP", database="db1")[0]["Status"].startswith("[COMMON_ERROR")


class Gated(tabsnap.MemoryRepository):
    def __init__(self):
        super().__init__()
        self.arrived = threading.Event()
        self.release = threading.Event()

    def put(self, key, data, if_absent):
        if key.startswith("packs/"):
            self.arrived.set()
            self.release.wait(30)
        return super().put(key, data, if_absent)


def test_cancel_a_job_mid_upload(data_dir):
    repo = Gated()
    with tabsnap.Engine(data_dir) as engine:
        engine.attach_repository("gated", repo)
        job = engine.query("BACKUP SNAPSHOT db1.s1 TO gated")
        assert repo.arrived.wait(30)
        assert job.info().state == "UPLOADING"
        job.cancel()
        repo.release.set()
        with pytest.raises(tabsnap.Cancelled):
            job.wait(timeout=60)
        assert not any(k.startswith("snapshots/") for k in repo.objects)


def test_a_backup_run_by_two_nodes(data_dir):
    repo = tabsnap.MemoryRepository()
    ts = "2024-01-01-10-00-00"
    with tabsnap.Engine(data_dir) as engine:
        engine.attach_repository("mem", repo)
        t1 = data_dir / "db1" / "t1"
        engine.backup_part("mem", "db1", "multi", ts, "a", [("t1", "p1", "t1", "1001", t1 / "p1" / "1001")])
        with pytest.raises(tabsnap.NotFoundError, match="b"):
            engine.commit_parts("mem", "multi", ts, ["a", "b"])
        engine.backup_part("mem", "db1", "multi", ts, "b", [("t1", "p2", "t1", "1002", t1 / "p2" / "1002")])
        engine.commit_parts("mem", "multi", ts, ["a", "b"])
        engine.query(f"RESTORE SNAPSHOT db1.multi FROM mem ON (t1 AS t1m) PROPERTIES ('backup_timestamp' = '{ts}')").wait(timeout=60)
    assert tree(data_dir / "db1" / "t1") == tree(data_dir / "db1" / "t1m")
