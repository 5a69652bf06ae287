"""The field's standard figures beyond :mod:`plateau_analysis.figures` (matplotlib, Agg).

- :func:`plot_eg_linear`: eps_g(alpha) on linear axes (an alpha range may be given), with the
  plateau (fixed-point) eps_g as horizontal lines when the theory or the caller gives it (the
  theory file's ``plateau_eg``, schema 1.5, else the height detected on the theory's curve);
- :func:`plot_v`: the second-layer weights v_j(alpha) (files with ``learn-v``);
- :func:`plot_normalized_overlaps`: r_jn = R_jn / sqrt(Q_jj T_nn) against alpha, one panel
  per grid point;
- :func:`plot_final_R`: heat maps of the final (seed-mean, aligned) normalized overlaps;
- :func:`plot_escape_histogram`: the escape times of the runs, one histogram per grid point;
- :func:`plot_escape_vs_log_n`: escape time against ln N with a fitted straight line (and the
  theory file's predicted escape times and 1/(2 lambda) slope, schema 1.5);
- :func:`plot_group_sweep`: escape time and plateau height against K (or M) across groups;
- :func:`plot_train_test`: training error eps_train and test error eps_g together (files with a
  finite training set, schema 1.2), with :func:`generalization_gap` in the legend.

Colours: up to 10 grid points get a legend; more get a colormap along the swept coordinate
and a colorbar (:func:`~plateau_analysis.figures.point_colors`).
"""

from __future__ import annotations

import math

import numpy as np

from .campaign import COMPLETED, grid_point_index, swept_coordinates
from .figures import (ALPHA_LABEL, PRETTY, _label_names, _title, format_value, point_colors,
                      point_label, pyplot, wrap_title)
from .overlaps import normalized_overlap_array
from .predictions import draw_escape_prediction, draw_plateau_height, plateau_height_handle

def _no_run_text(avg, i: int) -> str:
    """``"every run diverged (4)"`` / ``"no completed run"`` for a point without data, else ""."""
    if int(avg["n_completed"].values[i]) > 0:
        return ""
    div = int(avg["n_diverged"].values[i])
    return f"every run diverged ({div})" if div else "no completed run"


def _mark_empty(ax, avg, i: int) -> None:
    text = _no_run_text(avg, i)
    if text:
        ax.text(0.5, 0.5, text, transform=ax.transAxes, ha="center", va="center",
                color="0.4", fontsize=9)


def _common_title(summaries: dict) -> str:
    """The settings of a file's groups, without K and M (they are the abscissa)."""
    first = next(iter(summaries.values()))
    return ", ".join(p for p in _title(first).split(", ")
                     if not p.startswith(("K =", "M =")))


def _alpha_mask(alpha, alpha_range):
    lo, hi = alpha_range if alpha_range is not None else (-np.inf, np.inf)
    return (alpha >= lo) & (alpha <= hi)


