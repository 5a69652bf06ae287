"""The report's figures (matplotlib, Agg backend): eps_g, overlaps, sweeps.

- :func:`plot_eg`: eps_g(alpha) on log-log axes, one colour per grid point: the seed mean
  (line), the spread over seeds (band: 10-90 % quantiles by default, or mean +- standard
  error), the theory (dashed) when given, and the detected plateau (dotted) with its escape
  time; a point whose runs all failed (analysis/SCHEMA.md, "Outcomes") dash-dotted, labelled
  "failed N of N", without a plateau;
- :func:`plot_overlaps`: R_jn and Q_jk against alpha for one grid point, one panel per student
  unit (students relabelled so that student j learned teacher j), the plateau shaded;
- :func:`plot_sweep`: escape time and plateau height against a swept parameter (against ln N
  for N).

:func:`~plateau_analysis.report.report` calls them for every group of a campaign file.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from .campaign import swept_coordinates
from .configs import parse_config
from .outcomes import FINITE_FAILED
from .predictions import draw_plateau_height, plateau_height_handle
from .tables import format_value  # the one number formatter (tables, legends, titles)


PRETTY = {
    "eta": "η", "eta_v": "η_v", "q0": "q₀", "noise": "s²", "gamma": "γ",
    "gamma_hidden": "γ_g", "gamma_output": "γ_h", "v0": "v₀",
    "v_star": "v*", "N": "N", "K": "K", "M": "M", "alpha_max": "α_max",
    "weight_decay": "λ", "batch": "B", "train_set": "P", "alpha_train": "α_train",
}
AXIS_LABELS = {
    "eta": "learning rate η",
    "eta_v": "second-layer learning rate η_v",
    "q0": "initial student norm q₀ (Q_jj at α = 0)",
    "noise": "label-noise variance s²",
    "gamma": "tanh slope γ",
    "gamma_hidden": "tanh slope γ of the hidden units",
    "gamma_output": "tanh slope γ of the output",
    "weight_decay": "weight decay λ",
    "batch": "examples per update B (0: the whole training set)",
    "train_set": "training-set size P",
    "alpha_train": "training-set size α_train = P / N",
}
#: The α axis of on-line learning (one example per update). A simulation records at update
#: round(α N) (analysis/SCHEMA.md, `alpha`): at small N its early records lie up to 1/(2N) from
#: their nominal α. :func:`time_label` gives the label of a file's own settings.
ALPHA_LABEL = "training time α = examples / N (simulation: update round(α N))"
PLATEAU_SHADE = "#fbeebb"
#: Line style of a grid point whose completed runs all failed (analysis/SCHEMA.md, "Outcomes").
FAILED_STYLE = "-."


def _diverged_curves(ds, avg, i: int) -> list:
    """``[(alpha, eps_g)]`` of the diverged runs of grid point ``i`` (positive alpha, up to
    their last finite record)."""
    if "run" not in ds.dims or "eg" not in ds:
        return []
    from .campaign import DIVERGED, grid_point_index

    point = int(avg["point"].values[i])
    runs = np.flatnonzero((grid_point_index(ds) == point)
                          & (np.asarray(ds["status"].values) == DIVERGED))
    alpha = ds["alpha"].values
    out = []
    for r in runs:
        eg = ds["eg"].values[r]
        ok = np.isfinite(eg) & (alpha > 0) & (eg > 0)
        if ok.any():
            out.append((alpha[ok], eg[ok]))
    return out


def _finite_set_words(ds, avg):
    """Per grid point of ``avg``, the finite-set outcome codes of its runs
    (:func:`~plateau_analysis.outcomes.finite_set_outcomes`), or None when no run of the group
    trained on a finite training set (or ``ds`` has no runs: a seed average)."""
    if "run" not in ds.dims or "status" not in ds:
        return None
    from .campaign import grid_point_index
    from .outcomes import finite_set_outcomes, has_training_set

    if not has_training_set(ds).any():
        return None
    codes = finite_set_outcomes(ds).values
    point = grid_point_index(ds)
    return [codes[point == int(p)] for p in avg["point"].values]


def _search_words(ds, avg):
    """Per grid point of ``avg``, the outcome codes of its runs when the group is a search-phase
    model (:func:`~plateau_analysis.outcomes.search_phase`: learned, searching, escaped, failed,
    never plateau; analysis/SCHEMA.md, "Outcomes of a search-phase model"), or None (a classic
    committee, or ``ds`` without runs). Its figures say these words instead of the plateau
    rule's count of "escaped" runs (the escape from a detected plateau, another thing)."""
    if "run" not in ds.dims or "status" not in ds:
        return None
    from .campaign import grid_point_index
    from .outcomes import run_outcomes, search_phase

    if not search_phase(ds).all():
        return None
    codes = run_outcomes(ds).values
    point = grid_point_index(ds)
    return [codes[point == int(p)] for p in avg["point"].values]


