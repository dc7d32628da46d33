//! The C ABI (`include/tabsnap.h`, generated from this module by cbindgen).
//!
//! Conventions (see the README, "C API conventions"): every fallible function returns a `tabsnap_status` and
//! takes a trailing `tabsnap_error **err_out` (NULL allowed) written only on failure; outputs are written only on
//! success; handles are created and freed by tabsnap (`_new` / `_free`, free of NULL is a no-op); strings are
//! UTF-8 and NUL-terminated; no panic crosses the boundary.

#![allow(non_camel_case_types)]

mod boundary;
mod engine;
mod error;
mod host;
mod options;
mod repo;
mod status;
#[cfg(test)]
mod tests;
mod version;

pub use engine::*;
pub use error::*;
pub use host::*;
pub use options::*;
pub use repo::*;
pub use status::*;
pub use version::*;
