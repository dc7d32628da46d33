#!/usr/bin/env python3
"""Time and peak memory of backup, restore and verify as the number of tablets grows, through the `tabsnap` CLI;
with --check, the same run checks the results too (the scale test scripts/test-all.sh runs at 300,000 tablets).

  benches/scale/run.sh                                  # 100k and 300k tablets
  ROOT=/data/scale TABLETS=100000,300000,1000000 benches/scale/run.sh   # up to a million (see "Where" below)
  ROOT=/data/scale benches/scale/run.sh --json          # trees cached under ROOT; JSON lines after the table
  TABLETS=300000 benches/scale/run.sh --check           # the suite's scale test: exits 1 naming what failed

Each tablet of the generated database holds two tiny files (a segment of 85 bytes and a header of 16, distinct
in every tablet, so nothing deduplicates), spread over 100 partitions of one table: the shape that makes a big
cluster's backup heavy in metadata rather than in bytes (Doris caps a job at 300,000 tablets). The tree is
written by one process per core, straight through os.mkdir/os.open/os.write relative to each partition's
directory (300,000 tablets: about 900,000 inodes).

Per size: `tabsnap backup REPO scale --data DATA --db scale` into a new repository, `tabsnap restore REPO scale
latest --to OUT`, `tabsnap verify REPO --json`; wall time, user and system CPU seconds and peak RSS of each
process (from wait4), and the largest metadata object of each kind the repository holds (manifests under
snapshots/, their pages under trees/, indexes under index/). The
repository and the restored tree are removed after each size, whatever happened.

--check also fails (exit status 1, a line `scale check FAILED at N tablets: <what>` on standard error) unless
every command exits 0 within CHECK_TIMEOUT_S seconds each (default 900), the restored tree holds exactly the
generated partitions, tablets and files (N tablets, 2N files), every 997th tablet's files are byte-for-byte the
source's, and verify reports ok with no problem.

Where: under ROOT when it is given, where generated trees are cached (a marker file says a tree is complete) and
the scratch lives; without ROOT, in a temporary directory, removed at the end, in /dev/shm when that tmpfs has
room for two trees (300,000 tablets: about 5 GiB of memory and 1.8 million of its inodes; then the figures leave
the disk out) and else in TMPDIR (default /tmp). On an ext4 disk a 300,000-tablet tree takes 3.5 GiB of 4 KiB
blocks and its restored copy as much again, a million about 12 GiB each and 6 million inodes in all; removing the
restored copy takes minutes where the filesystem is mounted with `discard` (every freed block is discarded
synchronously: 300,000 tablets, about 5 minutes on a 2-core VM), so give ROOT for a million.

Environment: ROOT (cache of generated trees, and scratch; default a temporary directory), TABLETS
(comma-separated counts, default 100000,300000, with --check 300000), TABSNAP (the binary; run.sh builds it),
CHECK_TIMEOUT_S (per-command limit with --check, default 900)."""
import argparse
import json
import multiprocessing
import os
import subprocess
import sys
import tempfile
import threading
import time

PARTITIONS = 100
FIRST_TABLET = 10_000_000
SAMPLE_EVERY = 997
CORES = os.cpu_count() or 2


class CheckFailed(Exception):
    """What went wrong, in one message that names the step."""


# ---------------------------------------------------------------------------------------------------------------
# The generated tree: DATA/scale/events/p<NNN>/<tablet>/{<tablet>_0.dat,<tablet>.hdr}, tablets numbered from
# FIRST_TABLET, partition p holding tablets [p*per, min((p+1)*per, n)) with per = ceil(n / PARTITIONS).


def partition_range(n: int, p: int) -> range:
    per = (n + PARTITIONS - 1) // PARTITIONS
    return range(FIRST_TABLET + min(p * per, n), FIRST_TABLET + min((p + 1) * per, n))


def tablet_files(tablet: int) -> dict:
    """The files of one tablet: name -> bytes."""
    return {f"{tablet}_0.dat": b"segment %d\n" % tablet * 5, f"{tablet}.hdr": b"header %d\n" % tablet}


def _write_partition(job: tuple) -> int:
    table, n, p = job
    if not partition_range(n, p):
        return 0
    pdir = f"{table}/p{p:03}"
    os.mkdir(pdir)
    pfd = os.open(pdir, os.O_RDONLY | os.O_DIRECTORY)
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC
    mkdir, open_, write, close = os.mkdir, os.open, os.write, os.close
    made = 0
    try:
        for tablet in partition_range(n, p):
            name = str(tablet)
            mkdir(name, 0o755, dir_fd=pfd)
            fd = open_(f"{name}/{name}_0.dat", flags, 0o644, dir_fd=pfd)
            write(fd, b"segment %d\n" % tablet * 5)
            close(fd)
            fd = open_(f"{name}/{name}.hdr", flags, 0o644, dir_fd=pfd)
            write(fd, b"header %d\n" % tablet)
            close(fd)
            made += 1
    finally:
        close(pfd)
    return made


