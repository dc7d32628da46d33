//! The engine handle, statement execution, result sets and jobs.

use std::ffi::{CString, c_char};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use super::boundary::{Failure, boundary, cstring, opt_str_arg, str_arg};
use super::error::tabsnap_error;
use super::host::{CallbackHost, tabsnap_host_callbacks};
use super::options::{ProgressCallback, tabsnap_options};
use super::repo::{CallbackRepository, tabsnap_repo_callbacks};
use super::status::tabsnap_status;
use crate::host::{DirHost, Host};
use crate::job::{JobInfo, JobKind, JobState};
use crate::{Engine, Outcome, Session};

/// An engine: runs statements, owns jobs and repositories. Created by `tabsnap_engine_new` /
/// `tabsnap_engine_new_dir`, freed by `tabsnap_engine_free`. Thread-safe: every function taking a
/// `const tabsnap_engine *` may be called from several threads at once. After an internal panic the engine is
/// poisoned and its functions return `TABSNAP_STATUS_POISONED`.
pub struct tabsnap_engine {
    engine: Engine,
    poisoned: AtomicBool,
}

/// What one statement of `tabsnap_engine_execute` produced (`tabsnap_result_kind`).
#[repr(i32)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[allow(non_camel_case_types)]
pub enum tabsnap_outcome {
    /// Done, nothing to read (CREATE REPOSITORY, CANCEL, …).
    Done = 0,
    /// A job started (BACKUP, RESTORE): read its id with `tabsnap_result_job_id`.
    Job = 1,
    /// Rows (SHOW …): read them with `tabsnap_result_row_count` / `tabsnap_result_value`.
    Rows = 2,
    /// No such statement in the result.
    Invalid = -1,
}

/// A job's state, with Doris's names.
#[repr(i32)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[allow(non_camel_case_types)]
pub enum tabsnap_job_state {
    /// PENDING
    Pending = 0,
    /// SNAPSHOTING
    Snapshoting = 1,
    /// UPLOAD_SNAPSHOT
    UploadSnapshot = 2,
    /// UPLOADING
    Uploading = 3,
    /// SAVE_META
    SaveMeta = 4,
    /// UPLOAD_INFO
    UploadInfo = 5,
    /// DOWNLOAD
    Download = 6,
    /// DOWNLOADING
    Downloading = 7,
    /// COMMIT
    Commit = 8,
    /// COMMITTING
    Committing = 9,
    /// FINISHED
    Finished = 10,
    /// CANCELLED
    Cancelled = 11,
}

/// A job's state and progress, filled by `tabsnap_engine_job` / `tabsnap_engine_wait`. Set `struct_size` to
/// `sizeof(tabsnap_job_info)` before the call: later versions append fields and fill only what fits.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct tabsnap_job_info {
    /// `sizeof(tabsnap_job_info)`, set by the caller.
    pub struct_size: u32,
    /// `tabsnap_job_state`.
    pub state: i32,
    /// 0 BACKUP, 1 RESTORE.
    pub kind: i32,
    /// The job's status once ended: `TABSNAP_STATUS_OK`, `_CANCELLED`, `_TIMED_OUT`, or the failure's status.
    pub status: i32,
    /// Files in the job.
    pub files_total: u64,
    /// Files done.
    pub files_done: u64,
    /// Bytes of file content in the job.
    pub bytes_total: u64,
    /// Bytes done.
    pub bytes_done: u64,
}

enum OutcomeC {
    Done,
    Job(u64),
    Rows { columns: Vec<CString>, rows: Vec<Vec<CString>> },
}

/// The outcomes of `tabsnap_engine_execute`, one per statement. Owned by the caller, freed with
/// `tabsnap_result_free`; immutable, so safe to read from several threads. Strings read from it are borrowed
/// and valid until it is freed.
pub struct tabsnap_result {
    outcomes: Vec<OutcomeC>,
}

