"""Normalized overlaps, specialization of student units, and student relabelling.

The specialization rule is documented in analysis/SCHEMA.md, section "Specialization"; the
engine has the same rule (engine/run/specialization.hpp), whose count ``plateau run`` prints.

The normalized overlap of student unit j with teacher unit n is the cosine of the angle between
their weight vectors,

    r_jn = R_jn / sqrt(Q_jj T_nn),      -1 <= r_jn <= 1.

In the unspecialized (symmetric) phase every student unit has about the same overlap with every
teacher unit; a specialized student unit has r_jn ~ 1 with one teacher unit and ~ 0 with the
others. The sign counts when the weights above the first layer are fixed: a unit with
r_jn ~ -1 did not learn teacher unit n (the second-layer weights are fixed and positive unless
``learn-v``). With an odd g (erf, tanh, linear) and learned weights above the first layer
(``learn-v``, or the first entry of ``learn-layers`` of a deeper network), flipping w_j and the
weights its output feeds (v_j, or column j of W_2) leaves the network unchanged, so r_jn ~ -1
is as specialized as +1: :func:`sign_symmetric` says which runs, and the rule then uses |r_jn|
(analysis/SCHEMA.md, "Specialization").
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike
import xarray as xr

from .campaign import run_coordinates

# The thresholds of the specialization rule (analysis/SCHEMA.md, "Specialization"): the same
# numbers as SpecializationThresholds in engine/run/specialization.hpp (tests/python/
# test_specialization.py checks that they agree).

#: A student unit is assigned to teacher unit n only if its normalized overlap r_jn >= this ...
MIN_OVERLAP = 0.5
#: ... and r_jn exceeds the unit's second-largest overlap by at least this much.
MARGIN = 0.5
#: A student unit with Q_jj <= DEAD_FRACTION * max_k Q_kk is dead.
DEAD_FRACTION = 1e-3
#: The states of a student unit, as ``name(UnitState)`` in engine/run/specialization.hpp.
UNIT_STATES = ("assigned", "shared", "split", "unassigned", "dead")
_ASSIGNED, _SHARED, _SPLIT, _UNASSIGNED, _DEAD = range(len(UNIT_STATES))


#: Activations with g(-x) = -g(x) (models/activation.hpp): with them a unit's sign can flip.
ODD_ACTIVATIONS = ("erf", "tanh", "linear", "identity", "he1", "he3")
#: Activations with g(-x) = g(x): a unit's sign is a symmetry whatever is learned above it (the
#: engine's evaluators say the same: ``parity`` in models/activations/*.hpp).
EVEN_ACTIVATIONS = ("square", "he2", "he4")


def _run_values(ds: xr.Dataset, attr: str, key: str, default: str) -> np.ndarray:
    """The text value of a run key for every run: the per-run coordinate ``attr`` when swept,
    else the group attribute, else the ``config`` text, else ``default``."""
    from .configs import parse_config

    n = ds.sizes["run"]
    if attr in ds.coords and ds[attr].dims == ("run",):
        return np.array([v.decode() if isinstance(v, bytes) else str(v)
                         for v in ds[attr].values])
    value = ds.attrs.get(attr, parse_config(ds.attrs.get("config", "")).get(key, default))
    if isinstance(value, bytes):
        value = value.decode()
    return np.full(n, str(value))


def activation_parity(name: str) -> str:
    """``"odd"``, ``"even"`` or ``"none"``: g's symmetry under x -> -x, for an activation name as
    the configuration writes it (``poly:C0:C1:...``: from which powers have a coefficient), the
    twin of the evaluators' ``parity`` (models/activations/*.hpp)."""
    name = name.strip().lower()
    if name.startswith("poly:"):
        powers = {k % 2 for k, c in enumerate(name.split(":")[1:]) if float(c) != 0.0}
        return {frozenset({1}): "odd", frozenset({0}): "even"}.get(frozenset(powers), "none")
    if name in ODD_ACTIVATIONS:
        return "odd"
    return "even" if name in EVEN_ACTIVATIONS else "none"


