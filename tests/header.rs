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
        ("TABSNAP_CLUSTER_CALLBACKS_VERSION", tabsnap::ffi::TABSNAP_CLUSTER_CALLBACKS_VERSION),
    ] {
        assert!(header.contains(&format!("#define {name} {value}\n")), "{name} in the header is not {value}");
    }
}

/// The header reads top-down as C: version, statuses and types before any function; every function exported
/// with `TABSNAP_API`, every status-returning one `TABSNAP_MUST_USE`; callback parameters named; no Rust
/// doc headings.
#[test]
fn header_reads_as_c() {
    let header = include_str!("../include/tabsnap.h");
    assert!(!header.contains("# Safety"), "a Rust `# Safety` heading leaked into the header");
    let first_fn = header.find("\nTABSNAP_API").expect("functions are declared with TABSNAP_API");
    for item in ["#define TABSNAP_VERSION_NUMBER", "enum tabsnap_status", "typedef struct tabsnap_host_callbacks"] {
        let at = header.find(item).unwrap_or_else(|| panic!("{item} is missing"));
        assert!(at < first_fn, "{item} comes after the first function");
    }
    assert!(header.find("tabsnap_version(void)") < header.find("tabsnap_engine_new("), "version functions first");
    // Declarations: from `TABSNAP_API` to the `;` that ends them.
    let mut functions = 0;
    for decl in header.split("\nTABSNAP_API").skip(1) {
        let decl = &decl[..decl.find(';').expect("a declaration ends with ;")];
        let returns_status = decl.replace("TABSNAP_MUST_USE", "").trim_start().starts_with("tabsnap_status ");
        assert_eq!(decl.contains("TABSNAP_MUST_USE"), returns_status, "must-use exactly on statuses: {decl}");
        functions += 1;
    }
    assert!(functions >= 46, "{functions} functions declared with TABSNAP_API");
    // Every function declaration has TABSNAP_API: no other line starts a prototype.
    let mut previous = "";
    for line in header.lines() {
        let is_prototype = line.contains(" tabsnap_") && line.contains('(') && !line.starts_with([' ', '*', '/']);
        let marked = line.starts_with("TABSNAP_API") || matches!(previous, "TABSNAP_API" | "TABSNAP_MUST_USE");
        assert!(!is_prototype || line.starts_with("typedef") || marked, "not TABSNAP_API: {line}");
        previous = line;
    }
    // Callback parameters are named: no parameter list holds a bare type.
    for bare in ["(void*", "(void *)", " void*,", "const char*,", "uint64_t,", "int32_t,"] {
        assert!(!header.contains(bare), "an unnamed callback parameter ({bare}) in the header");
    }
}
