"""A campaign file written by `plateau run` opens in xarray (h5netcdf engine) and h5py with the
names of analysis/SCHEMA.md, and its values agree with each other and with the configuration."""

import os
import subprocess
from pathlib import Path

import h5py
import numpy as np
import pytest
import xarray as xr

from plateau_analysis.campaign import (CampaignError, group_name, load_campaign,
                                       parse_group_name, read_root_attributes)


def plateau() -> Path:
    build = os.environ.get("PLATEAU_BUILD_DIR")
    if not build or not (Path(build) / "plateau").exists():
        pytest.skip("the plateau program is not built (PLATEAU_BUILD_DIR)")
    return Path(build) / "plateau"


def run(*args, check=True):
    result = subprocess.run([str(plateau()), "run", *map(str, args)], capture_output=True,
                            text=True, timeout=300)
    if check:
        assert result.returncode == 0, result.stderr
    return result


@pytest.fixture(scope="module")
def eta_sweep(tmp_path_factory):
    """The issue's example: a 2-point eta sweep x 8 seeds at N = 500 (shortened in alpha)."""
    path = tmp_path_factory.mktemp("campaign") / "sweep.h5"
    run("--eta", "0.5, 1.0", "--seeds", 8, "--N", 500, "--alpha-max", 20, "--records", 25,
        "--quiet", "-o", path)
    return path


def test_dimensions_coordinates_and_variables(eta_sweep):
    ds = xr.open_dataset(eta_sweep, group="K2_M2", engine="h5netcdf")
    assert dict(ds.sizes) == {"run": 16, "alpha": 25, "student": 2, "student2": 2,
                              "teacher": 2, "teacher2": 2,
                              "student_deep": 2, "teacher_deep": 2,  # 1.3: v, v* for K = M = 2
                              "cluster": 1}  # 1.6: one for Gaussian inputs
    for name in ["alpha", "run_index", "seed", "N", "eta"]:
        assert name in ds.coords, name
    assert ds.eg.dims == ("run", "alpha")
    assert ds.Q.dims == ("run", "alpha", "student", "student2")
    assert ds.R.dims == ("run", "alpha", "student", "teacher")
    assert ds.T.dims == ("run", "teacher", "teacher2")
    assert ds.v.dims == ("run", "alpha", "student")
    assert ds.status.dims == ("run",)
    for name in ["eg", "Q", "R", "T", "v", "status", "alpha"]:
        assert ds[name].attrs["long_name"], name
    assert ds.alpha.attrs["units"] == "1"
    assert list(ds.status.attrs["flag_values"]) == [0, 1, 2]
    assert ds.status.attrs["flag_meanings"] == "pending completed diverged"


def test_values(eta_sweep):
    ds = xr.open_dataset(eta_sweep, group="K2_M2", engine="h5netcdf")
    # Run order: grid point (eta) major, seed minor.
    np.testing.assert_array_equal(ds.run_index, np.arange(16))
    np.testing.assert_array_equal(ds.seed, np.tile(np.arange(8), 2))
    np.testing.assert_array_equal(ds.eta, [0.5] * 8 + [1.0] * 8)
    np.testing.assert_array_equal(ds.N, 500)
    assert (ds.status == 1).all()
    assert float(ds.alpha[0]) == 0.0 and float(ds.alpha[-1]) == 20.0
    assert np.all(np.diff(ds.alpha) > 0)
    # Orthonormal teacher, fixed second layer, closed-form eps_g.
    np.testing.assert_allclose(ds.T, np.broadcast_to(np.eye(2), (16, 2, 2)), atol=1e-12)
    np.testing.assert_array_equal(ds.v, 1.0)
    np.testing.assert_array_equal(ds.eg_stderr, 0.0)
    # Q is symmetric, Q_jj(0) ~ q0 = 0.2, and eps_g falls.
    np.testing.assert_allclose(ds.Q, ds.Q.transpose("run", "alpha", "student2", "student"))
    assert abs(float(ds.Q.isel(alpha=0, student=0, student2=0).mean()) - 0.2) < 0.05
    assert (ds.eg.isel(alpha=-1) < ds.eg.isel(alpha=0)).all()
    # The closed form at alpha = 0 from (Q, R, T): erf I2 of docs/theory.md section 2.
    q = ds.Q.isel(alpha=0).values
    r = ds.R.isel(alpha=0).values
    t = ds.T.values
    def i2(c_ab, c_aa, c_bb):
        return 2 / np.pi * np.arcsin(c_ab / np.sqrt((1 + c_aa) * (1 + c_bb)))
    eg0 = 0.5 * (
        sum(i2(q[:, j, k], q[:, j, j], q[:, k, k]) for j in range(2) for k in range(2))
        + sum(i2(t[:, n, m], t[:, n, n], t[:, m, m]) for n in range(2) for m in range(2))
        - 2 * sum(i2(r[:, j, n], q[:, j, j], t[:, n, n]) for j in range(2) for n in range(2)))
    np.testing.assert_allclose(ds.eg.isel(alpha=0), eg0, rtol=1e-12)


