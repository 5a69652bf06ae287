"""The report of a campaign file: its figures (:mod:`plateau_analysis.figures`) and tables.

:func:`report` is what ``python3 -m plateau_analysis report`` (:mod:`plateau_analysis.cli`)
runs.

Writes into the output directory, per group G (``K2_M2``, ...), each figure as PNG and PDF:

- ``eg_G``: eps_g(alpha) on log-log axes, one colour per grid point: the seed mean (line), the
  spread over seeds (band: 10-90 % quantiles by default, or mean +- standard error), the theory
  (dashed) when ``--theory`` is given, and the detected plateau (dotted) with its escape time;
- ``eg_linear_G``: eps_g(alpha) on linear axes (``--alpha-range``), the theory's plateau height
  (the theory file's ``plateau_eg``, schema 1.5: the symmetric fixed point's eps_g; for older
  files the height detected on its curve, to ~2 %) and ``--fixed-point-eg`` as horizontal
  lines; ``eg_G`` draws the theory file's ``plateau_eg`` too;
- ``r_G``: normalized overlaps r_jn = R_jn / sqrt(Q_jj T_nn) against alpha, one panel per grid
  point (at most 12, evenly spread); ``Rfinal_G``: heat maps of the final r_jn;
- ``v_G`` (``learn-v`` only): the second-layer weights v_j(alpha);
- ``layers_G`` (deeper networks, ``student_layers``): the weights above the first layer against
  alpha, one run per grid point, the teacher's as dotted lines;
- ``escape_hist_G`` (simulations): histograms of the runs' escape times per grid point, and with
  ``--theory`` of schema 1.9 each point's predicted median and 10-90 % range at its N;
- ``train_test_G`` (runs on a finite training set, ``eps_train``): training and test error
  together, the gap eps_g + s^2/2 - eps_train at the last record in the legend (s^2: label
  noise);
- ``learning_curve_G`` (a sweep over ``alpha-train`` or ``train-set``, instead of ``sweep_G_X``):
  final eps_g, smallest eps_g over alpha (early stopping) and final eps_train against P / N,
  with the runs' finite-set outcomes (over-fitted, converged, ...);
- ``overlaps_G_pP``: R_jn and Q_jk against alpha for grid point P, one panel per student unit
  (students relabelled so that student j learned teacher j), the plateau shaded; only for up to
  4 grid points (``--all-points``: always);
- ``sweep_G_X`` (only for a sweep over X): escape time and plateau height against X (against
  ln N for X = N); every grid point is shown (no value: an open marker at the top edge) with
  "runs escaped / runs";
- ``escape_lnN_G`` (a sweep over N only): escape time against ln N with a fitted line, and
  with ``--theory`` of schema 1.5 the theory file's predicted mean escape times (at the same N)
  and the line of slope 1/(2 lambda) (:mod:`plateau_analysis.predictions`);
- ``sweep_K``, ``sweep_M`` (groups of several K or M): escape time and height against K (M);
- ``class_error_G`` (groups with Gaussian-mixture runs, ``inputs = mixture``, schema 1.6): the
  classification error against alpha with the Bayes error as a horizontal line and the theory
  (dashed) when ``--theory`` is given; ``mean_overlaps_G_pP``: the overlaps M_jc of each student
  unit with the mixture's means, one run of grid point P (as many points as ``overlaps_G_pP``;
  :mod:`plateau_analysis.mixture_figures`);
- ``task_errors_G`` (groups with several teachers, ``teachers = n``, schema 1.8): eps_g on every
  teacher against alpha, seed mean per grid point, the switches dotted
  (:mod:`plateau_analysis.teachers`, which also gives forgetting and transfer);

and the tables ``plateaus.csv`` (one row per grid point; also printed) and ``plateaus_runs.csv``
(one row per run).

Every figure and table names the runs' outcomes (analysis/SCHEMA.md, "Outcomes";
:func:`~plateau_analysis.run_outcomes`): a failed run (completed without learning, e.g. erf at
eta = 4) has no plateau, is never counted as "not escaped" and never shaded; a grid point whose
runs all failed is drawn dash-dotted and labelled "failed N of N".
"""

