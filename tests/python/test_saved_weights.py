"""Saved weights (``save-weights``, analysis/SCHEMA.md "Saved weights") read from Python:
``plateau_analysis.saved_weights`` gives each run's W, v, B, v* at its own N, whose overlaps are
the recorded Q, R, T; a file without weights reads as before and has none."""

from __future__ import annotations

import numpy as np

import plateau_analysis as pa
from conftest import run_plateau

SMALL = ["--N", "20,30", "--alpha-max", "1.5", "--records", "4", "--seeds", "2", "--learn-v"]


def test_final_weights_give_the_last_record(plateau_program, tmp_path):
    out = tmp_path / "final.h5"
    run_plateau(plateau_program, out, *SMALL, "--save-weights", "final")
    ds = pa.load_campaign(out)["K2_M2"]
    assert ds.sizes["input"] == 30
    for r in range(ds.sizes["run"]):
        w = pa.saved_weights(ds, r)
        n = int(ds["N"].values[r])
        assert w["W"].shape == (2, n) and w["B"].shape == (2, n)
        assert np.isfinite(w["W"]).all()
        last = ds.isel(run=r, alpha=-1)
        assert w["alpha"] == float(ds["alpha"].values[-1])
        np.testing.assert_allclose(w["W"] @ w["W"].T, last["Q"].values, rtol=1e-13, atol=1e-15)
        np.testing.assert_allclose(w["W"] @ w["B"].T, last["R"].values, rtol=1e-13, atol=1e-15)
        np.testing.assert_allclose(w["B"] @ w["B"].T, ds["T"].values[r], rtol=1e-13, atol=1e-15)
        np.testing.assert_array_equal(w["v"], last["v"].values)
        # The padding past the run's own N is NaN.
        assert np.isnan(ds["weights_W"].values[r][:, n:]).all()


def test_a_file_without_weights_has_none(plateau_program, tmp_path):
    out = tmp_path / "none.h5"
    run_plateau(plateau_program, out, *SMALL)
    ds = pa.load_campaign(out)["K2_M2"]
    assert "input" not in ds.sizes
    assert not any(name in ds.variables for name in pa.WEIGHT_VARIABLES)
    assert pa.saved_weights(ds, 0) is None
    assert ds.attrs["schema_version_minor"] == 11


def test_files_of_other_n_read_as_one_sweep(plateau_program, tmp_path):
    # load_sweep pads the input axis of the file of smaller N with NaN, as a file pads its own
    # runs of smaller N.
    small, large = tmp_path / "small.h5", tmp_path / "large.h5"
    common = ["--alpha-max", "1", "--records", "3", "--seeds", "1", "--save-weights", "final"]
    run_plateau(plateau_program, small, "--N", "20", *common, "--seed", "1")
    run_plateau(plateau_program, large, "--N", "30", *common, "--seed", "2")
    ds = pa.load_sweep([small, large])["K2_M2"]
    assert ds.sizes["input"] == 30
    for r in range(ds.sizes["run"]):
        w = pa.saved_weights(ds, r)
        assert w["W"].shape == (2, int(ds["N"].values[r]))
        np.testing.assert_allclose(w["W"] @ w["W"].T, ds["Q"].isel(run=r, alpha=-1).values,
                                   rtol=1e-13, atol=1e-15)