def plot_eg_linear(ds, avg, summary, theory_avg=None, matches=None, *, alpha_range=None,
                   theory_summary=None, fixed_point_eg=None):
    """Figure: eps_g(alpha) on linear axes (seed mean, 10-90 % band, theory dashed).

    Parameters
    ----------
    ds, avg, summary : xarray.Dataset
        The group, its ``seed_average`` and ``plateau_summary``.
    theory_avg, matches : optional
        The theory's seed average and :func:`~plateau_analysis.report.match_theory`.
    alpha_range : (float, float), optional
        The alpha range drawn (default: all).
    theory_summary : xarray.Dataset, optional
        ``plateaus`` of the theory: its plateau height (the symmetric fixed point's eps_g, to
        ~2 %) is drawn as a horizontal dash-dot line per point.
    fixed_point_eg : float, optional
        A fixed-point eps_g given by the caller (``--fixed-point-eg``): a black horizontal line.

    Returns
    -------
    matplotlib.figure.Figure
    """
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(10.5, 5.2))
    alpha = avg["alpha"].values
    sel = _alpha_mask(alpha, alpha_range)
    colors, colorbar = point_colors(plt, avg, fig, ax)
    names = _label_names(avg)
    q = avg["eg_quantile"]
    single = ds.attrs.get("kind") == "theory"
    exact_height = detected_height = False
    for i, color in enumerate(colors):
        empty = _no_run_text(avg, i)
        ax.plot(alpha[sel], avg["eg_mean"].values[i][sel], color=color, lw=2,
                label=None if colorbar else point_label(avg, i, names)
                + (f" ({empty})" if empty else ""))
        if not single and int(avg["n_completed"].values[i]) > 1:
            ax.fill_between(alpha[sel], q.values[i, 0][sel], q.values[i, -1][sel], color=color,
                            alpha=0.2, lw=0)
        t = -1 if matches is None else int(matches[i])
        if theory_avg is not None and t >= 0:
            ta = theory_avg["alpha"].values
            ts = _alpha_mask(ta, alpha_range)
            ax.plot(ta[ts], theory_avg["eg_mean"].values[t][ts], color=color, lw=1.3, ls="--")
            if draw_plateau_height(ax, theory_avg, t, color):
                exact_height = True
            elif theory_summary is not None and bool(theory_summary["found"].values[t]):
                ax.axhline(float(theory_summary["height"].values[t]), color=color, lw=1,
                           ls="-.")
                detected_height = True
    if fixed_point_eg is not None:
        ax.axhline(fixed_point_eg, color="k", lw=1.2, ls="-.",
                   label=f"fixed point ε_g = {fixed_point_eg:.4g}")
    if theory_summary is not None:
        ax.plot([], [], color="0.3", lw=1.3, ls="--", label="theory (N → ∞)")
    if detected_height:
        ax.plot([], [], color="0.3", lw=1, ls="-.",
                label="theory plateau ε_g (≈ symmetric fixed point)")
    if exact_height:
        ax.add_line(plateau_height_handle())
    if alpha_range is not None:
        ax.set_xlim(max(alpha_range[0], alpha.min()), min(alpha_range[1], alpha.max()))
    ax.set_ylim(bottom=0)
    ax.set_xlabel(ALPHA_LABEL)
    ax.set_ylabel("generalization error ε_g")
    ax.set_title(wrap_title(fig, f"{ds.attrs.get('group', '')}: ε_g, linear axes "
                                 f"({_title(ds)})"))
    ax.grid(True, alpha=0.3)
    if ax.get_legend_handles_labels()[0]:
        ax.legend(fontsize=8, loc="upper right")
    fig.tight_layout()
    return fig


def plot_v(ds, avg, *, alpha_range=None):
    """Figure: the seed mean of the second-layer weights v_j(alpha), one panel per grid point
    (at most 12), students relabelled (``avg`` aligned).

    Returns
    -------
    matplotlib.figure.Figure
    """
    plt = pyplot()
    n = min(avg.sizes["point"], 12)
    ncols = min(n, 4)
    nrows = int(math.ceil(n / ncols))
    fig, axes = plt.subplots(nrows, ncols, figsize=(max(3.6 * ncols + 0.5, 8.0),
                                                    3.0 * nrows + 0.8),
                             sharex=True, sharey=True, squeeze=False)
    alpha = avg["alpha"].values
    sel = _alpha_mask(alpha, alpha_range) & (alpha > 0)
    K = avg.sizes["student"]
    cmap = plt.get_cmap("tab10")
    names = _label_names(avg)
    for i in range(n):
        ax = axes.flat[i]
        for j in range(K):
            ax.plot(alpha[sel], avg["v_mean"].values[i, sel, j], color=cmap(j), lw=1.8,
                    label=f"v_{j + 1}")
        _mark_empty(ax, avg, i)
        ax.set_xscale("log")
        ax.set_title(point_label(avg, i, names), fontsize=9)
        ax.grid(True, alpha=0.3)
    for ax in list(axes.flat)[n:]:
        ax.set_visible(False)
    axes.flat[0].legend(fontsize=8)
    for ax in axes[-1]:
        ax.set_xlabel(ALPHA_LABEL, fontsize=9)
    for ax in axes[:, 0]:
        ax.set_ylabel("second-layer weight v_j")
    fig.suptitle(wrap_title(fig, f"{ds.attrs.get('group', '')}: learned second layer v_j "
                                 f"(seed mean; {_title(ds)})"), fontsize=11)
    fig.tight_layout()
    return fig


