import os
import subprocess
import sys

import tabsnap


def _python(code, **env):
    full = dict(os.environ)
    full.pop("TABSNAP_LIBRARY", None)
    full.update(env)
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=full)


def test_the_installed_package_ships_its_library_and_works_without_settings():
    here = os.path.dirname(tabsnap.__file__)
    if "site-packages" not in here:
        return  # a source checkout: the library comes from cargo's build directory
    assert os.path.exists(os.path.join(here, "libtabsnap.so"))
    r = _python("import tabsnap; print(tabsnap.version())")
    assert r.returncode == 0 and r.stdout.strip() == tabsnap.version(), r.stderr


def test_import_never_fails_and_a_missing_library_is_named_at_first_use():
    r = _python("import tabsnap; print('imported')", TABSNAP_LIBRARY="/nonexistent/libtabsnap.so")
    assert r.returncode == 0 and "imported" in r.stdout, r.stderr
    r = _python("import tabsnap; tabsnap.version()", TABSNAP_LIBRARY="/nonexistent/libtabsnap.so")
    assert r.returncode != 0
    assert "TABSNAP_LIBRARY='/nonexistent/libtabsnap.so': no such file" in r.stderr, r.stderr
