"""Averages over seeds (one entry per grid point) and the weighted straight-line fit."""

from __future__ import annotations

import dataclasses
import math
import warnings
from collections.abc import Sequence

import numpy as np
import xarray as xr

from .campaign import (COMPLETED, DIVERGED, PENDING, grid_point_index, mixture_runs,
                       run_coordinates)
from .overlaps import align_students, specialization_index

DEFAULT_QUANTILES = (0.1, 0.5, 0.9)
#: Variables averaged by :func:`seed_average`, with their per-run dimensions after ``run``.
AVERAGED = ("eg", "Q", "R", "v")
#: Averaged too in a file with Gaussian-mixture runs (:func:`~plateau_analysis.mixture_runs`).
MIXTURE_AVERAGED = ("class_error",)


def _first_value(values: np.ndarray):
    """First non-missing entry of a per-run coordinate (NaN-free if possible)."""
    if values.dtype.kind == "f":
        finite = values[np.isfinite(values)]
        return finite[0] if finite.size else values[0]
    return values[0]


def seed_average(ds: xr.Dataset, quantiles: Sequence[float] = DEFAULT_QUANTILES, *,
                 align: bool = False) -> xr.Dataset:
    """Mean, standard error and quantiles over seeds, per grid point, of eg, Q, R and v.

    A grid point is the set of runs that share every per-run coordinate except ``run_index``
    and ``seed`` (computed as ``run_index // seeds``, the schema's definition, see
    :func:`~plateau_analysis.campaign.grid_point_index`); the statistics are xarray's
    ``groupby`` over that index along ``run``. Only *completed* runs (status 1) enter
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

        In a group with Gaussian-mixture runs (schema 1.6) also for X = ``class_error``.

        Also ``specialization_index_mean`` (point, alpha) (mean of the per-run,
        permutation-invariant :func:`~plateau_analysis.specialization_index`), ``T_mean``, and
        the counts ``n_runs``, ``n_completed``, ``n_diverged``, ``n_pending`` (point). The
        attributes of ``ds`` are kept, plus ``quantiles`` and ``aligned``.
    """
    qs = np.asarray(quantiles, dtype=float)
    if align:
        ds = align_students(ds)
    point = xr.DataArray(grid_point_index(ds), dims="run", name="point")
    points = np.unique(point.values)
    status = ds["status"]
    completed = np.asarray(status.values) == COMPLETED
    theory = ds.attrs.get("kind") == "theory"

    def per_point(flags: xr.DataArray) -> np.ndarray:
        """How many runs of each point have ``flags`` set."""
        return flags.groupby(point).sum().reindex(point=points).values.astype(np.int64)

    counts = {
        "n_runs": per_point(xr.ones_like(point, dtype=bool)),
        "n_completed": per_point(status == COMPLETED),
        "n_diverged": per_point(status == DIVERGED),
        "n_pending": per_point(status == PENDING),
    }
    n = xr.DataArray(counts["n_completed"], dims="point", coords={"point": points})
    done = point.isel(run=np.flatnonzero(completed))

    def stats(var: xr.DataArray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Mean, standard error and quantiles over the completed runs of each point: arrays
        (point, ...), (point, ...), (point, quantile, ...); NaN for a point without any."""
        dims = var.dims[1:]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            if done.size == 0:
                nan = np.full((points.size, *var.shape[1:]), np.nan)
                return nan, nan, np.full((points.size, qs.size, *var.shape[1:]), np.nan)
            # skipna=False: a NaN of a completed run (past its own alpha_max) stays NaN.
            grouped = var.isel(run=np.flatnonzero(completed)).groupby(done)
            mean = grouped.mean("run", skipna=False).reindex(point=points)
            std = grouped.std("run", ddof=1, skipna=False).reindex(point=points)
            q = grouped.quantile(qs, dim="run", skipna=False).reindex(point=points)
            # sem = std / sqrt(n); one run: 0 in a theory file (exact), else unknown.
            sem = xr.where(n > 1, std / np.sqrt(n), xr.where((n == 1) & theory, 0.0, np.nan))
        return (mean.transpose("point", *dims).values, sem.transpose("point", *dims).values,
                q.transpose("point", "quantile", *dims).values)

    data = {}
    averaged = AVERAGED + (MIXTURE_AVERAGED if mixture_runs(ds).any() else ())
    for name in averaged:
        if name not in ds:
            continue
        var = ds[name]
        dims = var.dims[1:]
        mean, sem, q = stats(var)
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
    mean, _, _ = stats(specialization_index(ds))
    data["specialization_index_mean"] = (("point", "alpha"), mean,
                                         {"long_name": "specialization index (seed mean)",
                                          "units": "1"})
    if "T" in ds:
        mean, _, _ = stats(ds["T"])
        data["T_mean"] = (("point", *ds["T"].dims[1:]), mean)
    for name, values in counts.items():
        data[name] = ("point", values)

    members = point.groupby(point).groups
    coords = {"point": ("point", points), "alpha": ds["alpha"], "quantile": qs}
    for name in run_coordinates(ds):
        values = ds[name].values
        coords[name] = ("point", np.array([_first_value(values[members[p]]) for p in points]),
                        dict(ds[name].attrs))
    out = xr.Dataset(data, coords=coords)
    out.attrs = dict(ds.attrs, quantiles=qs.tolist(), aligned=int(bool(align)))
    return out


@dataclasses.dataclass(frozen=True)
class LineFit:
    """A straight line y = intercept + slope * x fitted by :func:`weighted_line_fit`.

    ``slope_err`` and ``intercept_err`` are the standard errors from the weights alone (the
    points' own errors taken as known): sqrt of the diagonal of (A^T W A)^-1, not rescaled by
    the scatter. ``chi2`` = sum of ((y - fit) / sigma)^2 over the points used, ``dof`` = n - 2,
    ``reduced_chi2`` = chi2 / dof (NaN for dof < 1): about 1 when the points scatter as their
    errors say; much larger means the errors understate the scatter (or the line is wrong), and
    then ``slope_err`` * sqrt(reduced_chi2) is the more honest error. ``n_points`` points were
    used; ``n_left_out`` had a value but no usable error (sigma not finite and > 0, e.g. a
    single run escaped) and are not in the fit.
    """

    slope: float
    intercept: float
    slope_err: float
    intercept_err: float
    chi2: float
    dof: int
    n_points: int
    n_left_out: int

    @property
    def reduced_chi2(self) -> float:
        """chi2 / dof; NaN without degrees of freedom."""
        return self.chi2 / self.dof if self.dof > 0 else math.nan


def weighted_line_fit(x, y, sigma) -> LineFit:
    """Weighted least squares fit of y = a + b x with weights w_i = 1 / sigma_i^2.

    With S = sum w, Sx = sum w x, Sy = sum w y, Sxx = sum w x^2, Sxy = sum w x y and
    D = S Sxx - Sx^2: b = (S Sxy - Sx Sy) / D, a = (Sxx Sy - Sx Sxy) / D, var(b) = S / D,
    var(a) = Sxx / D (Press et al., Numerical Recipes, §15.2 "Fitting data to a straight
    line"). Points whose x or y is not finite are ignored; points with a value but no usable
    sigma are counted in ``n_left_out``.

    Parameters
    ----------
    x, y, sigma : array_like
        Abscissae, values and their standard errors (same length).

    Returns
    -------
    LineFit
        NaN slope and intercept when fewer than two distinct x remain.
    """
    x, y, sigma = (np.asarray(v, dtype=float).ravel() for v in (x, y, sigma))
    valued = np.isfinite(x) & np.isfinite(y)
    ok = valued & np.isfinite(sigma) & (sigma > 0)
    n, left_out = int(ok.sum()), int((valued & ~ok).sum())
    if np.unique(x[ok]).size < 2:
        return LineFit(math.nan, math.nan, math.nan, math.nan, math.nan, max(n - 2, 0), n,
                       left_out)
    x, y, w = x[ok], y[ok], 1.0 / sigma[ok] ** 2
    s, sx, sy, sxx, sxy = w.sum(), (w * x).sum(), (w * y).sum(), (w * x * x).sum(), \
        (w * x * y).sum()
    d = s * sxx - sx * sx
    b = (s * sxy - sx * sy) / d
    a = (sxx * sy - sx * sxy) / d
    chi2 = float((w * (y - a - b * x) ** 2).sum())
    return LineFit(float(b), float(a), float(math.sqrt(s / d)), float(math.sqrt(sxx / d)),
                   chi2, n - 2, n, left_out)
