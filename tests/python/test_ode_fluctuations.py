"""`plateau ode --fluctuations` (schema 1.10, docs/theory.md §11.2c): the order parameters'
standard deviations at the run's N in the theory file (Q_sd, R_sd, v_sd), against the spread of
exact Gram-chain simulations over seeds; their start (random draw or fixed) said in the file;
NaN without the option; the models it does not cover refused with one line."""

import numpy as np
import pytest
import xarray as xr

from conftest import refused, run_program

# K = M = 2 erf, eta = 0.5, on the plateau's approach (alpha <= 12): the linear-noise regime.
COMMON = ["--N", "1000", "--eta", "0.5", "--q0", "0.5", "--alpha-max", "12", "--records", "4",
          "--schedule", "linear"]


@pytest.fixture(scope="module")
def plateau(plateau_program):
    """``plateau ARGS``, which must succeed unless check=False."""
    def call(*args, check=True):
        r = run_program(plateau_program, *args, timeout=600)
        if check:
            assert r.returncode == 0, r.stderr
        return r
    return call


def config_text(path) -> str:
    import h5py
    with h5py.File(path) as f:
        c = f.attrs["config"]
        return c.decode() if isinstance(c, bytes) else c


@pytest.fixture(scope="module")
def files(plateau, tmp_path_factory):
    d = tmp_path_factory.mktemp("fluct")
    plateau("ode", *COMMON, "--seeds", "1", "--init", "symmetric", "--asymmetry", "0",
            "--fluctuations", "--predictions", "none", "-q", "-o", d / "draw.h5")
    plateau("ode", *COMMON, "--seeds", "2", "--fluctuations", "--predictions", "none", "-q",
            "-o", d / "fixed.h5")
    plateau("ode", *COMMON, "--seeds", "1", "--predictions", "none", "-q", "-o", d / "none.h5")
    # 600 exact runs (the Gram chain has the law of full runs, docs/theory.md §7).
    plateau("run", *COMMON, "--seeds", "600", "--dynamics", "gram", "-q", "-o", d / "sim.h5")
    return d


def group(path):
    return xr.open_dataset(path, group="K2_M2", engine="h5netcdf")


def test_the_spread_over_seeds_is_the_simulations(files):
    th = group(files / "draw.h5")
    sim = group(files / "sim.h5")
    np.testing.assert_array_equal(th.alpha, sim.alpha)
    runs = sim.sizes["run"]
    for name in ["Q", "R"]:
        predicted = th[f"{name}_sd"].isel(run=0).values
        measured = sim[name].std("run", ddof=1).values
        # The standard error of a sample SD of n Gaussian values: sd / sqrt(2 (n - 1)); 4 of
        # them per entry (24 entries: a family-wise false alarm of about 1e-3).
        se = predicted / np.sqrt(2.0 * (runs - 1))
        assert np.isfinite(predicted).all(), name
        assert (np.abs(measured - predicted) < 4.0 * se).all(), (name, measured, predicted)
    # v is not learned here: its spread is exactly 0.
    assert (th.v_sd == 0).all()
    assert "fluctuations = random-draw" in config_text(files / "draw.h5")


def test_from_a_runs_own_start_only_the_step_noise_spreads(files):
    th = group(files / "fixed.h5")
    assert "fluctuations = fixed" in config_text(files / "fixed.h5")
    assert (th.Q_sd.isel(alpha=0) == 0).all() and (th.R_sd.isel(alpha=0) == 0).all()
    later = th.R_sd.isel(alpha=slice(1, None))
    assert np.isfinite(later).all() and (later > 0).all()
    # Smaller than the spread over random starts at the same alpha (the draw's part is gone).
    draw = group(files / "draw.h5")
    assert (th.R_sd.isel(run=0, alpha=-1) < draw.R_sd.isel(run=0, alpha=-1)).all()


def test_without_the_option_the_variables_are_nan(files):
    th = group(files / "none.h5")
    for name in ["Q_sd", "R_sd", "v_sd"]:
        assert np.isnan(th[name]).all(), name
    assert "fluctuations" not in config_text(files / "none.h5")


def test_a_model_it_does_not_cover_is_refused_in_one_line(plateau, tmp_path):
    out = tmp_path / "x.h5"
    refused(plateau("ode", *COMMON, "--momentum", "0.5", "--fluctuations", "-o", out, check=False),
            "'0.5' for 'momentum'", "fluctuations")
    assert not out.exists()
    refused(plateau("ode", "--fixed-point", "--fluctuations", check=False),
            "--fluctuations does not go with --fixed-point")


def test_the_dry_run_counts_the_fluctuations(plateau):
    r = plateau("ode", *COMMON, "--fluctuations", "--dry-run")
    assert "with the fluctuations:" in r.stdout
