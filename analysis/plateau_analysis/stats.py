"""Averages over seeds: one entry per grid point."""

from __future__ import annotations

import warnings

import numpy as np
import xarray as xr

from .campaign import COMPLETED, DIVERGED, PENDING, grid_point_index, run_coordinates
from .overlaps import align_students, specialization_index

DEFAULT_QUANTILES = (0.1, 0.5, 0.9)
#: Variables averaged by :func:`seed_average`, with their per-run dimensions after ``run``.
AVERAGED = ("eg", "Q", "R", "v")


def _first_value(values: np.ndarray):
    """First non-missing entry of a per-run coordinate (NaN-free if possible)."""
    if values.dtype.kind == "f":
        finite = values[np.isfinite(values)]
        return finite[0] if finite.size else values[0]
    return values[0]


def seed_average(ds, quantiles=DEFAULT_QUANTILES, *, align: bool = False) -> xr.Dataset:
    """Mean, standard error and quantiles over seeds, per grid point, of eg, Q, R and v.

    A grid point is the set of runs that share every per-run coordinate except ``run_index``
    and ``seed`` (computed as ``run_index // seeds``, the schema's definition, see
    :func:`~plateau_analysis.campaign.grid_point_index`). Only *completed* runs (status 1) enter
    the statistics; diverged runs (status 2) and pending runs (status 0) are counted. This is
    the average ``plateau run`` prints.

    Parameters
    ----------
    ds : xarray.Dataset
        One group of a campaign file (:func:`~plateau_analysis.open_campaign`).
    quantiles : sequence of float, default (0.1, 0.5, 0.9)
        Quantiles over seeds (linear interpolation, ``numpy.quantile``).
    align : bool, default False
        Relabel student units first so that in each run student j learned teacher j
        (:func:`~plateau_analysis.align_students`). Without it the seed mean of R mixes runs that
        specialized in different permutations. ``eg`` does not depend on it.

    Returns
    -------
    xarray.Dataset
        Dimensions ``point`` (grid points, coordinate ``point`` = global grid-point index, plus
        every per-run coordinate such as ``N`` and ``eta`` moved onto it), ``alpha``,
        ``quantile``, and the unit dimensions. For X in eg, Q, R, v (those present):

        - ``X_mean``: mean over completed runs;
        - ``X_sem``: standard error of the mean, std (ddof = 1) / sqrt(n); NaN for n < 2 in a
          simulation, 0 in a theory file (``kind = "theory"``: a single exact run);
        - ``X_quantile`` (point, quantile, alpha, ...): the quantiles over completed runs.

        Also ``specialization_index_mean`` (point, alpha) (mean of the per-run,
        permutation-invariant :func:`~plateau_analysis.specialization_index`), ``T_mean``, and
        the counts ``n_runs``, ``n_completed``, ``n_diverged``, ``n_pending`` (point). The
        attributes of ``ds`` are kept, plus ``quantiles`` and ``aligned``.
    """
    quantiles = np.asarray(quantiles, dtype=float)
    if align:
        ds = align_students(ds)
    point_of_run = grid_point_index(ds)
    points = np.unique(point_of_run)
    status = np.asarray(ds["status"].values)
    theory = ds.attrs.get("kind") == "theory"
    spec = specialization_index(ds).values

    members = [np.flatnonzero(point_of_run == p) for p in points]
    done = [m[status[m] == COMPLETED] for m in members]
    counts = {
        "n_runs": [m.size for m in members],
        "n_completed": [d.size for d in done],
        "n_diverged": [int(np.count_nonzero(status[m] == DIVERGED)) for m in members],
        "n_pending": [int(np.count_nonzero(status[m] == PENDING)) for m in members],
    }

    def stats(values: np.ndarray):
        """mean, sem, quantiles over axis 0 for each point."""
        means, sems, qs = [], [], []
        for d in done:
            x = values[d]
            n = x.shape[0]
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", RuntimeWarning)
                if n == 0:
                    nan = np.full(values.shape[1:], np.nan)
                    means.append(nan)
                    sems.append(nan)
                    qs.append(np.full((quantiles.size, *values.shape[1:]), np.nan))
                    continue
                means.append(x.mean(axis=0))
                if n > 1:
                    sems.append(x.std(axis=0, ddof=1) / np.sqrt(n))
                else:
                    sems.append(np.zeros(values.shape[1:]) if theory
                                else np.full(values.shape[1:], np.nan))
                qs.append(np.quantile(x, quantiles, axis=0))
        return np.stack(means), np.stack(sems), np.stack(qs)

    data = {}
    for name in AVERAGED:
        if name not in ds:
            continue
        var = ds[name]
        dims = var.dims[1:]
        mean, sem, q = stats(var.values)
        long_name = var.attrs.get("long_name", name)
        units = var.attrs.get("units", "1")
        data[f"{name}_mean"] = (("point", *dims), mean,
                                {"long_name": f"{long_name} (mean over completed runs)",
                                 "units": units})
        data[f"{name}_sem"] = (("point", *dims), sem,
                               {"long_name": f"{long_name} (standard error of the seed mean)",
                                "units": units})
        data[f"{name}_quantile"] = (("point", "quantile", *dims), q,
                                    {"long_name": f"{long_name} (quantiles over completed runs)",
                                     "units": units})
    mean, _, _ = stats(spec)
    data["specialization_index_mean"] = (("point", "alpha"), mean,
                                         {"long_name": "specialization index (seed mean)",
                                          "units": "1"})
    if "T" in ds:
        T = ds["T"].values
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            data["T_mean"] = (("point", *ds["T"].dims[1:]),
                              np.stack([T[d].mean(axis=0) if d.size else
                                        np.full(T.shape[1:], np.nan) for d in done]))
    for name, values in counts.items():
        data[name] = ("point", np.asarray(values, dtype=np.int64))

    coords = {"point": ("point", points), "alpha": ds["alpha"], "quantile": quantiles}
    for name in run_coordinates(ds):
        values = ds[name].values
        coords[name] = ("point", np.array([_first_value(values[m]) for m in members]),
                        dict(ds[name].attrs))
    out = xr.Dataset(data, coords=coords)
    out.attrs = dict(ds.attrs, quantiles=quantiles.tolist(), aligned=int(bool(align)))
    return out
