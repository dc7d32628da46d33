#!/usr/bin/env bash
# Builds tabsnap (release) and runs the side-by-side comparison (see compare.py for the knobs).
set -euo pipefail
cd "$(dirname "$0")/../.."
cargo build --release --locked --bin tabsnap
export TABSNAP="$PWD/target/release/tabsnap"
exec python3 benches/compare/compare.py "$@"