fn state_of(s: JobState) -> tabsnap_job_state {
    use tabsnap_job_state as C;
    match s {
        JobState::Pending => C::Pending,
        JobState::Snapshoting => C::Snapshoting,
        JobState::UploadSnapshot => C::UploadSnapshot,
        JobState::Uploading => C::Uploading,
        JobState::SaveMeta => C::SaveMeta,
        JobState::UploadInfo => C::UploadInfo,
        JobState::Download => C::Download,
        JobState::Downloading => C::Downloading,
        JobState::Commit => C::Commit,
        JobState::Committing => C::Committing,
        JobState::Finished => C::Finished,
        JobState::Cancelled => C::Cancelled,
    }
}

fn job_status(j: &JobInfo) -> tabsnap_status {
    match (j.state, j.error_kind) {
        (JobState::Cancelled, Some(kind)) => tabsnap_status::of(kind),
        // A job from an earlier run of the engine: only its state is known.
        (JobState::Cancelled, None) => tabsnap_status::Cancelled,
        _ => tabsnap_status::Ok,
    }
}

fn info_of(j: &JobInfo) -> tabsnap_job_info {
    tabsnap_job_info {
        struct_size: std::mem::size_of::<tabsnap_job_info>() as u32,
        state: state_of(j.state) as i32,
        kind: if j.kind == JobKind::Backup { 0 } else { 1 },
        status: job_status(j) as i32,
        files_total: j.files_total,
        files_done: j.files_done,
        bytes_total: j.bytes_total,
        bytes_done: j.bytes_done,
    }
}

/// Writes `j` into `out`, as far as `out->struct_size` allows.
///
/// # Safety
/// `out` points to a writable `tabsnap_job_info` whose `struct_size` the caller set.
unsafe fn write_info(out: *mut tabsnap_job_info, j: &JobInfo) -> Result<(), Failure> {
    // SAFETY: not NULL (checked by the callers), writable per the contract.
    let size = unsafe { (*out).struct_size } as usize;
    if size < std::mem::size_of::<u32>() * 4 {
        return Err(Failure::new(
            tabsnap_status::InvalidArgument,
            "tabsnap_job_info.struct_size is too small; set it to sizeof(tabsnap_job_info)",
        ));
    }
    let mut info = info_of(j);
    info.struct_size = size.min(std::mem::size_of::<tabsnap_job_info>()) as u32;
    let n = size.min(std::mem::size_of::<tabsnap_job_info>());
    // SAFETY: `out` has at least `size` writable bytes (the caller's struct_size), and we copy at most that many
    // from a local of the same layout.
    unsafe { std::ptr::copy_nonoverlapping((&raw const info).cast::<u8>(), out.cast::<u8>(), n) };
    Ok(())
}

fn report_progress(cb: ProgressCallback, j: &JobInfo) {
    let info = info_of(j);
    let f = cb.f;
    // SAFETY: the callback and its user_data were registered with tabsnap_options_set_progress, whose contract
    // makes them callable from any thread for the engine's lifetime; `info` lives for the call.
    unsafe { f(cb.user_data, j.id, &info) };
}

