"""What a theory file predicts at each grid point, and how the report draws it.

Since schema 1.5 a theory file (``plateau ode``) holds, per run, its grid point's plateau height
``plateau_eg`` (eps_g at the symmetric fixed point), escape rate ``escape_rate`` (lambda) and
predicted mean escape time ``escape_predicted`` at the run's N (analysis/SCHEMA.md,
docs/theory.md §11). They are NaN where the engine found no fixed point or no prediction, and
absent from older files: then nothing is drawn.

- :func:`with_predictions` puts them on a theory group's :func:`~plateau_analysis.seed_average`
  (one value per grid point);
- :func:`draw_plateau_height` draws the height as a horizontal line on an eps_g figure;
- :func:`draw_escape_prediction` draws, on the escape-vs-ln N figure, the predicted points and
  the line of slope 1/(2 lambda) in ln N that the theory gives (the escape time grows like
  ln(N)/(2 lambda): the initial asymmetry is O(1/sqrt(N)) and grows like e^(lambda alpha)).
"""

from __future__ import annotations

import math

import numpy as np

from .campaign import grid_point_index

#: The per-run variables of a theory file that hold a grid point's predictions.
PREDICTIONS = ("plateau_eg", "escape_rate", "escape_predicted", "escape_predicted_sd",
               "escape_predicted_q10", "escape_predicted_q50", "escape_predicted_q90")

#: The law's quantiles at the levels ``escape_level`` = 0.01 ... 0.99 (schema 1.13).
LAW = "escape_predicted_law"
#: The predicted density on the escape-time histograms, and the mean ± SD band.
DENSITY_STYLE = {"lw": 1.5, "ls": (0, (4, 1.5))}
BAND_STYLE = {"color": "tab:green", "alpha": 0.15, "lw": 0}

#: How the lines and points of the predictions look, on every figure.
HEIGHT_STYLE = {"lw": 1.1, "ls": (0, (6, 2, 1, 2)), "alpha": 0.9}
PREDICTED_STYLE = {"marker": "D", "ms": 7, "mfc": "none", "mew": 1.6, "ls": "",
                   "color": "tab:green"}
SLOPE_STYLE = {"color": "tab:green", "lw": 1.3, "ls": "--"}


def with_predictions(theory_avg, theory_ds):
    """``theory_avg`` with the variables of :data:`PREDICTIONS` the file has, over ``point``.

    Parameters
    ----------
    theory_avg : xarray.Dataset
        ``seed_average(theory_ds)`` (dimension ``point``, coordinate ``point``: the global
        grid-point index).
    theory_ds : xarray.Dataset
        The theory group (:func:`~plateau_analysis.open_campaign`).

    Returns
    -------
    xarray.Dataset
        A copy with ``plateau_eg``, ``escape_rate``, ``escape_predicted`` (point) where the file
        has them (the first finite value of the point's runs: they share it; NaN if none).
    """
    present = [n for n in PREDICTIONS if n in theory_ds.variables and
               theory_ds[n].dims == ("run",)]
    law = LAW in theory_ds.variables and theory_ds[LAW].dims == ("run", "escape_level")
    if not present and not law:
        return theory_avg
    index = grid_point_index(theory_ds)
    points = np.asarray(theory_avg["point"].values)
    out = theory_avg.copy()
    for name in present:
        values = np.asarray(theory_ds[name].values, dtype=float)
        per_point = np.full(points.size, math.nan)
        for k, p in enumerate(points):
            mine = values[index == p]
            finite = mine[np.isfinite(mine)]
            if finite.size:
                per_point[k] = finite[0]
        out[name] = ("point", per_point)
    if law:  # schema 1.13: the law's 99 quantiles, the first run of the point that has them
        values = np.asarray(theory_ds[LAW].values, dtype=float)
        per_point = np.full((points.size, values.shape[1]), math.nan)
        for k, p in enumerate(points):
            mine = values[index == p]
            rows = mine[np.isfinite(mine).all(axis=1)]
            if rows.size:
                per_point[k] = rows[0]
        out = out.assign_coords(escape_level=np.asarray(theory_ds["escape_level"].values))
        out[LAW] = (("point", "escape_level"), per_point)
    return out


def prediction(theory_avg, name: str, t: int) -> float:
    """Prediction ``name`` of theory point ``t`` (a position along ``point``); NaN if the file
    has none there (or ``t`` < 0: no matching theory point)."""
    if theory_avg is None or t < 0 or name not in theory_avg.variables:
        return math.nan
    return float(theory_avg[name].values[t])


