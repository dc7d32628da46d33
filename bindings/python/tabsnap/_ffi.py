"""Loads libtabsnap: from $TABSNAP_LIBRARY, then next to this package, then from the system's library path."""
import ctypes
import ctypes.util
import os

_NAMES = ("libtabsnap.so", "libtabsnap.dylib")


def _find():
    explicit = os.environ.get("TABSNAP_LIBRARY")
    if explicit:
        return explicit
    here = os.path.dirname(os.path.abspath(__file__))
    for name in _NAMES:
        p = os.path.join(here, name)
        if os.path.exists(p):
            return p
    found = ctypes.util.find_library("tabsnap")
    if found:
        return found
    raise OSError("libtabsnap not found: build it with `cargo build` and set TABSNAP_LIBRARY to target/debug/libtabsnap.so")


lib = ctypes.CDLL(_find())