fn build(host: Arc<dyn Host>, opts: *const tabsnap_options) -> Result<Engine, Failure> {
    let mut b = Engine::builder(host);
    // SAFETY: NULL (defaults) or live options, per the constructors' contract.
    if let Some(o) = unsafe { opts.as_ref() } {
        let p = o.packer;
        b = b
            .threads(p.threads)
            .zstd_level(p.zstd_level)
            .chunk_size(p.chunk_size)
            .pack_size(p.pack_size)
            .bytes_in_flight(p.bytes_in_flight);
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

fn put_engine(out: *mut *mut tabsnap_engine, engine: Engine) {
    let handle = Box::into_raw(Box::new(tabsnap_engine { engine, poisoned: AtomicBool::new(false) }));
    // SAFETY: `out` was checked not NULL by the caller and is writable per the constructors' contract.
    unsafe { *out = handle };
}

/// Creates an engine over a data directory laid out like a BE's (see the README: the directory host).
/// `opts` may be NULL (defaults). On success writes the engine to `*engine_out`; free it with
/// `tabsnap_engine_free`.
///
/// # Safety
/// `data_dir` is a NUL-terminated UTF-8 string; `opts` is NULL or live; `engine_out` is writable; `err_out` is
/// NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn tabsnap_engine_new_dir(
    data_dir: *const c_char,
    opts: *const tabsnap_options,
    engine_out: *mut *mut tabsnap_engine,
    err_out: *mut *mut tabsnap_error,
) -> tabsnap_status {
    boundary(
        err_out,
        || {},
        || {
            // SAFETY: NUL-terminated per the contract.
            let dir = unsafe { str_arg(data_dir, "data_dir") }?;
            if engine_out.is_null() {
                return Err(Failure::null("engine_out"));
            }
            let engine = build(Arc::new(DirHost::new(dir)?), opts)?;
            put_engine(engine_out, engine);
            Ok(())
        },
    )
}

/// Creates an engine over the host described by `host` (copied; its `user_data` must stay valid until its
/// `destroy` is called, when the engine is freed). `opts` may be NULL. If this call fails for any reason (a
/// NULL `engine_out`, an unsupported table, options or a state directory that cannot be used), `destroy` has
/// been called already, unless `host` itself is NULL.
///
/// # Safety
/// `host` points to an initialised `tabsnap_host_callbacks`; `opts` is NULL or live; `engine_out` is writable;
/// `err_out` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn tabsnap_engine_new(
    host: *const tabsnap_host_callbacks,
    opts: *const tabsnap_options,
    engine_out: *mut *mut tabsnap_engine,
    err_out: *mut *mut tabsnap_error,
) -> tabsnap_status {
    boundary(
        err_out,
        || {},
        || {
            // Ownership of the table passes first, so that `destroy` runs on every failure below.
            // SAFETY: NULL or a valid callback table per the contract.
            let host = unsafe { CallbackHost::from_table(host) }?;
            if engine_out.is_null() {
                return Err(Failure::null("engine_out"));
            }
            let engine = build(Arc::new(host), opts)?;
            put_engine(engine_out, engine);
            Ok(())
        },
    )
}

/// Frees an engine: cancels running jobs, waits until their threads have ended, then calls the host's and the
/// repositories' `destroy` callbacks; no callback runs after this returns. Results and errors already handed out
/// stay valid. NULL is a no-op. Must not be called from inside a tabsnap callback.
///
/// # Safety
/// `engine` is NULL or from `tabsnap_engine_new*`, freed once, with no call on it running or to come.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn tabsnap_engine_free(engine: *mut tabsnap_engine) {
    if !engine.is_null() {
        // SAFETY: from Box::into_raw in put_engine, freed once per the contract.
        let handle = unsafe { Box::from_raw(engine) };
        let _ = catch_unwind(AssertUnwindSafe(|| handle.engine.shutdown()));
        drop(handle);
    }
}