def _on_sphere(ds) -> bool:
    """Every run of the group keeps |w_j| = 1 (``constraint = sphere``): R_jn is then the
    cosine m_jn (docs/theory.md §14)."""
    from .overlaps import _run_values

    if "run" not in ds.dims:
        return file_settings(ds).get("constraint", "none") == "sphere"
    return bool((np.char.lower(_run_values(ds, "constraint", "constraint", "none")) ==
                 "sphere").all())


def _failed_runs(summary, i: int) -> int:
    """Failed runs of grid point ``i`` of a ``plateau_summary`` (0 without outcome counts)."""
    return int(summary["n_failed"].values[i]) if "n_failed" in summary else 0


def pyplot():
    """matplotlib.pyplot with the Agg backend and the report's font sizes."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    plt.rcParams.update({"font.size": 11, "axes.titlesize": 11, "legend.fontsize": 9,
                         "figure.dpi": 110, "savefig.dpi": 150})
    return plt


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
    return ", ".join(f"{PRETTY.get(n, n)} = {format_value(avg[n].values[i])}" for n in names)


def _label_names(avg) -> list:
    """Coordinates to name a grid point by: the swept ones, else eta and N."""
    names = swept_coordinates(avg, "point")
    if not names:
        names = [n for n in ("eta", "N") if n in avg.coords]
    return names


def _colors(plt, n: int):
    if n <= 10:
        cmap = plt.get_cmap("tab10")
        return [cmap(i) for i in range(n)]
    cmap = plt.get_cmap("viridis")
    return [cmap(x) for x in np.linspace(0.0, 0.9, n)]


#: Most grid points drawn with a legend; beyond, a colormap and a colorbar.
LEGEND_POINTS = 10


def point_colors(plt, avg, fig=None, axes=None):
    """Colours of the grid points, and a colorbar on ``axes`` when there are many of them.

    Up to :data:`LEGEND_POINTS` points: tab10 colours (legend). More: viridis along the first
    swept numeric coordinate (log scale for eta and N), with a colorbar naming it.

    Returns
    -------
    colors : list
    colorbar : bool
        Whether a colorbar was drawn (then the caller omits the per-point legend).
    """
    n = avg.sizes["point"]
    if n <= LEGEND_POINTS:
        cmap = plt.get_cmap("tab10")
        return [cmap(i) for i in range(n)], False
    import matplotlib as mpl

    names = [c for c in swept_coordinates(avg, "point") if avg[c].dtype.kind in "iuf"]
    cmap = plt.get_cmap("viridis")
    if not names:
        return [cmap(x) for x in np.linspace(0, 0.9, n)], False
    name = names[0]
    values = avg[name].values.astype(float)
    lo, hi = np.nanmin(values), np.nanmax(values)
    log = name in ("eta", "N") and lo > 0
    norm = (mpl.colors.LogNorm if log else mpl.colors.Normalize)(vmin=lo, vmax=hi)
    colors = [cmap(norm(v)) for v in values]
    if fig is not None:
        sm = mpl.cm.ScalarMappable(norm=norm, cmap=cmap)
        cb = fig.colorbar(sm, ax=axes)
        cb.set_label(AXIS_LABELS.get(name, PRETTY.get(name, name)))
    return colors, True


def _alpha_limits(alpha):
    """x-limits of a log alpha axis: the positive record times, with a margin."""
    pos = alpha[alpha > 0]
    if pos.size == 0:
        return 1e-2, 1.0
    return pos.min() / 1.3, pos.max() * 1.3


def save_figure(fig, outdir: Path, stem: str, formats) -> list:
    """Save ``fig`` as ``outdir/stem.<format>`` for every format; returns the paths."""
    paths = []
    for fmt in formats:
        path = outdir / f"{stem}.{fmt}"
        fig.savefig(path)
        paths.append(path)
    return paths


#: The model settings a title names, with their symbols, in this order (a swept key is named in
#: the legend instead). Their values are the file's own (:func:`file_settings`): the title names
#: each with its value, whatever it is, without a second copy of the engine's defaults.
TITLE_SETTINGS = {
    "output-activation": "h", "teacher-output-activation": "h*",
    "gamma": "γ", "gamma-hidden": "γ_g", "gamma-output": "γ_h",
    "learn-v": None, "eta-v": "η_v", "v0": "v₀", "v-star": "v*", "q0": "q₀",
    "teacher-init": "teacher", "noise": "s²", "readout-scale": "readout",
    "constraint": "constraint",
}
#: The unit kinds with a slope gamma, tanh(gamma x) (models/activation.hpp: unused by the others).
SLOPED_KINDS = ("tanh",)


def file_settings(ds) -> dict[str, str]:
    """The run settings of a campaign group that are not swept, as text by their config key.

    From the group's own attributes (analysis/SCHEMA.md: ``settings`` names them, ``-`` written
    ``_``), else (files written before them, hand-made files) from the ``config`` text. A key
    that is a coordinate along ``run`` or ``point`` (swept, or differing between merged files)
    is left out.

    Parameters
    ----------
    ds : xarray.Dataset
        A campaign group or a :func:`~plateau_analysis.seed_average` result.

    Returns
    -------
    dict of str to str
    """
    from .configs import is_sweep

    def per_run(key: str) -> bool:
        name = key.replace("-", "_")
        return name in ds.coords and ds[name].dims != ()

    out = {k: v for k, v in parse_config(ds.attrs.get("config", "")).items()
           if not is_sweep(v) and not per_run(k)}
    names = str(ds.attrs.get("settings", "")).split()
    for name in names:
        key = name.replace("_", "-")
        if name in ds.attrs and not per_run(key):
            out[key] = format_value(ds.attrs[name])
    return out


def settings_text(ds) -> list[str]:
    """The model settings of a campaign group with the file's values (:func:`file_settings`),
    as ``["h = tanh", "γ = 2", "learned v", "q₀ = 0.2", "s² = 0"]``: every key of
    :data:`TITLE_SETTINGS` the file holds; a slope γ only when a unit is tanh; ``learn-v`` as
    "learned v" when true, ``η_v`` only then; ``h*`` only when it differs from ``h``."""
    cfg = file_settings(ds)
    kinds = {cfg.get(k, "").lower() for k in ("activation", "teacher-activation",
                                               "output-activation", "teacher-output-activation")}
    sloped = bool(kinds & set(SLOPED_KINDS))
    learned = cfg.get("learn-v", "").lower() == "true"
    # A polynomial target (docs/theory.md §13) has no committee: g*, h*, v* play no part.
    polynomial = cfg.get("target", "committee").strip() != "committee"
    parts = []
    for key, pretty in TITLE_SETTINGS.items():
        value = cfg.get(key)
        if value is None or value == "":
            continue
        if polynomial and key in ("teacher-output-activation", "v-star"):
            continue
        if (key, value) in (("readout-scale", "one"), ("constraint", "none")):
            continue  # the classic model: named only when set otherwise
        if key == "teacher-output-activation" and value == cfg.get("output-activation"):
            continue
        if key.startswith("gamma") and not sloped:
            continue
        if key == "learn-v":
            if learned:
                parts.append("learned v")
            elif value.lower() != "false":
                parts.append(f"learn-v = {value}")
            continue
        if key == "eta-v" and not learned:
            continue
        parts.append(f"{pretty} = {value}")
    return parts


def wrap_title(fig, text: str) -> str:
    """``text`` broken into lines that fit the figure's width (about 8 characters per inch: an axes title over axes narrowed by an outside legend must fit too)."""
    import textwrap

    return "\n".join(textwrap.wrap(text, max(int(fig.get_figwidth() * 8), 40)))


