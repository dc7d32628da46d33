"""The Pythonic layer: Engine, Job, result sets as lists of dicts, repositories implemented in Python."""
import ctypes
import threading
import time
from ctypes import POINTER, byref, c_bool, c_uint32, c_uint64, c_void_p

from . import _bindings as b
from ._errors import ParseError, TabsnapError, class_for
from ._ffi import lib

JOB_STATES = [
    "PENDING", "SNAPSHOTING", "UPLOAD_SNAPSHOT", "UPLOADING", "SAVE_META", "UPLOAD_INFO",
    "DOWNLOAD", "DOWNLOADING", "COMMIT", "COMMITTING", "FINISHED", "CANCELLED",
]


def _enc(s):
    return None if s is None else s.encode("utf-8")


def _raise(status, err):
    """Raises the exception for a failed call and frees the error object."""
    try:
        msg = lib.tabsnap_error_message(err).decode("utf-8", "replace") if err else lib.tabsnap_status_str(status).decode()
        obj = lib.tabsnap_error_object(err) if err else None
        obj = obj.decode("utf-8", "replace") if obj else None
        cls = class_for(status)
        if cls is ParseError:
            line, col = c_uint32(), c_uint32()
            has = bool(err) and lib.tabsnap_error_position(err, byref(line), byref(col))
            raise ParseError(status, msg, obj, line.value if has else None, col.value if has else None)
        raise cls(status, msg, obj)
    finally:
        if err:
            lib.tabsnap_error_free(err)


def _check(fn, *args):
    err = POINTER(b.tabsnap_error)()
    status = fn(*args, byref(err))
    if status != 0:
        _raise(status, err)


def _rows(res, i):
    """Statement `i` of result `res` as a list of dicts keyed by column."""
    cols = [lib.tabsnap_result_column_name(res, i, c).decode() for c in range(lib.tabsnap_result_column_count(res, i))]
    return [{c: lib.tabsnap_result_value(res, i, r, k).decode("utf-8", "replace") for k, c in enumerate(cols)}
            for r in range(lib.tabsnap_result_row_count(res, i))]


STATUS_CORRUPTION = 500


class VerifyReport:
    """What Engine.verify checked: ``snapshots``, ``packs``, ``chunks``, ``bytes_read``, and ``problems``."""

    def __init__(self, report, problems):
        self.snapshots = report.snapshots
        self.packs = report.packs
        self.chunks = report.chunks
        self.bytes_read = report.bytes_read
        self.problems = problems

    @property
    def ok(self):
        """Whether the snapshots are sound."""
        return not self.problems

    def __repr__(self):
        return (f"VerifyReport(ok={self.ok}, snapshots={self.snapshots}, packs={self.packs}, chunks={self.chunks}, "
                f"problems={len(self.problems)})")


class Managed:
    """Owns one native handle: `close()` frees it once; usable as a context manager."""

    _free_name = None  # the tabsnap_*_free function, looked up when first needed

    def __init__(self, ptr):
        self._ptr = ptr
        self._lock = threading.Lock()

    @property
    def ptr(self):
        if not self._ptr:
            raise ValueError(f"{type(self).__name__} is closed")
        return self._ptr

    def close(self):
        with self._lock:
            ptr, self._ptr = self._ptr, None
        if ptr:
            getattr(lib, type(self)._free_name)(ptr)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __del__(self):
        try:
            self.close()
        except Exception:
            pass


class JobInfo:
    """A job's state and progress."""

    def __init__(self, info):
        self.state = JOB_STATES[info.state] if 0 <= info.state < len(JOB_STATES) else str(info.state)
        self.kind = "BACKUP" if info.kind == 0 else "RESTORE"
        self.status = info.status
        self.files_total, self.files_done = info.files_total, info.files_done
        self.bytes_total, self.bytes_done = info.bytes_total, info.bytes_done

    @property
    def done(self):
        return self.state in ("FINISHED", "CANCELLED")

    def __repr__(self):
        return f"JobInfo({self.kind} {self.state}, files {self.files_done}/{self.files_total}, bytes {self.bytes_done}/{self.bytes_total})"


