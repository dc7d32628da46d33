//! Engine options, set one by one (the struct stays private so it can grow).

use std::ffi::{c_char, c_void};
use std::path::PathBuf;
use std::time::Duration;

use super::boundary::{Failure, ffi_boundary, str_arg};
use super::error::tabsnap_error;
use super::status::tabsnap_status;
use crate::pack::PackerOptions;
use crate::pack::options::in_range;

/// Options for a new engine. Created by `tabsnap_options_new`, freed by `tabsnap_options_free`; not
/// thread-safe (set it up on one thread, then pass it to `tabsnap_engine_new*`, which copies it).
pub struct tabsnap_options {
    pub(crate) packer: PackerOptions,
    pub(crate) state_dir: Option<PathBuf>,
    pub(crate) max_job_timeout: Option<Duration>,
    pub(crate) progress: Option<ProgressCallback>,
    pub(crate) ignore_unsupported_tables: bool,
}

/// Called with a job's id and state/progress (`info`, valid during the call) when the job changes state and,
/// at most every 100 ms, as its progress moves; its last call for a job (FINISHED or CANCELLED) comes before
/// `tabsnap_engine_wait` returns that end. Runs on the job's threads, possibly several jobs at once, with no
/// lock of the engine held: it may call any engine function (`tabsnap_engine_job`, `_wait`, `_execute`,
/// `_cancel`) except `tabsnap_engine_free`. Keep it short, and let no C++ exception or `longjmp` out of it.
pub type tabsnap_progress_fn =
    Option<unsafe extern "C" fn(user_data: *mut c_void, job: u64, info: *const super::job::tabsnap_job_info)>;

#[derive(Clone, Copy)]
pub(crate) struct ProgressCallback {
    pub f: unsafe extern "C" fn(*mut c_void, u64, *const super::job::tabsnap_job_info),
    pub user_data: *mut c_void,
}

// SAFETY: `tabsnap_options_set_progress` documents that the callback may be called from any thread with its
// user_data; tabsnap only hands user_data back to it.
unsafe impl Send for ProgressCallback {}
// SAFETY: as for Send.
unsafe impl Sync for ProgressCallback {}

/// New options with the defaults (threads: one per core, compression `auto` at zstd level 3, 4 MiB chunks,
/// 16 MiB packs, 64 MiB in flight, no state directory, tables that are not OLAP tables fail a BACKUP). Free
/// with `tabsnap_options_free`. NULL only if allocation failed.
///
/// Thread safety: any thread. Since: 0.1.
#[unsafe(no_mangle)]
pub extern "C" fn tabsnap_options_new() -> *mut tabsnap_options {
    ffi_boundary!(or std::ptr::null_mut() => {
        Box::into_raw(Box::new(tabsnap_options {
            packer: PackerOptions::default(),
            state_dir: None,
            max_job_timeout: None,
            progress: None,
            ignore_unsupported_tables: false,
        }))
    })
}

/// Frees options. NULL is a no-op.
///
/// Thread safety: no other call may use `opts` at the same time or after. Since: 0.1.
///
/// # Safety
/// `opts` is NULL or from `tabsnap_options_new`, freed once.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn tabsnap_options_free(opts: *mut tabsnap_options) {
    ffi_boundary!(or () => {
        if !opts.is_null() {
            // SAFETY: from Box::into_raw in tabsnap_options_new, freed once per the contract.
            drop(unsafe { Box::from_raw(opts) });
        }
    })
}

