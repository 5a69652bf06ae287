"""Escape from the search phase (analysis/plateau_analysis/search.py): the rule
"first alpha with eps_g <= 0.99 eps_g(0)" on hand-made curves with a known answer, censoring,
per-point statistics and the K-ratio; and on a real Gram-chain phase-retrieval campaign."""
import math
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from plateau_analysis import search
from plateau_analysis.synthetic import make_group
from plateau_analysis.standard import fit_log_n

ALPHA = np.concatenate([[0.0], np.logspace(-1, 2, 61)])


def falling_curve(escape, eg0=2.0, fraction=search.DEFAULT_FRACTION):
    """eg0 up to escape / 2, then a power law alpha^-p through fraction * eg0 exactly at
    ``escape``: log-linear in log alpha between the records that bracket the crossing, so the
    rule's interpolation is exact there."""
    p = -math.log(fraction) / math.log(2.0)
    knee = 0.5 * escape
    with np.errstate(divide="ignore"):
        eg = eg0 * np.exp(-p * (np.log(ALPHA) - math.log(knee)))
    return np.minimum(eg, eg0)


def test_first_fall_recovers_the_crossing():
    for escape in (0.37, 3.3, 41.0):
        got = search.first_fall(ALPHA, falling_curve(escape))
        assert got == pytest.approx(escape, rel=1e-9)


def test_first_fall_is_relative_to_the_runs_own_start():
    # the same shape at another height: same time
    assert search.first_fall(ALPHA, 5.0 * falling_curve(3.3)) == pytest.approx(3.3, rel=1e-9)


def test_never_falling_and_bad_curves_are_censored():
    flat = np.full(ALPHA.size, 2.0)
    flat[1::2] *= 0.995  # noise within 1 %: never below 0.99
    assert math.isnan(search.first_fall(ALPHA, flat))
    assert math.isnan(search.first_fall(ALPHA[1:], falling_curve(3.0)[1:]))  # no alpha = 0
    bad = falling_curve(3.0)
    bad[0] = np.nan
    assert math.isnan(search.first_fall(ALPHA, bad))
    with pytest.raises(ValueError):
        search.first_fall(ALPHA, bad, fraction=1.0)


def _group(times_by_n, seeds):
    eg, ns = [], []
    for n, times in times_by_n.items():
        assert len(times) == seeds
        for t in times:
            eg.append(falling_curve(t) if math.isfinite(t) else np.full(ALPHA.size, 2.0))
            ns.append(n)
    runs = len(eg)
    K = M = 1
    Q = np.ones((runs, ALPHA.size, K, K))
    R = np.zeros((runs, ALPHA.size, K, M))
    return make_group(ALPHA, np.array(eg), Q, R, np.eye(M),
                      coords={"N": np.array(ns, dtype=np.int64), "eta": np.full(runs, 0.1)},
                      seeds=seeds)


def test_summary_statistics_and_fit():
    times = {100: [2.0, 3.0, 4.0, math.nan], 1000: [5.0, 6.0, 7.0, 8.0],
             10000: [9.0, 10.0, 11.0, 12.0]}
    ds = _group(times, 4)
    ds.attrs["seeds"] = 4
    s = search.search_summary(ds)
    assert list(s["N"].values) == [100, 1000, 10000]
    assert list(s["runs_escaped"].values) == [3, 4, 4]
    assert list(s["n_runs"].values) == [4, 4, 4]
    np.testing.assert_allclose(s["escape_runs_mean"].values, [3.0, 6.5, 10.5], rtol=1e-9)
    sem = [np.std([2, 3, 4], ddof=1) / math.sqrt(3), np.std([5, 6, 7, 8], ddof=1) / 2,
           np.std([9, 10, 11, 12], ddof=1) / 2]
    np.testing.assert_allclose(s["escape_runs_sem"].values, sem, rtol=1e-9)
    fit = fit_log_n(s)  # the plateau summary's fit takes this summary as it is
    assert fit.n_points == 3 and fit.slope > 0


