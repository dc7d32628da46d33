import json
import os
import time

import pytest

import tabsnap
from conftest import tree


def _host():
    with open("/proc/sys/kernel/hostname") as f:
        return f.read().strip()


def _boot_id():
    with open("/proc/sys/kernel/random/boot_id") as f:
        return f.read().strip()


def test_drop_snapshot_frees_space_and_collect_garbage_respects_live_locks(tmp_path, data_dir):
    repo = tmp_path / "repo"
    with tabsnap.Engine(data_dir, state_dir=tmp_path / "state") as engine:
        engine.execute(f"CREATE REPOSITORY r WITH LOCAL ON LOCATION 'file://{repo}'")
        engine.query("BACKUP SNAPSHOT db1.s1 TO r ON (t1)").wait(timeout=60)
        engine.query("BACKUP SNAPSHOT db1.s2 TO r ON (t2)").wait(timeout=60)
        packs_before = sorted(p.name for p in (repo / "packs").rglob("*") if p.is_file())
        # DROP SNAPSHOT removes the snapshot and, with nobody else using the repository, its packs.
        engine.execute("DROP SNAPSHOT db1.s1 FROM r")
        packs_after = sorted(p.name for p in (repo / "packs").rglob("*") if p.is_file())
        assert len(packs_after) < len(packs_before)
        assert engine.collect_garbage("r", dry_run=True) == {"objects": 0, "bytes": 0, "busy": False}

        # What a dead backup left: a pack no index lists.
        orphan = repo / "packs" / "ab" / ("ab" + "0" * 62)
        orphan.parent.mkdir(parents=True, exist_ok=True)
        orphan.write_bytes(b"z" * 1234)
        # A live shared lock (this process, refreshed now): the collection removes nothing.
        now = int(time.time() * 1000)
        lock = {"kind": "shared", "operation": "backup",
                "process": {"host": _host(), "boot_id": _boot_id(), "pid": os.getpid(), "start_ticks": 0},
                "created_ms": now, "refreshed_ms": now}
        (repo / "locks").mkdir(exist_ok=True)
        (repo / "locks" / ("f" * 32)).write_text(json.dumps(lock))
        assert engine.collect_garbage("r") == {"objects": 0, "bytes": 0, "busy": True}
        assert orphan.exists()
        # Once the lock is gone, the orphan is collected; the remaining snapshot still restores.
        (repo / "locks" / ("f" * 32)).unlink()
        assert engine.collect_garbage("r", dry_run=True) == {"objects": 1, "bytes": 1234, "busy": False}
        assert engine.collect_garbage("r") == {"objects": 1, "bytes": 1234, "busy": False}
        assert not orphan.exists()
        ts = engine.query("SHOW SNAPSHOT ON r WHERE SNAPSHOT = 's2'")[0]["Timestamp"]
        job = engine.query(f"RESTORE SNAPSHOT db1.s2 FROM r ON (t2 AS t2_copy) PROPERTIES ('backup_timestamp' = '{ts}')")
        assert job.wait(timeout=60).state == "FINISHED"
        with pytest.raises(tabsnap.AnalysisError, match="Repository nope does not exist"):
            engine.collect_garbage("nope")
        engine.execute(f"CREATE READ ONLY REPOSITORY ro WITH LOCAL ON LOCATION 'file://{repo}'")
        with pytest.raises(tabsnap.AnalysisError, match="Repository ro is read only"):
            engine.collect_garbage("ro")
        with pytest.raises(tabsnap.AnalysisError, match="Repository ro is read only"):
            engine.execute("DROP SNAPSHOT s2 FROM ro")
        assert engine.collect_garbage("ro", dry_run=True)["busy"] is False
    assert tree(data_dir / "db1" / "t2") == tree(data_dir / "db1" / "t2_copy")