def remove_tree(path: str) -> None:
    """Removes path: the first level of its subdirectories (up to 4 down) that holds at least 16 of them (a table's
    partitions) is shared out to 8 `rm -rf` processes at once, then the rest. `rm`, 5 times faster than
    shutil.rmtree on a tmpfs; 8 at once because on a disk removing is mostly waiting (on a filesystem mounted with
    `discard`, every freed block is a synchronous discard)."""
    if not os.path.lexists(path):
        return
    level = [path]
    for _ in range(4):
        below = sorted(e.path for d in level for e in os.scandir(d) if e.is_dir(follow_symlinks=False))
        if not below:
            break
        level = below
        if len(level) >= 16:
            for proc in [subprocess.Popen(["rm", "-rf", "--"] + level[i::8]) for i in range(8)]:
                proc.wait()
            break
    subprocess.run(["rm", "-rf", "--", path], check=False)


def generate(root: str, n: int, pool) -> tuple:
    """The data directory of an n-tablet database (made unless a complete one is cached) and the seconds spent
    making it (None: cached)."""
    data = f"{root}/tablets-{n}"
    done = f"{data}/.complete"
    if os.path.exists(done):
        return data, None
    start = time.perf_counter()
    remove_tree(data)
    table = f"{data}/scale/events"
    os.makedirs(table)
    made = sum(pool.map(_write_partition, [(table, n, p) for p in range(PARTITIONS)], chunksize=1))
    if made != n:
        raise CheckFailed(f"generation wrote {made} tablets, not {n}")
    open(done, "w").close()
    return data, time.perf_counter() - start


def shm_with_room(n: int):
    """/dev/shm when it is a tmpfs with room for two n-tablet trees (the source and the restored copy: a page and
    an inode per file, an inode per directory) and the repository, in free space, free inodes and available
    memory; else None (tempfile's default, TMPDIR or /tmp)."""
    try:
        with open("/proc/mounts") as f:
            if not any(line.split()[1:3] == ["/dev/shm", "tmpfs"] for line in f):
                return None
        with open("/proc/meminfo") as f:
            available = next(int(line.split()[1]) * 1024 for line in f if line.startswith("MemAvailable:"))
        st = os.statvfs("/dev/shm")
    except (OSError, StopIteration, ValueError, IndexError):
        return None
    need_bytes = 2 * n * 2 * 4096 + n * 1000 + (4 << 30)  # the trees' pages, the repository, and room to run
    need_inodes = 2 * 3 * n + 10_000
    if st.f_bavail * st.f_frsize >= need_bytes and st.f_favail >= need_inodes and available >= need_bytes:
        return "/dev/shm"
    return None


# ---------------------------------------------------------------------------------------------------------------
# Running tabsnap.


def run(step: str, cmd: list, scratch: str, timeout) -> dict:
    """Runs cmd (its output into files under scratch); wall seconds, user and system CPU seconds and peak RSS (MiB)
    of the process, and its standard output."""
    out_path, err_path = f"{scratch}/{step}.out", f"{scratch}/{step}.err"
    with open(out_path, "wb") as out, open(err_path, "wb") as err:
        start = time.perf_counter()
        proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=out, stderr=err)
        timer = threading.Timer(timeout, proc.kill) if timeout else None
        if timer:
            timer.start()
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - start
        if timer:
            timer.cancel()
    proc.returncode = os.waitstatus_to_exitcode(status)
    with open(out_path, errors="replace") as f:
        stdout = f.read()
    with open(err_path, errors="replace") as f:
        stderr = f.read()
    if proc.returncode != 0:
        why = f"killed after {timeout} s" if timeout and wall >= timeout else f"exit status {proc.returncode}"
        tail = (stdout.strip()[-2000:] + "\n" + stderr.strip()[-4000:]).strip()
        raise CheckFailed(f"{step} failed ({why}, {wall:.1f} s): {' '.join(cmd)}\n{tail}")
    return {
        "wall_s": wall,
        "user_s": usage.ru_utime,
        "sys_s": usage.ru_stime,
        "rss_mib": usage.ru_maxrss / 1024,
        "stdout": stdout,
    }


def size(n: int) -> str:
    """n bytes, in KiB below a MiB, else in MiB."""
    return f"{n / 2**10:.1f} KiB" if n < 2**20 else f"{n / 2**20:.2f} MiB"


