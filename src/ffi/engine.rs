//! The engine handle: creating and freeing it, running statements, attaching repositories, multi-node backups.

use std::ffi::c_char;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use super::boundary::{Failure, ffi_boundary, opt_str_arg, out_arg, str_arg, write_out};
use super::error::tabsnap_error;
use super::host::{CallbackHost, tabsnap_host_callbacks, tabsnap_tablet_ref};
use super::job::report_progress;
use super::options::tabsnap_options;
use super::repo::{CallbackRepository, tabsnap_repo_callbacks};
use super::result::tabsnap_result;
use super::status::tabsnap_status;
use crate::host::{DirHost, Host};
use crate::job::JobInfo;
use crate::{Engine, Session};

/// An engine: runs statements, owns jobs and repositories. Created by `tabsnap_engine_new` /
/// `tabsnap_engine_new_dir`, freed by `tabsnap_engine_free`. Thread-safe: every function taking a
/// `const tabsnap_engine *` may be called from several threads at once, and from inside any tabsnap callback.
/// After an internal panic the engine is poisoned and its functions return `TABSNAP_STATUS_POISONED`.
pub struct tabsnap_engine {
    engine: Engine,
    poisoned: AtomicBool,
}

fn build(host: Arc<dyn Host>, opts: *const tabsnap_options) -> Result<Engine, Failure> {
    let mut b = Engine::builder(host);
    // SAFETY: NULL (defaults) or live options, per the constructors' contract.
    if let Some(o) = unsafe { opts.as_ref() } {
        let p = o.packer;
        b = b
            .threads(p.threads)
            .compression(p.compression)
            .zstd_level(p.zstd_level)
            .chunk_size(p.chunk_size)
            .pack_size(p.pack_size)
            .bytes_in_flight(p.bytes_in_flight)
            .batch_files(p.batch_files)
            .ignore_backup_not_support_table_type(o.ignore_unsupported_tables);
        if let Some(d) = &o.state_dir {
            b = b.state_dir(d);
        }
        if let Some(t) = o.max_job_timeout {
            b = b.max_job_timeout(t);
        }
        if let Some(cb) = o.progress {
            b = b.on_progress(Arc::new(move |j: &JobInfo| report_progress(cb, j)));
        }
    }
    Ok(b.build()?)
}

/// Hands `engine` out through `out` (checked not NULL by the caller).
///
/// # Safety
/// `out` is not NULL and writable.
unsafe fn put_engine(out: *mut *mut tabsnap_engine, engine: Engine) {
    let handle = Box::into_raw(Box::new(tabsnap_engine { engine, poisoned: AtomicBool::new(false) }));
    // SAFETY: not NULL and writable, per this function's contract.
    unsafe { write_out(out, handle) };
}