def draw_plateau_height(ax, theory_avg, t: int, color) -> bool:
    """Draw the plateau height of theory point ``t`` (``plateau_eg``) as a horizontal line.

    Returns
    -------
    bool
        Whether a line was drawn (the file has a finite height there).
    """
    height = prediction(theory_avg, "plateau_eg", t)
    if not (math.isfinite(height) and height > 0):
        return False
    ax.axhline(height, color=color, **HEIGHT_STYLE)
    return True


def plateau_height_handle():
    """The legend entry of :func:`draw_plateau_height`'s lines."""
    from matplotlib.lines import Line2D

    return Line2D([], [], color="0.3", label="plateau height: ε_g at the symmetric fixed point "
                                             "(theory file)", **HEIGHT_STYLE)


def draw_escape_prediction(ax, summary, theory_avg, matches) -> int:
    """Draw the theory's escape prediction on an escape-time-vs-ln N axes.

    For each grid point of ``summary`` whose matched theory point has the same ``N`` (the
    prediction depends on N), the predicted mean escape time (open diamond); and the line of
    slope 1/(2 lambda) in ln N (lambda = ``escape_rate``, the same for every N of one flow),
    through the predicted points when there are any, else through the measured means (then it
    shows the slope only).

    Parameters
    ----------
    ax : matplotlib.axes.Axes
        Axes whose x is ln N and y the escape time.
    summary : xarray.Dataset
        ``plateau_summary`` of the simulations (``N``, ``escape_runs_mean`` over ``point``).
    theory_avg : xarray.Dataset or None
        :func:`with_predictions` of the theory's seed average.
    matches : numpy.ndarray or None
        :func:`~plateau_analysis.report.match_theory` of the simulations and the theory.

    Returns
    -------
    int
        The number of predicted points drawn.
    """
    if theory_avg is None or matches is None:
        return 0
    n_sim = np.asarray(summary["N"].values, dtype=float)
    x = np.log(n_sim)
    predicted = np.full(x.size, math.nan)
    sd = np.full(x.size, math.nan)  # the law's standard deviation (schema 1.9)
    q10 = np.full(x.size, math.nan)  # the law's 10 and 90 % quantiles (schema 1.9)
    q90 = np.full(x.size, math.nan)
    rates = []
    for i, t in enumerate(np.asarray(matches, dtype=int)):
        if t < 0:
            continue
        rate = prediction(theory_avg, "escape_rate", t)
        if math.isfinite(rate) and rate > 0:
            rates.append(rate)
        if "N" in theory_avg.coords and float(theory_avg["N"].values[t]) == n_sim[i]:
            predicted[i] = prediction(theory_avg, "escape_predicted", t)
            sd[i] = prediction(theory_avg, "escape_predicted_sd", t)
            if "escape_predicted_q10" in theory_avg:
                q10[i] = prediction(theory_avg, "escape_predicted_q10", t)
                q90[i] = prediction(theory_avg, "escape_predicted_q90", t)
    shown = np.isfinite(predicted)
    if shown.any():
        ax.plot(x[shown], predicted[shown], label="theory: predicted mean escape (theory file)",
                **PREDICTED_STYLE)
    band = shown & np.isfinite(sd)
    if band.any():
        order = np.argsort(x[band])
        bx, by, bs = x[band][order], predicted[band][order], sd[band][order]
        label = "theory: predicted mean ± SD of one run's escape time (its spread, not an error)"
        if bx.size > 1:
            ax.fill_between(bx, by - bs, by + bs, label=label, **BAND_STYLE)
        else:  # one N: the band is a bar
            ax.vlines(bx, by - bs, by + bs, color=BAND_STYLE["color"], lw=8,
                      alpha=BAND_STYLE["alpha"], label=label)
    spread = np.isfinite(q10) & np.isfinite(q90)
    if spread.any():
        ax.vlines(x[spread], q10[spread], q90[spread], color=PREDICTED_STYLE["color"], lw=2.5,
                  alpha=0.45, label="theory: 10–90 % of the predicted escape times")
    if not rates:
        return int(shown.sum())
    rate = float(np.median(rates))
    slope = 1.0 / (2.0 * rate)
    if shown.any():
        anchor_x, anchor_y, through = x[shown], predicted[shown], "predicted points"
    else:
        measured = np.asarray(summary["escape_runs_mean"].values, dtype=float)
        ok = np.isfinite(measured)
        if not ok.any():
            return 0
        anchor_x, anchor_y, through = x[ok], measured[ok], "measured means"
    intercept = float(np.mean(anchor_y - slope * anchor_x))
    xs = np.linspace(x.min(), x.max(), 50) if x.size > 1 else x
    ax.plot(xs, intercept + slope * xs,
            label=f"theory: slope 1/(2λ) = {slope:.3g} (λ = {rate:.3g}), through the {through}",
            **SLOPE_STYLE)
    return int(shown.sum())


