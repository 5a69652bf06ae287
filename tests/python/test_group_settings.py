"""Every setting, swept or not, is in each group (a per-run coordinate or a group attribute),
with the file's provenance: groups of several files concatenate and still tell their runs
apart."""

from __future__ import annotations

import h5py
import numpy as np
import xarray as xr

import plateau_analysis as pa
from conftest import run_plateau

PROVENANCE = ("schema", "schema_version", "schema_version_minor", "kind", "software_version",
              "git_describe", "config_sha256", "master_seed", "seeds", "created")


def text(value):
    return value.decode() if isinstance(value, bytes) else value


def test_each_group_holds_its_settings_and_the_provenance(plateau_program, tmp_path):
    out = tmp_path / "k.h5"
    run_plateau(plateau_program, out, "--N", 40, "--K", "2, 3", "--alpha-max", 1, "--records", 4,
                "--seeds", 1, "--noise", 0.01, "--activation", "relu")
    with h5py.File(out, "r") as f:
        root = {k: text(v) for k, v in f.attrs.items()}
        for name in ("K2_M2", "K3_M2"):
            attrs = {k: text(v) for k, v in f[name].attrs.items()}
            for key in PROVENANCE:
                assert attrs[key] == root[key], (name, key)
            settings = attrs["settings"].split()
            assert "noise" in settings and "activation" in settings
            assert attrs["noise"] == 0.01
            assert attrs["activation"] == "relu"
            records = np.asarray(attrs["records"])  # one-element arrays, as netCDF-C writes them
            assert records.dtype.kind == "i" and records.item() == 4
            # Swept keys are per-run coordinates, campaign keys root attributes: not settings.
            for key in ("K", "N", "eta", "seeds", "seed", "threads"):
                assert key not in settings
            assert attrs["K"] == int(name[1])


def test_groups_of_two_files_concatenate_with_their_settings(plateau_program, tmp_path):
    a, b = tmp_path / "a.h5", tmp_path / "b.h5"
    run_plateau(plateau_program, a, "--N", 40, "--alpha-max", 1, "--records", 4, "--seeds", 2)
    run_plateau(plateau_program, b, "--N", 40, "--alpha-max", 1, "--records", 4, "--seeds", 2,
                "--noise", 0.1, "--learn-v")
    da, db = pa.load_campaign(a)["K2_M2"], pa.load_campaign(b)["K2_M2"]
    assert float(da["noise"]) == 0.0 and float(db["noise"]) == 0.1  # scalar coordinates
    both = xr.concat([da, db], dim="run")
    np.testing.assert_array_equal(both["noise"].values, [0.0, 0.0, 0.1, 0.1])
    assert list(both["learn_v"].values) == ["false", "false", "true", "true"]
    # Settings that agree stay one scalar.
    assert both["activation"].dims == () and str(both["activation"].values) == "erf"