from __future__ import annotations

import math
import sys
from pathlib import Path

import numpy as np

import warnings

from .campaign import mixture_runs, swept_coordinates
from .merge import load_sweep
from .configs import ConfigMismatchError, ConfigMismatchWarning, describe, theory_mismatches
from .detection import PlateauRule, plateau_summary, plateaus, rule_for
from .figures import (_finite_set_words as finite_set_words, add_examples_axis, format_value,
                      plot_eg, plot_overlaps, plot_sweep, pyplot, save_figure, time_unit)
from .outcomes import FINITE_SET_OUTCOMES, finite_set_outcomes, finite_set_text
from .predictions import prediction, with_predictions
from .search import search_summary
from .stats import seed_average
from .teachers import teacher_runs
from .tables import format_table, table_rows, write_csv


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
        return format_value(a) == format_value(b)

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


_TABLE_COLUMNS = [
    ("n_completed", "done"), ("n_diverged", "div"), ("n_pending", "pend"),
    ("found", "plateau"), ("height", "height"), ("start", "start"), ("end", "end"),
    ("length", "length"), ("escape", "escape"), ("escaped_of_runs", "esc/runs"),
    ("escape_runs_mean", "esc_runs"), ("escape_runs_sem", "±SE"), ("outcomes", "outcomes"),
]


#: Grid points up to which the report draws one overlaps figure per point (more: per sweep).
MAX_POINT_FIGURES = 4


def figure_points(n: int, limit: int = 12) -> list:
    """At most ``limit`` positions out of ``n``, evenly spread, first and last included."""
    if n <= limit:
        return list(range(n))
    return sorted(set(np.linspace(0, n - 1, limit).round().astype(int).tolist()))


