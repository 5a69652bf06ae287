"""Normalized overlaps, specialization of student units, and student relabelling.

The normalized overlap of student unit j with teacher unit n is the cosine of the angle between
their weight vectors,

    r_jn = R_jn / sqrt(Q_jj T_nn),      -1 <= r_jn <= 1.

In the unspecialized (symmetric) phase every student unit has about the same overlap with every
teacher unit; a specialized student unit has r_jn ~ 1 with one teacher unit and ~ 0 with the
others. The sign is kept: a unit with r_jn ~ -1 did not learn teacher unit n (the second-layer
weights are fixed and positive unless ``learn-v``).
"""

from __future__ import annotations

import numpy as np
import xarray as xr

from .campaign import run_coordinates

#: Default margin of :func:`specialization`: the assigned overlap must exceed every other
#: overlap of the same student unit by this much (halfway from unspecialized to specialized).
DEFAULT_MARGIN = 0.5


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


def normalized_overlaps(ds) -> xr.DataArray:
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


def specialization_index(ds) -> xr.DataArray:
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
    r = normalized_overlaps(ds)
    return xr.DataArray(
        specialization_index_array(r.values),
        dims=("run", "alpha"),
        coords={name: ds[name] for name in ds["eg"].coords},
        name="specialization_index",
        attrs={
            "long_name": "specialization index: mean over student units of the largest minus "
            "the second largest normalized overlap",
            "units": "1",
        },
    )


def _last_finite(values: np.ndarray) -> int:
    """Index of the last record whose overlaps are all finite, -1 if none."""
    ok = np.all(np.isfinite(values.reshape(values.shape[0], -1)), axis=1)
    idx = np.flatnonzero(ok)
    return int(idx[-1]) if idx.size else -1


def _assign(r_run: np.ndarray, alpha: np.ndarray, margin: float):
    """Assignment and specialization time of one run; r_run has shape (alpha, K, M)."""
    n_alpha, K, M = r_run.shape
    teacher = np.full(K, -1, dtype=np.int64)
    final = np.full(K, np.nan)
    gap_final = np.full(K, np.nan)
    time = np.full(K, np.nan)
    last = _last_finite(r_run)
    if last < 0:
        return teacher, final, gap_final, time, np.nan
    r = r_run[: last + 1]
    teacher[:] = np.argmax(r[-1], axis=1)
    for j in range(K):
        n = teacher[j]
        own = r[:, j, n]
        others = np.delete(r[:, j, :], n, axis=1)
        best_other = others.max(axis=1) if others.shape[1] else np.zeros_like(own)
        gap = own - best_other
        final[j] = own[-1]
        gap_final[j] = gap[-1]
        if gap[-1] >= margin:
            below = np.flatnonzero(gap < margin)
            first = below[-1] + 1 if below.size else 0
            time[j] = alpha[first]
    return teacher, final, gap_final, time, alpha[last]


