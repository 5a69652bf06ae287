"""Phase retrieval on the sphere (docs/theory.md §13, "Phase retrieval on the sphere"): a
`square` student learning y = (B·x)^2 from a `square` teacher (K = M = 1, T = 1) by projected SGD.

The theory's growth rate of the overlap at small m is a closed form,
dm/dalpha = m [4 eta (1 - m^2) - 24 eta^2 (1 - m^2) - 2 eta^2 s^2]  (Q = 1),
derived by hand from Isserlis' theorem and the projection to first order in 1/N; `plateau ode`
must reproduce it (the exact polynomial averages and the sphere's projected flow, written
independently). And the simulation (Gram chain, exact at finite N) agrees with `plateau ode` run
from each run's own start (seed means within 4 SE + 2 %)."""
import math
import re

import numpy as np
import pytest

from conftest import run_plateau, run_program
from plateau_analysis import load_campaign

BASE = ["--K", "1", "--M", "1", "--activation", "square", "--teacher-activation", "square",
        "--constraint", "sphere"]


def rate(eta, noise):
    """The small-m growth rate of m = R / sqrt(Q T) on the sphere (the module's docstring)."""
    return 4.0 * eta - 24.0 * eta**2 - 2.0 * eta**2 * noise


@pytest.mark.parametrize("eta,noise", [(0.1, 0.0), (0.05, 0.3), (0.15, 0.01)])
def test_the_ode_grows_the_overlap_at_the_closed_form_rate(plateau_program, tmp_path, eta,
                                                             noise):
    out = tmp_path / "th.h5"
    r = run_program(plateau_program, "ode", *BASE, "--eta", eta, "--noise", noise,
                    "--init", "symmetric", "--r0", "1e-7", "--asymmetry", "0",
                    "--alpha-max", "10", "--schedule", "linear", "--records", "11", "-q",
                    "-o", out)
    assert r.returncode == 0, r.stderr
    ds = load_campaign(out)["K1_M1"]
    Q = ds["Q"].values[0, :, 0, 0]
    R = ds["R"].values[0, :, 0, 0]
    np.testing.assert_allclose(Q, 1.0, atol=1e-12)  # on the sphere
    alpha = ds["alpha"].values
    # m stays below 1e-5: the rate is constant to ~1e-10 relative
    slope = np.polyfit(alpha, np.log(R), 1)[0]
    assert slope == pytest.approx(rate(eta, noise), rel=1e-6, abs=1e-9)


def test_simulation_against_theory_on_the_sphere(plateau_program, tmp_path):
    """Gram chain at N = 10000, 16 seeds, against `plateau ode --init sample` (each theory run
    starts at its simulation run's initial order parameters): the seed means of eps_g and m^2
    agree within 4 SE + 2 % at every record until the escape is done."""
    args = [*BASE, "--N", "10000", "--eta", "0.1", "--noise", "0.01", "--alpha-max", "40",
            "--schedule", "linear", "--records", "21", "--seeds", "16"]
    sim = tmp_path / "sim.h5"
    run_plateau(plateau_program, sim, *args, "--dynamics", "gram")
    th = tmp_path / "th.h5"
    r = run_program(plateau_program, "ode", *args, "--dynamics", "gram", "-q", "-o", th)
    assert r.returncode == 0, r.stderr
    s = load_campaign(sim)["K1_M1"]
    t = load_campaign(th)["K1_M1"]
    for name, values in (("eg", lambda d: d["eg"].values),
                         ("m^2", lambda d: d["R"].values[:, :, 0, 0] ** 2)):
        a, b = values(s), values(t)
        mean, se = a.mean(axis=0), a.std(axis=0, ddof=1) / math.sqrt(a.shape[0])
        theory = b.mean(axis=0)
        bad = np.abs(mean - theory) > 4.0 * se + 0.02 * np.abs(theory)
        assert not bad.any(), (name, s["alpha"].values[bad], mean[bad], theory[bad], se[bad])


def rate_k2(eta, noise):
    """The small-m growth rate of each unit's overlap for K = 2 units with the readout 1/2 on one
    direction (docs/theory.md §14b): at Q = I, R = 0 the gradient gives dR_j = eta R_j and the
    projection -(m/2) dQ_jj with dQ_jj = -2 eta + 5 eta^2 + eta^2 s^2."""
    return 2.0 * eta - 2.5 * eta**2 - 0.5 * eta**2 * noise


@pytest.mark.parametrize("eta,noise,K", [(0.1, 0.0, 1), (0.05, 0.3, 1), (0.15, 0.01, 1),
                                         (0.1, 0.01, 2), (0.2, 0.3, 2)])
def test_fixed_point_on_the_sphere_has_the_closed_form_rate(plateau_program, eta, noise, K):
    """`plateau ode --fixed-point` on the sphere (docs/theory.md §14b): the plateau is m = 0 with
    Q_jj = 1 and its escape rate is lambda = 4 eta - 24 eta^2 - 2 eta^2 s^2 (K = 1), from the
    linearization on the sphere's tangent space: one eigenvalue (m), no zero eigenvalue of the
    frozen Q_11. K = 2 (inverse-k readout, one teacher direction): lambda_2 = 2 eta - 5/2 eta^2
    - 1/2 eta^2 s^2, twice (R_11, R_21), and the eigenvalue of Q_12."""
    args = [a if a != "1" or i != 1 else str(K) for i, a in enumerate(BASE)]  # --K K
    r = run_program(plateau_program, "ode", *args, "--readout-scale", "inverse-k",
                    "--eta", eta, "--noise", noise, "--fixed-point")
    assert r.returncode == 0, r.stderr
    out = r.stdout
    assert re.search(r"symmetric fixed point: Q_jj = 1 ", out), out
    assert float(re.search(r"R_jn = (\S+)", out).group(1)) == pytest.approx(0.0, abs=1e-12)
    lam = float(re.search(r"escape rate \(largest real part.*?\): (\S+)", out).group(1))
    eigenvalues = [float(x) for x in re.search(r"eigenvalues: (.*)", out).group(1).split()]
    if K == 1:
        assert lam == pytest.approx(rate(eta, noise), rel=1e-6)
        assert len(eigenvalues) == 1  # m only: Q_11 = 1 is not a direction on the sphere
    else:
        assert lam == pytest.approx(rate_k2(eta, noise), rel=1e-6)
        assert len(eigenvalues) == 3  # R_11, R_21, Q_12
        assert eigenvalues[1] == pytest.approx(lam, rel=1e-6)
    assert "escape time: no prediction" in out  # the prediction is the unconstrained flow's