def write_group_figures(gname: str, ds, avg, summary, outdir: Path, *, formats, band: str,
                        rule: PlateauRule, theory_avg=None, theory_summary=None,
                        matches=None, runs=None, alpha_range=None, fixed_point_eg=None,
                        all_points: bool = False,
                        max_point_figures: int = MAX_POINT_FIGURES,
                        examples_axis: bool = False) -> list:
    """Write the figures of one group (the module documentation lists them).

    Parameters
    ----------
    gname : str
        The group name G.
    ds, avg, summary : xarray.Dataset
        The group, ``seed_average(ds, align=True)`` and ``plateau_summary(ds)``.
    outdir : pathlib.Path
    formats : sequence of str
    band : {"quantile", "se"}
    rule : PlateauRule
    theory_avg, theory_summary : xarray.Dataset, optional
        The matching theory group's seed average and plateaus.
    matches : numpy.ndarray, optional
        :func:`match_theory` of ``avg`` and ``theory_avg``.
    runs : xarray.Dataset, optional
        ``plateaus(ds, rule)`` (per run), for the escape-time histogram.
    alpha_range : (float, float), optional
        Alpha range of the linear-axis eps_g figure.
    fixed_point_eg : float, optional
        A fixed-point eps_g drawn as a horizontal line.
    all_points : bool
        One overlaps figure per grid point however many there are.
    max_point_figures : int
        Up to this many grid points, one overlaps figure per point; beyond, only the figures
        per sweep (``r_G``, ``Rfinal_G``) unless ``all_points``.
    examples_axis : bool
        A top axis in examples / N on the eps_g and training/test figures, when an update uses
        more than one example (:func:`~plateau_analysis.figures.add_examples_axis`).

    Returns
    -------
    list of pathlib.Path
    """
    from .configs import parse_config
    from .standard import (TRAINING_SET_KEYS, has_training_error, has_upper_layers,
                           plot_eg_linear, plot_escape_histogram, plot_escape_vs_log_n,
                           plot_final_R, plot_learning_curve, plot_normalized_overlaps,
                           plot_train_test, plot_upper_layers, plot_v)

    plt = pyplot()
    written = []

    def save(fig, stem):
        nonlocal written
        written += save_figure(fig, outdir, stem, formats)
        plt.close(fig)

    fig = plot_eg(ds, avg, summary, theory_avg, matches, band, rule.escape_fraction)
    if examples_axis:
        add_examples_axis(fig.axes[0], ds)
    save(fig, f"eg_{gname}")
    fig = plot_eg_linear(ds, avg, summary, theory_avg, matches, alpha_range=alpha_range,
                         theory_summary=theory_summary, fixed_point_eg=fixed_point_eg)
    if examples_axis:
        add_examples_axis(fig.axes[0], ds)
    save(fig, f"eg_linear_{gname}")
    n_points = avg.sizes["point"]
    chosen = figure_points(n_points)
    save(plot_normalized_overlaps(ds, avg, points=chosen), f"r_{gname}")
    save(plot_final_R(ds, avg, points=chosen), f"Rfinal_{gname}")
    if parse_config(ds.attrs.get("config", "")).get("learn-v", "false").lower() == "true":
        save(plot_v(ds, avg), f"v_{gname}")
    if has_upper_layers(ds):
        save(plot_upper_layers(ds), f"layers_{gname}")
    if runs is not None and ds.attrs.get("kind") != "theory":
        save(plot_escape_histogram(ds, runs, theory_avg=theory_avg, matches=matches),
             f"escape_hist_{gname}")
    if has_training_error(ds):
        save(plot_train_test(ds, avg, examples_axis=examples_axis), f"train_test_{gname}")
    if all_points or n_points <= max_point_figures:
        for i in range(n_points):
            p = int(avg["point"].values[i])
            save(plot_overlaps(ds, avg, summary, i, theory_avg,
                               -1 if matches is None else int(matches[i]), band,
                               float(summary["specialization_time_mean"].values[i])),
                 f"overlaps_{gname}_p{p}")
    swept = swept_coordinates(avg, "point")
    for name in swept:
        if name in TRAINING_SET_KEYS and has_training_error(ds):
            # A sweep over the training-set size: the learning curve, not escape times.
            save(plot_learning_curve(ds, avg), f"learning_curve_{gname}")
            continue
        save(plot_sweep(ds, summary, name, theory_summary, matches), f"sweep_{gname}_{name}")
    if swept == ["N"]:
        lnn_summary = summary
        if ds.attrs.get("kind") != "theory" and not np.any(summary["runs_escaped"].values):
            # No run left a plateau: a search phase from the start (phase retrieval, he_k
            # targets, docs/theory.md §13) is measured from eps_g(0) instead.
            search = search_summary(ds)
            if np.any(search["runs_escaped"].values):
                lnn_summary = search
        save(plot_escape_vs_log_n(ds, lnn_summary, theory_avg, matches), f"escape_lnN_{gname}")
    return written


def write_mixture_figures(gname: str, ds, avg, outdir: Path, *, formats, band: str,
                          theory=None, theory_avg=None, matches=None, all_points: bool = False,
                          max_point_figures: int = MAX_POINT_FIGURES) -> list:
    """The figures of a group with Gaussian-mixture runs (the module documentation lists
    them): ``class_error_G`` and ``mean_overlaps_G_pP``. ``theory`` is the matching theory
    group, ``theory_avg`` its seed average; the other parameters as for
    :func:`write_group_figures`."""
    from .mixture_figures import plot_class_error, plot_mean_overlaps

    plt = pyplot()
    written = []
    fig = plot_class_error(ds, avg, theory_avg, matches, band)
    written += save_figure(fig, outdir, f"class_error_{gname}", formats)
    plt.close(fig)
    n_points = avg.sizes["point"]
    if "mean_overlaps" in ds and (all_points or n_points <= max_point_figures):
        for i in range(n_points):
            fig = plot_mean_overlaps(ds, avg, i, theory)
            written += save_figure(fig, outdir,
                                   f"mean_overlaps_{gname}_p{int(avg['point'].values[i])}",
                                   formats)
            plt.close(fig)
    return written