def _r_mean(avg):
    """Seed-mean normalized overlaps r_jn of an aligned seed average, (point, alpha, K, M)."""
    T = avg["T_mean"].values[:, None] if "T_mean" in avg else np.eye(avg.sizes["teacher"])
    return normalized_overlap_array(avg["Q_mean"].values, avg["R_mean"].values, T)


def _panel_grid(avg, points):
    """The grid points to draw (default: the first 12) and a layout of at most 4 columns:
    (points, n, ncols, nrows)."""
    points = list(range(min(avg.sizes["point"], 12))) if points is None else list(points)
    n = len(points)
    ncols = min(n, 4)
    return points, n, ncols, int(math.ceil(n / ncols))


def plot_normalized_overlaps(ds, avg, *, alpha_range=None, points=None):
    """Figure: r_jn = R_jn / sqrt(Q_jj T_nn) against alpha, one panel per grid point.

    From the seed means of Q and R of an aligned seed average (student j learned teacher j): own
    overlaps r_jj solid, the others dashed; one colour per student unit.

    Parameters
    ----------
    points : sequence of int, optional
        Positions along ``point`` (default: the first 12).

    Returns
    -------
    matplotlib.figure.Figure
    """
    plt = pyplot()
    points, n, ncols, nrows = _panel_grid(avg, points)
    fig, axes = plt.subplots(nrows, ncols, figsize=(max(3.6 * ncols + 0.5, 8.0),
                                                    3.0 * nrows + 1.0),
                             sharex=True, sharey=True, squeeze=False)
    alpha = avg["alpha"].values
    sel = _alpha_mask(alpha, alpha_range) & (alpha > 0)
    r = _r_mean(avg)
    K, M = r.shape[-2:]
    cmap = plt.get_cmap("tab10")
    names = _label_names(avg)
    for k, i in enumerate(points):
        ax = axes.flat[k]
        for j in range(K):
            for m in range(M):
                ax.plot(alpha[sel], r[i, sel, j, m], color=cmap(j), lw=1.8 if j == m else 1.1,
                        ls="-" if j == m else ("--", ":", "-.")[m % 3],
                        label=f"r_{j + 1}{m + 1}" if k == 0 else None)
        _mark_empty(ax, avg, i)
        ax.set_xscale("log")
        ax.set_ylim(-0.2, 1.05)
        ax.set_title(point_label(avg, i, names), fontsize=9)
        ax.grid(True, alpha=0.3)
    for ax in list(axes.flat)[n:]:
        ax.set_visible(False)
    for ax in axes[-1]:
        ax.set_xlabel(ALPHA_LABEL, fontsize=9)
    for ax in axes[:, 0]:
        ax.set_ylabel("r_jn = R_jn / √(Q_jj T_nn)")
    fig.legend(loc="lower center", ncol=min(K * M, 8), fontsize=8, frameon=False)
    fig.suptitle(wrap_title(fig, f"{ds.attrs.get('group', '')}: normalized overlaps (seed means, "
                                 f"students relabelled; solid: r_jj; {_title(ds)})"), fontsize=11)
    fig.tight_layout(rect=(0, 0.06, 1, 1))
    return fig