def test_ratio_with_propagated_error():
    a = _group({100: [4.0, 6.0], 1000: [8.0, 12.0]}, 2)
    b = _group({100: [2.0, 3.0], 1000: [4.0, 6.0]}, 2)
    for ds in (a, b):
        ds.attrs["seeds"] = 2
    r = search.escape_ratio(search.search_summary(a), search.search_summary(b))
    np.testing.assert_allclose(r["ratio"].values, [2.0, 2.0], rtol=1e-12)
    # both relative errors are 1/5: SE(ratio) = 2 sqrt(2) / 5
    np.testing.assert_allclose(r["ratio_sem"].values, 2 * math.sqrt(2) / 5, rtol=1e-12)


def test_gram_chain_phase_retrieval(tmp_path):
    """A real campaign: phase retrieval (square student and teacher, K = M = 1) with the Gram
    chain: every run starts at eps_g(0) ~ 1.3 and escapes; the escape times grow with N."""
    build = os.environ.get("PLATEAU_BUILD_DIR")
    if not build:
        pytest.skip("PLATEAU_BUILD_DIR not set")
    out = tmp_path / "pr.h5"
    subprocess.run([str(Path(build) / "plateau"), "run", "--N", "100, 10000", "--K", "1",
                    "--M", "1", "--activation", "square", "--teacher-activation", "square",
                    "--constraint", "sphere",
                    "--eta", "0.1", "--dynamics", "gram", "--alpha-max", "200",
                    "--schedule", "log", "--alpha-min", "0.1", "--records", "60",
                    "--seeds", "8", "-q", "-o", str(out)], check=True)
    from plateau_analysis import load_campaign
    ds = load_campaign(out)["K1_M1"]
    s = search.search_summary(ds)
    assert list(s["runs_escaped"].values) == [8, 8]
    t = s["escape_runs_mean"].values
    se = s["escape_runs_sem"].values
    # ln(1e4 / 1e2) / (2 * rate) apart: the larger N escapes later, well beyond the spread
    assert t[1] - t[0] > 4.0 * math.hypot(se[0], se[1])


def test_report_draws_the_search_escape_against_ln_n(tmp_path, monkeypatch):
    """A flat start then a fall (no plateau: rule 4b rejects the untrained start) at three N:
    the report's escape-vs-ln N figure uses the search-phase escape, and says so."""
    from plateau_analysis.report import report
    from plateau_analysis.standard import plot_escape_vs_log_n
    from plateau_analysis.synthetic import write_campaign

    times = {1000: [3.0, 3.5, 4.0, 4.5], 10000: [5.0, 5.5, 6.0, 6.5],
             100000: [7.0, 7.5, 8.0, 8.5]}
    ds = _group(times, 4)
    path = write_campaign(tmp_path / "pr.h5", {"K1_M1": ds}, kind="simulation", seeds=4)
    import plateau_analysis.standard as standard_module
    drawn = []

    def spy(ds, summary, *args, **kwargs):
        drawn.append(summary)
        return plot_escape_vs_log_n(ds, summary, *args, **kwargs)

    monkeypatch.setattr(standard_module, "plot_escape_vs_log_n", spy)
    written = report(path, tmp_path / "report", formats=("png",))
    assert any(Path(w).name == "escape_lnN_K1_M1.png" for w in written)
    assert len(drawn) == 1 and drawn[0].attrs.get("fraction") == search.DEFAULT_FRACTION
    np.testing.assert_allclose(drawn[0]["escape_runs_mean"].values, [3.75, 5.75, 7.75])
    from plateau_analysis import load_campaign
    g = load_campaign(path)["K1_M1"]
    fig = plot_escape_vs_log_n(g, search.search_summary(g))
    assert "0.99 ε_g(0)" in fig.axes[0].get_ylabel()
    fit = fit_log_n(search.search_summary(g))
    # the means 3.75, 5.75, 7.75 lie on 2 / ln 10 per unit of ln N
    assert fit.slope == pytest.approx(2.0 / math.log(10.0), rel=1e-9)
