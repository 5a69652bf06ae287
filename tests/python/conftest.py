"""Shared helpers of the analysis tests (tests/python/test_analysis*.py).

- ``plateau_program``: the engine binary ($PLATEAU_BUILD_DIR/plateau); tests that need it skip
  with a message when it is not built.
- ``run_plateau``: run ``plateau run ... -o FILE`` and return its stdout (the summary table).
- ``parse_summary``: parse that table.
- A small N -> infinity theory for g = erf, h = identity (the ODEs and closed forms of
  /work/shared/theory.md §2-3, written with numpy/scipy), a symmetric fixed-point finder, and
  ``ode_theory_file``: a theory-like campaign file (kind = "theory", one run per grid point)
  until ``plateau ode`` exists.
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
    return dst


# --------------------------------------------------------------------------------------------
# A small theory: g = erf(x / sqrt 2), h = identity, v = v* = 1 (theory.md §2-3)


def erf_moments(C):
    """I2 (a,b), I3 (a,b,c), I4 (a,b,c,d) of theory.md §2 for the covariance matrix C."""
    d = 1.0 + np.diag(C)
    I2 = (2 / np.pi) * np.arcsin(C / np.sqrt(np.outer(d, d)))
    lam3 = d[:, None] * d[None, :] - C ** 2  # (a, c)
    Caa = d[:, None, None]
    I3 = ((2 / np.pi) / np.sqrt(lam3)[:, None, :]
          * (C[None, :, :] * Caa - C[:, :, None] * C[:, None, :]) / Caa)
    Cab = C[:, :, None, None]
    da, db = d[:, None, None, None], d[None, :, None, None]
    dc, dd = d[None, None, :, None], d[None, None, None, :]
    Cac, Cad = C[:, None, :, None], C[:, None, None, :]
    Cbc, Cbd = C[None, :, :, None], C[None, :, None, :]
    Ccd = C[None, None, :, :]
    lam4 = da * db - Cab ** 2
    lam0 = lam4 * Ccd - Cbc * Cbd * da - Cac * Cad * db + Cab * Cac * Cbd + Cab * Cad * Cbc
    lam1 = lam4 * dc - Cbc ** 2 * da - Cac ** 2 * db + 2 * Cab * Cac * Cbc
    lam2 = lam4 * dd - Cbd ** 2 * da - Cad ** 2 * db + 2 * Cab * Cad * Cbd
    I4 = (4 / np.pi ** 2) / np.sqrt(lam4) * np.arcsin(lam0 / np.sqrt(lam1 * lam2))
    return I2, I3, I4


def erf_eg(Q, R, T):
    """eps_g of theory.md §2 (v = v* = 1)."""
    K, M = R.shape
    I2, _, _ = erf_moments(np.block([[Q, R], [R.T, T]]))
    c = np.r_[-np.ones(K), np.ones(M)]
    return 0.5 * c @ I2 @ c


def erf_rhs(Q, R, T, eta):
    """dQ/dalpha, dR/dalpha of theory.md §3 (no label noise, v fixed)."""
    K, M = R.shape
    _, I3, I4 = erf_moments(np.block([[Q, R], [R.T, T]]))
    c = np.r_[-np.ones(K), np.ones(M)]
    A = I3 @ c  # A[a, b] = sum_u c_u I3(a, b, u)
    dR = eta * A[:K, K:]
    dx = A[:K, :K]
    dQ = eta * (dx + dx.T) + eta ** 2 * np.einsum("abuv,u,v->ab", I4[:K, :K], c, c)
    return dQ, dR


def erf_integrate(Q0, R0, T, eta, alphas):
    """Integrate the ODEs (scipy DOP853) and return Q, R, eps_g at ``alphas``."""
    from scipy.integrate import solve_ivp

    K, M = R0.shape

    def f(_, y):
        dQ, dR = erf_rhs(y[: K * K].reshape(K, K), y[K * K:].reshape(K, M), T, eta)
        return np.r_[dQ.ravel(), dR.ravel()]

    sol = solve_ivp(f, (0.0, alphas[-1]), np.r_[Q0.ravel(), R0.ravel()], t_eval=alphas,
                    method="DOP853", rtol=1e-8, atol=1e-11)
    assert sol.success, sol.message
    Q = sol.y[: K * K].T.reshape(-1, K, K)
    R = sol.y[K * K:].T.reshape(-1, K, M)
    return Q, R, np.array([erf_eg(q, r, T) for q, r in zip(Q, R)])


def symmetric_fixed_point(eta, guess=(0.4, 0.37, 0.33)):
    """The unspecialized fixed point of K = M = 2, T = I: R_jn = r, Q_jj = q, Q_12 = c.

    Solves dR_11 = dQ_11 = dQ_12 = 0 (the others follow by symmetry) with scipy's fsolve.

    Returns
    -------
    (r, q, c), eps_g at the fixed point
    """
    from scipy.optimize import fsolve

    T = np.eye(2)

    def state(x):
        r, q, c = x
        return np.array([[q, c], [c, q]]), np.full((2, 2), r)

    def F(x):
        dQ, dR = erf_rhs(*state(x), T, eta)
        return [dR[0, 0], dQ[0, 0], dQ[0, 1]]

    x, _, ier, msg = fsolve(F, guess, xtol=1e-13, full_output=True)
    assert ier == 1, msg
    assert np.max(np.abs(F(x))) < 1e-10
    return tuple(x), float(erf_eg(*state(x), T))


def ode_theory_file(path: Path, etas=(0.5, 1.0), asymmetry=1e-3, q0=0.2, alpha_max=500.0,
                    records=120) -> Path:
    """A theory-like campaign file: the erf ODE for K = M = 2, one run per eta.

    Initial state Q = q0 I, R = asymmetry * I (a small initial specialization, as a random
    initialization gives ~1/sqrt(N)); log-spaced records from 0.01 to ``alpha_max``.
    """
    from plateau_analysis.synthetic import make_group, write_campaign

    alpha = np.r_[0.0, np.geomspace(0.01, alpha_max, records - 1)]
    T = np.eye(2)
    eg, Q, R = [], [], []
    for eta in etas:
        q, r, e = erf_integrate(q0 * np.eye(2), asymmetry * np.eye(2), T, eta, alpha)
        Q.append(q)
        R.append(r)
        eg.append(e)
    group = make_group(alpha, np.array(eg), np.array(Q), np.array(R), T,
                       coords={"N": np.zeros(len(etas), dtype=np.int64),
                               "eta": np.asarray(etas, dtype=float)})
    return write_campaign(path, {"K2_M2": group}, kind="theory", seeds=1)


@pytest.fixture(scope="session")
def theory_file(tmp_path_factory) -> Path:
    """The ODE theory-like file for eta = 0.5 and 1.0 (session-wide: integrated once)."""
    return ode_theory_file(tmp_path_factory.mktemp("theory") / "theory.h5")
