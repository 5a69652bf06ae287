"""Campaign files from arrays, for tests: hand-made curves and overlaps in the schema layout.

:func:`make_group` builds one group (analysis/SCHEMA.md) from arrays of eps_g, Q, R, T and v;
:func:`write_campaign` writes groups with the schema's root attributes, as a ``simulation`` or
``theory`` file. Real files come from the engine: ``plateau run`` (simulations) and
``plateau ode`` (the N -> infinity theory).
"""

from __future__ import annotations

import datetime
import hashlib
import os
from pathlib import Path

import numpy as np
import xarray as xr

from .campaign import COMPLETED, PENDING

_LONG_NAMES = {
    "eg": "generalisation error",
    "eg_stderr": "Monte-Carlo standard error of eg (0 where eg is a closed form)",
    "Q": "student-student overlaps Q_jk = w_j . w_k",
    "R": "student-teacher overlaps R_jn = w_j . B_n",
    "T": "teacher-teacher overlaps T_nm = B_n . B_m",
    "v": "student second-layer weights",
    "status": "run status",
}


def make_group(alpha, eg, Q, R, T, v=None, *, coords=None, status=None, run_index=None,
               seeds: int = 1) -> xr.Dataset:
    """A campaign group (schema version 1 layout) from arrays.

    Parameters
    ----------
    alpha : array_like, shape (A,)
        Record times.
    eg : array_like, shape (runs, A)
    Q : array_like, shape (runs, A, K, K)
    R : array_like, shape (runs, A, K, M)
    T : array_like, shape (runs, M, M) or (M, M)
    v : array_like, shape (runs, A, K), optional
        Default: all ones (soft committee machine).
    coords : dict of str to array_like, optional
        Per-run coordinates (each of length ``runs``), e.g. ``{"N": [...], "eta": [...]}``.
        ``N`` and ``eta`` default to 0 and NaN if absent.
    status : array_like of int, optional
        0 pending, 1 completed, 2 diverged (default: completed where eg is finite at the end).
    run_index : array_like of int, optional
        Default ``0 .. runs-1``; the seed index is ``run_index % seeds``.
    seeds : int, default 1
        Runs per grid point.

    Returns
    -------
    xarray.Dataset
        With group attributes ``K`` and ``M``.
    """
    alpha = np.asarray(alpha, dtype=float)
    eg = np.atleast_2d(np.asarray(eg, dtype=float))
    runs = eg.shape[0]
    Q = np.asarray(Q, dtype=float)
    R = np.asarray(R, dtype=float)
    K, M = R.shape[-2:]
    T = np.broadcast_to(np.asarray(T, dtype=float), (runs, M, M)).copy()
    v = np.ones((runs, alpha.size, K)) if v is None else np.asarray(v, dtype=float)
    if status is None:
        status = np.where(np.isfinite(eg[:, -1]), COMPLETED, PENDING)
    run_index = np.arange(runs) if run_index is None else np.asarray(run_index)
    coords = dict(coords or {})
    coords.setdefault("N", np.zeros(runs, dtype=np.int64))
    coords.setdefault("eta", np.full(runs, np.nan))
    run_coords = {"run_index": ("run", run_index.astype(np.int64)),
                  "seed": ("run", (run_index % seeds).astype(np.int64))}
    for name, values in coords.items():
        run_coords[name] = ("run", np.asarray(values), {"config_key": name.replace("_", "-")})
    unit = {"units": "1"}
    ds = xr.Dataset(
        {
            "eg": (("run", "alpha"), eg, {"long_name": _LONG_NAMES["eg"], **unit}),
            "eg_stderr": (("run", "alpha"), np.where(np.isfinite(eg), 0.0, np.nan),
                          {"long_name": _LONG_NAMES["eg_stderr"], **unit}),
            "Q": (("run", "alpha", "student", "student2"), Q,
                  {"long_name": _LONG_NAMES["Q"], **unit}),
            "R": (("run", "alpha", "student", "teacher"), R,
                  {"long_name": _LONG_NAMES["R"], **unit}),
            "T": (("run", "teacher", "teacher2"), T, {"long_name": _LONG_NAMES["T"], **unit}),
            "v": (("run", "alpha", "student"), v, {"long_name": _LONG_NAMES["v"], **unit}),
            "status": ("run", np.asarray(status, dtype=np.int8),
                       {"long_name": _LONG_NAMES["status"],
                        "flag_values": np.array([0, 1, 2], dtype=np.int8),
                        "flag_meanings": "pending completed diverged"}),
        },
        coords={"alpha": ("alpha", alpha, {"long_name": "training time (examples / N)", **unit}),
                **run_coords},
        attrs={"K": np.int64(K), "M": np.int64(M)},
    )
    return ds


def write_campaign(path, groups: dict, *, kind: str = "theory", seeds: int = 1,
                   attrs: dict | None = None) -> Path:
    """Write Datasets as a campaign file (one HDF5 group each) with the schema's root attributes.

    Parameters
    ----------
    path : str or os.PathLike
        Output file (overwritten).
    groups : dict of str to xarray.Dataset
        Group name (``K<K>_M<M>``) to a Dataset in the campaign layout (:func:`make_group`).
    kind : {"theory", "simulation"}
    seeds : int
        The ``seeds`` root attribute (runs per grid point).
    attrs : dict, optional
        Extra or overriding root attributes (e.g. ``schema_version`` for tests).

    Returns
    -------
    pathlib.Path
    """
    import h5py

    path = Path(path)
    if path.exists():
        path.unlink()
    for i, (name, ds) in enumerate(groups.items()):
        ds = ds.copy()
        ds.attrs = {k: v for k, v in ds.attrs.items() if k in ("K", "M")}
        encoding = {name_: {"_FillValue": np.nan} for name_, var in ds.data_vars.items()
                    if var.dtype.kind == "f"}
        encoding["status"] = {"_FillValue": None}
        ds.to_netcdf(path, mode="w" if i == 0 else "a", group=name, engine="h5netcdf",
                     encoding=encoding)
    config = f"# written by plateau_analysis.synthetic (kind = {kind})\n"
    root = {
        "schema": "plateau-campaign",
        "schema_version": np.int64(1),
        "kind": kind,
        "software_version": "plateau_analysis",
        "git_describe": "",
        "compiler": "",
        "config": config,
        "config_sha256": hashlib.sha256(config.encode()).hexdigest(),
        "command_line": "plateau_analysis.synthetic.write_campaign",
        "master_seed": np.int64(0),
        "seeds": np.int64(seeds),
        "runs": np.int64(sum(ds.sizes["run"] for ds in groups.values())),
        "created": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "host": os.uname().nodename if hasattr(os, "uname") else "",
    }
    root.update(attrs or {})
    with h5py.File(path, "a") as f:
        for key, value in root.items():
            f.attrs[key] = value
    return path
