"""`plateau ode`: theory files in the campaign schema, initial conditions shared with the
simulations, clear errors, and the fixed-point report."""

import os
import subprocess
from pathlib import Path

import numpy as np
import pytest
import xarray as xr

from conftest import symmetric_fixed_point

ARGS = ["--eta", "0.5,1", "--seeds", "3", "--N", "200", "--alpha-max", "30", "--records", "20"]


def program() -> Path:
    build = os.environ.get("PLATEAU_BUILD_DIR")
    if not build or not (Path(build) / "plateau").exists():
        pytest.skip("the plateau program is not built (PLATEAU_BUILD_DIR)")
    return Path(build) / "plateau"


def plateau(*args, check=True):
    r = subprocess.run([str(program()), *map(str, args)], capture_output=True, text=True,
                       timeout=300)
    if check:
        assert r.returncode == 0, r.stderr
    return r


@pytest.fixture(scope="module")
def pair(tmp_path_factory):
    d = tmp_path_factory.mktemp("ode")
    plateau("run", *ARGS, "--quiet", "-o", d / "sim.h5")
    plateau("ode", *ARGS, "--predictions", "none", "--quiet", "-o", d / "theory.h5")
    return d / "sim.h5", d / "theory.h5"


def test_theory_file_has_the_simulation_layout(pair):
    sim = xr.open_dataset(pair[0], group="K2_M2", engine="h5netcdf")
    th = xr.open_dataset(pair[1], group="K2_M2", engine="h5netcdf")
    assert th.attrs["K"] == 2
    # `cluster` (1.6): both kinds hold mean_overlaps (docs/theory.md section 15c). The theory
    # file alone has `escape_level` (1.13): the levels of its escape_predicted_law.
    th_sizes = dict(th.sizes)
    assert th_sizes.pop("escape_level") == 99 and "escape_level" not in sim.sizes
    assert th_sizes == dict(sim.sizes)
    np.testing.assert_array_equal(th.alpha, sim.alpha)
    np.testing.assert_array_equal(th.eta, sim.eta)
    assert (th.status == 1).all() and (th.eg_stderr == 0).all()
    import h5py
    with h5py.File(pair[1]) as f:
        kind = f.attrs["kind"]
        assert (kind.decode() if isinstance(kind, bytes) else kind) == "theory"


def test_run_r_starts_where_simulation_run_r_starts(pair):
    sim = xr.open_dataset(pair[0], group="K2_M2", engine="h5netcdf")
    th = xr.open_dataset(pair[1], group="K2_M2", engine="h5netcdf")
    for name in ["Q", "R", "v", "eg"]:
        np.testing.assert_allclose(th[name].isel(alpha=0), sim[name].isel(alpha=0), rtol=1e-12,
                                   atol=1e-15)
    # ... and they stay close on the way (N = 200: spread ~ 1/sqrt(N)).
    diff = abs(th.eg - sim.eg).isel(alpha=slice(0, 12)).max()
    assert float(diff) < 0.05


def test_init_from_file_averaged(pair, tmp_path):
    out = tmp_path / "avg.h5"
    plateau("ode", *ARGS, "--init-from", pair[0], "--init-average", "--predictions", "none",
            "--quiet", "-o", out)
    sim = xr.open_dataset(pair[0], group="K2_M2", engine="h5netcdf")
    th = xr.open_dataset(out, group="K2_M2", engine="h5netcdf")
    assert th.sizes["run"] == 2  # one per grid point
    mean_q0 = sim.Q.isel(alpha=0).groupby("eta").mean()
    np.testing.assert_allclose(th.Q.isel(alpha=0).values, mean_q0.values, rtol=1e-12)


def test_init_from_a_file_of_another_campaign_is_refused(pair, tmp_path):
    r = plateau("ode", "--eta", "0.5", "--seeds", "3", "--init-from", pair[0], "-o",
                tmp_path / "x.h5", check=False)
    assert r.returncode == 2
    assert r.stderr.startswith("plateau ode: invalid value '")
    assert "for 'init-from': it holds 6 runs; this configuration has 3" in r.stderr
    assert not (tmp_path / "x.h5").exists()


def test_unsupported_model_is_a_clear_error(tmp_path):
    # Every two-layer model has a theory (docs/theory.md §8); deeper networks are refused.
    r = plateau("ode", "--K", "4x2", "--M", "4x2", "-o", tmp_path / "x.h5", check=False)
    assert r.returncode == 2
    assert r.stderr.count("\n") == 1
    assert "'4x2' for 'K'" in r.stderr and "one hidden layer" in r.stderr
    assert not (tmp_path / "x.h5").exists()