def sign_symmetric(ds: xr.Dataset) -> np.ndarray:
    """Per run (shape (run,)): whether a student unit's sign is a symmetry of the network, so
    that specialization counts |r_jn| (analysis/SCHEMA.md, "Specialization").

    True when the student's activation g is even (:func:`activation_parity`: w_j -> -w_j changes
    nothing), or odd and the weights its first layer feeds are learned: ``learn-v`` for a
    two-layer network, the first entry of
    ``learn-layers`` (W_2) for a deeper one (``K = 4x2``). Then (w_j, column j of the next
    layer) -> (-w_j, -column j) computes the same function, and gradient descent can reach either.
    """
    from .campaign import parse_group_widths

    act = np.char.lower(_run_values(ds, "activation", "activation", "erf").astype(str))
    learn_v = np.char.lower(_run_values(ds, "learn_v", "learn-v", "false").astype(str))
    layers = np.char.lower(_run_values(ds, "learn_layers", "learn-layers", "true").astype(str))
    # The group's name gives every width ("K4x2_M4x2"); its attribute K only the first.
    widths = parse_group_widths(str(ds.attrs.get("group", "")))
    deep = np.full(ds.sizes["run"], widths is not None and len(widths[0]) > 1)
    first_layer = np.array([w.split(":")[0].strip() in ("true", "1") for w in layers])
    learned = np.where(deep, first_layer, np.isin(learn_v, ("true", "1")))
    parity = np.array([activation_parity(a) for a in act])
    return (parity == "even") | ((parity == "odd") & learned)


def _diagonal(a: np.ndarray) -> np.ndarray:
    return np.diagonal(a, axis1=-2, axis2=-1)


def normalized_overlap_array(Q, R, T) -> np.ndarray:
    """r_jn = R_jn / sqrt(Q_jj T_nn) for numpy arrays.

    Parameters
    ----------
    Q : array_like, shape (..., K, K)
    R : array_like, shape (..., K, M)
    T : array_like, shape (..., M, M), broadcastable against R's leading axes

    Returns
    -------
    numpy.ndarray, shape (..., K, M)
        NaN where Q_jj or T_nn is not positive or not finite.
    """
    Q, R, T = (np.asarray(x, dtype=float) for x in (Q, R, T))
    qd = _diagonal(Q)[..., :, None]
    td = _diagonal(T)[..., None, :]
    with np.errstate(invalid="ignore", divide="ignore"):
        norm = np.sqrt(np.where(qd > 0, qd, np.nan) * np.where(td > 0, td, np.nan))
        return R / norm


def normalized_overlaps(ds: xr.Dataset) -> xr.DataArray:
    """Normalized overlaps r_jn = R_jn / sqrt(Q_jj T_nn) of every run and record.

    Parameters
    ----------
    ds : xarray.Dataset
        One group of a campaign file (variables ``Q``, ``R``, ``T``).

    Returns
    -------
    xarray.DataArray, dims (run, alpha, student, teacher)
        With the per-run coordinates of ``ds``.
    """
    T = ds["T"].values[:, None, :, :]  # T is constant in time
    r = normalized_overlap_array(ds["Q"].values, ds["R"].values, T)
    return xr.DataArray(
        r,
        dims=("run", "alpha", "student", "teacher"),
        coords={name: ds[name] for name in ds["R"].coords},
        name="r",
        attrs={"long_name": "normalized overlap R_jn / sqrt(Q_jj T_nn)", "units": "1"},
    )


def specialization_index_array(r: np.ndarray) -> np.ndarray:
    """Permutation-invariant degree of specialization from normalized overlaps.

    For each student unit, the largest overlap minus the second largest (over teacher units),
    averaged over student units: about 0 in the unspecialized phase (all overlaps alike), about
    1 for a student that has learned the teacher one unit each.

    Parameters
    ----------
    r : numpy.ndarray, shape (..., K, M)

    Returns
    -------
    numpy.ndarray, shape (...)
        NaN if M < 2 (there is nothing to specialize on) or where r is not finite.
    """
    r = np.asarray(r, dtype=float)
    if r.shape[-1] < 2:
        return np.full(r.shape[:-2], np.nan)
    top = np.sort(r, axis=-1)
    return np.mean(top[..., -1] - top[..., -2], axis=-1)