def plot_final_R(ds, avg, *, points=None):
    """Figure: heat maps of the final normalized overlaps r_jn (seed mean, aligned), one per
    grid point (at most 12), with the values written in the cells.

    Returns
    -------
    matplotlib.figure.Figure
    """
    plt = pyplot()
    points, n, ncols, nrows = _panel_grid(avg, points)
    K, M = avg.sizes["student"], avg.sizes["teacher"]
    fig, axes = plt.subplots(nrows, ncols, figsize=(max(1.2 * M * ncols + 2.5, 6.0),
                                                    1.0 * K * nrows + 1.6), squeeze=False)
    r = _r_mean(avg)
    names = _label_names(avg)
    image = None
    for k, i in enumerate(points):
        ax = axes.flat[k]
        finite = np.flatnonzero(np.isfinite(r[i]).all(axis=(1, 2)))
        final = r[i, finite[-1]] if finite.size else np.full((K, M), np.nan)
        image = ax.imshow(final, vmin=-1, vmax=1, cmap="RdBu_r")
        for j in range(K):
            for m in range(M):
                if math.isfinite(final[j, m]):
                    ax.text(m, j, f"{final[j, m]:.2f}", ha="center", va="center", fontsize=8,
                            color="w" if abs(final[j, m]) > 0.6 else "k")
        ax.set_xticks(range(M), [f"B_{m + 1}" for m in range(M)], fontsize=8)
        ax.set_yticks(range(K), [f"w_{j + 1}" for j in range(K)], fontsize=8)
        ax.set_title(point_label(avg, i, names), fontsize=8)
        _mark_empty(ax, avg, i)
    for ax in list(axes.flat)[n:]:
        ax.set_visible(False)
    if image is not None:
        fig.colorbar(image, ax=axes, label="final r_jn = R_jn / √(Q_jj T_nn)", shrink=0.9)
    fig.suptitle(wrap_title(fig, f"{ds.attrs.get('group', '')}: final normalized overlaps (seed "
                                 f"mean, students relabelled; {_title(ds)})"), fontsize=10)
    return fig


def plot_escape_histogram(ds, runs, *, bins: int = 12):
    """Figure: histograms of the runs' escape times, one step outline per grid point.

    Parameters
    ----------
    runs : xarray.Dataset
        :func:`~plateau_analysis.plateaus` of the group (per run).

    Returns
    -------
    matplotlib.figure.Figure
    """
    from .campaign import grid_point_index

    plt = pyplot()
    fig, ax = plt.subplots(figsize=(8.5, 4.6))
    point = grid_point_index(ds)
    points = list(dict.fromkeys(point.tolist()))
    esc = runs["escape"].values
    finite = esc[np.isfinite(esc) & (esc > 0)]
    names = [n for n in swept_coordinates(ds)] or [n for n in ("eta", "N") if n in ds.coords]
    if finite.size:
        edges = np.geomspace(finite.min() / 1.05, finite.max() * 1.05, bins + 1)
        colors = plt.get_cmap("tab10" if len(points) <= 10 else "viridis")
        for k, p in enumerate(points):
            sel = point == p
            values = esc[sel]
            ok = np.isfinite(values)
            first = int(np.flatnonzero(sel)[0])
            label = ", ".join(f"{PRETTY.get(n, n)} = {format_value(ds[n].values[first])}"
                              for n in names)
            color = colors(k if len(points) <= 10 else k / max(len(points) - 1, 1))
            failed = int(np.count_nonzero(runs["outcome"].values[sel] == "failed")) \
                if "outcome" in runs else 0
            ax.hist(values[ok], bins=edges, histtype="step", lw=1.8, color=color,
                    label=f"{label}  ({ok.sum()}/{sel.sum()} escaped"
                    + (f", {failed} failed" if failed else "") + ")")
        ax.set_xscale("log")
        ax.legend(fontsize=8)
        from matplotlib.ticker import MaxNLocator

        ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    else:
        failed = int(np.count_nonzero(runs["outcome"].values == "failed")) \
            if "outcome" in runs else 0
        text = "no run escaped a plateau"
        if failed:
            text += f"\n({failed} of {esc.size} runs failed: no learning, no plateau)"
        ax.text(0.5, 0.5, text, transform=ax.transAxes, ha="center", color="0.4", fontsize=13)
    ax.set_xlabel("escape time α_esc = examples / N (runs)")
    ax.set_ylabel("runs")
    ax.set_title(wrap_title(fig, f"{ds.attrs.get('group', '')}: escape times across seeds "
                                 f"({_title(ds)})"),
                 fontsize=10)
    ax.grid(True, alpha=0.3)
    fig.tight_layout()
    return fig


