//! Engine options, set one by one (the struct stays private so it can grow).

use std::ffi::{c_char, c_void};
use std::path::PathBuf;
use std::time::Duration;

use super::boundary::{Failure, boundary, str_arg};
use super::error::tabsnap_error;
use super::status::tabsnap_status;
use crate::pack::PackerOptions;

/// Options for a new engine. Created by `tabsnap_options_new`, freed by `tabsnap_options_free`; not
/// thread-safe (set it up on one thread, then pass it to `tabsnap_engine_new*`, which copies it).
pub struct tabsnap_options {
    pub(crate) packer: PackerOptions,
    pub(crate) state_dir: Option<PathBuf>,
    pub(crate) max_job_timeout: Option<Duration>,
    pub(crate) progress: Option<ProgressCallback>,
}

/// Called with a job's id and state/progress (`info`, valid during the call) when the job changes state and,
/// at most every 100 ms, as its progress moves. Runs on the job's thread, possibly several jobs at once: keep
/// it short, and let no C++ exception or `longjmp` out of it.
pub type tabsnap_progress_fn = Option<unsafe extern "C" fn(*mut c_void, u64, *const super::engine::tabsnap_job_info)>;

#[derive(Clone, Copy)]
pub(crate) struct ProgressCallback {
    pub f: unsafe extern "C" fn(*mut c_void, u64, *const super::engine::tabsnap_job_info),
    pub user_data: *mut c_void,
}

// SAFETY: `tabsnap_options_set_progress` documents that the callback may be called from any thread with its
// user_data; tabsnap only hands user_data back to it.
unsafe impl Send for ProgressCallback {}
// SAFETY: as for Send.
unsafe impl Sync for ProgressCallback {}

/// New options with the defaults (threads: one per core, zstd level 3, 4 MiB chunks, 16 MiB packs, 64 MiB in
/// flight, no state directory). Free with `tabsnap_options_free`.
#[unsafe(no_mangle)]
pub extern "C" fn tabsnap_options_new() -> *mut tabsnap_options {
    Box::into_raw(Box::new(tabsnap_options {
        packer: PackerOptions::default(),
        state_dir: None,
        max_job_timeout: None,
        progress: None,
    }))
}

/// Frees options. NULL is a no-op.
///
/// # Safety
/// `opts` is NULL or from `tabsnap_options_new`, freed once.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn tabsnap_options_free(opts: *mut tabsnap_options) {
    if !opts.is_null() {
        // SAFETY: from Box::into_raw in tabsnap_options_new, freed once per the contract.
        drop(unsafe { Box::from_raw(opts) });
    }
}

fn set(
    opts: *mut tabsnap_options,
    err_out: *mut *mut tabsnap_error,
    f: impl FnOnce(&mut tabsnap_options) -> Result<(), Failure>,
) -> tabsnap_status {
    boundary(
        err_out,
        || {},
        || {
            // SAFETY: NULL (refused) or a live options object used by this thread only, per each setter's contract.
            let o = unsafe { opts.as_mut() }.ok_or_else(|| Failure::null("opts"))?;
            f(o)
        },
    )
}

fn range(what: &str, v: u64, lo: u64, hi: u64) -> Result<u64, Failure> {
    if (lo..=hi).contains(&v) {
        Ok(v)
    } else {
        Err(Failure::new(tabsnap_status::InvalidArgument, format!("{what} {v} is out of range {lo}..={hi}")))
    }
}

/// Worker threads (0: one per core; at most 1024).
///
/// # Safety
/// `opts` is NULL or live and not used concurrently; `err_out` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn tabsnap_options_set_threads(
    opts: *mut tabsnap_options,
    threads: u32,
    err_out: *mut *mut tabsnap_error,
) -> tabsnap_status {
    set(opts, err_out, |o| {
        o.packer.threads = range("threads", u64::from(threads), 0, 1024)? as usize;
        Ok(())
    })
}

/// zstd level, 1 to 19 (default 3).
///
/// # Safety
/// As `tabsnap_options_set_threads`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn tabsnap_options_set_zstd_level(
    opts: *mut tabsnap_options,
    level: i32,
    err_out: *mut *mut tabsnap_error,
) -> tabsnap_status {
    set(opts, err_out, |o| {
        if !(1..=19).contains(&level) {
            return Err(Failure::new(
                tabsnap_status::InvalidArgument,
                format!("zstd level {level} is out of range 1..=19"),
            ));
        }
        o.packer.zstd_level = level;
        Ok(())
    })
}

/// Chunk size for large files, 64 KiB to 64 MiB (default 4 MiB).
///
/// # Safety
/// As `tabsnap_options_set_threads`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn tabsnap_options_set_chunk_size(
    opts: *mut tabsnap_options,
    bytes: u64,
    err_out: *mut *mut tabsnap_error,
) -> tabsnap_status {
    set(opts, err_out, |o| {
        o.packer.chunk_size = range("chunk size", bytes, 64 << 10, 64 << 20)? as usize;
        Ok(())
    })
}

/// Target pack size, 1 MiB to 1 GiB (default 16 MiB).
///
/// # Safety
/// As `tabsnap_options_set_threads`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn tabsnap_options_set_pack_size(
    opts: *mut tabsnap_options,
    bytes: u64,
    err_out: *mut *mut tabsnap_error,
) -> tabsnap_status {
    set(opts, err_out, |o| {
        o.packer.pack_size = range("pack size", bytes, 1 << 20, 1 << 30)? as usize;
        Ok(())
    })
}

/// Memory budget for packs being filled and uploaded, at least the pack size (default 64 MiB).
///
/// # Safety
/// As `tabsnap_options_set_threads`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn tabsnap_options_set_bytes_in_flight(
    opts: *mut tabsnap_options,
    bytes: u64,
    err_out: *mut *mut tabsnap_error,
) -> tabsnap_status {
    set(opts, err_out, |o| {
        o.packer.bytes_in_flight = range("bytes in flight", bytes, 1 << 20, 1 << 40)? as usize;
        Ok(())
    })
}

/// A directory where the engine keeps repositories and job history between runs (NULL: keep nothing).
///
/// # Safety
/// As `tabsnap_options_set_threads`; `dir` is NULL or a NUL-terminated UTF-8 string.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn tabsnap_options_set_state_dir(
    opts: *mut tabsnap_options,
    dir: *const c_char,
    err_out: *mut *mut tabsnap_error,
) -> tabsnap_status {
    set(opts, err_out, |o| {
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
/// # Safety
/// As `tabsnap_options_set_threads`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn tabsnap_options_set_max_job_timeout_ms(
    opts: *mut tabsnap_options,
    ms: u64,
    err_out: *mut *mut tabsnap_error,
) -> tabsnap_status {
    set(opts, err_out, |o| {
        o.max_job_timeout = (ms > 0).then(|| Duration::from_millis(ms));
        Ok(())
    })
}

/// Watches every job of engines made with these options: `callback(user_data, job, info)` runs when a job changes
/// state and, at most every 100 ms, as its progress moves (see `tabsnap_progress_fn`). NULL `callback` removes
/// it. `user_data` must stay valid while an engine made with these options lives.
///
/// # Safety
/// As `tabsnap_options_set_threads`; `callback` is NULL or a function callable from any thread.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn tabsnap_options_set_progress(
    opts: *mut tabsnap_options,
    callback: tabsnap_progress_fn,
    user_data: *mut c_void,
    err_out: *mut *mut tabsnap_error,
) -> tabsnap_status {
    set(opts, err_out, |o| {
        o.progress = callback.map(|f| ProgressCallback { f, user_data });
        Ok(())
    })
}
