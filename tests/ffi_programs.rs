//! Builds the C and C++ programs under ffi-tests/ against include/tabsnap.h and the library cargo just built,
//! and runs each: every line they print is shown, and each must exit 0.

use std::path::PathBuf;
use std::process::Command;

fn lib_dir() -> PathBuf {
    // Under `cargo test`, the library's crate types (libtabsnap.so / .a) are built next to this test binary.
    let exe = std::env::current_exe().expect("test binary path");
    exe.parent().expect("test binary directory").to_path_buf()
}

#[test]
fn c_and_cpp_programs_pass() {
    let libdir = lib_dir();
    assert!(
        libdir.join("libtabsnap.so").exists(),
        "libtabsnap.so is not in {}; run through `cargo test`",
        libdir.display()
    );
    let out = std::env::temp_dir().join(format!("tabsnap-ffi-build-{}", std::process::id()));
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let make = Command::new("make")
        .arg("-C")
        .arg(root.join("ffi-tests"))
        .arg(format!("LIBDIR={}", libdir.display()))
        .arg(format!("OUT={}", out.display()))
        .arg("all")
        .output()
        .unwrap_or_else(|e| panic!("cannot run make ({e}); install make and a C/C++ compiler (gcc, g++)"));
    assert!(
        make.status.success(),
        "building ffi-tests failed (a C99/C++17 compiler is required):\n{}\n{}",
        String::from_utf8_lossy(&make.stdout),
        String::from_utf8_lossy(&make.stderr)
    );
    let mut failed = Vec::new();
    for program in ["double_include", "example", "test_api", "test_host", "test_contracts"] {
        let run = Command::new(out.join(program))
            .env("LD_LIBRARY_PATH", &libdir)
            .output()
            .unwrap_or_else(|e| panic!("cannot run {program}: {e}"));
        let stdout = String::from_utf8_lossy(&run.stdout);
        print!("{stdout}");
        eprint!("{}", String::from_utf8_lossy(&run.stderr));
        if !run.status.success() || stdout.contains("FAIL ") {
            failed.push(format!("{program} ({})", run.status));
        }
    }
    let _ = std::fs::remove_dir_all(&out);
    assert!(failed.is_empty(), "failed: {failed:?}");
}