def draw_escape_law(ax, theory_avg, t: int, n_sim: float, color) -> bool:
    """Draw the predicted law of the escape time of theory point ``t`` (schema 1.9,
    docs/theory.md §11.2b) on an escape-time histogram: its median (dashed line) and 10-90 %
    range (a light band), where the theory point has them at the simulation's ``N``.

    Returns
    -------
    bool
        Whether anything was drawn.
    """
    if theory_avg is None or t < 0:
        return False
    if "N" in theory_avg.coords and float(theory_avg["N"].values[t]) != float(n_sim):
        return False  # predicted at another N
    q10, q50, q90 = (prediction(theory_avg, f"escape_predicted_q{q}", t) for q in (10, 50, 90))
    if not all(math.isfinite(q) for q in (q10, q50, q90)):
        return False
    ax.axvspan(q10, q90, color=color, alpha=0.12, lw=0)
    ax.axvline(q50, color=color, lw=1.4, ls="--")
    return True


def law_of(theory_avg, t: int, n_sim: float):
    """The predicted law of theory point ``t`` at the simulation's ``N`` (schema 1.13): its
    levels q = 0.01 ... 0.99 and quantiles α_q (two arrays), or None where the file has none
    there (an older file, no prediction, or a theory point at another N)."""
    if theory_avg is None or t < 0 or LAW not in theory_avg.variables:
        return None
    if "N" in theory_avg.coords and float(theory_avg["N"].values[t]) != float(n_sim):
        return None  # predicted at another N
    quantiles = np.asarray(theory_avg[LAW].values[t], dtype=float)
    if not np.isfinite(quantiles).all():
        return None
    return np.asarray(theory_avg["escape_level"].values, dtype=float), quantiles


def law_cdf(levels, quantiles, a):
    """The law's distribution function F(a) = P(α_esc ≤ a) from its quantiles (F(α_q) = q,
    linear between them); NaN outside [α_0.01, α_0.99], where the file does not resolve it."""
    a = np.asarray(a, dtype=float)
    inside = (a >= quantiles[0]) & (a <= quantiles[-1])
    return np.where(inside, np.interp(a, quantiles, levels), math.nan)


def predicted_bin_counts(levels, quantiles, lo, hi, runs: float):
    """The predicted number of ``runs`` runs whose escape time falls in [lo, hi]:
    runs × (F(hi) − F(lo)) (:func:`law_cdf`; NaN where an end lies outside the resolved law)."""
    return runs * (law_cdf(levels, quantiles, hi) - law_cdf(levels, quantiles, lo))


def draw_escape_density(ax, theory_avg, t: int, n_sim: float, runs: float, ratio: float,
                        color) -> bool:
    """Draw the predicted density of the escape time of theory point ``t`` (schema 1.13,
    docs/theory.md §11.2b) on a histogram of geometric bins of edge ratio ``ratio`` (a log α
    axis), normalised as the histogram is: at each α the predicted number of the ``runs`` runs
    in a bin of the histogram's width centred (geometrically) at α, runs × (F(α√ratio) −
    F(α/√ratio)) (:func:`predicted_bin_counts`), which at the histogram's bin centres is the
    expected height of each bar. Drawn where the bin lies inside the law's 1-99 % range.

    Returns
    -------
    bool
        Whether a curve was drawn.
    """
    law = law_of(theory_avg, t, n_sim)
    if law is None or not (ratio > 1.0 and runs > 0):
        return False
    levels, quantiles = law
    half = math.sqrt(ratio)
    lo, hi = quantiles[0] * half, quantiles[-1] / half
    if not (0 < lo < hi):
        return False  # bins wider than the resolved law
    centres = np.geomspace(lo, hi, 200)
    counts = predicted_bin_counts(levels, quantiles, centres / half, centres * half, runs)
    ax.plot(centres, counts, color=color, **DENSITY_STYLE)
    return True
