"""plateau_analysis's public API in xarray's conventions: ``open_*`` lazy, ``load_*`` eager (file
closed), ``**kwargs`` passed to ``xarray.open_dataset``, the checks each does; ``seed_average``
by ``groupby`` equal to the loop it replaced; titles from the file's own settings."""

from __future__ import annotations

import shutil
import warnings

import h5py
import numpy as np
import pytest
import xarray as xr

from conftest import run_plateau

import plateau_analysis as pa
from plateau_analysis.campaign import COMPLETED, DIVERGED, PENDING
from plateau_analysis.figures import _title, settings_text
from plateau_analysis.synthetic import make_group, write_campaign

GROUP = "K2_M2"


@pytest.fixture(scope="module")
def small(plateau_program, tmp_path_factory):
    """2 grid points x 3 seeds, q0 and noise set away from the engine's defaults."""
    path = tmp_path_factory.mktemp("api") / "small.h5"
    run_plateau(plateau_program, path, "--N", 50, "--alpha-max", 2, "--records", 6,
                "--seeds", 3, "--eta", "0.3,0.6", "--q0", 0.5, "--noise", 0.01)
    return path


def copy(src, tmp_path, name="copy.h5"):
    out = tmp_path / name
    shutil.copyfile(src, out)
    return out


# --------------------------------------------------------------------------------------------
# open_* lazy, load_* eager


def test_open_campaign_is_lazy(small):
    ds = pa.open_campaign(small)[GROUP]
    try:
        assert ds["eg"].variable._in_memory is False
        assert ds["Q"].variable._in_memory is False
        assert ds.attrs["kind"] == "simulation" and ds.attrs["pending_runs"] == 0
        ds.load()
        assert ds["eg"].variable._in_memory is True
        assert np.isfinite(ds["eg"].values).all()
    finally:
        ds.close()


def test_load_campaign_reads_everything_and_closes_the_file(small, tmp_path):
    path = copy(small, tmp_path)
    ds = pa.load_campaign(path)[GROUP]
    assert all(v.variable._in_memory for v in ds.data_vars.values())
    with h5py.File(path, "r+") as f:  # closed: it can be opened for writing
        f.attrs["touched"] = 1
    path.unlink()
    expected = pa.load_campaign(small)[GROUP]
    np.testing.assert_array_equal(ds["eg"].values, expected["eg"].values)
    np.testing.assert_array_equal(ds["R"].values, expected["R"].values)


def test_open_and_load_sweep_and_grid(small, tmp_path):
    lazy = pa.open_sweep(small)[GROUP]
    try:
        assert lazy["eg"].variable._in_memory is False
    finally:
        lazy.close()
    path = copy(small, tmp_path)
    swept = pa.load_sweep([path])[GROUP]
    grid = pa.load_grid(path)[GROUP]
    path.unlink()
    assert swept["eg"].variable._in_memory and swept.sizes["run"] == 6
    assert dict(grid["eg"].sizes) == {"eta": 2, "N": 1, "seed": 3, "alpha": 6}
    assert np.isfinite(grid["eg"].sel(eta=0.6).values).all()


def test_kwargs_go_to_xarray(small):
    for read in (pa.open_campaign, pa.load_campaign, pa.open_sweep, pa.load_sweep,
                 pa.open_grid, pa.load_grid):
        groups = read(small, drop_variables=["eg_stderr", "examples"])
        ds = groups[GROUP]
        assert "eg_stderr" not in ds and "examples" not in ds and "eg" in ds, read.__name__
        ds.close()
    ds = pa.open_campaign(small, cache=False)[GROUP]
    ds.close()
    with pytest.raises(TypeError, match="group"):
        pa.open_campaign(small, group=GROUP)


# --------------------------------------------------------------------------------------------
# The checks: lazy checks what is cheap, eager everything


