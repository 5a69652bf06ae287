"""The field's standard figures beyond :mod:`plateau_analysis.figures` (matplotlib, Agg).

- :func:`plot_eg_linear`: eps_g(alpha) on linear axes (an alpha range may be given), with the
  plateau (fixed-point) eps_g as horizontal lines when the theory or the caller gives it (the
  theory file's ``plateau_eg``, schema 1.5, else the height detected on the theory's curve);
- :func:`plot_v`: the second-layer weights v_j(alpha) (files with ``learn-v``);
- :func:`plot_normalized_overlaps`: r_jn = R_jn / sqrt(Q_jj T_nn) against alpha, one panel
  per grid point;
- :func:`plot_final_R`: heat maps of the final (seed-mean, aligned) normalized overlaps;
- :func:`plot_escape_histogram`: the escape times of the runs, one histogram per grid point (and
  the predicted law's median and 10-90 % range from a theory file);
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
from .figures import (PRETTY, _label_names, _title, add_examples_axis, escape_label,
                      file_settings, format_value, point_colors, point_label, pyplot,
                      relabel_text, time_label, wrap_title)
from .overlaps import normalized_overlap_array
from .predictions import (DENSITY_STYLE, draw_escape_density, draw_escape_law,
                          draw_escape_prediction, draw_plateau_height,
                          plateau_height_handle)
from .stats import LineFit, weighted_line_fit

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
    ax.set_xlabel(time_label(ds))
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
        ax.set_xlabel(time_label(ds), fontsize=9)
    for ax in axes[:, 0]:
        ax.set_ylabel("second-layer weight v_j")
    fig.suptitle(wrap_title(fig, f"{ds.attrs.get('group', '')}: learned second layer v_j "
                                 f"(seed mean; {_title(ds)})"), fontsize=11)
    fig.tight_layout()
    return fig


def _order_note(ds, avg, i: int) -> str:
    """A panel's note when the student units of grid point ``i`` are in file order (no unit of
    any run assigned: nothing to relabel), else ""."""
    if ds.attrs.get("kind") == "theory" or int(avg["n_completed"].values[i]) == 0:
        return ""
    text = relabel_text(ds, avg, i)
    return "\n(no unit assigned: file order)" if text.startswith("students in file") else ""


def _sign_note(ds) -> str:
    """"; |r| counted (odd g, learned upper layer)" when a unit's sign is a symmetry of the
    runs (:func:`~plateau_analysis.overlaps.sign_symmetric`), else ""."""
    from .overlaps import sign_symmetric

    if "run" in ds.dims and bool(sign_symmetric(ds).any()):
        return "; sign symmetry: r = -1 counts as learned"
    return ""


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
    # The whole range of r: with a sign symmetry (odd g, learned upper layer) r = -1 is learned.
    shown = r[points][:, sel]
    low = float(np.nanmin(shown)) if np.isfinite(shown).any() else 0.0
    r_bottom = -0.2 if low >= -0.15 else -1.05
    for k, i in enumerate(points):
        ax = axes.flat[k]
        for j in range(K):
            for m in range(M):
                ax.plot(alpha[sel], r[i, sel, j, m], color=cmap(j), lw=1.8 if j == m else 1.1,
                        ls="-" if j == m else ("--", ":", "-.")[m % 3],
                        label=f"r_{j + 1}{m + 1}" if k == 0 else None)
        _mark_empty(ax, avg, i)
        ax.set_xscale("log")
        ax.set_ylim(r_bottom, 1.05)
        ax.set_title(point_label(avg, i, names) + _order_note(ds, avg, i), fontsize=9)
        ax.grid(True, alpha=0.3)
    for ax in list(axes.flat)[n:]:
        ax.set_visible(False)
    for ax in axes[-1]:
        ax.set_xlabel(time_label(ds), fontsize=9)
    for ax in axes[:, 0]:
        ax.set_ylabel("r_jn = R_jn / √(Q_jj T_nn)")
    fig.legend(loc="lower center", ncol=min(K * M, 8), fontsize=8, frameon=False)
    fig.suptitle(wrap_title(fig, f"{ds.attrs.get('group', '')}: normalized overlaps (seed means, "
                                 f"students relabelled where assigned{_sign_note(ds)}; solid: "
                                 f"r_jj; {_title(ds)})"), fontsize=11)
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
        ax.set_title(point_label(avg, i, names) + _order_note(ds, avg, i), fontsize=8)
        _mark_empty(ax, avg, i)
    for ax in list(axes.flat)[n:]:
        ax.set_visible(False)
    title = wrap_title(fig, f"{ds.attrs.get('group', '')}: final normalized overlaps (seed "
                            f"mean, students relabelled where assigned{_sign_note(ds)}; "
                            f"{_title(ds)})")
    # Room for the title's lines (about 0.2 inch each) above the panels' own titles; before
    # the colorbar, which takes its place from the panels as they are.
    lines = title.count("\n") + 1
    fig.subplots_adjust(top=max(0.5, 1 - (0.2 * lines + 0.35) / fig.get_figheight()))
    if image is not None:
        fig.colorbar(image, ax=axes, label="final r_jn = R_jn / √(Q_jj T_nn)", shrink=0.9)
    fig.suptitle(title, fontsize=10)
    return fig


def plot_escape_histogram(ds, runs, *, bins: int = 12, theory_avg=None, matches=None):
    """Figure: histograms of the runs' escape times, one step outline per grid point; with a
    theory file of schema 1.13, each point's predicted density of the escape time at its N
    (docs/theory.md §11.2b) as the predicted number of runs per bin (dashed curve,
    :func:`~plateau_analysis.predictions.draw_escape_density`); with one of schema 1.9 to 1.12
    (no law stored), its predicted median (dashed) and 10-90 % range (band) instead.

    Parameters
    ----------
    runs : xarray.Dataset
        :func:`~plateau_analysis.plateaus` of the group (per run).
    theory_avg, matches : optional
        :func:`~plateau_analysis.predictions.with_predictions` of the theory's seed average and
        :func:`~plateau_analysis.report.match_theory` (one theory point per grid point, in the
        order of the grid points).

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
        ratio = float(edges[1] / edges[0])
        drew_law = drew_density = False
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
            if matches is not None and k < len(matches):
                n_sim = float(ds["N"].values[first]) if "N" in ds.coords else float(
                    ds.attrs.get("N", math.nan))
                # Schema 1.13: the density, per bin of this histogram, of the runs that did not
                # fail (every one of them escapes at some time: those beyond alpha-max are in
                # the law's tail, not in the bars); older files: the median and 10-90 %.
                if draw_escape_density(ax, theory_avg, int(matches[k]), n_sim,
                                       int(sel.sum()) - failed, ratio, color):
                    drew_density = True
                else:
                    drew_law = draw_escape_law(ax, theory_avg, int(matches[k]), n_sim,
                                               color) or drew_law
        ax.set_xscale("log")
        if drew_density:
            ax.plot([], [], color="0.3", label="theory: predicted runs per bin, n × P(bin) (n = "
                    "runs not failed; the law's 1–99 % range)", **DENSITY_STYLE)
        if drew_law:
            ax.plot([], [], color="0.3", lw=1.4, ls="--",
                    label="theory: predicted median and 10–90 % of the escape time"
                    + (" (theory file before schema 1.13: no density)" if
                       theory_avg is not None and "escape_predicted_law" not in theory_avg
                       else ""))
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
    ax.set_xlabel(escape_label(ds, "(runs)"))
    ax.set_ylabel("runs")
    ax.set_title(wrap_title(fig, f"{ds.attrs.get('group', '')}: escape times across seeds "
                                 f"({_title(ds)})"),
                 fontsize=10)
    ax.grid(True, alpha=0.3)
    fig.tight_layout()
    return fig