def test_groupby_swept_parameter(eta_sweep):
    ds = xr.open_dataset(eta_sweep, group="K2_M2", engine="h5netcdf")
    mean = ds.eg.groupby("eta").mean()
    assert list(mean.eta.values) == [0.5, 1.0]
    np.testing.assert_allclose(mean.sel(eta=0.5), ds.eg.isel(run=slice(0, 8)).mean("run"))


def text(value):
    """Text attributes are fixed-length strings (netCDF NC_CHAR): h5py gives bytes."""
    return value.decode() if isinstance(value, bytes) else str(value)


def test_root_attributes(eta_sweep):
    with h5py.File(eta_sweep, "r") as f:
        a = f.attrs
        assert text(a["schema"]) == "plateau-campaign"
        assert a["schema_version"] == 1
        # 1.3: flow_error, escape_rate, eta_max, student_layers, teacher_layers; 1.4:
        # run_checksum; 1.5: plateau_eg, escape_predicted; 1.6: the mixture variables; 1.7:
        # outcome values 5 and 6; 1.8: the teacher variables (SCHEMA.md), which a one-teacher
        # file does not hold, but its version is the writer's; 1.9: the theory files' escape-time
        # law (a simulation file holds none of it, and is 1.9 too); 1.10: the theory files'
        # Q_sd, R_sd, v_sd (plateau ode --fluctuations); 1.11: saved weights (save-weights),
        # which a file written without them does not hold; 1.12: the weights at every record
        # (save-weights = records), nor these; 1.13: the theory files' escape_predicted_law
        # (a simulation file holds none of it, nor the dimension escape_level)
        assert a["schema_version_minor"] == 13
        assert text(a["kind"]) == "simulation"
        assert a["master_seed"] == 1 and a["seeds"] == 8 and a["runs"] == 16
        config = text(a["config"])
        assert "eta = 0.5, 1\n" in config and "threads" not in config
        import hashlib
        assert text(a["config_sha256"]) == hashlib.sha256(config.encode()).hexdigest()
        for key in ["software_version", "git_describe", "compiler", "command_line",
                    "created", "host"]:
            assert len(a[key]) > 0, key
        assert list(f.keys()) == ["K2_M2"]


def test_config_attribute_reproduces_the_campaign(eta_sweep, tmp_path):
    with h5py.File(eta_sweep, "r") as f:
        config = f.attrs["config"]
    ini = tmp_path / "again.ini"
    ini.write_text(text(config))
    again = tmp_path / "again.h5"
    run(ini, "--quiet", "-o", again)
    a = xr.open_dataset(eta_sweep, group="K2_M2", engine="h5netcdf")
    b = xr.open_dataset(again, group="K2_M2", engine="h5netcdf")
    for name in ["eg", "Q", "R", "T", "v", "status"]:
        np.testing.assert_array_equal(a[name], b[name])


def test_shape_sweep_gives_one_group_per_shape(tmp_path):
    path = tmp_path / "shapes.h5"
    run("--K", "1,2,3", "--M", 2, "--activation", "erf, relu", "--teacher-activation", "erf",
        "--N", 60, "--alpha-max", 2, "--records", 5, "--seeds", 2, "--quiet", "-o", path)
    with h5py.File(path, "r") as f:
        assert sorted(f.keys()) == [group_name(K, 2) for K in (1, 2, 3)]
    for K in (1, 2, 3):
        ds = xr.open_dataset(path, group=group_name(K, 2), engine="h5netcdf")
        assert ds.sizes["student"] == K and ds.sizes["run"] == 4
        assert list(ds.activation.values) == ["erf", "erf", "relu", "relu"]
        assert "K" in ds.coords and (ds.K == K).all()
        # relu student with erf teacher has no closed form: Monte-Carlo eps_g with an error bar
        relu = ds.sel(run=ds.activation == "relu")
        assert (relu.eg_stderr > 0).all()
        assert (ds.sel(run=ds.activation == "erf").eg_stderr == 0).all()
    assert ds.attrs["K"] == 3 and ds.attrs["M"] == 2