def test_flipped_bits_found_by_load_campaign_only(small, tmp_path):
    path = copy(small, tmp_path)
    with h5py.File(path, "r") as f:
        offset = f["K2_M2/Q"].id.get_chunk_info(4).byte_offset
    data = bytearray(path.read_bytes())
    data[offset + 3] ^= 0x10
    path.write_bytes(bytes(data))
    with pytest.raises(pa.CampaignError, match="checksum.*Q of run_index 4"):
        pa.load_campaign(path)
    ds = pa.open_campaign(path)[GROUP]  # lazy: not read yet
    try:
        np.testing.assert_array_equal(ds["eg"].values, pa.load_campaign(small)[GROUP]["eg"])
        with pytest.raises(OSError):
            ds["Q"].values
    finally:
        ds.close()


def test_nan_in_a_completed_run_found_by_load_campaign_only(small, tmp_path):
    path = copy(small, tmp_path)
    with h5py.File(path, "r+") as f:
        f["K2_M2/eg"][2, 3] = np.nan
    with pytest.raises(pa.CampaignError, match="NaN or inf.*run_index 2"):
        pa.load_campaign(path)
    ds = pa.open_campaign(path)[GROUP]
    assert np.isnan(ds["eg"].values[2, 3])
    ds.close()


def test_schema_and_flags_checked_by_both(small, tmp_path):
    path = copy(small, tmp_path)
    with h5py.File(path, "r+") as f:
        f["K2_M2/status"][1] = 9
    for read in (pa.open_campaign, pa.load_campaign):
        with pytest.raises(pa.CampaignError, match="status 9 of run_index 1"):
            read(path)
    path = copy(small, tmp_path, "v2.h5")
    with h5py.File(path, "r+") as f:
        f.attrs["schema_version"] = np.int64(2)
    for read in (pa.open_campaign, pa.load_campaign):
        with pytest.raises(pa.CampaignError, match="schema_version 2 is newer"):
            read(path)


def test_pending_runs_warn_for_both(small, tmp_path):
    path = copy(small, tmp_path)
    with h5py.File(path, "r+") as f:
        f["K2_M2/status"][5] = PENDING
    for read in (pa.open_campaign, pa.load_campaign):
        with pytest.warns(pa.IncompleteCampaignWarning, match="1 of 6 run") as record:
            ds = read(path)[GROUP]
        assert record[0].filename == __file__  # the warning names the caller's line
        assert ds.attrs["pending_runs"] == 1
        ds.close()


# --------------------------------------------------------------------------------------------
# seed_average by groupby: the numbers of the loop it replaced


def reference_seed_average(ds, quantiles=(0.1, 0.5, 0.9)):
    """The statistics of seed_average as computed before groupby (a loop over grid points)."""
    quantiles = np.asarray(quantiles, dtype=float)
    point_of_run = pa.grid_point_index(ds)
    status = np.asarray(ds["status"].values)
    theory = ds.attrs.get("kind") == "theory"
    done = [m[status[m] == COMPLETED]
            for m in (np.flatnonzero(point_of_run == p) for p in np.unique(point_of_run))]
    out = {}

    def stats(values):
        means, sems, qs = [], [], []
        for d in done:
            x = values[d]
            n = x.shape[0]
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", RuntimeWarning)
                if n == 0:
                    nan = np.full(values.shape[1:], np.nan)
                    means.append(nan)
                    sems.append(nan)
                    qs.append(np.full((quantiles.size, *values.shape[1:]), np.nan))
                    continue
                means.append(x.mean(axis=0))
                if n > 1:
                    sems.append(x.std(axis=0, ddof=1) / np.sqrt(n))
                else:
                    sems.append(np.zeros(values.shape[1:]) if theory
                                else np.full(values.shape[1:], np.nan))
                qs.append(np.quantile(x, quantiles, axis=0))
        return np.stack(means), np.stack(sems), np.stack(qs)

    for name in ("eg", "Q", "R", "v"):
        out[f"{name}_mean"], out[f"{name}_sem"], out[f"{name}_quantile"] = stats(
            ds[name].values)
    out["specialization_index_mean"] = stats(pa.specialization_index(ds).values)[0]
    out["T_mean"] = stats(ds["T"].values)[0]
    out["n_completed"] = np.array([d.size for d in done])
    return out


