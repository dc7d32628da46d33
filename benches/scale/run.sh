#!/usr/bin/env bash
# Builds tabsnap (release) and runs the tablet-count scaling measurement (see scale.py for the knobs; --check also
# checks the results, as scripts/test-all.sh does at 300,000 tablets); with TABSNAP set to a binary, runs that one
# instead of building.
set -euo pipefail
cd "$(dirname "$0")/../.."
if [ -z "${TABSNAP:-}" ]; then
  cargo build --release --locked --bin tabsnap
  TABSNAP="${CARGO_TARGET_DIR:-$PWD/target}/release/tabsnap"
  export TABSNAP
fi
exec python3 benches/scale/scale.py "$@"
