"""analysis/pyproject.toml: the package installs from the checkout without a network and
imports from where it was installed (not from the checkout)."""

from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import ANALYSIS


def _pip_and_setuptools():
    pip = subprocess.run([sys.executable, "-m", "pip", "--version"], capture_output=True,
                         text=True)
    if pip.returncode != 0:
        pytest.skip(f"pip is not available for {sys.executable} (Debian: python3-pip)")
    if importlib.util.find_spec("setuptools") is None:
        pytest.skip(f"setuptools is not available for {sys.executable} (Debian: "
                    "python3-setuptools)")


def test_installs_into_a_target_without_network(tmp_path):
    _pip_and_setuptools()
    # Build from a copy: setuptools writes build/ and *.egg-info next to pyproject.toml.
    src = tmp_path / "src"
    shutil.copytree(ANALYSIS, src, ignore=shutil.ignore_patterns(
        "__pycache__", "*.pyc", "build", "*.egg-info"))
    target = tmp_path / "target"
    env = {k: v for k, v in os.environ.items() if not k.startswith("PIP_")}
    env.update(PIP_NO_INDEX="1", PIP_DISABLE_PIP_VERSION_CHECK="1", PIP_NO_INPUT="1")
    result = subprocess.run(
        [sys.executable, "-m", "pip", "install", "--no-index", "--no-build-isolation",
         "--no-cache-dir", "--no-deps", "--target", str(target), str(src)],
        capture_output=True, text=True, timeout=300, env=env)
    assert result.returncode == 0, result.stdout + result.stderr
    installed = {p.name for p in (target / "plateau_analysis").glob("*.py")}
    assert installed == {p.name for p in (ANALYSIS / "plateau_analysis").glob("*.py")}
    assert (target / "bin" / "plateau-analysis").is_file()
    # PEP 561: the type hints are installed with the package (package-data).
    assert (target / "plateau_analysis" / "py.typed").is_file()
    # Import it from the target only: no PYTHONPATH to the checkout, run outside it.
    env["PYTHONPATH"] = str(target)
    probe = subprocess.run(
        [sys.executable, "-c", "import plateau_analysis as pa; print(pa.__file__); "
         "print(pa.MARGIN, callable(pa.open_campaign), callable(pa.load_campaign))"],
        capture_output=True, text=True, timeout=120, env=env, cwd=tmp_path)
    assert probe.returncode == 0, probe.stderr
    where, values = probe.stdout.splitlines()
    assert Path(where).resolve().is_relative_to(target.resolve())
    assert values == "0.5 True True"
    cli = subprocess.run([sys.executable, "-m", "plateau_analysis", "report", "--help"],
                         capture_output=True, text=True, timeout=120, env=env, cwd=tmp_path)
    assert cli.returncode == 0 and "--theory" in cli.stdout, cli.stderr
