#!/usr/bin/env python3
"""Runs tabsnap and the tools an operator would pick instead on the same data, in one run, alternating the tools
run by run, and prints a Markdown table (and JSON lines with --json).

  benches/compare/run.sh                                   # TPC-H tablet dataset (make_dataset.sh), cached in ROOT
  ROOT=/data/ds benches/compare/run.sh                     # a cache make_dataset.sh built before (data/, small/)
  DATASET=/data/ds benches/compare/run.sh --json           # the same, naming the dataset directory itself
  DATASET=synthetic benches/compare/run.sh                 # a small synthetic tree, no download
  benches/compare/run.sh --tabsnap base=/path/to/older/tabsnap   # an extra tabsnap binary as another tool

For each tree (data/: 2 GiB of Parquet and text in 224 tablets; small/: 50,000 files of 1-16 KiB):
  full backup         tabsnap | `tar -cf - | zstd -T<cores> -<LEVEL> -o FILE && sync FILE` | restic (new repository)
  unchanged re-backup tabsnap | tar --listed-incremental level 1 through zstd | restic (parent snapshot)
  5%-changed backup   the same, after 5% of the files (by count, seeded: the same files in every run of the whole
                      script) get new bytes of the same size and kind; every run changes another 5%
  restore             tabsnap (durable: fsyncs) | `zstd -d | tar -x && sync -f` | restic restore && sync -f
and, in the same rounds, the machine's ceilings: `tar -cf - | zstd -T<cores> -<LEVEL> >/dev/null` from the page
cache (compression), `zstd -d >/dev/null` (decompression), `dd bs=1M count=2048 conv=fsync` (disk writes) and
one `tar -x` per core of uncompressed shares of the tree, then `sync -f` (file creation: the floor of a restore).

Figures: whole-process wall time, user and system CPU seconds of the process and all its children, and peak
RSS of the largest process (GNU time); medians of RUNS runs (RSS: the largest of the runs). Trees are read from
the page cache (hot, as baseline.md's reference figures), unless COLD=1 drops it before every timed command.
Every tool works on a copy of the tree under WORK, which is removed at the end.

Environment: ROOT (dataset cache, default /tmp/tabsnap-compare), DATASET (tpch | synthetic | a directory holding
data/ and small/), WORK (scratch, default ROOT-work), RUNS (3), RESTIC_RUNS (RUNS), LEVEL (3), SETS (data,small),
COLD (0), TABSNAP (the binary; run.sh builds it)."""
import argparse
import datetime
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.environ.get("ROOT", "/tmp/tabsnap-compare").rstrip("/")
DATASET = os.environ.get("DATASET", "tpch")
WORK = os.environ.get("WORK", ROOT + "-work")
RUNS = int(os.environ.get("RUNS", "3"))
RESTIC_RUNS = int(os.environ.get("RESTIC_RUNS", str(RUNS)))
LEVEL = os.environ.get("LEVEL", "3")
SETS = os.environ.get("SETS", "data,small").split(",")
COLD = os.environ.get("COLD", "0") == "1"
CORES = os.cpu_count() or 2
DISK_CEILING_MIB = 2048
CHANGED = 0.05

# Goals: (set, what, ratio that must be reached, "min" or "max").
GOALS = [
    ("data", "full backup vs tar|zstd", 1.25, "min"),
    ("data", "full backup vs restic", 2.0, "min"),
    ("small", "full backup vs tar|zstd", 3.0, "min"),
    ("small", "full backup vs restic", 10.0, "min"),
    ("small", "stored vs zstd-3 of the tar stream", 1.05, "max"),
    ("data", "restore vs zstd -d|tar -x && sync", 2.0, "min"),
    ("small", "restore vs zstd -d|tar -x && sync", 2.0, "min"),
    ("*", "peak RSS MiB", 128, "max"),
]


def sh(cmd, **kw):
    return subprocess.run(cmd, shell=True, check=True, **kw)


