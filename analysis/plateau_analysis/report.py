"""``python3 -m plateau_analysis report``: figures and plateau tables of a campaign file.

Writes into the output directory, per group G (``K2_M2``, ...), each figure as PNG and PDF:

- ``eg_G``: eps_g(alpha) on log-log axes, one colour per grid point: the seed mean (line), the
  spread over seeds (band: 10-90 % quantiles by default, or mean +- standard error), the theory
  (dashed) when ``--theory`` is given, and the detected plateau (dotted) with its escape time;
- ``overlaps_G_pP``: R_jn and Q_jk against alpha for grid point P, one panel per student unit
  (students relabelled so that student j learned teacher j), the plateau shaded;
- ``sweep_G_X`` (only for a sweep over X): escape time and plateau height against X (against
  ln N for X = N);

and the tables ``plateaus.csv`` (one row per grid point; also printed) and ``plateaus_runs.csv``
(one row per run).
"""

from __future__ import annotations

import argparse
import math
import sys
import warnings
from pathlib import Path

import numpy as np

from .campaign import CampaignError, IncompleteCampaignWarning, open_campaign
from .detection import PlateauRule, plateau_summary, plateaus
from .stats import seed_average
from .tables import format_table, table_rows, write_csv

PROGRAM = "plateau_analysis"

PRETTY = {
    "eta": "η", "eta_v": "η_v", "q0": "q₀", "noise": "s²", "gamma": "γ", "v0": "v₀",
    "v_star": "v*", "N": "N", "K": "K", "M": "M", "alpha_max": "α_max",
}
AXIS_LABELS = {
    "eta": "learning rate η",
    "eta_v": "second-layer learning rate η_v",
    "q0": "initial student norm q₀ (Q_jj at α = 0)",
    "noise": "label-noise variance s²",
    "gamma": "tanh slope γ",
}
ALPHA_LABEL = "training time α = examples / N"
PLATEAU_SHADE = "#fbeebb"


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    plt.rcParams.update({"font.size": 11, "axes.titlesize": 11, "legend.fontsize": 9,
                         "figure.dpi": 110, "savefig.dpi": 150})
    return plt


def parse_config(text: str) -> dict:
    """Parse the ``config`` root attribute (INI ``key = value`` lines) into a dict of text.

    Parameters
    ----------
    text : str

    Returns
    -------
    dict of str to str
    """
    out = {}
    for line in (text or "").splitlines():
        line = line.split("#", 1)[0].strip()
        if "=" in line and not line.startswith("["):
            key, value = line.split("=", 1)
            out[key.strip()] = value.strip()
    return out


def _fmt(value) -> str:
    if isinstance(value, (float, np.floating)):
        return f"{float(value):.4g}"
    if isinstance(value, bytes):
        return value.decode()
    return str(value)


def point_label(avg, i: int, names) -> str:
    """Legend text of grid point ``i``: ``"η = 0.5, N = 500"`` from the coordinates ``names``.

    Parameters
    ----------
    avg : xarray.Dataset
        A :func:`~plateau_analysis.seed_average` result.
    i : int
        Position along ``point``.
    names : sequence of str

    Returns
    -------
    str
    """
    return ", ".join(f"{PRETTY.get(n, n)} = {_fmt(avg[n].values[i])}" for n in names)


def _label_names(avg) -> list:
    """Coordinates to name a grid point by: the swept ones, else eta and N."""
    from .campaign import swept_coordinates

    names = swept_coordinates(avg, "point")
    if not names:
        names = [n for n in ("eta", "N") if n in avg.coords]
    return names


