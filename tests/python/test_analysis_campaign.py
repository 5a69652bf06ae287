"""plateau_analysis: opening campaign files (schema checks, errors, attributes) and seed_average
against the table `plateau run` prints and against numpy by hand."""

from __future__ import annotations

import shutil
import warnings

import h5py
import numpy as np
import pytest

from conftest import make_diverged, make_pending, parse_summary, run_plateau

import plateau_analysis as pa
from plateau_analysis.synthetic import make_group, write_campaign

SEEDS = 4


@pytest.fixture(scope="module")
def sweep(plateau_program, tmp_path_factory):
    """A 2-point eta sweep, 4 seeds, N = 100 (fast), and what the engine printed."""
    path = tmp_path_factory.mktemp("campaign") / "sweep.h5"
    stdout = run_plateau(plateau_program, path, "--eta", "0.5,1.0", "--seeds", SEEDS,
                         "--N", 100, "--alpha-max", 100, "--records", 60, "--table")
    return path, parse_summary(stdout)


@pytest.fixture(scope="module")
def diverging(plateau_program, tmp_path_factory):
    """Linear networks at eta = 0.5 (converges) and 50 (diverges)."""
    path = tmp_path_factory.mktemp("campaign") / "diverging.h5"
    stdout = run_plateau(plateau_program, path, "--activation", "linear",
                         "--teacher-activation", "linear", "--eta", "0.5,50", "--seeds", 3,
                         "--N", 100, "--alpha-max", 20, "--records", 30, "--table")
    return path, parse_summary(stdout)


# --------------------------------------------------------------------------------------------
# open_campaign / load_campaign


def test_load_campaign_groups_and_attributes(sweep):
    path, _ = sweep
    groups = pa.load_campaign(path)
    assert list(groups) == ["K2_M2"]
    ds = groups["K2_M2"]
    assert dict(ds.sizes) == {"run": 8, "alpha": 60, "student": 2, "student2": 2,
                              "teacher": 2, "teacher2": 2,
                              "student_deep": 2, "teacher_deep": 2,  # 1.3: v, v* for K = M = 2
                              "cluster": 1}  # 1.6: one for Gaussian inputs
    attrs = ds.attrs
    assert attrs["kind"] == "simulation"
    assert attrs["schema"] == "plateau-campaign" and attrs["schema_version"] == 1
    assert attrs["seeds"] == SEEDS and attrs["runs"] == 8
    assert attrs["K"] == 2 and attrs["M"] == 2
    assert attrs["group"] == "K2_M2" and attrs["pending_runs"] == 0 and attrs["complete"] == 1
    assert "eta = 0.5, 1" in attrs["config"]
    assert pa.run_coordinates(ds) == ["N", "eta"]
    assert pa.swept_coordinates(ds) == ["eta"]
    np.testing.assert_array_equal(pa.grid_point_index(ds), [0, 0, 0, 0, 1, 1, 1, 1])
    # Loaded: the file is closed and can be replaced.
    assert ds["eg"].values.shape == (8, 60)


def test_open_campaign_lazy(sweep):
    path, _ = sweep
    ds = pa.open_campaign(path)["K2_M2"]
    try:
        assert ds.attrs["kind"] == "simulation"
        assert np.isfinite(ds["eg"].values).all()
    finally:
        ds.close()


def test_missing_file(tmp_path):
    with pytest.raises(pa.CampaignFileNotFoundError, match="no such file"):
        pa.load_campaign(tmp_path / "absent.h5")
    with pytest.raises(FileNotFoundError):
        pa.load_campaign(tmp_path / "absent.h5")


def test_not_hdf5(tmp_path):
    path = tmp_path / "text.h5"
    path.write_text("alpha eps_g\n0 0.5\n")
    with pytest.raises(pa.CampaignError, match="not an HDF5 file"):
        pa.load_campaign(path)


def test_hdf5_but_not_a_campaign(tmp_path):
    path = tmp_path / "other.h5"
    with h5py.File(path, "w") as f:
        f["x"] = np.arange(3)
    with pytest.raises(pa.CampaignError, match="not a plateau campaign file"):
        pa.load_campaign(path)
    with h5py.File(path, "a") as f:
        f.attrs["schema"] = "something-else"
    with pytest.raises(pa.CampaignError, match="schema = 'something-else'"):
        pa.load_campaign(path)