def examples_per_update(ds) -> float | None:
    """Examples per update of a group's runs (analysis/SCHEMA.md, `alpha` and `examples`).

    1 for on-line learning (``batch = 1``, the default), B for ``batch = B``, the training-set
    size P for ``batch = all`` (P from ``train-set``, or ``alpha-train`` × N). None when the
    runs differ in it (``batch``, the training set or N swept with ``batch = all``), or P is
    not known.

    Parameters
    ----------
    ds : xarray.Dataset
        A campaign group or a :func:`~plateau_analysis.seed_average` result.

    Returns
    -------
    float or None
    """
    cfg = file_settings(ds)
    differ = object()

    def one(name: str, default=None):
        """The key's single value: the file setting (``default`` when the file has none), or
        a coordinate all of whose values agree (``differ`` when they do not)."""
        coord = name.replace("-", "_")
        if coord in ds.coords and ds[coord].dims != ():
            values = np.unique(np.asarray(ds[coord].values).astype(str))
            return str(values[0]) if values.size == 1 else differ
        return cfg.get(name, default)

    batch = one("batch", "1")  # files and theories without the key: on-line learning
    if batch is differ:
        return None
    batch = batch.strip().lower()
    if batch not in ("all", "0"):
        try:
            return float(batch)
        except ValueError:
            return None
    train, alpha_train, n = one("train-set"), one("alpha-train"), one("N")
    for value, scale in ((train, "1"), (alpha_train, n)):
        if differ in (value, scale) or value in (None, "none", "0") or scale is None:
            continue
        try:
            return float(value) * float(scale)
        except ValueError:
            pass
    return None