/// The engine behind `engine`, refusing NULL and poisoned engines.
///
/// # Safety
/// `engine` is NULL or a live engine that outlives the returned borrow.
pub(crate) unsafe fn live_engine<'a>(engine: *const tabsnap_engine) -> Result<&'a Engine, Failure> {
    // SAFETY: NULL or a live engine, per this function's contract.
    let handle = unsafe { engine.as_ref::<'a>() }.ok_or_else(|| Failure::null("engine"))?;
    if handle.poisoned.load(Ordering::Acquire) {
        return Err(Failure::new(tabsnap_status::Poisoned, "the engine is poisoned by an earlier internal error"));
    }
    Ok(&handle.engine)
}

/// Marks `engine` (NULL: nothing) poisoned after a panic in a call on it.
pub(crate) fn poison(engine: *const tabsnap_engine) {
    // SAFETY: NULL or a live engine, per every caller's contract.
    if let Some(handle) = unsafe { engine.as_ref() } {
        handle.poisoned.store(true, Ordering::Release);
    }
}

/// Creates an engine over a data directory laid out like a BE's (see the README: the directory host).
/// `opts` may be NULL (defaults) and is copied. On success writes the engine to `*engine_out`; free it with
/// `tabsnap_engine_free`.
///
/// Returns `TABSNAP_STATUS_OK`; `_NULL_ARGUMENT` (`data_dir` or `engine_out` NULL); `_INVALID_UTF8`;
/// `_INVALID_ARGUMENT` (options out of range); `_NOT_FOUND` / `_IO` (the data or state directory cannot be
/// read); `_FORMAT` (a damaged state file); the statuses of a saved repository that cannot be opened;
/// `_INTERNAL_PANIC`.
///
/// Thread safety: any thread. Since: 0.1.
///
/// # Safety
/// `data_dir` is NULL or a NUL-terminated string; `opts` is NULL or live; `engine_out` is NULL or writable;
/// `err_out` is NULL or writable.
#[must_use]
#[unsafe(no_mangle)]
pub unsafe extern "C" fn tabsnap_engine_new_dir(
    data_dir: *const c_char,
    opts: *const tabsnap_options,
    engine_out: *mut *mut tabsnap_engine,
    err_out: *mut *mut tabsnap_error,
) -> tabsnap_status {
    ffi_boundary!(err_out => {
        // SAFETY: NULL or NUL-terminated per the contract.
        let dir = unsafe { str_arg(data_dir, "data_dir") }?;
        let engine_out = out_arg(engine_out, "engine_out")?;
        let engine = build(Arc::new(DirHost::new(dir)?), opts)?;
        // SAFETY: checked not NULL; writable per the contract.
        unsafe { put_engine(engine_out, engine) };
        Ok(())
    })
}

/// Creates an engine over the host described by `host` (copied; its `user_data` must stay valid until its
/// `destroy` is called, when the engine is freed). `opts` may be NULL and is copied. If this call fails for any
/// reason (a NULL `engine_out`, an unsupported table, options or a state directory that cannot be used),
/// `destroy` has been called already, unless `host` itself is NULL.
///
/// `host->version` may be 1 (a table that ends at `destroy`; the host has no optional feature) or 2.
///
/// Returns `TABSNAP_STATUS_OK`; `_NULL_ARGUMENT` (`host` or `engine_out` NULL); `_INVALID_ARGUMENT` (an
/// unsupported `version`, a required callback missing, `features` and the optional callbacks disagreeing,
/// options out of range); `_NOT_FOUND` / `_IO` / `_FORMAT`
/// (the state directory); `_INTERNAL_PANIC`.
///
/// Thread safety: any thread. Since: 0.1.
///
/// # Safety
/// `host` is NULL or points to an initialised `tabsnap_host_callbacks` of the version it states; `opts` is NULL or live; `engine_out` is
/// NULL or writable; `err_out` is NULL or writable.
#[must_use]
#[unsafe(no_mangle)]
pub unsafe extern "C" fn tabsnap_engine_new(
    host: *const tabsnap_host_callbacks,
    opts: *const tabsnap_options,
    engine_out: *mut *mut tabsnap_engine,
    err_out: *mut *mut tabsnap_error,
) -> tabsnap_status {
    ffi_boundary!(err_out => {
        // Ownership of the table passes first, so that `destroy` runs on every failure below.
        // SAFETY: NULL or a valid callback table per the contract.
        let host = unsafe { CallbackHost::from_table(host) }?;
        let engine_out = out_arg(engine_out, "engine_out")?;
        let engine = build(Arc::new(host), opts)?;
        // SAFETY: checked not NULL; writable per the contract.
        unsafe { put_engine(engine_out, engine) };
        Ok(())
    })
}

/// Frees an engine: cancels running jobs, waits until their threads have ended (every tablet snapshot taken
/// is released by then), then calls the host's and the repositories' `destroy` callbacks; no callback runs
/// after this returns. Results and errors already handed out stay valid. NULL is a no-op.
///
/// Thread safety: no other call may use `engine` at the same time or after; never from inside a tabsnap
/// callback. Since: 0.1.
///
/// # Safety
/// `engine` is NULL or from `tabsnap_engine_new*`, freed once, with no call on it running or to come.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn tabsnap_engine_free(engine: *mut tabsnap_engine) {
    ffi_boundary!(or () => {
        if !engine.is_null() {
            // SAFETY: from Box::into_raw in put_engine, freed once per the contract.
            let handle = unsafe { Box::from_raw(engine) };
            handle.engine.shutdown();
            drop(handle);
        }
    })
}

