#!/usr/bin/env bash
# The main job: `tabsnap demo` makes a sample database (two tables, one with a rollup), creates a LOCAL
# repository, runs BACKUP and shows SHOW BACKUP / SHOW SNAPSHOT, restores both tables under other names and checks
# every byte; then the operator tools list and verify the repository. Everything goes under target/demo.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --locked --bin tabsnap
T="$PWD/target/release/tabsnap"
D="${DEMO_DIR:-$PWD/target/demo}"
"$T" demo --dir "$D"
echo
echo "==> the operator tools on the same repository"
"$T" snapshots "file://$D/repo"
"$T" verify "file://$D/repo"
