import subprocess
import sys

from conftest import ROOT


def test_the_readme_example_runs(tmp_path):
    example = ROOT / "bindings" / "python" / "examples" / "backup_restore.py"
    out = subprocess.run([sys.executable, str(example), str(tmp_path)], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    assert "FINISHED" in out.stdout and out.stdout.strip().endswith("segment bytes")
