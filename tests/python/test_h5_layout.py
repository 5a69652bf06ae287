"""The file written by tests/fixtures/h5_fixture.cpp (through engine/h5) opens without custom code
in xarray (engine="h5netcdf"), h5py and netCDF-C's ncdump, with the netCDF-4 layout:
named dimensions, coordinates, attributes, NaN for the unwritten run."""

import os
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

h5py = pytest.importorskip("h5py")
xr = pytest.importorskip("xarray")
pytest.importorskip("h5netcdf")

GROUP = "K2_M2"
DIMS = {"run": 3, "alpha": 4, "student": 2, "student2": 2, "teacher": 2, "teacher2": 2}
NOT_A_VARIABLE = "This is a netCDF dimension but not a netCDF variable."


def fixture_program() -> Path:
    build = os.environ.get("PLATEAU_BUILD_DIR")
    if not build:
        pytest.skip("PLATEAU_BUILD_DIR is not set")
    program = Path(build) / "fixtures" / "h5_fixture"
    if not program.exists():
        pytest.skip(f"{program} is not built")
    return program


@pytest.fixture(scope="module")
def h5_file(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("h5_layout") / "fixture.h5"
    result = subprocess.run(
        [str(fixture_program()), str(path)], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    assert path.exists()
    return path


@pytest.fixture()
def ds(h5_file):
    with xr.open_dataset(h5_file, group=GROUP, engine="h5netcdf") as dataset:
        yield dataset


def test_fixture_refuses_to_overwrite(h5_file):
    before = h5_file.read_bytes()
    result = subprocess.run(
        [str(fixture_program()), str(h5_file)], capture_output=True, text=True, timeout=60
    )
    assert result.returncode != 0
    assert "H5Fcreate" in result.stderr and str(h5_file) in result.stderr
    assert h5_file.read_bytes() == before


def test_dimensions(ds):
    assert dict(ds.sizes) == DIMS
    assert ds.eg.dims == ("run", "alpha")
    assert ds.Q.dims == ("run", "alpha", "student", "student2")
    assert ds.R.dims == ("run", "alpha", "student", "teacher")
    assert ds.T.dims == ("run", "teacher", "teacher2")
    assert ds.status.dims == ("run",)
    # Dimensions without coordinate values are not variables.
    for name in ("run", "student", "student2", "teacher", "teacher2"):
        assert name not in ds.variables


def test_coordinates(ds):
    assert set(ds.coords) == {"alpha", "eta", "activation"}
    assert "alpha" in ds.indexes
    np.testing.assert_array_equal(ds.alpha.values, [0.0, 1.0, 10.0, 100.0])
    assert ds.eta.dims == ("run",) and ds.eta.dtype == np.float64
    assert ds.activation.dims == ("run",)
    assert set(ds.data_vars) == {"eg", "Q", "R", "T", "status", "N"}


def test_values_and_fill(ds):
    eg = ds.eg.values
    assert eg.dtype == np.float64
    np.testing.assert_allclose(eg[0], [0.5 / (1 + a) for a in range(4)])
    np.testing.assert_allclose(eg[2], [0.5 / (1 + a) + 0.02 for a in range(4)])
    assert np.isnan(eg[1]).all()
    q = ds.Q.values
    assert np.isnan(q[1]).all()
    np.testing.assert_allclose(q[0, 3], [[1.3, 0.0], [0.0, 1.3]])
    np.testing.assert_allclose(q[2, 0], [[1.0, 0.02], [0.02, 1.0]])
    assert np.isnan(ds.R.values).all() and np.isnan(ds.T.values).all()
    eta = ds.eta.values
    assert eta[0] == 0.5 and eta[2] == 0.5 and np.isnan(eta[1])
    assert list(ds.activation.values) == ["erf", "", "relu"]
    assert ds.status.dtype == np.int8
    np.testing.assert_array_equal(ds.status.values, [1, 0, 2])
    np.testing.assert_array_equal(ds.N.values[[0, 2]], [100, 100])


def test_attributes(ds, h5_file):
    assert ds.eg.attrs["long_name"] == "generalisation error"
    assert ds.eg.attrs["units"] == "1"
    assert ds.alpha.attrs == {"long_name": "training time (examples / N)", "units": "1"}
    assert ds.eta.attrs["long_name"] == "learning rate"
    assert ds.activation.attrs["long_name"] == "activation function"
    assert ds.Q.encoding["chunksizes"] == (1, 4, 2, 2)
    status = ds.status.attrs
    assert status["flag_meanings"] == "pending completed diverged"
    assert status["flag_values"].dtype == np.int8
    np.testing.assert_array_equal(status["flag_values"], [0, 1, 2])
    assert ds.attrs == {"K": 2, "M": 2}
    with xr.open_dataset(h5_file, engine="h5netcdf") as root:
        assert root.attrs["schema"] == "plateau-campaign"
        assert root.attrs["schema_version"] == 1
        assert isinstance(root.attrs["schema_version"], np.integer)
        assert root.attrs["config"] == "[campaign]\nK = 2\nM = 2\neta = [0.5]\n"
        assert root.attrs["tolerance"] == 1e-6


def test_groupby_per_run_coordinate(ds):
    mean = ds.eg.groupby("eta").mean()
    assert mean.dims == ("eta", "alpha")
    np.testing.assert_array_equal(mean.eta.values, [0.5])  # the unwritten run (NaN) is dropped
    np.testing.assert_allclose(mean.values[0], [0.5 / (1 + a) + 0.01 for a in range(4)])


def test_second_group(h5_file):
    with xr.open_dataset(h5_file, group="K1_M1", engine="h5netcdf") as ds:
        assert dict(ds.sizes) == {"run": 2, "alpha": 2}
        np.testing.assert_allclose(ds.eg.values, [[0.4, 0.1], [0.3, 0.05]])


def test_hdf5_layout(h5_file):
    with h5py.File(h5_file, "r") as f:
        # Link and attribute creation order tracked and indexed (netCDF-C needs it).
        tracked = h5py.h5p.CRT_ORDER_TRACKED | h5py.h5p.CRT_ORDER_INDEXED
        for group in (f["/"], f[GROUP]):
            plist = group.id.get_create_plist()
            assert plist.get_link_creation_order() == tracked
            assert plist.get_attr_creation_order() == tracked
        assert f[GROUP]["eg"].id.get_create_plist().get_attr_creation_order() == tracked
        names = []
        f.id.links.iterate(names.append, idx_type=h5py.h5.INDEX_CRT_ORDER)
        assert names == [b"K2_M2", b"K1_M1"]
        assert f.attrs["_NCProperties"].startswith(b"version=2,")
        g = f[GROUP]
        dimids = []
        for group in (f["K2_M2"], f["K1_M1"]):
            for name, obj in group.items():
                if obj.attrs.get("CLASS") == b"DIMENSION_SCALE":
                    dimids.append(int(obj.attrs["_Netcdf4Dimid"]))
        assert sorted(dimids) == list(range(8))  # unique file-wide
        run = g["run"]
        assert run.attrs["NAME"] == (NOT_A_VARIABLE + "%10d" % 3).encode()
        assert run.dtype == np.dtype(">f4") and run.shape == (3,)
        assert g["alpha"].attrs["NAME"] == b"alpha"
        eg = g["eg"]
        assert [dim[0].name for dim in eg.dims] == ["/K2_M2/run", "/K2_M2/alpha"]
        assert eg.id.get_create_plist().get_alloc_time() == h5py.h5d.ALLOC_TIME_EARLY
        assert np.isnan(eg.fillvalue)
        assert eg.attrs["_FillValue"].dtype == np.float64
        np.testing.assert_array_equal(g["Q"].attrs["_Netcdf4Coordinates"], [0, 1, 2, 3])
        activation = g["activation"]
        assert h5py.check_string_dtype(activation.dtype).length is None  # variable length
        assert h5py.check_string_dtype(activation.dtype).encoding == "utf-8"


def test_ncdump(h5_file):
    if shutil.which("ncdump") is None:
        pytest.skip("ncdump is not installed")
    result = subprocess.run(
        ["ncdump", "-h", str(h5_file)], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert 0 < out.index("group: K2_M2 {") < out.index("group: K1_M1 {")  # creation order
    for name, size in DIMS.items():
        assert f"\t{name} = {size} ;" in out
    for line in (
        "double alpha(alpha) ;",
        "double eg(run, alpha) ;",
        "double Q(run, alpha, student, student2) ;",
        "double R(run, alpha, student, teacher) ;",
        "double eta(run) ;",
        "int64 N(run) ;",
        "string activation(run) ;",
        "byte status(run) ;",
        'status:flag_meanings = "pending completed diverged" ;',
        "status:flag_values = 0b, 1b, 2b ;",
        'eg:coordinates = "eta activation" ;',
        ':schema = "plateau-campaign" ;',
        ":schema_version = 1LL ;",
    ):
        assert line in out, line
    # The data section reads too (netCDF-C shows fill values as "_").
    data = subprocess.run(
        ["ncdump", "-v", "eta,status", "-g", GROUP, str(h5_file)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert data.returncode == 0, data.stderr
    assert "eta = 0.5, _, 0.5 ;" in data.stdout
    assert "status = 1, 0, 2 ;" in data.stdout
