import os
import pathlib

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[3]


def pytest_configure(config):
    # An installed package ships its library (setup.py builds it); a source checkout falls back to cargo's build.
    import importlib.util

    spec = importlib.util.find_spec("tabsnap")
    shipped = spec is not None and (pathlib.Path(spec.origin).parent / "libtabsnap.so").exists()
    lib = ROOT / "target" / "debug" / "libtabsnap.so"
    if not shipped and "TABSNAP_LIBRARY" not in os.environ and lib.exists():
        os.environ["TABSNAP_LIBRARY"] = str(lib)


def write(path, data):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)


@pytest.fixture
def data_dir(tmp_path):
    """db1: t1 (partitions p1, p2, one tablet each) and t2 (one tablet)."""
    d = tmp_path / "data"
    for p, tid in (("p1", 1001), ("p2", 1002)):
        write(d / "db1" / "t1" / p / str(tid) / "0" / "0_0.dat", bytes((i * 7 + tid) % 251 for i in range(200_000)))
        write(d / "db1" / "t1" / p / str(tid) / "0" / "0.idx", b"index %d" % tid)
    write(d / "db1" / "t2" / "t2" / "2001" / "a.dat", b"x" * 5000)
    return d


def tree(d):
    return {p.relative_to(d): p.read_bytes() for p in sorted(d.rglob("*")) if p.is_file() and p.name != "_table.json"}
