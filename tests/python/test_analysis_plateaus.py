"""plateau_analysis: plateau detection (synthetic curves with and without plateaus, an ODE
theory file against a fixed-point finder, simulation files) and specialization."""

from __future__ import annotations

import math

import numpy as np
import pytest

from conftest import run_plateau, symmetric_fixed_point

import plateau_analysis as pa
from plateau_analysis.detection import local_slopes
from plateau_analysis.synthetic import make_group

ALPHA = np.r_[0.0, np.geomspace(0.01, 300.0, 99)]  # the engine's default record times


def piecewise(alpha, height=0.02, start=5.0, end=60.0, before=-2.0, after=-4.0):
    """A log-log curve: slope `before` up to `start`, flat at `height` to `end`, then `after`."""
    a = np.where(alpha > 0, alpha, ALPHA[1])
    u = np.log(a)
    y = np.full_like(u, math.log(height))
    y = np.where(u < math.log(start), y + before * (u - math.log(start)), y)
    y = np.where(u > math.log(end), y + after * (u - math.log(end)), y)
    return np.exp(np.minimum(y, math.log(0.5)))


def test_local_slopes_of_a_power_law():
    u = np.log(ALPHA[1:])
    slope, stderr, scatter = local_slopes(u, -0.7 * u + 2.0, 0.3)
    np.testing.assert_allclose(slope, -0.7, atol=1e-9)
    np.testing.assert_allclose(stderr, 0.0, atol=1e-6)
    np.testing.assert_allclose(scatter, 0.0, atol=1e-6)


def test_piecewise_plateau():
    eg = piecewise(ALPHA)
    p = pa.detect_plateau(ALPHA, eg)
    assert p.found and p.escaped and p.n_plateaus == 1
    assert p.height == pytest.approx(0.02, rel=1e-9)
    # Start and end within about one record (records are a factor 1.11 apart) of the corners.
    assert 5.0 / 1.25 <= p.start <= 5.0 * 1.25
    assert 60.0 / 1.25 <= p.end <= 60.0 * 1.25
    assert p.length == pytest.approx(p.end - p.start)
    # eps_g = height / 2 at end * 2**(1/4) on the slope -4 flank (log-log interpolation).
    assert p.escape == pytest.approx(60.0 * 2 ** 0.25, rel=1e-6)


@pytest.mark.parametrize("seed", range(5))
def test_noisy_piecewise_plateau(seed):
    rng = np.random.default_rng(seed)
    eg = piecewise(ALPHA, height=0.015, start=8.0, end=80.0) * np.exp(
        0.05 * rng.standard_normal(ALPHA.size))
    p = pa.detect_plateau(ALPHA, eg)
    assert p.found and p.escaped
    assert p.height == pytest.approx(0.015, rel=0.03)
    assert 8.0 / 1.5 <= p.start <= 8.0 * 1.5
    assert 80.0 / 1.6 <= p.end <= 80.0 * 1.3
    assert p.escape == pytest.approx(80.0 * 2 ** 0.25, rel=0.15)


def test_smooth_plateau_with_exponential_escape():
    """Exponential approach to the plateau, exponential escape (no sharp corners)."""
    a = ALPHA
    eg = (0.015 + 0.4 * np.exp(-a / 1.5)) / (1.0 + np.exp((a - 120.0) / 12.0))
    p = pa.detect_plateau(a, eg)
    assert p.found and p.escaped
    assert p.height == pytest.approx(0.015, rel=0.02)
    assert 5.0 < p.start < 12.0
    assert 80.0 < p.end < 120.0
    assert p.escape == pytest.approx(120.0, rel=0.05)  # the sigmoid's midpoint halves eps_g


@pytest.mark.parametrize("name, eg", [
    ("power law 1/alpha", 0.5 / (1.0 + ALPHA)),
    ("slow power law", 0.5 / np.sqrt(1.0 + ALPHA)),
    ("exponential decay", 0.5 * np.exp(-ALPHA / 20.0)),
    ("fast exponential decay", 0.5 * np.exp(-ALPHA / 2.0) + 1e-300),
    ("constant (never learns)", np.full(ALPHA.size, 0.4)),
    ("flat start, then power law", 0.4 / (1.0 + (ALPHA / 3.0) ** 2)),
    ("two power laws", 0.4 / (1.0 + ALPHA) + 0.05 / (1.0 + ALPHA) ** 0.5),
])
def test_curves_without_plateau(name, eg):
    p = pa.detect_plateau(ALPHA, eg)
    assert not p.found, name
    assert math.isnan(p.height) and math.isnan(p.escape)


