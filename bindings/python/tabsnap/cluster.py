"""Coordinated backups: tablets dealt to nodes, each node's share run by a Python callable, a failed node's
tablets retried on a node that succeeded, the snapshot committed once every tablet is stored."""
import ctypes
from collections import namedtuple

from . import _bindings as b
from ._ffi import lib

NodeTask = namedtuple("NodeTask", "node part retry_of attempt database label timestamp tablets")
NodeTask.__doc__ = """One node's share. `tablets` is a list of (table, partition, index, tablet_id, directory), the
form Engine.backup_part takes; store the share with
``engine.backup_part(repository, task.database, task.label, task.timestamp, task.part, task.tablets)``
(or have another machine do the same). `retry_of` names the node whose tablets these were, for a retry."""

ClusterSummary = namedtuple("ClusterSummary", "timestamp tablets nodes failed_nodes retries files bytes")


def _text(p):
    return None if p is None else p.decode("utf-8", "replace")


def _task(t):
    tablets = []
    for i in range(t.n):
        r = t.tablets[i]
        tablets.append((_text(r.table), _text(r.partition), _text(r.index), _text(r.tablet), _text(t.dirs[i])))
    return NodeTask(_text(t.node), _text(t.part), _text(t.retry_of), t.attempt, _text(t.database), _text(t.label),
                    _text(t.timestamp), tablets)


def cluster_backup(engine, check, repository, database, label, tablets, nodes, run_node, retries=2,
                   max_concurrency=0):
    """See Engine.cluster_backup."""
    if not callable(run_node):
        raise TypeError("run_node must be callable: run_node(task) stores the task's part or raises")

    def trampoline(_ud, task, err):
        try:
            run_node(_task(task.contents))
            return 0
        except BaseException as e:  # every exception becomes a status: none may cross into tabsnap
            lib.tabsnap_cb_error_set(err, f"{type(e).__name__}: {e}".encode("utf-8", "replace"))
            return 1

    fn = b.RUN_NODE(trampoline)  # referenced until the call returns: the table is used only during it
    table = b.tabsnap_cluster_callbacks(b.CLUSTER_CALLBACKS_VERSION, max_concurrency, None, fn)
    n = len(tablets)
    refs = (b.tabsnap_tablet_ref * max(n, 1))()
    dirs = (ctypes.c_char_p * max(n, 1))()
    for i, (table_name, partition, index, tablet, directory) in enumerate(tablets):
        refs[i] = b.tabsnap_tablet_ref(table_name.encode(), partition.encode(), index.encode(), str(tablet).encode())
        dirs[i] = str(directory).encode()
    names = (ctypes.c_char_p * max(len(nodes), 1))(*[n_.encode() for n_ in nodes])
    summary = b.tabsnap_cluster_summary()
    summary.struct_size = ctypes.sizeof(summary)
    check(lib.tabsnap_engine_cluster_backup, engine.ptr, repository.encode(), database.encode(), label.encode(), refs,
          dirs, n, names, len(nodes), retries, ctypes.byref(table), ctypes.byref(summary))
    return ClusterSummary(summary.timestamp.decode(), summary.tablets, summary.nodes, summary.failed_nodes,
                          summary.retries, summary.files, summary.bytes)
