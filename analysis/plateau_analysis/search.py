"""Escape from the search phase: how long a run stays near its initial error.

Targets with an information exponent above one (phase retrieval y = (w*·x)², he_k(w*·x),
staircases; docs/theory.md §13) are learned from a random start after a *search phase*: the
student's overlaps with the teacher start at O(1/sqrt N), eps_g stays near its initial value
eps_g(0) while they grow, then falls. There is no plateau to detect (the curve is flat from
alpha = 0, which :func:`~plateau_analysis.detection.detect_plateau` rejects by design, rule 4b);
the escape time is instead read from the start:

    escape = the first alpha > 0 at which eps_g <= fraction * eps_g(0)   [fraction = 0.99]

with eps_g(0) the run's own error at alpha = 0, interpolated on the log-log curve between the
two records that bracket the crossing (the same interpolation as the plateau rule's escape,
:func:`~plateau_analysis.detection.log_crossing`). A run that never falls that far is
censored (``escaped = False``, NaN time); statistics are over the runs that escaped, with their
count.

:func:`search_escapes` gives one row per run, :func:`search_summary` one row per grid point with
the names the plateau summary uses for escape times (``escape_runs_mean``, ``escape_runs_sem``,
``runs_escaped``, ``n_runs``), so :func:`~plateau_analysis.standard.fit_log_n` and
:func:`~plateau_analysis.standard.plot_escape_vs_log_n` take either.
"""

from __future__ import annotations

import math

import numpy as np
import xarray as xr

from .campaign import COMPLETED, grid_point_index, swept_coordinates
from .detection import log_crossing

#: eps_g must fall below this fraction of eps_g(0) (the issue's rule, docs/theory.md §13).
DEFAULT_FRACTION = 0.99


def first_fall(alpha: np.ndarray, eg: np.ndarray, fraction: float = DEFAULT_FRACTION) -> float:
    """The first alpha > 0 at which ``eg`` <= ``fraction`` * eg(alpha = 0) (log-log
    interpolation between the bracketing records); NaN when it never does, when the curve has
    no record at alpha = 0, or when eg(0) is not a positive number.

    Parameters
    ----------
    alpha : array_like
        Record times, increasing, the first one 0.
    eg : array_like
        eps_g at those times (NaN for records not written).
    fraction : float
        In (0, 1).
    """
    if not 0.0 < fraction < 1.0:
        raise ValueError(f"fraction must lie in (0, 1), got {fraction}")
    alpha = np.asarray(alpha, dtype=float)
    eg = np.asarray(eg, dtype=float)
    if alpha.size < 2 or alpha[0] != 0.0 or not (math.isfinite(eg[0]) and eg[0] > 0.0):
        return math.nan
    level = fraction * eg[0]
    below = np.flatnonzero((alpha > 0.0) & np.isfinite(eg) & (eg <= level))
    if below.size == 0:
        return math.nan
    k = int(below[0])
    if alpha[k - 1] <= 0.0:  # the first record after 0 is already below: no log interpolation
        return float(alpha[k])
    return log_crossing(alpha[k - 1], alpha[k], eg[k - 1], eg[k], level)


def search_escapes(ds: xr.Dataset, fraction: float = DEFAULT_FRACTION) -> xr.Dataset:
    """One row per run: ``escape`` (:func:`first_fall`, NaN for runs that are not completed or
    never fell), ``escaped`` and ``eg0`` (eps_g at alpha = 0), with the group's per-run
    coordinates (``N``, ``eta``, ``seed`` ...).

    Parameters
    ----------
    ds : xarray.Dataset
        One group of a campaign file (:func:`~plateau_analysis.open_campaign`, or pooled
        seeds from :func:`~plateau_analysis.open_sweep`).
    fraction : float
        The rule's fraction of eps_g(0) [0.99].
    """
    alpha = ds["alpha"].values
    eg = ds["eg"].values
    completed = ds["status"].values == COMPLETED
    times = np.array([first_fall(alpha, eg[r], fraction) if completed[r] else math.nan
                      for r in range(eg.shape[0])])
    coords = {name: c for name, c in ds.coords.items() if c.dims == ("run",)}
    out = xr.Dataset(
        {"escape": ("run", times, {"long_name": f"first alpha with eps_g <= {fraction:g} "
                                                "eps_g(0)", "units": "1"}),
         "escaped": ("run", np.isfinite(times), {"long_name": "eps_g fell below the level"}),
         "eg0": ("run", eg[:, 0].astype(float), {"long_name": "eps_g at alpha = 0"}),
         "status": ds["status"]},
        coords=coords, attrs={"fraction": fraction})
    return out


