"""The grid of a campaign group as real dimensions: ``ds.sel(eta=0.5)``.

A campaign group stores its runs along one dimension ``run`` with per-run coordinates (``eta``,
``N``, every other swept key, ``seed``). :func:`as_grid` turns those coordinates into
dimensions, so that the grid is indexed by value:

>>> g = as_grid(load_campaign("sweep.h5")["K2_M2"])     # doctest: +SKIP
>>> g.eg.sel(eta=0.5).mean("seed")                      # doctest: +SKIP

Plain xarray does the same with ``ds.set_index(run=[...]).unstack("run")`` (analysis/README.md).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from .campaign import PathLike, load_campaign, open_campaign, run_coordinates, swept_coordinates

if TYPE_CHECKING:
    import xarray as xr

#: Coordinates that are always grid dimensions (every campaign file has them).
ALWAYS_DIMENSIONS = ("eta", "N")


def grid_dimensions(ds: xr.Dataset, *, all_coordinates: bool = False) -> list[str]:
    """The per-run coordinates that :func:`as_grid` makes dimensions, in that order.

    Parameters
    ----------
    ds : xarray.Dataset
        One group of a campaign file.
    all_coordinates : bool, default False
        Every per-run coordinate (length-1 dimensions for the keys that are not swept) instead
        of ``eta``, ``N`` and the swept ones.

    Returns
    -------
    list of str
        Ending with ``seed``.
    """
    coords = run_coordinates(ds)
    swept = set(swept_coordinates(ds))
    keep = [n for n in coords if all_coordinates or n in swept or n in ALWAYS_DIMENSIONS]
    return keep + (["seed"] if "seed" in ds.coords else [])


def as_grid(ds: xr.Dataset, *, all_coordinates: bool = False) -> xr.Dataset:
    """The group with the grid as dimensions (``eta``, ``N``, other swept keys, ``seed``).

    The ``run`` dimension is unstacked into one dimension per swept coordinate plus ``eta``,
    ``N`` and ``seed``; per-run coordinates that are not swept become scalar coordinates;
    ``run_index`` and ``status`` become variables on the new dimensions. Runs that do not
    exist in a ragged grid (e.g. two files merged) read as NaN (``status`` and ``run_index`` as -1).

    Parameters
    ----------
    ds : xarray.Dataset
        One group of a campaign file (:func:`~plateau_analysis.open_campaign`).
    all_coordinates : bool, default False
        See :func:`grid_dimensions`.

    Returns
    -------
    xarray.Dataset
        Dimensions e.g. ``(eta, N, seed, alpha, student, ...)``: ``g.eg.sel(eta=0.5)``,
        ``g.eg.mean("seed")``. The attributes of ``ds`` are kept.

    Raises
    ------
    ValueError
        Two runs with the same coordinates (the grid is not a grid).
    """
    dims = grid_dimensions(ds, all_coordinates=all_coordinates)
    index = [tuple(ds[d].values[r].item() if hasattr(ds[d].values[r], "item")
                   else ds[d].values[r] for d in dims) for r in range(ds.sizes["run"])]
    if len(set(index)) != len(index):
        raise ValueError(f"two runs share the coordinates ({', '.join(dims)}): not a grid")
    scalars = [n for n in run_coordinates(ds) if n not in dims]
    out = ds.copy()
    for name in scalars:  # constant along run: a scalar coordinate
        out = out.assign_coords({name: ((), ds[name].values[0], dict(ds[name].attrs))})
    if "run_index" in out.coords:
        out = out.reset_coords("run_index")
    fill = {}
    for name, var in out.data_vars.items():
        if "run" not in var.dims:
            continue
        if var.dtype.kind in "iu":  # status, run_index: -1 for a missing run
            out[name] = var.astype(np.int64)
            fill[name] = -1
        else:
            fill[name] = np.nan
    out = out.set_index(run=dims).unstack("run", fill_value=fill).transpose(*dims, ...)
    out.attrs = dict(ds.attrs)
    return out


def open_grid(path: PathLike, *, all_coordinates: bool = False,
              **kwargs: Any) -> dict[str, xr.Dataset]:
    """:func:`~plateau_analysis.open_campaign` (lazy) with every group through :func:`as_grid`.

    Parameters
    ----------
    path : str or os.PathLike
    all_coordinates : bool, default False
        See :func:`grid_dimensions`.
    **kwargs
        Passed to :func:`~plateau_analysis.open_campaign` (``warn_incomplete``) and from there
        to :func:`xarray.open_dataset`.

    Returns
    -------
    dict of str to xarray.Dataset
        Unstacking the runs reads the variables along ``run`` (unless ``chunks=`` makes them
        dask arrays); the others stay in the file until used.
    """
    return {name: as_grid(ds, all_coordinates=all_coordinates)
            for name, ds in open_campaign(path, **kwargs).items()}


def load_grid(path: PathLike, *, all_coordinates: bool = False,
              **kwargs: Any) -> dict[str, xr.Dataset]:
    """:func:`~plateau_analysis.load_campaign` (in memory, file closed, every check) with every
    group through :func:`as_grid`.

    Parameters
    ----------
    path : str or os.PathLike
    all_coordinates : bool, default False
        See :func:`grid_dimensions`.
    **kwargs
        Passed to :func:`~plateau_analysis.load_campaign`.

    Returns
    -------
    dict of str to xarray.Dataset
    """
    return {name: as_grid(ds, all_coordinates=all_coordinates)
            for name, ds in load_campaign(path, **kwargs).items()}