/// The engine behind `engine`, refusing NULL and poisoned engines.
///
/// # Safety
/// `engine` is NULL or a live engine that outlives the returned borrow.
unsafe fn live_engine<'a>(engine: *const tabsnap_engine) -> Result<&'a Engine, Failure> {
    // SAFETY: NULL or a live engine, per this function's contract.
    let handle = unsafe { engine.as_ref::<'a>() }.ok_or_else(|| Failure::null("engine"))?;
    if handle.poisoned.load(Ordering::Acquire) {
        return Err(Failure::new(tabsnap_status::Poisoned, "the engine is poisoned by an earlier internal error"));
    }
    Ok(&handle.engine)
}

/// Marks `engine` (NULL: nothing) poisoned after a panic in a call on it.
fn poison(engine: *const tabsnap_engine) {
    // SAFETY: NULL or a live engine, per every caller's contract.
    if let Some(handle) = unsafe { engine.as_ref() } {
        handle.poisoned.store(true, Ordering::Release);
    }
}

/// Runs `f` with the engine, refusing NULL and poisoned engines and poisoning it on a panic.
fn with_engine(
    engine: *const tabsnap_engine,
    err_out: *mut *mut tabsnap_error,
    f: impl FnOnce(&Engine) -> Result<(), Failure>,
) -> tabsnap_status {
    boundary(
        err_out,
        || poison(engine),
        || {
            // SAFETY: NULL or a live engine, per every caller's contract.
            f(unsafe { live_engine(engine) }?)
        },
    )
}

/// Runs the statements of `sql` (separated by `;`) as `user` with current database `database` (NULL: none).
/// BACKUP and RESTORE return at once with a job id. On success writes a result to `*result_out` (free it with
/// `tabsnap_result_free`). The first failing statement stops the rest; those before it have run.
///
/// # Safety
/// `engine` is live; `user`, `sql` are NUL-terminated UTF-8; `database` is NULL or NUL-terminated UTF-8;
/// `result_out` is writable; `err_out` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn tabsnap_engine_execute(
    engine: *const tabsnap_engine,
    user: *const c_char,
    database: *const c_char,
    sql: *const c_char,
    result_out: *mut *mut tabsnap_result,
    err_out: *mut *mut tabsnap_error,
) -> tabsnap_status {
    with_engine(engine, err_out, |e| {
        // SAFETY: NUL-terminated strings per the contract.
        let (user, database, sql) =
            unsafe { (str_arg(user, "user")?, opt_str_arg(database, "database")?, str_arg(sql, "sql")?) };
        if result_out.is_null() {
            return Err(Failure::null("result_out"));
        }
        let outcomes = e.execute(&Session::new(user, database), sql)?;
        let outcomes = outcomes
            .into_iter()
            .map(|o| match o {
                Outcome::Done => OutcomeC::Done,
                Outcome::Job(id) => OutcomeC::Job(id),
                Outcome::Rows(rs) => OutcomeC::Rows {
                    columns: rs.columns.iter().map(|c| cstring(c)).collect(),
                    rows: rs.rows.iter().map(|r| r.iter().map(|v| cstring(v)).collect()).collect(),
                },
            })
            .collect();
        let r = Box::into_raw(Box::new(tabsnap_result { outcomes }));
        // SAFETY: checked not NULL; writable per the contract.
        unsafe { *result_out = r };
        Ok(())
    })
}

/// Registers a repository the host stores itself, under `name`, as CREATE REPOSITORY would (its snapshots, if
/// any, show up). The table is copied; its `user_data` must stay valid until its `destroy` is called (when the
/// engine is freed). If this call fails for any reason (a NULL or poisoned `engine` included), `destroy` has
/// been called already, unless `repo` itself is NULL.
///
/// # Safety
/// `engine` is live; `name` is NUL-terminated UTF-8; `repo` points to an initialised `tabsnap_repo_callbacks`;
/// `err_out` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn tabsnap_engine_attach_repository(
    engine: *const tabsnap_engine,
    name: *const c_char,
    repo: *const tabsnap_repo_callbacks,
    read_only: bool,
    err_out: *mut *mut tabsnap_error,
) -> tabsnap_status {
    boundary(
        err_out,
        || poison(engine),
        || {
            // Ownership of the table passes first, so that `destroy` runs on every failure below.
            // SAFETY: NULL or a valid callback table per the contract.
            let r = unsafe { CallbackRepository::from_table(repo) }?;
            // SAFETY: NULL or a live engine per the contract.
            let e = unsafe { live_engine(engine) }?;
            // SAFETY: NUL-terminated per the contract.
            let name = unsafe { str_arg(name, "name") }?;
            e.attach_repository(name, Arc::new(r), read_only)?;
            Ok(())
        },
    )
}

fn job_call(
    engine: *const tabsnap_engine,
    job: u64,
    info_out: *mut tabsnap_job_info,
    err_out: *mut *mut tabsnap_error,
    wait: Option<Duration>,
) -> tabsnap_status {
    with_engine(engine, err_out, |e| {
        if info_out.is_null() {
            return Err(Failure::null("info_out"));
        }
        let j = match wait {
            Some(t) => e.wait(job, t)?,
            None => e.job(job).ok_or_else(|| Failure::new(tabsnap_status::NotFound, format!("no job {job}")))?,
        };
        // SAFETY: not NULL; the caller set struct_size and the memory is writable per the contract.
        unsafe { write_info(info_out, &j) }
    })
}

