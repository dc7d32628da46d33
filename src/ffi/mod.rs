//! The C ABI (`include/tabsnap.h`).
//!
//! Every exported function is `tabsnap_*`; the header is generated from this module by cbindgen.

mod version;

pub use version::*;
