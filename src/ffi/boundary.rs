//! The boundary every C export goes through: [`ffi_boundary!`] catches panics and turns failures into statuses
//! and error objects; [`str_arg`], [`out_arg`] and friends check pointer arguments (NULL gives
//! `TABSNAP_STATUS_NULL_ARGUMENT`, invalid UTF-8 `TABSNAP_STATUS_INVALID_UTF8`).

use std::ffi::{CStr, CString, c_char};
use std::panic::{AssertUnwindSafe, catch_unwind};

use super::error::tabsnap_error;
use super::status::tabsnap_status;
use crate::Error;

/// A failure on its way to C: a status and the details the error object carries.
pub(crate) struct Failure {
    pub status: tabsnap_status,
    pub message: String,
    pub position: Option<(usize, usize)>,
    pub object: Option<String>,
}

impl Failure {
    pub fn new(status: tabsnap_status, message: impl Into<String>) -> Failure {
        Failure { status, message: message.into(), position: None, object: None }
    }

    pub fn null(what: &str) -> Failure {
        Failure::new(tabsnap_status::NullArgument, format!("{what} is NULL"))
    }
}

impl From<Error> for Failure {
    fn from(e: Error) -> Failure {
        Failure {
            status: tabsnap_status::of(e.kind()),
            message: e.message().to_owned(),
            position: e.position(),
            object: e.object().map(str::to_owned),
        }
    }
}

fn panic_message(p: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = p.downcast_ref::<&str>() {
        (*s).to_owned()
    } else if let Some(s) = p.downcast_ref::<String>() {
        s.clone()
    } else {
        "unknown panic".to_owned()
    }
}

/// The one boundary around the body of every C export, in the shape of the regex crate's `ffi_fn!` (applied to
/// the body, so that cbindgen still reads the signature):
///
/// - `ffi_boundary!(err_out => { … })`: the body returns `Result<(), Failure>`; the export returns
///   `TABSNAP_STATUS_OK`, or the failure's status with a new error object in `*err_out` (when `err_out` is not
///   NULL). A panic becomes `TABSNAP_STATUS_INTERNAL_PANIC`.
/// - `ffi_boundary!(err_out, poisons engine => { … })`: the same for a call on an engine: a panic also poisons it.
/// - `ffi_boundary!(or value => { … })`: for an export that returns a value (an accessor, a free, a
///   constructor): the body returns it; a panic returns `value`.
///
/// `tests.rs` checks that every `extern "C" fn` of the module starts with it.
macro_rules! ffi_boundary {
    (or $on_panic:expr => $body:block) => {
        $crate::ffi::boundary::guard(|| $on_panic, || $body)
    };
    ($err_out:expr => $body:block) => {
        $crate::ffi::boundary::boundary(
            $err_out,
            || {},
            || -> ::std::result::Result<(), $crate::ffi::boundary::Failure> { $body },
        )
    };
    ($err_out:expr, poisons $engine:expr => $body:block) => {
        $crate::ffi::boundary::boundary(
            $err_out,
            || $crate::ffi::engine::poison($engine),
            || -> ::std::result::Result<(), $crate::ffi::boundary::Failure> { $body },
        )
    };
}
pub(crate) use ffi_boundary;

/// Runs `f`, catching panics: a panic returns `on_panic()`.
pub(crate) fn guard<T>(on_panic: impl FnOnce() -> T, f: impl FnOnce() -> T) -> T {
    catch_unwind(AssertUnwindSafe(f)).unwrap_or_else(|_| on_panic())
}

/// Runs `f`, catching panics; on failure writes an error object to `*err_out` (when `err_out` is not NULL) and
/// returns its status. `on_panic` runs after a panic (to poison a handle).
pub(crate) fn boundary(
    err_out: *mut *mut tabsnap_error,
    on_panic: impl FnOnce(),
    f: impl FnOnce() -> Result<(), Failure>,
) -> tabsnap_status {
    let failure = match catch_unwind(AssertUnwindSafe(f)) {
        Ok(Ok(())) => return tabsnap_status::Ok,
        Ok(Err(failure)) => failure,
        Err(p) => {
            on_panic();
            Failure::new(tabsnap_status::InternalPanic, format!("internal error: {}", panic_message(p.as_ref())))
        }
    };
    let status = failure.status;
    if !err_out.is_null() {
        let e = Box::into_raw(Box::new(tabsnap_error::from(failure)));
        // SAFETY: `err_out` is not NULL, and the caller promises it points to writable storage for one pointer
        // (every exported function's # Safety says so).
        unsafe { *err_out = e };
    }
    status
}

/// Borrows a C string argument.
///
/// # Safety
/// `p` is NULL or points to a NUL-terminated string that outlives the returned borrow.
pub(crate) unsafe fn str_arg<'a>(p: *const c_char, what: &str) -> Result<&'a str, Failure> {
    if p.is_null() {
        return Err(Failure::null(what));
    }
    // SAFETY: not NULL, and NUL-terminated per this function's contract.
    let c = unsafe { CStr::from_ptr(p) };
    c.to_str().map_err(|_| Failure::new(tabsnap_status::InvalidUtf8, format!("{what} is not valid UTF-8")))
}

/// Like [`str_arg`], but NULL is `None`.
///
/// # Safety
/// As [`str_arg`].
pub(crate) unsafe fn opt_str_arg<'a>(p: *const c_char, what: &str) -> Result<Option<&'a str>, Failure> {
    if p.is_null() {
        Ok(None)
    } else {
        // SAFETY: forwarded contract.
        unsafe { str_arg(p, what) }.map(Some)
    }
}

/// Checks an out-parameter: NULL is `TABSNAP_STATUS_NULL_ARGUMENT` naming it.
pub(crate) fn out_arg<T>(p: *mut T, what: &str) -> Result<*mut T, Failure> {
    if p.is_null() { Err(Failure::null(what)) } else { Ok(p) }
}

/// Writes `value` to the out-parameter `out`, checked not NULL by [`out_arg`].
///
/// # Safety
/// `out` is not NULL and points to writable storage for one `T`.
pub(crate) unsafe fn write_out<T>(out: *mut T, value: T) {
    // SAFETY: not NULL and writable, per this function's contract.
    unsafe { out.write(value) };
}

/// A C string for handing out (interior NULs are replaced, never truncated silently).
pub(crate) fn cstring(s: &str) -> CString {
    CString::new(s.replace('\0', "\u{FFFD}")).unwrap_or_default()
}