def match_theory(avg, theory_avg) -> np.ndarray:
    """For each grid point of ``avg``, the position of the matching theory grid point (or -1).

    Points match when every coordinate they share, except ``N``, is equal (floats to 1e-9
    relative); among several matches the one with the same ``N`` wins (a theory file may keep
    N for its initial conditions), else the first.

    Parameters
    ----------
    avg, theory_avg : xarray.Dataset
        :func:`~plateau_analysis.seed_average` results of the simulation and theory groups.

    Returns
    -------
    numpy.ndarray of int
    """
    shared = [n for n, c in avg.coords.items()
              if c.dims == ("point",) and n != "point" and n in theory_avg.coords
              and theory_avg[n].dims == ("point",)]

    def equal(a, b):
        if isinstance(a, (float, np.floating)) or isinstance(b, (float, np.floating)):
            try:
                return math.isclose(float(a), float(b), rel_tol=1e-9, abs_tol=0.0) or (
                    math.isnan(float(a)) and math.isnan(float(b)))
            except (TypeError, ValueError):
                return False
        return _fmt(a) == _fmt(b)

    out = np.full(avg.sizes["point"], -1, dtype=np.int64)
    for i in range(avg.sizes["point"]):
        candidates = [
            t for t in range(theory_avg.sizes["point"])
            if all(equal(avg[n].values[i], theory_avg[n].values[t]) for n in shared if n != "N")
        ]
        if not candidates:
            continue
        same_n = [t for t in candidates if "N" in shared
                  and equal(avg["N"].values[i], theory_avg["N"].values[t])]
        out[i] = (same_n or candidates)[0]
    return out


def _colors(plt, n: int):
    if n <= 10:
        cmap = plt.get_cmap("tab10")
        return [cmap(i) for i in range(n)]
    cmap = plt.get_cmap("viridis")
    return [cmap(x) for x in np.linspace(0.0, 0.9, n)]


def _alpha_limits(alpha):
    """x-limits of a log alpha axis: the positive record times, with a margin."""
    pos = alpha[alpha > 0]
    if pos.size == 0:
        return 1e-2, 1.0
    return pos.min() / 1.3, pos.max() * 1.3


def _save(fig, outdir: Path, stem: str, formats) -> list:
    paths = []
    for fmt in formats:
        path = outdir / f"{stem}.{fmt}"
        fig.savefig(path)
        paths.append(path)
    return paths


def _title(ds) -> str:
    cfg = parse_config(ds.attrs.get("config", ""))
    parts = [f"K = {ds.attrs.get('K')}, M = {ds.attrs.get('M')}"]
    if "activation" in cfg:
        act = cfg["activation"]
        teacher = cfg.get("teacher-activation", act)
        parts.append(f"g = {act}" if teacher == act else f"g = {act}, g* = {teacher}")
    if ds.attrs.get("kind") == "theory":
        parts.append("theory (N → ∞)")
    else:
        parts.append(f"{ds.attrs.get('seeds')} seeds per point")
    return ", ".join(parts)


def _band(avg, name: str, band: str):
    """Lower and upper edge of the seed band of ``<name>``, and its legend text."""
    if band == "se":
        mean, sem = avg[f"{name}_mean"].values, np.nan_to_num(avg[f"{name}_sem"].values)
        return mean - sem, mean + sem, "band: seed mean ± standard error"
    q = avg[f"{name}_quantile"]
    qs = avg["quantile"].values
    lo, hi = int(np.argmin(qs)), int(np.argmax(qs))
    text = f"band: {100 * qs[lo]:.0f}–{100 * qs[hi]:.0f} % quantiles over seeds"
    return q.isel(quantile=lo).values, q.isel(quantile=hi).values, text