def fit_log_n(summary) -> LineFit:
    """Weighted least-squares fit escape = a + b ln N over the grid points with an escape time:
    :func:`~plateau_analysis.stats.weighted_line_fit` of ``escape_runs_mean`` with weights
    1 / ``escape_runs_sem``^2 (the standard error over the runs that escaped). Each grid point
    counts once, however many files its seeds came from (:func:`~plateau_analysis.open_sweep`
    pools them); a point without a standard error (fewer than two runs escaped) is left out.

    Returns
    -------
    LineFit
        Slope, intercept, their errors from the weights, chi^2 and the points used.
    """
    return weighted_line_fit(np.log(summary["N"].values.astype(float)),
                             summary["escape_runs_mean"].values,
                             summary["escape_runs_sem"].values)


def plot_escape_vs_log_n(ds, summary, theory_avg=None, matches=None):
    """Figure: escape time (mean over the runs that escaped ± SE) against ln N, from a
    ``plateau_summary`` or a :func:`~plateau_analysis.search.search_summary` (escape from the
    search phase; its rule in the axis label, no theory prediction), with the
    straight line escape = a + b ln N (the plateau length grows like ln N) fitted by weighted
    least squares (:func:`fit_log_n`) and its slope b ± its error from the weights, and the
    reduced chi^2, in the legend; with a theory file of schema 1.5 (``theory_avg`` from
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
    # A search_summary (plateau_analysis.search) measures the escape from the start, not from
    # a plateau: say which rule, and no plateau-escape prediction applies.
    fraction = summary.attrs.get("fraction")
    if fraction is not None:
        theory_avg = matches = None
    ax.errorbar(x, y, yerr=np.nan_to_num(summary["escape_runs_sem"].values), marker="o", ls="", capsize=3,
                color="tab:blue", label="runs that escaped (mean ± SE)")
    fit = fit_log_n(summary)
    if math.isfinite(fit.slope):
        xs = np.linspace(x.min(), x.max(), 50)
        chi2 = (f", χ²/dof = {fit.reduced_chi2:.2g}" if math.isfinite(fit.reduced_chi2)
                else "")
        left = f", {fit.n_left_out} without SE left out" if fit.n_left_out else ""
        ax.plot(xs, fit.intercept + fit.slope * xs, color="tab:red", lw=1.5,
                label=f"weighted fit: α_esc = {fit.intercept:.3g} + ({fit.slope:.3g} ± "
                      f"{fit.slope_err:.2g}) ln N  ({fit.n_points} points{left}{chi2})")
    elif fit.n_left_out:
        ax.text(0.02, 0.95, f"no weighted fit: {fit.n_points} of {fit.n_points + fit.n_left_out}"
                " points have a standard error (two runs or more escaped)",
                transform=ax.transAxes, fontsize=8, va="top")
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
    ax.set_ylabel(escape_label(ds) if fraction is None else
                  escape_label(ds, f"(first ε_g ≤ {float(fraction):g} ε_g(0))"))
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


def label_noise(ds) -> np.ndarray:
    """The label-noise variance s² (the ``noise`` key) of every run of a group, shape (run,):
    the per-run coordinate when swept, else the file's setting (0 when the file has none)."""
    n_run = ds.sizes["run"]
    if "noise" in ds.coords and ds["noise"].dims == ("run",):
        return np.asarray(ds["noise"].values, dtype=float)
    try:
        value = float(file_settings(ds).get("noise", "0"))
    except ValueError:
        value = 0.0
    return np.full(n_run, value)


