"""Figures of classification on Gaussian-mixture inputs (``inputs = mixture``, schema 1.6,
docs/theory.md section 15), drawn by the report for groups with mixture runs
(:func:`~plateau_analysis.mixture_runs`):

- :func:`plot_class_error`: the classification error P(sign sigma != y) on fresh inputs against
  alpha, seed mean and band per grid point, the Bayes error of each point's mixture as a
  horizontal line (the lowest error any classifier reaches), and the theory (dashed) when a
  theory file is given;
- :func:`plot_mean_overlaps`: the overlaps M_jc = w_j . mu_c of each student unit with the
  mixture's means against alpha, one panel per unit, for one run of a grid point (units of
  different seeds align with different clusters, so a seed mean would mix them), with the
  theory's run from the same start (dashed) when a theory file holds it.
"""

from __future__ import annotations

import numpy as np

from .campaign import COMPLETED, grid_point_index
from .figures import (_band, _label_names, _title, point_colors, point_label, pyplot,
                      time_label, wrap_title)

#: The names of the clusters of the built-in mixtures, in the file's ``cluster`` order
#: (analysis/SCHEMA.md, ``mean_overlaps``).
CLUSTER_NAMES = {"xor": ("+e₁ (y = +1)", "−e₁ (y = +1)", "+e₂ (y = −1)", "−e₂ (y = −1)"),
                 "two": ("+e₁ (y = +1)", "−e₁ (y = −1)")}


def mixture_title(ds, avg) -> str:
    """The figure title's settings (:func:`~plateau_analysis.figures._title`) without the
    teacher's (it labels nothing on a mixture), led by the mixture: ``xor mixture, Δ = 0.05``
    (Δ only when every grid point has the same)."""
    from .campaign import swept_coordinates
    from .configs import parse_config

    cfg = parse_config(ds.attrs.get("config", ""))
    head = f"{cfg.get('clusters', 'xor').strip()} mixture"
    if "cluster_variance" not in swept_coordinates(avg, "point"):
        head += f", Δ = {cfg.get('cluster-variance', '0.1').strip()}"
    parts = [p for p in _title(ds).split(", ")
             if not p.startswith(("g* =", "v* =", "teacher =", "M = "))]
    return ", ".join([head] + parts)


def point_bayes_errors(ds, avg) -> np.ndarray:
    """The Bayes error of each grid point of ``avg`` (shape (point,)): the ``bayes_error`` of
    the point's first run (every run of a point has the same mixture); NaN without one."""
    index = grid_point_index(ds)
    values = np.asarray(ds["bayes_error"].values, dtype=float)
    out = np.full(avg.sizes["point"], np.nan)
    for i, p in enumerate(avg["point"].values):
        runs = np.flatnonzero(index == p)
        if runs.size:
            out[i] = values[runs[0]]
    return out


def _log_alpha(alpha) -> bool:
    """A log alpha axis for records spread over more than two decades (``schedule = log``)."""
    pos = alpha[alpha > 0]
    return pos.size > 1 and pos.max() / pos.min() > 100.0


def plot_class_error(ds, avg, theory_avg=None, matches=None, band: str = "quantile"):
    """Figure: classification error against alpha per grid point, with the Bayes error.

    Parameters
    ----------
    ds : xarray.Dataset
        The campaign group (mixture runs).
    avg : xarray.Dataset
        ``seed_average(ds)`` (it holds ``class_error_*`` for a group with mixture runs).
    theory_avg, matches : optional
        The theory group's ``seed_average`` and :func:`~plateau_analysis.report.match_theory`.
    band : {"quantile", "se"}

    Returns
    -------
    matplotlib.figure.Figure
    """
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch

    plt = pyplot()
    fig, ax = plt.subplots(figsize=(10.5, 5.2))
    alpha = avg["alpha"].values
    log = _log_alpha(alpha)
    sel = alpha > 0 if log else np.ones(alpha.shape, dtype=bool)
    colors, colorbar = point_colors(plt, avg, fig, ax)
    names = _label_names(avg)
    lo, hi, band_text = _band(avg, "class_error", band)
    single = ds.attrs.get("kind") == "theory"
    bayes = point_bayes_errors(ds, avg)
    one_bayes = np.unique(bayes[np.isfinite(bayes)]).size == 1
    handles = []
    for i, color in enumerate(colors):
        n = int(avg["n_completed"].values[i])
        label = point_label(avg, i, names)
        if not one_bayes and np.isfinite(bayes[i]):
            label += f"  (Bayes error {bayes[i]:.4f})"
        if not single:
            label += f"  ({n} runs)"
        line, = ax.plot(alpha[sel], avg["class_error_mean"].values[i][sel], color=color, lw=2,
                        label=label)
        handles.append(line)
        if not single and n > 1:
            ax.fill_between(alpha[sel], lo[i][sel], hi[i][sel], color=color, alpha=0.22, lw=0)
        if not one_bayes and np.isfinite(bayes[i]):
            ax.axhline(bayes[i], color=color, lw=1.2, ls=":")
        if theory_avg is not None and matches is not None and matches[i] >= 0 \
                and "class_error_mean" in theory_avg:
            ta = theory_avg["alpha"].values
            ts = ta > 0 if log else np.ones(ta.shape, dtype=bool)
            ax.plot(ta[ts], theory_avg["class_error_mean"].values[int(matches[i])][ts],
                    color=color, lw=1.4, ls="--")
    style = [Line2D([], [], color="0.3", lw=2, label="seed mean" if not single else "curve")]
    if not single:
        style.append(Patch(color="0.3", alpha=0.22, label=band_text))
    if theory_avg is not None:
        style.append(Line2D([], [], color="0.3", lw=1.4, ls="--", label="theory (N → ∞)"))
    if one_bayes:
        b = float(bayes[np.isfinite(bayes)][0])
        ax.axhline(b, color="k", lw=1.2, ls=":")
        style.append(Line2D([], [], color="k", lw=1.2, ls=":",
                            label=f"Bayes error {b:.4f} (lowest possible)"))
    elif np.isfinite(bayes).any():
        style.append(Line2D([], [], color="0.3", lw=1.2, ls=":",
                            label="Bayes error of the point's mixture"))
    if log:
        ax.set_xscale("log")
    ax.set_ylim(0.0, max(0.55, float(np.nanmax(hi)) * 1.05 if np.isfinite(hi).any() else 0.55))
    ax.set_xlabel(time_label(ds))
    ax.set_ylabel("classification error P(sign σ ≠ y)")
    ax.set_title(wrap_title(fig, f"{ds.attrs.get('group', '')}: classification error on fresh "
                                 f"inputs ({mixture_title(ds, avg)})"))
    ax.grid(True, alpha=0.3)
    if not colorbar:
        first = ax.legend(handles=handles, loc="upper left", bbox_to_anchor=(1.02, 1.0),
                          title="grid point", framealpha=0.9, fontsize=8)
        ax.add_artist(first)
    ax.legend(handles=style, loc="lower left", bbox_to_anchor=(1.02 if not colorbar else 0.0,
                                                               0.0), framealpha=0.9,
              fontsize=8)
    fig.tight_layout()
    return fig