/// Reads job `job`'s state and progress into `*info_out` (set `info_out->struct_size` first).
///
/// # Safety
/// `engine` is live; `info_out` points to a `tabsnap_job_info` with `struct_size` set; `err_out` NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn tabsnap_engine_job(
    engine: *const tabsnap_engine,
    job: u64,
    info_out: *mut tabsnap_job_info,
    err_out: *mut *mut tabsnap_error,
) -> tabsnap_status {
    job_call(engine, job, info_out, err_out, None)
}

/// Waits until job `job` ends or `timeout_ms` passes, then reads it as `tabsnap_engine_job` does. Returns OK
/// either way: check `info_out->state`. Blocks the calling thread only.
///
/// # Safety
/// As `tabsnap_engine_job`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn tabsnap_engine_wait(
    engine: *const tabsnap_engine,
    job: u64,
    timeout_ms: u64,
    info_out: *mut tabsnap_job_info,
    err_out: *mut *mut tabsnap_error,
) -> tabsnap_status {
    job_call(engine, job, info_out, err_out, Some(Duration::from_millis(timeout_ms)))
}

/// Asks job `job` to stop; it ends CANCELLED, leaving no snapshot (BACKUP) or nothing restored (RESTORE).
/// `TABSNAP_STATUS_NOT_FOUND` when the job is not running.
///
/// # Safety
/// `engine` is live; `err_out` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn tabsnap_engine_cancel(
    engine: *const tabsnap_engine,
    job: u64,
    err_out: *mut *mut tabsnap_error,
) -> tabsnap_status {
    with_engine(engine, err_out, |e| {
        if e.cancel(job) {
            Ok(())
        } else {
            Err(Failure::new(tabsnap_status::NotFound, format!("job {job} is not running")))
        }
    })
}

/// The job's TaskErrMsg: the error that ended it, then the failures that did not change its outcome (a
/// `release_tablet` failure after a backup committed, an `abort_restore` failure, a state file that could not be
/// written), `; `-separated; NULL in `*message_out` when there are none (a FINISHED job may have some). The
/// string is owned: free it with `tabsnap_string_free`.
///
/// # Safety
/// `engine` is live; `message_out` is writable; `err_out` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn tabsnap_engine_job_error(
    engine: *const tabsnap_engine,
    job: u64,
    message_out: *mut *mut c_char,
    err_out: *mut *mut tabsnap_error,
) -> tabsnap_status {
    with_engine(engine, err_out, |e| {
        if message_out.is_null() {
            return Err(Failure::null("message_out"));
        }
        let j = e.job(job).ok_or_else(|| Failure::new(tabsnap_status::NotFound, format!("no job {job}")))?;
        let text = j.task_err_msg();
        let m = if text.is_empty() { std::ptr::null_mut() } else { cstring(&text).into_raw() };
        // SAFETY: checked not NULL; writable per the contract.
        unsafe { *message_out = m };
        Ok(())
    })
}

// -- results ------------------------------------------------------------------------------------------------

/// Statement `i` of `r`.
///
/// # Safety
/// `r` is NULL or a live result that outlives the returned borrow (every accessor's contract).
unsafe fn outcome<'a>(r: *const tabsnap_result, i: usize) -> Option<&'a OutcomeC> {
    // SAFETY: NULL or live, per this function's contract.
    unsafe { r.as_ref::<'a>() }.and_then(|r| r.outcomes.get(i))
}

/// The number of statements in `result` (0 for NULL).
///
/// # Safety
/// `result` is NULL or live.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn tabsnap_result_count(result: *const tabsnap_result) -> usize {
    // SAFETY: NULL or live per the contract.
    unsafe { result.as_ref() }.map_or(0, |r| r.outcomes.len())
}