def gap_of(eg, eps_train, noise):
    """The generalization gap ε_g + s²/2 − ε_t (analysis/SCHEMA.md, ``eps_train``).

    ε_g (``eg``) is measured against noise-free labels, ε_t (``eps_train``) on the noisy labels
    trained on: a label y = τ + s z adds s²/2 to the expected error of any student (Eq. (2),
    e = (σ − y)²/2), so the test error on noisy labels, the one to compare ε_t with, is
    ε_g + s²/2. The gap of a student that has fitted no noise is then 0, and it grows as the
    student fits the training set's noise.
    """
    return eg + 0.5 * noise - eps_train


def _train_test_means(ds):
    """Per grid point (in the order of ``seed_average``): the mean over completed runs of eg and
    eps_train (alpha), of the gap eg + s²/2 - eps_train (alpha, :func:`gap_of`) and its standard
    error."""
    point_of_run = grid_point_index(ds)
    status = np.asarray(ds["status"].values)
    eg = np.asarray(ds["eg"].values, dtype=float)
    et = np.asarray(ds["eps_train"].values, dtype=float)
    noise = label_noise(ds)
    out = []
    for p in np.unique(point_of_run):
        done = np.flatnonzero((point_of_run == p) & (status == COMPLETED))
        n = done.size
        gap = gap_of(eg[done], et[done], noise[done, None])
        nan = np.full(eg.shape[1], np.nan)
        out.append({
            "eg": eg[done].mean(axis=0) if n else nan,
            "eps_train": et[done].mean(axis=0) if n else nan,
            "gap": gap.mean(axis=0) if n else nan,
            "gap_sem": gap.std(axis=0, ddof=1) / math.sqrt(n) if n > 1 else nan,
        })
    return out


