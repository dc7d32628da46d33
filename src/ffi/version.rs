//! Version functions: the runtime twins of the `TABSNAP_VERSION*` macros.

use std::ffi::c_char;

use super::boundary::ffi_boundary;

/// `MAJOR * 1000000 + MINOR * 1000 + PATCH`, computed at compile time from the package version.
const VERSION_NUMBER: u32 = {
    const fn parse(s: &str) -> u32 {
        let b = s.as_bytes();
        let mut i = 0;
        let mut n = 0;
        while i < b.len() {
            n = n * 10 + (b[i] - b'0') as u32;
            i += 1;
        }
        n
    }
    parse(env!("CARGO_PKG_VERSION_MAJOR")) * 1_000_000
        + parse(env!("CARGO_PKG_VERSION_MINOR")) * 1_000
        + parse(env!("CARGO_PKG_VERSION_PATCH"))
};

const VERSION_CSTR: &std::ffi::CStr =
    match std::ffi::CStr::from_bytes_with_nul(concat!(env!("CARGO_PKG_VERSION"), "\0").as_bytes()) {
        Ok(s) => s,
        Err(_) => panic!("package version contains a NUL byte"),
    };

/// The library's version as a static NUL-terminated string, e.g. `"0.1.0"`.
///
/// Compare with the `TABSNAP_VERSION` macro to detect a header/library mismatch.
///
/// Ownership: the string is static; never free it. Thread safety: any thread. Since: 0.1.
#[unsafe(no_mangle)]
pub extern "C" fn tabsnap_version() -> *const c_char {
    ffi_boundary!(or VERSION_CSTR.as_ptr() => { VERSION_CSTR.as_ptr() })
}

/// The library's version as `MAJOR * 1000000 + MINOR * 1000 + PATCH`.
///
/// Equal to `TABSNAP_VERSION_NUMBER` when the header and the library match. Thread safety: any thread.
/// Since: 0.1.
#[unsafe(no_mangle)]
pub extern "C" fn tabsnap_version_number() -> u32 {
    ffi_boundary!(or VERSION_NUMBER => { VERSION_NUMBER })
}

#[cfg(test)]
mod tests {
    #[test]
    fn version_number_matches_the_package_version() {
        let v: Vec<u32> = env!("CARGO_PKG_VERSION").split('.').map(|p| p.parse().unwrap()).collect();
        assert_eq!(super::tabsnap_version_number(), v[0] * 1_000_000 + v[1] * 1_000 + v[2]);
        // SAFETY: tabsnap_version returns a static NUL-terminated string.
        let s = unsafe { std::ffi::CStr::from_ptr(super::tabsnap_version()) };
        assert_eq!(s.to_str().unwrap(), env!("CARGO_PKG_VERSION"));
    }
}