def specialization(ds, margin: float = DEFAULT_MARGIN) -> xr.Dataset:
    """Which student unit learned which teacher unit, and when.

    Rule: at the last record with finite overlaps (``alpha_max``, or the last record before a
    divergence), student unit j is assigned to the teacher unit n(j) with the largest normalized
    overlap r_jn (:func:`normalized_overlaps`). Its *gap* is r_{j n(j)} minus the largest overlap
    with any other teacher unit (0 if M = 1). Student j is *specialized* if its final gap is at
    least ``margin``; its *specialization time* is the first record time from which the gap
    stays at or above ``margin`` up to the end (NaN if it is not specialized). A run is
    specialized as a whole when every student unit is and no two share a teacher unit
    (``one_to_one``).

    Parameters
    ----------
    ds : xarray.Dataset
        One group of a campaign file.
    margin : float, default 0.5
        Required lead of the assigned overlap over all the others: halfway between the
        unspecialized plateau (every overlap of a unit about the same, lead ~0) and full
        specialization (~1 against ~0). With it the specialization time falls close to the
        escape from the plateau (eps_g halved), in K = M = 2 simulations and theory.

    Returns
    -------
    xarray.Dataset
        Along (run, student): ``teacher`` (int, -1 for a run without data), ``overlap`` (final
        r_{j n(j)}), ``gap`` (final gap), ``specialized`` (bool), ``time`` (specialization time
        in alpha). Along run: ``one_to_one`` (bool: the assigned teacher units are distinct),
        ``run_specialized`` (every unit specialized and one-to-one), ``time_all`` (the latest
        unit's specialization time: when the whole student is specialized), ``alpha_end`` (the
        record the assignment was made at), ``status``. Per-run coordinates as in ``ds``;
        ``attrs["margin"]``.
    """
    r = normalized_overlaps(ds).values
    alpha = ds["alpha"].values
    n_run, _, K, M = r.shape
    teacher = np.full((n_run, K), -1, dtype=np.int64)
    overlap = np.full((n_run, K), np.nan)
    gap = np.full((n_run, K), np.nan)
    time = np.full((n_run, K), np.nan)
    alpha_end = np.full(n_run, np.nan)
    for i in range(n_run):
        teacher[i], overlap[i], gap[i], time[i], alpha_end[i] = _assign(r[i], alpha, margin)
    specialized = gap >= margin
    one_to_one = np.array(
        [t.min() >= 0 and np.unique(t).size == t.size for t in teacher], dtype=bool
    )
    run_specialized = one_to_one & specialized.all(axis=1)
    time_all = np.where(run_specialized, np.max(np.where(specialized, time, -np.inf), axis=1),
                        np.nan)
    coords = {name: ds[name] for name in ["run_index", "seed", *run_coordinates(ds)]
              if name in ds.coords}
    out = xr.Dataset(
        {
            "teacher": (("run", "student"), teacher,
                        {"long_name": "teacher unit learned by the student unit (0-based)"}),
            "overlap": (("run", "student"), overlap,
                        {"long_name": "final normalized overlap with the assigned teacher unit",
                         "units": "1"}),
            "gap": (("run", "student"), gap,
                    {"long_name": "final lead of the assigned overlap over the others",
                     "units": "1"}),
            "specialized": (("run", "student"), specialized),
            "time": (("run", "student"), time,
                     {"long_name": "specialization time", "units": "1"}),
            "one_to_one": ("run", one_to_one),
            "run_specialized": ("run", run_specialized),
            "time_all": ("run", time_all,
                         {"long_name": "time when every student unit is specialized",
                          "units": "1"}),
            "alpha_end": ("run", alpha_end),
            "status": ("run", ds["status"].values),
        },
        coords=coords,
        attrs={"margin": margin},
    )
    return out


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
        ``perm[i, j]``. Runs whose assignment is one-to-one are sorted by assigned teacher unit
        (for K = M, new student j learned teacher j); other runs keep their order.
    """
    teacher = spec["teacher"].values
    perm = np.tile(np.arange(teacher.shape[1]), (teacher.shape[0], 1))
    for i, ok in enumerate(spec["one_to_one"].values):
        if ok:
            perm[i] = np.argsort(teacher[i], kind="stable")
    return perm


def align_students(ds, margin: float = DEFAULT_MARGIN) -> xr.Dataset:
    """Relabel student units so that, in every run, student j learned teacher unit j.

    Different seeds specialize in different permutations (student 0 may learn teacher 1), so a
    plain seed mean of R mixes them. After this relabelling (:func:`student_permutation` of the
    final assignment, :func:`specialization`) the seed mean of R, Q and v is meaningful. Runs
    whose final assignment is not one-to-one (e.g. still on the plateau) are left as they are.

    Parameters
    ----------
    ds : xarray.Dataset
        One group of a campaign file.
    margin : float
        Passed to :func:`specialization` (does not affect the assignment itself).

    Returns
    -------
    xarray.Dataset
        A copy with ``Q`` (both student axes), ``R`` and ``v`` permuted; ``attrs["aligned"] = 1``.
    """
    perm = student_permutation(specialization(ds, margin))
    out = ds.copy()
    rows = np.arange(perm.shape[0])[:, None]
    if "R" in ds:
        R = ds["R"].values  # (run, alpha, K, M)
        out["R"] = ds["R"].copy(data=R[rows, :, perm, :].transpose(0, 2, 1, 3))
    if "Q" in ds:
        Q = ds["Q"].values  # (run, alpha, K, K)
        Q = Q[rows, :, perm, :].transpose(0, 2, 1, 3)
        Q = np.take_along_axis(Q, perm[:, None, None, :], axis=3)
        out["Q"] = ds["Q"].copy(data=Q)
    if "v" in ds:
        v = ds["v"].values  # (run, alpha, K)
        out["v"] = ds["v"].copy(data=np.take_along_axis(v, perm[:, None, :], axis=2))
    out.attrs = dict(ds.attrs, aligned=1)
    return out
