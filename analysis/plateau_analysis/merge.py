"""Several campaign files read as one sweep (``report A.h5 B.h5``).

Files agree when their ``config`` attributes agree in every key except ``seed``, ``seeds``,
``threads`` and the keys that are per-run coordinates in any of them (``eta``, ``N`` and the
swept keys): e.g. one file per learning rate, or a second file with larger N. Otherwise
:func:`open_sweep` raises :class:`~plateau_analysis.configs.ConfigMismatchError` naming the
differing settings.

The groups of the same name are concatenated along ``run``. Each file's grid points stay
separate points: ``run_index`` is renumbered as ``(point offset + point) * S + seed`` with S the
largest ``seeds``, so that ``run_index // seeds`` (the schema's grid point) still holds; a
coordinate swept in one file but not in another gets the other file's configured value.

:func:`open_sweep` opens the files lazily (:func:`~plateau_analysis.open_campaign`),
:func:`load_sweep` reads them into memory and closes them
(:func:`~plateau_analysis.load_campaign`).
"""

from __future__ import annotations

import os
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
    S = max(int(ds.attrs.get("seeds", 1)) for ds in first)
    names = list(dict.fromkeys(n for groups in files for n in groups))
    out = {}
    for name in names:
        parts, offset = [], 0
        members = [(p, g[name]) for p, g in zip(paths, files) if name in g]
        coords = {}
        for _, ds in members:
            for c in run_coordinates(ds):
                coords.setdefault(c, ds[c])
        for p, ds in members:
            seeds = int(ds.attrs.get("seeds", 1))
            ri = np.asarray(ds["run_index"].values, dtype=np.int64)
            point, seed = ri // seeds, ri % seeds
            ds = ds.assign_coords(run_index=("run", (offset + point) * S + seed,
                                             dict(ds["run_index"].attrs)))
            offset += int(point.max()) + 1 if point.size else 0
            config = parse_config(ds.attrs.get("config", ""))
            for c, like in coords.items():
                if c not in ds.coords:
                    ds = _fill_coordinate(ds, c, like, config)
            parts.append(ds)
        merged = xr.concat(parts, dim="run", data_vars="minimal", coords="different",
                           compat="equals", combine_attrs="override")
        attrs = dict(parts[0].attrs)
        attrs.update(seeds=S, runs=int(merged.sizes["run"]),
                     path=" + ".join(os.fspath(p) for p, _ in members),
                     files=[os.fspath(p) for p, _ in members],
                     pending_runs=int(sum(d.attrs.get("pending_runs", 0) for _, d in members)))
        attrs["complete"] = int(attrs["pending_runs"] == 0)
        merged.attrs = attrs
        out[name] = merged
    return out
