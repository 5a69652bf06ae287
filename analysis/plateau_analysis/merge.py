"""Several campaign files read as one sweep (``report A.h5 B.h5``).

Files agree when their ``config`` attributes agree in every key except ``seed``, ``seeds``,
``threads`` and the keys that are per-run coordinates in any of them (``eta``, ``N`` and the
swept keys): e.g. one file per learning rate, or a second file with larger N. Otherwise
:func:`open_sweep` raises :class:`~plateau_analysis.configs.ConfigMismatchError` naming the
differing settings.

The groups of the same name are concatenated along ``run``. Runs at the same coordinates are
seeds of one grid point, whichever file they come from: a second file made with another
``--seed`` adds seeds to the first file's points (pooling). Grid points are numbered in order of
first appearance; ``run_index`` is renumbered as ``point * S + seed`` with S the most seeds of
any point (the ``seeds`` attribute), so that ``run_index // seeds`` (the schema's grid point)
still holds, and ``seed`` runs over the pooled seeds. Two files with the same master seed whose
runs at the same grid point have the same run index drew the same random numbers: the same runs
twice, refused; at different grid points a :class:`SharedStreamsWarning` says those points are
not independent. A coordinate swept in one file but not in another gets the other file's
configured value; a data variable that only some files have (``eps_train``, ``examples`` of a
newer schema minor) is kept, NaN for the other files' runs.

:func:`open_sweep` opens the files lazily (:func:`~plateau_analysis.open_campaign`),
:func:`load_sweep` reads them into memory and closes them
(:func:`~plateau_analysis.load_campaign`).
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any, Union

import numpy as np

from .campaign import (CampaignError, PathLike, load_campaign, open_campaign,
                       run_coordinates)

if TYPE_CHECKING:
    import xarray as xr

#: One campaign file or several.
PathsLike = Union[PathLike, Iterable[PathLike]]
from .configs import ConfigMismatchError, describe, parse_config, sweep_mismatches


def _config_key(ds, name: str) -> str:
    return str(ds[name].attrs.get("config_key", name.replace("_", "-")))


def _fill_coordinate(ds, name: str, like, config: dict):
    """Add per-run coordinate ``name`` (absent from ``ds``) from the configured value."""
    key = str(like.attrs.get("config_key", name.replace("_", "-")))
    text = config.get(key)
    if text is None:
        raise CampaignError(f"{ds.attrs.get('path')}: no value for '{key}' (swept elsewhere)")
    value = np.array([text]).astype(like.dtype) if like.dtype.kind in "iufb" else text
    values = np.full(ds.sizes["run"], value.item() if hasattr(value, "item") else value,
                     dtype=like.dtype if like.dtype.kind in "iufb" else object)
    if like.dtype.kind not in "iufb":
        values = values.astype(str)
    return ds.assign_coords({name: ("run", values, dict(like.attrs))})


def open_sweep(paths: PathsLike, **kwargs: Any) -> dict[str, xr.Dataset]:
    """Open several campaign files lazily as one: ``{group: xarray.Dataset}``.

    Parameters
    ----------
    paths : str, os.PathLike or iterable of them
        One path gives :func:`~plateau_analysis.open_campaign` unchanged.
    **kwargs
        Passed to :func:`~plateau_analysis.open_campaign` (``warn_incomplete``) and from there
        to :func:`xarray.open_dataset`.

    Returns
    -------
    dict of str to xarray.Dataset
        The attributes are the first file's, with ``seeds`` = the largest, ``runs`` the total,
        ``path`` the paths joined by ``" + "`` and ``files`` their list. One file stays lazy;
        concatenating several reads the variables along ``run`` into memory (unless
        ``chunks=`` makes them dask arrays), the others stay in the files.

    Raises
    ------
    ConfigMismatchError
        The files differ in a setting that is not swept, or in ``kind``.
    CampaignError
        A file cannot be read (:func:`~plateau_analysis.open_campaign`).
    """
    return _sweep(paths, open_campaign, kwargs)


def load_sweep(paths: PathsLike, **kwargs: Any) -> dict[str, xr.Dataset]:
    """Read several campaign files into memory as one (files closed): :func:`open_sweep` with
    :func:`~plateau_analysis.load_campaign` (which checks checksums and finite values too).

    Parameters
    ----------
    paths : str, os.PathLike or iterable of them
    **kwargs
        Passed to :func:`~plateau_analysis.load_campaign`.

    Returns
    -------
    dict of str to xarray.Dataset
        As :func:`open_sweep`, in memory.

    Raises
    ------
    ConfigMismatchError, CampaignError
        As :func:`open_sweep`, and see :func:`~plateau_analysis.load_campaign`.
    """
    return _sweep(paths, load_campaign, kwargs)


def _sweep(paths: PathsLike, read: Callable[..., dict[str, xr.Dataset]],
           kwargs: dict[str, Any]) -> dict[str, xr.Dataset]:
    """Several files read with ``read`` (:func:`open_campaign` or :func:`load_campaign`)
    merged into one sweep."""
    import xarray as xr

    if isinstance(paths, (str, os.PathLike)):
        return read(paths, **kwargs)
    paths = list(paths)
    if len(paths) == 1:
        return read(paths[0], **kwargs)
    files = [read(p, **kwargs) for p in paths]
    first = [next(iter(g.values())) for g in files]
    kinds = {ds.attrs.get("kind") for ds in first}
    if len(kinds) > 1:
        raise ConfigMismatchError(
            "cannot read as one sweep: " + "; ".join(
                f"{p}: kind = {ds.attrs.get('kind')}" for p, ds in zip(paths, first)))
    coordinate_keys = {"eta", "N"}
    for groups in files:
        for ds in groups.values():
            coordinate_keys |= {_config_key(ds, n) for n in run_coordinates(ds)}
    configs = {os.fspath(p): ds.attrs.get("config", "") for p, ds in zip(paths, first)}
    diffs = sweep_mismatches(configs, coordinate_keys)
    if diffs:
        raise ConfigMismatchError("cannot read as one sweep: the files differ in settings that "
                                  f"are not swept: {describe(diffs)}")
    names = list(dict.fromkeys(n for groups in files for n in groups))
    out = {}
    for name in names:
        members = [(p, g[name]) for p, g in zip(paths, files) if name in g]
        coords = {}
        for _, ds in members:
            for c in run_coordinates(ds):
                coords.setdefault(c, ds[c])
        filled = []
        for p, ds in members:
            config = parse_config(ds.attrs.get("config", ""))
            for c, like in coords.items():
                if c not in ds.coords:
                    ds = _fill_coordinate(ds, c, like, config)
            filled.append((p, ds))
        parts, seeds = _pool(filled, list(coords))
        parts = _union_of_variables(parts)
        # Saved weights (schema 1.11): the input axis is each file's largest N; the shorter ones
        # are padded with NaN, as a file pads its runs of smaller N (analysis/SCHEMA.md).
        inputs = max((d.sizes.get("input", 0) for d in parts), default=0)
        parts = [d.pad(input=(0, inputs - d.sizes["input"]))
                 if 0 < d.sizes.get("input", 0) < inputs else d for d in parts]
        merged = xr.concat(parts, dim="run", data_vars="minimal", coords="different",
                           compat="equals", combine_attrs="override")
        attrs = dict(parts[0].attrs)
        attrs.update(seeds=seeds, runs=int(merged.sizes["run"]),
                     path=" + ".join(os.fspath(p) for p, _ in members),
                     files=[os.fspath(p) for p, _ in members],
                     master_seeds=[int(d.attrs.get("master_seed", -1)) for _, d in members],
                     pending_runs=int(sum(d.attrs.get("pending_runs", 0) for _, d in members)))
        attrs["complete"] = int(attrs["pending_runs"] == 0)
        merged.attrs = attrs
        out[name] = merged
    return out


class SharedStreamsWarning(UserWarning):
    """Two files of one sweep share a master seed: runs of theirs with the same run index (and,
    with ``init-seed = shared``, the same seed index) drew the same random numbers at different
    grid points, so those points are not independent."""


def _point_keys(ds, names: list[str]) -> list[tuple]:
    """The grid point of every run of ``ds``: its values of the per-run coordinates ``names``."""
    values = [ds[n].values for n in names]
    return [tuple(str(v[r]) for v in values) for r in range(ds.sizes["run"])]


def _describe_point(names: list[str], key: tuple) -> str:
    return ", ".join(f"{n} = {v}" for n, v in zip(names, key)) or "the only grid point"


def _pool(members: list, names: list[str]) -> tuple[list, int]:
    """Renumber the runs of several files as one grid: runs at the same coordinates (``names``)
    are seeds of one grid point, whichever file they come from.

    Grid points are numbered in order of first appearance (file by file, in run order); the
    seeds of a point are the first file's 0 … seeds−1, then the next file's, and so on, so
    ``run_index`` = point × S + seed with S the most seeds of any point. A file's seeds count
    as its ``seeds`` attribute, so a pending run keeps its place.

    Random streams are keyed by (master seed, run index) (``init-seed = shared``: the initial
    weights by (master seed, seed index)); runs of two files with the same master seed and the
    same key are the same random numbers. At the same grid point they are the same runs twice:
    refused. At different grid points those points are correlated: a
    :class:`SharedStreamsWarning` (not for theory files: their only random numbers are the
    initial conditions).

    Returns
    -------
    (list of xarray.Dataset, int)
        The members with ``run_index`` and ``seed`` renumbered, and S.
    """
    order: dict[tuple, int] = {}
    next_seed: dict[int, int] = {}
    streams: dict[tuple, tuple] = {}  # (master seed, key) -> (path, grid point)
    renumbered = []
    warned = set()
    for path, ds in members:
        seeds = int(ds.attrs.get("seeds", 1))
        master = ds.attrs.get("master_seed")
        shared = parse_config(ds.attrs.get("config", "")).get("init-seed") == "shared"
        keys = _point_keys(ds, names)
        ri = np.asarray(ds["run_index"].values, dtype=np.int64)
        base: dict[int, int] = {}
        point = np.empty(ri.size, dtype=np.int64)
        seed = np.empty(ri.size, dtype=np.int64)
        mine = {}
        for r, key in enumerate(keys):
            gp = order.setdefault(key, len(order))
            if gp not in base:
                base[gp] = next_seed.get(gp, 0)
            point[r], seed[r] = gp, base[gp] + ri[r] % seeds
            if master is None:
                continue
            stream_keys = [("run", int(ri[r]))] + ([("seed", int(ri[r] % seeds))] if shared
                                                   else [])
            for sk in stream_keys:
                other = streams.get((int(master), sk))
                mine[(int(master), sk)] = (path, gp)
                if other is None:
                    continue
                what = (f"run_index {sk[1]}" if sk[0] == "run"
                        else f"seed index {sk[1]} (init-seed = shared)")
                if other[1] == gp:
                    raise ConfigMismatchError(
                        f"cannot pool {other[0]} and {path}: both have master seed {master}, "
                        f"so their runs at ({_describe_point(names, key)}) with {what} drew "
                        "the same random numbers: the same runs twice, not more seeds; run "
                        "the second file with another --seed")
                pair = (os.fspath(other[0]), os.fspath(path))
                # A theory run has no noise: shared initial conditions are no correlation.
                if pair not in warned and ds.attrs.get("kind") != "theory":
                    warned.add(pair)
                    inverse = {v: k for k, v in order.items()}
                    warnings.warn(
                        f"{other[0]} and {path} both have master seed {master}: their runs "
                        f"with the same {what.split(' ')[0]} index drew the same random "
                        f"numbers at different grid points (e.g. "
                        f"{_describe_point(names, inverse[other[1]])} and "
                        f"{_describe_point(names, key)}), so those points are not "
                        "independent; give each file its own --seed", SharedStreamsWarning,
                        stacklevel=5)
        streams.update(mine)
        for gp, b in base.items():
            next_seed[gp] = b + seeds
        renumbered.append((ds, point, seed))
    S = max(next_seed.values(), default=1)
    parts = []
    for ds, point, seed in renumbered:
        ds = ds.assign_coords(run_index=("run", point * S + seed, dict(ds["run_index"].attrs)))
        if "seed" in ds.coords:
            ds = ds.assign_coords(seed=("run", seed.astype(ds["seed"].dtype),
                                        dict(ds["seed"].attrs)))
        parts.append(ds)
    return parts, S


def _union_of_variables(parts: list) -> list:
    """Every part with the data variables along ``run`` that any part has: a variable a file
    does not have (e.g. ``eps_train``, ``examples`` of a newer schema minor) is NaN for its
    runs, integers made floating point; ``outcome`` is computed by the rule
    (:func:`~plateau_analysis.run_outcomes`) for a file written before it existed."""
    import xarray as xr

    from .outcomes import run_outcomes

    union = {}
    for ds in parts:
        for n, v in ds.data_vars.items():
            if "run" in v.dims:
                union.setdefault(n, v)
    partial = {n for n in union if any(n not in d.data_vars for d in parts)}
    out = []
    for ds in parts:
        runs = ds.sizes["run"]
        for n, like in union.items():
            if n in ds.data_vars:
                if n in partial and n != "outcome" and ds[n].dtype.kind in "iub":
                    ds = ds.assign({n: ds[n].astype(float)})
                continue
            if n == "outcome":
                ds = ds.assign(outcome=run_outcomes(ds).astype(like.dtype))
                ds["outcome"].attrs = dict(like.attrs)
                continue
            shape = tuple(runs if d == "run" else like.sizes[d] for d in like.dims)
            coords = {d: like[d] for d in like.dims if d != "run" and d in like.coords}
            missing = xr.DataArray(np.full(shape, np.nan), dims=like.dims, coords=coords,
                                   attrs=dict(like.attrs))
            ds = ds.assign({n: missing})
        out.append(ds)
    return out
