//! Jobs from C: their state and progress (`tabsnap_job_info`), waiting, cancelling, their error message.

use std::ffi::c_char;
use std::time::Duration;

use super::boundary::{Failure, cstring, ffi_boundary, out_arg, write_out};
use super::engine::{live_engine, tabsnap_engine};
use super::error::tabsnap_error;
use super::options::ProgressCallback;
use super::status::tabsnap_status;
use crate::job::{JobInfo, JobKind, JobState};

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
/// `out` is not NULL and points to a writable `tabsnap_job_info` whose `struct_size` the caller set.
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

/// Calls a C progress callback with `j`; a panic never crosses it (the callback is C).
pub(crate) fn report_progress(cb: ProgressCallback, j: &JobInfo) {
    let info = info_of(j);
    let f = cb.f;
    // SAFETY: the callback and its user_data were registered with tabsnap_options_set_progress, whose contract
    // makes them callable from any thread for the engine's lifetime; `info` lives for the call.
    unsafe { f(cb.user_data, j.id, &info) };
}

/// `tabsnap_engine_job` and `tabsnap_engine_wait`.
///
/// # Safety
/// As those functions.
unsafe fn read_job(
    engine: *const tabsnap_engine,
    job: u64,
    info_out: *mut tabsnap_job_info,
    wait: Option<Duration>,
) -> Result<(), Failure> {
    // SAFETY: NULL or a live engine, per the callers' contract.
    let e = unsafe { live_engine(engine) }?;
    let info_out = out_arg(info_out, "info_out")?;
    let j = match wait {
        Some(t) => e.wait(job, t)?,
        None => e.job(job).ok_or_else(|| Failure::new(tabsnap_status::NotFound, format!("no job {job}")))?,
    };
    // SAFETY: not NULL; the caller set struct_size and the memory is writable per the contract.
    unsafe { write_info(info_out, &j) }
}

/// Reads job `job`'s state and progress into `*info_out` (set `info_out->struct_size` first).
///
/// Returns `TABSNAP_STATUS_OK`; `_NULL_ARGUMENT` (`engine` or `info_out` NULL); `_INVALID_ARGUMENT`
/// (`struct_size` too small); `_NOT_FOUND` (no such job, or it left the history); `_POISONED`;
/// `_INTERNAL_PANIC`.
///
/// Thread safety: may be called from any thread, a progress callback included. Since: 0.1.
///
/// # Safety
/// `engine` is NULL or live; `info_out` is NULL or points to a `tabsnap_job_info` with `struct_size` set;
/// `err_out` is NULL or writable.
#[must_use]
#[unsafe(no_mangle)]
pub unsafe extern "C" fn tabsnap_engine_job(
    engine: *const tabsnap_engine,
    job: u64,
    info_out: *mut tabsnap_job_info,
    err_out: *mut *mut tabsnap_error,
) -> tabsnap_status {
    ffi_boundary!(err_out, poisons engine => {
        // SAFETY: forwarded contract.
        unsafe { read_job(engine, job, info_out, None) }
    })
}

/// Waits until job `job` ends or `timeout_ms` passes (`UINT64_MAX`: no limit), then reads it as
/// `tabsnap_engine_job` does: check `info_out->state`. A job's end is returned once it is saved and the
/// progress callback has seen it; called from the progress callback reporting that end, it returns at once.
/// Blocks the calling thread only.
///
/// Returns `TABSNAP_STATUS_OK` (whether or not the job ended); otherwise as `tabsnap_engine_job`.
///
/// Thread safety: as `tabsnap_engine_job`. Since: 0.1.
///
/// # Safety
/// As `tabsnap_engine_job`.
#[must_use]
#[unsafe(no_mangle)]
pub unsafe extern "C" fn tabsnap_engine_wait(
    engine: *const tabsnap_engine,
    job: u64,
    timeout_ms: u64,
    info_out: *mut tabsnap_job_info,
    err_out: *mut *mut tabsnap_error,
) -> tabsnap_status {
    ffi_boundary!(err_out, poisons engine => {
        // SAFETY: forwarded contract.
        unsafe { read_job(engine, job, info_out, Some(Duration::from_millis(timeout_ms))) }
    })
}

/// Asks job `job` to stop; it ends CANCELLED, leaving no snapshot (BACKUP) or nothing restored (RESTORE).
///
/// Returns `TABSNAP_STATUS_OK`; `_NOT_FOUND` (the job is not running); `_NULL_ARGUMENT` (`engine` NULL);
/// `_POISONED`; `_INTERNAL_PANIC`.
///
/// Thread safety: may be called from any thread, a progress callback included. Since: 0.1.
///
/// # Safety
/// `engine` is NULL or live; `err_out` is NULL or writable.
#[must_use]
#[unsafe(no_mangle)]
pub unsafe extern "C" fn tabsnap_engine_cancel(
    engine: *const tabsnap_engine,
    job: u64,
    err_out: *mut *mut tabsnap_error,
) -> tabsnap_status {
    ffi_boundary!(err_out, poisons engine => {
        // SAFETY: NULL or a live engine, per the contract.
        let e = unsafe { live_engine(engine) }?;
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
/// Returns `TABSNAP_STATUS_OK`; `_NULL_ARGUMENT` (`engine` or `message_out` NULL); `_NOT_FOUND` (no such job);
/// `_POISONED`; `_INTERNAL_PANIC`.
///
/// Thread safety: may be called from any thread. Since: 0.1.
///
/// # Safety
/// `engine` is NULL or live; `message_out` is NULL or writable; `err_out` is NULL or writable.
#[must_use]
#[unsafe(no_mangle)]
pub unsafe extern "C" fn tabsnap_engine_job_error(
    engine: *const tabsnap_engine,
    job: u64,
    message_out: *mut *mut c_char,
    err_out: *mut *mut tabsnap_error,
) -> tabsnap_status {
    ffi_boundary!(err_out, poisons engine => {
        // SAFETY: NULL or a live engine, per the contract.
        let e = unsafe { live_engine(engine) }?;
        let message_out = out_arg(message_out, "message_out")?;
        let j = e.job(job).ok_or_else(|| Failure::new(tabsnap_status::NotFound, format!("no job {job}")))?;
        let text = j.task_err_msg();
        let m = if text.is_empty() { std::ptr::null_mut() } else { cstring(&text).into_raw() };
        // SAFETY: checked not NULL; writable per the contract.
        unsafe { write_out(message_out, m) };
        Ok(())
    })
}