def test_newer_schema_version(sweep, tmp_path):
    path = tmp_path / "v2.h5"
    shutil.copyfile(sweep[0], path)
    with h5py.File(path, "a") as f:
        f.attrs["schema_version"] = np.int64(2)
    with pytest.raises(pa.CampaignError, match="schema_version 2 is newer than this reader"):
        pa.load_campaign(path)


def test_unknown_kind_and_missing_variable(sweep, tmp_path):
    path = tmp_path / "kind.h5"
    shutil.copyfile(sweep[0], path)
    with h5py.File(path, "a") as f:
        f.attrs["kind"] = "experiment"
    with pytest.raises(pa.CampaignError, match="unknown kind 'experiment'"):
        pa.load_campaign(path)
    shutil.copyfile(sweep[0], path)
    with h5py.File(path, "a") as f:
        del f["K2_M2"]["R"]
    with pytest.raises(pa.CampaignError, match="lacks the variable.*R"):
        pa.load_campaign(path)


def test_pending_runs_warn(sweep, tmp_path):
    path = make_pending(sweep[0], tmp_path / "pending.h5", [1])
    with pytest.warns(pa.IncompleteCampaignWarning, match="1 of 8 run"):
        ds = pa.load_campaign(path)["K2_M2"]
    assert ds.attrs["pending_runs"] == 1 and ds.attrs["complete"] == 0
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        pa.load_campaign(path, warn_incomplete=False)


# --------------------------------------------------------------------------------------------
# seed_average


def test_seed_average_matches_the_engine_table(sweep):
    path, printed = sweep
    ds = pa.load_campaign(path)["K2_M2"]
    avg = pa.seed_average(ds)
    assert avg.sizes["point"] == 2 == len(printed)
    np.testing.assert_array_equal(avg["eta"].values, [0.5, 1.0])
    alpha = avg["alpha"].values
    for p, table in enumerate(printed):
        assert f"eta={avg['eta'].values[p]:g}" in table["describe"]
        assert table["completed"] == avg["n_completed"].values[p] == SEEDS
        assert table["diverged"] == avg["n_diverged"].values[p] == 0
        rows = table["rows"]
        assert len(rows) >= 20
        for a, mean, se in rows:
            i = int(np.argmin(np.abs(alpha - a)))
            assert abs(alpha[i] - a) <= 1e-3 * max(a, 1e-12)  # printed with 4 digits
            assert avg["eg_mean"].values[p, i] == pytest.approx(mean, rel=1e-5, abs=1e-12)
            assert avg["eg_sem"].values[p, i] == pytest.approx(se, rel=6e-3, abs=1e-12)


def test_seed_average_by_hand(sweep):
    path, _ = sweep
    ds = pa.load_campaign(path)["K2_M2"]
    q = (0.1, 0.5, 0.9)
    avg = pa.seed_average(ds, quantiles=q)
    with h5py.File(path, "r") as f:
        g = f["K2_M2"]
        raw = {name: g[name][...] for name in ("eg", "Q", "R", "v")}
        run_index = g["run_index"][...]
    for p in range(2):
        runs = run_index // SEEDS == p
        for name, values in raw.items():
            x = values[runs]
            np.testing.assert_allclose(avg[f"{name}_mean"].values[p], x.mean(axis=0),
                                       rtol=1e-12)
            np.testing.assert_allclose(avg[f"{name}_sem"].values[p],
                                       x.std(axis=0, ddof=1) / np.sqrt(SEEDS), rtol=1e-10)
            np.testing.assert_allclose(avg[f"{name}_quantile"].values[p],
                                       np.quantile(x, q, axis=0), rtol=1e-12)
    assert avg["eg_quantile"].dims == ("point", "quantile", "alpha")
    assert avg["R_mean"].dims == ("point", "alpha", "student", "teacher")
    np.testing.assert_allclose(avg["T_mean"].values, np.broadcast_to(np.eye(2), (2, 2, 2)),
                               atol=1e-12)
    # The specialization index is permutation invariant: aligning leaves it unchanged.
    aligned = pa.seed_average(ds, quantiles=q, align=True)
    np.testing.assert_allclose(aligned["specialization_index_mean"],
                               avg["specialization_index_mean"])
    np.testing.assert_allclose(aligned["eg_mean"], avg["eg_mean"])


