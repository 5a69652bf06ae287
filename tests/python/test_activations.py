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
        # a polynomial g = g*: eps_g is exact (Isserlis, docs/theory.md Eq. (13.4))
        assert (ds.eg_stderr == 0).all(), dynamics


def test_square_theory_starts_at_the_simulation_eg(plateau_program, tmp_path):
    sim, theory = tmp_path / "sim.h5", tmp_path / "theory.h5"
    run_plateau(plateau_program, sim, *ARGS)
    r = run_program(plateau_program, "ode", *ARGS, "--quiet", "-o", theory)
    assert r.returncode == 0, r.stderr
    s, t = dataset(sim), dataset(theory)
    assert (t.status == 1).all()
    for name in ["Q", "R", "v", "eg"]:
        assert np.isfinite(t[name].values).all(), name
    # Same initial weights: the theory's exact eps_g against the simulation's, also exact for a
    # polynomial g = g* (Isserlis in both): equal to rounding at alpha = 0.
    eg_sim = s.eg.isel(alpha=0).values
    eg_th = t.eg.isel(alpha=0).values
    np.testing.assert_allclose(eg_th, eg_sim, rtol=1e-12)


def test_square_is_not_an_output_function(plateau_program, tmp_path):
    out = tmp_path / "x.h5"
    r = run_program(plateau_program, "run", "--output-activation", "square", "-o", out)
    assert r.returncode == 2
    assert "'square'" in r.stderr and "'output-activation'" in r.stderr
    assert "identity, tanh" in r.stderr
    assert not out.exists()


# he1..he4 and poly:C0:C1:... (models/activations/he*.hpp, poly.hpp): student and teacher, both
# backends, the theory's exact averages (docs/theory.md §9b), and a sweep over polynomials.
POLY = ["--K", "2", "--M", "2", "--N", "200", "--eta", "0.05", "--alpha-max", "1",
        "--records", "3", "--seeds", "2"]


def test_hermite_and_poly_in_both_backends_and_the_theory(plateau_program, tmp_path):
    for student, teacher in [("he2", "he2"), ("poly:0.1:1:0.5", "he3"), ("he4", "he1")]:
        args = [*POLY, "--activation", student, "--teacher-activation", teacher]
        for dynamics in ("full", "gram"):
            out = tmp_path / f"{dynamics}.h5"
            run_plateau(plateau_program, out, *args, "--dynamics", dynamics)
            ds = dataset(out)
            assert (ds.status == 1).all(), (student, teacher, dynamics)
            assert np.isfinite(ds.eg.values).all(), (student, teacher, dynamics)
    # g = g*: the theory's eps_g at alpha = 0 (Isserlis) against the simulation's on the same
    # initial weights (exact too, by the observer's own sum, docs/theory.md Eq. (13.4)): equal to
    # rounding.
    sim, theory = tmp_path / "sim.h5", tmp_path / "theory.h5"
    args = [*POLY, "--activation", "poly:0.1:1:0.5", "--teacher-activation", "poly:0.1:1:0.5",
            "--eg-samples", "100000"]
    run_plateau(plateau_program, sim, *args)
    r = run_program(plateau_program, "ode", *args, "--quiet", "-o", theory)
    assert r.returncode == 0, r.stderr
    s, t = dataset(sim), dataset(theory)
    eg_sim = s.eg.isel(alpha=0).values
    eg_th = t.eg.isel(alpha=0).values
    assert (s.eg_stderr.values == 0).all()
    np.testing.assert_allclose(eg_th, eg_sim, rtol=1e-12)


def test_a_sweep_over_polynomials_is_a_list(plateau_program, tmp_path):
    out = tmp_path / "sweep.h5"
    # ':' separates coefficients, ',' values; equal polynomials written differently are one point
    run_plateau(plateau_program, out, *POLY[:-2], "--seeds", "1",
                "--activation", "poly:0:1:0.5, he2, poly:0.0:1.0:0.50:0")
    ds = dataset(out)
    assert list(ds.activation.values) == ["poly:0:1:0.5", "he2"]


def test_bad_polynomials_are_refused(plateau_program, tmp_path):
    out = tmp_path / "x.h5"
    for bad in ["poly", "poly:0:0", "poly:1:nan", "poly:1:2:3:4:5:6:7:8:9:10", "he5"]:
        r = run_program(plateau_program, "run", "--activation", bad, "-o", out)
        assert r.returncode == 2, bad
        assert f"'{bad}'" in r.stderr and "'activation'" in r.stderr, r.stderr
        assert "poly:C0:C1:...:Cd" in r.stderr
        assert len(r.stderr.strip().splitlines()) == 1
        assert not out.exists()
