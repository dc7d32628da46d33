"""Builds libtabsnap with cargo and ships it inside the package, so that `pip install ./bindings/python` gives a
working `import tabsnap`. TABSNAP_LIBRARY, when set at build time, names a library to ship instead of building
one; TABSNAP_CARGO_PROFILE chooses the cargo profile (default: release)."""
import os
import shutil
import subprocess

from setuptools import setup
from setuptools.command.build_py import build_py

HERE = os.path.dirname(os.path.abspath(__file__))


class BuildWithLibrary(build_py):
    def run(self):
        super().run()
        target = os.path.join(self.build_lib, "tabsnap", "libtabsnap.so")
        os.makedirs(os.path.dirname(target), exist_ok=True)
        shutil.copyfile(self._library(), target)

    def _library(self):
        explicit = os.environ.get("TABSNAP_LIBRARY")
        if explicit:
            return explicit
        root = os.environ.get("TABSNAP_SOURCE_DIR") or os.path.abspath(os.path.join(HERE, "..", ".."))
        manifest = os.path.join(root, "Cargo.toml")
        if not os.path.exists(manifest):
            raise RuntimeError(
                f"cannot build libtabsnap: no Cargo.toml at {root} (set TABSNAP_SOURCE_DIR to the tabsnap source, "
                "or TABSNAP_LIBRARY to a built libtabsnap.so)"
            )
        if shutil.which("cargo") is None:
            raise RuntimeError("cannot build libtabsnap: cargo is not on the PATH (install Rust, or set TABSNAP_LIBRARY)")
        profile = os.environ.get("TABSNAP_CARGO_PROFILE", "release")
        subprocess.run(
            ["cargo", "build", "--lib", "--locked", "--profile", profile, "--manifest-path", manifest], check=True
        )
        target_dir = os.environ.get("CARGO_TARGET_DIR") or os.path.join(root, "target")
        out = os.path.join(target_dir, "debug" if profile == "dev" else profile, "libtabsnap.so")
        if not os.path.exists(out):
            raise RuntimeError(f"cargo built no {out}")
        return out


setup(cmdclass={"build_py": BuildWithLibrary})
