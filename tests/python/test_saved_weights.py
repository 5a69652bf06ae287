"""Saved weights (``save-weights``, analysis/SCHEMA.md "Saved weights") read from Python:
``plateau_analysis.saved_weights`` gives each run's W, v, B, v* at its own N, whose overlaps are
the recorded Q, R, T; a file without weights reads as before and has none. With
``save-weights = records`` the student's weights at every record give each record's Q, R, v,
saving them changes no run, and ``--dry-run`` counts them."""

from __future__ import annotations

import re

import h5py
import numpy as np
import pytest

import plateau_analysis as pa
from conftest import dataset_bytes, make_pending, run_plateau, run_program

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
    assert ds.attrs["schema_version_minor"] == 13  # the writer's (1.13 added a theory variable)
    assert "escape_level" not in ds.sizes  # a simulation file holds none of the law


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


# save-weights = records (schema 1.12): the student's weights at every record time.
RECORDS = ["--N", "20,30", "--alpha-max", "2", "--records", "6", "--seeds", "2", "--learn-v"]


def test_record_weights_give_every_records_q_r_and_v(plateau_program, tmp_path):
    out = tmp_path / "records.h5"
    run_plateau(plateau_program, out, *RECORDS, "--save-weights", "records")
    ds = pa.load_campaign(out)["K2_M2"]
    assert ds.attrs["schema_version_minor"] == 13  # the writer's (1.13 added a theory variable)
    assert "escape_level" not in ds.sizes  # a simulation file holds none of the law
    assert ds["record_weights_W"].dims == ("run", "alpha", "student", "input")
    assert ds["record_weights_v"].dims == ("run", "alpha", "student")
    assert ds.sizes["input"] == 30
    with h5py.File(out, "r") as f:  # one chunk per record of a run, checksummed
        assert f["K2_M2/record_weights_W"].chunks == (1, 1, 2, 30)
        assert f["K2_M2/record_weights_v"].chunks == (1, 1, 2)
        assert f["K2_M2/record_weights_W"].fletcher32
    for r in range(ds.sizes["run"]):
        n = int(ds["N"].values[r])
        for a in range(ds.sizes["alpha"]):
            w = pa.saved_weights(ds, r, record=a)
            rec = ds.isel(run=r, alpha=a)
            assert w["W"].shape == (2, n) and w["B"].shape == (2, n)
            assert w["alpha"] == float(ds["alpha"].values[a])
            np.testing.assert_allclose(w["W"] @ w["W"].T, rec["Q"].values, rtol=1e-13,
                                       atol=1e-15)
            np.testing.assert_allclose(w["W"] @ w["B"].T, rec["R"].values, rtol=1e-13,
                                       atol=1e-15)
            np.testing.assert_array_equal(w["v"], rec["v"].values)
        assert np.isnan(ds["record_weights_W"].values[r][:, :, n:]).all()
        # The per-run weights are the final ones, the last record's, bit for bit.
        final, last = pa.saved_weights(ds, r), pa.saved_weights(ds, r, record=-1)
        assert final["alpha"] == last["alpha"]
        np.testing.assert_array_equal(final["W"], last["W"])
        np.testing.assert_array_equal(final["v"], last["v"])
    # The weights move: the first record's are not the last's.
    assert not np.allclose(pa.saved_weights(ds, 0, record=0)["W"],
                           pa.saved_weights(ds, 0, record=-1)["W"])


def test_other_files_have_no_record_weights(plateau_program, tmp_path):
    out = tmp_path / "final.h5"
    run_plateau(plateau_program, out, *SMALL, "--save-weights", "final")
    ds = pa.load_campaign(out)["K2_M2"]
    assert not any(name in ds.variables for name in pa.RECORD_WEIGHT_VARIABLES)
    with pytest.raises(ValueError, match="save-weights = records"):
        pa.saved_weights(ds, 0, record=0)


def _without_weights(data: dict) -> dict:
    """The datasets but the weights, their axis and run_checksum (which covers the weights)."""
    return {k: v for k, v in data.items()
            if "weights_" not in k and not k.endswith(("input", "run_checksum"))}


def test_saving_every_record_changes_no_run(plateau_program, tmp_path):
    """Q, R, eg, ... of a records file are those of a file without weights, bit for bit, for 1
    and 2 threads and after --resume of runs left pending (their weights lost too)."""
    plain, one, two = tmp_path / "plain.h5", tmp_path / "one.h5", tmp_path / "two.h5"
    run_plateau(plateau_program, plain, *RECORDS, "--threads", "1")
    run_plateau(plateau_program, one, *RECORDS, "--threads", "1", "--save-weights", "records")
    run_plateau(plateau_program, two, *RECORDS, "--threads", "2", "--save-weights", "records")
    reference = dataset_bytes(plain)
    assert _without_weights(dataset_bytes(one)) == _without_weights(reference)
    assert len(_without_weights(reference)) == len(reference) - 1
    full = dataset_bytes(one)
    assert dataset_bytes(two) == full
    pending = make_pending(one, tmp_path / "pending.h5", [0, 3])
    with h5py.File(pending, "r+") as f:
        for name in (*pa.WEIGHT_VARIABLES, *pa.RECORD_WEIGHT_VARIABLES):
            f["K2_M2"][name][0] = np.nan
            f["K2_M2"][name][3] = np.nan
    r = run_program(plateau_program, "run", *RECORDS, "--threads", "2", "--quiet",
                    "--save-weights", "records", "--resume", "-o", pending)
    assert r.returncode == 0, r.stderr
    assert dataset_bytes(pending) == full


UNITS = {"B": 1.0, "kB": 1e3, "MB": 1e6, "GB": 1e9}


def test_dry_run_counts_the_record_weights(plateau_program, tmp_path):
    """The file size --dry-run prints is within 10 % of the file's (its estimate is "within a
    few percent", engine/io/writer.hpp), the weights at every record being most of it."""
    args = ["--N", "400", "--alpha-max", "1", "--records", "20", "--seeds", "3",
            "--save-weights", "records"]
    r = run_program(plateau_program, "run", *args, "--dry-run")
    assert r.returncode == 0, r.stderr
    m = re.search(r"file size:\s+~([0-9.e+-]+) (B|kB|MB|GB)", r.stdout)
    assert m, r.stdout
    estimate = float(m.group(1)) * UNITS[m.group(2)]
    out = tmp_path / "records.h5"
    run_plateau(plateau_program, out, *args)
    size = out.stat().st_size
    weights = 3 * 20 * 2 * 401 * 8  # runs x records x K (N + 1) doubles
    assert size > weights
    assert abs(estimate - size) <= 0.1 * size, (estimate, size)