/// Runs the statements of `sql` (separated by `;`) as `user` with current database `database` (NULL: none).
/// BACKUP and RESTORE return at once with a job id. On success writes a result to `*result_out` (free it with
/// `tabsnap_result_free`). The first failing statement stops the rest; those before it have run.
///
/// Returns `TABSNAP_STATUS_OK`; `_NULL_ARGUMENT` (`engine`, `user`, `sql` or `result_out` NULL);
/// `_INVALID_UTF8`; `_SYNTAX` (the error object has the line and column); `_ANALYSIS` (Doris's message);
/// `_NOT_FOUND`; `_IO` / `_REPOSITORY` / `_FORMAT` / `_CALLBACK` (a repository or the host failed while the
/// statement ran); `_POISONED`; `_INTERNAL_PANIC`.
///
/// Thread safety: may be called from several threads at once, and from a progress callback. Since: 0.1.
///
/// # Safety
/// `engine` is NULL or live; `user`, `sql` and `database` are NULL or NUL-terminated; `result_out` is NULL or
/// writable; `err_out` is NULL or writable.
#[must_use]
#[unsafe(no_mangle)]
pub unsafe extern "C" fn tabsnap_engine_execute(
    engine: *const tabsnap_engine,
    user: *const c_char,
    database: *const c_char,
    sql: *const c_char,
    result_out: *mut *mut tabsnap_result,
    err_out: *mut *mut tabsnap_error,
) -> tabsnap_status {
    ffi_boundary!(err_out, poisons engine => {
        // SAFETY: NULL or a live engine, per the contract.
        let e = unsafe { live_engine(engine) }?;
        // SAFETY: NULL or NUL-terminated strings per the contract.
        let (user, database, sql) =
            unsafe { (str_arg(user, "user")?, opt_str_arg(database, "database")?, str_arg(sql, "sql")?) };
        let result_out = out_arg(result_out, "result_out")?;
        let outcomes = e.execute(&Session::new(user, database), sql)?;
        // SAFETY: checked not NULL; writable per the contract.
        unsafe { write_out(result_out, tabsnap_result::boxed(outcomes)) };
        Ok(())
    })
}

/// Registers a repository the host stores itself, under `name`, as CREATE REPOSITORY would (its snapshots, if
/// any, show up). The table is copied; its `user_data` must stay valid until its `destroy` is called (when the
/// engine is freed). If this call fails for any reason (a NULL or poisoned `engine` included), `destroy` has
/// been called already, unless `repo` itself is NULL.
///
/// Returns `TABSNAP_STATUS_OK`; `_NULL_ARGUMENT` (`engine`, `name` or `repo` NULL); `_INVALID_UTF8`;
/// `_INVALID_ARGUMENT` (an unsupported `version`, a required callback missing, a location holding something
/// else); `_ANALYSIS` (the name is taken); `_FORMAT` (an unsupported repository version); `_CALLBACK` (a
/// callback failed while initialising); `_POISONED`; `_INTERNAL_PANIC`.
///
/// Thread safety: any thread. Since: 0.1.
///
/// # Safety
/// `engine` is NULL or live; `name` is NULL or NUL-terminated; `repo` is NULL or points to an initialised
/// `tabsnap_repo_callbacks`; `err_out` is NULL or writable.
#[must_use]
#[unsafe(no_mangle)]
pub unsafe extern "C" fn tabsnap_engine_attach_repository(
    engine: *const tabsnap_engine,
    name: *const c_char,
    repo: *const tabsnap_repo_callbacks,
    read_only: bool,
    err_out: *mut *mut tabsnap_error,
) -> tabsnap_status {
    ffi_boundary!(err_out, poisons engine => {
        // Ownership of the table passes first, so that `destroy` runs on every failure below.
        // SAFETY: NULL or a valid callback table per the contract.
        let r = unsafe { CallbackRepository::from_table(repo) }?;
        // SAFETY: NULL or a live engine per the contract.
        let e = unsafe { live_engine(engine) }?;
        // SAFETY: NULL or NUL-terminated per the contract.
        let name = unsafe { str_arg(name, "name") }?;
        e.attach_repository(name, Arc::new(r), read_only)?;
        Ok(())
    })
}