def plot_eg(ds, avg, summary, theory_avg=None, matches=None, band: str = "quantile",
            escape_fraction: float = 0.5):
    """Figure: eps_g(alpha) on log-log axes per grid point, seed band, theory, plateaus.

    Parameters
    ----------
    ds : xarray.Dataset
        The campaign group (for its attributes).
    avg : xarray.Dataset
        ``seed_average(ds)``.
    summary : xarray.Dataset
        ``plateau_summary(ds)``.
    theory_avg : xarray.Dataset, optional
        ``seed_average`` of the matching theory group.
    matches : numpy.ndarray, optional
        :func:`match_theory` of ``avg`` and ``theory_avg``.
    band : {"quantile", "se"}
        The seed band: quantile range or mean ± standard error.
    escape_fraction : float
        Where the escape marker sits, as a fraction of the plateau height.

    Returns
    -------
    matplotlib.figure.Figure
    """
    plt = _pyplot()
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch

    fig, ax = plt.subplots(figsize=(10.5, 5.2))
    alpha = avg["alpha"].values
    pos = alpha > 0
    colors = _colors(plt, avg.sizes["point"])
    names = _label_names(avg)
    lo, hi, band_text = _band(avg, "eg", band)
    single = ds.attrs.get("kind") == "theory"
    ymin, ymax = np.inf, 0.0
    handles = []
    for i, color in enumerate(colors):
        mean = avg["eg_mean"].values[i]
        n = int(avg["n_completed"].values[i])
        label = point_label(avg, i, names)
        if not single:
            label += f"  ({n} runs"
            for what in ("diverged", "pending"):
                count = int(avg[f"n_{what}"].values[i])
                label += f", {count} {what}" if count else ""
            label += ")"
        line, = ax.plot(alpha[pos], mean[pos], color=color, lw=2, label=label)
        handles.append(line)
        if not single and n > 1:
            ax.fill_between(alpha[pos], np.clip(lo[i][pos], 1e-300, None), hi[i][pos],
                            color=color, alpha=0.22, lw=0)
        finite = mean[pos][np.isfinite(mean[pos]) & (mean[pos] > 0)]
        if finite.size:
            ymin, ymax = min(ymin, finite.min()), max(ymax, finite.max())
        if theory_avg is not None and matches is not None and matches[i] >= 0:
            th = theory_avg["eg_mean"].values[matches[i]]
            tpos = theory_avg["alpha"].values > 0
            ax.plot(theory_avg["alpha"].values[tpos], th[tpos], color=color, lw=1.4, ls="--")
        if bool(summary["found"].values[i]):
            h = float(summary["height"].values[i])
            ax.hlines(h, summary["start"].values[i], summary["end"].values[i], color="k",
                      lw=1.2, ls=":", zorder=3)
            esc = float(summary["escape"].values[i])
            if math.isfinite(esc):
                ax.plot(esc, escape_fraction * h, marker="v", ms=7, color=color, mec="k",
                        zorder=4)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlim(*_alpha_limits(alpha))
    if ymax > 0:
        ax.set_ylim(max(ymin, ymax * 1e-5) / 1.5, ymax * 1.5)
    else:  # nothing completed yet
        ax.set_ylim(1e-3, 1.0)
        ax.text(0.5, 0.5, "no completed run", transform=ax.transAxes, ha="center",
                va="center", fontsize=14, color="0.4")
    ax.set_xlabel(ALPHA_LABEL)
    ax.set_ylabel("generalization error ε_g")
    ax.set_title(f"{ds.attrs.get('group', '')}: generalization error ({_title(ds)})")
    ax.grid(True, which="major", alpha=0.3)
    style = [Line2D([], [], color="0.3", lw=2, label="seed mean" if not single else "curve")]
    if not single:
        style.append(Patch(color="0.3", alpha=0.22, label=band_text))
    if theory_avg is not None:
        style.append(Line2D([], [], color="0.3", lw=1.4, ls="--", label="theory (N → ∞)"))
    style.append(Line2D([], [], color="k", lw=1.2, ls=":", label="detected plateau (height)"))
    style.append(Line2D([], [], color="0.5", marker="v", mec="k", ls="",
                        label=f"escape: ε_g = {escape_fraction:g} × height"))
    # Legends outside the axes (right): they never hide a curve.
    first = ax.legend(handles=handles, loc="upper left", bbox_to_anchor=(1.02, 1.0),
                      title="grid point", framealpha=0.9)
    ax.add_artist(first)
    ax.legend(handles=style, loc="lower left", bbox_to_anchor=(1.02, 0.0), framealpha=0.9)
    fig.tight_layout()
    return fig