def test_diverged_runs_are_recorded(tmp_path):
    path = tmp_path / "diverged.h5"
    run("--activation", "linear", "--teacher-activation", "linear", "--eta", "0.1, 50",
        "--N", 100, "--alpha-max", 20, "--records", 10, "--seeds", 2, "--quiet", "-o", path)
    ds = xr.open_dataset(path, group="K2_M2", engine="h5netcdf")
    np.testing.assert_array_equal(ds.status, [1, 1, 2, 2])
    assert ds.eg.isel(run=slice(0, 2)).notnull().all()
    assert ds.eg.isel(run=2).isnull().any()  # records after the divergence are NaN


def test_ncdump_reads_the_file(eta_sweep):
    import shutil
    if shutil.which("ncdump") is None:
        pytest.skip("ncdump (netcdf-bin) is not installed")
    out = subprocess.run(["ncdump", "-h", str(eta_sweep)], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert "group: K2_M2" in out.stdout and "double eg(run, alpha)" in out.stdout


def test_group_names():
    assert group_name(2, 13) == "K2_M13"
    assert parse_group_name(group_name(117, 1)) == (117, 1)
    for bad in ["", "K2", "K2_M", "k2_M2", "K2_M2x", "K-1_M2", "XK2_M2"]:
        assert parse_group_name(bad) is None, bad


def copy_with(src, dst, **attrs):
    """A copy of campaign file `src` with root attributes set (None: deleted)."""
    import shutil
    shutil.copy(src, dst)
    with h5py.File(dst, "r+") as f:
        for key, value in attrs.items():
            if value is None:
                del f.attrs[key]
            else:
                f.attrs[key] = np.int64(value)
    return dst


def test_reader_accepts_any_minor_version(eta_sweep, tmp_path):
    newer = copy_with(eta_sweep, tmp_path / "newer.h5", schema_version_minor=5)
    assert read_root_attributes(newer)["schema_version_minor"] == 5
    groups = load_campaign(newer)
    assert groups["K2_M2"].attrs["schema_version_minor"] == 5
    # A file written before the minor version existed is 1.0.
    old = copy_with(eta_sweep, tmp_path / "old.h5", schema_version_minor=None)
    attrs = read_root_attributes(old)
    assert (attrs["schema_version"], attrs["schema_version_minor"]) == (1, 0)
    assert load_campaign(old)["K2_M2"].sizes["run"] == 16


def test_reader_refuses_another_major_version(eta_sweep, tmp_path):
    newer = copy_with(eta_sweep, tmp_path / "v2.h5", schema_version=2, schema_version_minor=0)
    with pytest.raises(CampaignError, match=r"schema_version 2 is newer than this reader supports "
                                            r"\(major version 1, any minor version\)"):
        load_campaign(newer)
    older = copy_with(eta_sweep, tmp_path / "v0.h5", schema_version=0)
    with pytest.raises(CampaignError, match="unknown schema_version 0"):
        load_campaign(older)


def test_plateau_ode_init_from_refuses_another_major_version(eta_sweep, tmp_path):
    newer = copy_with(eta_sweep, tmp_path / "v2.h5", schema_version=2, schema_version_minor=0)
    result = subprocess.run(
        [str(plateau()), "ode", "--eta", "0.5, 1.0", "--seeds", "8", "--N", "500",
         "--alpha-max", "20", "--records", "25", "--init-from", str(newer), "--quiet",
         "-o", str(tmp_path / "th.h5")], capture_output=True, text=True, timeout=300)
    assert result.returncode == 2
    assert result.stderr == (f"plateau ode: invalid value '{newer}' for 'init-from': schema "
                             "version 2.0 is not readable by this plateau (it reads 1.x, any "
                             "minor version)\n")
    minor = copy_with(eta_sweep, tmp_path / "v1_4.h5", schema_version_minor=4)
    result = subprocess.run(
        [str(plateau()), "ode", "--eta", "0.5, 1.0", "--seeds", "8", "--N", "500",
         "--alpha-max", "20", "--records", "25", "--init-from", str(minor), "--quiet",
         "--predictions", "none", "-o", str(tmp_path / "th2.h5")], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
