//! Status codes: stable values grouped by range.

use std::ffi::c_char;

use super::boundary::ffi_boundary;
use crate::ErrorKind;

/// What a tabsnap function returns: `TABSNAP_STATUS_OK` (0) or a failure, grouped in stable ranges
/// (1xx arguments, 2xx statements, 3xx lookups, 4xx I/O and repositories, 5xx integrity, 6xx jobs, 7xx callbacks,
/// 9xx internal). Values never change; new ones are added.
#[repr(i32)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[allow(non_camel_case_types)]
pub enum tabsnap_status {
    /// Success.
    Ok = 0,
    /// A required pointer argument was NULL.
    NullArgument = 100,
    /// A string argument was not valid UTF-8.
    InvalidUtf8 = 101,
    /// An argument was out of range or unusable.
    InvalidArgument = 102,
    /// A statement has a syntax error (the error object has its line and column).
    Syntax = 200,
    /// A statement was refused by the analysis (Doris's message).
    Analysis = 201,
    /// Something asked for does not exist.
    NotFound = 300,
    /// Something that must be new already exists.
    AlreadyExists = 301,
    /// A local I/O error.
    Io = 400,
    /// A repository error.
    Repository = 401,
    /// Stored bytes fail their checksum or hash (the error object names the object).
    Corruption = 500,
    /// An object is not in a format this version reads.
    Format = 501,
    /// The job was cancelled.
    Cancelled = 600,
    /// The job ran past its timeout.
    TimedOut = 601,
    /// A host or repository callback reported a failure (the message is the callback's own).
    Callback = 700,
    /// tabsnap panicked; the engine is now poisoned.
    InternalPanic = 900,
    /// The engine was poisoned by an earlier panic and refuses further calls.
    Poisoned = 901,
}

impl tabsnap_status {
    pub(crate) fn of(kind: ErrorKind) -> tabsnap_status {
        match kind {
            ErrorKind::Syntax => tabsnap_status::Syntax,
            ErrorKind::Analysis => tabsnap_status::Analysis,
            ErrorKind::InvalidArgument => tabsnap_status::InvalidArgument,
            ErrorKind::NotFound => tabsnap_status::NotFound,
            ErrorKind::AlreadyExists => tabsnap_status::AlreadyExists,
            ErrorKind::Io => tabsnap_status::Io,
            ErrorKind::Repository => tabsnap_status::Repository,
            ErrorKind::Corruption => tabsnap_status::Corruption,
            ErrorKind::Format => tabsnap_status::Format,
            ErrorKind::Cancelled => tabsnap_status::Cancelled,
            ErrorKind::TimedOut => tabsnap_status::TimedOut,
            ErrorKind::Callback => tabsnap_status::Callback,
        }
    }

    fn from_code(code: i32) -> Option<tabsnap_status> {
        use tabsnap_status::*;
        [
            Ok,
            NullArgument,
            InvalidUtf8,
            InvalidArgument,
            Syntax,
            Analysis,
            NotFound,
            AlreadyExists,
            Io,
            Repository,
            Corruption,
            Format,
            Cancelled,
            TimedOut,
            Callback,
            InternalPanic,
            Poisoned,
        ]
        .into_iter()
        .find(|s| *s as i32 == code)
    }

    fn text(self) -> &'static std::ffi::CStr {
        use tabsnap_status::*;
        match self {
            Ok => c"ok",
            NullArgument => c"a required argument is NULL",
            InvalidUtf8 => c"a string argument is not valid UTF-8",
            InvalidArgument => c"invalid argument",
            Syntax => c"syntax error",
            Analysis => c"statement refused by analysis",
            NotFound => c"not found",
            AlreadyExists => c"already exists",
            Io => c"I/O error",
            Repository => c"repository error",
            Corruption => c"corruption detected",
            Format => c"unsupported or damaged format",
            Cancelled => c"cancelled",
            TimedOut => c"timed out",
            Callback => c"a host or repository callback failed",
            InternalPanic => c"internal error (panic)",
            Poisoned => c"the engine is poisoned by an earlier internal error",
        }
    }
}

/// A static, NUL-terminated description of a status code; `"unknown status"` for a value that is not one.
///
/// Ownership: static; never free it. Thread safety: any thread. Since: 0.1.
#[unsafe(no_mangle)]
pub extern "C" fn tabsnap_status_str(code: i32) -> *const c_char {
    ffi_boundary!(or c"unknown status".as_ptr() => {
        tabsnap_status::from_code(code).map_or(c"unknown status", tabsnap_status::text).as_ptr()
    })
}
