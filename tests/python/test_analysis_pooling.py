"""Seeds pooled across files, the weighted ln N fit, the union of variables of a sweep, exact
generated values, one number formatter and the compact summary (issue 24, "Analysis that tells
the truth")."""

from __future__ import annotations

import math
import shutil

import numpy as np
import pytest

from conftest import run_plateau

import plateau_analysis as pa
from plateau_analysis.cli import main
from plateau_analysis.configs import ConfigMismatchError
from plateau_analysis.merge import SharedStreamsWarning, load_sweep
from plateau_analysis.stats import weighted_line_fit
from plateau_analysis.tables import format_value

COMMON = ("--N", 60, "--records", 12, "--alpha-max", 40, "--eta", "0.5,1")


# --------------------------------------------------------------------------------------------
# The weighted fit


def test_weighted_line_fit_against_a_hand_computed_case():
    # x = 0, 1, 2; y = 1, 3, 4; sigma = 1, 1, 2 -> w = 1, 1, 1/4: S = 9/4, Sx = 3/2, Sy = 5,
    # Sxx = 2, Sxy = 5, D = S Sxx - Sx^2 = 9/4; b = (S Sxy - Sx Sy) / D = 5/3,
    # a = (Sxx Sy - Sx Sxy) / D = 10/9, var b = S / D = 1, var a = Sxx / D = 8/9;
    # residuals -1/9, 2/9, -4/9: chi^2 = 1/81 + 4/81 + (1/4) 16/81 = 1/9 on 1 degree of freedom.
    fit = weighted_line_fit([0.0, 1.0, 2.0], [1.0, 3.0, 4.0], [1.0, 1.0, 2.0])
    assert fit.slope == pytest.approx(5 / 3, rel=1e-12)  # unweighted: 3/2
    assert fit.intercept == pytest.approx(10 / 9, rel=1e-12)
    assert fit.slope_err == pytest.approx(1.0, rel=1e-12)
    assert fit.intercept_err == pytest.approx(math.sqrt(8 / 9), rel=1e-12)
    assert fit.chi2 == pytest.approx(1 / 9, rel=1e-12)
    assert (fit.dof, fit.n_points, fit.n_left_out) == (1, 3, 0)
    assert fit.reduced_chi2 == pytest.approx(1 / 9, rel=1e-12)


def test_weighted_fit_error_comes_from_the_points_errors():
    # Points exactly on a line: an unweighted fit would give a slope error of 0; the points'
    # own errors (2 each) give sqrt(S / D) = 2 / sqrt(sum (x - mean x)^2) = 2 / sqrt(2).
    # A point with a value but no error (one run escaped) is left out and counted.
    fit = weighted_line_fit([1.0, 2.0, 3.0, 4.0], [3.0, 5.0, 7.0, 100.0],
                            [2.0, 2.0, 2.0, math.nan])
    assert fit.slope == pytest.approx(2.0) and fit.intercept == pytest.approx(1.0)
    assert fit.slope_err == pytest.approx(math.sqrt(2.0), rel=1e-12)
    assert (fit.n_points, fit.n_left_out, fit.chi2) == (3, 1, pytest.approx(0.0, abs=1e-20))
    assert math.isnan(weighted_line_fit([1.0, 1.0], [1.0, 2.0], [1.0, 1.0]).slope)


# --------------------------------------------------------------------------------------------
# One formatter


def test_one_number_formatter():
    assert format_value(100000.0) == "100000" and format_value(10000.0) == "10000"
    assert format_value(np.float64(100000.0)) == "100000"
    assert format_value(np.int64(100000)) == "100000"
    assert format_value(0.6000000000000001) == "0.6"
    assert format_value(0.0146648) == "0.01466" and format_value(math.nan) == "nan"
    from plateau_analysis import figures

    assert figures.format_value is format_value  # legends and titles use the same one


# --------------------------------------------------------------------------------------------
# Pooling seeds across files


@pytest.fixture(scope="module")
def seeds_files(plateau_program, tmp_path_factory):
    d = tmp_path_factory.mktemp("pool")
    one, two = d / "seed1.h5", d / "seed2.h5"
    run_plateau(plateau_program, one, "--seeds", 2, "--seed", 1, *COMMON)
    run_plateau(plateau_program, two, "--seeds", 3, "--seed", 2, *COMMON)
    return one, two


def test_files_differing_in_the_seed_pool_as_more_seeds(seeds_files):
    one, two = seeds_files
    ds = load_sweep([one, two])["K2_M2"]
    assert ds.sizes["run"] == 10 and ds.attrs["seeds"] == 5
    assert ds.attrs["master_seeds"] == [1, 2]
    avg = pa.seed_average(ds)
    assert avg["eta"].values.tolist() == [0.5, 1.0]  # two grid points, not four
    assert avg["n_completed"].values.tolist() == [5, 5]
    # The runs are the files' runs; seeds 0-1 from the first file, 2-4 from the second.
    a, b = pa.load_campaign(one)["K2_M2"], pa.load_campaign(two)["K2_M2"]
    grid = pa.as_grid(ds)
    assert grid.sizes["seed"] == 5 and grid.sizes["eta"] == 2
    np.testing.assert_array_equal(grid["eg"].sel(eta=1.0, N=60, seed=[0, 1]).values,
                                  a["eg"].values[2:4])
    np.testing.assert_array_equal(grid["eg"].sel(eta=1.0, N=60, seed=[2, 3, 4]).values,
                                  b["eg"].values[3:6])
    # The mean over the pooled seeds is the mean over both files' runs.
    both = np.concatenate([a["eg"].values[:2], b["eg"].values[:3]])
    np.testing.assert_allclose(avg["eg_mean"].values[0], both.mean(axis=0), rtol=1e-12)