def test_seed_average_pending_and_diverged(sweep, tmp_path):
    path = make_pending(sweep[0], tmp_path / "pending.h5", [1, 2])
    path = make_diverged(path, tmp_path / "both.h5", 5, from_record=30)
    with pytest.warns(pa.IncompleteCampaignWarning):
        ds = pa.load_campaign(path)["K2_M2"]
    avg = pa.seed_average(ds)
    np.testing.assert_array_equal(avg["n_runs"], [4, 4])
    np.testing.assert_array_equal(avg["n_completed"], [2, 3])
    np.testing.assert_array_equal(avg["n_pending"], [2, 0])
    np.testing.assert_array_equal(avg["n_diverged"], [0, 1])
    eg = ds["eg"].values
    np.testing.assert_allclose(avg["eg_mean"].values[0], eg[[0, 3]].mean(axis=0))
    np.testing.assert_allclose(avg["eg_mean"].values[1], eg[[4, 6, 7]].mean(axis=0))
    assert np.isfinite(avg["eg_mean"].values).all()  # NaN of pending/diverged runs left out


def test_seed_average_of_a_diverging_campaign(diverging):
    path, printed = diverging
    ds = pa.load_campaign(path)["K2_M2"]
    np.testing.assert_array_equal(ds["status"].values, [1, 1, 1, 2, 2, 2])
    avg = pa.seed_average(ds)
    for p, table in enumerate(printed):
        assert avg["n_completed"].values[p] == table["completed"]
        assert avg["n_diverged"].values[p] == table["diverged"]
    np.testing.assert_array_equal(avg["n_diverged"], [0, 3])
    assert np.isnan(avg["eg_mean"].values[1]).all()  # no completed run at eta = 50
    assert np.isfinite(avg["eg_mean"].values[0]).all()
    # Diverged runs: finite records, then NaN; specialization and plateaus do not fail.
    assert np.isnan(ds["eg"].values[3:, -1]).all()
    assert not pa.plateaus(ds)["found"].values[3:].any()
    assert pa.specialization(ds)["alpha_end"].values[3] < ds["alpha"].values[-1]


def test_written_layout_reads_with_plain_xarray(tmp_path):
    """Files from plateau_analysis.synthetic follow the schema layout (netCDF-4 via h5netcdf)."""
    import xarray as xr

    alpha = np.array([0.0, 1.0, 10.0])
    group = make_group(alpha, [[0.5, 0.1, 0.01]], np.ones((1, 3, 1, 1)),
                       np.zeros((1, 3, 1, 1)), np.eye(1), coords={"eta": [0.5], "N": [10]})
    path = write_campaign(tmp_path / "t.h5", {"K1_M1": group}, kind="theory")
    with xr.open_dataset(path, group="K1_M1", engine="h5netcdf") as ds:
        assert ds["eg"].dims == ("run", "alpha")
        assert set(ds.coords) >= {"alpha", "run_index", "seed", "eta", "N"}
        assert ds["status"].values.tolist() == [1]
    ds = pa.load_campaign(path)["K1_M1"]
    assert ds.attrs["kind"] == "theory" and ds.attrs["K"] == 1
    avg = pa.seed_average(ds)
    assert np.isnan(avg["specialization_index_mean"]).all()  # M = 1: nothing to specialize on


def test_engine_summary_is_one_line_per_grid_point(plateau_program, tmp_path):
    """The default summary of `plateau run`: one line per grid point with its outcomes, the runs
    specialized, the seed-mean eps_g at the end and (with a training set) eps_t; the file named
    for plateau heights and escape times. --table gives the eps_g(alpha) table instead."""
    path = tmp_path / "finite.h5"
    stdout = run_plateau(plateau_program, path, "--eta", "0.5,1.0", "--seeds", 2, "--N", 50,
                         "--alpha-max", 20, "--alpha-train", 5, "--records", 20)
    lines = [line for line in stdout.splitlines() if line.strip()]
    points = [line for line in lines if line.startswith("grid point ")]
    assert len(points) == 2
    assert len(lines) == 3, stdout  # the points and the note naming the file
    for line in points:
        assert " of 2; specialized " in line and "eps_g(end) " in line and "eps_t(end) " in line
    assert f"python3 -m plateau_analysis summary {path}" in lines[-1]
    long = run_plateau(plateau_program, path, "--eta", "0.5", "--seeds", 2, "--N", 50,
                       "--alpha-max", 20, "--records", 20, "--table")
    rows = parse_summary(long)[0]["rows"]
    assert rows.shape[0] >= 10 and rows[0, 0] == 0.0