def fit_log_n(summary):
    """Least-squares fit escape = a + b ln N over the grid points with an escape time.

    Returns
    -------
    (slope, intercept, n_points) ; NaN slope for fewer than two points.
    """
    x = np.log(summary["N"].values.astype(float))
    y = summary["escape_runs_mean"].values
    ok = np.isfinite(x) & np.isfinite(y)
    if np.unique(x[ok]).size < 2:
        return math.nan, math.nan, int(ok.sum())
    b, a = np.polyfit(x[ok], y[ok], 1)
    return float(b), float(a), int(ok.sum())


def slope_stderr(summary) -> float:
    """Standard error of the slope of :func:`fit_log_n` (NaN for fewer than three points)."""
    x = np.log(summary["N"].values.astype(float))
    y = summary["escape_runs_mean"].values
    ok = np.isfinite(x) & np.isfinite(y)
    if ok.sum() < 3 or np.unique(x[ok]).size < 2:
        return math.nan
    b, a = np.polyfit(x[ok], y[ok], 1)
    resid = y[ok] - (a + b * x[ok])
    sxx = np.sum((x[ok] - x[ok].mean()) ** 2)
    return float(np.sqrt(np.sum(resid ** 2) / (ok.sum() - 2) / sxx))


def plot_escape_vs_log_n(ds, summary, theory_avg=None, matches=None):
    """Figure: escape time (mean over the runs that escaped ± SE) against ln N, with the
    fitted straight line escape = a + b ln N (the plateau length grows like ln N) and its
    slope b in the legend; with a theory file of schema 1.5 (``theory_avg`` from
    :func:`~plateau_analysis.predictions.with_predictions`, ``matches`` from
    :func:`~plateau_analysis.report.match_theory`) also its predicted mean escape times and
    the line of slope 1/(2 lambda) (:func:`~plateau_analysis.predictions.draw_escape_prediction`).

    Returns
    -------
    matplotlib.figure.Figure
    """
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(7.5, 4.8))
    x = np.log(summary["N"].values.astype(float))
    y = summary["escape_runs_mean"].values
    ax.errorbar(x, y, yerr=np.nan_to_num(summary["escape_runs_sem"].values), marker="o", ls="", capsize=3,
                color="tab:blue", label="runs that escaped (mean ± SE)")
    b, a, n = fit_log_n(summary)
    if math.isfinite(b):
        xs = np.linspace(x.min(), x.max(), 50)
        se = slope_stderr(summary)
        slope = f"({b:.3g} ± {se:.2g})" if math.isfinite(se) else f"{b:.3g}"
        ax.plot(xs, a + b * xs, color="tab:red", lw=1.5,
                label=f"fit: α_esc = {a:.3g} + {slope} ln N  ({n} points)")
    for i in range(x.size):
        ax.annotate(f"{int(summary['runs_escaped'].values[i])}/"
                    f"{int(summary['n_runs'].values[i])}",
                    (x[i], y[i] if math.isfinite(y[i]) else 0.96),
                    xycoords="data" if math.isfinite(y[i]) else ax.get_xaxis_transform(),
                    xytext=(6, 4), textcoords="offset points", fontsize=8)
    draw_escape_prediction(ax, summary, theory_avg, matches)
    top = ax.secondary_xaxis("top")
    values = np.unique(summary["N"].values.astype(float))
    top.set_xticks(np.log(values), [f"{v:g}" for v in values])
    top.set_xlabel("N")
    ax.set_xlabel("ln N   (N = input dimension)")
    ax.set_ylabel("escape time α_esc = examples / N")
    ax.set_title(wrap_title(fig, f"{ds.attrs.get('group', '')}: escape time against ln N "
                                 f"({_title(ds)})"), fontsize=10, pad=28)
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def plot_group_sweep(summaries: dict, name: str = "K"):
    """Figure: escape time and plateau height against K (or M) across the groups of a file.

    Parameters
    ----------
    summaries : dict of str to xarray.Dataset
        Group name to its ``plateau_summary`` (attributes ``K``, ``M``).
    name : {"K", "M"}

    Returns
    -------
    matplotlib.figure.Figure
    """
    plt = pyplot()
    fig, (ax_e, ax_h) = plt.subplots(1, 2, figsize=(10.5, 4.4))
    other = "M" if name == "K" else "K"
    rows = []
    for gname, s in summaries.items():
        for i in range(s.sizes["point"]):
            key = tuple(format_value(s[c].values[i]) for c in swept_coordinates(s, "point"))
            rows.append((int(s.attrs[name]), int(s.attrs[other]), key,
                         float(s["escape_runs_mean"].values[i]),
                         float(s["escape_runs_sem"].values[i]),
                         float(s["height_runs_mean"].values[i]),
                         f"{int(s['runs_escaped'].values[i])}/{int(s['n_runs'].values[i])}"))
    series = sorted({(r[1], r[2]) for r in rows})
    cmap = plt.get_cmap("tab10")
    for k, (o, key) in enumerate(series):
        pts = sorted(r for r in rows if (r[1], r[2]) == (o, key))
        xs = np.array([p[0] for p in pts], dtype=float)
        label = f"{other} = {o}" + (f", {', '.join(key)}" if key else "")
        ax_e.errorbar(xs, [p[3] for p in pts], yerr=np.nan_to_num([p[4] for p in pts]),
                      marker="o",
                      capsize=3, color=cmap(k % 10), label=label)
        ax_h.plot(xs, [p[5] for p in pts], marker="o", color=cmap(k % 10), label=label)
        for p in pts:
            ax_e.annotate(p[6], (p[0], p[3] if math.isfinite(p[3]) else 0.96),
                          xycoords="data" if math.isfinite(p[3]) else ax_e.get_xaxis_transform(),
                          xytext=(6, 4), textcoords="offset points", fontsize=8,
                          color=cmap(k % 10))
    for ax in (ax_e, ax_h):
        ax.set_xlabel(f"{name} ({'student' if name == 'K' else 'teacher'} hidden units)")
        ax.grid(True, alpha=0.3)
        ax.legend(fontsize=8)
        ax.set_xticks(sorted({r[0] for r in rows}))
    ax_e.set_ylabel("escape time α_esc (runs that escaped)")
    ax_h.set_ylabel("plateau height ε_g (runs)")
    ax_e.set_title("escape from the plateau; labels: escaped / runs", fontsize=10)
    ax_h.set_title("plateau height", fontsize=10)
    fig.suptitle(wrap_title(fig, f"sweep over {name} across groups ({_common_title(summaries)})"),
                 fontsize=11)
    fig.tight_layout()
    return fig