/// What statement `i` produced (`TABSNAP_OUTCOME_INVALID` when `i` is out of range or `result` is NULL).
///
/// # Safety
/// `result` is NULL or live.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn tabsnap_result_kind(result: *const tabsnap_result, i: usize) -> tabsnap_outcome {
    // SAFETY: NULL or live, per this function's contract.
    match unsafe { outcome(result, i) } {
        Some(OutcomeC::Done) => tabsnap_outcome::Done,
        Some(OutcomeC::Job(_)) => tabsnap_outcome::Job,
        Some(OutcomeC::Rows { .. }) => tabsnap_outcome::Rows,
        None => tabsnap_outcome::Invalid,
    }
}

/// The job id of statement `i`, or 0 when it did not start a job.
///
/// # Safety
/// `result` is NULL or live.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn tabsnap_result_job_id(result: *const tabsnap_result, i: usize) -> u64 {
    // SAFETY: NULL or live, per this function's contract.
    match unsafe { outcome(result, i) } {
        Some(OutcomeC::Job(id)) => *id,
        _ => 0,
    }
}

/// The number of columns of statement `i`'s rows (0 when it has none).
///
/// # Safety
/// `result` is NULL or live.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn tabsnap_result_column_count(result: *const tabsnap_result, i: usize) -> usize {
    // SAFETY: NULL or live, per this function's contract.
    match unsafe { outcome(result, i) } {
        Some(OutcomeC::Rows { columns, .. }) => columns.len(),
        _ => 0,
    }
}

/// The name of column `col` of statement `i` (Doris's column names), or NULL when out of range. Borrowed from
/// `result`.
///
/// # Safety
/// `result` is NULL or live.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn tabsnap_result_column_name(
    result: *const tabsnap_result,
    i: usize,
    col: usize,
) -> *const c_char {
    // SAFETY: NULL or live, per this function's contract.
    match unsafe { outcome(result, i) } {
        Some(OutcomeC::Rows { columns, .. }) => columns.get(col).map_or(std::ptr::null(), |c| c.as_ptr()),
        _ => std::ptr::null(),
    }
}

/// The number of rows of statement `i` (0 when it has none).
///
/// # Safety
/// `result` is NULL or live.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn tabsnap_result_row_count(result: *const tabsnap_result, i: usize) -> usize {
    // SAFETY: NULL or live, per this function's contract.
    match unsafe { outcome(result, i) } {
        Some(OutcomeC::Rows { rows, .. }) => rows.len(),
        _ => 0,
    }
}

/// The value at `row`, `col` of statement `i`, or NULL when out of range. Borrowed from `result`.
///
/// # Safety
/// `result` is NULL or live.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn tabsnap_result_value(
    result: *const tabsnap_result,
    i: usize,
    row: usize,
    col: usize,
) -> *const c_char {
    // SAFETY: NULL or live, per this function's contract.
    match unsafe { outcome(result, i) } {
        Some(OutcomeC::Rows { rows, .. }) => {
            rows.get(row).and_then(|r| r.get(col)).map_or(std::ptr::null(), |v| v.as_ptr())
        }
        _ => std::ptr::null(),
    }
}

/// Frees a result. NULL is a no-op.
///
/// # Safety
/// `result` is NULL or from `tabsnap_engine_execute`, freed once, not read afterwards.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn tabsnap_result_free(result: *mut tabsnap_result) {
    if !result.is_null() {
        // SAFETY: from Box::into_raw in tabsnap_engine_execute, freed once per the contract.
        drop(unsafe { Box::from_raw(result) });
    }
}

