"""libtabsnap, loaded at its first use (so that `import tabsnap` never fails): from $TABSNAP_LIBRARY, then the
copy shipped inside this package (`pip install` builds it), then the system's library path."""
import ctypes
import ctypes.util
import os
import threading

_NAMES = ("libtabsnap.so", "libtabsnap.dylib")


def _find():
    explicit = os.environ.get("TABSNAP_LIBRARY")
    if explicit:
        if not os.path.exists(explicit):
            raise OSError(f"TABSNAP_LIBRARY={explicit!r}: no such file")
        return explicit
    here = os.path.dirname(os.path.abspath(__file__))
    for name in _NAMES:
        p = os.path.join(here, name)
        if os.path.exists(p):
            return p
    found = ctypes.util.find_library("tabsnap")
    if found:
        return found
    raise OSError(
        "libtabsnap not found: install the package with `pip install ./bindings/python` (it builds and ships the "
        "library), or set TABSNAP_LIBRARY to a built libtabsnap.so (e.g. target/debug/libtabsnap.so)"
    )


class _Library:
    """The shared library, loaded and given its prototypes (from _bindings.PROTOTYPES) on first attribute use."""

    def __init__(self):
        self._cdll = None
        self._lock = threading.Lock()

    def _load(self):
        with self._lock:
            if self._cdll is None:
                cdll = ctypes.CDLL(_find())
                from ._bindings import PROTOTYPES

                for name, (args, res) in PROTOTYPES.items():
                    f = getattr(cdll, name)
                    f.argtypes = args
                    f.restype = res
                self._cdll = cdll
            return self._cdll

    def __getattr__(self, name):
        if name.startswith("_"):
            raise AttributeError(name)
        return getattr(self._load(), name)


lib = _Library()