def time_unit(ds) -> str:
    """What α counts in a group: ``"examples/N"`` for on-line learning (one example per update,
    where updates/N and examples/N are the same number), else ``"updates/N"`` (analysis/SCHEMA.md,
    `alpha`: α counts updates; ``batch`` B > 1 or ``batch = all`` uses B or P examples per
    update)."""
    return "examples/N" if examples_per_update(ds) == 1.0 else "updates/N"


def time_label(ds) -> str:
    """The α axis label of a group, from its settings (:func:`examples_per_update`): on-line
    learning "α = examples / N"; mini-batches "α = updates / N (B = 8 examples per update)";
    ``batch = all`` names P; runs that differ in it say "examples per update differ"."""
    per = examples_per_update(ds)
    if per == 1.0:
        return ALPHA_LABEL
    if per is None:
        what = "examples per update differ between runs"
    elif file_settings(ds).get("batch", "").strip().lower() in ("all", "0"):
        what = f"gradient descent on all P = {per:g} examples per update"
    else:
        what = f"B = {per:g} examples per update"
    return f"training time α = updates / N ({what})"


def escape_label(ds, what: str = "") -> str:
    """"escape time α_esc = examples / N" (or updates / N, :func:`time_unit`), ``what`` added."""
    text = f"escape time α_esc = {time_unit(ds).replace('/', ' / ')}"
    return f"{text} {what}" if what else text


def add_examples_axis(ax, ds) -> bool:
    """A secondary x axis on top of ``ax`` in examples / N = α × (examples per update), when the
    group has one number of examples per update other than 1 (:func:`examples_per_update`).
    Returns whether it drew one."""
    per = examples_per_update(ds)
    if per is None or per == 1.0 or per <= 0:
        return False
    top = ax.secondary_xaxis("top", functions=(lambda a: a * per, lambda e: e / per))
    top.set_xlabel(f"examples / N = {per:g} α", fontsize=9)
    if ax.get_title():  # lift the title above the new axis
        ax.set_title(ax.get_title(), pad=34, fontsize=ax.title.get_fontsize())
    ax.figure.tight_layout()
    return True


def architecture_text(ds) -> str:
    """``"K = 2, M = 2"``, or the hidden-layer widths of a deeper network from its group name
    (analysis/SCHEMA.md, "Groups"): ``"K = 4x2, M = 4x2"``."""
    from .campaign import parse_group_widths

    widths = parse_group_widths(str(ds.attrs.get("group", "")))
    if widths is not None:
        student, teacher = ("x".join(map(str, w)) for w in widths)
        return f"K = {student}, M = {teacher}"
    return f"K = {ds.attrs.get('K')}, M = {ds.attrs.get('M')}"


def relabel_text(ds, avg, i: int) -> str:
    """What the order of the student units in an aligned seed average of grid point ``i`` means
    (:func:`~plateau_analysis.align_students` relabels only units the specialization rule
    assigned): "students relabelled: j learned B_j" when every completed run of the point is
    specialized; "students in file order (no unit assigned)" when no unit of any run is; else
    how many runs were relabelled."""
    from .campaign import COMPLETED, grid_point_index
    from .overlaps import specialization

    if "run" not in ds.dims:
        return "students relabelled where assigned"
    runs = (grid_point_index(ds) == int(avg["point"].values[i])) \
        & (np.asarray(ds["status"].values) == COMPLETED)
    if not runs.any():
        return "no completed run"
    spec = specialization(ds.isel(run=np.flatnonzero(runs)))
    full = int(np.count_nonzero(spec["run_specialized"].values))
    some = int(np.count_nonzero(spec["specialized"].values.any(axis=1)))
    n = int(runs.sum())
    if full == n:
        return "students relabelled: j learned B_j"
    if some == 0:
        return "students in file order (no unit assigned to a teacher unit)"
    return (f"students relabelled where assigned ({full} of {n} runs specialized, {some} with "
            f"an assigned unit)")