/// `tabsnap_engine_attach_repository` with repository properties: the `n` pairs `keys[i]` = `values[i]`, from
/// `encryption` ("on"), `encryption.password`, `encryption.key_file`, `encryption.kdf` (an encrypted
/// repository, made when the store is empty; docs/ENCRYPTION.md) and `retention` (applied after each BACKUP
/// into it). The strings are copied; the password is kept only as the key it opens. `destroy` is called on
/// failure as for `tabsnap_engine_attach_repository`.
///
/// Returns `TABSNAP_STATUS_OK`; `_NULL_ARGUMENT` (`engine`, `name` or `repo` NULL, or `keys` / `values` NULL with
/// `n` > 0); `_INVALID_UTF8`; `_INVALID_ARGUMENT` (as `tabsnap_engine_attach_repository`, a property that does
/// not apply, a bad value, a wrong password); `_ANALYSIS`; `_FORMAT`; `_CALLBACK`; `_POISONED`;
/// `_INTERNAL_PANIC`.
///
/// Thread safety: any thread. Since: 0.1.
///
/// # Safety
/// As `tabsnap_engine_attach_repository`; `keys` and `values` point to `n` NUL-terminated strings each (NULL
/// when `n` is 0).
#[must_use]
#[unsafe(no_mangle)]
pub unsafe extern "C" fn tabsnap_engine_attach_repository_with(
    engine: *const tabsnap_engine,
    name: *const c_char,
    repo: *const tabsnap_repo_callbacks,
    read_only: bool,
    keys: *const *const c_char,
    values: *const *const c_char,
    n: usize,
    err_out: *mut *mut tabsnap_error,
) -> tabsnap_status {
    ffi_boundary!(err_out, poisons engine => {
        // Ownership of the table passes first, so that `destroy` runs on every failure below.
        // SAFETY: NULL or a valid callback table per the contract.
        let r = unsafe { CallbackRepository::from_table(repo) }?;
        // SAFETY: NULL or a live engine per the contract.
        let e = unsafe { live_engine(engine) }?;
        // SAFETY: NULL or NUL-terminated per the contract.
        let name = unsafe { str_arg(name, "name") }?;
        if n > 0 && (keys.is_null() || values.is_null()) {
            return Err(Failure::null("keys or values"));
        }
        let mut properties = Vec::with_capacity(n);
        for i in 0..n {
            // SAFETY: `n` NUL-terminated strings each, per the contract.
            let (k, v) = unsafe { (str_arg(*keys.add(i), "keys[]")?, str_arg(*values.add(i), "values[]")?) };
            properties.push((k.to_owned(), v.to_owned()));
        }
        e.attach_repository_with(name, Arc::new(r), read_only, &properties)?;
        Ok(())
    })
}

/// One node's share of a backup several nodes run: packs the `n` tablets (`tablets[i]` names one, `dirs[i]` is
/// the local directory holding its files) into repository `repository` and leaves this node's part; a
/// coordinator then calls `tabsnap_engine_commit_parts` with every node's name. All nodes of one backup use the
/// same `label` and `timestamp` (`yyyy-MM-dd-HH-mm-ss`). Runs on the calling thread (and the engine's pool) and
/// returns when the part is stored. Running a node again replaces its part and uploads only what is missing.
///
/// Returns `TABSNAP_STATUS_OK`; `_NULL_ARGUMENT` (`engine`, a string, or `tablets` / `dirs` with `n` > 0);
/// `_INVALID_UTF8`; `_ANALYSIS` (an unknown or read-only repository); `_NOT_FOUND` / `_IO` (a tablet file);
/// `_REPOSITORY` / `_CALLBACK` (the repository); `_POISONED`; `_INTERNAL_PANIC`.
///
/// Thread safety: any thread. Since: 0.1.
///
/// # Safety
/// `engine` is NULL or live; the strings are NULL or NUL-terminated; `tablets` and `dirs` point to `n` entries
/// each (NULL when `n` is 0); `err_out` is NULL or writable.
#[must_use]
#[unsafe(no_mangle)]
pub unsafe extern "C" fn tabsnap_engine_backup_part(
    engine: *const tabsnap_engine,
    repository: *const c_char,
    database: *const c_char,
    label: *const c_char,
    timestamp: *const c_char,
    node: *const c_char,
    tablets: *const tabsnap_tablet_ref,
    dirs: *const *const c_char,
    n: usize,
    err_out: *mut *mut tabsnap_error,
) -> tabsnap_status {
    ffi_boundary!(err_out, poisons engine => {
        // SAFETY: NULL or a live engine, per the contract.
        let e = unsafe { live_engine(engine) }?;
        // SAFETY: NULL or NUL-terminated strings per the contract.
        let (repository, database, label, timestamp, node) = unsafe {
            (
                str_arg(repository, "repository")?,
                str_arg(database, "database")?,
                str_arg(label, "label")?,
                str_arg(timestamp, "timestamp")?,
                str_arg(node, "node")?,
            )
        };
        // SAFETY: `n` entries each, per the contract.
        let list = unsafe { super::cluster::tablet_list(tablets, dirs, n) }?;
        e.backup_part(repository, database, label, timestamp, node, &list)?;
        Ok(())
    })
}