def _classification_words(row: dict, curve, bayes: float, finite_set: bool) -> None:
    """A row of a group with Gaussian-mixture runs (docs/theory.md section 15), which classify:
    eps_g is the loss on the +-1 labels and does not go to 0, so the outcome words of a
    regression (learned; plateau = not converged at the end) say nothing true about it. The row
    says what the classification reached instead: ``class_error_end``, the seed-mean
    classification error P(sign sigma != y) at the last record, and ``bayes_error``, the lowest
    any classifier reaches (Eqs. (15.6)-(15.8)), also as the ``outcomes`` text (before a
    finite training set's words, if any)."""
    values = np.asarray(curve, dtype=float)
    values = values[np.isfinite(values)]
    end = float(values[-1]) if values.size else math.nan
    row["class_error_end"] = end
    row["bayes_error"] = float(bayes)
    text = f"class_error {end:.4g} at the end, Bayes error {float(bayes):.4g}"
    row["outcomes"] = f"{text}; {row['outcomes']}" if finite_set else text


def _minimum_is_no_plateau(row: dict) -> None:
    """On a finite training set, a flat stretch that eps_g never escapes is the minimum of an
    over-fitting (or converged) curve, not a plateau (analysis/SCHEMA.md, "Outcomes on a finite
    training set"): the row says no plateau, as the eps_g figure draws none."""
    escape = row.get("escape")
    if row.get("found") and not (isinstance(escape, float) and math.isfinite(escape)):
        row["found"] = False
        for key in ("height", "start", "end", "length"):
            if key in row:
                row[key] = math.nan


def print_table(rows: list, out, *, theory: bool) -> None:
    """Print the plateau table: group, point, its coordinates, the main plateau numbers.

    Parameters
    ----------
    rows : list of dict
        The rows of ``plateaus.csv``.
    out : file-like
    theory : bool
        Add the theory's height and escape time.
    """
    coord_cols = []
    for row in rows:
        coord_cols += [c for c in row if c not in coord_cols]
    skip = {c for c, _ in _TABLE_COLUMNS} | {"n_runs"}
    first = [c for c in coord_cols[: coord_cols.index("n_runs")] if c not in skip]
    cols = first + [c for c, _ in _TABLE_COLUMNS]
    heads = first + [h for _, h in _TABLE_COLUMNS]
    if theory:
        cols += ["theory_height", "theory_escape"]
        heads += ["th_height", "th_escape"]
    print("Plateaus per grid point (seed-mean curve of the runs that did not fail; esc/runs: "
          "runs that escaped / runs; esc_runs: mean escape time of those runs; outcomes: "
          "learned, plateau = not converged at the end, failed = completed without learning, "
          "diverged; a search-phase model (polynomial target, teacher g* without a linear part): "
          "searching = eps_g still within 1 % of its start, escaped = fell, not learned yet "
          "(analysis/SCHEMA.md, Outcomes); a group of Gaussian-mixture runs classifies: "
          "its outcomes are the seed-mean class_error at the last record and the Bayes error "
          "(docs/theory.md section 15b); alpha = "
          f"{' or '.join(sorted({str(r.get('alpha_unit', 'examples/N')) for r in rows}))}):",
          file=out)
    print(format_table(rows, cols, heads), file=out)


def _name(paths) -> str:
    """A path, or several joined by ``+``, for messages."""
    if paths is None or isinstance(paths, (str, bytes)) or not hasattr(paths, "__iter__"):
        return str(paths)
    return " + ".join(map(str, paths))


def check_theory(results_path, theory_path, results_attrs: dict, theory_attrs: dict, *,
                 force: bool = False) -> None:
    """Refuse a theory file whose configuration differs from the results' in a key that matters.

    :func:`~plateau_analysis.configs.theory_mismatches` compares the ``config`` attributes
    (seeds, threads, N and the record times are ignored; swept keys are matched per point).

    Parameters
    ----------
    results_path, theory_path : str or os.PathLike
        For the message.
    results_attrs, theory_attrs : dict
        The root attributes (``config``) of the two files.
    force : bool
        Warn (:class:`~plateau_analysis.configs.ConfigMismatchWarning`) instead of raising.

    Raises
    ------
    ConfigMismatchError
        Naming every differing key and both values.
    """
    diffs = theory_mismatches(results_attrs.get("config", ""), theory_attrs.get("config", ""),
                              "results", "theory")
    if not diffs:
        return
    text = (f"{theory_path}: the theory's configuration differs from {results_path}'s: "
            f"{describe(diffs)}")
    if force:
        warnings.warn(text + " (overlaid anyway: --force-theory)", ConfigMismatchWarning,
                      stacklevel=3)
    else:
        raise ConfigMismatchError(text + "; --force-theory overlays it anyway")