def _title(ds) -> str:
    """K, M, g (and g*), the model settings with the file's values, seeds or theory."""
    cfg = file_settings(ds)
    parts = [architecture_text(ds)]
    target = cfg.get("target", "committee").strip()
    if "activation" in cfg:
        act = cfg["activation"]
        teacher = cfg.get("teacher-activation", act)
        if target != "committee":  # g* plays no part in a polynomial target (§13)
            parts.append(f"g = {act}, target = {target}")
        else:
            parts.append(f"g = {act}" if teacher == act else f"g = {act}, g* = {teacher}")
    elif target != "committee":
        parts.append(f"target = {target}")
    parts += settings_text(ds)
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
        ``seed_average`` of the matching theory group; with a theory file's plateau height
        (:func:`~plateau_analysis.predictions.with_predictions`, schema 1.5) that height is
        drawn as a horizontal line.
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
    plt = pyplot()
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch

    fig, ax = plt.subplots(figsize=(10.5, 5.2))
    alpha = avg["alpha"].values
    pos = alpha > 0
    colors, colorbar = point_colors(plt, avg, fig, ax)
    names = _label_names(avg)
    lo, hi, band_text = _band(avg, "eg", band)
    single = ds.attrs.get("kind") == "theory"
    ymin, ymax = np.inf, 0.0
    handles = []
    any_failed = False
    finite_words = _finite_set_words(ds, avg)  # runs on a finite training set: own words
    search_words = None if finite_words is not None else _search_words(ds, avg)
    drew_plateau = False
    n_all_failed = sum(1 for i in range(len(colors))
                       if 0 < int(avg["n_completed"].values[i]) <= _failed_runs(summary, i))
    diverged_runs = []  # per point: (colour, [(alpha, eps_g) of each diverged run])
    any_height = False  # a theory file's plateau height (schema 1.5) drawn
    for i, color in enumerate(colors):
        mean = avg["eg_mean"].values[i]
        n = int(avg["n_completed"].values[i])
        failed = _failed_runs(summary, i)
        label = point_label(avg, i, names)
        if finite_words is not None:
            # Over-fitted or converged on a finite set is neither "failed" nor a plateau.
            codes = finite_words[i]
            failed = int(np.count_nonzero(codes == FINITE_FAILED))
            from .outcomes import finite_set_text

            label += f"  ({finite_set_text(codes)})"
        elif search_words is not None:
            # learned / searching / escaped (the search phase), not the plateau rule's escapes
            from .outcomes import OUTCOME_FAILED, outcome_text

            failed = int(np.count_nonzero(search_words[i] == OUTCOME_FAILED))
            label += f"\n({outcome_text(search_words[i])})"  # a second line: the legend's width
        elif not single:
            parts = [f"{n} runs, {int(summary['runs_escaped'].values[i])} escaped"] if n else []
            for what in ("diverged", "pending"):
                count = int(avg[f"n_{what}"].values[i])
                parts += [f"{count} {what}"] if count else []
            parts += [f"{failed} failed"] if failed else []
            label += f"  ({', '.join(parts)})"
        # Every completed run failed: the curve is a stall, not a plateau (dash-dot).
        all_failed = n > 0 and failed >= n
        any_failed |= all_failed
        line, = ax.plot(alpha[pos], mean[pos], color=color, lw=2, label=label,
                        ls=FAILED_STYLE if all_failed else "-")
        handles.append(line)
        if all_failed and n_all_failed == 1:  # several: the legend says it (no overlap)
            last = np.flatnonzero(np.isfinite(mean) & pos)
            if last.size:
                ax.annotate(f"failed {failed} of {int(summary['n_runs'].values[i])}",
                            (alpha[last[-1]], mean[last[-1]]), xytext=(-4, 7),
                            textcoords="offset points", ha="right", fontsize=9, color=color,
                            fontweight="bold")
        if not single and n > 1:
            ax.fill_between(alpha[pos], np.clip(lo[i][pos], 1e-300, None), hi[i][pos],
                            color=color, alpha=0.22, lw=0)
        finite = mean[pos][np.isfinite(mean[pos]) & (mean[pos] > 0)]
        if finite.size:
            ymin, ymax = min(ymin, finite.min()), max(ymax, finite.max())
        diverged_runs.append((color, _diverged_curves(ds, avg, i)))
        if theory_avg is not None and matches is not None and matches[i] >= 0:
            th = theory_avg["eg_mean"].values[matches[i]]
            tpos = theory_avg["alpha"].values > 0
            ax.plot(theory_avg["alpha"].values[tpos], th[tpos], color=color, lw=1.4, ls="--")
            any_height |= draw_plateau_height(ax, theory_avg, int(matches[i]), color)
        # On a finite training set a flat minimum that rises again (over-fitting) is no
        # plateau: only a plateau that the curve escapes is drawn.
        if bool(summary["found"].values[i]) and (
                finite_words is None or math.isfinite(float(summary["escape"].values[i]))):
            h = float(summary["height"].values[i])
            drew_plateau = True
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
        every = sum(len(c) for _, c in diverged_runs)
        ax.text(0.5, 0.5, f"no completed run: {every} diverged" if every else "no completed run",
                transform=ax.transAxes, ha="center", va="center", fontsize=14, color="0.4")
    # Diverged runs: thin lines up to their last record, a cross where they blew up (at the top
    # edge when that is above the axes). Never averaged, never a plateau.
    top = ax.get_ylim()[1]
    for color, curves in diverged_runs:
        for a_run, e_run in curves:
            ax.plot(a_run, e_run, color=color, lw=0.8, alpha=0.6, zorder=1)
            ax.plot(a_run[-1], min(e_run[-1], top), marker="X", ms=8, color=color, mec="k",
                    mew=0.6, ls="", clip_on=False, zorder=5)
    ax.set_xlabel(time_label(ds))
    ax.set_ylabel("generalization error ε_g")
    ax.set_title(wrap_title(fig, f"{ds.attrs.get('group', '')}: generalization error "
                                 f"({_title(ds)})"))
    ax.grid(True, which="major", alpha=0.3)
    style = [Line2D([], [], color="0.3", lw=2, label="seed mean" if not single else "curve")]
    if not single:
        style.append(Patch(color="0.3", alpha=0.22, label=band_text))
    if theory_avg is not None:
        style.append(Line2D([], [], color="0.3", lw=1.4, ls="--", label="theory (N → ∞)"))
    if any_height:
        style.append(plateau_height_handle())
    if any_failed:
        style.append(Line2D([], [], color="0.3", lw=2, ls=FAILED_STYLE,
                            label="every run failed: no learning, not a plateau"))
    if any(curves for _, curves in diverged_runs):
        style.append(Line2D([], [], color="0.3", lw=0.8, marker="X", mec="k", ms=7,
                            label="diverged run (× where it blew up)"))
    if drew_plateau or (finite_words is None and search_words is None):
        style.append(Line2D([], [], color="k", lw=1.2, ls=":", label="detected plateau (height)"))
        style.append(Line2D([], [], color="0.5", marker="v", mec="k", ls="",
                            label=f"escape: ε_g = {escape_fraction:g} × height"))
    # Legends outside the axes (right): they never hide a curve.
    if not colorbar:  # many points: the colorbar names them
        first = ax.legend(handles=handles, loc="upper left", bbox_to_anchor=(1.02, 1.0),
                          title="grid point", framealpha=0.9)
        ax.add_artist(first)
    ax.legend(handles=style, loc="lower left", bbox_to_anchor=(1.02 if not colorbar else 0.0,
                                                               0.0), framealpha=0.9)
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
    plt = pyplot()
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
            ax.set_xlabel(time_label(ds), fontsize=8)
    for ax in list(axes.flat)[K:]:
        ax.set_visible(False)
    sphere = _on_sphere(ds)  # R_jn is the cosine m_jn (docs/theory.md §14)
    handles = [Line2D([], [], color=tcolors[m], lw=2,
                      label=f"R_j{m + 1} = w_j · B_{m + 1}" + (f" = m_j{m + 1}" if sphere else ""))
               for m in range(M)]
    handles += [Line2D([], [], color="k", lw=1.8,
                       label="Q_jj = |w_j|² = 1 (sphere)" if sphere else "Q_jj = |w_j|²")]
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
    what = "curve" if single else f"seed mean of {n} runs, {relabel_text(ds, avg, i)}"
    finite_words = _finite_set_words(ds, avg)
    search_words = None if finite_words is not None else _search_words(ds, avg)
    if finite_words is not None:  # a finite training set: its own words (over-fitted, ...)
        from .outcomes import finite_set_text

        what += f"; outcomes: {finite_set_text(finite_words[i])}"
    elif search_words is not None:  # a search phase: learned / searching / escaped, always
        from .outcomes import outcome_text

        what += f"; outcomes: {outcome_text(search_words[i])}"
    elif "outcomes" in summary and _failed_runs(summary, i):
        what += f"; outcomes: {summary['outcomes'].values[i]}"
    fig.suptitle(wrap_title(fig, f"{ds.attrs.get('group', '')}, {point_label(avg, i, names)}: "
                                 f"overlaps ({what})"), fontsize=11)
    fig.legend(handles=handles, loc="lower center", ncol=min(len(handles), 4),
               bbox_to_anchor=(0.5, 0.0), frameon=False)
    fig.tight_layout(rect=(0, 0.1 + 0.03 * (len(handles) > 4), 1, 0.97))
    return fig


