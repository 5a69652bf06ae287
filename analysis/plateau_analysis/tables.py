"""Tables without pandas: one-dimensional Datasets as rows, CSV files and aligned text."""

from __future__ import annotations

import csv
import math
import os
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Union

import numpy as np

if TYPE_CHECKING:
    import xarray as xr

#: A one-dimensional Dataset or its rows.
Table = Union["xr.Dataset", list[dict[str, Any]]]


def _python(value):
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, bytes):
        value = value.decode("utf-8", errors="replace")
    return value


def table_rows(ds: Table, columns: Sequence[str] | None = None) -> list[dict[str, Any]]:
    """Rows of a one-dimensional Dataset (e.g. :func:`~plateau_analysis.plateaus` output).

    Parameters
    ----------
    ds : xarray.Dataset or list of dict
        A Dataset with a single dimension (``run`` or ``point``); its coordinates and data
        variables along that dimension become columns (coordinates first). A list of dicts is
        returned as it is (restricted to ``columns`` if given).
    columns : sequence of str, optional
        Columns to keep, in this order.

    Returns
    -------
    list of dict
        One dict per entry along the dimension, with Python scalars.
    """
    if isinstance(ds, list):
        rows = ds
    else:
        if len(ds.dims) != 1:
            raise ValueError(f"table_rows() needs a one-dimensional Dataset, got {dict(ds.sizes)}")
        dim = next(iter(ds.dims))
        names = [dim] if dim in ds.coords else []
        names += [n for n, c in ds.coords.items() if c.dims == (dim,) and n != dim]
        names += [n for n, v in ds.data_vars.items() if v.dims == (dim,)]
        values = {n: ds[n].values for n in names}
        rows = [{n: _python(values[n][i]) for n in names} for i in range(ds.sizes[dim])]
    if columns is not None:
        rows = [{c: row.get(c) for c in columns} for row in rows]
    return rows


def format_value(value, digits: int = 4) -> str:
    """Text of a number or a cell: the one formatter of every number the package prints (tables,
    summaries, legends and titles).

    Floats with ``digits`` significant digits, except whole numbers below 1e15, which are
    written out as integers (``N = 100000`` beside ``N = 10000``, never ``1e+05``); NaN as
    ``nan``; booleans as yes/no; bytes decoded.

    Parameters
    ----------
    value : object
    digits : int

    Returns
    -------
    str
    """
    if value is None:
        return ""
    if isinstance(value, (bool, np.bool_)):
        return "yes" if value else "no"
    if isinstance(value, bytes):
        return value.decode("utf-8", errors="replace")
    if isinstance(value, (float, np.floating)):
        value = float(value)
        if math.isnan(value):
            return "nan"
        if value.is_integer() and abs(value) < 1e15:
            return str(int(value))
        return f"{value:.{digits}g}"
    return str(value)


def write_csv(table: Table, path: str | os.PathLike[str],
              columns: Sequence[str] | None = None) -> Path:
    """Write a table as CSV (comma-separated, a header row, floats with 8 significant digits).

    Parameters
    ----------
    table : xarray.Dataset or list of dict
        See :func:`table_rows`.
    path : str or os.PathLike
    columns : sequence of str, optional
        Columns and their order (default: all, in order of first appearance).

    Returns
    -------
    pathlib.Path
    """
    rows = table_rows(table, columns)
    if columns is None:
        columns = []
        for row in rows:
            columns += [c for c in row if c not in columns]
    path = Path(path)
    with path.open("w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(columns)
        for row in rows:
            writer.writerow([format_value(row.get(c), 8) for c in columns])
    return path


def format_table(table: Table, columns: Sequence[str] | None = None,
                 headers: Sequence[str] | None = None) -> str:
    """The table as aligned plain text (right-aligned columns).

    Parameters
    ----------
    table : xarray.Dataset or list of dict
        See :func:`table_rows`.
    columns : sequence of str, optional
    headers : sequence of str, optional
        Column titles (default: the column names).

    Returns
    -------
    str
    """
    rows = table_rows(table, columns)
    if columns is None:
        columns = list(rows[0]) if rows else []
    headers = list(headers) if headers is not None else list(columns)
    cells = [[format_value(row.get(c)) for c in columns] for row in rows]
    widths = [max([len(h)] + [len(r[i]) for r in cells]) for i, h in enumerate(headers)]
    lines = ["  ".join(h.rjust(w) for h, w in zip(headers, widths))]
    lines += ["  ".join(c.rjust(w) for c, w in zip(r, widths)) for r in cells]
    return "\n".join(lines)
