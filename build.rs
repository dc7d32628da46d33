//! Generates the C header with cbindgen: always into `$OUT_DIR/tabsnap.h`, and into the committed
//! `include/tabsnap.h` when its content changed and `CI` is not set (CI checks the committed copy instead).

use std::env;
use std::path::{Path, PathBuf};

/// The macros every declaration uses: `TABSNAP_API` (symbol visibility; define it before including the header to
/// override) and `TABSNAP_MUST_USE` (a warning when a returned status is ignored).
const ATTRIBUTES: &str = r#"
/* TABSNAP_API marks every function of the library; define it before including this header to override. */
#ifndef TABSNAP_API
#  if defined(_WIN32) && !defined(TABSNAP_STATIC)
#    define TABSNAP_API __declspec(dllimport)
#  elif defined(__GNUC__) || defined(__clang__)
#    define TABSNAP_API __attribute__((visibility("default")))
#  else
#    define TABSNAP_API
#  endif
#endif

/* TABSNAP_MUST_USE marks functions whose returned status must be checked. */
#ifndef TABSNAP_MUST_USE
#  if defined(__GNUC__) || defined(__clang__)
#    define TABSNAP_MUST_USE __attribute__((warn_unused_result))
#  elif defined(__cplusplus) && __cplusplus >= 201703L
#    define TABSNAP_MUST_USE [[nodiscard]]
#  else
#    define TABSNAP_MUST_USE
#  endif
#endif
"#;

/// The header for C readers: Rust's `# Safety` heading becomes a plain paragraph label.
fn for_c_readers(header: &str) -> String {
    header.replace(" * # Safety\n", " * Preconditions (undefined behaviour otherwise):\n")
}

fn main() {
    println!("cargo:rerun-if-changed=src/ffi");
    println!("cargo:rerun-if-changed=src/lib.rs");
    println!("cargo:rerun-if-changed=cbindgen.toml");
    println!("cargo:rerun-if-env-changed=CI");

    let crate_dir = PathBuf::from(env::var("CARGO_MANIFEST_DIR").expect("CARGO_MANIFEST_DIR is set by cargo"));
    let out_dir = PathBuf::from(env::var("OUT_DIR").expect("OUT_DIR is set by cargo"));
    let version = env::var("CARGO_PKG_VERSION").expect("CARGO_PKG_VERSION is set by cargo");
    let part = |name: &str| -> u32 {
        env::var(name).expect("version parts are set by cargo").parse().expect("version parts are numbers")
    };
    let (major, minor, patch) =
        (part("CARGO_PKG_VERSION_MAJOR"), part("CARGO_PKG_VERSION_MINOR"), part("CARGO_PKG_VERSION_PATCH"));
    let macros = format!(
        "\n#define TABSNAP_VERSION \"{version}\"\n#define TABSNAP_VERSION_MAJOR {major}\n\
         #define TABSNAP_VERSION_MINOR {minor}\n#define TABSNAP_VERSION_PATCH {patch}\n\
         /* MAJOR * 1000000 + MINOR * 1000 + PATCH */\n#define TABSNAP_VERSION_NUMBER {}\n\n\
         /* The versions of the callback tables this header describes (tests/header.rs checks them). */\n\
         #define TABSNAP_REPO_CALLBACKS_VERSION 1\n#define TABSNAP_HOST_CALLBACKS_VERSION 3\n\
         #define TABSNAP_CLUSTER_CALLBACKS_VERSION 1\n{ATTRIBUTES}",
        major * 1_000_000 + minor * 1_000 + patch
    );

    let config = cbindgen::Config::from_file(crate_dir.join("cbindgen.toml")).expect("cbindgen.toml is valid");
    let bindings = cbindgen::Builder::new()
        .with_crate(&crate_dir)
        .with_config(config)
        .with_after_include(macros)
        .generate()
        .expect("cbindgen generates the header from src/ffi");
    let mut raw = Vec::new();
    bindings.write(&mut raw);
    let header = for_c_readers(&String::from_utf8(raw).expect("cbindgen writes UTF-8"));
    write_if_changed(&out_dir.join("tabsnap.h"), &header);
    println!("cargo:include={}", out_dir.display());
    if env::var_os("CI").is_none() {
        write_if_changed(&crate_dir.join("include").join("tabsnap.h"), &header);
    }
}

/// Writes `content` to `path` unless it already holds exactly that (so the committed header is never touched
/// needlessly).
fn write_if_changed(path: &Path, content: &str) {
    if std::fs::read_to_string(path).is_ok_and(|old| old == content) {
        return;
    }
    std::fs::write(path, content).unwrap_or_else(|e| panic!("writing {}: {e}", path.display()));
}