def specialization_index(ds: xr.Dataset) -> xr.DataArray:
    """The specialization index of every run and record (see :func:`specialization_index_array`).

    Unlike R itself it does not depend on which student unit learned which teacher unit, so it
    can be averaged over seeds.

    Parameters
    ----------
    ds : xarray.Dataset
        One group of a campaign file.

    Returns
    -------
    xarray.DataArray, dims (run, alpha)
    """
    r = normalized_overlaps(ds).values
    r = np.where(sign_symmetric(ds)[:, None, None, None], np.abs(r), r)
    return xr.DataArray(
        specialization_index_array(r),
        dims=("run", "alpha"),
        coords={name: ds[name] for name in ds["eg"].coords},
        name="specialization_index",
        attrs={
            "long_name": "specialization index: mean over student units of the largest minus "
            "the second largest normalized overlap",
            "units": "1",
        },
    )


def classify_units(Q: ArrayLike, R: ArrayLike, T: ArrayLike, *,
                   min_overlap: float = MIN_OVERLAP, margin: float = MARGIN,
                   dead_fraction: float = DEAD_FRACTION,
                   symmetric: ArrayLike = False) -> dict[str, np.ndarray]:
    """The specialization rule (analysis/SCHEMA.md, "Specialization") on numpy arrays.

    The same rule, step by step, as ``assess_specialization`` in engine/run/specialization.cpp
    (the summary ``plateau run`` prints): a student unit j is *dead* if
    Q_jj <= ``dead_fraction`` * max_k Q_kk; a live unit *claims* teacher unit n = argmax_n r_jn
    if r_jn >= ``min_overlap`` and r_jn >= (its second-largest overlap, 0 if M = 1) +
    ``margin``; a unit that claims a teacher unit another unit claims too is *shared*, else
    *assigned*; a live unit that claims nothing but has a second-largest overlap >=
    ``min_overlap`` is *split* (it overlaps two or more teacher units); any other live unit is
    *unassigned*. The state is *specialized* when no unit is shared, split or unassigned and
    min(K, M) units are assigned. A record with any non-finite entry of Q, R or T: every unit
    unassigned, not specialized.

    Parameters
    ----------
    Q : array_like, shape (..., K, K)
    R : array_like, shape (..., K, M)
    T : array_like, shape (..., M, M), broadcastable against R's leading axes
    min_overlap, margin, dead_fraction : float
        The thresholds (defaults: :data:`MIN_OVERLAP`, :data:`MARGIN`, :data:`DEAD_FRACTION`).
    symmetric : bool or array_like of bool, broadcastable against the leading axes
        Count |r_jn| instead of r_jn: a unit's sign is a symmetry (:func:`sign_symmetric`). The
        engine's rule (its printed count, and the outcome rule) keeps the sign: False.

    Returns
    -------
    dict of numpy.ndarray
        ``state`` (..., K) str (one of :data:`UNIT_STATES`), ``teacher`` (..., K) int (the
        claimed teacher unit of an assigned or shared unit, else -1), ``overlap`` (..., K)
        (largest r_jn; NaN if dead), ``lead`` (..., K) (largest minus second-largest r_jn; NaN
        if dead), ``specialized`` (...) bool.
    """
    Q, R, T = (np.asarray(x, dtype=float) for x in (Q, R, T))
    K, M = R.shape[-2:]
    lead_shape = np.broadcast_shapes(Q.shape[:-2], R.shape[:-2], T.shape[:-2])
    finite = np.broadcast_to(
        np.isfinite(Q).all(axis=(-2, -1)) & np.isfinite(R).all(axis=(-2, -1))
        & np.isfinite(T).all(axis=(-2, -1)), lead_shape)
    qd = np.broadcast_to(_diagonal(Q), (*lead_shape, K))
    td = np.broadcast_to(_diagonal(T), (*lead_shape, M))
    with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
        q_max = qd.max(axis=-1, keepdims=True)
        live = (qd > dead_fraction * q_max) & finite[..., None]
        # r_jn = R_jn / sqrt(Q_jj T_nn) (docs/theory.md §1), in the engine's order of operations.
        r = np.broadcast_to(R, (*lead_shape, K, M)) / np.sqrt(qd[..., :, None] * td[..., None, :])
        # A sign that is a symmetry of the network: -r_jn is as learned as r_jn.
        r = np.where(np.broadcast_to(np.asarray(symmetric, dtype=bool)[..., None, None],
                                     (*lead_shape, K, M)), np.abs(r), r)
        live_r = live & np.isfinite(r).all(axis=-1)
        best = np.argmax(np.where(np.isnan(r), -np.inf, r), axis=-1)
        top = np.take_along_axis(r, best[..., None], axis=-1)[..., 0]
        if M > 1:
            others = r.copy()
            np.put_along_axis(others, best[..., None], -np.inf, axis=-1)
            second = others.max(axis=-1)
        else:
            second = np.zeros_like(top)
        lead = top - second
        claims = live_r & (top >= min_overlap) & (lead >= margin)
        split = live_r & ~claims & (M > 1) & (second >= min_overlap)
    teacher = np.where(claims, best, -1)
    same = (teacher[..., :, None] == teacher[..., None, :]) & claims[..., None, :]
    shared = claims & (same.sum(axis=-1) > 1)
    code = np.full((*lead_shape, K), _UNASSIGNED, dtype=np.int8)
    code[~live & finite[..., None]] = _DEAD
    code[split] = _SPLIT
    code[claims] = _ASSIGNED
    code[shared] = _SHARED
    n_assigned = (code == _ASSIGNED).sum(axis=-1)
    clean = ((code == _ASSIGNED) | (code == _DEAD)).all(axis=-1)
    overlap = np.where(live_r, top, np.nan)
    return {
        "state": np.asarray(UNIT_STATES)[code],
        "teacher": teacher.astype(np.int64),
        "overlap": overlap,
        "lead": np.where(live_r, lead, np.nan),
        "specialized": clean & (n_assigned == min(K, M)) & finite,
    }


