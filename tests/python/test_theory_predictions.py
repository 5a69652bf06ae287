"""A theory file's own predictions (schema 1.5: plateau_eg, escape_rate, escape_predicted; 1.9:
the escape-time law's quantiles; root attributes theory_*) and how the report uses them: the
plateau-height line on the eps_g figures, the predicted points, their 10-90 % range and the
1/(2 lambda) slope on the escape-vs-ln N figure, the CSV columns."""

from __future__ import annotations

import csv
import math
import re
import subprocess

import numpy as np
import pytest

import plateau_analysis as pa
from plateau_analysis.figures import plot_eg, pyplot
from plateau_analysis.predictions import HEIGHT_STYLE, PREDICTED_STYLE, with_predictions
from plateau_analysis.report import match_theory, report
from plateau_analysis.standard import plot_eg_linear, plot_escape_histogram, plot_escape_vs_log_n
from plateau_analysis.synthetic import write_campaign

from conftest import _program, symmetric_fixed_point
from test_analysis_standard_figures import CONFIG, group, prepared

NS = [50, 100, 200, 400]
LAMBDA = 0.08
HEIGHTS = [0.0201, 0.0202, 0.0203, float("nan")]  # the last point: no fixed point found


def predicted(n):
    """A synthetic prediction: 10 + ln(N) / (2 lambda)."""
    return 10.0 + math.log(n) / (2.0 * LAMBDA)


def files(tmp_path, *, with_predictions_=True):
    """A simulation N sweep and a theory file of the same configuration and grid."""
    config = {"config": CONFIG.format(K=2, learn_v="false", h="identity", gamma="1")}
    sim = write_campaign(tmp_path / "sim.h5", {
        "K2_M2": group(4, coord="N", values=NS, ends=[20.0 + 8.0 * math.log(n) for n in NS])},
        kind="simulation", seeds=2, attrs=config)
    th = group(4, seeds=1, coord="N", values=NS, ends=[30.0] * 4)
    if with_predictions_:
        th["plateau_eg"] = ("run", np.array(HEIGHTS))
        th["escape_rate"] = ("run", np.array([LAMBDA] * 3 + [math.nan]))
        th["escape_predicted"] = ("run", np.array([predicted(n) for n in NS[:3]] + [math.nan]))
        # Schema 1.9: the law's 10 and 90 % quantiles (synthetic: the mean -+ 20, 30).
        th["escape_predicted_q10"] = ("run", np.array([predicted(n) - 20 for n in NS[:3]] +
                                                      [math.nan]))
        th["escape_predicted_q90"] = ("run", np.array([predicted(n) + 30 for n in NS[:3]] +
                                                      [math.nan]))
        th["escape_predicted_q50"] = ("run", np.array([predicted(n) - 5 for n in NS[:3]] +
                                                      [math.nan]))
    theory = write_campaign(tmp_path / "theory.h5", {"K2_M2": th}, kind="theory", seeds=1,
                            attrs=config)
    return sim, theory


def theory_parts(sim, theory):
    ds, avg, summary = prepared(sim)
    th = pa.load_campaign(theory)["K2_M2"]
    th_avg = with_predictions(pa.seed_average(th, align=True), th)
    return ds, avg, summary, th_avg, match_theory(avg, th_avg)


def test_predictions_go_onto_the_theory_average_per_point(tmp_path):
    sim, theory = files(tmp_path)
    *_, th_avg, matches = theory_parts(sim, theory)
    assert list(matches) == [0, 1, 2, 3]
    np.testing.assert_array_equal(th_avg["plateau_eg"].values, HEIGHTS)
    assert th_avg["escape_predicted"].values[1] == predicted(100)
    assert math.isnan(th_avg["escape_rate"].values[3])
    # An older theory file has none: the average is left as it is.
    (tmp_path / "old").mkdir()
    _, old = files(tmp_path / "old", with_predictions_=False)
    th = pa.load_campaign(old)["K2_M2"]
    assert "plateau_eg" not in with_predictions(pa.seed_average(th), th)


def test_escape_against_log_n_shows_predicted_points_and_slope(tmp_path):
    ds, _, summary, th_avg, matches = theory_parts(*files(tmp_path))
    fig = plot_escape_vs_log_n(ds, summary, th_avg, matches)
    ax = fig.axes[0]
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    diamonds = [line for line in ax.get_lines() if line.get_marker() == PREDICTED_STYLE["marker"]]
    assert len(diamonds) == 1
    # The three points with a prediction, at their own ln N.
    np.testing.assert_allclose(diamonds[0].get_xdata(), np.log(NS[:3]))
    np.testing.assert_allclose(diamonds[0].get_ydata(), [predicted(n) for n in NS[:3]])
    slope_label = [t for t in labels if t.startswith("theory: slope 1/(2λ)")]
    assert slope_label and f"{1 / (2 * LAMBDA):.3g}" in slope_label[0]
    line = next(l for l in ax.get_lines() if l.get_label() == slope_label[0])
    x, y = line.get_xdata(), line.get_ydata()
    assert (y[-1] - y[0]) / (x[-1] - x[0]) == pytest.approx(1 / (2 * LAMBDA), rel=1e-12)
    # Through the predicted points (they lie on it exactly here).
    assert np.interp(math.log(100), x, y) == pytest.approx(predicted(100), rel=1e-9)
    # The law's 10-90 % range at each predicted point (schema 1.9).
    assert "theory: 10–90 % of the predicted escape times" in labels
    ranges = [c for c in ax.collections
              if c.get_label() == "theory: 10–90 % of the predicted escape times"]
    segments = ranges[0].get_segments()
    assert len(segments) == 3
    for seg, n in zip(segments, NS[:3]):
        np.testing.assert_allclose(seg[:, 0], [math.log(n)] * 2)
        np.testing.assert_allclose(sorted(seg[:, 1]), [predicted(n) - 20, predicted(n) + 30])
    pyplot().close(fig)

    # Without a theory file: neither.
    fig = plot_escape_vs_log_n(ds, summary)
    assert not [t for t in fig.axes[0].get_legend().get_texts()
                if t.get_text().startswith("theory")]
    pyplot().close(fig)