def plot_overlaps(ds, avg, summary, i: int, theory_avg=None, match: int = -1,
                  band: str = "quantile", spec_time: float = math.nan):
    """Figure: R_jn and Q_jk against alpha for grid point ``i``, one panel per student unit.

    Parameters
    ----------
    ds : xarray.Dataset
        The campaign group.
    avg : xarray.Dataset
        ``seed_average(ds, align=True)`` (students relabelled so that student j learned
        teacher j).
    summary : xarray.Dataset
        ``plateau_summary(ds)``: the plateau of the seed mean is shaded.
    i : int
        Position of the grid point along ``point``.
    theory_avg : xarray.Dataset, optional
        ``seed_average(theory, align=True)``.
    match : int
        Position of the matching theory point (-1: none).
    band : {"quantile", "se"}
    spec_time : float
        Mean specialization time (vertical line), NaN for none.

    Returns
    -------
    matplotlib.figure.Figure
    """
    plt = _pyplot()
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch

    K = avg.sizes["student"]
    M = avg.sizes["teacher"]
    ncols = min(K, 3)
    nrows = int(math.ceil(K / ncols))
    fig, axes = plt.subplots(nrows, ncols, figsize=(4.6 * ncols + 0.6, 3.9 * nrows + 0.9),
                             sharex=True, sharey=True, squeeze=False)
    alpha = avg["alpha"].values
    pos = alpha > 0
    tcolors = _colors(plt, max(M, 1))
    single = ds.attrs.get("kind") == "theory"
    n = int(avg["n_completed"].values[i])
    R_lo, R_hi, band_text = _band(avg, "R", band)
    found = bool(summary["found"].values[i])
    th_ok = theory_avg is not None and match >= 0
    for j in range(K):
        ax = axes.flat[j]
        if found:
            ax.axvspan(summary["start"].values[i], summary["end"].values[i], color=PLATEAU_SHADE,
                       zorder=0)
        for m in range(M):
            ax.plot(alpha[pos], avg["R_mean"].values[i, pos, j, m], color=tcolors[m], lw=2)
            if not single and n > 1:
                ax.fill_between(alpha[pos], R_lo[i, pos, j, m], R_hi[i, pos, j, m],
                                color=tcolors[m], alpha=0.2, lw=0)
            if th_ok:
                ta = theory_avg["alpha"].values
                ax.plot(ta[ta > 0], theory_avg["R_mean"].values[match, ta > 0, j, m],
                        color=tcolors[m], lw=1.2, ls="--")
        for k in range(K):
            color, lw = ("k", 1.8) if k == j else ("0.55", 1.3)
            ax.plot(alpha[pos], avg["Q_mean"].values[i, pos, j, k], color=color, lw=lw)
            if th_ok:
                ta = theory_avg["alpha"].values
                ax.plot(ta[ta > 0], theory_avg["Q_mean"].values[match, ta > 0, j, k],
                        color=color, lw=1.0, ls="--")
        if math.isfinite(spec_time):
            ax.axvline(spec_time, color="tab:red", lw=1, ls="-.")
        ax.set_xscale("log")
        ax.set_xlim(*_alpha_limits(alpha))
        if n == 0:
            ax.set_ylim(-0.1, 1.1)
            ax.text(0.5, 0.5, "no completed run", transform=ax.transAxes, ha="center",
                    va="center", fontsize=12, color="0.4")
        ax.set_title(f"student unit j = {j + 1}")
        ax.grid(True, alpha=0.3)
        if j % ncols == 0:
            ax.set_ylabel("overlap (dimensionless)")
        if j >= K - ncols:
            ax.set_xlabel(ALPHA_LABEL)
    for ax in list(axes.flat)[K:]:
        ax.set_visible(False)
    handles = [Line2D([], [], color=tcolors[m], lw=2, label=f"R_j{m + 1} = w_j · B_{m + 1}")
               for m in range(M)]
    handles += [Line2D([], [], color="k", lw=1.8, label="Q_jj = |w_j|²")]
    if K > 1:
        handles += [Line2D([], [], color="0.55", lw=1.3, label="Q_jk = w_j · w_k, k ≠ j")]
    if not single and n > 1:
        handles.append(Patch(color="0.5", alpha=0.3, label=band_text))
    if th_ok:
        handles.append(Line2D([], [], color="0.3", lw=1.2, ls="--", label="theory (N → ∞)"))
    if found:
        handles.append(Patch(color=PLATEAU_SHADE, label="plateau of the seed-mean ε_g"))
    if math.isfinite(spec_time):
        handles.append(Line2D([], [], color="tab:red", lw=1, ls="-.",
                              label="mean specialization time"))
    names = _label_names(avg)
    what = "curve" if single else f"seed mean of {n} runs, students relabelled: j learned B_j"
    fig.suptitle(f"{ds.attrs.get('group', '')}, {point_label(avg, i, names)}: overlaps "
                 f"({what})", fontsize=11)
    fig.legend(handles=handles, loc="lower center", ncol=min(len(handles), 4),
               bbox_to_anchor=(0.5, 0.0), frameon=False)
    fig.tight_layout(rect=(0, 0.1 + 0.03 * (len(handles) > 4), 1, 0.97))
    return fig


