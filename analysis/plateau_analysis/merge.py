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
"""

from __future__ import annotations

import os

import numpy as np

from .campaign import CampaignError, open_campaign, run_coordinates
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


def open_sweep(paths, **kwargs) -> dict:
    """Open several campaign files as one: ``{group: xarray.Dataset}``.

    Parameters
    ----------
    paths : str, os.PathLike or sequence of them
        One path gives :func:`~plateau_analysis.open_campaign` unchanged.
    **kwargs
        Passed to :func:`~plateau_analysis.open_campaign`.

    Returns
    -------
    dict of str to xarray.Dataset
        The attributes are the first file's, with ``seeds`` = the largest, ``runs`` the total,
        ``path`` the paths joined by ``" + "`` and ``files`` their list.

    Raises
    ------
    ConfigMismatchError
        The files differ in a setting that is not swept, or in ``kind``.
    """
    import xarray as xr

    if isinstance(paths, (str, os.PathLike)):
        return open_campaign(paths, **kwargs)
    paths = list(paths)
    if len(paths) == 1:
        return open_campaign(paths[0], **kwargs)
    files = [open_campaign(p, **kwargs) for p in paths]
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
