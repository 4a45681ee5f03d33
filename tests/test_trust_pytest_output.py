"""Issue 27 item 8: ``pytest -q`` ends with a short green summary (no line per
expected failure; the reasons stay in the test code)."""

import os
import subprocess
import sys


def test_quiet_run_prints_no_xfail_lines(tmp_path):
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    test = tmp_path / "test_xfail_probe.py"
    test.write_text(
        "import pytest\n\n\n@pytest.mark.xfail(reason='probe')\ndef test_x():\n    assert False\n"
    )
    out = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-c",
         os.path.join(root, "pyproject.toml"), "--rootdir", str(tmp_path), str(test)],
        capture_output=True, text=True, timeout=120,
    )
    assert "1 xfailed" in out.stdout
    assert "XFAIL" not in out.stdout