def plot_sweep(ds, summary, name: str, theory_summary=None, matches=None):
    """Figure: escape time and plateau height against the swept parameter ``name``.

    For N the abscissa is ln N (the plateau length grows like ln N). Other swept parameters
    give one line each per combination of their values.

    Parameters
    ----------
    ds : xarray.Dataset
        The campaign group.
    summary : xarray.Dataset
        ``plateau_summary(ds)``.
    name : str
        The swept coordinate.
    theory_summary : xarray.Dataset, optional
        :func:`~plateau_analysis.plateaus` of the theory's seed average.
    matches : numpy.ndarray, optional
        :func:`match_theory` positions.

    Returns
    -------
    matplotlib.figure.Figure
    """
    plt = _pyplot()
    from .campaign import swept_coordinates

    others = [n for n in swept_coordinates(summary, "point") if n != name]
    x_raw = summary[name].values
    numeric = x_raw.dtype.kind in "iuf"
    if name == "N":
        x = np.log(x_raw.astype(float))
        xlabel = "ln N   (N = input dimension)"
    elif numeric:
        x = x_raw.astype(float)
        xlabel = AXIS_LABELS.get(name, PRETTY.get(name, name))
    else:
        cats = list(dict.fromkeys(map(_fmt, x_raw)))
        x = np.array([cats.index(_fmt(v)) for v in x_raw], dtype=float)
        xlabel = PRETTY.get(name, name)
    keys = [tuple(_fmt(summary[o].values[i]) for o in others) for i in range(x.size)]
    groups = list(dict.fromkeys(keys))
    colors = _colors(plt, len(groups))
    fig, (ax_e, ax_h) = plt.subplots(1, 2, figsize=(11, 4.4))
    theory_done = False
    for g, color in zip(groups, colors):
        idx = np.array([i for i, k in enumerate(keys) if k == g])
        idx = idx[np.argsort(x[idx])]
        label = ", ".join(f"{PRETTY.get(o, o)} = {v}" for o, v in zip(others, g)) or None
        xs = x[idx]
        ax_e.errorbar(xs, summary["escape_runs_mean"].values[idx],
                      yerr=summary["escape_runs_sem"].values[idx], color=color, marker="o",
                      capsize=3, lw=1.5,
                      label=(label + ": " if label else "") + "runs (mean ± SE)")
        ax_e.plot(xs, summary["escape"].values[idx], color=color, marker="x", ls=":",
                  label=(label + ": " if label else "") + "seed-mean curve")
        ax_h.errorbar(xs, summary["height_runs_mean"].values[idx],
                      yerr=summary["height_runs_sem"].values[idx], color=color, marker="o",
                      capsize=3, lw=1.5, label=label or "runs (mean ± SE)")
        if theory_summary is not None and matches is not None:
            ok = matches[idx] >= 0
            if ok.any():
                t = matches[idx][ok]
                kw = dict(color=color, marker="s", ls="--", mfc="none", lw=1.2)
                ax_e.plot(xs[ok], theory_summary["escape"].values[t],
                          label=(label + ": " if label else "") + "theory", **kw)
                ax_h.plot(xs[ok], theory_summary["height"].values[t],
                          label=None if theory_done else "theory (N → ∞)", **kw)
                theory_done = True
    if not numeric:
        for ax in (ax_e, ax_h):
            ax.set_xticks(range(len(cats)), cats)
    for ax in (ax_e, ax_h):
        ax.set_xlabel(xlabel)
        ax.grid(True, alpha=0.3)
        if name == "N":  # the values of N on a top axis
            top = ax.secondary_xaxis("top")
            values = np.unique(x_raw.astype(float))
            top.set_xticks(np.log(values), [f"{v:g}" for v in values])
            top.set_xlabel("N")
    ax_e.set_ylabel("escape time α_esc = examples / N")
    ax_e.set_title("escape from the plateau (ε_g = ½ height)")
    ax_h.set_ylabel("plateau height ε_g")
    ax_h.set_title("plateau height")
    ax_e.legend(fontsize=8)
    if ax_h.get_legend_handles_labels()[0]:
        ax_h.legend(fontsize=8)
    fig.suptitle(f"{ds.attrs.get('group', '')}: sweep over {PRETTY.get(name, name)} "
                 f"({_title(ds)})", fontsize=11)
    fig.tight_layout()
    return fig