def _count_text(summary, i: int) -> str:
    """``"3/4"`` (runs that escaped / runs of grid point i), plus diverged and pending runs."""
    text = f"{int(summary['runs_escaped'].values[i])}/{int(summary['n_runs'].values[i])}"
    extra = [f"{int(summary[f'n_{w}'].values[i])} {w[:3]}" for w in ("diverged", "pending")
             if f"n_{w}" in summary and int(summary[f"n_{w}"].values[i])]
    if _failed_runs(summary, i):
        extra.append(f"{_failed_runs(summary, i)} failed")
    return text + (f" ({', '.join(extra)})" if extra else "")


#: Markers of grid points without a value, drawn at the top edge of a sweep panel.
EDGE_MARKERS = {
    "none": dict(marker="o", mfc="none", ms=9, mew=1.6, ls=""),
    "diverged": dict(marker="X", mfc="none", ms=10, mew=1.4, ls=""),
    "failed": dict(marker="s", mfc="none", ms=9, mew=1.6, ls=""),
}
EDGE_Y = 0.96  # axes fraction of the edge markers


def _edge_points(ax, xs, missing, diverged, color, failed=None):
    """Open markers at the top edge (x in data, y in axes coordinates) for missing values:
    a cross where every run diverged, a square where every completed run failed."""
    trans = ax.get_xaxis_transform()
    failed = np.zeros_like(missing) if failed is None else failed & ~diverged
    for kind, sel in (("none", missing & ~diverged & ~failed), ("diverged", missing & diverged),
                      ("failed", missing & failed)):
        if sel.any():
            ax.plot(xs[sel], np.full(sel.sum(), EDGE_Y), transform=trans, clip_on=False,
                    color=color, zorder=5, **EDGE_MARKERS[kind])


