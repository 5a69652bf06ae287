"""Plateau detection on generalization-error curves.

The detection rule (:func:`detect_plateau`, parameters in :class:`PlateauRule`)
---------------------------------------------------------------------------------

Work on the log-log curve y = ln eps_g against u = ln alpha (records with alpha > 0 and a
finite eps_g, up to the first missing record; values below 1e-12 of the curve's maximum are
clipped there). Defaults in brackets.

1. **Local slope.** At every record, s = d ln eps_g / d ln alpha is the least-squares slope of y
   over the records with |u' - u| <= ``window`` [0.3: a factor 1.35 in alpha either side; at
   least two records either side], with its standard error SE(s) from the fit residuals (0 on a
   smooth theory curve; the seed noise of a finite-N run makes it > 0).
2. **Flat cores.** A record is flat if |s| <= ``slope_max`` + ``noise_z`` * SE(s) [0.15 + 2 SE].
   Maximal runs of consecutive flat records are cores; cores less than ``merge_gap`` [0.6, a
   factor 1.8 in alpha] apart whose median heights agree within the band are merged.
3. **Height and extent.** The plateau height h is the median of eps_g over the core. The
   plateau is the stretch of records around the core whose *smoothed* eps_g (running median of
   ``median_width`` [5] records, which keeps corners and drops single noisy records) stays
   within a factor 1 + ``band`` [10 %] of h; excursions out of the band shorter than
   ``merge_gap`` that come back into it are bridged. ``start`` and ``end`` are its first and
   last record. So a plateau is flat to +-10 % end to end, however noisy the curve.
4. **Acceptance.** The stretch is a plateau only if

   a. it lasts: end / start >= ``min_factor`` [3];
   b. it follows a fall: before ``start`` (alpha = 0 included) the smoothed eps_g was at least
      ``drop_before`` [1.5] times h. This rejects the untrained start of every run, where eps_g
      has not moved yet and the log-log curve is flat too;
   c. it is left: later eps_g falls to ``escape_fraction`` [0.5] times h or below. The *escape
      time* is the alpha where it first does (interpolated on the log-log curve). A stretch
      that is never left counts only when the student is known to be unspecialized on it
      (median specialization index <= ``unspecialized_max`` [0.2]): a run still stuck on the
      symmetric plateau at ``alpha_max``, reported with ``escaped = False`` and a NaN escape
      time (censored). A flat end of a *specialized* student is the asymptotic error (e.g. with
      label noise), not a plateau; without overlaps (a bare curve) an unescaped flat end is not
      reported either.

5. If several non-overlapping stretches pass, the longest (in ln alpha) is reported and
   ``n_plateaus`` counts them (e.g. a second, partially specialized plateau for M >= 3).

A curve with no plateau gives ``found = False`` and NaN for every other number.

The defaults above are for erf (and tanh, sigmoid). For ReLU, :func:`rule_for` (which the report
uses) takes ``slope_max`` 0.25, ``band`` 15 %, ``min_factor`` 1.8 (:data:`ACTIVATION_RULES`):
ReLU plateaus are shorter and tilted. Every parameter can be set on the report's command line
(``--plateau-min-factor 2`` ...). ``tilt`` (off by default) lets the band of step 3 follow the
core's own median slope (clipped to +-``slope_max``): it finds tilted plateaus more often but also
takes a long slow decay of slope ~ -``slope_max`` for one.

How the defaults were checked (tests/python/test_analysis_plateaus.py and by hand):

- ``plateau run`` simulations, K = M = 2, erf, single runs: a plateau in every run at N = 500
  and 2000 (eta = 0.5, 1, 1.5) and at N = 100, eta = 0.5; at N = 100 for eta = 1 (90 %) and 1.5
  (50 %) and at N = 50 (35-85 %) the runs are noisy (~10 % per record) with short, tilted
  plateaus and some are missed; the seed mean finds it in every case;
- the ODE theory (``plateau ode``): the height agrees with the unspecialized fixed point to
  ~2 % (the trajectory passes near the saddle, not through it);
- synthetic curves: sharp plateaus (start and end within about one record of the corners),
  smooth ones, noisy ones (5 % noise: always found); and curves without a plateau (power laws
  alpha^-1 and alpha^-1/2, exponential decays, a flat start then a decay, a decay to a floor,
  a constant): never reported without noise or with 5 % noise per record. A slow power law
  (alpha^-0.3) with 10 % noise per record is reported about a quarter of the time: locally it
  is as flat as a noisy tilted plateau.

The specialization index (:func:`~plateau_analysis.specialization_index`) is the mean over
student units of the largest minus the second largest normalized overlap r_jn =
R_jn / sqrt(Q_jj T_nn): ~0 when all overlaps of a unit are alike (the symmetric plateau),
~1 once each student unit has learned one teacher unit. It is also reported on the plateau.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any
from dataclasses import asdict, dataclass

import numpy as np
import xarray as xr
from numpy.typing import ArrayLike

from .campaign import COMPLETED, PENDING, grid_point_index
from .outcomes import (OUTCOME_FAILED, OUTCOME_LEARNED, OUTCOME_PLATEAU, outcome_names,
                       outcome_text, run_outcomes)
from .overlaps import specialization, specialization_index
from .stats import seed_average


@dataclass(frozen=True)
class PlateauRule:
    """Parameters of the plateau detection rule (see the module documentation).

    Attributes
    ----------
    slope_max : float
        Largest |d ln eps_g / d ln alpha| of a flat record (default 0.15).
    window : float
        Half-width, in ln alpha, of the local slope fit (default 0.3: a factor 1.35 either side).
    merge_gap : float
        Flat cores closer than this in ln alpha, at heights within the band, merge; excursions
        out of the band shorter than this are bridged (default 0.6).
    band : float
        The plateau lasts while the smoothed eps_g is within a factor (1 + band) of its height
        (default 0.1).
    min_factor : float
        Shortest plateau, as the ratio end / start of its alpha range (default 3).
    drop_before : float
        eps_g must have been at least this times the height before the plateau (default 1.5).
    escape_fraction : float
        Escape: eps_g falls to this fraction of the height (default 0.5).
    unspecialized_max : float
        Largest median specialization index of a plateau that is never left (default 0.2).
    noise_z : float
        Noise allowance: a record is flat if |slope| <= slope_max + noise_z * (standard error
        of the slope) (default 2).
    median_width : int
        Records in the running median that smooths the curve for the band (default 5).
    tilt : bool
        The band follows the core's median local slope (clipped to +-``slope_max``) instead of
        a constant height: for tilted plateaus (ReLU). Default False.
    """

    slope_max: float = 0.15
    window: float = 0.3
    merge_gap: float = 0.6
    band: float = 0.1
    min_factor: float = 3.0
    drop_before: float = 1.5
    escape_fraction: float = 0.5
    unspecialized_max: float = 0.2
    noise_z: float = 2.0
    median_width: int = 5
    tilt: bool = False


#: Defaults of :class:`PlateauRule` that depend on the hidden activation g (the ``activation``
#: config key). ReLU plateaus are shorter (a factor ~2 in alpha at eta = 0.1 ... 0.5, K = M = 2)
#: and tilted (local slope -0.15 ... -0.3 on the log-log curve), so the erf-calibrated rule
#: missed most of them (1 of 8 runs at N = 500, eta = 0.1 and 0.5); with these, 7 of 8.
ACTIVATION_RULES = {
    "relu": {"slope_max": 0.25, "band": 0.15, "min_factor": 1.8},
}


def rule_for(config: Mapping[str, str] | str | None = None,
             **overrides: Any) -> PlateauRule:
    """The detection rule for a campaign: per-activation defaults, then explicit overrides.

    Parameters
    ----------
    config : dict or str, optional
        The parsed ``config`` root attribute (or its text); its ``activation`` key selects
        :data:`ACTIVATION_RULES` (none: the plain :class:`PlateauRule` defaults).
    **overrides
        :class:`PlateauRule` fields (None values are ignored), e.g. from the command line.

    Returns
    -------
    PlateauRule
    """
    from .configs import parse_config

    if isinstance(config, str):
        config = parse_config(config)
    activation = (config or {}).get("activation", "")
    fields = dict(ACTIVATION_RULES.get(activation, {}))
    fields.update({k: v for k, v in overrides.items() if v is not None})
    return PlateauRule(**fields)


@dataclass
class Plateau:
    """The plateau of one curve (:func:`detect_plateau`).

    Attributes
    ----------
    found : bool
        Whether the curve has a plateau; if not, every other number is NaN.
    height : float
        Plateau eps_g (median over its flat core).
    start, end : float
        First and last record time (alpha) of the plateau.
    length : float
        ``end - start`` in alpha (examples / N).
    escape : float
        Escape time: alpha where eps_g first falls to ``escape_fraction`` * height after the
        plateau; NaN if it never does (then ``escaped`` is False).
    escaped : bool
        Whether the curve left the plateau before its last record.
    specialization_index : float
        Median specialization index over the plateau (NaN if not given).
    n_plateaus : int
        How many stretches passed the rule (the longest is reported).
    """

    found: bool = False
    height: float = math.nan
    start: float = math.nan
    end: float = math.nan
    length: float = math.nan
    escape: float = math.nan
    escaped: bool = False
    specialization_index: float = math.nan
    n_plateaus: int = 0


#: Field names of :class:`Plateau`, in table order.
PLATEAU_FIELDS = tuple(Plateau.__dataclass_fields__)


def local_slopes(u: np.ndarray, y: np.ndarray, window: float, min_points: int = 5):
    """Local least-squares slopes dy/du and their standard errors.

    At every point, a straight line is fitted to the points with |u' - u| <= ``window``
    (widened to at least ``min_points`` points, i.e. two neighbours either side, where the
    records are sparse).

    Parameters
    ----------
    u : numpy.ndarray
        Increasing abscissae (ln alpha).
    y : numpy.ndarray
        Ordinates (ln eps_g), same length.
    window : float
        Half-width of the fit window.
    min_points : int, default 5
        Fewest points in a window (fewer only if the curve is shorter).

    Returns
    -------
    slope, stderr, scatter : numpy.ndarray
        The fitted slopes, their standard errors and the RMS residual of y about each fitted
        line (both ~0 for a smooth curve; NaN for windows of fewer than 3 points).
    """
    n = u.size
    if n < 2:
        return np.full(n, np.nan), np.full(n, np.nan), np.full(n, np.nan)
    lo = np.searchsorted(u, u - window, side="left")
    hi = np.searchsorted(u, u + window, side="right")  # exclusive
    half = max(min_points // 2, 1)
    idx = np.arange(n)
    lo = np.minimum(lo, np.maximum(idx - half, 0))
    hi = np.maximum(hi, np.minimum(idx + half + 1, n))
    # Centre on the curve's mean for accuracy (the slope is shift-invariant).
    u = u - u.mean()
    y = y - y.mean()
    zero = np.zeros(1)

    def window_sum(x):
        c = np.concatenate([zero, np.cumsum(x)])
        return c[hi] - c[lo]

    m = (hi - lo).astype(float)
    su, sy = window_sum(u), window_sum(y)
    var = window_sum(u * u) - su * su / m
    cov = window_sum(u * y) - su * sy / m
    syy = window_sum(y * y) - sy * sy / m
    with np.errstate(invalid="ignore", divide="ignore"):
        slope = np.where(var > 0, cov / var, np.nan)
        sse = np.maximum(syy - slope * cov, 0.0)
        scatter = np.where(m > 2, np.sqrt(sse / (m - 2)), np.nan)
        stderr = np.where(var > 0, scatter / np.sqrt(var), np.nan)
    return slope, stderr, scatter


def running_median(y: np.ndarray, width: int) -> np.ndarray:
    """Running median of ``y`` over ``width`` consecutive points (centred; shorter at the ends).

    Parameters
    ----------
    y : numpy.ndarray
    width : int
        Odd window length; 1 returns ``y``.

    Returns
    -------
    numpy.ndarray
    """
    half = max(int(width), 1) // 2
    if half == 0 or y.size < 2:
        return y.copy()
    padded = np.concatenate([np.full(half, np.nan), y, np.full(half, np.nan)])
    windows = np.lib.stride_tricks.sliding_window_view(padded, 2 * half + 1)
    return np.nanmedian(windows, axis=1)



def _runs(mask: np.ndarray) -> list:
    """Maximal runs of True as inclusive (first, last) index pairs."""
    edges = np.diff(np.concatenate([[0], mask.astype(np.int8), [0]]))
    starts = np.flatnonzero(edges == 1)
    stops = np.flatnonzero(edges == -1) - 1
    return list(zip(starts.tolist(), stops.tolist()))


def log_crossing(a0: float, a1: float, e0: float, e1: float, level: float) -> float:
    """Where the straight line through (ln a0, ln e0) and (ln a1, ln e1) crosses ln ``level``
    (a0, a1, e0, e1 > 0; the crossing clipped to [a0, a1]; a1 for a flat segment): the time at
    which a falling curve between two records reaches ``level``, on the log-log scale of the
    rules.
    """
    y0, y1 = math.log(e0), math.log(e1)
    t = (y0 - math.log(level)) / (y0 - y1) if y0 != y1 else 1.0
    u0, u1 = math.log(a0), math.log(a1)
    return math.exp(u0 + min(max(t, 0.0), 1.0) * (u1 - u0))


def detect_plateau(alpha: ArrayLike, eg: ArrayLike, spec: ArrayLike | None = None,
                   rule: PlateauRule | None = None) -> Plateau:
    """Find the plateau of one eps_g(alpha) curve.

    The rule is described in the module documentation (:mod:`plateau_analysis.detection`).

    Parameters
    ----------
    alpha : array_like
        Record times (increasing; alpha = 0 allowed, it only counts as "before the plateau").
    eg : array_like
        eps_g at those times. NaN records (a diverged run's tail, a pending run) are dropped.
    spec : array_like, optional
        Specialization index at those times (:func:`~plateau_analysis.specialization_index`);
        needed to accept a plateau that is never left.
    rule : PlateauRule, optional
        Detection parameters (defaults: ``PlateauRule()``).

    Returns
    -------
    Plateau
    """
    rule = rule or PlateauRule()
    alpha = np.asarray(alpha, dtype=float)
    eg = np.asarray(eg, dtype=float)
    spec = np.full(alpha.shape, np.nan) if spec is None else np.asarray(spec, dtype=float)
    finite = np.isfinite(eg) & np.isfinite(alpha)
    if not finite.any():
        return Plateau()
    # Drop everything after the first missing record (divergence), keep alpha = 0 aside.
    last = np.flatnonzero(finite)[-1]
    alpha, eg, spec = alpha[: last + 1], eg[: last + 1], spec[: last + 1]
    keep = np.isfinite(eg)
    alpha, eg, spec = alpha[keep], eg[keep], spec[keep]
    positive = alpha > 0
    a, e, s = alpha[positive], eg[positive], spec[positive]
    if a.size < 4:
        return Plateau()
    floor = max(float(np.max(e)) * 1e-12, np.finfo(float).tiny)
    u = np.log(a)
    y = np.log(np.maximum(e, floor))
    # Smoothed curve (alpha = 0 records included): edges kept, single noisy records ignored.
    y_med_all = running_median(np.log(np.maximum(eg, floor)), rule.median_width)
    n_zero = int(np.count_nonzero(~positive))  # alpha = 0 records come first
    y_med = y_med_all[n_zero:]
    slopes, stderr, _ = local_slopes(u, y, rule.window)
    flat = np.abs(slopes) <= rule.slope_max + rule.noise_z * np.nan_to_num(stderr)
    log_band = math.log1p(rule.band)

    cores = _runs(flat)
    merged = []
    for core in cores:
        if merged:
            prev = merged[-1]
            gap = u[core[0]] - u[prev[1]]
            h_prev = np.median(y[prev[0]: prev[1] + 1])
            h_core = np.median(y[core[0]: core[1] + 1])
            if gap <= rule.merge_gap and abs(h_prev - h_core) <= log_band:
                merged[-1] = (prev[0], core[1])
                continue
        merged.append(core)

    def extend(core):
        h = float(np.median(y[core[0]: core[1] + 1]))
        # Grow from the core's record nearest to h through the records whose smoothed eps_g is
        # within the band, bridging excursions shorter than merge_gap that come back into it.
        seed = core[0] + int(np.argmin(np.abs(y_med[core[0]: core[1] + 1] - h)))
        reference = np.full(y.size, h)
        if rule.tilt:  # a tilted plateau: the band follows the core's own slope
            tilt = float(np.nanmedian(slopes[core[0]: core[1] + 1]))
            tilt = min(max(tilt, -rule.slope_max), rule.slope_max)
            reference = h + tilt * (u - u[seed])
        inside = np.abs(y_med - reference) <= log_band
        if not inside[seed]:
            return h, seed, seed
        for first, last in _runs(~inside):
            if 0 < first and last < y.size - 1 and u[last + 1] - u[first - 1] <= rule.merge_gap:
                inside[first: last + 1] = True
        lo = hi = seed
        while lo > 0 and inside[lo - 1]:
            lo -= 1
        while hi < y.size - 1 and inside[hi + 1]:
            hi += 1
        return h, lo, hi

    accepted = []
    for core in merged:
        h, lo, hi = extend(core)
        height = math.exp(h)
        if height <= 10 * floor:
            continue
        if a[hi] / a[lo] < rule.min_factor:
            continue
        earlier = y_med_all[: n_zero + lo]
        if earlier.size == 0 or np.max(earlier) < h + math.log(rule.drop_before):
            continue
        spec_med = float(np.nanmedian(s[lo: hi + 1])) if np.isfinite(s[lo: hi + 1]).any() \
            else math.nan
        level = rule.escape_fraction * height
        below = np.flatnonzero(e[hi + 1:] <= level)
        if below.size:
            k = hi + 1 + int(below[0])
            escape = log_crossing(a[k - 1], a[k], max(e[k - 1], floor), max(e[k], floor), level)
            escaped = True
        else:
            if not (spec_med <= rule.unspecialized_max):  # NaN: unknown -> rejected
                continue
            escape, escaped = math.nan, False
        accepted.append(Plateau(
            found=True, height=height, start=float(a[lo]), end=float(a[hi]),
            length=float(a[hi] - a[lo]), escape=escape, escaped=escaped,
            specialization_index=spec_med,
        ))
    if not accepted:
        return Plateau()
    # Longest first; stretches overlapping a longer accepted one are the same plateau.
    accepted.sort(key=lambda p: math.log(p.end / p.start), reverse=True)
    kept = []
    for p in accepted:
        if all(p.end < q.start or p.start > q.end for q in kept):
            kept.append(p)
    best = kept[0]
    best.n_plateaus = len(kept)
    return best


_ATTRS = {
    "found": {"long_name": "a plateau was found"},
    "height": {"long_name": "plateau height (generalization error)", "units": "1"},
    "start": {"long_name": "plateau start", "units": "1"},
    "end": {"long_name": "plateau end", "units": "1"},
    "length": {"long_name": "plateau length end - start", "units": "1"},
    "escape": {"long_name": "escape time: eps_g falls to escape_fraction * height",
               "units": "1"},
    "escaped": {"long_name": "the curve left the plateau"},
    "specialization_index": {"long_name": "median specialization index on the plateau",
                             "units": "1"},
    "n_plateaus": {"long_name": "stretches that passed the rule"},
}


def _to_dataset(results, dim, coords, rule) -> xr.Dataset:
    data = {}
    for name in PLATEAU_FIELDS:
        values = np.array([getattr(p, name) for p in results])
        data[name] = (dim, values, _ATTRS.get(name, {}))
    return xr.Dataset(data, coords=coords, attrs={f"rule_{k}": v for k, v in asdict(rule).items()})


def plateaus(ds: xr.Dataset, rule: PlateauRule | None = None) -> xr.Dataset:
    """Plateau of every run, or of every grid point's seed mean.

    Parameters
    ----------
    ds : xarray.Dataset
        Either a campaign group (dimension ``run``): one row per run, from its eps_g curve and
        its specialization index; or a :func:`~plateau_analysis.seed_average` result (dimension
        ``point``): one row per grid point, from ``eg_mean`` and ``specialization_index_mean``.
    rule : PlateauRule, optional
        Detection parameters; the rule is documented in :mod:`plateau_analysis.detection`.

    Returns
    -------
    xarray.Dataset
        Along ``run`` or ``point``: ``found``, ``height``, ``start``, ``end``, ``length``,
        ``escape``, ``escaped``, ``specialization_index``, ``n_plateaus`` (see :class:`Plateau`),
        with the coordinates of ``ds`` along that dimension (``run_index``, ``seed``, ``eta``,
        ``N``, ...). ``to_dataframe()`` gives a pandas table where pandas is installed;
        :func:`~plateau_analysis.tables.write_csv` writes CSV without it. The rule is in the
        attributes (``rule_*``).
    """
    rule = rule or PlateauRule()
    alpha = ds["alpha"].values
    if "run" in ds.dims:
        eg = ds["eg"].values
        spec = specialization_index(ds).values
        dim = "run"
    elif "point" in ds.dims:
        eg = ds["eg_mean"].values
        spec = ds["specialization_index_mean"].values
        dim = "point"
    else:
        raise ValueError("plateaus() takes a campaign group (dimension 'run') or a "
                         "seed_average() result (dimension 'point')")
    outcome = run_outcomes(ds).values if dim == "run" else None
    # A failed run (analysis/SCHEMA.md, "Outcomes") has no plateau: its flat stretch is a stall
    # (eps_g stuck while the weights grow), not a plateau it might escape.
    results = [Plateau() if outcome is not None and outcome[i] == OUTCOME_FAILED
               else detect_plateau(alpha, eg[i], spec[i], rule) for i in range(eg.shape[0])]
    coords = {name: c for name, c in ds.coords.items() if c.dims == (dim,)}
    out = _to_dataset(results, dim, coords, rule)
    if dim == "run":
        out["status"] = ds["status"]
        out["outcome"] = ("run", np.array(outcome_names(outcome)),
                          {"long_name": "run outcome (analysis/SCHEMA.md, Outcomes)"})
    return out


def _without_failed(ds, outcome):
    """``ds`` with its failed runs marked pending: left out of a seed average's statistics."""
    failed = outcome == OUTCOME_FAILED
    if not failed.any():
        return ds
    out = ds.copy()
    status = np.asarray(ds["status"].values).copy()
    status[failed] = PENDING
    out["status"] = ("run", status, dict(ds["status"].attrs))
    return out


def _mean_sem(values: np.ndarray):
    values = values[np.isfinite(values)]
    if values.size == 0:
        return math.nan, math.nan
    if values.size == 1:
        return float(values[0]), math.nan
    return float(values.mean()), float(values.std(ddof=1) / math.sqrt(values.size))


def plateau_summary(ds: xr.Dataset, rule: PlateauRule | None = None, *,
                    averaged: xr.Dataset | None = None, margin: float | None = None) -> xr.Dataset:
    """One row per grid point: the plateau of the seed mean and statistics of the runs' plateaus.

    Parameters
    ----------
    ds : xarray.Dataset
        One group of a campaign file.
    rule : PlateauRule, optional
        Detection parameters.
    averaged : xarray.Dataset, optional
        ``seed_average(ds)`` if already computed.
    margin : float, optional
        Margin of :func:`~plateau_analysis.specialization` (its default if None).

    Returns
    -------
    xarray.Dataset
        Along ``point`` (with the swept coordinates):

        - ``n_runs``, ``n_completed``, ``n_diverged``, ``n_pending``;
        - ``found``, ``height``, ``start``, ``end``, ``length``, ``escape``, ``escaped``: the
          plateau of the seed-mean curve (:func:`plateaus` of :func:`seed_average`);
        - ``runs_found``, ``runs_escaped``: completed runs with a plateau / that escaped it;
        - ``height_runs_mean``, ``height_runs_sem``: mean and standard error over runs with a
          plateau of their heights; ``escape_runs_mean``, ``escape_runs_sem``: the same for the
          escape times of the runs that escaped (runs still on the plateau are not in it: see
          ``runs_escaped``); ``length_runs_mean``;
        - ``runs_specialized``, ``specialization_time_mean``: completed runs specialized at the
          end (:func:`~plateau_analysis.specialization`) and the mean time when they became so;
        - ``n_learned``, ``n_plateau``, ``n_failed`` and ``outcomes`` (text, "learned 6,
          failed 2 of 8"): the runs' outcomes (:func:`~plateau_analysis.run_outcomes`,
          analysis/SCHEMA.md "Outcomes"). A failed run has no plateau (``plateaus`` reports
          none), and the seed-mean plateau is that of the runs that did not fail.
    """
    rule = rule or PlateauRule()
    averaged = seed_average(ds) if averaged is None else averaged
    outcome = run_outcomes(ds).values
    # The seed-mean plateau of the runs that did not fail: a point whose runs all failed has
    # none (its flat eps_g is a stall, analysis/SCHEMA.md, "Outcomes").
    learning = averaged if not (outcome == OUTCOME_FAILED).any() else seed_average(
        _without_failed(ds, outcome))
    mean_curve = plateaus(learning, rule)
    per_run = plateaus(ds, rule)
    spec = specialization(ds) if margin is None else specialization(ds, margin)
    point_of_run = grid_point_index(ds)
    completed = ds["status"].values == COMPLETED
    rows = {k: [] for k in ("runs_found", "runs_escaped", "height_runs_mean", "height_runs_sem",
                            "escape_runs_mean", "escape_runs_sem", "length_runs_mean",
                            "runs_specialized", "specialization_time_mean", "n_learned",
                            "n_plateau", "n_failed", "outcomes")}
    for p in averaged["point"].values:
        runs_of_point = point_of_run == p
        rows["n_learned"].append(int(np.count_nonzero(outcome[runs_of_point] == OUTCOME_LEARNED)))
        rows["n_plateau"].append(int(np.count_nonzero(outcome[runs_of_point] == OUTCOME_PLATEAU)))
        rows["n_failed"].append(int(np.count_nonzero(outcome[runs_of_point] == OUTCOME_FAILED)))
        rows["outcomes"].append(outcome_text(outcome[runs_of_point]))
        sel = runs_of_point & completed
        found = per_run["found"].values[sel]
        escaped = per_run["escaped"].values[sel] & found
        rows["runs_found"].append(int(found.sum()))
        rows["runs_escaped"].append(int(escaped.sum()))
        h = _mean_sem(per_run["height"].values[sel][found])
        esc = _mean_sem(per_run["escape"].values[sel][escaped])
        rows["height_runs_mean"].append(h[0])
        rows["height_runs_sem"].append(h[1])
        rows["escape_runs_mean"].append(esc[0])
        rows["escape_runs_sem"].append(esc[1])
        rows["length_runs_mean"].append(_mean_sem(per_run["length"].values[sel][found])[0])
        specialized = spec["run_specialized"].values[sel]
        rows["runs_specialized"].append(int(specialized.sum()))
        rows["specialization_time_mean"].append(
            _mean_sem(spec["time_all"].values[sel][specialized])[0])
    out = averaged[["n_runs", "n_completed", "n_diverged", "n_pending"]].drop_vars(
        ["alpha", "quantile"], errors="ignore")
    for name in ("found", "height", "start", "end", "length", "escape", "escaped"):
        out[name] = mean_curve[name]
    for name, values in rows.items():
        out[name] = ("point", np.asarray(values))
    out.attrs = dict(mean_curve.attrs)
    for key in ("group", "kind", "K", "M", "seeds"):
        if key in ds.attrs:
            out.attrs[key] = ds.attrs[key]
    return out