_TABLE_COLUMNS = [
    ("n_completed", "done"), ("n_diverged", "div"), ("n_pending", "pend"),
    ("found", "plateau"), ("height", "height"), ("start", "start"), ("end", "end"),
    ("length", "length"), ("escape", "escape"), ("runs_escaped", "escaped"),
    ("escape_runs_mean", "esc_runs"), ("escape_runs_sem", "±SE"),
]


def report(results, outdir, theory=None, *, formats=("png", "pdf"), band: str = "quantile",
           rule: PlateauRule | None = None, out=None) -> list:
    """Write the figures and tables of a campaign file (see the module documentation).

    Parameters
    ----------
    results : str or os.PathLike
        Campaign file (simulation or theory).
    outdir : str or os.PathLike
        Output directory (created if needed).
    theory : str or os.PathLike, optional
        Theory file (``plateau ode``) drawn as dashed lines and matched by grid point.
    formats : sequence of str
        Figure formats.
    band : {"quantile", "se"}
        Seed band: the outermost quantiles (10-90 %) or the seed mean ± standard error.
    rule : PlateauRule, optional
        Plateau detection parameters.
    out : file-like, optional
        Where the table is printed (default: ``sys.stdout``).

    Returns
    -------
    list of pathlib.Path
        Every file written.

    Raises
    ------
    CampaignError
        A file that cannot be read.
    """
    out = sys.stdout if out is None else out
    rule = rule or PlateauRule()
    outdir = Path(outdir)
    groups = open_campaign(results)
    theory_groups = open_campaign(theory) if theory is not None else {}
    plt = _pyplot()
    outdir.mkdir(parents=True, exist_ok=True)
    written = []
    rows, run_rows = [], []
    for gname, ds in groups.items():
        avg = seed_average(ds, align=True)
        summary = plateau_summary(ds, rule, averaged=avg)
        th = theory_groups.get(gname)
        th_avg = th_summary = matches = None
        if th is not None:
            th_avg = seed_average(th, align=True)
            th_summary = plateaus(th_avg, rule)
            matches = match_theory(avg, th_avg)
        fig = plot_eg(ds, avg, summary, th_avg, matches, band, rule.escape_fraction)
        written += _save(fig, outdir, f"eg_{gname}", formats)
        plt.close(fig)
        for i in range(avg.sizes["point"]):
            p = int(avg["point"].values[i])
            fig = plot_overlaps(ds, avg, summary, i, th_avg,
                                -1 if matches is None else int(matches[i]), band,
                                float(summary["specialization_time_mean"].values[i]))
            written += _save(fig, outdir, f"overlaps_{gname}_p{p}", formats)
            plt.close(fig)
        from .campaign import swept_coordinates

        for name in swept_coordinates(avg, "point"):
            fig = plot_sweep(ds, summary, name, th_summary, matches)
            written += _save(fig, outdir, f"sweep_{gname}_{name}", formats)
            plt.close(fig)
        for i, row in enumerate(table_rows(summary)):
            row = {"group": gname, **row}
            if th_summary is not None:
                t = int(matches[i])
                row["theory_height"] = float(th_summary["height"].values[t]) if t >= 0 \
                    else math.nan
                row["theory_escape"] = float(th_summary["escape"].values[t]) if t >= 0 \
                    else math.nan
            rows.append(row)
        for row in table_rows(plateaus(ds, rule)):
            run_rows.append({"group": gname, **row})
    written.append(write_csv(rows, outdir / "plateaus.csv"))
    written.append(write_csv(run_rows, outdir / "plateaus_runs.csv"))
    # The printed table: group, point, its coordinates, and the main plateau numbers.
    coord_cols = []
    for row in rows:
        coord_cols += [c for c in row if c not in coord_cols]
    skip = {c for c, _ in _TABLE_COLUMNS} | {"n_runs"}
    first = [c for c in coord_cols[: coord_cols.index("n_runs")] if c not in skip]
    cols = first + [c for c, _ in _TABLE_COLUMNS]
    heads = first + [h for _, h in _TABLE_COLUMNS]
    if theory_groups:
        cols += ["theory_height", "theory_escape"]
        heads += ["th_height", "th_escape"]
    print("Plateaus per grid point (seed-mean curve; esc_runs: mean escape time of the runs "
          "that escaped; alpha = examples/N):", file=out)
    print(format_table(rows, cols, heads), file=out)
    print(f"wrote {len(written)} files to {outdir}", file=out)
    return written


