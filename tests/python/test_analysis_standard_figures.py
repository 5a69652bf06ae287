"""The standard figures (plateau_analysis.standard) render, with the expected artists and
labels; the report writes figures per sweep, not per grid point, beyond a few points."""

from __future__ import annotations

import math

import numpy as np
import pytest

import plateau_analysis as pa
from plateau_analysis.figures import plot_eg, pyplot, settings_text
from plateau_analysis.report import report
from plateau_analysis.standard import (fit_log_n, plot_eg_linear, plot_escape_histogram,
                                       plot_escape_vs_log_n, plot_final_R, plot_group_sweep,
                                       plot_normalized_overlaps, plot_v)
from plateau_analysis.synthetic import make_group, write_campaign

from test_analysis_figures import ALPHA, overlaps, plateau_curve

CONFIG = ("N = 100\nK = {K}\nM = 2\neta = 0.5\nlearn-v = {learn_v}\nactivation = erf\n"
          "output-activation = {h}\ngamma = {gamma}\nnoise = 0\nseeds = 2\nseed = 1\n")


def group(n_points=2, seeds=2, K=2, v=None, coord="eta", values=None, ends=None, jitter=0.0):
    """``n_points`` grid points of ``seeds`` runs; point p's plateau ends at ends[p] (times
    1 - jitter ... 1 + jitter across the seeds, evenly: the mean stays ends[p])."""
    values = list(values if values is not None else np.linspace(0.5, 1.5, n_points))
    ends = list(ends if ends is not None else np.linspace(30.0, 80.0, n_points))
    runs = n_points * seeds
    spread = np.linspace(-jitter, jitter, seeds) if seeds > 1 else np.zeros(1)
    eg = np.array([plateau_curve(end=ends[p] * (1.0 + spread[s])) for p in range(n_points)
                   for s in range(seeds)])
    Q = np.broadcast_to(np.eye(K) * 0.8, (runs, ALPHA.size, K, K)).copy()
    R = np.full((runs, ALPHA.size, K, 2), 0.3)
    R[:, ALPHA > 90.0, :2, :2] = np.array([[0.85, 0.02], [0.02, 0.85]])
    coords = {"eta": np.full(runs, 0.5), "N": np.full(runs, 100)}
    coords[coord] = np.repeat(values, seeds)
    return make_group(ALPHA, eg, Q, R, np.eye(2), v=v, seeds=seeds, coords=coords)


def write(path, groups, *, learn_v="false", h="identity", gamma="1", K=2, seeds=2):
    return write_campaign(path, groups, kind="simulation", seeds=seeds, attrs={
        "config": CONFIG.format(K=K, learn_v=learn_v, h=h, gamma=gamma)})


def prepared(path, name="K2_M2"):
    ds = pa.load_campaign(path)[name]
    avg = pa.seed_average(ds, align=True)
    return ds, avg, pa.plateau_summary(ds, averaged=avg)


def test_linear_eg_alpha_range_fixed_point(tmp_path):
    ds, avg, summary = prepared(write(tmp_path / "a.h5", {"K2_M2": group()}))
    theory_summary = summary.assign(found=summary["found"], height=summary["height"])
    fig = plot_eg_linear(ds, avg, summary, avg, np.array([0, 1]), alpha_range=(0.0, 100.0),
                         theory_summary=theory_summary, fixed_point_eg=0.021)
    ax = fig.axes[0]
    assert ax.get_xscale() == "linear" and ax.get_yscale() == "linear"
    assert ax.get_xlim()[1] <= 100.0
    assert max(line.get_xdata().max() for line in ax.get_lines()
               if len(line.get_xdata()) > 2) <= 100.0
    hlines = [line for line in ax.get_lines() if line.get_linestyle() == "-."
              and len(set(line.get_ydata())) == 1 and len(line.get_ydata()) == 2]
    assert sorted(round(line.get_ydata()[0], 4) for line in hlines) == [0.02, 0.02, 0.021]
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert "fixed point ε_g = 0.021" in labels
    assert any("theory plateau" in t for t in labels)
    pyplot().close(fig)


