#!/usr/bin/env python3
"""Time and peak memory of backup, restore and verify as the number of tablets grows, through the `tabsnap` CLI.

  benches/scale/run.sh                                  # 100k and 300k tablets, cached under ROOT
  TABLETS=100000,300000,1000000 benches/scale/run.sh    # up to a million (about 3 GiB of inodes and 10 minutes)
  benches/scale/run.sh --json                           # JSON lines after the table

Each tablet of the generated database holds two tiny files (a segment of 90 bytes and a header of 14, distinct
in every tablet, so nothing deduplicates), spread over 100 partitions of one table: the shape that makes a big
cluster's backup heavy in metadata rather than in bytes (Doris caps a job at 300,000 tablets).

Per size: `tabsnap backup REPO scale --data DATA --db scale` into a new repository, `tabsnap restore REPO scale
latest --to OUT`, `tabsnap verify REPO`; wall time, user and system CPU seconds and peak RSS of each process
(from wait4), and the largest metadata object the repository holds (under snapshots/ and index/).

Environment: ROOT (cache of generated trees and scratch, default /tmp/tabsnap-scale), TABLETS (comma-separated
counts, default 100000,300000), TABSNAP (the binary; run.sh builds it)."""
import argparse
import json
import os
import shutil
import subprocess
import sys
import time

ROOT = os.environ.get("ROOT", "/tmp/tabsnap-scale").rstrip("/")
TABLETS = [int(n) for n in os.environ.get("TABLETS", "100000,300000").split(",") if n]
PARTITIONS = 100


def generate(n: int) -> str:
    """The data directory of an n-tablet database, made once and cached (a marker file says it is complete)."""
    data = f"{ROOT}/tablets-{n}"
    done = f"{data}/.complete"
    if os.path.exists(done):
        return data
    shutil.rmtree(data, ignore_errors=True)
    table = f"{data}/scale/events"
    per = (n + PARTITIONS - 1) // PARTITIONS
    made = 0
    for p in range(PARTITIONS):
        for t in range(per):
            if made == n:
                break
            tablet = 10_000_000 + made
            d = f"{table}/p{p:03}/{tablet}"
            os.makedirs(d)
            with open(f"{d}/{tablet}_0.dat", "wb") as f:
                f.write(b"segment %d\n" % tablet * 5)
            with open(f"{d}/{tablet}.hdr", "wb") as f:
                f.write(b"header %d\n" % tablet)
            made += 1
    open(done, "w").close()
    return data


def run(cmd: list) -> dict:
    """Runs cmd; wall seconds, user and system CPU seconds and peak RSS (MiB) of the process."""
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    err = proc.stderr.read().decode(errors="replace")
    proc.stderr.close()
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        sys.exit(f"{' '.join(cmd)} failed ({proc.returncode}):\n{err}")
    return {"wall_s": wall, "user_s": usage.ru_utime, "sys_s": usage.ru_stime, "rss_mib": usage.ru_maxrss / 1024}


def largest_object(repo: str) -> dict:
    """The largest object under snapshots/ and under index/, in bytes."""
    out = {}
    for prefix in ("snapshots", "index"):
        sizes = [
            os.path.getsize(os.path.join(d, f)) for d, _, files in os.walk(f"{repo}/{prefix}") for f in files
        ]
        out[prefix] = max(sizes, default=0)
    return out


def measure(tabsnap: str, n: int) -> dict:
    data = generate(n)
    repo, out = f"{ROOT}/repo-{n}", f"{ROOT}/out-{n}"
    shutil.rmtree(repo, ignore_errors=True)
    shutil.rmtree(out, ignore_errors=True)
    row = {"tablets": n, "files": 2 * n}
    row["backup"] = run([tabsnap, "backup", repo, "scale", "--data", data, "--db", "scale", "--quiet"])
    row["restore"] = run([tabsnap, "restore", repo, "scale", "latest", "--to", out, "--quiet"])
    row["verify"] = run([tabsnap, "verify", repo])
    row["largest"] = largest_object(repo)
    shutil.rmtree(repo, ignore_errors=True)
    shutil.rmtree(out, ignore_errors=True)
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--json", action="store_true", help="print one JSON line per size after the table")
    args = parser.parse_args()
    tabsnap = os.environ.get("TABSNAP")
    if not tabsnap:
        sys.exit("TABSNAP must name the tabsnap binary (run.sh builds it)")
    os.makedirs(ROOT, exist_ok=True)
    rows = [measure(tabsnap, n) for n in TABLETS]
    print("| tablets (files) | backup s / MiB | restore s / MiB | verify s / MiB | largest manifest | largest index |")
    print("|---|---|---|---|---|---|")
    for r in rows:
        cell = lambda k: f"{r[k]['wall_s']:.1f} / {r[k]['rss_mib']:.0f}"  # noqa: E731
        print(
            f"| {r['tablets']:,} ({r['files']:,}) | {cell('backup')} | {cell('restore')} | {cell('verify')} "
            f"| {r['largest']['snapshots'] / 2**20:.1f} MiB | {r['largest']['index'] / 2**20:.1f} MiB |"
        )
    if args.json:
        for r in rows:
            print(json.dumps(r))


if __name__ == "__main__":
    main()