def main(argv=None) -> int:
    """Command line: ``python3 -m plateau_analysis report RESULTS.h5 [--theory T.h5] -o DIR``.

    Parameters
    ----------
    argv : list of str, optional
        Arguments (default: ``sys.argv[1:]``).

    Returns
    -------
    int
        0 on success, 2 for a bad file or bad arguments, 1 for other failures (e.g. an
        unwritable output directory).
    """
    parser = argparse.ArgumentParser(
        prog=f"python3 -m {PROGRAM}",
        description="Analysis of plateau campaign files (analysis/SCHEMA.md).")
    sub = parser.add_subparsers(dest="command", required=True)
    rep = sub.add_parser(
        "report", help="figures (PNG, PDF) and plateau tables (CSV) of a campaign file",
        description="Figures of eps_g(alpha) with the seed spread, overlaps R and Q per student "
        "unit, escape time against swept parameters, and a CSV table of plateau heights, "
        "lengths and escape times per grid point.")
    rep.add_argument("results", help="campaign file written by 'plateau run -o'")
    rep.add_argument("--theory", help="theory file ('plateau ode'), drawn as dashed lines")
    rep.add_argument("-o", "--out", required=True, help="output directory")
    rep.add_argument("--band", choices=("quantile", "se"), default="quantile",
                     help="seed band: 10-90%% quantiles (default) or mean +- standard error")
    rep.add_argument("--formats", default="png,pdf",
                     help="comma-separated figure formats (default: png,pdf)")
    args = parser.parse_args(argv)
    def show(message, category, *_args, **_kwargs):
        # Pending runs: one line on stderr; numerical warnings of NaN data are not news.
        if issubclass(category, IncompleteCampaignWarning):
            print(f"{PROGRAM}: warning: {message}", file=sys.stderr, flush=True)

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("always")
            warnings.showwarning = show
            report(args.results, args.out, args.theory, band=args.band,
                   formats=[f.strip() for f in args.formats.split(",") if f.strip()])
    except CampaignError as exc:
        print(f"{PROGRAM}: error: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:
        print(f"{PROGRAM}: error: {exc}", file=sys.stderr)
        return 1
    return 0