def has_training_error(ds) -> bool:
    """Whether a group holds a training error: ``eps_train`` (schema 1.2) with a finite value,
    i.e. runs on a finite training set (runs on fresh examples have NaN)."""
    return "eps_train" in ds and bool(np.isfinite(np.asarray(ds["eps_train"].values)).any())


def _train_test_means(ds):
    """Per grid point (in the order of ``seed_average``): the mean over completed runs of eg and
    eps_train (alpha), of the gap eg - eps_train (alpha) and its standard error."""
    point_of_run = grid_point_index(ds)
    status = np.asarray(ds["status"].values)
    eg = np.asarray(ds["eg"].values, dtype=float)
    et = np.asarray(ds["eps_train"].values, dtype=float)
    out = []
    for p in np.unique(point_of_run):
        done = np.flatnonzero((point_of_run == p) & (status == COMPLETED))
        n = done.size
        gap = eg[done] - et[done]
        nan = np.full(eg.shape[1], np.nan)
        out.append({
            "eg": eg[done].mean(axis=0) if n else nan,
            "eps_train": et[done].mean(axis=0) if n else nan,
            "gap": gap.mean(axis=0) if n else nan,
            "gap_sem": gap.std(axis=0, ddof=1) / math.sqrt(n) if n > 1 else nan,
        })
    return out