def synthetic_group(kind: str, seeds: int) -> xr.Dataset:
    """Random curves of 4 grid points: completed, diverged and pending runs, a point without a
    completed run, a completed run that stops early (NaN after its alpha_max)."""
    rng = np.random.default_rng(11)
    runs, A, K, M = 4 * seeds, 15, 3, 2
    alpha = np.linspace(0.0, 20.0, A)
    eg = rng.random((runs, A))
    status = np.full(runs, COMPLETED)
    status[seeds] = DIVERGED  # point 1
    status[2 * seeds:3 * seeds] = PENDING  # point 2: none completed
    eg[seeds, 7:] = np.nan
    eg[2 * seeds:3 * seeds] = np.nan
    eg[runs - 1, 10:] = np.nan  # completed, shorter
    ds = make_group(alpha, eg, rng.random((runs, A, K, K)), rng.random((runs, A, K, M)),
                    np.eye(M), v=rng.random((runs, A, K)), status=status, seeds=seeds,
                    coords={"eta": np.repeat([0.1, 0.2, 0.4, 0.8], seeds),
                            "N": np.full(runs, 100)})
    ds.attrs.update(kind=kind, seeds=seeds)
    return ds


@pytest.mark.parametrize("kind,seeds", [("simulation", 5), ("simulation", 1), ("theory", 1),
                                        ("theory", 3)])
def test_seed_average_by_groupby_equals_the_loop(kind, seeds):
    ds = synthetic_group(kind, seeds)
    avg = pa.seed_average(ds)
    expected = reference_seed_average(ds)
    for name, values in expected.items():
        np.testing.assert_array_equal(avg[name].values, values, err_msg=name)
    assert avg["eg_quantile"].dims == ("point", "quantile", "alpha")
    assert avg["Q_mean"].dims == ("point", "alpha", "student", "student2")
    np.testing.assert_array_equal(avg["eta"].values, [0.1, 0.2, 0.4, 0.8])
    np.testing.assert_array_equal(avg["n_runs"].values, [seeds] * 4)
    np.testing.assert_array_equal(avg["n_pending"].values, [0, 0, seeds, 0])


# --------------------------------------------------------------------------------------------
# Titles from the file's own settings


def test_titles_name_the_files_settings(small):
    ds = pa.load_campaign(small)[GROUP]
    title = _title(ds)
    # Set away from the engine's defaults, and at them: each with the file's value.
    for part in ("q₀ = 0.5", "s² = 0.01", "h = identity", "v₀ = 1", "v* = 1",
                 "teacher = orthonormal", "g = erf", "3 seeds per point"):
        assert part in title, title
    assert "γ" not in title and "learned v" not in title  # no tanh unit; v not learned
    assert "η =" not in title  # swept: in the legend


def test_titles_take_the_group_attributes_over_the_config_text(tmp_path):
    alpha = np.linspace(0.0, 10.0, 8)
    group = make_group(alpha, np.full((2, 8), 0.1), np.ones((2, 8, 2, 2)),
                       np.ones((2, 8, 2, 2)), np.eye(2), seeds=2,
                       coords={"eta": np.full(2, 0.5), "N": np.full(2, 10)})
    path = write_campaign(tmp_path / "s.h5", {GROUP: group}, kind="simulation", seeds=2,
                          attrs={"config": "q0 = 0.2\nactivation = tanh\ngamma = 1\n"})
    with h5py.File(path, "r+") as f:  # the group's own settings (analysis/SCHEMA.md)
        f[GROUP].attrs["settings"] = "q0 gamma"
        f[GROUP].attrs["q0"] = 0.7
        f[GROUP].attrs["gamma"] = 2.0
    ds = pa.load_campaign(path)[GROUP]
    assert settings_text(ds) == ["γ = 2", "q₀ = 0.7"]
    assert "g = tanh" in _title(ds)
