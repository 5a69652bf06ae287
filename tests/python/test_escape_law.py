"""The predicted law of the escape time stored whole (schema 1.13, ``escape_predicted_law``:
its quantiles at the levels ``escape_level`` = 0.01 ... 0.99, docs/theory.md §11.2b): the
reader's checks of it, and the report's figures drawn from it on a real tiny campaign (the
exact Gram chain, erf K = M = 2, eta = 0.5) and its `plateau ode` theory file: the predicted
density on the escape-time histogram, the predicted mean ± SD band against ln N."""

from __future__ import annotations

import math

import numpy as np
import pytest

import plateau_analysis as pa
from plateau_analysis import CampaignError
from plateau_analysis.figures import pyplot
from plateau_analysis.predictions import (BAND_STYLE, DENSITY_STYLE, LAW, law_cdf,
                                          predicted_bin_counts, with_predictions)
from plateau_analysis.report import match_theory
from plateau_analysis.standard import plot_escape_histogram, plot_escape_vs_log_n
from plateau_analysis.synthetic import write_campaign

from conftest import run_plateau, run_program
from test_analysis_standard_figures import group

LEVELS = np.arange(1, 100) / 100.0


def law_group(law):
    """A theory group of two runs (two N) with ``law`` (2 x 99) and the printed quantiles."""
    th = group(2, seeds=1, coord="N", values=[100, 1000], ends=[30.0, 30.0])
    th = th.assign_coords(escape_level=("escape_level", LEVELS))
    th[LAW] = (("run", "escape_level"), np.asarray(law, dtype=float))
    for q, j in ((10, 9), (50, 49), (90, 89)):
        th[f"escape_predicted_q{q}"] = ("run", np.array(law, dtype=float)[:, j].copy())
    return th


def good_law():
    base = 100.0 + 20.0 * np.log(LEVELS / (1.0 - LEVELS))  # increasing
    return np.stack([base, base + 35.0])


def test_a_well_formed_law_loads(tmp_path):
    path = write_campaign(tmp_path / "t.h5", {"K2_M2": law_group(good_law())})
    ds = pa.load_campaign(path)["K2_M2"]
    np.testing.assert_array_equal(ds[LAW].values, good_law())
    # No prediction at a point: all 99 NaN is allowed.
    law = good_law()
    law[1] = math.nan
    pa.load_campaign(write_campaign(tmp_path / "n.h5", {"K2_M2": law_group(law)}))


@pytest.mark.parametrize("damage, message", [
    ("partial", "is NaN at some levels only (allowed: all 99 finite or all NaN)"),
    ("decreasing", "decreases with the level (allowed: quantiles non-decreasing in q)"),
    ("q50", "at level 0.50, escape_predicted_q50"),
    ("levels", "allowed: the 99 levels 0.01, 0.02, ..., 0.99"),
])
def test_the_reader_refuses_a_malformed_law(tmp_path, damage, message):
    law = good_law()
    th = law_group(law)
    if damage == "partial":
        th[LAW].values[1, 40] = math.nan
    elif damage == "decreasing":
        th[LAW].values[1, 60:62] = th[LAW].values[1, 61:59:-1]
    elif damage == "q50":
        th["escape_predicted_q50"].values[0] += 1e-6
    elif damage == "levels":
        th = th.assign_coords(escape_level=("escape_level", LEVELS * 0.5))
    path = write_campaign(tmp_path / "bad.h5", {"K2_M2": th})
    for read in (pa.load_campaign, pa.open_campaign):
        with pytest.raises(CampaignError) as err:
            read(path)
        assert "'escape_predicted_law'" in str(err.value) and message in str(err.value)
        assert "\n" not in str(err.value)


def test_bin_counts_from_the_quantiles():
    """F(alpha_q) = q at every stored level, linear between; NaN outside the resolved 1-99 %."""
    q = 100.0 + 20.0 * np.log(LEVELS / (1.0 - LEVELS))
    np.testing.assert_allclose(law_cdf(LEVELS, q, q), LEVELS, rtol=0, atol=1e-15)
    assert math.isnan(float(law_cdf(LEVELS, q, q[0] - 1e-9)))
    assert predicted_bin_counts(LEVELS, q, q[9], q[89], 200) == pytest.approx(160.0)


# --- a real campaign: the exact Gram chain and its theory file ---------------------------------

NS = (300, 1000)
SEEDS = 30
COMMON = ("--K", 2, "--M", 2, "--eta", 0.5, "--activation", "erf", "--N", ",".join(map(str, NS)),
          "--alpha-max", 350, "--records", 200)


@pytest.fixture(scope="module")
def real(plateau_program, tmp_path_factory):
    """Simulations (gram, 30 seeds per N) and `plateau ode` (its predictions) of one config:
    2.2 s and 0.4 s of CPU."""
    d = tmp_path_factory.mktemp("law")
    sim = d / "gram.h5"
    run_plateau(plateau_program, sim, *COMMON, "--dynamics", "gram", "--seeds", SEEDS)
    theory = d / "ode.h5"
    out = run_program(plateau_program, "ode", *COMMON, "--seeds", 1, "--quiet", "-o", theory)
    assert out.returncode == 0, out.stderr
    ds = pa.load_campaign(sim)["K2_M2"]
    avg = pa.seed_average(ds, align=True)
    th = pa.load_campaign(theory)["K2_M2"]
    th_avg = with_predictions(pa.seed_average(th, align=True), th)
    return ds, avg, th, th_avg, match_theory(avg, th_avg)


