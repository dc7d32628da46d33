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
    for program in
        ["double_include", "example", "test_api", "test_host", "test_host_v2", "test_contracts", "test_cluster"]
    {
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

fn run(cmd: &mut Command, what: &str) -> String {
    let out = cmd.output().unwrap_or_else(|e| panic!("cannot run {what}: {e}"));
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "{what} failed ({}):\n{text}", out.status);
    text
}

/// `scripts/install.sh PREFIX` installs the header, the libraries, `tabsnap.pc` and a CMake package; a C host
/// builds from the installed prefix with nothing but `pkg-config --cflags --libs tabsnap` (shared and static),
/// and a CMake project with nothing but `find_package(tabsnap)`.
#[test]
fn an_installed_prefix_builds_c_hosts_with_pkg_config_and_cmake() {
    let libdir = lib_dir();
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let tmp = std::env::temp_dir().join(format!("tabsnap-install-{}", std::process::id()));
    let prefix = tmp.join("prefix");
    run(
        Command::new(root.join("scripts/install.sh")).arg(&prefix).env("TABSNAP_LIBDIR", &libdir),
        "scripts/install.sh",
    );
    let pc = prefix.join("lib/pkgconfig");
    let flags = |args: &[&str]| -> Vec<String> {
        let out = run(Command::new("pkg-config").args(args).arg("tabsnap").env("PKG_CONFIG_PATH", &pc), "pkg-config");
        out.split_whitespace().map(str::to_owned).collect()
    };
    let example = root.join("ffi-tests/example.c");
    // Shared: only pkg-config's flags.
    let shared = tmp.join("example_shared");
    run(
        Command::new("cc").arg("-std=c99").arg(&example).args(flags(&["--cflags", "--libs"])).arg("-o").arg(&shared),
        "cc (shared)",
    );
    let out = run(Command::new(&shared).env("LD_LIBRARY_PATH", prefix.join("lib")), "the shared example");
    assert!(out.contains("ok example"), "{out}");
    // Static: pkg-config --static, linking the archive.
    let static_exe = tmp.join("example_static");
    let libs: Vec<String> = flags(&["--static", "--cflags", "--libs"])
        .into_iter()
        .map(|f| if f == "-ltabsnap" { "-l:libtabsnap.a".to_owned() } else { f })
        .collect();
    run(Command::new("cc").arg("-std=c99").arg(&example).args(libs).arg("-o").arg(&static_exe), "cc (static)");
    let out = run(&mut Command::new(&static_exe), "the static example");
    assert!(out.contains("ok example"), "{out}");
    // CMake: find_package(tabsnap 0.1) and the imported target.
    let cmake = std::env::var_os("TABSNAP_CMAKE")
        .map(PathBuf::from)
        .or_else(|| Some(root.join("target/py/bin/cmake")).filter(|p| p.exists()))
        .or_else(|| Command::new("cmake").arg("--version").output().ok().map(|_| PathBuf::from("cmake")))
        .unwrap_or_else(|| {
            panic!("this test needs cmake: run ./scripts/test-all.sh (it installs one) or `pip install cmake`")
        });
    let project = tmp.join("cmake-host");
    std::fs::create_dir_all(&project).unwrap();
    std::fs::copy(&example, project.join("example.c")).unwrap();
    std::fs::write(
        project.join("CMakeLists.txt"),
        "cmake_minimum_required(VERSION 3.16)\nproject(host C)\nfind_package(tabsnap 0.1 REQUIRED)\n\
         add_executable(example example.c)\ntarget_link_libraries(example PRIVATE tabsnap::tabsnap)\n",
    )
    .unwrap();
    let build = tmp.join("cmake-build");
    run(
        Command::new(&cmake)
            .arg("-S")
            .arg(&project)
            .arg("-B")
            .arg(&build)
            .arg(format!("-DCMAKE_PREFIX_PATH={}", prefix.display())),
        "cmake configure",
    );
    run(Command::new(&cmake).arg("--build").arg(&build), "cmake --build");
    let out = run(Command::new(build.join("example")).env("LD_LIBRARY_PATH", prefix.join("lib")), "the CMake example");
    assert!(out.contains("ok example"), "{out}");
    let _ = std::fs::remove_dir_all(&tmp);
}
