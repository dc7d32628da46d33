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