def test_titles_state_the_files_settings(tmp_path):
    v = np.broadcast_to(np.linspace(1.0, 0.7, ALPHA.size)[None, :, None], (4, ALPHA.size, 2))
    path = write(tmp_path / "v.h5", {"K2_M2": group(v=v)}, learn_v="true", h="tanh", gamma="2")
    assert settings_text(pa.load_campaign(path)["K2_M2"]) == [
        "h = tanh", "γ = 2", "learned v", "s² = 0"]
    ds, avg, summary = prepared(path)
    fig = plot_v(ds, avg)
    title = fig._suptitle.get_text().replace("\n", " ")
    assert "h = tanh" in title and "learned v" in title and "γ = 2" in title
    lines = fig.axes[0].get_lines()
    assert len(lines) == 2 and lines[0].get_ydata()[-1] == pytest.approx(0.7)
    pyplot().close(fig)
    fig = plot_eg(ds, avg, summary)
    assert "learned v" in fig.axes[0].get_title()
    pyplot().close(fig)
    out = tmp_path / "out"
    report(path, out, formats=["png"], out=open(tmp_path / "t", "w"))
    assert (out / "v_K2_M2.png").stat().st_size > 5000


def test_normalized_overlaps_and_final_R(tmp_path):
    ds, avg, summary = prepared(write(tmp_path / "a.h5", {"K2_M2": group()}))
    fig = plot_normalized_overlaps(ds, avg)
    ax = fig.axes[0]
    assert len(ax.get_lines()) == 4
    final = {line.get_label(): line.get_ydata()[-1] for line in ax.get_lines()}
    assert final["r_11"] == pytest.approx(0.85 / math.sqrt(0.8))
    assert "r_jn = R_jn / √(Q_jj T_nn)" in ax.get_ylabel()
    pyplot().close(fig)
    fig = plot_final_R(ds, avg)
    assert len(fig.axes[0].images) == 1
    texts = sorted(t.get_text() for t in fig.axes[0].texts)
    assert texts == ["0.02", "0.02", "0.95", "0.95"]
    assert any(a.get_ylabel().startswith("final r_jn") for a in fig.axes)  # the colorbar
    pyplot().close(fig)


def test_escape_histogram(tmp_path):
    ds, avg, summary = prepared(write(tmp_path / "a.h5", {"K2_M2": group()}))
    runs = pa.plateaus(ds)
    fig = plot_escape_histogram(ds, runs)
    ax = fig.axes[0]
    assert len(ax.patches) == 2  # one step outline per grid point
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert labels == ["η = 0.5  (2/2 escaped)", "η = 1.5  (2/2 escaped)"]
    assert ax.get_xscale() == "log"
    pyplot().close(fig)


def test_escape_against_log_n_with_fitted_slope(tmp_path):
    Ns = [50, 100, 200, 400]
    ends = [20.0 + 8.0 * math.log(n) for n in Ns]
    ds, avg, summary = prepared(write(tmp_path / "n.h5", {
        "K2_M2": group(4, seeds=4, coord="N", values=Ns, ends=ends, jitter=0.05)}, seeds=4))
    fit = fit_log_n(summary)
    b, n = fit.slope, fit.n_points
    # The escape time is end * 2**(1/4) on the slope -4 flank: slope 8 * 2**(1/4).
    assert n == 4 and b == pytest.approx(8.0 * 2 ** 0.25, rel=0.02)
    fig = plot_escape_vs_log_n(ds, summary)
    ax = fig.axes[0]
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert any(t.startswith("weighted fit: α_esc =") and f"{b:.3g}" in t for t in labels)
    assert ax.get_xlabel().startswith("ln N")
    pyplot().close(fig)
    out = tmp_path / "out"
    report(tmp_path / "n.h5", out, formats=["png"], out=open(tmp_path / "t", "w"))
    assert (out / "escape_lnN_K2_M2.png").stat().st_size > 5000