@pytest.mark.parametrize("name, curve", [
    ("power law 1/alpha", 0.5 / (1.0 + ALPHA)),
    ("slow power law", 0.5 / np.sqrt(1.0 + ALPHA)),
    ("exponential decay", 0.5 * np.exp(-ALPHA / 20.0)),
    ("flat start, then power law", 0.4 / (1.0 + (ALPHA / 3.0) ** 2)),
    ("decay to a floor", 0.5 * np.exp(-ALPHA / 2.0) + 1e-3),
])
def test_noisy_curves_without_plateau(name, curve):
    """5 % multiplicative noise per record (a single run at N ~ 100): never a plateau."""
    rng = np.random.default_rng(100)
    for _ in range(10):
        eg = curve * np.exp(0.05 * rng.standard_normal(ALPHA.size))
        assert not pa.detect_plateau(ALPHA, eg).found, name


def test_flat_end_needs_an_unspecialized_student():
    """A curve that falls and stays flat to the end: an asymptotic error (specialized student,
    e.g. label noise) is not a plateau; a student still unspecialized at alpha_max is one that
    has not escaped yet (censored)."""
    eg = 0.4 * np.exp(-ALPHA / 3.0) + 0.01
    assert not pa.detect_plateau(ALPHA, eg).found  # no overlaps: undecidable, not reported
    assert not pa.detect_plateau(ALPHA, eg, spec=np.full(ALPHA.size, 0.9)).found
    p = pa.detect_plateau(ALPHA, eg, spec=np.full(ALPHA.size, 0.02))
    assert p.found and not p.escaped and math.isnan(p.escape)
    assert p.height == pytest.approx(0.01, rel=1e-3)
    assert p.end == ALPHA[-1]


def test_diverged_tail_and_short_curves():
    eg = piecewise(ALPHA)
    eg[70:] = np.nan  # a divergence after the plateau
    p = pa.detect_plateau(ALPHA, eg)
    assert not p.found  # never left, no overlaps: not reported
    assert not pa.detect_plateau(ALPHA[:3], eg[:3]).found
    assert not pa.detect_plateau(ALPHA, np.full(ALPHA.size, np.nan)).found


def loglog(alpha, knots):
    """Piecewise power law through the (alpha, eps_g) knots (constant beyond the ends)."""
    ka, ke = np.log(np.array(knots)).T
    return np.exp(np.interp(np.log(np.where(alpha > 0, alpha, ALPHA[1])), ka, ke))


def test_two_plateaus_longest_reported():
    """A short high plateau (factor 4 in alpha) and a long low one (factor 10)."""
    eg = loglog(ALPHA, [(0.1, 0.5), (0.5, 0.05), (2.0, 0.05), (10.0, 0.004), (100.0, 0.004),
                        (300.0, 0.004 * 3.0 ** -4)])
    p = pa.detect_plateau(ALPHA, eg)
    assert p.found and p.n_plateaus == 2
    assert p.height == pytest.approx(0.004, rel=1e-6)
    assert 10 / 1.25 <= p.start <= 10 * 1.25 and 100 / 1.25 <= p.end <= 100 * 1.25
    q = pa.detect_plateau(ALPHA, eg, rule=pa.PlateauRule(min_factor=5.0))
    assert q.n_plateaus == 1 and q.height == p.height
    # Only the first plateau: the longest one of the curve cut at alpha = 8.
    cut = ALPHA <= 8.0
    r = pa.detect_plateau(ALPHA[cut], eg[cut])
    assert r.found and r.height == pytest.approx(0.05, rel=1e-6)


def test_plateaus_on_an_ode_theory_file(theory_file):
    """On the N -> infinity theory the plateau is the unspecialized fixed point."""
    ds = pa.load_campaign(theory_file)["K2_M2"]
    assert ds.attrs["kind"] == "theory"
    table = pa.plateaus(ds)
    avg_table = pa.plateaus(pa.seed_average(ds))
    for i, eta in enumerate(ds["eta"].values):
        _, height = symmetric_fixed_point(eta)
        assert table["found"].values[i] and table["escaped"].values[i]
        # The trajectory passes near, not through, the saddle: within 2.5 %.
        assert table["height"].values[i] == pytest.approx(height, rel=0.025), eta
        assert table["specialization_index"].values[i] < 0.1  # unspecialized on the plateau
        assert avg_table["height"].values[i] == table["height"].values[i]
        assert table["start"].values[i] < 15 < 50 < table["end"].values[i]
        assert table["end"].values[i] < table["escape"].values[i] < 500
    # Larger eta: higher plateau, earlier escape.
    assert table["height"].values[1] > table["height"].values[0]
    assert table["escape"].values[1] < table["escape"].values[0]
    spec = pa.specialization(ds)
    assert spec["run_specialized"].values.all()
    np.testing.assert_array_equal(spec["teacher"].values, [[0, 1], [0, 1]])


