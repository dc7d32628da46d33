#!/usr/bin/env bash
# Runs every test suite of tabsnap: formatting and lints; the Rust unit and integration tests (which also build
# and run the C/C++ programs of ffi-tests/ and check the header); the C/C++ programs again under
# AddressSanitizer + UBSan and under valgrind; the Python package's pytest suite; and the benches' build.
# Needs what a fresh machine of this kind has (Rust, gcc/g++, make, python3, valgrind); it installs the rest
# (pytest, into target/py).
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '\n==> %s\n' "$*"; }

step "cargo fmt --check"
cargo fmt --all -- --check

step "cargo clippy (all targets, warnings are errors)"
cargo clippy --all-targets --locked -- -D warnings

step "cargo test (Rust, C/C++ programs, header drift)"
cargo test --locked

# The library cargo test built (cdylib) sits in target/debug/deps.
LIBDIR="$PWD/target/debug/deps"
SANOUT="$PWD/target/ffi-san"
step "C/C++ programs under AddressSanitizer + UndefinedBehaviorSanitizer"
make -s -C ffi-tests LIBDIR="$LIBDIR" OUT="$SANOUT" SAN=address,undefined all
for p in test_api test_host example double_include; do
  ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 "$SANOUT/$p" >"$SANOUT/$p.log" 2>&1 \
    || { cat "$SANOUT/$p.log"; echo "FAIL: $p under sanitizers"; exit 1; }
  echo "ok $p ($(grep -c '^ok' "$SANOUT/$p.log") cases)"
done

VGOUT="$PWD/target/ffi-valgrind"
if command -v valgrind >/dev/null; then
  step "C/C++ programs under valgrind (errors and definite/indirect leaks fail)"
  make -s -C ffi-tests LIBDIR="$LIBDIR" OUT="$VGOUT" all
  for p in test_api test_host; do
    valgrind -q --error-exitcode=9 --leak-check=full --errors-for-leak-kinds=definite,indirect \
      --show-leak-kinds=definite,indirect "$VGOUT/$p" >"$VGOUT/$p.log" 2>&1 \
      || { cat "$VGOUT/$p.log"; echo "FAIL: $p under valgrind"; exit 1; }
    echo "ok $p"
  done
else
  echo "valgrind is not installed: install it (apt-get install valgrind) to run this suite" >&2
  exit 1
fi

step "Python package (pip install ./bindings/python, pytest)"
cargo build --locked --lib
if [ ! -x target/py/bin/python ]; then
  python3 -m venv target/py
fi
target/py/bin/pip install -q --disable-pip-version-check pytest
target/py/bin/pip install -q --disable-pip-version-check --force-reinstall --no-deps ./bindings/python
TABSNAP_LIBRARY="$PWD/target/debug/libtabsnap.so" target/py/bin/python -m pytest -q bindings/python/tests

step "benches build"
cargo bench --locked --no-run

step "all test suites passed"