def _series_colors(plt, summary, others, keys, groups, fig, axes):
    """Colours of many series of a sweep figure along the first numeric other coordinate, with
    a colorbar; viridis in series order if none is numeric."""
    import matplotlib as mpl

    cmap = plt.get_cmap("viridis")
    numeric = [o for o in others if summary[o].dtype.kind in "iuf"]
    if not numeric:
        return [cmap(v) for v in np.linspace(0.0, 0.9, len(groups))]
    name = numeric[0]
    first = {g: keys.index(g) for g in groups}
    values = np.array([float(summary[name].values[first[g]]) for g in groups])
    lo, hi = np.nanmin(values), np.nanmax(values)
    log = name in ("eta", "N") and lo > 0
    norm = (mpl.colors.LogNorm if log else mpl.colors.Normalize)(vmin=lo, vmax=hi)
    sm = mpl.cm.ScalarMappable(norm=norm, cmap=cmap)
    fig.colorbar(sm, ax=axes).set_label(AXIS_LABELS.get(name, PRETTY.get(name, name)))
    return [cmap(norm(v)) for v in values]


def plot_sweep(ds, summary, name: str, theory_summary=None, matches=None):
    """Figure: escape time and plateau height against the swept parameter ``name``.

    For N the abscissa is ln N (the plateau length grows like ln N). Other swept parameters
    give one line each per combination of their values.

    No grid point is dropped: every point is annotated with ``escaped/runs`` (runs that escaped
    the plateau / runs of the point, and how many diverged or are pending), and a point without
    a value (no run escaped, no plateau found) is an open marker at the top edge of the panel:
    a circle, or a cross when every run of the point diverged. The escape axis is logarithmic
    when the escape times span more than a factor 10.

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
    plt = pyplot()
    from matplotlib.lines import Line2D

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
        cats = list(dict.fromkeys(map(format_value, x_raw)))
        x = np.array([cats.index(format_value(v)) for v in x_raw], dtype=float)
        xlabel = PRETTY.get(name, name)
    keys = [tuple(format_value(summary[o].values[i]) for o in others) for i in range(x.size)]
    groups = list(dict.fromkeys(keys))
    many = len(groups) > LEGEND_POINTS  # a colorbar names the series, no legend entry each
    fig, (ax_e, ax_h) = plt.subplots(1, 2, figsize=(12.5 if many else 11.5, 4.8),
                                     layout="constrained" if many else None)
    colors = _series_colors(plt, summary, others, keys, groups, fig, [ax_e, ax_h]) if many \
        else _colors(plt, len(groups))
    annotate = x.size <= 40
    theory_done = False
    n_runs = summary["n_runs"].values
    all_diverged = (summary["n_diverged"].values == n_runs) & (n_runs > 0)
    n_done = summary["n_completed"].values
    all_failed = (np.asarray(summary["n_failed"].values) >= n_done) & (n_done > 0) \
        if "n_failed" in summary else np.zeros(n_runs.size, dtype=bool)
    any_missing = {"none": False, "diverged": False, "failed": False}
    for g, color in zip(groups, colors):
        idx = np.array([i for i, k in enumerate(keys) if k == g])
        idx = idx[np.argsort(x[idx])]
        label = None if many else (
            ", ".join(f"{PRETTY.get(o, o)} = {v}" for o, v in zip(others, g)) or None)
        xs = x[idx]
        esc = summary["escape_runs_mean"].values[idx]
        ax_e.errorbar(xs, esc, yerr=np.nan_to_num(summary["escape_runs_sem"].values[idx]),
                      color=color,
                      marker="o", capsize=3, lw=1.5,
                      label=None if many else
                      (label + ": " if label else "") + "runs that escaped (mean ± SE)")
        if not many:
            ax_e.plot(xs, summary["escape"].values[idx], color=color, marker="x", ls=":",
                      label=(label + ": " if label else "") + "seed-mean curve")
        height = summary["height_runs_mean"].values[idx]
        ax_h.errorbar(xs, height, yerr=np.nan_to_num(summary["height_runs_sem"].values[idx]),
                      color=color,
                      marker="o", capsize=3, lw=1.5,
                      label=None if many else label or "runs (mean ± SE)")
        div = all_diverged[idx]
        fail = all_failed[idx] & ~div
        for ax, values in ((ax_e, esc), (ax_h, height)):
            missing = ~np.isfinite(values)
            _edge_points(ax, xs, missing, div, color, fail)
            any_missing["none"] |= bool((missing & ~div & ~fail).any())
            any_missing["diverged"] |= bool((missing & div).any())
            any_missing["failed"] |= bool((missing & fail).any())
        for i, xv, yv in zip(idx, xs, esc) if annotate else ():
            finite = math.isfinite(yv)
            ax_e.annotate(_count_text(summary, i),
                          (xv, yv if finite else EDGE_Y),
                          xycoords="data" if finite else ax_e.get_xaxis_transform(),
                          xytext=(7, 4) if finite else (0, -16), textcoords="offset points",
                          ha="left" if finite else "center", fontsize=7.5, color=color,
                          annotation_clip=False)
        if theory_summary is not None and matches is not None:
            ok = matches[idx] >= 0
            if ok.any():
                t = matches[idx][ok]
                kw = dict(color=color, marker="s", ls="--", mfc="none", lw=1.2)
                ax_e.plot(xs[ok], theory_summary["escape"].values[t],
                          label=None if many else (label + ": " if label else "") + "theory",
                          **kw)
                ax_h.plot(xs[ok], theory_summary["height"].values[t],
                          label=None if theory_done else "theory (N → ∞)", **kw)
                theory_done = True
    if many:
        ax_e.plot([], [], color="0.3", marker="o", lw=1.5,
                  label="runs that escaped (mean ± SE); colour: see the colorbar")
    finite_esc = summary["escape_runs_mean"].values
    finite_esc = finite_esc[np.isfinite(finite_esc) & (finite_esc > 0)]
    if finite_esc.size and finite_esc.max() > 10 * finite_esc.min():
        ax_e.set_yscale("log")
    if not numeric:
        for ax in (ax_e, ax_h):
            ax.set_xticks(range(len(cats)), cats)
    for ax in (ax_e, ax_h):
        ax.set_xlabel(xlabel)
        ax.grid(True, alpha=0.3)
        ax.margins(x=0.08, y=0.18)
        if name == "N":  # the values of N on a top axis
            top = ax.secondary_xaxis("top")
            values = np.unique(x_raw.astype(float))
            top.set_xticks(np.log(values), [f"{v:g}" for v in values])
            top.set_xlabel("N")
    ax_e.set_ylabel(escape_label(ds))
    pad = 30 if name == "N" else 6  # above the N axis on top
    ax_e.set_title("escape from the plateau (ε_g = ½ height)"
                   + ("; labels: runs escaped / runs" if annotate else ""), fontsize=10, pad=pad)
    ax_h.set_ylabel("plateau height ε_g")
    ax_h.set_title("plateau height (runs with a plateau)", fontsize=10, pad=pad)
    edge = []
    if any_missing["none"]:
        edge.append(Line2D([], [], color="0.3", label="no value: no run escaped / no plateau",
                           **EDGE_MARKERS["none"]))
    if any_missing["diverged"]:
        edge.append(Line2D([], [], color="0.3", label="no value: every run diverged",
                           **EDGE_MARKERS["diverged"]))
    if any_missing["failed"]:
        edge.append(Line2D([], [], color="0.3", label="no value: every run failed (no learning)",
                           **EDGE_MARKERS["failed"]))
    for ax in (ax_e, ax_h):
        handles, _ = ax.get_legend_handles_labels()
        if handles or edge:
            ax.legend(handles=handles + edge, fontsize=8)
    fig.suptitle(wrap_title(fig, f"{ds.attrs.get('group', '')}: sweep over "
                                 f"{PRETTY.get(name, name)} ({_title(ds)})"), fontsize=11)
    if not many:
        fig.tight_layout()
    return fig
