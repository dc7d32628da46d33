"""Coordinated backups from Python: the node callable runs each share in-process; a node that fails once is
retried on another; every node failing commits nothing and names them."""
import threading

import pytest

import tabsnap
from conftest import tree


def tablets(data_dir):
    t1 = data_dir / "db1" / "t1"
    return [("t1", "p1", "t1", "1001", t1 / "p1" / "1001"), ("t1", "p2", "t1", "1002", t1 / "p2" / "1002")]


def test_a_coordinated_backup_runs_every_node_and_restores(data_dir):
    repo = tabsnap.MemoryRepository()
    seen = []
    lock = threading.Lock()
    with tabsnap.Engine(data_dir) as engine:
        engine.attach_repository("mem", repo)

        def run_node(task):
            with lock:
                seen.append((task.node, task.part, task.retry_of, task.attempt, len(task.tablets)))
            engine.backup_part("mem", task.database, task.label, task.timestamp, task.part, task.tablets)

        s = engine.cluster_backup("mem", "db1", "c1", tablets(data_dir), ["be1", "be2", "be3"], run_node)
        assert (s.tablets, s.nodes, s.retries, s.failed_nodes, s.files) == (2, 2, 0, 0, 4)
        assert len(s.timestamp) == 19
        assert sorted(seen) == [("be1", "be1", None, 0, 1), ("be2", "be2", None, 0, 1)]
        assert not any(k.startswith("parts/") for k in repo.objects)
        engine.query(f"RESTORE SNAPSHOT db1.c1 FROM mem ON (t1 AS t1c) "
                     f"PROPERTIES ('backup_timestamp' = '{s.timestamp}')").wait(timeout=60)
    assert tree(data_dir / "db1" / "t1") == tree(data_dir / "db1" / "t1c")


def test_a_node_that_fails_once_is_retried_on_another(data_dir):
    repo = tabsnap.MemoryRepository()
    failed = []
    with tabsnap.Engine(data_dir) as engine:
        engine.attach_repository("mem", repo)

        def run_node(task):
            if task.node == "be2" and not failed:
                failed.append(task.part)
                raise ConnectionError("be2 is down")
            engine.backup_part("mem", task.database, task.label, task.timestamp, task.part, task.tablets)

        s = engine.cluster_backup("mem", "db1", "c2", tablets(data_dir), ["be1", "be2"], run_node, max_concurrency=1)
        assert (s.retries, s.failed_nodes, s.files) == (1, 1, 4)
        rows = engine.query("SHOW SNAPSHOT ON mem WHERE SNAPSHOT = 'c2'")
        assert [r["Timestamp"] for r in rows] == [s.timestamp]


def test_when_every_node_fails_nothing_is_committed(data_dir):
    repo = tabsnap.MemoryRepository()
    with tabsnap.Engine(data_dir) as engine:
        engine.attach_repository("mem", repo)

        def run_node(task):
            raise ConnectionError(f"{task.node} is down")

        with pytest.raises(tabsnap.CallbackError, match="every node failed") as e:
            engine.cluster_backup("mem", "db1", "c3", tablets(data_dir), ["be1", "be2"], run_node)
        assert "be1 is down" in str(e.value) and "be2 is down" in str(e.value)
        assert not any(k.startswith("snapshots/") for k in repo.objects)
        with pytest.raises(tabsnap.ArgumentError, match="named twice"):
            engine.cluster_backup("mem", "db1", "c4", tablets(data_dir), ["be1", "be1"], run_node)
        with pytest.raises(TypeError):
            engine.cluster_backup("mem", "db1", "c4", tablets(data_dir), ["be1"], None)