def generalization_gap(ds):
    """The generalization gap eps_g - eps_train at the last record, per grid point.

    Parameters
    ----------
    ds : xarray.Dataset
        One group of a simulation file with ``eps_train`` (:func:`has_training_error`).

    Returns
    -------
    list of (float, float)
        (mean over completed runs, its standard error) per grid point, in the order of
        ``seed_average``; NaN where a point has no completed run (or one run, for the error).
    """
    return [(float(m["gap"][-1]), float(m["gap_sem"][-1])) for m in _train_test_means(ds)]


def plot_train_test(ds, avg):
    """Figure: training error eps_train (dashed) and test error eps_g (solid) against alpha, seed
    means per grid point, on log-log axes; the legend gives the gap eps_g - eps_train at the
    last record (mean ± standard error over seeds). With label noise s^2 (the ``noise`` key),
    eps_g + s^2/2 is drawn dotted: the expected training error of a student that has not fitted
    the noise (eps_train counts the noisy labels, eps_g does not), so the gap of an unfitted
    student is -s^2/2, not 0.

    Parameters
    ----------
    ds, avg : xarray.Dataset
        The group (with ``eps_train``) and its ``seed_average``.

    Returns
    -------
    matplotlib.figure.Figure
    """
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(10.5, 5.2))
    alpha = avg["alpha"].values
    colors, colorbar = point_colors(plt, avg, fig, ax)
    names = _label_names(avg)
    from .configs import parse_config

    try:
        noise = float(parse_config(ds.attrs.get("config", "")).get("noise", "0"))
    except ValueError:
        noise = 0.0
    pos = alpha > 0
    for i, (color, m) in enumerate(zip(colors, _train_test_means(ds))):
        gap, sem = m["gap"][-1], m["gap_sem"][-1]
        label = None if colorbar else (point_label(avg, i, names)
                                       + f": gap {gap:.3g} ± {sem:.2g}")
        ax.plot(alpha[pos], m["eg"][pos], color=color, lw=2, label=label)
        ax.plot(alpha[pos], m["eps_train"][pos], color=color, lw=1.5, ls="--")
        if noise > 0:
            ax.plot(alpha[pos], m["eg"][pos] + noise / 2, color=color, lw=1, ls=":")
        _mark_empty(ax, avg, i)
    ax.plot([], [], color="0.3", lw=2, label="test error ε_g (fresh input, no label noise)")
    ax.plot([], [], color="0.3", lw=1.5, ls="--", label="training error ε_t on the training set")
    if noise > 0:
        ax.plot([], [], color="0.3", lw=1, ls=":",
                label=f"ε_g + s²/2 (s² = {noise:g}): ε_t of a student that fits no noise")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("α = updates / N")
    ax.set_ylabel("error")
    ax.set_title(wrap_title(fig, f"{ds.attrs.get('group', '')}: training and test error, gap "
                                 f"ε_g − ε_t at α = {alpha[-1]:.4g} ({_title(ds)})"))
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8, loc="lower left")
    fig.tight_layout()
    return fig
