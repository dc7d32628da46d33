#!/usr/bin/env python3
"""Runs tabsnap and the tools an operator would pick instead on the same data, in one run, and prints
throughput, files/s, peak RSS, stored size and ratios (medians of RUNS runs).

  benches/compare/run.sh                      # synthetic tablet tree (~1 minute of data generation)
  DATASET=tpch benches/compare/run.sh         # the TPC-H tablet dataset (make_dataset.sh, ~10 minutes)

Tools: tabsnap backup/restore, `tar | zstd -T<cores> -<level>` and `zstd -d | tar -x`, and restic (installed
from the OS packages when missing and possible). Every tool runs at zstd level LEVEL (default 3)."""
import os, random, shutil, statistics, subprocess, sys, time

ROOT = os.environ.get("ROOT", "/tmp/tabsnap-compare")
RUNS = int(os.environ.get("RUNS", "3"))
LEVEL = os.environ.get("LEVEL", "3")
CORES = os.cpu_count() or 2
TABSNAP = os.environ["TABSNAP"]


def sh(cmd, **kw):
    return subprocess.run(cmd, shell=True, check=True, **kw)


def timed(cmd, env=None):
    """(wall seconds, peak RSS MiB) of a shell command."""
    t = time.monotonic()
    p = subprocess.run(["/usr/bin/time", "-f", "%M", "bash", "-c", cmd], env=env, capture_output=True, text=True)
    wall = time.monotonic() - t
    if p.returncode != 0:
        sys.exit(f"failed: {cmd}\n{p.stdout}\n{p.stderr}")
    rss_kib = int(p.stderr.strip().splitlines()[-1])
    return wall, rss_kib / 1024


def tree_stats(d):
    n = b = 0
    for dp, _, fs in os.walk(d):
        for f in fs:
            n += 1
            b += os.path.getsize(os.path.join(dp, f))
    return n, b


def du(d):
    if os.path.isfile(d):
        return os.path.getsize(d)
    return tree_stats(d)[1]


def evict(d):
    # Drop the data from the page cache where allowed, so every tool reads from disk alike.
    try:
        with open("/proc/sys/vm/drop_caches", "w") as f:
            sh("sync")
            f.write("3")
    except OSError:
        pass


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


def mutate(d, frac=0.05):
    rng = random.Random(7)
    files = sorted(os.path.join(dp, f) for dp, _, fs in os.walk(d) for f in fs)
    for p in rng.sample(files, max(1, int(len(files) * frac))):
        size = os.path.getsize(p)
        with open(p, "wb") as f:
            f.write(rng.randbytes(size))


def median_run(cmd, setup=None, env=None):
    return alternate([(cmd, setup, env)])[0]


def alternate(jobs):
    """Runs the jobs round-robin RUNS times, so filesystem state (page cache, recently freed inodes) weighs on
    each alike; returns (median wall, max peak RSS) per job."""
    walls = [[] for _ in jobs]
    rss = [[] for _ in jobs]
    for _ in range(RUNS):
        for k, (cmd, setup, env) in enumerate(jobs):
            if setup:
                setup()
            evict(None)
            w, r = timed(cmd, env)
            walls[k].append(w)
            rss[k].append(r)
    return [(statistics.median(w), max(r)) for w, r in zip(walls, rss)]


