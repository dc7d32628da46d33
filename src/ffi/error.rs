//! The error object: status, message, position of a syntax error, and the object a corruption hit.

use std::ffi::{CString, c_char};

use super::boundary::{Failure, cstring, ffi_boundary};
use super::status::tabsnap_status;

/// Details of a failure. Created by tabsnap (written to a `tabsnap_error **err_out` argument only when a call
/// fails), owned by the caller, freed with `tabsnap_error_free`. Immutable: safe to read from several threads.
pub struct tabsnap_error {
    status: tabsnap_status,
    message: CString,
    position: Option<(usize, usize)>,
    object: Option<CString>,
}

impl From<Failure> for tabsnap_error {
    fn from(f: Failure) -> tabsnap_error {
        tabsnap_error {
            status: f.status,
            message: cstring(&f.message),
            position: f.position,
            object: f.object.as_deref().map(cstring),
        }
    }
}

/// The status of the failed call `err` describes.
///
/// Returns `TABSNAP_STATUS_NULL_ARGUMENT` when `err` is NULL.
///
/// Thread safety: any thread. Since: 0.1.
///
/// # Safety
/// `err` is NULL or an error object from tabsnap not yet freed.
#[must_use]
#[unsafe(no_mangle)]
pub unsafe extern "C" fn tabsnap_error_status(err: *const tabsnap_error) -> tabsnap_status {
    ffi_boundary!(or tabsnap_status::InternalPanic => {
        // SAFETY: NULL or a live error object, per the contract.
        match unsafe { err.as_ref() } {
            Some(e) => e.status,
            None => tabsnap_status::NullArgument,
        }
    })
}

/// The message of `err`: what failed and where. Borrowed from `err`, valid until `tabsnap_error_free(err)`;
/// never NULL (an empty string when `err` is NULL).
///
/// Thread safety: any thread. Since: 0.1.
///
/// # Safety
/// `err` is NULL or an error object from tabsnap not yet freed.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn tabsnap_error_message(err: *const tabsnap_error) -> *const c_char {
    ffi_boundary!(or c"".as_ptr() => {
        // SAFETY: NULL or a live error object, per the contract.
        match unsafe { err.as_ref() } {
            Some(e) => e.message.as_ptr(),
            None => c"".as_ptr(),
        }
    })
}

/// For a syntax error, writes its 1-based line and column and returns true; otherwise returns false and writes
/// nothing. `line` and `column` may be NULL.
///
/// Thread safety: any thread. Since: 0.1.
///
/// # Safety
/// `err` is NULL or a live error object; `line` and `column` are NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn tabsnap_error_position(err: *const tabsnap_error, line: *mut u32, column: *mut u32) -> bool {
    ffi_boundary!(or false => {
        // SAFETY: NULL or a live error object, per the contract.
        let Some((l, c)) = (unsafe { err.as_ref() }).and_then(|e| e.position) else { return false };
        // SAFETY: each pointer is NULL (skipped) or writable, per the contract.
        unsafe {
            if let Some(p) = line.as_mut() {
                *p = u32::try_from(l).unwrap_or(u32::MAX);
            }
            if let Some(p) = column.as_mut() {
                *p = u32::try_from(c).unwrap_or(u32::MAX);
            }
        }
        true
    })
}

/// The repository object (or file) the error is about, or NULL when there is none. Borrowed from `err`.
///
/// Thread safety: any thread. Since: 0.1.
///
/// # Safety
/// `err` is NULL or a live error object.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn tabsnap_error_object(err: *const tabsnap_error) -> *const c_char {
    ffi_boundary!(or std::ptr::null() => {
        // SAFETY: NULL or a live error object, per the contract.
        match unsafe { err.as_ref() }.and_then(|e| e.object.as_ref()) {
            Some(o) => o.as_ptr(),
            None => std::ptr::null(),
        }
    })
}

/// Frees an error object. NULL is a no-op.
///
/// Thread safety: no other call may use `err` at the same time or after. Since: 0.1.
///
/// # Safety
/// `err` is NULL or an error object from tabsnap, freed only once.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn tabsnap_error_free(err: *mut tabsnap_error) {
    ffi_boundary!(or () => {
        if !err.is_null() {
            // SAFETY: created by Box::into_raw in the boundary and freed once, per the contract.
            drop(unsafe { Box::from_raw(err) });
        }
    })
}

/// Frees a string tabsnap handed out as owned (`char *`). NULL is a no-op. Never use the host's `free()` on it.
///
/// Thread safety: no other call may use `s` at the same time or after. Since: 0.1.
///
/// # Safety
/// `s` is NULL or an owned string from tabsnap, freed only once.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn tabsnap_string_free(s: *mut c_char) {
    ffi_boundary!(or () => {
        if !s.is_null() {
            // SAFETY: created by CString::into_raw in tabsnap and freed once, per the contract.
            drop(unsafe { CString::from_raw(s) });
        }
    })
}
