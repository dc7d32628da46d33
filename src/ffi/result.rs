//! What `tabsnap_engine_execute` hands back: one outcome per statement, and the rows of SHOW statements.

use std::ffi::{CString, c_char};

use super::boundary::{cstring, ffi_boundary};
use crate::Outcome;

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

impl tabsnap_result {
    /// The C form of `outcomes`, boxed for handing out.
    pub(crate) fn boxed(outcomes: Vec<Outcome>) -> *mut tabsnap_result {
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
        Box::into_raw(Box::new(tabsnap_result { outcomes }))
    }
}

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
/// Thread safety: any thread. Since: 0.1.
///
/// # Safety
/// `result` is NULL or live.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn tabsnap_result_count(result: *const tabsnap_result) -> usize {
    ffi_boundary!(or 0 => {
        // SAFETY: NULL or live per the contract.
        unsafe { result.as_ref() }.map_or(0, |r| r.outcomes.len())
    })
}

/// What statement `i` produced (`TABSNAP_OUTCOME_INVALID` when `i` is out of range or `result` is NULL).
///
/// Thread safety: any thread. Since: 0.1.
///
/// # Safety
/// `result` is NULL or live.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn tabsnap_result_kind(result: *const tabsnap_result, i: usize) -> tabsnap_outcome {
    ffi_boundary!(or tabsnap_outcome::Invalid => {
        // SAFETY: NULL or live, per this function's contract.
        match unsafe { outcome(result, i) } {
            Some(OutcomeC::Done) => tabsnap_outcome::Done,
            Some(OutcomeC::Job(_)) => tabsnap_outcome::Job,
            Some(OutcomeC::Rows { .. }) => tabsnap_outcome::Rows,
            None => tabsnap_outcome::Invalid,
        }
    })
}

/// The job id of statement `i`, or 0 when it did not start a job.
///
/// Thread safety: any thread. Since: 0.1.
///
/// # Safety
/// `result` is NULL or live.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn tabsnap_result_job_id(result: *const tabsnap_result, i: usize) -> u64 {
    ffi_boundary!(or 0 => {
        // SAFETY: NULL or live, per this function's contract.
        match unsafe { outcome(result, i) } {
            Some(OutcomeC::Job(id)) => *id,
            _ => 0,
        }
    })
}

/// The number of columns of statement `i`'s rows (0 when it has none).
///
/// Thread safety: any thread. Since: 0.1.
///
/// # Safety
/// `result` is NULL or live.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn tabsnap_result_column_count(result: *const tabsnap_result, i: usize) -> usize {
    ffi_boundary!(or 0 => {
        // SAFETY: NULL or live, per this function's contract.
        match unsafe { outcome(result, i) } {
            Some(OutcomeC::Rows { columns, .. }) => columns.len(),
            _ => 0,
        }
    })
}

/// The name of column `col` of statement `i` (Doris's column names), or NULL when out of range. Borrowed from
/// `result`.
///
/// Thread safety: any thread. Since: 0.1.
///
/// # Safety
/// `result` is NULL or live.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn tabsnap_result_column_name(
    result: *const tabsnap_result,
    i: usize,
    col: usize,
) -> *const c_char {
    ffi_boundary!(or std::ptr::null() => {
        // SAFETY: NULL or live, per this function's contract.
        match unsafe { outcome(result, i) } {
            Some(OutcomeC::Rows { columns, .. }) => columns.get(col).map_or(std::ptr::null(), |c| c.as_ptr()),
            _ => std::ptr::null(),
        }
    })
}

/// The number of rows of statement `i` (0 when it has none).
///
/// Thread safety: any thread. Since: 0.1.
///
/// # Safety
/// `result` is NULL or live.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn tabsnap_result_row_count(result: *const tabsnap_result, i: usize) -> usize {
    ffi_boundary!(or 0 => {
        // SAFETY: NULL or live, per this function's contract.
        match unsafe { outcome(result, i) } {
            Some(OutcomeC::Rows { rows, .. }) => rows.len(),
            _ => 0,
        }
    })
}

/// The value at `row`, `col` of statement `i`, or NULL when out of range. Borrowed from `result`.
///
/// Thread safety: any thread. Since: 0.1.
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
    ffi_boundary!(or std::ptr::null() => {
        // SAFETY: NULL or live, per this function's contract.
        match unsafe { outcome(result, i) } {
            Some(OutcomeC::Rows { rows, .. }) => {
                rows.get(row).and_then(|r| r.get(col)).map_or(std::ptr::null(), |v| v.as_ptr())
            }
            _ => std::ptr::null(),
        }
    })
}

/// Frees a result. NULL is a no-op.
///
/// Thread safety: no other call may use `result` at the same time or after. Since: 0.1.
///
/// # Safety
/// `result` is NULL or from `tabsnap_engine_execute`, freed once, not read afterwards.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn tabsnap_result_free(result: *mut tabsnap_result) {
    ffi_boundary!(or () => {
        if !result.is_null() {
            // SAFETY: from Box::into_raw in tabsnap_result::boxed, freed once per the contract.
            drop(unsafe { Box::from_raw(result) });
        }
    })
}
