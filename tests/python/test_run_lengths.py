"""Runs of different lengths in one file (alpha-max swept or scaled with 1/eta), and common
initial conditions (init-seed = shared), read back through plateau_analysis."""

from __future__ import annotations

import numpy as np
import pytest

import plateau_analysis as pa
from conftest import run_plateau


def test_swept_alpha_max_shares_the_longest_grid(plateau_program, tmp_path):
    out = tmp_path / "lengths.h5"
    run_plateau(plateau_program, out, "--N", 60, "--alpha-max", "5, 20", "--records", 20,
                "--seeds", 2)
    ds = pa.load_campaign(out)["K2_M2"]  # refused before: NaN in completed runs
    assert list(ds["alpha_max"].values) == [5.0, 5.0, 20.0, 20.0]
    assert float(ds["alpha"].values[-1]) == 20.0
    recorded = np.isfinite(ds["eg"].values)
    inside = ds["alpha"].values[None, :] <= ds["alpha_max"].values[:, None]
    assert (recorded == inside).all()  # every record of a run's own range, nothing after
    assert (ds["status"].values == pa.COMPLETED).all()
    # The grid point of each length is a point of its own, and a sweep coordinate.
    assert "alpha_max" in pa.swept_coordinates(ds)


def test_alpha_max_scaled_with_inverse_eta(plateau_program, tmp_path):
    out = tmp_path / "scaled.h5"
    run_plateau(plateau_program, out, "--N", 60, "--eta", "0.5, 2", "--alpha-max", 10,
                "--alpha-max-scale", "inverse-eta", "--records", 25, "--seeds", 2)
    ds = pa.load_campaign(out)["K2_M2"]
    np.testing.assert_array_equal(ds["alpha_max"].values, [20.0, 20.0, 5.0, 5.0])
    np.testing.assert_array_equal(ds["alpha_max"].values * ds["eta"].values, 10.0)
    last = ds["eg"].notnull().sum("alpha").values
    assert (last[2:] < last[:2]).all()
    # alpha_max follows eta: it is not a second sweep axis of the figures.
    assert pa.swept_coordinates(ds) == ["eta"]


def test_a_completed_run_with_a_hole_inside_its_range_is_still_refused(plateau_program,
                                                                      tmp_path):
    import h5py
    import pytest

    out = tmp_path / "hole.h5"
    run_plateau(plateau_program, out, "--N", 60, "--alpha-max", "5, 20", "--records", 20,
                "--seeds", 1)
    with h5py.File(out, "r+") as f:
        eg = f["K2_M2/eg"]
        row = eg[0]
        row[1] = np.nan  # alpha_1 = 0.01 < alpha_max = 5
        eg[0] = row
    with pytest.raises(pa.CampaignError, match="NaN or inf in completed"):
        pa.load_campaign(out)


@pytest.mark.parametrize("dynamics", ["full", "gram"])
def test_shared_initial_conditions_across_eta(plateau_program, tmp_path, dynamics):
    out = tmp_path / "shared.h5"
    run_plateau(plateau_program, out, "--N", 80, "--eta", "0.3, 1", "--alpha-max", 2,
                "--records", 5, "--seeds", 3, "--init-seed", "shared", "--dynamics", dynamics)
    ds = pa.load_campaign(out)["K2_M2"]
    q0 = ds["Q"].isel(alpha=0).values
    r0 = ds["R"].isel(alpha=0).values
    np.testing.assert_array_equal(q0[:3], q0[3:])  # seed s at eta = 0.3 and at eta = 1
    np.testing.assert_array_equal(r0[:3], r0[3:])
    assert not np.array_equal(q0[0], q0[1])  # seeds differ
    assert not np.array_equal(ds["Q"].values[0, -1], ds["Q"].values[3, -1])  # then diverge
