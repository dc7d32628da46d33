//! Generates the C header with cbindgen: always into `$OUT_DIR/tabsnap.h`, and into the committed
//! `include/tabsnap.h` when its content changed and `CI` is not set (CI checks the committed copy instead).

use std::env;
use std::path::PathBuf;

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
         #define TABSNAP_REPO_CALLBACKS_VERSION 1\n#define TABSNAP_HOST_CALLBACKS_VERSION 1\n",
        major * 1_000_000 + minor * 1_000 + patch
    );

    let config = cbindgen::Config::from_file(crate_dir.join("cbindgen.toml")).expect("cbindgen.toml is valid");
    let bindings = cbindgen::Builder::new()
        .with_crate(&crate_dir)
        .with_config(config)
        .with_after_include(macros)
        .generate()
        .expect("cbindgen generates the header from src/ffi");
    bindings.write_to_file(out_dir.join("tabsnap.h"));
    println!("cargo:include={}", out_dir.display());
    if env::var_os("CI").is_none() {
        bindings.write_to_file(crate_dir.join("include").join("tabsnap.h"));
    }
}
