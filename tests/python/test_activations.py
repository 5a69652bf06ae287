"""Activations end to end (docs/ARCHITECTURE.md, "How to add an activation"): `square`
(g(x) = x^2, models/activations/square.hpp) simulated with both backends and integrated by the
theory through quadrature (docs/theory.md §9), and refused as an output function."""

import numpy as np
import xarray as xr

from conftest import run_plateau, run_program

# Small and short: the point is that every stage takes the new activation, not the physics.
ARGS = ["--activation", "square", "--teacher-activation", "square", "--K", "2", "--M", "2",
        "--N", "200", "--eta", "0.1", "--alpha-max", "2", "--records", "5", "--seeds", "2"]


def dataset(path):
    return xr.open_dataset(path, group="K2_M2", engine="h5netcdf")


def test_square_simulation_full_and_gram(plateau_program, tmp_path):
    for dynamics in ("full", "gram"):
        out = tmp_path / f"{dynamics}.h5"
        run_plateau(plateau_program, out, *ARGS, "--dynamics", dynamics)
        ds = dataset(out)
        assert (ds.status == 1).all(), dynamics
        for name in ["Q", "R", "v", "eg", "eg_stderr"]:
            assert np.isfinite(ds[name].values).all(), (dynamics, name)
        # no closed form: eps_g is the observer's Monte-Carlo estimate, with its error
        assert (ds.eg_stderr > 0).all(), dynamics


def test_square_theory_starts_at_the_simulation_eg(plateau_program, tmp_path):
    sim, theory = tmp_path / "sim.h5", tmp_path / "theory.h5"
    run_plateau(plateau_program, sim, *ARGS)
    r = run_program(plateau_program, "ode", *ARGS, "--quiet", "-o", theory)
    assert r.returncode == 0, r.stderr
    s, t = dataset(sim), dataset(theory)
    assert (t.status == 1).all()
    for name in ["Q", "R", "v", "eg"]:
        assert np.isfinite(t[name].values).all(), name
    # Same initial weights: the theory's exact eps_g (quadrature) against the simulation's
    # Monte-Carlo estimate at alpha = 0, within 5 of its standard errors.
    eg_sim = s.eg.isel(alpha=0).values
    se = s.eg_stderr.isel(alpha=0).values
    eg_th = t.eg.isel(alpha=0).values
    assert (np.abs(eg_th - eg_sim) < 5 * se).all(), (eg_th, eg_sim, se)


def test_square_is_not_an_output_function(plateau_program, tmp_path):
    out = tmp_path / "x.h5"
    r = run_program(plateau_program, "run", "--output-activation", "square", "-o", out)
    assert r.returncode == 2
    assert "'square'" in r.stderr and "'output-activation'" in r.stderr
    assert "identity, tanh" in r.stderr
    assert not out.exists()