/// Commits a backup several nodes ran with `tabsnap_engine_backup_part`: every one of the `n` `nodes` must have
/// left its part; the parts are merged and the snapshot's manifest written, after which the snapshot exists.
///
/// Returns `TABSNAP_STATUS_OK`; `_NULL_ARGUMENT` (`engine`, a string, or `nodes` with `n` > 0);
/// `_INVALID_UTF8`; `_ANALYSIS` (an unknown repository); `_NOT_FOUND` (names the nodes whose part is
/// missing); `_ALREADY_EXISTS` (the snapshot exists); `_REPOSITORY` / `_CALLBACK`; `_POISONED`;
/// `_INTERNAL_PANIC`.
///
/// Thread safety: any thread. Since: 0.1.
///
/// # Safety
/// `engine` is NULL or live; the strings are NULL or NUL-terminated; `nodes` points to `n` strings; `err_out` is
/// NULL or writable.
#[must_use]
#[unsafe(no_mangle)]
pub unsafe extern "C" fn tabsnap_engine_commit_parts(
    engine: *const tabsnap_engine,
    repository: *const c_char,
    label: *const c_char,
    timestamp: *const c_char,
    nodes: *const *const c_char,
    n: usize,
    err_out: *mut *mut tabsnap_error,
) -> tabsnap_status {
    ffi_boundary!(err_out, poisons engine => {
        // SAFETY: NULL or a live engine, per the contract.
        let e = unsafe { live_engine(engine) }?;
        // SAFETY: NULL or NUL-terminated strings per the contract.
        let (repository, label, timestamp) =
            unsafe { (str_arg(repository, "repository")?, str_arg(label, "label")?, str_arg(timestamp, "timestamp")?) };
        if n > 0 && nodes.is_null() {
            return Err(Failure::null("nodes"));
        }
        let mut names = Vec::with_capacity(n);
        for i in 0..n {
            // SAFETY: `n` NUL-terminated strings, per the contract.
            names.push(unsafe { str_arg(*nodes.add(i), "nodes[]") }?.to_owned());
        }
        e.commit_parts(repository, label, timestamp, &names)?;
        Ok(())
    })
}

/// Collects garbage in repository `repository`: removes the index objects and packs that no snapshot needs,
/// under the repository's exclusive lock (docs/FORMAT.md, "Concurrency"). When another job or process uses the
/// repository nothing is removed and `*busy_out` is set to true (a later collection frees the space). With
/// `dry_run`, nothing is removed and the counts say what would be.
///
/// On `TABSNAP_STATUS_OK`, each non-NULL out-parameter is set: `*objects_out` the objects removed (or that would
/// be), `*bytes_out` their bytes, `*busy_out` whether the repository was in use; on failure they are untouched.
///
/// Returns `TABSNAP_STATUS_OK`; `_NULL_ARGUMENT` (`engine` or `repository`); `_INVALID_UTF8`; `_ANALYSIS` (an
/// unknown repository, or a READ ONLY one without `dry_run`); `_FORMAT` / `_CORRUPTION` (a manifest or index
/// that cannot be read: nothing is removed); `_REPOSITORY` / `_CALLBACK`; `_POISONED`; `_INTERNAL_PANIC`.
///
/// Thread safety: any thread. Since: 0.1.
///
/// # Safety
/// `engine` is NULL or live; `repository` is NULL or NUL-terminated; each out-parameter is NULL or writable;
/// `err_out` is NULL or writable.
#[must_use]
#[unsafe(no_mangle)]
pub unsafe extern "C" fn tabsnap_engine_collect_garbage(
    engine: *const tabsnap_engine,
    repository: *const c_char,
    dry_run: bool,
    objects_out: *mut u64,
    bytes_out: *mut u64,
    busy_out: *mut bool,
    err_out: *mut *mut tabsnap_error,
) -> tabsnap_status {
    ffi_boundary!(err_out, poisons engine => {
        // SAFETY: NULL or a live engine, per the contract.
        let e = unsafe { live_engine(engine) }?;
        // SAFETY: NULL or NUL-terminated per the contract.
        let repository = unsafe { str_arg(repository, "repository") }?;
        let (objects, bytes, busy) = match e.collect_garbage(repository, dry_run)? {
            crate::store::GcOutcome::Collected(r) => ((r.pages.len() + r.indexes.len() + r.packs.len()) as u64, r.bytes, false),
            crate::store::GcOutcome::Busy(_) => (0, 0, true),
        };
        // SAFETY: each out-parameter is NULL or writable, per the contract.
        unsafe {
            if !objects_out.is_null() {
                *objects_out = objects;
            }
            if !bytes_out.is_null() {
                *bytes_out = bytes;
            }
            if !busy_out.is_null() {
                *busy_out = busy;
            }
        }
        Ok(())
    })
}