def test_the_same_runs_twice_are_refused(seeds_files, tmp_path):
    one, _ = seeds_files
    copy = tmp_path / "copy.h5"
    shutil.copy(one, copy)
    with pytest.raises(ConfigMismatchError, match=r"both have master seed 1.*run_index 0.*"
                                                  r"the same runs twice"):
        load_sweep([one, copy])


def test_shared_streams_at_different_points_are_warned(plateau_program, seeds_files,
                                                       tmp_path):
    one, _ = seeds_files
    other = tmp_path / "eta2.h5"  # master seed 1 again: its eta = 2 runs reuse run_index 0, 1
    run_plateau(plateau_program, other, "--seeds", 2, "--seed", 1, "--N", 60, "--records", 12,
                "--alpha-max", 40, "--eta", "2")
    with pytest.warns(SharedStreamsWarning, match="both have master seed 1.*not independent"):
        ds = load_sweep([one, other])["K2_M2"]
    assert pa.seed_average(ds)["eta"].values.tolist() == [0.5, 1.0, 2.0]


# --------------------------------------------------------------------------------------------
# Variables that only some files have


def _as_minor_0(src, dst):
    """A copy of ``src`` as a file of schema 1.0 would be: without the variables added since
    (outcome 1.1, eps_train/examples, run_checksum 1.4, ...)."""
    import h5py

    shutil.copy(src, dst)
    with h5py.File(dst, "r+") as f:
        for g in f.values():
            if not isinstance(g, h5py.Group):
                continue
            for name in ("outcome", "eps_train", "examples", "run_checksum"):
                if name in g:
                    del g[name]
        for obj in [f, *[g for g in f.values() if isinstance(g, h5py.Group)]]:
            if "schema_version_minor" in obj.attrs:
                obj.attrs["schema_version_minor"] = np.int64(0)
    return dst


def test_a_variable_only_some_files_have_is_kept(plateau_program, tmp_path):
    new, old = tmp_path / "new.h5", tmp_path / "old.h5"
    run_plateau(plateau_program, new, "--seeds", 2, "--seed", 3, *COMMON)
    run_plateau(plateau_program, tmp_path / "src.h5", "--seeds", 2, "--seed", 4, *COMMON)
    _as_minor_0(tmp_path / "src.h5", old)
    full = pa.load_campaign(new)["K2_M2"]
    assert "examples" in full  # what the older file lacks
    ds = pa.open_sweep([old, new])["K2_M2"]
    assert "examples" in ds and "outcome" in ds
    assert np.isnan(ds["examples"].values[:4]).all()
    np.testing.assert_array_equal(ds["examples"].values[4:], full["examples"].values)
    # outcome of the older file: computed by the rule, as run_outcomes does for it alone.
    np.testing.assert_array_equal(
        ds["outcome"].values[:4], pa.run_outcomes(pa.open_campaign(old)["K2_M2"]).values)


# --------------------------------------------------------------------------------------------
# Generated values and the summary


def test_linspace_values_select_exactly(plateau_program, tmp_path):
    path = tmp_path / "lin.h5"
    run_plateau(plateau_program, path, "--N", 20, "--records", 4, "--alpha-max", 1,
                "--seeds", 1, "--eta", "linspace(0.1, 1, 10)")
    grid = pa.as_grid(pa.load_campaign(path)["K2_M2"])
    # 0.1 + (8/9)(1 - 0.1) is 0.8999999999999999 in doubles: stored as 0.9.
    assert grid["eta"].values.tolist() == [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0]
    assert grid["eg"].sel(eta=0.9, N=20).sizes["seed"] == 1
    assert grid["eg"].sel(eta=0.6, N=20).sizes["seed"] == 1


def test_compact_summary_one_line_per_point(seeds_files, capsys):
    one, two = seeds_files
    assert main(["summary", str(one), str(two)]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    points = [line for line in lines if line.startswith("K2_M2")]
    assert len(points) == 2 and len(lines) == 3
    assert points[0].startswith("K2_M2  eta=0.5: ") and "of 5" in points[0]
    assert "plateau " in points[0] and "escape " in points[0] and "escaped)" in points[0]
    assert "eps_t" not in points[0]  # no training set
    assert main(["summary", str(one), "--long"]) == 0
    text = capsys.readouterr().out
    assert "Plateaus per grid point" in text and "esc/runs" in text


def test_summary_names_the_training_error(plateau_program, tmp_path, capsys):
    path = tmp_path / "train.h5"
    run_plateau(plateau_program, path, "--N", 30, "--records", 6, "--alpha-max", 4,
                "--seeds", 2, "--alpha-train", "2", "--batch", "4")
    assert main(["summary", str(path)]) == 0
    lines = [x for x in capsys.readouterr().out.splitlines() if x.startswith("K2_M2")]
    assert len(lines) == 1 and "; eps_t " in lines[0]
    eps_t = float(lines[0].rsplit("eps_t ", 1)[1])
    ds = pa.load_campaign(path)["K2_M2"]
    assert eps_t == pytest.approx(float(ds["eps_train"].values[:, -1].mean()), rel=1e-3)
