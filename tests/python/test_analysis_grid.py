"""plateau_analysis.as_grid / open_grid: the grid of a campaign group as dimensions."""

from __future__ import annotations

import numpy as np
import pytest

import plateau_analysis as pa
from plateau_analysis.synthetic import make_group, write_campaign

ALPHA = np.r_[0.0, np.geomspace(0.01, 10.0, 9)]


def sweep(etas=(0.5, 1.0, 2.0), Ns=(50, 100), seeds=3):
    """One run per (eta, N, seed); eps_g = run_index + 1 (so every value names its run)."""
    grid = [(e, n, s) for e in etas for n in Ns for s in range(seeds)]
    runs = len(grid)
    eg = np.repeat(np.arange(1.0, runs + 1)[:, None], ALPHA.size, axis=1)
    Q = np.broadcast_to(np.eye(2), (runs, ALPHA.size, 2, 2))
    R = np.zeros((runs, ALPHA.size, 2, 2))
    status = np.ones(runs, dtype=int)
    status[-1] = 2
    return make_group(ALPHA, eg, Q, R, np.eye(2), status=status, seeds=seeds,
                      coords={"eta": [g[0] for g in grid], "N": [g[1] for g in grid],
                              "noise": np.zeros(runs)})


def test_as_grid_selects_by_value(tmp_path):
    path = write_campaign(tmp_path / "s.h5", {"K2_M2": sweep()}, kind="simulation", seeds=3)
    g = pa.load_grid(path)["K2_M2"]
    assert g["eg"].dims == ("eta", "N", "seed", "alpha")
    assert g["Q"].dims[:3] == ("eta", "N", "seed")
    # eta = 1 is the second eta, N = 100 the second N: run (1 * 2 + 1) * 3 + seed.
    np.testing.assert_array_equal(g.eg.sel(eta=1.0, N=100).isel(alpha=-1).values, [10, 11, 12])
    assert g["run_index"].sel(eta=2.0, N=100, seed=2).item() == 17
    assert g["status"].sel(eta=2.0, N=100, seed=2).item() == 2
    assert float(g["noise"]) == 0.0 and "noise" not in g.dims  # not swept: a scalar
    assert g.attrs["K"] == 2 and g.attrs["kind"] == "simulation"
    # Every per-run coordinate as a dimension on request.
    g_all = pa.as_grid(pa.load_campaign(path)["K2_M2"], all_coordinates=True)
    assert g_all.sizes["noise"] == 1


def test_as_grid_of_a_ragged_grid():
    ds = sweep().isel(run=slice(0, 16))  # the last two runs of (2.0, 100) missing
    g = pa.as_grid(ds)
    assert g["status"].sel(eta=2.0, N=100).values.tolist() == [1, -1, -1]
    assert np.isnan(g.eg.sel(eta=2.0, N=100, seed=2).values).all()


def test_as_grid_refuses_duplicate_runs():
    ds = sweep()
    ds = ds.assign_coords(seed=("run", np.zeros(ds.sizes["run"], dtype=np.int64)))
    with pytest.raises(ValueError, match="not a grid"):
        pa.as_grid(ds)


def test_plain_xarray_recipe(tmp_path):
    """The recipe of analysis/README.md for plain xarray gives the same grid."""
    path = write_campaign(tmp_path / "s.h5", {"K2_M2": sweep()}, kind="simulation", seeds=3)
    import xarray as xr

    ds = xr.open_dataset(path, group="K2_M2", engine="h5netcdf")
    plain = ds.set_index(run=["eta", "N", "seed"]).unstack("run")
    np.testing.assert_array_equal(plain.eg.sel(eta=1.0, N=100).transpose("seed", "alpha"),
                                  pa.load_grid(path)["K2_M2"].eg.sel(eta=1.0, N=100))
    ds.close()