def generalization_gap(ds):
    """The generalization gap eps_g + s^2/2 - eps_train (:func:`gap_of`) at the last record, per
    grid point.

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


def plot_train_test(ds, avg, *, examples_axis: bool = False):
    """Figure: training error eps_train (dashed) and test error eps_g (solid) against alpha, seed
    means per grid point, on log-log axes; the legend gives the generalization gap
    eps_g + s^2/2 - eps_train (:func:`gap_of`) at the last record (mean ± standard error over
    seeds). With label noise s^2 (the ``noise`` key), eps_g + s^2/2 is drawn dotted: the test
    error on noisy labels, the training error of a student that has fitted no noise (eps_train
    counts the noisy labels, eps_g does not).

    Parameters
    ----------
    ds, avg : xarray.Dataset
        The group (with ``eps_train``) and its ``seed_average``.
    examples_axis : bool
        A top axis in examples / N (:func:`~plateau_analysis.figures.add_examples_axis`).

    Returns
    -------
    matplotlib.figure.Figure
    """
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(10.5, 5.2))
    alpha = avg["alpha"].values
    colors, colorbar = point_colors(plt, avg, fig, ax)
    names = _label_names(avg)
    noise_of_run = label_noise(ds)
    point_of_run = grid_point_index(ds)
    noisy = bool((noise_of_run > 0).any())
    pos = alpha > 0
    for i, (color, m) in enumerate(zip(colors, _train_test_means(ds))):
        gap, sem = m["gap"][-1], m["gap_sem"][-1]
        label = None if colorbar else (point_label(avg, i, names)
                                       + f": gap {gap:.3g} ± {sem:.2g}")
        ax.plot(alpha[pos], m["eg"][pos], color=color, lw=2, label=label)
        ax.plot(alpha[pos], m["eps_train"][pos], color=color, lw=1.5, ls="--")
        runs = point_of_run == int(avg["point"].values[i])
        noise = float(noise_of_run[runs].max()) if runs.any() else 0.0
        if noise > 0:
            ax.plot(alpha[pos], m["eg"][pos] + noise / 2, color=color, lw=1, ls=":")
        _mark_empty(ax, avg, i)
    ax.plot([], [], color="0.3", lw=2, label="test error ε_g (fresh input, no label noise)")
    ax.plot([], [], color="0.3", lw=1.5, ls="--",
            label="training error ε_t on the training set" + (" (noisy labels)" if noisy else ""))
    if noisy:
        values = np.unique(noise_of_run[noise_of_run > 0])
        value = f"s² = {values[0]:g}" if values.size == 1 else "s² per point"
        ax.plot([], [], color="0.3", lw=1, ls=":",
                label=f"ε_g + s²/2 ({value}): test error on noisy labels")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel(time_label(ds))
    if examples_axis:
        add_examples_axis(ax, ds)
    ax.set_ylabel("error")
    gap_text = "ε_g + s²/2 − ε_t" if noisy else "ε_g − ε_t"
    ax.set_title(wrap_title(fig, f"{ds.attrs.get('group', '')}: training and test error, gap "
                                 f"{gap_text} at α = {alpha[-1]:.4g} ({_title(ds)})"))
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8, loc="lower left")
    fig.tight_layout()
    return fig


#: The swept keys that set the size of a finite training set (``train-set`` P, ``alpha-train``
#: P / N): a sweep over one of them is a learning curve (:func:`plot_learning_curve`).
TRAINING_SET_KEYS = ("alpha_train", "train_set")


def learning_curve(ds) -> list:
    """Per grid point (in the order of ``seed_average``), over its completed runs: P / N, and
    the mean and standard error of the final eps_g, of the smallest eps_g over alpha (early
    stopping: the best a run reached) and of the final eps_train, with the finite-set outcome
    codes of the point's runs (:func:`~plateau_analysis.outcomes.finite_set_outcomes`).

    Returns
    -------
    list of dict
        Keys ``P_over_N``, ``eg_final``, ``eg_min``, ``eps_train_final`` (each a (mean, SE)
        pair, NaN without completed runs; SE NaN for one run), ``alpha_min`` (mean alpha of the
        minimum), ``n`` (completed runs), ``outcomes`` (codes of every run of the point).
    """
    from .outcomes import finite_set_outcomes

    point_of_run = grid_point_index(ds)
    status = np.asarray(ds["status"].values)
    alpha = ds["alpha"].values
    eg = np.asarray(ds["eg"].values, dtype=float)
    et = np.asarray(ds["eps_train"].values, dtype=float)
    codes = finite_set_outcomes(ds).values
    n_of_run = np.asarray(ds["N"].values, dtype=float) * np.ones(point_of_run.size)

    def p_over_n(r: int) -> float:
        for name, scale in (("alpha_train", 1.0), ("train_set", 1.0 / n_of_run[r])):
            if name in ds.coords:
                value = np.asarray(ds[name].values) * np.ones(point_of_run.size)
                if float(value[r]) > 0:
                    return float(value[r]) * scale
        cfg = file_settings(ds)
        for key, scale in (("alpha-train", 1.0), ("train-set", 1.0 / n_of_run[r])):
            try:
                return float(cfg.get(key, "none")) * scale
            except ValueError:
                continue
        return math.nan

    def mean_se(values):
        values = np.asarray(values, dtype=float)
        if values.size == 0:
            return math.nan, math.nan
        se = values.std(ddof=1) / math.sqrt(values.size) if values.size > 1 else math.nan
        return float(values.mean()), float(se)

    out = []
    for p in np.unique(point_of_run):
        runs = np.flatnonzero(point_of_run == p)
        done = runs[status[runs] == COMPLETED]
        last = [np.flatnonzero(np.isfinite(eg[r]))[-1] for r in done]
        best = [int(np.nanargmin(eg[r])) for r in done]
        out.append({
            "P_over_N": p_over_n(int(runs[0])),
            "eg_final": mean_se([eg[r, k] for r, k in zip(done, last)]),
            "eg_min": mean_se([eg[r, k] for r, k in zip(done, best)]),
            "eps_train_final": mean_se([et[r, k] for r, k in zip(done, last)]),
            "alpha_min": float(np.mean(alpha[best])) if done.size else math.nan,
            "n": int(done.size),
            "outcomes": codes[runs],
        })
    return out


def plot_learning_curve(ds, avg):
    """Figure: the learning curve of a sweep over the training-set size (``alpha-train`` or
    ``train-set``): against P / N, the final eps_g (test error at alpha_max), the smallest
    eps_g over alpha (early stopping) and the final eps_train, means ± standard error over the
    completed runs of each grid point (:func:`learning_curve`); each point is annotated with
    its runs' finite-set outcomes (over-fitted, converged, ...). Other swept keys: one series
    each.

    Parameters
    ----------
    ds, avg : xarray.Dataset
        The group (with ``eps_train``) and its ``seed_average``.

    Returns
    -------
    matplotlib.figure.Figure
    """
    from .outcomes import finite_set_text

    plt = pyplot()
    curve = learning_curve(ds)
    others = [n for n in swept_coordinates(avg, "point")
              if n not in TRAINING_SET_KEYS and n != "N"]
    keys = [tuple(format_value(avg[o].values[i]) for o in others) for i in range(len(curve))]
    series = list(dict.fromkeys(keys))
    fig, ax = plt.subplots(figsize=(10.5, 5.4))
    cmap = plt.get_cmap("tab10")
    x = np.array([c["P_over_N"] for c in curve])
    styles = (("eg_final", "-", "o", "final ε_g (test error at α_max)"),
              ("eg_min", "--", "v", "smallest ε_g over α (early stopping)"),
              ("eps_train_final", ":", "s", "final ε_t (training error)"))
    for k, key in enumerate(series):
        idx = np.array([i for i, kk in enumerate(keys) if kk == key])
        idx = idx[np.argsort(x[idx])]
        color = cmap(k % 10)
        prefix = ", ".join(f"{PRETTY.get(o, o)} = {v}" for o, v in zip(others, key))
        for name, ls, marker, text in styles:
            mean = np.array([curve[i][name][0] for i in idx])
            se = np.nan_to_num(np.array([curve[i][name][1] for i in idx]))
            ax.errorbar(x[idx], mean, yerr=se, color=color, ls=ls, marker=marker, capsize=3,
                        lw=1.6, mfc="none" if name != "eg_final" else color,
                        label=(f"{prefix}: " if prefix else "") + text)
        for i in idx:
            y = curve[i]["eg_final"][0]
            if math.isfinite(y):
                ax.annotate(finite_set_text(curve[i]["outcomes"]), (x[i], y), xytext=(6, 5),
                            textcoords="offset points", fontsize=7.5, color=color)
    noise = np.unique(label_noise(ds))
    if noise.size == 1 and noise[0] > 0:  # what eps_train tends to without fitting the noise
        ax.axhline(noise[0] / 2, color="0.4", lw=1, ls="-.",
                   label=f"s²/2 = {noise[0] / 2:g}: ε_t − ε_g of a student that fits no noise")
    finite = x[np.isfinite(x) & (x > 0)]
    if finite.size and finite.max() > 8 * finite.min():
        ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("training-set size P / N (α_train)")
    ax.set_ylabel("error")
    ax.grid(True, which="both", alpha=0.3)
    ax.margins(x=0.12)
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.02, 1.0), framealpha=0.9)
    ax.set_title(wrap_title(fig, f"{ds.attrs.get('group', '')}: learning curve, errors against "
                                 f"the training-set size (means ± SE over completed runs; "
                                 f"labels: outcomes; {_title(ds)})"), fontsize=10)
    fig.tight_layout()
    return fig


def has_upper_layers(ds) -> bool:
    """Whether a group records the student's weights above its first layer (``student_layers``,
    schema 1.3: deeper networks, ``K = 4x2``) with a finite value."""
    return "student_layers" in ds and bool(
        np.isfinite(np.asarray(ds["student_layers"].values, dtype=float)).any())


def layer_blocks(widths) -> list:
    """The blocks of a flattened ``student_layers`` / ``teacher_layers`` vector (analysis/
    SCHEMA.md): ``[(name, start, rows, cols)]`` for W_2 … W_L (row by row, K_l × K_{l−1}),
    then v (K_L, one row)."""
    blocks, start = [], 0
    for layer in range(1, len(widths)):
        rows, cols = widths[layer], widths[layer - 1]
        blocks.append((f"W_{layer + 1}", start, rows, cols))
        start += rows * cols
    blocks.append(("v", start, 1, widths[-1]))
    return blocks


def plot_upper_layers(ds, *, points=None):
    """Figure: the student's weights above the first layer against alpha (``student_layers``),
    one row of panels per grid point (at most 4), one panel per layer (W_2 … W_L, then v), for
    the first completed run of the point: each entry a line, the teacher's entries of that layer
    (``teacher_layers``) as dotted grey lines. One run, not a seed mean: units are learned in a
    different order (and, with an odd g, sign) in every run.

    Returns
    -------
    matplotlib.figure.Figure
    """
    from .campaign import parse_group_widths

    plt = pyplot()
    widths = parse_group_widths(str(ds.attrs.get("group", "")))
    student, teacher = widths if widths is not None else ((ds.sizes["student"],),
                                                          (ds.sizes["teacher"],))
    blocks = layer_blocks(student)
    t_blocks = {b[0]: b for b in layer_blocks(teacher)}
    point_of_run = grid_point_index(ds)
    status = np.asarray(ds["status"].values)
    all_points = list(dict.fromkeys(point_of_run.tolist()))
    chosen = all_points[:4] if points is None else [all_points[p] for p in points]
    ncols, nrows = len(blocks), len(chosen)
    fig, axes = plt.subplots(nrows, ncols, figsize=(3.9 * ncols + 0.6, 3.0 * nrows + 1.0),
                             sharex=True, squeeze=False)
    alpha = ds["alpha"].values
    pos = alpha > 0
    cmap = plt.get_cmap("tab10")
    names = swept_coordinates(ds) or [n for n in ("eta", "N") if n in ds.coords]
    for row, p in enumerate(chosen):
        runs = np.flatnonzero((point_of_run == p) & (status == COMPLETED))
        first = int(np.flatnonzero(point_of_run == p)[0])
        label = ", ".join(f"{PRETTY.get(n, n)} = {format_value(ds[n].values[first])}"
                          for n in names if ds[n].dims == ("run",))
        for col, (name, start, rows, cols) in enumerate(blocks):
            ax = axes[row, col]
            if runs.size == 0:
                ax.text(0.5, 0.5, "no completed run", transform=ax.transAxes, ha="center",
                        color="0.4")
                continue
            r = int(runs[0])
            values = np.asarray(ds["student_layers"].values[r], dtype=float)
            for e in range(rows * cols):
                ax.plot(alpha[pos], values[pos, start + e], color=cmap((e // cols) % 10),
                        lw=1.3, ls=("-", "--", ":", "-.")[(e % cols) % 4] if rows > 1 else "-")
            if name in t_blocks:
                _, t_start, t_rows, t_cols = t_blocks[name]
                t_values = np.asarray(ds["teacher_layers"].values[r], dtype=float)
                for e in range(t_rows * t_cols):
                    ax.axhline(t_values[t_start + e], color="0.5", lw=0.9, ls=":")
            ax.set_xscale("log")
            ax.grid(True, alpha=0.3)
            shape = f"{rows} × {cols}" if name != "v" else f"{cols}"
            block = values[:, start:start + rows * cols]
            if np.all(block == block[0]):  # never changed: not learned
                shape += ", fixed"
            seed = int(ds["seed"].values[r]) if "seed" in ds.coords else r
            ax.set_title(f"{name} ({shape}), seed {seed}" + (f"\n{label}" if label else ""),
                         fontsize=9)
            if row == nrows - 1:
                ax.set_xlabel(time_label(ds), fontsize=8)
            if col == 0:
                ax.set_ylabel("weight")
    fig.suptitle(wrap_title(fig, f"{ds.attrs.get('group', '')}: weights above the first layer "
                                 f"(one run per grid point: colour = row, line style = column of "
                                 f"W_l; dotted grey: the teacher's; {_title(ds)})"), fontsize=10)
    fig.tight_layout()
    return fig