def largest_object(repo: str) -> dict:
    """The largest object under snapshots/ (manifests), trees/ (their pages) and index/, in bytes."""
    out = {}
    for prefix in ("snapshots", "trees", "index"):
        sizes = [
            os.path.getsize(os.path.join(d, f)) for d, _, files in os.walk(f"{repo}/{prefix}") for f in files
        ]
        out[prefix] = max(sizes, default=0)
    return out


# ---------------------------------------------------------------------------------------------------------------
# The checks of --check.


def check_restored(data: str, out: str, n: int) -> dict:
    """The restored tree holds exactly the generated partitions, tablets and files; every SAMPLE_EVERY-th tablet's
    files are byte-for-byte the source's. Returns what was counted."""
    if sorted(os.listdir(out)) != ["scale"]:
        raise CheckFailed(f"restore: {out} holds {sorted(os.listdir(out))[:10]}, not just the database `scale`")
    if sorted(os.listdir(f"{out}/scale")) != ["events"]:
        raise CheckFailed(f"restore: {out}/scale holds {sorted(os.listdir(f'{out}/scale'))[:10]}, not just `events`")
    table = f"{out}/scale/events"
    want_parts = sorted(f"p{p:03}" for p in range(PARTITIONS) if partition_range(n, p))
    got_parts = sorted(os.listdir(table))
    if got_parts != want_parts:
        missing, extra = sorted(set(want_parts) - set(got_parts)), sorted(set(got_parts) - set(want_parts))
        raise CheckFailed(f"restore: partitions differ: missing {missing[:10]}, unexpected {extra[:10]}")
    tablets = files = sampled = 0
    for p in range(PARTITIONS):
        want = partition_range(n, p)
        if not want:
            continue
        pdir = f"{table}/p{p:03}"
        got = os.listdir(pdir)
        if len(got) != len(want) or set(got) != {str(t) for t in want}:
            missing = sorted({str(t) for t in want} - set(got))
            extra = sorted(set(got) - {str(t) for t in want})
            raise CheckFailed(
                f"restore: {pdir} holds {len(got)} tablets, not {len(want)}: missing {missing[:5]}, "
                f"unexpected {extra[:5]}"
            )
        for tablet in want:
            names = os.listdir(f"{pdir}/{tablet}")
            expected = tablet_files(tablet)
            if len(names) != 2 or set(names) != set(expected):
                raise CheckFailed(f"restore: {pdir}/{tablet} holds {sorted(names)}, not {sorted(expected)}")
            tablets += 1
            files += len(names)
            if (tablet - FIRST_TABLET) % SAMPLE_EVERY == 0:
                for name, body in expected.items():
                    src = f"{data}/scale/events/p{p:03}/{tablet}/{name}"
                    with open(src, "rb") as f:
                        source = f.read()
                    if source != body:
                        raise CheckFailed(f"generated tree: {src} is not what the generator writes (stale cache?)")
                    with open(f"{pdir}/{tablet}/{name}", "rb") as f:
                        restored = f.read()
                    if restored != source:
                        raise CheckFailed(
                            f"restore: {pdir}/{tablet}/{name} differs from the source ({len(restored)} bytes "
                            f"restored, {len(source)} in the source)"
                        )
                sampled += 1
    if tablets != n or files != 2 * n:
        raise CheckFailed(f"restore: {tablets} tablets and {files} files restored, not {n} and {2 * n}")
    return {"tablets": tablets, "files": files, "sampled_tablets": sampled}


def check_verify(stdout: str) -> dict:
    """`tabsnap verify --json` said ok, with no problem, about one snapshot."""
    try:
        report = json.loads(stdout.strip().splitlines()[-1])
    except (ValueError, IndexError):
        raise CheckFailed(f"verify: its output is not a JSON report: {stdout[-2000:]!r}") from None
    if report.get("ok") is not True or report.get("problems"):
        raise CheckFailed(f"verify: reports problems: {json.dumps(report)[:4000]}")
    if report.get("snapshots") != 1:
        raise CheckFailed(f"verify: checked {report.get('snapshots')} snapshots, not 1: {json.dumps(report)}")
    return {k: report.get(k) for k in ("snapshots", "packs", "chunks")}


# ---------------------------------------------------------------------------------------------------------------


def log(msg: str) -> None:
    print(msg, flush=True)