class Job:
    """A BACKUP or RESTORE started by `Engine.execute`."""

    def __init__(self, engine, job_id):
        self.engine = engine
        self.id = job_id

    def _info(self, fn, *args):
        info = b.tabsnap_job_info()
        info.struct_size = ctypes.sizeof(info)
        _check(fn, self.engine.ptr, c_uint64(self.id), *args, byref(info))
        return JobInfo(info)

    def info(self):
        return self._info(lib.tabsnap_engine_job)

    def wait(self, timeout=None, raise_on_failure=True):
        """Waits until the job ends (or `timeout` seconds pass) and returns its JobInfo. A job that ends
        CANCELLED raises the matching exception (Cancelled, TimedOut, RepositoryError, …) unless told not to."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            step = 1.0 if deadline is None else max(0.0, min(1.0, deadline - time.monotonic()))
            info = self._info(lib.tabsnap_engine_wait, c_uint64(int(step * 1000)))
            if info.done or (deadline is not None and time.monotonic() >= deadline):
                break
        if raise_on_failure and info.state == "CANCELLED":
            raise class_for(info.status)(info.status, self.error() or "the job was cancelled")
        return info

    def cancel(self):
        _check(lib.tabsnap_engine_cancel, self.engine.ptr, c_uint64(self.id))

    def error(self):
        """The job's error message (TaskErrMsg), or None."""
        out = c_void_p()
        _check(lib.tabsnap_engine_job_error, self.engine.ptr, c_uint64(self.id), byref(out))
        if not out.value:
            return None
        try:
            return ctypes.string_at(out.value).decode("utf-8", "replace")
        finally:
            lib.tabsnap_string_free(out)

    def __repr__(self):
        return f"Job({self.id})"


class Repository:
    """Base class for a repository implemented in Python and attached with `Engine.attach_repository`.

    Implement put(key, data: bytes, if_absent) -> bool (written), get(key, offset, length) -> bytes (exactly
    `length` bytes), size(key) -> int or None, list(prefix) -> iterable of (key, size), delete(key). Methods are
    called from tabsnap's worker threads; an exception fails the call with its message."""

    max_concurrency = 0

    def put(self, key, data, if_absent):
        raise NotImplementedError

    def get(self, key, offset, length):
        raise NotImplementedError

    def size(self, key):
        raise NotImplementedError

    def list(self, prefix):
        raise NotImplementedError

    def delete(self, key):
        raise NotImplementedError


class MemoryRepository(Repository):
    """A Repository kept in a dict: for tests and experiments."""

    def __init__(self):
        self.objects = {}
        self.lock = threading.Lock()

    def put(self, key, data, if_absent):
        with self.lock:
            if if_absent and key in self.objects:
                return False
            self.objects[key] = bytes(data)
            return True

    def get(self, key, offset, length):
        with self.lock:
            data = self.objects[key]
        if offset + length > len(data):
            raise IOError(f"range {offset}+{length} past the end of {key}")
        return data[offset:offset + length]

    def size(self, key):
        with self.lock:
            d = self.objects.get(key)
        return None if d is None else len(d)

    def list(self, prefix):
        with self.lock:
            return [(k, len(v)) for k, v in self.objects.items() if k.startswith(prefix)]

    def delete(self, key):
        with self.lock:
            self.objects.pop(key, None)


def _callback_table(repo, keepalive):
    """Builds the C callback table for `repo`. The CFUNCTYPE objects go into `keepalive`, which must live as long
    as tabsnap may call them."""

    def shield(err, f):
        try:
            f()
            return 0
        except Exception as e:  # every exception becomes a status: none may cross into tabsnap
            lib.tabsnap_cb_error_set(err, f"{type(e).__name__}: {e}".encode("utf-8", "replace"))
            return 1

    def put(_ud, key, data, length, if_absent, written, err):
        def f():
            written[0] = bool(repo.put(key.decode(), ctypes.string_at(data, length), bool(if_absent)))
        return shield(err, f)

    def get(_ud, key, offset, buf, length, err):
        def f():
            data = repo.get(key.decode(), offset, length)
            if len(data) != length:
                raise IOError(f"short read: {len(data)} of {length} bytes")
            ctypes.memmove(buf, data, length)
        return shield(err, f)

    def size(_ud, key, exists, out, err):
        def f():
            n = repo.size(key.decode())
            exists[0] = n is not None
            out[0] = 0 if n is None else n
        return shield(err, f)

    def list_(_ud, prefix, sink, err):
        def f():
            for k, n in repo.list(prefix.decode()):
                lib.tabsnap_list_sink_add(sink, k.encode(), n)
        return shield(err, f)

    def remove(_ud, key, err):
        return shield(err, lambda: repo.delete(key.decode()))

    def destroy(_ud):
        # Called when the engine is freed; the Engine object keeps `keepalive` (and so these functions) until then.
        pass

    fns = [b.PUT(put), b.GET(get), b.SIZE(size), b.LIST(list_), b.REMOVE(remove), b.DESTROY(destroy)]
    keepalive.fns = fns
    return b.tabsnap_repo_callbacks(b.REPO_CALLBACKS_VERSION, repo.max_concurrency, None, *fns)


class _KeepAlive:
    pass