def _held_from(ok: np.ndarray, last: int) -> int:
    """First record index from which ``ok`` holds at every record up to ``last`` (-1: never)."""
    below = np.flatnonzero(~ok[: last + 1])
    first = below[-1] + 1 if below.size else 0
    return int(first) if first <= last else -1


def specialization(ds: xr.Dataset, margin: float = MARGIN, *, min_overlap: float = MIN_OVERLAP,
                   dead_fraction: float = DEAD_FRACTION, symmetric=None) -> xr.Dataset:
    """Which student unit learned which teacher unit, and when (analysis/SCHEMA.md).

    The rule is :func:`classify_units` (the same as the engine's, whose count ``plateau run``
    prints as "specialized at the end"), applied at every record. The assignment is the one at
    the last record where Q, R and T are finite (``alpha_end``: ``alpha_max``, or the last
    record before a divergence). A unit's *specialization time* is the first record from which
    it claims its final teacher unit at every record up to ``alpha_end``; the run's
    (``time_all``) is the first record from which the run is specialized at every record up to
    ``alpha_end`` (for K > M it includes the death of the surplus units).

    Parameters
    ----------
    ds : xarray.Dataset
        One group of a campaign file.
    margin : float, default :data:`MARGIN`
        Required lead of the assigned overlap over the unit's second largest: halfway between
        the unspecialized plateau (every overlap of a unit about the same, lead ~0) and full
        specialization (~1 against ~0). With it the specialization time falls close to the
        escape from the plateau (eps_g halved), in K = M = 2 simulations and theory.
    min_overlap, dead_fraction : float
        The other thresholds (:data:`MIN_OVERLAP`, :data:`DEAD_FRACTION`).
    symmetric : bool or array_like of bool (run,), optional
        Count |r_jn| (a unit's sign is a symmetry of the network). Default:
        :func:`sign_symmetric` of the group's settings (odd g, learned weights above the first
        layer); False gives the engine's signed rule.

    Returns
    -------
    xarray.Dataset
        Along (run, student): ``state`` (str, :data:`UNIT_STATES`), ``teacher`` (int, the
        claimed teacher unit, -1 if none), ``overlap`` (final largest r_jn), ``lead`` (final
        largest minus second-largest r_jn), ``specialized`` (bool: state "assigned"), ``time``
        (specialization time in alpha, NaN if the unit claims no teacher unit at the end).
        Along run: ``run_specialized`` (the run is specialized at ``alpha_end``; the engine's
        count is its sum over completed runs), ``n_dead``, ``time_all``, ``alpha_end``,
        ``status``. Per-run coordinates as in ``ds``; attributes ``margin``, ``min_overlap``,
        ``dead_fraction``.
    """
    alpha = ds["alpha"].values
    T = ds["T"].values[:, None, :, :]  # T is constant in time
    if symmetric is None:
        symmetric = sign_symmetric(ds)
    symmetric = np.broadcast_to(np.asarray(symmetric, dtype=bool), (ds.sizes["run"],))
    c = classify_units(ds["Q"].values, ds["R"].values, T, min_overlap=min_overlap,
                       margin=margin, dead_fraction=dead_fraction, symmetric=symmetric[:, None])
    n_run, _, K = c["teacher"].shape
    finite = (np.isfinite(ds["Q"].values).all(axis=(-2, -1))
              & np.isfinite(ds["R"].values).all(axis=(-2, -1))
              & np.isfinite(T).all(axis=(-2, -1)))
    state = np.full((n_run, K), UNIT_STATES[_UNASSIGNED], dtype=c["state"].dtype)
    teacher = np.full((n_run, K), -1, dtype=np.int64)
    overlap = np.full((n_run, K), np.nan)
    lead = np.full((n_run, K), np.nan)
    time = np.full((n_run, K), np.nan)
    run_specialized = np.zeros(n_run, dtype=bool)
    time_all = np.full(n_run, np.nan)
    alpha_end = np.full(n_run, np.nan)
    for i in range(n_run):
        ok = np.flatnonzero(finite[i])
        if ok.size == 0:
            continue
        last = int(ok[-1])
        alpha_end[i] = alpha[last]
        state[i], teacher[i] = c["state"][i, last], c["teacher"][i, last]
        overlap[i], lead[i] = c["overlap"][i, last], c["lead"][i, last]
        for j in np.flatnonzero(teacher[i] >= 0):
            first = _held_from(c["teacher"][i, :, j] == teacher[i, j], last)
            time[i, j] = alpha[first]
        run_specialized[i] = c["specialized"][i, last]
        if run_specialized[i]:
            time_all[i] = alpha[_held_from(c["specialized"][i], last)]
    coords = {name: ds[name] for name in ["run_index", "seed", *run_coordinates(ds)]
              if name in ds.coords}
    unit = {"units": "1"}
    return xr.Dataset(
        {
            "state": (("run", "student"), state,
                      {"long_name": "state of the student unit: " + ", ".join(UNIT_STATES)}),
            "teacher": (("run", "student"), teacher,
                        {"long_name": "teacher unit learned by the student unit (0-based; -1: "
                         "none)"}),
            "overlap": (("run", "student"), overlap,
                        {"long_name": "final largest normalized overlap", **unit}),
            "lead": (("run", "student"), lead,
                     {"long_name": "final largest minus second-largest normalized overlap",
                      **unit}),
            "specialized": (("run", "student"), state == UNIT_STATES[_ASSIGNED]),
            "time": (("run", "student"), time,
                     {"long_name": "specialization time of the unit", **unit}),
            "run_specialized": ("run", run_specialized),
            "n_dead": ("run", (state == UNIT_STATES[_DEAD]).sum(axis=1)),
            "time_all": ("run", time_all,
                         {"long_name": "time from which the run is specialized", **unit}),
            "alpha_end": ("run", alpha_end),
            "status": ("run", ds["status"].values),
            "sign_symmetric": ("run", symmetric.copy(),
                               {"long_name": "the rule counted |r_jn|: odd g, learned weights "
                                "above the first layer"}),
        },
        coords=coords,
        attrs={"margin": margin, "min_overlap": min_overlap, "dead_fraction": dead_fraction},
    )


