"""What became of each run: learned, plateau, failed, diverged, and for a search-phase model
searching or escaped (analysis/SCHEMA.md, "Outcomes").

The Python twin of the engine's rule (``assess_outcome``, engine/run/outcome.hpp), with the same
thresholds under the same names in upper case. Files of schema 1.1 and later store the engine's
verdict in the per-run variable ``outcome``; :func:`run_outcomes` reads it, and computes it by
this rule for older files. ``tests/python/test_outcomes.py`` checks that the two agree.

``status`` says whether a run reached ``alpha-max``; the outcome says whether it learned: an erf
student at eta = 4 completes (bounded units never overflow) with eps_g stuck near 0.24 while its
weights grow without bound -- ``failed``, not a plateau that was "not escaped".
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike
import xarray as xr

from .campaign import COMPLETED, DIVERGED, PENDING
from .overlaps import classify_units

#: Outcome names in flag-value order (the ``flag_meanings`` of ``outcome``; RunOutcome in
#: engine/run/outcome.hpp).
OUTCOMES = ("pending", "learned", "plateau", "failed", "diverged", "searching", "escaped")
(OUTCOME_PENDING, OUTCOME_LEARNED, OUTCOME_PLATEAU, OUTCOME_FAILED, OUTCOME_DIVERGED,
 OUTCOME_SEARCHING, OUTCOME_ESCAPED) = range(7)

#: The thresholds of the rule (OutcomeThresholds in engine/run/outcome.hpp; analysis/SCHEMA.md).
WINDOW_FACTOR = 10.0      # the trend is measured over the last decade of alpha
LEARNED_FRACTION = 0.01   # learned: eps_g (late) <= 1 % of eps_g at the first record
STATIONARY_RATIO = 0.8    # K < M: eps_g (late) >= 0.8 eps_g (early) is its asymptote
GROWTH = 1.5              # failed: sum Q_jj (late) >= 1.5 sum Q_jj (early) ...
EXCESS = 10.0             # ... and >= 10 sum T_nn ...
SLOW_RATIO = 0.1          # ... while eps_g (late) > 0.1 eps_g (early)
SEARCH_FRACTION = 0.99    # searching (search-phase model): eps_g (late) > 0.99 eps_g(0)
CAPTURED_FRACTION = 0.5   # learned (search-phase model): |P B_n|^2 / |B_n|^2 >= 0.5 for all n

#: Activations without a linear part (<g(u) u> = 0, u ~ N(0, 1)): a committee of them is a
#: search-phase model (``lacks_linear_part`` in engine/run/outcome.cpp).
_POLYNOMIALS = {"linear": (0.0, 1.0), "identity": (0.0, 1.0), "square": (0.0, 0.0, 1.0),
                "he1": (0.0, 1.0), "he2": (-1 / np.sqrt(2), 0.0, 1 / np.sqrt(2)),
                "he3": (0.0, -3 / np.sqrt(6), 0.0, 1 / np.sqrt(6)),
                "he4": (3 / np.sqrt(24), 0.0, -6 / np.sqrt(24), 0.0, 1 / np.sqrt(24))}


def lacks_linear_part(activation: str) -> bool:
    """Whether <g(u) u> = 0 for u ~ N(0, 1): for a polynomial g (``square``, ``he1`` ...
    ``he4``, ``poly:C0:C1:...``) sum over odd k of C_k k!! vanishes (to 1e-12 of its terms);
    every other activation is monotone increasing (<g u> = <g'> > 0). The twin of the engine's
    ``lacks_linear_part`` (engine/run/outcome.cpp)."""
    name = activation.strip().lower()
    if name.startswith("poly:"):
        coefficients = [float(c) for c in name.split(":")[1:]]
    elif name in _POLYNOMIALS:
        coefficients = list(_POLYNOMIALS[name])
    else:
        return False
    total = scale = 0.0
    double_factorial = 1.0
    for k in range(1, len(coefficients), 2):
        total += coefficients[k] * double_factorial
        scale += abs(coefficients[k]) * double_factorial
        double_factorial *= k + 2
    return abs(total) <= 1e-12 * scale


def search_phase(ds: xr.Dataset) -> np.ndarray:
    """Per run (shape (run,)): whether its model is a search-phase model (analysis/SCHEMA.md,
    "Outcomes"; ``OutcomeModel`` in engine/run/outcome.hpp): a polynomial ``target``, or a
    committee whose ``teacher-activation`` has no linear part (:func:`lacks_linear_part`)."""
    from .overlaps import _run_values

    target = _run_values(ds, "target", "target", "committee")
    teacher = _run_values(ds, "teacher_activation", "teacher-activation", "erf")
    return np.array([t.strip() != "committee" or lacks_linear_part(g)
                     for t, g in zip(target, teacher)], dtype=bool)


def _mean(values) -> float:
    """Mean in index order (the engine's loop: the same sum, bit for bit)."""
    total = 0.0
    for x in values:
        total += float(x)
    return total / len(values)


def _window(alpha: ArrayLike, eg: np.ndarray) -> tuple[int, int, int] | None:
    """The rule's window (analysis/SCHEMA.md, "Outcomes"; engine/run/outcome.cpp): ``(n, first,
    quarter)`` with n the records up to the first missing eps_g, ``first`` the first record of
    the last factor WINDOW_FACTOR in alpha (at least the last two records) and ``quarter`` the
    records in its first and last quarter (at least one); None for fewer than two records."""
    alpha = np.asarray(alpha, dtype=float)
    missing = np.flatnonzero(~np.isfinite(eg))
    n = min(int(missing[0]) if missing.size else eg.size, alpha.size)
    if n < 2:
        return None
    start = alpha[n - 1] / WINDOW_FACTOR
    first = 0
    while first < n - 2 and alpha[first] < start:
        first += 1
    return n, first, max(1, (n - first) // 4)


def _every_direction_captured(Q: np.ndarray, R: np.ndarray, T: np.ndarray) -> bool:
    """Every teacher direction B_n captured by the students' span: R_n^T Q^+ R_n / T_nn >=
    CAPTURED_FRACTION (Q^+ dropping eigenvalues below 1e-10 of the largest; the engine's
    ``every_direction_captured``)."""
    if not (np.isfinite(Q).all() and np.isfinite(R).all() and np.isfinite(T).all()) or not R.size:
        return False
    lam, U = np.linalg.eigh(Q)
    cut = 1e-10 * np.abs(lam).max()
    inverse = np.where(lam > cut, 1.0 / np.where(lam > cut, lam, 1.0), 0.0)
    projected = U.T @ R
    with np.errstate(invalid="ignore", divide="ignore"):
        captured = (projected ** 2 * inverse[:, None]).sum(axis=0) / np.diagonal(T)
    return bool((captured >= CAPTURED_FRACTION).all())


def assess_outcome(status: int, alpha: ArrayLike, eg: ArrayLike, Q: ArrayLike, R: ArrayLike,
                   T: ArrayLike, *, search: bool = False) -> int:
    """The outcome of one run (analysis/SCHEMA.md, "Outcomes").

    Parameters
    ----------
    status : int
        The run's ``status`` (0 pending, 1 completed, 2 diverged).
    alpha : array_like, shape (records,)
        Record times.
    eg : array_like, shape (records,)
        eps_g; the records used are the leading ones with a finite value (a completed run has
        them all).
    Q : array_like, shape (records, K, K)
    R : array_like, shape (records, K, M)
    T : array_like, shape (M, M)
    search : bool
        A search-phase model (:func:`search_phase`): the words searching and escaped instead of
        plateau.

    Returns
    -------
    int
        An index into :data:`OUTCOMES`.
    """
    if int(status) == PENDING:
        return OUTCOME_PENDING
    if int(status) == DIVERGED:
        return OUTCOME_DIVERGED
    if int(status) != COMPLETED:
        raise ValueError(f"status {status} is not a flag value (0, 1, 2)")
    eg = np.asarray(eg, dtype=float)
    window = _window(alpha, eg)
    if window is None:
        return OUTCOME_PLATEAU
    n, first, quarter = window
    Q = np.asarray(Q, dtype=float)
    R = np.asarray(R, dtype=float)
    T = np.asarray(T, dtype=float)
    norms = [float(np.trace(Q[i])) for i in range(n)]
    eg_start = float(eg[0])
    eg_early = _mean(eg[first:first + quarter])
    eg_late = _mean(eg[n - quarter:n])
    q_early = _mean(norms[first:first + quarter])
    q_late = _mean(norms[n - quarter:n])
    teacher_norm = float(np.trace(T))
    no_progress = eg_start / SEARCH_FRACTION if search else eg_start
    if eg_late >= no_progress and eg_late > 0.0:
        return OUTCOME_FAILED
    if q_late >= GROWTH * q_early and q_late >= EXCESS * teacher_norm \
            and eg_late > SLOW_RATIO * eg_early:
        return OUTCOME_FAILED
    if eg_late <= LEARNED_FRACTION * eg_start:
        return OUTCOME_LEARNED
    K, M = R.shape[-2:]
    if search:
        if eg_late > SEARCH_FRACTION * eg_start:
            return OUTCOME_SEARCHING
        if eg_late >= STATIONARY_RATIO * eg_early and (
                _every_direction_captured(Q[n - 1], R[n - 1], T) or K < M):
            return OUTCOME_LEARNED
        return OUTCOME_ESCAPED
    if bool(classify_units(Q[n - 1], R[n - 1], T)["specialized"]):
        return OUTCOME_LEARNED
    if K < M and eg_late >= STATIONARY_RATIO * eg_early:
        return OUTCOME_LEARNED
    return OUTCOME_PLATEAU


def computed_outcomes(ds: xr.Dataset) -> np.ndarray:
    """The rule applied to every run of a campaign group (int8 codes, shape (run,)), with each
    run's model (:func:`search_phase`)."""
    status = np.asarray(ds["status"].values)
    alpha = ds["alpha"].values
    eg, Q, R, T = (ds[name].values for name in ("eg", "Q", "R", "T"))
    search = search_phase(ds)
    return np.array([assess_outcome(status[r], alpha, eg[r], Q[r], R[r], T[r],
                                    search=bool(search[r]))
                     for r in range(status.size)], dtype=np.int8)


def run_outcomes(ds: xr.Dataset, *, recompute: bool = False) -> xr.DataArray:
    """The outcome of every run: stored (schema 1.1 and later) or computed by the same rule.

    Parameters
    ----------
    ds : xarray.Dataset
        One group of a campaign file.
    recompute : bool
        Apply the Python rule even where the file stores the engine's verdict.

    Returns
    -------
    xarray.DataArray of int8, dimension ``run``
        Codes into :data:`OUTCOMES`; attribute ``source`` is ``"file"`` or ``"computed"``.
    """
    if "outcome" in ds.variables and not recompute:
        codes = np.asarray(ds["outcome"].values).astype(np.int8)
        source = "file"
    else:
        codes = computed_outcomes(ds)
        source = "computed"
    coords = {n: c for n, c in ds.coords.items() if c.dims == ("run",)}
    return xr.DataArray(codes, dims=("run",), coords=coords, name="outcome",
                        attrs={"flag_values": np.arange(len(OUTCOMES), dtype=np.int8),
                               "flag_meanings": " ".join(OUTCOMES), "source": source})


def outcome_names(codes: ArrayLike) -> list[str]:
    """The names of outcome codes."""
    return [OUTCOMES[int(c)] for c in np.asarray(codes).ravel()]


def count_outcomes(codes: ArrayLike) -> dict[str, int]:
    """``{name: count}`` of the codes, for every outcome (zeros included), in flag order."""
    codes = np.asarray(codes).ravel()
    return {name: int(np.count_nonzero(codes == k)) for k, name in enumerate(OUTCOMES)}


def outcome_text(codes: ArrayLike) -> str:
    """``"learned 6, plateau 1, failed 1 of 8"``: the non-zero counts (the engine's summary)."""
    counts = count_outcomes(codes)
    parts = [f"{name} {n}" for name, n in counts.items() if n]
    return f"{', '.join(parts) or 'none'} of {sum(counts.values())}"


# Runs on a finite training set (``train-set`` / ``alpha-train``) have their own words: their
# eps_g may stop at a nonzero value (the best the set allows) or rise again after a minimum
# (over-fitting), neither of which is a plateau or a failure (analysis/SCHEMA.md, "Outcomes on a
# finite training set").

#: Words for the runs of a finite training set, in the order of their codes.
FINITE_SET_OUTCOMES = ("pending", "learned", "converged", "over-fitted", "not converged",
                       "failed", "diverged")
(FINITE_PENDING, FINITE_LEARNED, FINITE_CONVERGED, FINITE_OVERFITTED, FINITE_NOT_CONVERGED,
 FINITE_FAILED, FINITE_DIVERGED) = range(len(FINITE_SET_OUTCOMES))
#: Over-fitted: eps_g at the end (the late mean of the rule's window) >= this x its minimum.
OVERFIT_RISE = 1.1


def finite_set_outcome(outcome: int, alpha: ArrayLike, eg: ArrayLike) -> int:
    """The outcome of a run on a finite training set, in :data:`FINITE_SET_OUTCOMES`.

    From the run's outcome by the rule (:func:`assess_outcome`, stored or computed) and its
    eps_g, with the rule's window (the last decade of alpha; ε_late and ε_early the means over
    its last and first quarter):

    - pending, diverged: as the rule says;
    - **learned**: the rule's learned (ε_g down to 1 % of its start, or specialized);
    - **over-fitted**: ε_late >= ``OVERFIT_RISE`` x the smallest ε_g of the run (ε_g rose again
      after its minimum: early stopping would have done better);
    - **failed**: the rule's failed, without such a minimum (ε_g never fell);
    - **converged**: ε_late >= ``STATIONARY_RATIO`` x ε_early: ε_g settled at a nonzero value
      (the best this training set allows, or where its gradient vanishes);
    - **not converged**: ε_g still falling at the end.

    Parameters
    ----------
    outcome : int
        An index into :data:`OUTCOMES`.
    alpha, eg : array_like, shape (records,)

    Returns
    -------
    int
        An index into :data:`FINITE_SET_OUTCOMES`.
    """
    outcome = int(outcome)
    if outcome == OUTCOME_PENDING:
        return FINITE_PENDING
    if outcome == OUTCOME_DIVERGED:
        return FINITE_DIVERGED
    if outcome == OUTCOME_LEARNED:
        return FINITE_LEARNED
    eg = np.asarray(eg, dtype=float)
    window = _window(alpha, eg)
    if window is None:
        return FINITE_NOT_CONVERGED
    n, first, quarter = window
    eg_early = _mean(eg[first:first + quarter])
    eg_late = _mean(eg[n - quarter:n])
    lowest = float(np.min(eg[:n]))
    if eg_late >= OVERFIT_RISE * lowest and lowest < eg[0]:
        return FINITE_OVERFITTED
    if outcome == OUTCOME_FAILED:
        return FINITE_FAILED
    if eg_late >= STATIONARY_RATIO * eg_early:
        return FINITE_CONVERGED
    return FINITE_NOT_CONVERGED


def has_training_set(ds: xr.Dataset) -> np.ndarray:
    """Per run (shape (run,)): whether it trained on a finite training set (``eps_train`` finite
    somewhere; NaN in every run on fresh examples)."""
    if "eps_train" not in ds:
        return np.zeros(ds.sizes["run"], dtype=bool)
    return np.isfinite(np.asarray(ds["eps_train"].values, dtype=float)).any(axis=1)


def finite_set_outcomes(ds: xr.Dataset) -> xr.DataArray:
    """:func:`finite_set_outcome` of every run of a group (codes into
    :data:`FINITE_SET_OUTCOMES`; -1 for a run without a training set)."""
    codes = run_outcomes(ds).values
    alpha = ds["alpha"].values
    eg = np.asarray(ds["eg"].values, dtype=float)
    finite = has_training_set(ds)
    out = np.array([finite_set_outcome(codes[r], alpha, eg[r]) if finite[r] else -1
                    for r in range(codes.size)], dtype=np.int8)
    coords = {n: c for n, c in ds.coords.items() if c.dims == ("run",)}
    return xr.DataArray(out, dims=("run",), coords=coords, name="finite_set_outcome",
                        attrs={"flag_meanings": " ".join(w.replace(" ", "_")
                                                         for w in FINITE_SET_OUTCOMES)})


def finite_set_text(codes: ArrayLike) -> str:
    """``"over-fitted 3, converged 1 of 4"``: the non-zero counts of finite-set outcome codes."""
    codes = np.asarray(codes).ravel()
    parts = [f"{name} {int(np.count_nonzero(codes == k))}"
             for k, name in enumerate(FINITE_SET_OUTCOMES) if np.count_nonzero(codes == k)]
    return f"{', '.join(parts) or 'none'} of {codes.size}"