@pytest.mark.parametrize("K", [2, 3])
def test_fixed_point_small_eta_is_the_saad_solla_plateau(K):
    (r, q, c), eg = symmetric_fixed_point(0.001, K=K)
    # eta -> 0 (Saad & Solla 1995): Q = 1/(2K-1), R = 1/sqrt(K(2K-1)),
    # eps_g = (K/pi)[pi/6 - K arcsin(1/(2K))]; corrections are O(eta) (coefficients < 0.5).
    tol = 0.5 * 0.001
    assert abs(q - 1 / (2 * K - 1)) < tol and abs(c - 1 / (2 * K - 1)) < tol
    assert abs(r - 1 / np.sqrt(K * (2 * K - 1))) < tol
    assert abs(eg - K / np.pi * (np.pi / 6 - K * np.arcsin(1 / (2 * K)))) < tol


@pytest.mark.parametrize("extreme", [["--eta", "1e5"], ["--noise", "1e12"]],
                         ids=["eta=1e5", "noise=1e12"])
def test_a_flow_that_needs_ever_smaller_steps_ends_in_bounded_time(tmp_path, extreme):
    # Before: the integrator took ~10^9 steps and never finished, even for alpha-max = 0.1.
    # Now its step budget (OdeParams::max_steps) ends the run, which is recorded as diverged.
    out = tmp_path / "t.h5"
    r = subprocess.run([str(program()), "ode", *extreme, "--alpha-max", "0.1", "--alpha-min",
                        "0.001", "--records", "5", "--seeds", "1", "--quiet", "-o", str(out)],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    with xr.open_dataset(out, group="K2_M2", engine="h5netcdf") as ds:
        assert int(ds.status.values[0]) == 2  # diverged


def test_an_invalid_symmetric_start_is_bad_input_and_writes_nothing(tmp_path):
    # Before: exit status 1 from a worker, after the file had been created.
    out = tmp_path / "sym.h5"
    r = plateau("ode", "--init", "symmetric", "--r0", "1", "-o", out, check=False)
    assert r.returncode == 2, r.stderr
    assert "'r0'" in r.stderr and "r0^2 K M <= q0" in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1
    assert not out.exists() and not list(tmp_path.iterdir())


def test_no_fixed_point_is_said_not_printed_as_numbers():
    # Before: "Q_jj = 1e+08 ... eps_g = 1e+08 ... converged: NO".
    r = plateau("ode", "--fixed-point", "--eta", "1000", "--K", "2", "--M", "2", check=False)
    assert r.returncode == 0, r.stderr  # a point without a fixed point is a result (issue 24)
    assert "no fixed point found" in r.stdout and "eta is too large for a plateau" in r.stdout
    assert "eps_g =" not in r.stdout and "symmetric fixed point:" not in r.stdout
    ok = plateau("ode", "--fixed-point", "--eta", "0.5", "--K", "2", "--M", "2")
    assert "converged: yes" in ok.stdout


def test_a_sweep_with_a_point_without_fixed_point_reports_it_and_goes_on(tmp_path):
    # Issue 24: eta = 4 has no plateau (the symmetric flow diverges); over a sweep that is a
    # result of the sweep, said in one line, exit status 0, so that a `set -e` script goes on
    # (was: exit status 1, the script stopped).
    script = tmp_path / "sweep.sh"
    script.write_text(f"set -e\n'{program()}' ode --fixed-point --K 2 --M 2 --eta 4,0.5\n"
                      "echo the script went on\n")
    r = subprocess.run(["bash", str(script)], capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    assert r.stdout.rstrip().endswith("the script went on")
    first, second = r.stdout.split("grid point 1:")
    assert "eta=4 " in first.splitlines()[0]
    none = [line for line in first.splitlines() if "no fixed point" in line]
    assert len(none) == 1 and "eta is too large for a plateau" in none[0], first
    assert "symmetric fixed point:" not in first and "eps_g =" not in first
    # The sweep went on to eta = 0.5, which has its plateau.
    assert "converged: yes" in second and "symmetric fixed point:" in second
    # The theory file of the same sweep holds the fixed-point results: NaN where there is none.
    out = tmp_path / "theory.h5"
    plateau("ode", "--K", "2", "--M", "2", "--eta", "4,0.5", "--seeds", "1", "--alpha-max", "20",
            "--quiet", "-o", out)
    with xr.open_dataset(out, group="K2_M2") as ds:
        rates = ds["escape_rate"].values.ravel()
    assert np.isnan(rates[0]) and rates[1] == pytest.approx(0.0316182, rel=1e-5)