def _height_lines(ax):
    return sorted(float(line.get_ydata()[0]) for line in ax.get_lines()
                  if line.get_linestyle() != "None" and len(line.get_ydata()) == 2
                  and line.get_ydata()[0] == line.get_ydata()[1]
                  and line.get_linewidth() == HEIGHT_STYLE["lw"])


def test_eg_figures_draw_the_plateau_height_of_the_theory_file(tmp_path):
    ds, avg, summary, th_avg, matches = theory_parts(*files(tmp_path))
    for fig in (plot_eg(ds, avg, summary, th_avg, matches),
                plot_eg_linear(ds, avg, summary, th_avg, matches,
                               theory_summary=pa.plateaus(th_avg))):
        ax = fig.axes[0]
        # One line per point with a height (not the point without a fixed point).
        assert _height_lines(ax) == pytest.approx(HEIGHTS[:3])
        texts = [t.get_text() for leg in [*fig.legends, *(a.get_legend() for a in fig.axes)]
                 if leg is not None for t in leg.get_texts()]
        assert any(t.startswith("plateau height: ε_g at the symmetric fixed point") for t in texts)
        pyplot().close(fig)


def test_report_writes_the_predictions_into_its_table(tmp_path):
    sim, theory = files(tmp_path)
    out = tmp_path / "out"
    report(sim, out, theory=theory, formats=["png"], out=open(tmp_path / "t", "w"))
    with open(out / "plateaus.csv") as f:
        rows = list(csv.DictReader(f))
    assert [float(r["theory_plateau_eg"]) for r in rows[:3]] == pytest.approx(HEIGHTS[:3])
    assert float(rows[2]["theory_escape_predicted"]) == pytest.approx(predicted(200))
    assert math.isnan(float(rows[3]["theory_escape_predicted"]))
    assert (out / "escape_lnN_K2_M2.png").stat().st_size > 5000


def test_plateau_ode_writes_how_and_what(tmp_path):
    """The engine's file: the attributes, and the height that `--fixed-point` prints."""
    program = _program()
    if program is None:
        pytest.skip("the plateau program is not built")
    path = tmp_path / "ode.h5"
    out = subprocess.run(
        [str(program), "ode", "--K", "2", "--M", "2", "--eta", "0.5", "--N", "1000,100000",
         "--alpha-max", "5", "--records", "4", "--init", "symmetric", "--asymmetry", "1e-6",
         "--rtol", "1e-8", "--quiet", "-o", str(path)], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    ds = pa.load_campaign(path)["K2_M2"]
    assert ds.attrs["schema_version_minor"] >= 5
    assert ds.attrs["theory_method"] == "closed-form"
    assert ds.attrs["theory_init"] == "symmetric"
    assert float(ds.attrs["theory_rtol"]) == 1e-8
    assert float(ds.attrs["theory_asymmetry"]) == 1e-6
    _, eg = symmetric_fixed_point(0.5)
    assert ds["plateau_eg"].values == pytest.approx([eg, eg], rel=1e-9)
    # The numbers `plateau ode --fixed-point` prints for these N (%.6g).
    printed = subprocess.run(
        [str(program), "ode", "--fixed-point", "--K", "2", "--M", "2", "--eta", "0.5", "--N",
         "1000,100000"], capture_output=True, text=True, timeout=300)
    assert printed.returncode == 0, printed.stderr
    escapes = [float(x) for x in re.findall(r"predicted mean escape at N = \d+: (\S+)",
                                            printed.stdout)]
    assert ds["escape_predicted"].values == pytest.approx(escapes, rel=1e-5)
    rates = [float(x) for x in re.findall(r"escape rate \(largest real part[^:]*\): (\S+)",
                                          printed.stdout)]
    assert ds["escape_rate"].values == pytest.approx(rates, rel=1e-5)


def test_escape_histogram_draws_the_predicted_law(tmp_path):
    ds, _, _, th_avg, matches = theory_parts(*files(tmp_path))
    fig = plot_escape_histogram(ds, pa.plateaus(ds), theory_avg=th_avg, matches=matches)
    ax = fig.axes[0]
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    # A file before schema 1.13 has no law to draw a density from: the figure says so.
    assert ("theory: predicted median and 10–90 % of the escape time (theory file before "
            "schema 1.13: no density)") in labels
    # The three grid points with a law at their own N: a dashed median and a band each.
    medians = sorted(float(line.get_xdata()[0]) for line in ax.get_lines()
                     if line.get_linestyle() == "--" and len(line.get_xdata()) == 2)
    np.testing.assert_allclose(medians, sorted(predicted(n) - 5 for n in NS[:3]))
    assert len([p for p in ax.patches if p.get_alpha() == 0.12]) == 3
    pyplot().close(fig)
    # Without a theory file, none.
    fig = plot_escape_histogram(ds, pa.plateaus(ds))
    assert not [t for t in fig.axes[0].get_legend().get_texts()
                if t.get_text().startswith("theory")]
    pyplot().close(fig)