/// One node's share of a backup several nodes run: packs the `n` tablets (`tablets[i]` names one, `dirs[i]` is
/// the local directory holding its files) into repository `repository` and leaves this node's part; a
/// coordinator then calls `tabsnap_engine_commit_parts` with every node's name. All nodes of one backup use the
/// same `label` and `timestamp` (`yyyy-MM-dd-HH-mm-ss`). Runs on the calling thread (and the engine's pool) and
/// returns when the part is stored. Running a node again replaces its part and uploads only what is missing.
///
/// # Safety
/// `engine` is live; the strings are NUL-terminated UTF-8; `tablets` and `dirs` point to `n` entries each
/// (NULL when `n` is 0); `err_out` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn tabsnap_engine_backup_part(
    engine: *const tabsnap_engine,
    repository: *const c_char,
    database: *const c_char,
    label: *const c_char,
    timestamp: *const c_char,
    node: *const c_char,
    tablets: *const super::host::tabsnap_tablet_ref,
    dirs: *const *const c_char,
    n: usize,
    err_out: *mut *mut tabsnap_error,
) -> tabsnap_status {
    with_engine(engine, err_out, |e| {
        // SAFETY: NUL-terminated strings per the contract.
        let (repository, database, label, timestamp, node) = unsafe {
            (
                str_arg(repository, "repository")?,
                str_arg(database, "database")?,
                str_arg(label, "label")?,
                str_arg(timestamp, "timestamp")?,
                str_arg(node, "node")?,
            )
        };
        if n > 0 && (tablets.is_null() || dirs.is_null()) {
            return Err(Failure::null("tablets or dirs"));
        }
        let mut list = Vec::with_capacity(n);
        for i in 0..n {
            // SAFETY: `n` entries each, per the contract.
            let (t, d) = unsafe { (&*tablets.add(i), *dirs.add(i)) };
            // SAFETY: the tablet ref's strings and the dir are NUL-terminated per the contract.
            let r = unsafe {
                crate::host::TabletRef {
                    table: str_arg(t.table, "tablets[].table")?.to_owned(),
                    partition: str_arg(t.partition, "tablets[].partition")?.to_owned(),
                    index: str_arg(t.index, "tablets[].index")?.to_owned(),
                    tablet: str_arg(t.tablet, "tablets[].tablet")?.to_owned(),
                }
            };
            // SAFETY: as above.
            let dir = std::path::PathBuf::from(unsafe { str_arg(d, "dirs[]") }?);
            list.push((r, dir));
        }
        e.backup_part(repository, database, label, timestamp, node, &list)?;
        Ok(())
    })
}

/// Commits a backup several nodes ran with `tabsnap_engine_backup_part`: every one of the `n` `nodes` must have
/// left its part (`TABSNAP_STATUS_NOT_FOUND` names those that did not); the parts are merged and the snapshot's
/// manifest written, after which the snapshot exists.
///
/// # Safety
/// `engine` is live; the strings are NUL-terminated UTF-8; `nodes` points to `n` strings; `err_out` is NULL or
/// writable.
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
    with_engine(engine, err_out, |e| {
        // SAFETY: NUL-terminated strings per the contract.
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
/// repository nothing is removed and `*busy_out` is set to true (the space is freed by a later collection).
/// With `dry_run`, nothing is removed and the counts say what would be.
///
/// On `TABSNAP_STATUS_OK`, each non-NULL out-parameter is set: `*objects_out` objects removed (or that would be),
/// `*bytes_out` their bytes, `*busy_out` whether the repository was in use. Returns
/// `TABSNAP_STATUS_NULL_ARGUMENT`, `TABSNAP_STATUS_INVALID_UTF8`, `TABSNAP_STATUS_ANALYSIS` (unknown or READ ONLY
/// repository), or a repository status.
///
/// Thread safety: may be called concurrently on the same engine.
/// Since: 0.1.
///
/// # Safety
/// `engine` is live; `repository` is NUL-terminated UTF-8; each out-parameter is NULL or writable.
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
    with_engine(engine, err_out, |e| {
        // SAFETY: NUL-terminated string per the contract.
        let repository = unsafe { str_arg(repository, "repository")? };
        let (objects, bytes, busy) = match e.collect_garbage(repository, dry_run)? {
            crate::store::GcOutcome::Collected(r) => ((r.indexes.len() + r.packs.len()) as u64, r.bytes, false),
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
