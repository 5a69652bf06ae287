"""Several teachers (``teachers = n``, schema 1.8, docs/theory.md section 17): task switches,
forgetting and transfer, and the report's figure of eps_t against alpha.

A file with several teachers holds, per record, ``eg_tasks`` (eps_g of the student on every
teacher t, head t with ``heads = per-task``), ``current_task`` and ``switch_alpha`` (the alpha at
which each task began, NaN for a task not reached yet); a file with one teacher holds none of
them (analysis/SCHEMA.md).

- :func:`teacher_runs`: which runs have several teachers;
- :func:`switch_alphas`: per run and task, the alpha at which the task began (its last record);
- :func:`forgetting`: eps_1(alpha) - eps_1(alpha_s) after the first switch alpha_s, per run and
  record (NaN before the switch), and its value at the run's last record;
- :func:`transfer`: eps_2(0) - eps_2(alpha_s), how much training on task 1 lowered the error on
  task 2 before it was trained on;
- :func:`plot_task_errors`: eps_t against alpha, seed mean per grid point and teacher, the
  switches marked.
"""

from __future__ import annotations

import numpy as np
import xarray as xr


def teacher_runs(ds: xr.Dataset) -> np.ndarray:
    """Per run (shape (run,)): whether it has several teachers (``eg_tasks`` present and a
    number at its first record)."""
    if "eg_tasks" not in ds.variables:
        return np.zeros(ds.sizes["run"], dtype=bool)
    first = np.asarray(ds["eg_tasks"].isel(alpha=0, task=0).values, dtype=float)
    return np.isfinite(first)


def switch_alphas(ds: xr.Dataset) -> xr.DataArray:
    """(run, task): the alpha at which each task began, from each run's last record that holds
    ``switch_alpha`` (entry 0 is 0; NaN for a task the run never reached)."""
    values = np.asarray(ds["switch_alpha"].values, dtype=float)  # (run, alpha, task)
    known = np.isfinite(values).any(axis=2)
    # The last record with a value: switch_alpha only grows (a switch once made stays).
    last = np.where(known.any(axis=1), known.shape[1] - 1 - np.argmax(known[:, ::-1], axis=1), 0)
    out = values[np.arange(values.shape[0]), last, :]
    return xr.DataArray(out, dims=("run", "task"), coords={"run": ds["run"]})


def _at_switch(ds: xr.Dataset, task: int, switch: int) -> tuple:
    """eps_task (run, alpha), the record index of alpha_s per run (the last record at or before
    the switch into ``switch``: it still shows the task before it; -1 if none), alpha_s."""
    eg = np.asarray(ds["eg_tasks"].isel(task=task).values, dtype=float)
    alpha_s = switch_alphas(ds).isel(task=switch).values
    alpha = np.asarray(ds["alpha"].values, dtype=float)
    before = alpha[None, :] <= alpha_s[:, None]  # NaN alpha_s: all False
    index = np.where(before.any(axis=1), before.shape[1] - 1 - np.argmax(before[:, ::-1], axis=1),
                     -1)
    return eg, index, alpha_s


def forgetting(ds: xr.Dataset, task: int = 0, switch: int = 1) -> xr.Dataset:
    """Forgetting of task ``task`` (0-based) after the switch into task ``switch``: ``curve``
    (run, alpha) = eps_task(alpha) - eps_task(alpha_s) for records at alpha > alpha_s (NaN
    before), eps_task(alpha_s) read at the last record at or before the switch (it still shows
    the task before it), and ``final`` (run) = the curve at the run's last finite record."""
    eg, index, alpha_s = _at_switch(ds, task, switch)
    runs = np.arange(eg.shape[0])
    at_switch = np.where(index >= 0, eg[runs, np.maximum(index, 0)], np.nan)
    after = np.arange(eg.shape[1])[None, :] > index[:, None]
    curve = np.where(after & (index[:, None] >= 0), eg - at_switch[:, None], np.nan)
    final = np.full(eg.shape[0], np.nan)
    for r in runs:
        finite = np.flatnonzero(np.isfinite(curve[r]))
        if finite.size:
            final[r] = curve[r, finite[-1]]
    coords = {"run": ds["run"], "alpha": ds["alpha"]}
    return xr.Dataset({"curve": (("run", "alpha"), curve), "final": (("run",), final),
                       "alpha_switch": (("run",), alpha_s)}, coords=coords)


def transfer(ds: xr.Dataset, task: int = 1, switch: int = 1) -> xr.DataArray:
    """(run): eps_task(0) - eps_task(alpha_s), the error on task ``task`` removed by training on
    the tasks before it, up to the switch into ``switch`` (positive: transfer; negative:
    interference)."""
    eg, index, _ = _at_switch(ds, task, switch)
    runs = np.arange(eg.shape[0])
    at_switch = np.where(index >= 0, eg[runs, np.maximum(index, 0)], np.nan)
    return xr.DataArray(eg[:, 0] - at_switch, dims=("run",), coords={"run": ds["run"]})


def plot_task_errors(ds: xr.Dataset, title: str = ""):
    """eps_t against alpha: the seed mean of ``eg_tasks`` of each teacher (one line style per
    teacher, one colour per grid point), the mean switch alphas as vertical dotted lines."""
    from .campaign import grid_point_index
    from .figures import pyplot

    plt = pyplot()
    fig, ax = plt.subplots(figsize=(6.4, 4.2))
    points = np.asarray(grid_point_index(ds))
    alpha = np.asarray(ds["alpha"].values, dtype=float)
    styles = ["-", "--", ":", "-."]
    starts = switch_alphas(ds)
    colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for k, p in enumerate(np.unique(points)):
        runs = points == p
        color = colors[k % len(colors)]
        for t in range(ds.sizes["task"]):
            mean = np.nanmean(np.asarray(ds["eg_tasks"].isel(task=t).values[runs], dtype=float),
                              axis=0)
            ax.plot(alpha, mean, styles[t % len(styles)], color=color,
                    label=f"point {p}, teacher {t + 1}")
        for t in range(1, ds.sizes["task"]):
            a = np.nanmean(np.asarray(starts.isel(task=t).values[runs], dtype=float))
            if np.isfinite(a):
                ax.axvline(a, color=color, linestyle=":", linewidth=0.8)
    ax.set_xlabel("α")
    ax.set_ylabel("ε_g on teacher t")
    ax.set_yscale("log")
    ax.set_title(title or "ε_t against α; dotted: switches")
    ax.legend(fontsize="small")
    fig.tight_layout()
    return fig