/// The options behind `opts`.
///
/// # Safety
/// `opts` is NULL or a live options object used by this thread only, for the returned borrow.
unsafe fn live<'a>(opts: *mut tabsnap_options) -> Result<&'a mut tabsnap_options, Failure> {
    // SAFETY: NULL (refused) or live and unshared, per this function's contract.
    unsafe { opts.as_mut::<'a>() }.ok_or_else(|| Failure::null("opts"))
}

/// A C `u64` as a `usize` (saturating: a value past `usize` is out of every range anyway).
fn size(v: u64) -> usize {
    usize::try_from(v).unwrap_or(usize::MAX)
}

/// Worker threads (0: one per core; at most 1024).
///
/// Returns `TABSNAP_STATUS_OK`; `_NULL_ARGUMENT` (`opts` NULL); `_INVALID_ARGUMENT` (out of range).
///
/// Thread safety: one thread at a time per `opts`. Since: 0.1.
///
/// # Safety
/// `opts` is NULL or live and not used concurrently; `err_out` is NULL or writable.
#[must_use]
#[unsafe(no_mangle)]
pub unsafe extern "C" fn tabsnap_options_set_threads(
    opts: *mut tabsnap_options,
    threads: u32,
    err_out: *mut *mut tabsnap_error,
) -> tabsnap_status {
    ffi_boundary!(err_out => {
        // SAFETY: forwarded contract.
        let o = unsafe { live(opts) }?;
        o.packer.threads = in_range("threads", size(u64::from(threads)), &PackerOptions::THREADS)?;
        Ok(())
    })
}

/// The zstd level of compression `auto`, 1 to 19 (default 3).
///
/// Returns as `tabsnap_options_set_threads`.
///
/// Thread safety: one thread at a time per `opts`. Since: 0.1.
///
/// # Safety
/// As `tabsnap_options_set_threads`.
#[must_use]
#[unsafe(no_mangle)]
pub unsafe extern "C" fn tabsnap_options_set_zstd_level(
    opts: *mut tabsnap_options,
    level: i32,
    err_out: *mut *mut tabsnap_error,
) -> tabsnap_status {
    ffi_boundary!(err_out => {
        // SAFETY: forwarded contract.
        let o = unsafe { live(opts) }?;
        o.packer.zstd_level = in_range("zstd level", level, &PackerOptions::ZSTD_LEVELS)?;
        Ok(())
    })
}

/// How backups compress chunks when neither the BACKUP nor its repository has a `compression` property:
/// `"auto"` (the default: zstd at the level of `tabsnap_options_set_zstd_level` where samples of the chunk
/// shrink, raw otherwise), `"zstd-N"` (every chunk at level N, 1 to 19; `"zstd"` is `"zstd-3"`) or `"none"`
/// (every chunk raw).
///
/// Returns `TABSNAP_STATUS_OK`; `_NULL_ARGUMENT` (`opts` or `mode` NULL); `_INVALID_UTF8`; `_INVALID_ARGUMENT`
/// (another value: the message lists the valid ones).
///
/// Thread safety: one thread at a time per `opts`. Since: 0.1.
///
/// # Safety
/// As `tabsnap_options_set_threads`; `mode` is NULL or a NUL-terminated string.
#[must_use]
#[unsafe(no_mangle)]
pub unsafe extern "C" fn tabsnap_options_set_compression(
    opts: *mut tabsnap_options,
    mode: *const c_char,
    err_out: *mut *mut tabsnap_error,
) -> tabsnap_status {
    ffi_boundary!(err_out => {
        // SAFETY: forwarded contract.
        let o = unsafe { live(opts) }?;
        // SAFETY: NULL (refused) or NUL-terminated, per the contract.
        let mode = unsafe { str_arg(mode, "mode") }?;
        o.packer.compression = mode.parse()?;
        Ok(())
    })
}

/// Chunk size for large files, 64 KiB to 64 MiB (default 4 MiB).
///
/// Returns as `tabsnap_options_set_threads`.
///
/// Thread safety: one thread at a time per `opts`. Since: 0.1.
///
/// # Safety
/// As `tabsnap_options_set_threads`.
#[must_use]
#[unsafe(no_mangle)]
pub unsafe extern "C" fn tabsnap_options_set_chunk_size(
    opts: *mut tabsnap_options,
    bytes: u64,
    err_out: *mut *mut tabsnap_error,
) -> tabsnap_status {
    ffi_boundary!(err_out => {
        // SAFETY: forwarded contract.
        let o = unsafe { live(opts) }?;
        o.packer.chunk_size = in_range("chunk size", size(bytes), &PackerOptions::CHUNK_SIZES)?;
        Ok(())
    })
}

/// Target pack size, 1 MiB to 1 GiB (default 16 MiB).
///
/// Returns as `tabsnap_options_set_threads`.
///
/// Thread safety: one thread at a time per `opts`. Since: 0.1.
///
/// # Safety
/// As `tabsnap_options_set_threads`.
#[must_use]
#[unsafe(no_mangle)]
pub unsafe extern "C" fn tabsnap_options_set_pack_size(
    opts: *mut tabsnap_options,
    bytes: u64,
    err_out: *mut *mut tabsnap_error,
) -> tabsnap_status {
    ffi_boundary!(err_out => {
        // SAFETY: forwarded contract.
        let o = unsafe { live(opts) }?;
        o.packer.pack_size = in_range("pack size", size(bytes), &PackerOptions::PACK_SIZES)?;
        Ok(())
    })
}

/// Memory budget for packs being filled and uploaded, at least the pack size (default 64 MiB).
///
/// Returns as `tabsnap_options_set_threads`.
///
/// Thread safety: one thread at a time per `opts`. Since: 0.1.
///
/// # Safety
/// As `tabsnap_options_set_threads`.
#[must_use]
#[unsafe(no_mangle)]
pub unsafe extern "C" fn tabsnap_options_set_bytes_in_flight(
    opts: *mut tabsnap_options,
    bytes: u64,
    err_out: *mut *mut tabsnap_error,
) -> tabsnap_status {
    ffi_boundary!(err_out => {
        // SAFETY: forwarded contract.
        let o = unsafe { live(opts) }?;
        o.packer.bytes_in_flight = in_range("bytes in flight", size(bytes), &PackerOptions::BYTES_IN_FLIGHT)?;
        Ok(())
    })
}

/// The files a backup takes per batch of tablets (default 16,384; 1 to 2^24): each batch is snapshotted
/// (`snapshot_tablet`), backed up and released (`release_tablet`) before the next, so a host holds at most one
/// batch of snapshots at a time.
///
/// Returns as `tabsnap_options_set_threads`.
///
/// Thread safety: one thread at a time per `opts`. Since: 0.2.
///
/// # Safety
/// As `tabsnap_options_set_threads`.
#[must_use]
#[unsafe(no_mangle)]
pub unsafe extern "C" fn tabsnap_options_set_batch_files(
    opts: *mut tabsnap_options,
    files: u64,
    err_out: *mut *mut tabsnap_error,
) -> tabsnap_status {
    ffi_boundary!(err_out => {
        // SAFETY: forwarded contract.
        let o = unsafe { live(opts) }?;
        o.packer.batch_files = in_range("batch files", size(files), &PackerOptions::BATCH_FILES)?;
        Ok(())
    })
}

/// A directory where the engine keeps repositories and job history between runs (NULL: keep nothing).
///
/// Returns `TABSNAP_STATUS_OK`; `_NULL_ARGUMENT` (`opts` NULL); `_INVALID_UTF8`.
///
/// Thread safety: one thread at a time per `opts`. Since: 0.1.
///
/// # Safety
/// As `tabsnap_options_set_threads`; `dir` is NULL or a NUL-terminated string.
#[must_use]
#[unsafe(no_mangle)]
pub unsafe extern "C" fn tabsnap_options_set_state_dir(
    opts: *mut tabsnap_options,
    dir: *const c_char,
    err_out: *mut *mut tabsnap_error,
) -> tabsnap_status {
    ffi_boundary!(err_out => {
        // SAFETY: forwarded contract.
        let o = unsafe { live(opts) }?;
        o.state_dir = if dir.is_null() {
            None
        } else {
            // SAFETY: NUL-terminated per the contract.
            Some(PathBuf::from(unsafe { str_arg(dir, "dir") }?))
        };
        Ok(())
    })
}

/// Caps every job's timeout at `ms` milliseconds (0: no cap; the statements' `timeout` applies).
///
/// Returns `TABSNAP_STATUS_OK`; `_NULL_ARGUMENT` (`opts` NULL).
///
/// Thread safety: one thread at a time per `opts`. Since: 0.1.
///
/// # Safety
/// As `tabsnap_options_set_threads`.
#[must_use]
#[unsafe(no_mangle)]
pub unsafe extern "C" fn tabsnap_options_set_max_job_timeout_ms(
    opts: *mut tabsnap_options,
    ms: u64,
    err_out: *mut *mut tabsnap_error,
) -> tabsnap_status {
    ffi_boundary!(err_out => {
        // SAFETY: forwarded contract.
        let o = unsafe { live(opts) }?;
        o.max_job_timeout = (ms > 0).then(|| Duration::from_millis(ms));
        Ok(())
    })
}

/// Watches every job of engines made with these options: `callback(user_data, job, info)` runs when a job changes
/// state and, at most every 100 ms, as its progress moves (see `tabsnap_progress_fn`). NULL `callback` removes
/// it. `user_data` must stay valid while an engine made with these options lives.
///
/// Returns `TABSNAP_STATUS_OK`; `_NULL_ARGUMENT` (`opts` NULL).
///
/// Thread safety: one thread at a time per `opts`. Since: 0.1.
///
/// # Safety
/// As `tabsnap_options_set_threads`; `callback` is NULL or a function callable from any thread.
#[must_use]
#[unsafe(no_mangle)]
pub unsafe extern "C" fn tabsnap_options_set_progress(
    opts: *mut tabsnap_options,
    callback: tabsnap_progress_fn,
    user_data: *mut c_void,
    err_out: *mut *mut tabsnap_error,
) -> tabsnap_status {
    ffi_boundary!(err_out => {
        // SAFETY: forwarded contract.
        let o = unsafe { live(opts) }?;
        o.progress = callback.map(|f| ProgressCallback { f, user_data });
        Ok(())
    })
}

/// Doris's `ignore_backup_not_support_table_type`: with `ignore` true, a BACKUP skips the tables that are not
/// OLAP tables (and names them in its TaskErrMsg) instead of failing with "Table 't' is not a OLAP table".
/// Off by default.
///
/// Returns `TABSNAP_STATUS_OK`; `_NULL_ARGUMENT` (`opts` NULL).
///
/// Thread safety: one thread at a time per `opts`. Since: 0.1.
///
/// # Safety
/// As `tabsnap_options_set_threads`.
#[must_use]
#[unsafe(no_mangle)]
pub unsafe extern "C" fn tabsnap_options_set_ignore_backup_not_support_table_type(
    opts: *mut tabsnap_options,
    ignore: bool,
    err_out: *mut *mut tabsnap_error,
) -> tabsnap_status {
    ffi_boundary!(err_out => {
        // SAFETY: forwarded contract.
        let o = unsafe { live(opts) }?;
        o.ignore_unsupported_tables = ignore;
        Ok(())
    })
}
