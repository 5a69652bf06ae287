"""The summary of campaign files: one line per grid point (``python3 -m plateau_analysis summary``).

The compact default says, for each grid point, what became of its runs, the plateau and the
escape:

    K2_M2  eta=0.5 N=1000: learned 8 of 8; plateau 0.01466; escape 163.2 ± 4.1 (8/8 escaped); eps_t 0.0021

- outcomes: the runs' outcomes (:func:`~plateau_analysis.run_outcomes`, analysis/SCHEMA.md
  "Outcomes");
- plateau: the height of the plateau of the seed-mean curve of the runs that did not fail
  (:func:`~plateau_analysis.plateau_summary`), "none" when there is none;
- escape: the mean ± standard error of the escape times of the runs that escaped, with how
  many did;
- eps_t (files with a training error only): the training error at the last record, mean over
  the completed runs.

``--long`` prints the report's table instead (every column of ``plateaus.csv``). Every number
goes through :func:`~plateau_analysis.tables.format_value`.
"""

from __future__ import annotations

import math
import sys

import numpy as np

from .campaign import COMPLETED, grid_point_index, swept_coordinates
from .detection import PlateauRule, plateau_summary, rule_for
from .merge import load_sweep
from .stats import seed_average
from .tables import format_value, table_rows


def final_training_error(ds) -> np.ndarray:
    """The training error at each run's last finite record, mean over the completed runs of
    every grid point (NaN without ``eps_train`` or without a completed run).

    Returns
    -------
    numpy.ndarray, shape (points,)
        In the order of :func:`~plateau_analysis.seed_average`'s ``point``.
    """
    point = grid_point_index(ds)
    points = np.unique(point)
    if "eps_train" not in ds:
        return np.full(points.size, np.nan)
    values = np.asarray(ds["eps_train"].values, dtype=float)
    last = np.full(values.shape[0], np.nan)
    for r, row in enumerate(values):
        finite = row[np.isfinite(row)]
        if finite.size:
            last[r] = finite[-1]
    completed = np.asarray(ds["status"].values) == COMPLETED
    out = np.full(points.size, np.nan)
    for i, p in enumerate(points):
        sel = (point == p) & completed & np.isfinite(last)
        if sel.any():
            out[i] = last[sel].mean()
    return out


def summary_rows(groups: dict, rule: PlateauRule | None = None) -> list[dict]:
    """One row per grid point of every group: ``group``, the coordinates, the columns of
    :func:`~plateau_analysis.plateau_summary`, ``escaped_of_runs`` and ``eps_train_final``
    (:func:`final_training_error`).

    Parameters
    ----------
    groups : dict of str to xarray.Dataset
        :func:`~plateau_analysis.load_sweep` output.
    rule : PlateauRule, optional
        Default: :func:`~plateau_analysis.detection.rule_for` the files' configuration.

    Returns
    -------
    list of dict
    """
    if rule is None:
        rule = rule_for(next(iter(groups.values())).attrs.get("config", ""))
    rows = []
    for gname, ds in groups.items():
        avg = seed_average(ds, align=True)
        summary = plateau_summary(ds, rule, averaged=avg)
        eps_t = final_training_error(ds)
        swept = [n for n in swept_coordinates(avg, "point")] or ["eta"]
        for i, row in enumerate(table_rows(summary)):
            row = {"group": gname, **row}
            row["escaped_of_runs"] = f"{row['runs_escaped']}/{row['n_runs']}"
            row["eps_train_final"] = float(eps_t[i])
            row["_swept"] = swept
            rows.append(row)
    return rows


def compact_line(row: dict) -> str:
    """The one-line summary of a grid point (see the module documentation)."""
    where = " ".join(f"{n}={format_value(row.get(n))}" for n in row.get("_swept", []))
    parts = [row.get("outcomes", "")]
    height = row.get("height")
    parts.append("plateau " + (format_value(height) if row.get("found") else "none"))
    esc, sem = row.get("escape_runs_mean"), row.get("escape_runs_sem")
    if esc is not None and math.isfinite(esc):
        spread = f" ± {format_value(sem)}" if sem is not None and math.isfinite(sem) else ""
        parts.append(f"escape {format_value(esc)}{spread} ({row['escaped_of_runs']} escaped)")
    else:
        parts.append(f"escape none ({row['escaped_of_runs']} escaped)")
    eps_t = row.get("eps_train_final")
    if eps_t is not None and math.isfinite(eps_t):
        parts.append(f"eps_t {format_value(eps_t)}")
    return f"{row['group']}  {where}: " + "; ".join(parts)


def print_summary(rows: list[dict], out=None, *, long: bool = False) -> None:
    """Print the compact summary (one line per grid point) or, with ``long``, the report's
    table (:func:`~plateau_analysis.report.print_table`)."""
    out = sys.stdout if out is None else out
    if long:
        from .report import print_table

        print_table([{k: v for k, v in r.items() if k != "_swept"} for r in rows], out,
                    theory=False)
        return
    print("Per grid point: outcomes; plateau height (seed mean); escape time, mean ± SE over "
          "the runs that escaped; eps_t at the end (analysis/SCHEMA.md; --long: every column)",
          file=out)
    for row in rows:
        print(compact_line(row), file=out)


def summarize(results, *, long: bool = False, rule: PlateauRule | None = None,
              out=None) -> list[dict]:
    """Read campaign file(s) (several as one sweep, seeds pooled: :func:`~plateau_analysis.
    load_sweep`) and print their summary.

    Returns
    -------
    list of dict
        The rows (:func:`summary_rows`).
    """
    rows = summary_rows(load_sweep(results), rule)
    print_summary(rows, out, long=long)
    return rows