def test_plateaus_on_simulations(plateau_program, tmp_path, theory_file):
    """Finite-N runs (noisy): a plateau near the theory's height in (almost) every run."""
    path = tmp_path / "sim.h5"
    stdout = run_plateau(plateau_program, path, "--seeds", 6, "--N", 200, "--alpha-max", 300)
    ds = pa.load_campaign(path)["K2_M2"]
    table = pa.plateaus(ds)
    assert table["found"].values.sum() >= 5
    found = table["found"].values
    _, height = symmetric_fixed_point(0.5)
    np.testing.assert_allclose(table["height"].values[found], height, rtol=0.08)
    summary = pa.plateau_summary(ds)
    assert summary["found"].values[0]
    assert summary["height"].values[0] == pytest.approx(height, rel=0.05)
    assert summary["runs_found"].values[0] == found.sum()
    assert summary["n_completed"].values[0] == 6
    assert 30 < summary["escape"].values[0] < 300
    # Specialization agrees with the engine's count of specialized runs.
    specialized = int(stdout.split("; specialized ")[1].split()[0])
    spec = pa.specialization(ds)
    assert spec["run_specialized"].values.sum() == specialized
    # The student specializes after the plateau begins, around the escape.
    ok = found & spec["run_specialized"].values
    assert ok.sum() >= 5
    time_all = spec["time_all"].values[ok]
    assert (time_all > table["start"].values[ok]).all()
    assert (time_all < 1.5 * table["escape"].values[ok]).all()
    assert (time_all > table["escape"].values[ok] / 1.5).all()


def test_specialization_on_synthetic_overlaps():
    """Student 0 learns teacher 1 at alpha ~ 50, student 1 learns teacher 0 at alpha ~ 80."""
    a = ALPHA
    s0 = 1.0 / (1.0 + np.exp(-(a - 50.0) / 5.0))
    s1 = 1.0 / (1.0 + np.exp(-(a - 80.0) / 5.0))
    R = np.zeros((1, a.size, 2, 2))
    R[0, :, 0, 1] = 0.3 + 0.6 * s0
    R[0, :, 0, 0] = 0.3 - 0.3 * s0
    R[0, :, 1, 0] = 0.3 + 0.6 * s1
    R[0, :, 1, 1] = 0.3 - 0.3 * s1
    Q = np.broadcast_to(np.eye(2), (1, a.size, 2, 2)) * 0.81
    eg = np.full((1, a.size), 0.1)
    ds = make_group(a, eg, Q, R, np.eye(2))
    spec = pa.specialization(ds, margin=0.25)
    np.testing.assert_array_equal(spec["teacher"].values, [[1, 0]])
    # Normalized gap (0.9 s)/0.9 ... = s + ...: r = R / 0.9; gap = (0.9 s) / 0.9 * ... solve:
    # r_own - r_other = (0.6 s + 0.3 s) / 0.9 = s >= 0.25  <=>  a >= center - 5 ln 3.
    t0, t1 = spec["time"].values[0]
    first = lambda c: a[np.argmax(a >= c - 5.0 * math.log(3.0))]  # noqa: E731
    assert t0 == first(50.0) and t1 == first(80.0)
    assert spec["time_all"].values[0] == t1
    assert spec["run_specialized"].values[0]
    assert spec["state"].values[0].tolist() == ["assigned", "assigned"]
    np.testing.assert_allclose(spec["overlap"].values[0], 0.9 / 0.9 * s0[-1], rtol=1e-3)
    # Aligned: student j learned teacher j.
    aligned = pa.align_students(ds)
    R_al = aligned["R"].values[0, -1]
    assert R_al[0, 0] > 0.85 and R_al[1, 1] > 0.85
    np.testing.assert_allclose(aligned["Q"].values, ds["Q"].values)


def test_specialization_not_reached():
    a = ALPHA
    R = np.full((1, a.size, 2, 2), 0.3)
    R[0, :, 0, 0] += 0.01  # tiny asymmetry only
    Q = np.broadcast_to(np.eye(2), (1, a.size, 2, 2)) * 0.2
    ds = make_group(a, np.full((1, a.size), 0.1), Q, R, np.eye(2))
    spec = pa.specialization(ds)
    assert not spec["specialized"].values.any()
    assert np.isnan(spec["time"].values).all() and np.isnan(spec["time_all"].values).all()
    assert not spec["run_specialized"].values[0]
    assert float(pa.specialization_index(ds).values.max()) < 0.05