def loadavg():
    with open("/proc/loadavg") as f:
        return float(f.read().split()[0])


def drop_caches():
    try:
        sh("sync")
        with open("/proc/sys/vm/drop_caches", "w") as f:
            f.write("3")
    except OSError:
        pass


def timed(cmd, env=None):
    """Wall, user and system seconds and peak RSS (MiB) of a shell command and its children."""
    with tempfile.NamedTemporaryFile("r", suffix=".time") as tf:
        t = time.monotonic()
        p = subprocess.run(
            ["/usr/bin/time", "-o", tf.name, "-f", "%U %S %M", "bash", "-c", "set -o pipefail; " + cmd],
            env=env,
            capture_output=True,
            text=True,
        )
        wall = time.monotonic() - t
        if p.returncode != 0:
            sys.exit(f"failed ({p.returncode}): {cmd}\n{p.stdout[-2000:]}\n{p.stderr[-2000:]}")
        user, sys_s, rss = tf.read().strip().splitlines()[-1].split()
    return {"wall": wall, "user": float(user), "sys": float(sys_s), "rss_mib": int(rss) / 1024}


def tree_stats(d):
    n = b = 0
    for dp, _, fs in os.walk(d):
        for f in fs:
            n += 1
            b += os.path.getsize(os.path.join(dp, f))
    return n, b


def slug(name):
    return "".join(c if c.isalnum() else "-" for c in name)


def size_of(p):
    return os.path.getsize(p) if os.path.isfile(p) else tree_stats(p)[1]


def rm(*paths):
    for p in paths:
        if os.path.isdir(p) and not os.path.islink(p):
            shutil.rmtree(p)
        elif os.path.lexists(p):
            os.remove(p)


