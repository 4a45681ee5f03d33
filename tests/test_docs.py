"""The Sphinx documentation builds without a single warning.

The ``>>>`` examples of the pages themselves run as doctests (pytest
``--doctest-glob="*.rst"`` over ``docs/``, configured in pyproject.toml).
"""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"


def test_docs_build_without_warnings(tmp_path):
    pytest.importorskip("sphinx", reason="Sphinx is not installed (pip install -e '.[test]')")
    pytest.importorskip("numpydoc", reason="numpydoc is not installed (pip install -e '.[test]')")
    # Build from a copy: conf.py and autosummary write generated pages into the
    # source folder, and concurrent test runs must not share it.
    source = tmp_path / "docs"
    shutil.copytree(
        DOCS,
        source,
        ignore=shutil.ignore_patterns("_build", "generated", "api.rst", "examples.rst", "__pycache__"),
    )
    env = {**os.environ, "SKRIF_EXAMPLES_DIR": str(ROOT / "examples")}
    result = subprocess.run(
        [sys.executable, "-m", "sphinx", "-W", "--keep-going", "-q", "-b", "html",
         "-d", str(tmp_path / "doctrees"), str(source), str(tmp_path / "html")],
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
    )
    assert result.returncode == 0, f"sphinx-build failed:\n{result.stdout}\n{result.stderr}"
    html = tmp_path / "html"
    assert (html / "guide" / "pipelines.html").exists()
    api = (html / "api.html").read_text(encoding="utf-8")
    import skrif

    for name in skrif.__all__:
        if not name.startswith("__"):
            assert name in api, f"{name} is missing from the API reference"
    assert (html / "generated" / "skrif.InfluenceEstimator.html").exists()
    examples = (html / "examples.html").read_text(encoding="utf-8")
    for script in (ROOT / "examples").glob("*.py"):
        assert script.name in examples


def test_quickstart_example_rif_tracks_the_refit(capsys):
    """examples/quickstart.py runs, and on every printed row RIF is closer to the
    exact refit than IF (the point the script makes)."""
    import runpy

    runpy.run_path(str(ROOT / "examples" / "quickstart.py"), run_name="__main__")
    rows = []
    for line in capsys.readouterr().out.splitlines():
        parts = line.split()
        if len(parts) == 5 and parts[0].isdigit():
            rows.append([float(v) for v in parts[2:]])
    assert len(rows) == 5
    for if_, rif, refit in rows:
        assert abs(rif - refit) < abs(if_ - refit)
        assert abs(rif - refit) < 0.1 * abs(refit)
