//! The committed header must be what build.rs generates from the current sources.

#[test]
fn committed_header_is_current() {
    let committed = include_str!("../include/tabsnap.h");
    let generated = include_str!(concat!(env!("OUT_DIR"), "/tabsnap.h"));
    assert!(
        committed == generated,
        "include/tabsnap.h is stale: run `cargo build` (without CI set) and commit include/tabsnap.h"
    );
}

#[test]
fn callback_table_versions_match_the_library() {
    let header = include_str!("../include/tabsnap.h");
    for (name, value) in [
        ("TABSNAP_REPO_CALLBACKS_VERSION", tabsnap::ffi::TABSNAP_REPO_CALLBACKS_VERSION),
        ("TABSNAP_HOST_CALLBACKS_VERSION", tabsnap::ffi::TABSNAP_HOST_CALLBACKS_VERSION),
    ] {
        assert!(header.contains(&format!("#define {name} {value}\n")), "{name} in the header is not {value}");
    }
}
