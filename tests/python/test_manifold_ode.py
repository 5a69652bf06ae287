"""``plateau ode`` with hidden-manifold inputs (docs/theory.md section 16b): the theory file holds
the simulation file's Q, R, T, v and eg, every run starts where its simulation starts (``--init
sample``: the run's weights resolved by input mode, so Q, R, T at alpha = 0 agree to rounding),
the theory's eps_g follows the simulations', and what the theory does not cover is refused with
one line (exit status 2, no file)."""

from __future__ import annotations

import math

import numpy as np

import plateau_analysis as pa

from conftest import refused, run_plateau, run_program

HM = ["--inputs", "hidden-manifold", "--latent-ratio", 0.25, "--feature-map", "sign",
      "--K", 2, "--M", 2, "--eta", 1, "--schedule", "linear", "--seed", 3]


def _ode(program, out, *args):
    r = run_program(program, "ode", *map(str, args), "--quiet", "--overwrite", "-o", out)
    assert r.returncode == 0, r.stderr
    return out


def test_the_theory_file_starts_at_the_runs_and_follows_them(plateau_program, tmp_path):
    args = [*HM, "--N", 400, "--seeds", 6, "--alpha-max", 30, "--records", 4]
    sim = tmp_path / "sim.h5"
    run_plateau(plateau_program, sim, *args, "--eg-samples", 2000)
    theory = _ode(plateau_program, tmp_path / "ode.h5", *args)
    s = pa.load_campaign(sim)["K2_M2"]
    t = pa.load_campaign(theory)["K2_M2"]
    for name in ("Q", "R", "T", "v", "eg"):
        assert t[name].shape == s[name].shape, name
        assert np.isfinite(t[name].values).all(), name
    # --init sample: the same Q, R, T at alpha = 0 (the modes sum to them, to rounding).
    for name in ("Q", "R"):
        assert np.allclose(t[name].isel(alpha=0).values, s[name].isel(alpha=0).values,
                           rtol=0, atol=1e-10), name
    assert np.array_equal(t["T"].values, s["T"].values)
    # eps_g is a closed form here; no fixed-point predictions for these inputs.
    assert (t["eg_stderr"].values == 0).all()
    assert np.isnan(t["escape_rate"].values).all()
    runs = s["eg"].values
    mean = runs.mean(axis=0)
    se = runs.std(axis=0, ddof=1) / math.sqrt(runs.shape[0])
    th = t["eg"].values.mean(axis=0)
    assert (np.abs(mean - th) <= 4 * se + 0.02 * th).all(), (mean, se, th)
    assert th[-1] < 0.5 * th[0]


def test_what_the_manifold_theory_does_not_cover_is_refused(plateau_program, tmp_path):
    out = tmp_path / "x.h5"
    base = ["ode", *map(str, HM), "--N", 40, "-o", out]
    refused(run_program(plateau_program, *base, "--init", "symmetric"), "init", "symmetric",
            "hidden-manifold")
    refused(run_program(plateau_program, *base, "--init-from", tmp_path / "none.h5"),
            "init-from", "none.h5", "hidden-manifold")
    refused(run_program(plateau_program, "ode", *map(str, HM), "--N", 40, "--fixed-point"),
            "inputs", "hidden-manifold")
    refused(run_program(plateau_program, *base, "--activation", "tanh",
                        "--teacher-activation", "tanh"), "activation", "tanh", "erf")
    refused(run_program(plateau_program, *base, "--constraint", "sphere"), "constraint",
            "sphere")
    assert not out.exists()