def _mean_sem_median(values: np.ndarray) -> tuple[float, float, float]:
    values = values[np.isfinite(values)]
    if values.size == 0:
        return math.nan, math.nan, math.nan
    sem = float(values.std(ddof=1) / math.sqrt(values.size)) if values.size > 1 else math.nan
    return float(values.mean()), sem, float(np.median(values))


def search_summary(ds: xr.Dataset, fraction: float = DEFAULT_FRACTION) -> xr.Dataset:
    """One row per grid point (dimension ``point``, with the swept coordinates such as ``N``):
    ``n_runs``, ``n_completed``, ``runs_escaped`` and, over the runs that escaped,
    ``escape_runs_mean``, ``escape_runs_sem`` (std / sqrt(n), NaN for fewer than two) and
    ``escape_runs_median``; ``eg0_mean`` over the completed runs.

    The attributes carry ``fraction`` and the group's ``group``, ``K``, ``M``, ``seeds``.
    """
    runs = search_escapes(ds, fraction)
    point = grid_point_index(ds)
    points = list(dict.fromkeys(point.tolist()))  # order of first appearance
    completed = ds["status"].values == COMPLETED
    names = [c for c in swept_coordinates(ds) if c in ds.coords and ds[c].dims == ("run",)]
    rows: dict[str, list] = {k: [] for k in ("n_runs", "n_completed", "runs_escaped",
                                             "escape_runs_mean", "escape_runs_sem",
                                             "escape_runs_median", "eg0_mean")}
    coords: dict[str, list] = {c: [] for c in names}
    for p in points:
        sel = point == p
        first = int(np.flatnonzero(sel)[0])
        for c in names:
            coords[c].append(ds[c].values[first])
        rows["n_runs"].append(int(sel.sum()))
        rows["n_completed"].append(int((sel & completed).sum()))
        esc = runs["escape"].values[sel & completed]
        rows["runs_escaped"].append(int(np.isfinite(esc).sum()))
        mean, sem, median = _mean_sem_median(esc)
        rows["escape_runs_mean"].append(mean)
        rows["escape_runs_sem"].append(sem)
        rows["escape_runs_median"].append(median)
        eg0 = runs["eg0"].values[sel & completed]
        rows["eg0_mean"].append(float(eg0.mean()) if eg0.size else math.nan)
    out = xr.Dataset({k: ("point", np.asarray(v)) for k, v in rows.items()},
                     coords={"point": np.asarray(points, dtype=np.int64),
                             **{c: ("point", np.asarray(v)) for c, v in coords.items()}})
    out["escape_runs_mean"].attrs = {"long_name": f"mean first alpha with eps_g <= "
                                                  f"{fraction:g} eps_g(0), over runs that did"}
    out.attrs = {"fraction": fraction}
    for key in ("group", "kind", "K", "M", "seeds"):
        if key in ds.attrs:
            out.attrs[key] = ds.attrs[key]
    return out


def escape_ratio(numerator: xr.Dataset, denominator: xr.Dataset, by: str = "N") -> xr.Dataset:
    """The ratio of two summaries' mean escape times at equal ``by`` (e.g. K = 2 over K = 1 at
    each N), with its standard error by first-order propagation,
    SE(a/b) = (a/b) sqrt((SE_a/a)² + (SE_b/b)²) (independent runs).

    Returns
    -------
    xarray.Dataset
        Along ``by`` (the values both summaries have): ``ratio``, ``ratio_sem``.
    """
    a = {float(v): i for i, v in enumerate(numerator[by].values)}
    b = {float(v): i for i, v in enumerate(denominator[by].values)}
    common = sorted(set(a) & set(b))
    ratio, sem = [], []
    for v in common:
        ma, sa = (float(numerator[n].values[a[v]]) for n in ("escape_runs_mean",
                                                             "escape_runs_sem"))
        mb, sb = (float(denominator[n].values[b[v]]) for n in ("escape_runs_mean",
                                                               "escape_runs_sem"))
        r = ma / mb
        ratio.append(r)
        sem.append(abs(r) * math.sqrt((sa / ma) ** 2 + (sb / mb) ** 2))
    return xr.Dataset({"ratio": (by, np.asarray(ratio)), "ratio_sem": (by, np.asarray(sem))},
                      coords={by: np.asarray(common)})