def main():
    if os.environ.get("DATASET") == "tpch":
        here = os.path.dirname(os.path.abspath(__file__))
        sh(f"ROOT={ROOT} bash {here}/make_dataset.sh")
        sets = [os.path.join(ROOT, "data"), os.path.join(ROOT, "small")]
    else:
        sets = list(synthetic(os.path.join(ROOT, "synthetic")))
    have_restic = shutil.which("restic") is not None
    if not have_restic:
        subprocess.run("apt-get install -y -qq restic >/dev/null 2>&1", shell=True)
        have_restic = shutil.which("restic") is not None
    work = os.path.join(ROOT, "work")
    rows = []
    for src in sets:
        name = os.path.basename(src)
        files, size = tree_stats(src)
        def fresh(p):
            return lambda: (shutil.rmtree(p, ignore_errors=True), os.path.exists(p + ".tar.zst") and os.remove(p + ".tar.zst"))
        shutil.rmtree(work, ignore_errors=True)
        os.makedirs(work)
        repo, tarball = os.path.join(work, "repo"), os.path.join(work, "t.tar.zst")
        res = {}
        res["tabsnap backup"], res["tar|zstd backup"] = alternate([
            (f"{TABSNAP} backup {repo} full --data {src} --depth 2 --zstd-level {LEVEL} >/dev/null", fresh(repo), None),
            (f"tar -cf - -C {src} . | zstd -q -T{CORES} -{LEVEL} -f -o {tarball}", None, None),
        ])
        stored = {"tabsnap backup": du(repo), "tar|zstd backup": du(tarball)}
        env = dict(os.environ, RESTIC_PASSWORD="x", RESTIC_REPOSITORY=os.path.join(work, "restic"))
        if have_restic:
            res["restic backup"] = median_run(
                f"rm -rf {work}/restic && restic init -q && restic backup -q --compression auto {src}", env=env)
            stored["restic backup"] = du(os.path.join(work, "restic"))
        out = os.path.join(work, "out")
        res["tabsnap restore"], res["zstd -d|tar -x restore"] = alternate([
            (f"{TABSNAP} restore {repo} full --to {out} >/dev/null", fresh(out), None),
            (f"mkdir -p {out} && zstd -q -d -c {tarball} | tar -xf - -C {out} && sync", fresh(out), None),
        ])
        # Second backup after changing 5% of the files (on a copy, so the source stays as it was).
        copy = os.path.join(work, "copy")
        shutil.copytree(src, copy)
        sh(f"{TABSNAP} backup {repo} base --data {copy} --depth 2 >/dev/null")
        if have_restic:
            sh(f"restic backup -q {copy}", env=env)
        mutate(copy)
        n = [0]
        def next_label():
            n[0] += 1
        res["tabsnap backup (5% changed)"] = median_run(
            f"{TABSNAP} backup {repo} incr$RANDOM$RANDOM --data {copy} --depth 2 >/dev/null", setup=next_label)
        if have_restic:
            res["restic backup (5% changed)"] = median_run(f"restic backup -q {copy}", env=env)
        shutil.rmtree(copy)
        for op, (wall, rss) in res.items():
            rows.append((name, op, wall, size / 1e6 / wall, files / wall, rss, stored.get(op)))
        rows.append((name, "-", files, size, None, None, None))
    print(f"\nzstd level {LEVEL}, {CORES} cores, median of {RUNS} runs; MB = 10^6 bytes\n")
    print(f"{'set':<8} {'operation':<28} {'wall s':>8} {'MB/s':>8} {'files/s':>10} {'peak MiB':>9} {'stored MB':>10}")
    by = {}
    for name, op, a, b, c, d, e in rows:
        if op == "-":
            print(f"{name:<8} ({a} files, {b / 1e6:.1f} MB)")
            continue
        by[(name, op)] = (a, e)
        st = f"{e / 1e6:10.1f}" if e else " " * 10
        print(f"{name:<8} {op:<28} {a:8.2f} {b:8.1f} {c:10.0f} {d:9.0f} {st}")
    print("\nratios (speed: other tool's time / tabsnap's; size: tabsnap's stored / other's)")
    for name in {r[0] for r in rows}:
        def ratio(a, b):
            return by[(name, b)][0] / by[(name, a)][0] if (name, a) in by and (name, b) in by else None
        for label, a, b in [
            ("backup vs tar|zstd", "tabsnap backup", "tar|zstd backup"),
            ("backup vs restic", "tabsnap backup", "restic backup"),
            ("restore vs zstd -d|tar -x", "tabsnap restore", "zstd -d|tar -x restore"),
            ("5% changed vs restic", "tabsnap backup (5% changed)", "restic backup (5% changed)"),
        ]:
            r = ratio(a, b)
            if r is not None:
                print(f"  {name:<8} {label:<28} {r:6.2f}x")
        if (name, "tar|zstd backup") in by:
            print(f"  {name:<8} {'stored size vs tar|zstd':<28} {by[(name, 'tabsnap backup')][1] / by[(name, 'tar|zstd backup')][1]:6.3f}")


if __name__ == "__main__":
    main()