class Engine(Managed):
    """A tabsnap engine over a data directory laid out like a BE's (see the README)."""

    _free_name = "tabsnap_engine_free"

    def __init__(self, data_dir, state_dir=None, threads=0, zstd_level=3, chunk_size=None, pack_size=None,
                 bytes_in_flight=None, max_job_timeout=None, progress=None,
                 ignore_backup_not_support_table_type=False, compression="auto", batch_files=None):
        """`compression`: how backups compress chunks unless the BACKUP or its repository has a "compression"
        property: "auto" (zstd at `zstd_level` where samples of a chunk shrink, raw otherwise), "zstd-N" (every
        chunk at level N, 1 to 19) or "none" (raw).
        `progress(job_id, JobInfo)` is called from tabsnap's job threads when a job changes state and, at most
        every 100 ms, as it progresses; exceptions it raises are printed and ignored.
        `ignore_backup_not_support_table_type` (Doris's option): a BACKUP skips the tables that are not OLAP tables,
        naming them in its TaskErrMsg, instead of failing with "Table 't' is not a OLAP table".
        `batch_files`: a backup takes its tablets in batches of about this many files (default 16,384), each
        snapshotted, backed up and released before the next."""
        self._progress_fn = None
        if progress is not None:
            def on_progress(_ud, job_id, info):
                try:
                    progress(job_id, JobInfo(info.contents))
                except Exception as e:  # nothing may cross into tabsnap
                    print(f"tabsnap progress callback raised {e!r}")
            self._progress_fn = b.PROGRESS(on_progress)
        opts = lib.tabsnap_options_new()
        try:
            _check(lib.tabsnap_options_set_threads, opts, threads)
            _check(lib.tabsnap_options_set_zstd_level, opts, zstd_level)
            _check(lib.tabsnap_options_set_compression, opts, _enc(compression))
            if chunk_size is not None:
                _check(lib.tabsnap_options_set_chunk_size, opts, chunk_size)
            if pack_size is not None:
                _check(lib.tabsnap_options_set_pack_size, opts, pack_size)
            if bytes_in_flight is not None:
                _check(lib.tabsnap_options_set_bytes_in_flight, opts, bytes_in_flight)
            if batch_files is not None:
                _check(lib.tabsnap_options_set_batch_files, opts, batch_files)
            if state_dir is not None:
                _check(lib.tabsnap_options_set_state_dir, opts, _enc(str(state_dir)))
            if max_job_timeout is not None:
                _check(lib.tabsnap_options_set_max_job_timeout_ms, opts, int(max_job_timeout * 1000))
            if self._progress_fn is not None:
                _check(lib.tabsnap_options_set_progress, opts, self._progress_fn, None)
            _check(lib.tabsnap_options_set_ignore_backup_not_support_table_type, opts,
                   c_bool(ignore_backup_not_support_table_type))
            out = POINTER(b.tabsnap_engine)()
            _check(lib.tabsnap_engine_new_dir, _enc(str(data_dir)), opts, byref(out))
        finally:
            lib.tabsnap_options_free(opts)
        super().__init__(out)
        self._keepalive = []

    def execute(self, sql, user="root", database=None):
        """Runs the statements of `sql`; returns one item per statement: a Job (BACKUP, RESTORE), a list of
        dicts keyed by column (SHOW …), or None."""
        res = POINTER(b.tabsnap_result)()
        _check(lib.tabsnap_engine_execute, self.ptr, _enc(user), _enc(database), _enc(sql), byref(res))
        try:
            out = []
            for i in range(lib.tabsnap_result_count(res)):
                kind = lib.tabsnap_result_kind(res, i)
                if kind == b.OUTCOME_JOB:
                    out.append(Job(self, lib.tabsnap_result_job_id(res, i)))
                elif kind == b.OUTCOME_ROWS:
                    out.append(_rows(res, i))
                else:
                    out.append(None)
            return out
        finally:
            lib.tabsnap_result_free(res)

    def verify(self, repository, label=None, timestamp=None, quick=False):
        """Checks the snapshots of `repository` (all, every backup of `label`, or one: `timestamp`, or "latest").
        `quick` checks that everything is there without reading the data; otherwise every chunk is read and its
        checksum and hash checked. Returns a VerifyReport: ``ok``, the counts and ``problems`` (dicts with
        ``Object``, ``Chunk``, ``Files``, ``Message``). Problems found are in the report, not raised."""
        report = b.tabsnap_verify_report(struct_size=ctypes.sizeof(b.tabsnap_verify_report))
        res = POINTER(b.tabsnap_result)()
        err = POINTER(b.tabsnap_error)()
        status = lib.tabsnap_engine_verify(self.ptr, _enc(repository), _enc(label), _enc(timestamp), bool(quick),
                                           byref(report), byref(res), byref(err))
        if status not in (0, STATUS_CORRUPTION):
            _raise(status, err)
        if err:
            lib.tabsnap_error_free(err)
        try:
            problems = _rows(res, 0)
        finally:
            lib.tabsnap_result_free(res)
        return VerifyReport(report, problems)

    def query(self, sql, **kw):
        """Runs one statement and returns its outcome."""
        return self.execute(sql, **kw)[-1]

    def attach_repository(self, name, repo, read_only=False, properties=None):
        """Registers a Python Repository under `name`, usable in BACKUP ... TO name. `properties` (a dict) may
        hold "encryption", "encryption.password", "encryption.key_file", "encryption.kdf" (an encrypted
        repository) and "retention" (a policy applied after each BACKUP); see docs/ENCRYPTION.md."""
        keep = _KeepAlive()
        table = _callback_table(repo, keep)
        keep.repo, keep.table = repo, table
        self._keepalive.append(keep)
        if not properties:
            _check(lib.tabsnap_engine_attach_repository, self.ptr, _enc(name), byref(table), c_bool(read_only))
            return
        items = list(properties.items())
        keys = (ctypes.c_char_p * len(items))(*[_enc(k) for k, _ in items])
        values = (ctypes.c_char_p * len(items))(*[_enc(v) for _, v in items])
        _check(lib.tabsnap_engine_attach_repository_with, self.ptr, _enc(name), byref(table), c_bool(read_only),
               keys, values, len(items))

    def backup_part(self, repository, database, label, timestamp, node, tablets):
        """One node's share of a backup several nodes run. `tablets` is a list of
        (table, partition, index, tablet_id, directory); every node uses the same label and timestamp."""
        n = len(tablets)
        refs = (b.tabsnap_tablet_ref * max(n, 1))()
        dirs = (ctypes.c_char_p * max(n, 1))()
        for i, (table, partition, index, tablet, directory) in enumerate(tablets):
            refs[i] = b.tabsnap_tablet_ref(_enc(table), _enc(partition), _enc(index), _enc(tablet))
            dirs[i] = _enc(str(directory))
        _check(lib.tabsnap_engine_backup_part, self.ptr, _enc(repository), _enc(database), _enc(label),
               _enc(timestamp), _enc(node), refs, dirs, n)

    def commit_parts(self, repository, label, timestamp, nodes):
        """Commits a backup several nodes ran: every node in `nodes` must have stored its part."""
        arr = (ctypes.c_char_p * max(len(nodes), 1))(*[_enc(n) for n in nodes])
        _check(lib.tabsnap_engine_commit_parts, self.ptr, _enc(repository), _enc(label), _enc(timestamp), arr, len(nodes))

    def cluster_backup(self, repository, database, label, tablets, nodes, run_node, retries=2, max_concurrency=0):
        """Backs up `tablets` (a list of (table, partition, index, tablet_id, directory)) as snapshot `label` with
        several `nodes`: deals the tablets to them round-robin and calls ``run_node(task)`` (a
        `tabsnap.cluster.NodeTask`) for each node's share; the callable stores the share's part (in-process:
        ``engine.backup_part(repository, task.database, task.label, task.timestamp, task.part, task.tablets)``)
        or raises. A failed share is run again on a node that succeeded, at most `retries` times; when every node
        fails, CallbackError names each one and nothing is committed. At most `max_concurrency` nodes run at
        once (0: all, each on a thread of its own; 1: one after the other, on this thread).

        Returns a `tabsnap.cluster.ClusterSummary` (timestamp, tablets, nodes, failed_nodes, retries, files,
        bytes); its timestamp is RESTORE's ``backup_timestamp``.
        """
        from .cluster import cluster_backup
        return cluster_backup(self, _check, repository, database, label, tablets, nodes, run_node, retries,
                              max_concurrency)

    def collect_garbage(self, repository, dry_run=False):
        """Removes what no snapshot of `repository` needs, under its exclusive lock.

        Returns a dict: ``objects`` and ``bytes`` removed (or that would be, with ``dry_run``), and ``busy``:
        True when another job or process used the repository and nothing was removed.
        """
        objects, nbytes, busy = ctypes.c_uint64(), ctypes.c_uint64(), ctypes.c_bool()
        _check(lib.tabsnap_engine_collect_garbage, self.ptr, _enc(repository), bool(dry_run), ctypes.byref(objects),
               ctypes.byref(nbytes), ctypes.byref(busy))
        return {"objects": objects.value, "bytes": nbytes.value, "busy": busy.value}

    def close(self):
        super().close()