def student_permutation(spec: xr.Dataset) -> np.ndarray:
    """Per-run relabelling of student units that puts them in the order of their teacher units.

    Parameters
    ----------
    spec : xarray.Dataset
        A :func:`specialization` result.

    Returns
    -------
    numpy.ndarray of int, shape (run, K)
        ``perm[i]`` lists old student indices in their new order: new unit j is old unit
        ``perm[i, j]``. A unit assigned (state "assigned") to teacher unit n < K moves to
        position n; the other units fill the remaining positions in their order. For a
        specialized run with K >= M, new student j learned teacher j (j < M) and the dead units
        come last; a run without an assigned unit keeps its order.
    """
    teacher = spec["teacher"].values
    assigned = spec["specialized"].values
    n_run, K = teacher.shape
    perm = np.tile(np.arange(K), (n_run, 1))
    for i in range(n_run):
        slots = np.full(K, -1)
        rest = []
        for j in range(K):
            n = teacher[i, j]
            if assigned[i, j] and n < K and slots[n] < 0:
                slots[n] = j
            else:
                rest.append(j)
        slots[slots < 0] = rest
        perm[i] = slots
    return perm


def align_students(ds: xr.Dataset, margin: float = MARGIN) -> xr.Dataset:
    """Relabel student units so that, in every run, student j learned teacher unit j.

    Different seeds specialize in different permutations (student 0 may learn teacher 1), so a
    plain seed mean of R mixes them. After this relabelling (:func:`student_permutation` of the
    final assignment, :func:`specialization`) the seed mean of R, Q and v is meaningful. Runs
    without an assigned unit at the end (e.g. still on the plateau) are left as they are. In a
    run whose units' sign is a symmetry (:func:`sign_symmetric`), an assigned unit with
    r_jn < 0 is also flipped (R_j -> -R_j, Q_jk -> -Q_jk for k != j, v_j -> -v_j: the same
    network), so that seeds that learned +B_n and -B_n average to r ~ 1, not 0.

    Parameters
    ----------
    ds : xarray.Dataset
        One group of a campaign file.
    margin : float
        Passed to :func:`specialization` (does not affect the assignment itself).

    Returns
    -------
    xarray.Dataset
        A copy with ``Q`` (both student axes), ``R`` and ``v`` permuted (and signs flipped);
        ``attrs["aligned"] = 1``, ``attrs["flipped_units"]``: how many units were flipped.
    """
    spec = specialization(ds, margin)
    perm = student_permutation(spec)
    sign = _unit_signs(ds, spec)[np.arange(perm.shape[0])[:, None], perm]  # new order
    out = ds.copy()
    rows = np.arange(perm.shape[0])[:, None]
    if "R" in ds:
        R = ds["R"].values  # (run, alpha, K, M)
        R = R[rows, :, perm, :].transpose(0, 2, 1, 3) * sign[:, None, :, None]
        out["R"] = ds["R"].copy(data=R)
    if "Q" in ds:
        Q = ds["Q"].values  # (run, alpha, K, K)
        Q = Q[rows, :, perm, :].transpose(0, 2, 1, 3)
        Q = np.take_along_axis(Q, perm[:, None, None, :], axis=3)
        out["Q"] = ds["Q"].copy(data=Q * sign[:, None, :, None] * sign[:, None, None, :])
    if "v" in ds:
        v = ds["v"].values  # (run, alpha, K)
        v = np.take_along_axis(v, perm[:, None, :], axis=2) * sign[:, None, :]
        out["v"] = ds["v"].copy(data=v)
    out.attrs = dict(ds.attrs, aligned=1, flipped_units=int(np.count_nonzero(sign < 0)))
    return out


def _unit_signs(ds: xr.Dataset, spec: xr.Dataset) -> np.ndarray:
    """(run, K) of +-1: -1 for a unit assigned with r_jn < 0 in a run whose units' sign is a
    symmetry (``spec["sign_symmetric"]``): flipping w_j with the weights it feeds gives the same
    network, and makes its seed mean comparable with other seeds' +r_jn."""
    sign = np.ones(spec["teacher"].shape)
    if "sign_symmetric" not in spec or not bool(spec["sign_symmetric"].values.any()):
        return sign
    R = ds["R"].values
    finite = np.isfinite(R).all(axis=(-2, -1))
    for i in np.flatnonzero(spec["sign_symmetric"].values):
        ok = np.flatnonzero(finite[i])
        if ok.size == 0:
            continue
        for j in np.flatnonzero(spec["specialized"].values[i]):
            if R[i, ok[-1], j, spec["teacher"].values[i, j]] < 0:
                sign[i, j] = -1.0
    return sign