def measure(tabsnap: str, root: str, n: int, check: bool, timeout, cache: bool, pool) -> dict:
    """One size: generate (or reuse), backup, restore, verify, [check]; the scratch (and an uncached tree) removed
    whatever happened."""
    data = f"{root}/tablets-{n}"
    scratch = tempfile.mkdtemp(prefix=f"run-{n}-", dir=root)
    repo, out = f"{scratch}/repo", f"{scratch}/out"
    row = {"tablets": n, "files": 2 * n}
    try:
        data, row["generate_s"] = generate(root, n, pool)
        log(f"{n:,} tablets: " + ("cached tree" if row["generate_s"] is None else f"generated in {row['generate_s']:.1f} s"))
        steps = {
            "backup": [tabsnap, "backup", repo, "scale", "--data", data, "--db", "scale", "--quiet"],
            "restore": [tabsnap, "restore", repo, "scale", "latest", "--to", out, "--quiet"],
            "verify": [tabsnap, "verify", repo, "--json"],
        }
        for step, cmd in steps.items():
            row[step] = run(step, cmd, scratch, timeout)
            log(f"  {step}: {row[step]['wall_s']:.1f} s, peak RSS {row[step]['rss_mib']:.0f} MiB")
        row["largest"] = largest_object(repo)
        if check:
            start = time.perf_counter()
            row["restored"] = check_restored(data, out, n)
            row["verified"] = check_verify(row["verify"]["stdout"])
            row["check_s"] = time.perf_counter() - start
            log(f"  checked in {row['check_s']:.1f} s")
    finally:
        start = time.perf_counter()
        remove_tree(out)
        remove_tree(scratch)
        if not cache:
            remove_tree(data)
        row["cleanup_s"] = time.perf_counter() - start
    for step in ("backup", "restore", "verify"):
        row[step].pop("stdout", None)
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--json", action="store_true", help="print one JSON line per size after the table")
    parser.add_argument("--check", action="store_true", help="also check the results; exit 1 naming what failed")
    args = parser.parse_args()
    tabsnap = os.environ.get("TABSNAP")
    if not tabsnap:
        sys.exit("TABSNAP must name the tabsnap binary (run.sh builds it)")
    tabsnap = os.path.abspath(tabsnap)
    default = "300000" if args.check else "100000,300000"
    tablets = [int(n) for n in os.environ.get("TABLETS", default).split(",") if n]
    timeout = float(os.environ.get("CHECK_TIMEOUT_S", "900")) if args.check else None
    given = os.environ.get("ROOT", "").rstrip("/")
    if given:
        os.makedirs(given, exist_ok=True)
        root = os.path.abspath(given)
    else:
        root = tempfile.mkdtemp(prefix="tabsnap-scale-", dir=shm_with_room(max(tablets)))
    print(f"working in {root}{'' if given else ' (removed at the end)'}", flush=True)
    started = time.perf_counter()
    rows, failed = [], None
    with multiprocessing.get_context("fork").Pool(CORES) as pool:
        try:
            for n in tablets:
                try:
                    rows.append(measure(tabsnap, root, n, args.check, timeout, bool(given), pool))
                except CheckFailed as e:
                    failed = f"scale {'check' if args.check else 'run'} FAILED at {n:,} tablets: {e}"
                    break
        finally:
            if not given:
                remove_tree(root)
    if rows:
        print("| tablets (files) | backup s / MiB | restore s / MiB | verify s / MiB | largest manifest | largest page "
              "| largest index |")
        print("|---|---|---|---|---|---|---|")
    for r in rows:
        cell = lambda k: f"{r[k]['wall_s']:.1f} / {r[k]['rss_mib']:.0f}"  # noqa: E731
        print(
            f"| {r['tablets']:,} ({r['files']:,}) | {cell('backup')} | {cell('restore')} | {cell('verify')} "
            f"| {size(r['largest']['snapshots'])} | {size(r['largest']['trees'])} | {size(r['largest']['index'])} |"
        )
    for r in rows:
        made = "cached tree" if r["generate_s"] is None else f"generated in {r['generate_s']:.1f} s"
        line = f"{r['tablets']:,} tablets: {made}, removed in {r['cleanup_s']:.1f} s"
        if args.check:
            c, v = r["restored"], r["verified"]
            line += (
                f"; checked in {r['check_s']:.1f} s: {c['tablets']:,} tablets and {c['files']:,} files restored, "
                f"{c['sampled_tablets']} sampled tablets byte-for-byte the source's, verify ok "
                f"({v['packs']} packs, {v['chunks']} chunks)"
            )
        print(line)
    if args.json:
        for r in rows:
            print(json.dumps(r))
    if failed:
        print(failed, file=sys.stderr)
        sys.exit(1)
    total = time.perf_counter() - started
    if args.check:
        print(f"scale check passed ({', '.join(f'{n:,}' for n in tablets)} tablets) in {total:.1f} s")
    else:
        print(f"done in {total:.1f} s")


if __name__ == "__main__":
    main()