def synthetic(root):
    """A tablet tree: big files (text that compresses ~3x, and near-incompressible bytes) and many small files."""
    rng = random.Random(20261123)
    big, small = os.path.join(root, "data"), os.path.join(root, "small")
    if os.path.exists(os.path.join(root, ".done")):
        return big, small
    shutil.rmtree(root, ignore_errors=True)
    words = [b"%d|%d|%08d|O|comment %d\n" % (i, i * 7 % 5000, i * 13 % 10**6, i % 97) for i in range(20000)]

    def text(n):
        out = bytearray()
        while len(out) < n:
            out += rng.choice(words)
        return bytes(out[:n])

    for t in range(int(os.environ.get("TABLETS", "96"))):
        d = os.path.join(big, str(t % 8), str(10000 + t), "1234567")
        os.makedirs(d)
        for s in range(2):
            size = int(2 ** rng.uniform(16, 24))
            data = text(size) if t % 3 == 0 else rng.randbytes(size // 2) + text(size - size // 2)
            with open(os.path.join(d, f"0200000000000000{t:016x}_{s}.dat"), "wb") as f:
                f.write(data)
    for t in range(int(os.environ.get("SMALL_TABLETS", "2000"))):
        d = os.path.join(small, str(t % 8), str(20000 + t), "7654321")
        os.makedirs(d)
        for s in range(10):
            size = int(2 ** rng.uniform(10, 14))
            with open(os.path.join(d, f"{s}.dat"), "wb") as f:
                f.write(text(size) if rng.random() < 0.3 else rng.randbytes(size // 3) + text(size - size // 3))
    open(os.path.join(root, ".done"), "w").close()
    return big, small


def dataset():
    """The directories holding the data/ and small/ trees."""
    if DATASET == "synthetic":
        return synthetic(os.path.join(ROOT, "synthetic"))
    if DATASET == "tpch":
        root = ROOT
        ready = all(os.path.exists(os.path.join(root, p)) for p in ("manifest.tsv", "data", "small"))
        if not ready:
            os.makedirs(root, exist_ok=True)
            sh(f"ROOT={root} bash {HERE}/make_dataset.sh")
    else:
        root = DATASET
    big, small = os.path.join(root, "data"), os.path.join(root, "small")
    for d in (big, small):
        if not os.path.isdir(d):
            sys.exit(f"no dataset tree at {d}")
    return big, small


def mutate(tree, run):
    """Gives 5% of the files (by count; which ones depends on the seed and `run` only) new bytes of the same size
    and kind: the file's own bytes rotated by a seeded offset, so nothing is shared with what was stored before
    at a chunk boundary, and the bytes compress as the originals did. Returns (files, bytes) changed."""
    files = sorted(os.path.join(dp, f) for dp, _, fs in os.walk(tree) for f in fs)
    rng = random.Random(20261201 + run)
    changed = 0
    pick = rng.sample(files, max(1, round(len(files) * CHANGED)))
    for p in pick:
        with open(p, "rb") as f:
            data = f.read()
        k = 1 + rng.randrange(max(1, len(data) - 1))
        with open(p, "wb") as f:
            f.write(data[k:] + data[:k])
        changed += len(data)
    sh("sync")
    return len(pick), changed


class Job:
    """One tool's timed command in a round: `cmd(run)` is the shell command, `setup(run)` runs untimed before it
    and `after(run)` untimed after it (returning extra figures, e.g. stored bytes)."""

    def __init__(self, tool, cmd, setup=None, after=None, env=None, runs=None, kind="tool"):
        self.tool, self.cmd, self.setup, self.after, self.env = tool, cmd, setup, after, env
        self.runs = RUNS if runs is None else runs
        self.kind = kind


class Results:
    def __init__(self):
        self.rows = {}  # (set, op, tool) -> {"kind", "runs": [..]}
        self.loads = []

    def rounds(self, tree, op, jobs, pre=None):
        """Runs `jobs` RUNS times, round-robin, starting each round one tool later than the last."""
        for r in range(RUNS):
            if pre:
                pre(r)
            order = jobs[r % len(jobs):] + jobs[: r % len(jobs)]
            for j in order:
                if r >= j.runs:
                    continue
                if j.setup:
                    j.setup(r)
                if COLD:
                    drop_caches()
                self.loads.append(loadavg())
                m = timed(j.cmd(r), j.env)
                if j.after:
                    m.update(j.after(r) or {})
                row = self.rows.setdefault((tree, op, j.tool), {"kind": j.kind, "runs": []})
                row["runs"].append(m)
                print(f"  {tree} {op} {j.tool} run {r + 1}: {m['wall']:.2f} s, {m['user']:.2f} u, "
                      f"{m['sys']:.2f} s, {m['rss_mib']:.0f} MiB", file=sys.stderr, flush=True)

    def get(self, tree, op, tool, key="wall"):
        row = self.rows.get((tree, op, tool))
        if not row:
            return None
        vals = [m[key] for m in row["runs"] if key in m]
        if not vals:
            return None
        return max(vals) if key == "rss_mib" else statistics.median(vals)


def run_set(res, tree_name, src, tabsnaps, have_restic, info):
    files, size = tree_stats(src)
    info[tree_name] = {"files": files, "bytes": size}
    work = os.path.join(WORK, tree_name)
    rm(work)
    os.makedirs(work)
    copy = os.path.join(work, "tree")
    print(f"{tree_name}: copying {files} files, {size / 1e6:.0f} MB to {copy}", file=sys.stderr, flush=True)
    sh(f"cp -a {src} {copy} && sync")
    # Read it once, so every tool finds it in the page cache alike.
    sh(f"tar -cf - -C {copy} . | cat >/dev/null")
    tarball, snar0 = os.path.join(work, "full.tar.zst"), os.path.join(work, "full.snar")
    out = os.path.join(work, "out")
    restic_repo = os.path.join(work, "restic")
    renv = dict(os.environ, RESTIC_PASSWORD="compare", RESTIC_REPOSITORY=restic_repo,
                RESTIC_CACHE_DIR=os.path.join(work, "restic-cache"))
    repos = {name: os.path.join(work, f"repo-{slug(name)}") for name in tabsnaps}

    def ts_backup(name, binary, label):
        return lambda r: (f"{binary} backup {repos[name]} {label(r)} --data {copy} --db tpch --depth 2 "
                          f"--zstd-level {LEVEL} --quiet >/dev/null")

    def stored(path):
        return lambda r: {"stored": size_of(path)}

    def restic_init(r):
        rm(restic_repo, renv["RESTIC_CACHE_DIR"])
        sh("restic init -q >/dev/null", env=renv)

    tar_cmd = f"tar -cf - -C {copy} ."
    zstd_out = f"zstd -q -T{CORES} -{LEVEL}"
    dd_file = os.path.join(work, "dd.bin")

    # Full backups, and the compression and disk ceilings.
    jobs = [Job(name, ts_backup(name, b, lambda r: "full"), setup=lambda r, n=name: rm(repos[n]),
                after=stored(repos[name]), kind="tabsnap") for name, b in tabsnaps.items()]
    jobs.append(Job("tar|zstd", lambda r: f"{tar_cmd} | {zstd_out} -f -o {tarball} && sync {tarball}",
                    setup=lambda r: rm(tarball), after=stored(tarball)))
    if have_restic:
        jobs.append(Job("restic", lambda r: f"restic backup -q --compression auto {copy} >/dev/null",
                        setup=restic_init, after=stored(restic_repo), env=renv, runs=RESTIC_RUNS))
    jobs.append(Job("ceiling: zstd -3 from memory", lambda r: f"{tar_cmd} | {zstd_out} -c >/dev/null",
                    kind="ceiling"))
    jobs.append(Job("ceiling: dd 2 GiB conv=fsync",
                    lambda r: f"dd if=/dev/zero of={dd_file} bs=1M count={DISK_CEILING_MIB} conv=fsync status=none",
                    setup=lambda r: rm(dd_file), after=lambda r: rm(dd_file) or {"bytes": DISK_CEILING_MIB << 20},
                    kind="ceiling"))
    res.rounds(tree_name, "full backup", jobs)

    # Restore of the full backup. ext4 passes over inodes freed in the last 30 seconds when it allocates new ones
    # (recently_deleted()), so creating thousands of files right after deleting thousands costs seconds of system
    # time to whichever tool runs next: trees of many files keep every run's output until the rounds are over,
    # when the disk has room for them all.
    keep = files > 1000 and size * (len(tabsnaps) + 2) * RUNS < shutil.disk_usage(work).free // 2
    info[tree_name]["restore_outputs_kept"] = keep

    def out_for(tool, r):
        return os.path.join(work, f"out-{slug(tool)}-{r}") if keep else out

    def clear_out(tool):
        def setup(r):
            rm(out_for(tool, r))
            sh("sync")

        return setup

    jobs = [Job(name, lambda r, b=b, n=name: f"{b} restore {repos[n]} full --to {out_for(n, r)} --quiet >/dev/null",
                setup=clear_out(name), kind="tabsnap") for name, b in tabsnaps.items()]
    t = "zstd -d|tar -x && sync"
    jobs.append(Job(t, lambda r: f"mkdir -p {out_for(t, r)} && zstd -q -d -c {tarball} | tar -xf - -C "
                    f"{out_for(t, r)} && sync -f {out_for(t, r)}", setup=clear_out(t)))
    if have_restic:
        rt = "restic && sync"
        jobs.append(Job(rt, lambda r: f"restic restore -q latest --target {out_for(rt, r)} && sync -f {out_for(rt, r)}",
                        setup=clear_out(rt), env=renv, runs=RESTIC_RUNS))
    jobs.append(Job("ceiling: zstd -d to /dev/null", lambda r: f"zstd -q -d -c {tarball} >/dev/null", kind="ceiling"))
    # The file-creation ceiling: the tree's files written from uncompressed tars in the page cache by one `tar -x`
    # per core at once, then synced: what the kernel and the disk need for these inodes and bytes, with no
    # decompression and every core creating files.
    shares = [os.path.join(work, f"share-{i}.tar") for i in range(CORES)]
    sh(f"cd {copy} && find . -type f | split -n r/{CORES} -d -a 3 - {work}/share-list- && "
       + " && ".join(f"tar -cf {s} -C {copy} -T {work}/share-list-{i:03d}" for i, s in enumerate(shares))
       + " && cat " + " ".join(shares) + " >/dev/null")
    ct = "ceiling: parallel tar -x && sync"
    jobs.append(Job(ct, lambda r: f"mkdir -p {out_for(ct, r)} && ("
                    + " & ".join(f"tar -xf {s} -C {out_for(ct, r)}" for s in shares)
                    + f" & wait) && sync -f {out_for(ct, r)}", setup=clear_out(ct), kind="ceiling"))
    res.rounds(tree_name, "restore", jobs)
    rm(*shares)
    for j in jobs:
        for r in range(RUNS):
            rm(out_for(j.tool, r))
    sh("sync")

    # Re-backups: tar's level-1 incrementals start from a snapshot file of the full backup's state.
    sh(f"tar -g {snar0} -cf /dev/null -C {copy} .")
    snar = {"cur": snar0}
    inc_tar = os.path.join(work, "incr.tar.zst")

    def tar_incr(r, chain):
        nxt = os.path.join(work, f"{'chain' if chain else 'same'}-{r}.snar")
        shutil.copyfile(snar["cur"], nxt)
        if chain:
            snar["cur"] = nxt
        return f"tar -g {nxt} -cf - -C {copy} . | {zstd_out} -f -o {inc_tar} && sync {inc_tar}"

    for op, label, pre, chain in [("unchanged re-backup", "same", None, False),
                                  ("5%-changed re-backup", "changed", lambda r: info[tree_name].setdefault(
                                      "changed", []).append(mutate(copy, r)), True)]:
        jobs = [Job(name, ts_backup(name, b, lambda r, lb=label: f"{lb}{r}"), kind="tabsnap")
                for name, b in tabsnaps.items()]
        jobs.append(Job("tar -g|zstd", lambda r, c=chain: tar_incr(r, c), after=stored(inc_tar)))
        if have_restic:
            jobs.append(Job("restic", lambda r: f"restic backup -q --compression auto {copy} >/dev/null",
                            env=renv, runs=RESTIC_RUNS))
        res.rounds(tree_name, op, jobs, pre=pre)
    rm(work)


OPS = ["full backup", "unchanged re-backup", "5%-changed re-backup", "restore"]
PEER = {"full backup": ("tar|zstd", "restic"), "unchanged re-backup": ("tar -g|zstd", "restic"),
        "5%-changed re-backup": ("tar -g|zstd", "restic"), "restore": ("zstd -d|tar -x && sync", "restic && sync")}


def cell(text):
    """Text for a Markdown table cell: a pipe in a tool's name would end the cell."""
    return str(text).replace("|", "\\|")


def report(res, info, tabsnaps, have_restic, meta, as_json):
    primary = next(iter(tabsnaps))
    lines = []
    p = lines.append
    p(f"## tabsnap vs tar|zstd and restic ({meta['date']})")
    p("")
    p(f"{meta['cpu']}, {CORES} cores; zstd level {LEVEL}; median of {RUNS} alternating runs"
      + (f" ({RESTIC_RUNS} for restic)" if RESTIC_RUNS != RUNS else "")
      + f"; page cache {'dropped before each command' if COLD else 'hot'}; load average (1 min) "
      f"{meta['load_before']} before, {meta['load_after']} after, {meta['load_min']:.1f}-{meta['load_max']:.1f} "
      f"(median {meta['load_median']:.1f}) at the start of the timed commands. MB = 10^6 bytes. Tools: "
      + "; ".join(meta["versions"]) + ".")
    if not have_restic:
        p("")
        p("**restic is not installed here (and could not be installed): its rows are left out.**")
    for t in SETS:
        if t not in info:
            continue
        i = info[t]
        ch = i.get("changed") or []
        p("")
        p(f"- `{t}/`: {i['files']:,} files, {i['bytes']:,} B"
          + (f"; each 5%-changed run rewrites {ch[0][0]} files "
             f"({', '.join(f'{b / 1e6:.1f}' for _, b in ch)} MB)" if ch else ""))
    p("")
    p("wall: median (min-max) s; MB/s and files/s: the tree's bytes and files per wall second; user/sys: CPU "
      "seconds (medians); peak: largest RSS of any run; **tabsnap ×**: that row's wall / "
      f"`{primary}`'s wall (above 1: `{primary}` is faster).")
    p("")
    p("| tree | operation | tool | wall s | MB/s | files/s | user s | sys s | peak MiB | stored MB | tabsnap × |")
    p("|---|---|---|---|---|---|---|---|---|---|---|")
    for t in SETS:
        if t not in info:
            continue
        files, size = info[t]["files"], info[t]["bytes"]
        for op in OPS:
            base = res.get(t, op, primary)
            for (tt, o, tool), row in res.rows.items():
                if tt != t or o != op or row["kind"] == "ceiling":
                    continue
                w = [m["wall"] for m in row["runs"]]
                wall = statistics.median(w)
                st = res.get(t, op, tool, "stored")
                x = f"{wall / base:.2f}" if base and tool != primary else ""
                p(f"| {t} | {op} | {cell(tool)} | {wall:.2f} ({min(w):.2f}-{max(w):.2f}) | {size / 1e6 / wall:.0f} | "
                  f"{files / wall:,.0f} | {res.get(t, op, tool, 'user'):.2f} | {res.get(t, op, tool, 'sys'):.2f} | "
                  f"{res.get(t, op, tool, 'rss_mib'):.0f} | {f'{st / 1e6:,.1f}' if st else ''} | {x} |")
    p("")
    p("Ceilings, measured in the same rounds: compression = the tree's bytes / wall of `tar -cf - | zstd -T"
      f"{CORES} -{LEVEL} >/dev/null` from the page cache; decompression = the tree's bytes / wall of `zstd -d "
      ">/dev/null`; disk = 2 GiB / wall of `dd conv=fsync`; file creation = the tree's bytes / wall of one `tar -x` "
      f"per core ({CORES}) of uncompressed shares of the tree from the page cache, then `sync -f`. Share = tabsnap's rate / the ceiling's (backup: the "
      "tree's bytes per second against compression, stored bytes per second against the disk; restore: the "
      "tree's bytes per second against decompression and the disk).")
    p("")
    p("| tree | ceiling | MB/s | " + " | ".join(f"{n} share" for n in tabsnaps) + " |")
    p("|---|---|---|" + "---|" * len(tabsnaps))
    ceilings = []
    for t in SETS:
        if t not in info:
            continue
        size = info[t]["bytes"]
        comp = res.get(t, "full backup", "ceiling: zstd -3 from memory")
        disk = res.get(t, "full backup", "ceiling: dd 2 GiB conv=fsync")
        dec = res.get(t, "restore", "ceiling: zstd -d to /dev/null")
        rows = []
        if comp:
            rows.append(("compression (backup)", size / comp,
                         {n: size / res.get(t, "full backup", n) for n in tabsnaps}))
        if disk:
            rows.append(("disk write (backup: stored bytes)", (DISK_CEILING_MIB << 20) / disk,
                         {n: res.get(t, "full backup", n, "stored") / res.get(t, "full backup", n) for n in tabsnaps}))
            rows.append(("disk write (restore)", (DISK_CEILING_MIB << 20) / disk,
                         {n: size / res.get(t, "restore", n) for n in tabsnaps}))
        if dec:
            rows.append(("decompression (restore)", size / dec, {n: size / res.get(t, "restore", n) for n in tabsnaps}))
        create = res.get(t, "restore", "ceiling: parallel tar -x && sync")
        if create:
            rows.append(("file creation (restore)", size / create,
                         {n: size / res.get(t, "restore", n) for n in tabsnaps}))
        for what, rate, mine in rows:
            p(f"| {t} | {what} | {rate / 1e6:.0f} | " + " | ".join(f"{mine[n] / rate:.2f}" for n in tabsnaps) + " |")
            ceilings.append({"tree": t, "ceiling": what, "mb_s": rate / 1e6,
                             "share": {n: mine[n] / rate for n in tabsnaps}})
    p("")
    p("Goals (speed: the other tool's median wall / tabsnap's, met or missed on wall; in brackets the same ratio "
      "of user+sys CPU seconds, steadier on a shared machine; stored: tabsnap's stored bytes / the `tar | zstd -"
      f"{LEVEL}` file's; peak RSS over every tabsnap command):")
    p("")
    p("| tree | goal | target | " + " | ".join(tabsnaps) + " |")
    p("|---|---|---|" + "---|" * len(tabsnaps))
    goals = []

    def cpu(t, op, tool):
        u, sy = res.get(t, op, tool, "user"), res.get(t, op, tool, "sys")
        return u + sy if u is not None and sy is not None else None

    def ratio(a, b):
        return b / a if a and b else None

    for t, what, target, sense in GOALS:
        vals, cpus = {}, {}
        for n in tabsnaps:
            v = c = None
            if what.startswith("full backup vs ") or what.startswith("restore vs "):
                op = "full backup" if what.startswith("full") else "restore"
                other = {"tar|zstd": "tar|zstd", "restic": "restic"}.get(what.split(" vs ")[1], "zstd -d|tar -x && sync")
                v = ratio(res.get(t, op, n), res.get(t, op, other))
                c = ratio(cpu(t, op, n), cpu(t, op, other))
            elif what.startswith("stored vs "):
                a, b = res.get(t, "full backup", n, "stored"), res.get(t, "full backup", "tar|zstd", "stored")
                v = a / b if a and b else None
            elif what == "peak RSS MiB":
                rs = [res.get(tt, op, n, "rss_mib") for tt in SETS for op in OPS]
                rs = [r for r in rs if r is not None]
                v = max(rs) if rs else None
            vals[n], cpus[n] = v, c
        if all(v is None for v in vals.values()):
            continue
        cells = []
        for n in tabsnaps:
            v = vals[n]
            if v is None:
                cells.append("n/a")
                continue
            ok = v >= target if sense == "min" else v <= target
            extra = f" (CPU {cpus[n]:.2f})" if cpus[n] is not None else ""
            shown = f"{v:.0f}" if what == "peak RSS MiB" else f"{v:.3f}"
            cells.append(f"{shown}{extra} {'met' if ok else '**missed**'}")
        p(f"| {t} | {cell(what)} | {'≥' if sense == 'min' else '≤'} {target} | " + " | ".join(cells) + " |")
        goals.append({"tree": t, "goal": what, "target": target, "sense": sense, "value": vals, "cpu_ratio": cpus})
    print("\n".join(lines))
    if as_json:
        print()
        print(json.dumps({"type": "meta", **meta, "runs": RUNS, "restic_runs": RESTIC_RUNS, "level": LEVEL,
                          "cores": CORES, "cold": COLD, "trees": info}))
        for (t, op, tool), row in res.rows.items():
            med = {k: res.get(t, op, tool, k) for k in ("wall", "user", "sys", "rss_mib", "stored")}
            print(json.dumps({"type": "result", "tree": t, "op": op, "tool": tool, "kind": row["kind"],
                              "median": med, "runs": row["runs"]}))
        for c in ceilings:
            print(json.dumps({"type": "ceiling", **c}))
        for g in goals:
            print(json.dumps({"type": "goal", **g}))


def render(path, as_json):
    """Prints the report again from the JSON lines an earlier run printed (with this version's formatting)."""
    global RUNS, RESTIC_RUNS, LEVEL, CORES, COLD
    res, meta = Results(), None
    with open(path) as f:
        for ln in f:
            if not ln.startswith("{"):
                continue
            d = json.loads(ln)
            if d["type"] == "meta":
                meta = d
            elif d["type"] == "result":
                res.rows[(d["tree"], d["op"], d["tool"])] = {"kind": d["kind"], "runs": d["runs"]}
    if meta is None:
        sys.exit(f"no JSON lines from a run in {path}")
    RUNS, RESTIC_RUNS, LEVEL, CORES, COLD = meta["runs"], meta["restic_runs"], meta["level"], meta["cores"], meta["cold"]
    have_restic = any(tool.startswith("restic") for (_, _, tool) in res.rows)
    report(res, meta["trees"], meta["tabsnap"], have_restic, meta, as_json)


def version(cmd):
    try:
        return subprocess.run(cmd, shell=True, capture_output=True, text=True).stdout.splitlines()[0].strip()
    except (IndexError, OSError):
        return "?"


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--json", action="store_true", help="also print JSON lines after the table")
    ap.add_argument("--tabsnap", action="append", default=[], metavar="NAME=PATH",
                    help="another tabsnap binary to compare, as its own tool (repeatable)")
    ap.add_argument("--render", metavar="FILE", help="print the table again from the JSON lines of an earlier run")
    args = ap.parse_args()
    if args.render:
        return render(args.render, args.json)
    tabsnaps = {"tabsnap": os.environ.get("TABSNAP") or shutil.which("tabsnap")}
    if not tabsnaps["tabsnap"]:
        sys.exit("set TABSNAP to the tabsnap binary (run.sh builds it)")
    for spec in args.tabsnap:
        name, _, path = spec.partition("=")
        if not path:
            sys.exit(f"--tabsnap wants NAME=PATH, got {spec}")
        tabsnaps[f"tabsnap ({name})"] = path
    big, small = dataset()
    have_restic = shutil.which("restic") is not None
    if not have_restic:
        subprocess.run("apt-get install -y -qq restic >/dev/null 2>&1", shell=True)
        have_restic = shutil.which("restic") is not None
    if not have_restic:
        print("restic is not installed and could not be installed: its runs are skipped", file=sys.stderr)
    with open("/proc/cpuinfo") as f:
        cpu = next((ln.split(":", 1)[1].strip() for ln in f if ln.startswith("model name")), "?")
    meta = {"date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"), "cpu": cpu,
            "load_before": open("/proc/loadavg").read().split()[:3], "tabsnap": tabsnaps,
            "versions": [f"{n}: {version(b + ' --version')} ({b})" for n, b in tabsnaps.items()]
            + [version("zstd --version").strip("* "), version("tar --version")]
            + ([version("restic version")] if have_restic else [])}
    res, info = Results(), {}
    os.makedirs(WORK, exist_ok=True)
    try:
        for name, src in (("data", big), ("small", small)):
            if name in SETS:
                run_set(res, name, src, tabsnaps, have_restic, info)
    finally:
        rm(WORK)
    meta["load_after"] = open("/proc/loadavg").read().split()[:3]
    meta["load_before"] = " ".join(meta["load_before"])
    meta["load_after"] = " ".join(meta["load_after"])
    meta["load_min"], meta["load_max"] = min(res.loads), max(res.loads)
    meta["load_median"] = statistics.median(res.loads)
    report(res, info, tabsnaps, have_restic, meta, args.json)


if __name__ == "__main__":
    main()