def test_the_engine_writes_the_law_the_reader_checks(real):
    _, _, th, _, _ = real
    assert th.attrs["schema_version_minor"] >= 13
    law = th[LAW].values
    assert law.shape == (len(NS), 99) and np.isfinite(law).all()
    np.testing.assert_array_equal(th["escape_level"].values, LEVELS)
    assert (np.diff(law, axis=1) > 0).all()
    for q, j in ((10, 9), (50, 49), (90, 89)):
        np.testing.assert_array_equal(law[:, j], th[f"escape_predicted_q{q}"].values)
    # The law is the one whose mean and SD the file prints: the 99 quantiles as equally likely
    # points, the outer 1 % on each side missing (their share measured: mean -0.2 %, SD x 0.93
    # for the d = 1 law of -ln|Z|/lambda, docs/theory.md §11.2b).
    np.testing.assert_allclose(law.mean(axis=1), th["escape_predicted"].values, rtol=0.01)
    np.testing.assert_allclose(law.std(axis=1), 0.93 * th["escape_predicted_sd"].values,
                               rtol=0.02)


def test_histogram_overlays_the_predicted_density(real):
    ds, _, _, th_avg, matches = real
    runs = pa.plateaus(ds)
    fig = plot_escape_histogram(ds, runs, theory_avg=th_avg, matches=matches)
    ax = fig.axes[0]
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert any(t.startswith("theory: predicted runs per bin, n × P(bin)") for t in labels)
    assert not any("median and 10–90" in t for t in labels)
    assert ax.get_xlabel().startswith("escape time α_esc = examples / N")
    assert ax.get_ylabel() == "runs"
    curves = [line for line in ax.get_lines() if line.get_linestyle() == "--"
              and len(line.get_xdata()) == 200]
    assert len(curves) == len(NS)
    # Each curve, read at a bar's centre, is the predicted height of that bar: n (F(b) - F(a)),
    # n the runs of the point. The bars are the histogram's own (same bins, same counts).
    bars = [p for p in ax.patches if p.get_label() and not p.get_label().startswith("_")]
    assert len(bars) == len(NS)
    esc = runs["escape"].values
    finite = esc[np.isfinite(esc) & (esc > 0)]
    edges = np.geomspace(finite.min() / 1.05, finite.max() * 1.05, 13)
    for k, (n, curve) in enumerate(zip(NS, curves)):
        t = int(matches[k])
        levels, quantiles = th_avg["escape_level"].values, th_avg[LAW].values[t]
        centre = np.sqrt(edges[:-1] * edges[1:])
        inside = (centre >= curve.get_xdata()[0]) & (centre <= curve.get_xdata()[-1])
        expected = predicted_bin_counts(levels, quantiles, edges[:-1], edges[1:], SEEDS)
        drawn = np.interp(np.log(centre[inside]), np.log(curve.get_xdata()), curve.get_ydata())
        np.testing.assert_allclose(drawn, expected[inside], rtol=0.02)
        # The whole predicted curve holds as many runs as the histogram's bars under it, to
        # the sampling error of 30 runs (a generous 5 sigma of a binomial count).
        counts, _ = np.histogram(esc[ds["N"].values == n], bins=edges)
        predicted = np.nansum(expected[inside])
        assert abs(counts[inside].sum() - predicted) < 5 * math.sqrt(predicted) + 1
    assert curves[0].get_color() != curves[1].get_color()
    assert curves[0].get_linestyle() == "--" and curves[0].get_linewidth() == DENSITY_STYLE["lw"]
    pyplot().close(fig)


def test_escape_vs_log_n_draws_the_predicted_sd_band(real):
    ds, avg, th, th_avg, matches = real
    summary = pa.plateau_summary(ds, averaged=avg)
    fig = plot_escape_vs_log_n(ds, summary, th_avg, matches)
    ax = fig.axes[0]
    label = "theory: predicted mean ± SD of one run's escape time (its spread, not an error)"
    assert label in [t.get_text() for t in ax.get_legend().get_texts()]
    band = next(c for c in ax.collections if c.get_label() == label)
    assert band.get_alpha() == BAND_STYLE["alpha"]
    vertices = band.get_paths()[0].vertices
    mean, sd = th["escape_predicted"].values, th["escape_predicted_sd"].values
    for n, m, s in zip(NS, mean, sd):
        at = vertices[np.isclose(vertices[:, 0], math.log(n))][:, 1]
        assert min(at) == pytest.approx(m - s, rel=1e-12)
        assert max(at) == pytest.approx(m + s, rel=1e-12)
    assert ax.get_xlabel().startswith("ln N")
    assert ax.get_ylabel().startswith("escape time α_esc")
    pyplot().close(fig)
