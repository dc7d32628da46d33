//! `tabsnap_engine_verify`: the operator's verify for C hosts.

use std::ffi::c_char;

use super::boundary::{Failure, ffi_boundary, opt_str_arg, str_arg};
use super::engine::{live_engine, tabsnap_engine};
use super::error::tabsnap_error;
use super::result::tabsnap_result;
use super::status::tabsnap_status;
use crate::pack::VerifyReport;
use crate::{Outcome, ResultSet};

/// What `tabsnap_engine_verify` checked. Set `struct_size` to `sizeof(tabsnap_verify_report)` before the call:
/// later versions append fields and fill only what fits.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct tabsnap_verify_report {
    /// `sizeof(tabsnap_verify_report)`, set by the caller.
    pub struct_size: u32,
    /// Snapshots checked.
    pub snapshots: u64,
    /// Packs checked.
    pub packs: u64,
    /// Chunks checked (read, decompressed and hashed unless quick).
    pub chunks: u64,
    /// Bytes read from packs.
    pub bytes_read: u64,
    /// Problems found (0: the snapshots are sound).
    pub problems: u64,
}

/// Writes `r` into `out`, as far as `out->struct_size` allows.
///
/// # Safety
/// `out` is not NULL and points to a writable `tabsnap_verify_report` whose `struct_size` the caller set.
unsafe fn write_report(out: *mut tabsnap_verify_report, r: &VerifyReport) -> Result<(), Failure> {
    // SAFETY: not NULL (checked by the caller), writable per the contract.
    let size = unsafe { (*out).struct_size } as usize;
    let full = std::mem::size_of::<tabsnap_verify_report>();
    if size < std::mem::offset_of!(tabsnap_verify_report, packs) {
        return Err(Failure::new(
            tabsnap_status::InvalidArgument,
            "tabsnap_verify_report.struct_size is too small; set it to sizeof(tabsnap_verify_report)",
        ));
    }
    let report = tabsnap_verify_report {
        struct_size: size.min(full) as u32,
        snapshots: r.snapshots,
        packs: r.packs,
        chunks: r.chunks,
        bytes_read: r.bytes_read,
        problems: r.problems.len() as u64,
    };
    // SAFETY: `out` has at least `size` writable bytes (the caller's struct_size), and at most that many are
    // copied from a local of the same layout.
    unsafe { std::ptr::copy_nonoverlapping((&raw const report).cast::<u8>(), out.cast::<u8>(), size.min(full)) };
    Ok(())
}

/// The problems as rows: Object, Chunk (hex, or empty), Files (`; `-separated), Message.
fn problem_rows(r: &VerifyReport) -> ResultSet {
    ResultSet {
        columns: ["Object", "Chunk", "Files", "Message"].map(str::to_owned).to_vec(),
        rows: r
            .problems
            .iter()
            .map(|p| {
                vec![
                    p.object.clone(),
                    p.chunk.map(|c| c.to_hex()).unwrap_or_default(),
                    p.files.join("; "),
                    p.message.clone(),
                ]
            })
            .collect(),
    }
}

/// Verifies the snapshots of repository `repository` that `label` and `timestamp` select (NULL: every snapshot;
/// NULL `timestamp`: every backup of `label`; `"latest"`: its newest), under a shared lock of the repository.
/// With `quick`, checks that everything each snapshot needs is there and consistent without reading the data;
/// otherwise reads every chunk and checks its crc32c and content hash, and every file's crc32c.
///
/// `report_out` (NULL: not wanted; else its `struct_size` set by the caller) receives the counts, and
/// `*problems_out` (NULL: not wanted) a result with one row set (`tabsnap_result_value(r, 0, row, col)`; columns
/// Object, Chunk, Files, Message), owned by the caller and freed with `tabsnap_result_free`. Both are set when
/// the call returns `TABSNAP_STATUS_OK` (the snapshots are sound) or `_CORRUPTION` (problems were found: the
/// error object names the first problem's object, the rows list every one); on any other status neither is
/// touched.
///
/// Returns `TABSNAP_STATUS_OK`; `_CORRUPTION` (problems found); `_NULL_ARGUMENT` (`engine` or `repository`);
/// `_INVALID_UTF8`; `_INVALID_ARGUMENT` (a `timestamp` without `label`, or `report_out->struct_size` too small);
/// `_ANALYSIS` (an unknown repository); `_NOT_FOUND` (no snapshot matches); `_REPOSITORY` / `_CALLBACK` (listing
/// the snapshots or taking the lock failed); `_POISONED`; `_INTERNAL_PANIC`.
///
/// Thread safety: any thread. Since: 0.1.
///
/// # Safety
/// `engine` is NULL or live; `repository`, `label` and `timestamp` are NULL or NUL-terminated; `report_out` is
/// NULL or points to a writable `tabsnap_verify_report` whose `struct_size` is set; `problems_out` and `err_out`
/// are NULL or writable.
#[must_use]
#[unsafe(no_mangle)]
#[allow(clippy::too_many_arguments)]
pub unsafe extern "C" fn tabsnap_engine_verify(
    engine: *const tabsnap_engine,
    repository: *const c_char,
    label: *const c_char,
    timestamp: *const c_char,
    quick: bool,
    report_out: *mut tabsnap_verify_report,
    problems_out: *mut *mut tabsnap_result,
    err_out: *mut *mut tabsnap_error,
) -> tabsnap_status {
    ffi_boundary!(err_out, poisons engine => {
        // SAFETY: NULL or a live engine, per the contract.
        let e = unsafe { live_engine(engine) }?;
        // SAFETY: NULL or NUL-terminated strings, per the contract.
        let (repository, label, timestamp) = unsafe {
            (str_arg(repository, "repository")?, opt_str_arg(label, "label")?, opt_str_arg(timestamp, "timestamp")?)
        };
        let report = e.verify(repository, label, timestamp, quick)?;
        if !report_out.is_null() {
            // SAFETY: not NULL, writable with its struct_size set, per the contract.
            unsafe { write_report(report_out, &report) }?;
        }
        if !problems_out.is_null() {
            let rows = tabsnap_result::boxed(vec![Outcome::Rows(problem_rows(&report))]);
            // SAFETY: writable, per the contract.
            unsafe { *problems_out = rows };
        }
        match report.problems.first() {
            None => Ok(()),
            Some(first) => Err(Failure {
                object: Some(first.object.clone()),
                ..Failure::new(
                    tabsnap_status::Corruption,
                    format!("{} problem(s) in {} snapshot(s); the first: {first}", report.problems.len(), report.snapshots),
                )
            }),
        }
    })
}