def test_sweep_over_K_across_groups(tmp_path):
    path = write(tmp_path / "k.h5", {"K2_M2": group(1), "K3_M2": group(1, K=3)})
    groups = pa.load_campaign(path)
    summaries = {n: pa.plateau_summary(ds) for n, ds in groups.items()}
    fig = plot_group_sweep(summaries, "K")
    ax = fig.axes[0]
    assert list(ax.get_xticks()) == [2, 3]
    assert ax.get_xlabel().startswith("K")
    assert [t.get_text() for t in ax.texts] == ["2/2", "2/2"]
    pyplot().close(fig)
    out = tmp_path / "out"
    report(path, out, formats=["png"], out=open(tmp_path / "t", "w"))
    assert (out / "sweep_K.png").stat().st_size > 5000 and not (out / "sweep_M.png").exists()


def test_colorbar_for_many_points(tmp_path):
    ds, avg, summary = prepared(write(tmp_path / "m.h5", {"K2_M2": group(12)}))
    fig = plot_eg(ds, avg, summary)
    assert len(fig.axes) == 2 and fig.axes[1].get_ylabel() == "learning rate η"
    assert all(leg.get_title().get_text() != "grid point" for leg in fig.axes[0].get_children()
               if hasattr(leg, "get_title") and type(leg).__name__ == "Legend")
    pyplot().close(fig)
    ds3, avg3, summary3 = prepared(write(tmp_path / "f.h5", {"K2_M2": group(3)}))
    fig = plot_eg(ds3, avg3, summary3)
    assert len(fig.axes) == 1
    pyplot().close(fig)


def test_figures_per_sweep_beyond_a_few_points(tmp_path):
    path = write(tmp_path / "m.h5", {"K2_M2": group(6, seeds=1)}, seeds=1)
    out = tmp_path / "out"
    written = report(path, out, formats=["png"], out=open(tmp_path / "t", "w"))
    assert not list(out.glob("overlaps_*"))
    figures = [p for p in written if p.suffix == ".png"]
    assert len(figures) <= 8  # eg, eg_linear, r, Rfinal, escape_hist, sweep: not 6 + ...
    assert {p.stem for p in figures} >= {"eg_K2_M2", "r_K2_M2", "Rfinal_K2_M2",
                                         "sweep_K2_M2_eta"}
    everything = report(path, tmp_path / "all", formats=["png"], all_points=True,
                        out=open(tmp_path / "t", "w"))
    assert len([p for p in everything if p.stem.startswith("overlaps_")]) == 6
    # A few points: one overlaps figure per point, as before.
    few = report(path, tmp_path / "few", formats=["png"], max_point_figures=6,
                 out=open(tmp_path / "t", "w"))
    assert len([p for p in few if p.stem.startswith("overlaps_")]) == 6


def test_sweep_with_many_series_has_a_colorbar(tmp_path):
    """eta x 12 values of N: the sweep over eta has 12 series, named by a colorbar (N), not by
    24 legend entries."""
    from plateau_analysis.figures import plot_sweep

    g = group(24, seeds=1, coord="eta", values=np.tile([0.5, 1.0], 12))
    Ns = np.repeat(np.arange(100, 1300, 100), 2)
    g = g.assign_coords(N=("run", Ns, dict(g["N"].attrs)))
    ds, avg, summary = prepared(write(tmp_path / "m.h5", {"K2_M2": g}, seeds=1))
    fig = plot_sweep(ds, summary, "eta")
    assert fig.axes[-1].get_ylabel() == "N"  # the colorbar
    legend = [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    assert len(legend) <= 3 and "colorbar" in legend[0]
    pyplot().close(fig)
