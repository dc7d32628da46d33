//! The C ABI (`include/tabsnap.h`, generated from this module by cbindgen).
//!
//! Conventions (see the README, "C API conventions"): every fallible function returns a `tabsnap_status` and
//! takes a trailing `tabsnap_error **err_out` (NULL allowed) written only on failure; outputs are written only on
//! success; handles are created and freed by tabsnap (`_new` / `_free`, free of NULL is a no-op); strings are
//! UTF-8 and NUL-terminated; no panic crosses the boundary: every export's body goes through `ffi_boundary!`.
//!
//! The modules are declared in the order the header presents them (cbindgen keeps source order): version and
//! statuses, errors, options, the engine, results, jobs, repository callbacks, host callbacks and their sinks,
//! coordinated backups, verify (which, alone, also writes its outputs when it returns `_CORRUPTION`: the problems found).

#![allow(non_camel_case_types)]

mod boundary;

// In header order (rustfmt keeps groups apart):
// the version and the statuses,
mod version;

mod status;

// errors and options,
mod error;

mod options;

// the engine, what it returns, and its jobs,
mod engine;

mod result;

mod job;

// the repository and host callback tables, and the sinks host callbacks answer into.
mod repo;

mod host;

mod sink;

// coordinated backups, whose node callback receives tablet refs.
mod cluster;

// the operator's verify.
mod verify;

#[cfg(test)]
mod tests;

pub use cluster::*;
pub use engine::*;
pub use error::*;
pub use host::*;
pub use job::*;
pub use options::*;
pub use repo::*;
pub use result::*;
pub use sink::*;
pub use status::*;
pub use version::*;