def cluster_names(ds) -> list:
    """The legend names of the clusters (``+e₁ (y = +1)``, ...; ``cluster c`` for a file)."""
    from .configs import parse_config

    kind = parse_config(ds.attrs.get("config", "")).get("clusters", "xor").strip()
    n = ds.sizes.get("cluster", 1)
    names = CLUSTER_NAMES.get(kind, ())
    return list(names) if len(names) == n else [f"cluster {c}" for c in range(n)]


def plot_mean_overlaps(ds, avg, i: int, theory=None):
    """Figure: M_jc(alpha) = w_j . mu_c of every student unit j with every mean c, for the
    first completed run of grid point ``i`` (one panel per unit, one colour per cluster).

    Parameters
    ----------
    ds : xarray.Dataset
        The campaign group (mixture runs).
    avg : xarray.Dataset
        ``seed_average(ds)`` (for the grid points).
    i : int
        Position of the grid point in ``avg``.
    theory : xarray.Dataset, optional
        The theory group (``plateau ode --init-from`` or ``--init sample``: one run per
        simulation run); its run with the same ``run_index`` is drawn dashed.

    Returns
    -------
    matplotlib.figure.Figure
    """
    plt = pyplot()
    point = int(avg["point"].values[i])
    index = grid_point_index(ds)
    done = np.flatnonzero((index == point)
                          & (np.asarray(ds["status"].values) == COMPLETED))
    runs = done if done.size else np.flatnonzero(index == point)
    r = int(runs[0])
    K = ds.sizes["student"]
    cols = min(K, 4)
    rows = -(-K // cols)
    legend_width = 2.2  # inches, on the right
    fig, axes = plt.subplots(rows, cols, figsize=(3.1 * cols + legend_width, 2.5 * rows + 1.6),
                             sharex=True, sharey=True, squeeze=False)
    alpha = ds["alpha"].values
    log = _log_alpha(alpha)
    sel = alpha > 0 if log else np.ones(alpha.shape, dtype=bool)
    M = np.asarray(ds["mean_overlaps"].values[r], dtype=float)  # (alpha, student, cluster)
    th = None
    if theory is not None and "run_index" in theory.coords and "run_index" in ds.coords:
        match = np.flatnonzero(np.asarray(theory["run_index"].values)
                               == int(ds["run_index"].values[r]))
        if match.size and "mean_overlaps" in theory:
            th = (theory["alpha"].values,
                  np.asarray(theory["mean_overlaps"].values[int(match[0])], dtype=float))
    names = cluster_names(ds)
    for j in range(rows * cols):
        ax = axes[j // cols][j % cols]
        if j >= K:
            ax.set_visible(False)
            continue
        for c, name in enumerate(names):
            ax.plot(alpha[sel], M[sel, j, c], color=f"C{c}", lw=1.6, label=name)
            if th is not None:
                ts = th[0] > 0 if log else np.ones(th[0].shape, dtype=bool)
                ax.plot(th[0][ts], th[1][ts, j, c], color=f"C{c}", lw=1.1, ls="--")
        ax.axhline(0.0, color="0.6", lw=0.6)
        if log:
            ax.set_xscale("log")
        ax.set_title(f"student unit j = {j}", fontsize=9)
        ax.grid(True, alpha=0.3)
    handles, labels = axes[0][0].get_legend_handles_labels()
    if th is not None:
        from matplotlib.lines import Line2D

        handles.append(Line2D([], [], color="0.3", lw=1.1, ls="--"))
        labels.append("theory (N → ∞), same start")
    fig.legend(handles, labels, loc="center right", title="mean μ_c (label)", fontsize=8)
    seed = int(ds["seed"].values[r]) if "seed" in ds.coords else r
    label = point_label(avg, i, _label_names(avg))
    fig.suptitle(wrap_title(fig, f"{ds.attrs.get('group', '')}: student overlaps with the "
                                 f"mixture's means, one run (seed {seed}) of {label} "
                                 f"({mixture_title(ds, avg)}); seeds are not averaged: their "
                                 "units align with different clusters"), fontsize=9)
    fig.supxlabel(time_label(ds), fontsize=9)
    fig.supylabel("overlap with the mean, M_jc = w_j·μ_c", fontsize=9)
    fig.tight_layout(rect=(0, 0, 1 - legend_width / fig.get_figwidth(), 1))
    return fig
