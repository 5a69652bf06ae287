"""Shared helpers of the analysis tests (tests/python/test_analysis*.py).

- ``plateau_program``: the engine binary ($PLATEAU_BUILD_DIR/plateau); tests that need it skip
  with a message when it is not built.
- ``run_plateau``: run ``plateau run ... -o FILE`` and return its stdout (the summary table).
- ``run_program``: run ``plateau ARGS`` as given; ``dataset_bytes``: every dataset's bytes.
- ``parse_summary``: parse that table.
- ``symmetric_fixed_point``: the plateau of ``plateau ode --fixed-point``; ``ode_theory_file``:
  a theory file written by ``plateau ode`` (kind = "theory", one run per grid point).
- ``make_pending`` / ``make_diverged``: edit a copy of a campaign file with h5py.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

REPO = Path(os.environ.get("PLATEAU_SOURCE_DIR") or Path(__file__).resolve().parents[2])
ANALYSIS = REPO / "analysis"
if str(ANALYSIS) not in sys.path:
    sys.path.insert(0, str(ANALYSIS))


# --------------------------------------------------------------------------------------------
# The engine


def _program() -> Path | None:
    build = os.environ.get("PLATEAU_BUILD_DIR")
    candidates = [Path(build) / "plateau"] if build else [REPO / "build" / "ci" / "plateau"]
    for path in candidates:
        if path.is_file() and os.access(path, os.X_OK):
            return path
    return None


@pytest.fixture(scope="session")
def plateau_program() -> Path:
    """The ``plateau`` binary; skips the test if it is not built."""
    path = _program()
    if path is None:
        pytest.skip("the plateau program is not built (set PLATEAU_BUILD_DIR to the build "
                    "directory)")
    return path


def run_plateau(program: Path, out: Path, *args) -> str:
    """Run ``plateau run ARGS --quiet -o OUT`` and return its stdout."""
    result = subprocess.run(
        [str(program), "run", *map(str, args), "--quiet", "--overwrite", "-o", str(out)],
        capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert out.exists()
    return result.stdout


_POINT = re.compile(r"^grid point (\d+):(.*)$")
_RUNS = re.compile(r"runs: (\d+) completed, (\d+) diverged; specialized at the end: (\d+) of")


def run_program(program: Path, *args, timeout: float = 300) -> subprocess.CompletedProcess:
    """``plateau ARGS`` as it is (no options added): its exit status, stdout and stderr."""
    return subprocess.run([str(program), *map(str, args)], capture_output=True, text=True,
                          timeout=timeout)


def refused(r: subprocess.CompletedProcess, *needles: str) -> str:
    """The promise for bad input (docs/RELIABILITY.md): exit status 2 and one line on stderr,
    holding every needle. Returns the line."""
    assert r.returncode == 2, (r.returncode, r.stdout[-500:], r.stderr)
    err = r.stderr.rstrip("\n")
    assert err and "\n" not in err, err
    for needle in needles:
        assert needle in err, err
    return err


def dataset_bytes(path: Path) -> dict:
    """The raw bytes of every dataset of an HDF5 file, by its path in the file: two files
    whose dicts are equal hold the same data bit for bit (attributes aside)."""
    import h5py

    out = {}
    with h5py.File(path, "r") as f:
        f.visititems(lambda name, obj: out.__setitem__(name, obj[...].tobytes())
                     if isinstance(obj, h5py.Dataset) else None)
    return out


def parse_summary(stdout: str) -> list:
    """Parse the summary table ``plateau run`` prints.

    Returns
    -------
    list of dict
        Per grid point: ``point``, ``describe`` (its text), ``completed``, ``diverged``,
        ``specialized`` and ``rows`` (array of (alpha, mean eps_g, std. error)).
    """
    points = []
    for line in stdout.splitlines():
        line = line.strip()
        m = _POINT.match(line)
        if m:
            points.append({"point": int(m.group(1)), "describe": m.group(2), "rows": []})
            continue
        m = _RUNS.search(line)
        if m and points:
            points[-1].update(completed=int(m.group(1)), diverged=int(m.group(2)),
                              specialized=int(m.group(3)))
            continue
        fields = line.split()
        if points and len(fields) == 3:
            try:
                points[-1]["rows"].append([float(x) for x in fields])
            except ValueError:
                pass
    for p in points:
        p["rows"] = np.array(p["rows"]).reshape(-1, 3)
    return points


def reseal(g, run: int) -> None:
    """Store the ``run_checksum`` of run ``run`` of h5py group ``g`` from its bytes as they now
    are (schema 1.4): an edit made on purpose is not damage."""
    from plateau_analysis.campaign import run_checksum

    if "run_checksum" in g:
        names = g["run_checksum"].attrs["covers"]
        names = (names.decode() if isinstance(names, bytes) else str(names)).split()
        g["run_checksum"][run] = run_checksum(g[n][run] for n in names)


def make_pending(src: Path, dst: Path, runs, group: str = "K2_M2") -> Path:
    """Copy ``src`` to ``dst`` and turn ``runs`` into pending runs (status 0, data NaN)."""
    import h5py

    shutil.copyfile(src, dst)
    with h5py.File(dst, "r+") as f:
        g = f[group]
        for r in runs:
            g["status"][r] = 0
            for name in ("eg", "eg_stderr", "Q", "R", "v"):
                g[name][r] = np.nan
    return dst


def make_diverged(src: Path, dst: Path, run: int, from_record: int, group: str = "K2_M2"):
    """Copy ``src`` to ``dst`` and mark ``run`` diverged: status 2, records >= from_record NaN."""
    import h5py

    shutil.copyfile(src, dst)
    with h5py.File(dst, "r+") as f:
        g = f[group]
        g["status"][run] = 2
        for name in ("eg", "eg_stderr", "Q", "R", "v"):
            g[name][run, from_record:] = np.nan
        reseal(g, run)
    return dst


# --------------------------------------------------------------------------------------------
# The theory, from the engine: `plateau ode`


def symmetric_fixed_point(eta, K=2):
    """The unspecialized fixed point of `plateau ode --fixed-point` (erf, K = M, T = I).

    Returns
    -------
    (r, q, c), eps_g at the fixed point
    """
    program = _program()
    if program is None:
        pytest.skip("the plateau program is not built")
    out = subprocess.run([str(program), "ode", "--fixed-point", "--eta", str(eta), "--K", str(K),
                          "--M", str(K)], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    m = re.search(r"Q_jj = (\S+)\s+Q_jk = (\S+)\s+R_jn = (\S+)", out.stdout)
    eg = re.search(r"eps_g = (\S+)", out.stdout)
    assert m and eg, out.stdout
    q, c, r = (float(x) for x in m.groups())
    return (r, q, c), float(eg.group(1))


def ode_theory_file(path: Path, etas=(0.5, 1.0), asymmetry=1e-3, q0=0.2, alpha_max=500.0,
                    records=120) -> Path:
    """A theory file from `plateau ode`: erf, K = M = 2, one run per eta.

    Initial state Q = q0 I, R = asymmetry * I (--init symmetric: a small initial
    specialization, as a random initialization gives ~1/sqrt(N)); log-spaced records from 0.01
    to ``alpha_max``.
    """
    program = _program()
    if program is None:
        pytest.skip("the plateau program is not built")
    out = subprocess.run(
        [str(program), "ode", "--init", "symmetric", "--r0", "0", "--asymmetry", str(asymmetry),
         "--q0", str(q0), "--eta", ",".join(map(str, etas)), "--alpha-max", str(alpha_max),
         "--records", str(records), "--alpha-min", "0.01", "--quiet", "--overwrite", "-o",
         str(path)], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    return path


@pytest.fixture(scope="session")
def theory_file(tmp_path_factory) -> Path:
    """The ODE theory-like file for eta = 0.5 and 1.0 (session-wide: integrated once)."""
    return ode_theory_file(tmp_path_factory.mktemp("theory") / "theory.h5")