def _warn_unmatched(gname: str, avg, matches, theory_path) -> None:
    """Warn about the grid points of group ``gname`` that have no theory point."""
    missing = np.flatnonzero(matches < 0)
    if missing.size == 0:
        return
    names = [n for n in swept_coordinates(avg, "point") if n != "N"] or ["eta"]
    points = ["(" + ", ".join(f"{n} = {format_value(avg[n].values[i])}" for n in names) + ")"
              for i in missing]
    warnings.warn(f"{theory_path}: no theory for {missing.size} of {matches.size} grid "
                  f"point(s) of {gname}: {', '.join(points)}", ConfigMismatchWarning,
                  stacklevel=3)


def report(results, outdir, theory=None, *, formats=("png", "pdf"), band: str = "quantile",
           rule: PlateauRule | None = None, out=None, force_theory: bool = False,
           rule_overrides: dict | None = None, alpha_range=None, fixed_point_eg=None,
           all_points: bool = False, max_point_figures: int = MAX_POINT_FIGURES,
           examples_axis: bool = False) -> list:
    """Write the figures and tables of a campaign file (see the module documentation).

    Parameters
    ----------
    results : str, os.PathLike or a sequence of them
        Campaign file (simulation or theory), or several read as one sweep
        (:func:`~plateau_analysis.merge.load_sweep`: their settings that are not swept must
        agree).
    outdir : str or os.PathLike
        Output directory (created if needed).
    theory : str, os.PathLike or a sequence of them, optional
        Theory file(s) (``plateau ode``) drawn as dashed lines and matched by grid point.
    formats : sequence of str
        Figure formats.
    band : {"quantile", "se"}
        Seed band: the outermost quantiles (10-90 %) or the seed mean ± standard error.
    rule : PlateauRule, optional
        Plateau detection parameters (default: :func:`~plateau_analysis.detection.rule_for` the
        file's configuration, i.e. the ReLU defaults for ReLU, with ``rule_overrides``).
    out : file-like, optional
        Where the table is printed (default: ``sys.stdout``).
    force_theory : bool
        Overlay a theory file whose configuration differs (a warning instead of an error).
    rule_overrides : dict, optional
        :class:`PlateauRule` fields to set (None: keep), when ``rule`` is not given.
    alpha_range, fixed_point_eg, all_points, max_point_figures, examples_axis
        See :func:`write_group_figures`.

    Returns
    -------
    list of pathlib.Path
        Every file written.

    Raises
    ------
    CampaignError
        A file that cannot be read.
    ConfigMismatchError
        A theory file from another configuration (unless ``force_theory``).
    """
    out = sys.stdout if out is None else out
    outdir = Path(outdir)
    groups = load_sweep(results)
    if rule is None:
        rule = rule_for(next(iter(groups.values())).attrs.get("config", ""),
                        **(rule_overrides or {}))
    theory_groups = load_sweep(theory) if theory not in (None, [], ()) else {}
    results, theory = _name(results), _name(theory)
    if theory_groups:
        check_theory(results, theory, next(iter(groups.values())).attrs,
                     next(iter(theory_groups.values())).attrs, force=force_theory)
        absent = [g for g in groups if g not in theory_groups]
        if absent:
            warnings.warn(f"{theory}: no theory group for {', '.join(absent)} (it has "
                          f"{', '.join(theory_groups)})", ConfigMismatchWarning, stacklevel=2)
    outdir.mkdir(parents=True, exist_ok=True)
    written = []
    rows, run_rows = [], []
    summaries = {}
    for gname, ds in groups.items():
        avg = seed_average(ds, align=True)
        summary = plateau_summary(ds, rule, averaged=avg)
        th = theory_groups.get(gname)
        th_avg = th_summary = matches = None
        if th is not None:
            th_avg = with_predictions(seed_average(th, align=True), th)
            th_summary = plateaus(th_avg, rule)
            matches = match_theory(avg, th_avg)
            _warn_unmatched(gname, avg, matches, theory)
        per_run = plateaus(ds, rule)
        summaries[gname] = summary
        written += write_group_figures(gname, ds, avg, summary, outdir, formats=formats,
                                       band=band, rule=rule, theory_avg=th_avg,
                                       theory_summary=th_summary, matches=matches,
                                       runs=per_run, alpha_range=alpha_range,
                                       fixed_point_eg=fixed_point_eg, all_points=all_points,
                                       max_point_figures=max_point_figures,
                                       examples_axis=examples_axis)
        if mixture_runs(ds).any():
            written += write_mixture_figures(gname, ds, avg, outdir, formats=formats, band=band,
                                             theory=th, theory_avg=th_avg, matches=matches,
                                             all_points=all_points,
                                             max_point_figures=max_point_figures)
        if teacher_runs(ds).any():  # several teachers (docs/theory.md section 17)
            from .teachers import plot_task_errors
            fig = plot_task_errors(ds)
            written += save_figure(fig, outdir, f"task_errors_{gname}", formats)
            pyplot().close(fig)
        finite_words = finite_set_words(ds, avg)  # None without a finite training set
        # Mixture groups classify: class_error and the Bayes error (docs/theory.md section 15b).
        classify = mixture_runs(ds).any() and "class_error_mean" in avg
        if classify:
            from .mixture_figures import point_bayes_errors
            bayes = point_bayes_errors(ds, avg)
        for i, row in enumerate(table_rows(summary)):
            # What the alpha columns (start, end, length, escape, ...) count (figures.time_unit).
            row = {"group": gname, **row, "alpha_unit": time_unit(ds)}
            # The count behind esc_runs (the mean over the runs that escaped), never implicit.
            row["escaped_of_runs"] = f"{row['runs_escaped']}/{row['n_runs']}"
            if finite_words is not None:  # over-fitted, converged, ... (analysis/SCHEMA.md)
                row["outcomes"] = finite_set_text(finite_words[i])
                _minimum_is_no_plateau(row)
            if classify:
                _classification_words(row, avg["class_error_mean"].values[i], bayes[i],
                                      finite_words is not None)
            if th_summary is not None:
                t = int(matches[i])
                row["theory_height"] = float(th_summary["height"].values[t]) if t >= 0 \
                    else math.nan
                row["theory_escape"] = float(th_summary["escape"].values[t]) if t >= 0 \
                    else math.nan
                # The theory file's own predictions (schema 1.5; NaN without).
                row["theory_plateau_eg"] = prediction(th_avg, "plateau_eg", t)
                row["theory_escape_predicted"] = prediction(th_avg, "escape_predicted", t)
            rows.append(row)
        run_words = finite_set_outcomes(ds).values if finite_words is not None else None
        for r, row in enumerate(table_rows(per_run)):
            row = {"group": gname, **row, "alpha_unit": time_unit(ds)}
            if run_words is not None and run_words[r] >= 0:
                row["finite_set_outcome"] = FINITE_SET_OUTCOMES[run_words[r]]
                _minimum_is_no_plateau(row)
            run_rows.append(row)
    for name in ("K", "M"):  # a sweep over K (or M): across groups
        if len({int(s.attrs[name]) for s in summaries.values()}) > 1:
            from .standard import plot_group_sweep

            fig = plot_group_sweep(summaries, name)
            written += save_figure(fig, outdir, f"sweep_{name}", formats)
            pyplot().close(fig)
    written.append(write_csv(rows, outdir / "plateaus.csv"))
    written.append(write_csv(run_rows, outdir / "plateaus_runs.csv"))
    print_table(rows, out, theory=bool(theory_groups))
    print(f"wrote {len(written)} files to {outdir}", file=out)
    return written
