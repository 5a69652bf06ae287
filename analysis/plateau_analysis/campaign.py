"""Reading ``plateau-campaign`` files (analysis/SCHEMA.md) into xarray Datasets.

A campaign file is a netCDF-4/HDF5 file with one group per array shape (``K2_M2``, ...).
Named as xarray's ``open_dataset`` / ``load_dataset``: :func:`open_campaign` is lazy (the data
stay in the file until used; the caller may ``.load()``), :func:`load_campaign` reads everything
and closes the file. Both check the schema name and version first (with h5py, so that a wrong
file gets a precise message) and then open every group with ``xarray.open_dataset(...,
engine="h5netcdf")``.
"""

from __future__ import annotations

import os
import re
import warnings
import zlib
from pathlib import Path
from typing import TYPE_CHECKING, Any, Union

import numpy as np

if TYPE_CHECKING:
    import xarray as xr

#: What the functions that read a file accept as its path.
PathLike = Union[str, "os.PathLike[str]"]

SCHEMA_NAME = "plateau-campaign"
#: Major schema versions (root attribute ``schema_version``) this package reads, each with any
#: minor version (``schema_version_minor``; absent in files written before it existed: 0).
#: A minor version only adds variables (analysis/SCHEMA.md, "Versions").
SUPPORTED_VERSIONS = (1,)
KINDS = ("simulation", "theory")

#: ``status`` values (the ``flag_values`` of the schema).
PENDING, COMPLETED, DIVERGED = 0, 1, 2

#: Per-run coordinates that identify a run, not a grid point.
RUN_ONLY_COORDS = ("run_index", "seed")

_GROUP_NAME = re.compile(r"^K(\d+(?:x\d+)*)_M(\d+(?:x\d+)*)$")


def group_name(K: int, M: int) -> str:
    """The name of the group of runs with ``K`` student and ``M`` teacher hidden units.

    ``"K<K>_M<M>"`` (analysis/SCHEMA.md; the engine builds it in engine/io/variables.cpp).
    """
    return f"K{int(K)}_M{int(M)}"


def parse_group_widths(name: str) -> tuple[tuple[int, ...], tuple[int, ...]] | None:
    """The hidden-layer widths ``(student, teacher)``, two tuples from the input up, of a group
    name: ``"K2_M2"`` -> ``((2,), (2,))``; deeper networks (schema 1.3): ``"K8x4_M4x2"`` ->
    ``((8, 4), (4, 2))``. None if it is not a group name."""
    match = _GROUP_NAME.match(name)
    if not match:
        return None
    student, teacher = (tuple(int(w) for w in match.group(i).split("x")) for i in (1, 2))
    return student, teacher


def parse_group_name(name: str) -> tuple[int, int] | None:
    """``(K, M)`` of a group name ``"K<K>_M<M>"`` (the first layers' widths for a deeper
    network, ``"K8x4_M4x2"``), or None if it is not one."""
    widths = parse_group_widths(name)
    return (widths[0][0], widths[1][0]) if widths else None
_REQUIRED_VARIABLES = ("eg", "Q", "R", "T", "status")
_ROOT_ATTRIBUTES_SKIPPED = ("_NCProperties",)


class CampaignError(ValueError):
    """A file that cannot be read as a plateau campaign file.

    The message names the file and says what is wrong with it, in one line.
    """


class CampaignFileNotFoundError(CampaignError, FileNotFoundError):
    """The campaign file does not exist."""


class IncompleteCampaignWarning(UserWarning):
    """The campaign file holds pending runs (not run yet, or interrupted)."""


def _text(value) -> object:
    """Decode an HDF5 attribute: bytes to str, 1-element arrays to scalars."""
    if isinstance(value, bytes):
        return value.decode("utf-8", errors="replace")
    if isinstance(value, np.ndarray) and value.shape == (1,):
        value = value[0]
    if isinstance(value, np.bytes_):
        return bytes(value).decode("utf-8", errors="replace")
    if isinstance(value, np.generic):
        return value.item()
    return value


def _one_line(exc) -> str:
    """An exception's text on one line (HDF5 messages may span several).

    The file errors of h5py and xarray (OSError, KeyError, ValueError, RuntimeError) say what is wrong; any
    other exception is a library tripping over a structure it did not expect (e.g. an
    ``AttributeError`` "'NoneType' object has no attribute 'attrs'" for a dangling dimension
    reference), whose text means nothing to the reader of the message: it is named, not quoted.
    """
    if not isinstance(exc, (OSError, KeyError, ValueError, RuntimeError)):
        return (f"its HDF5 structure is damaged or not as plateau writes it: the reader failed "
                f"with {type(exc).__name__}")
    return " ".join(str(exc).split()) or type(exc).__name__


def _damaged_runs(path, name: str) -> list:
    """``(variable, run_index)`` of every run of group ``name`` whose data fails its checksum.

    Each data variable is chunked one run per chunk with HDF5's Fletcher-32 filter
    (analysis/SCHEMA.md, "Checksums"); reading a damaged chunk fails, so every run is read on its
    own. Variables without the filter (files written before it) are not checked.
    """
    import h5py

    damaged = []
    with h5py.File(path, "r") as f:
        group = f[name]
        run_index = group["run_index"][...] if "run_index" in group else None
        for var, ds in group.items():
            if not isinstance(ds, h5py.Dataset) or not ds.fletcher32 or ds.ndim == 0:
                continue
            try:
                ds[...]  # one read of the whole variable; run by run only if it fails
                continue
            except Exception:  # noqa: BLE001 - a checksum failure is an OSError in h5py
                pass
            for i in range(ds.shape[0]):
                try:
                    ds[i]
                except Exception:  # noqa: BLE001 - a checksum failure is an OSError in h5py
                    run = int(run_index[i]) if run_index is not None else i
                    damaged.append((var, run))
    return damaged


def run_checksum(values) -> int:
    """CRC-32 (zlib's) of one run's values, in the order of ``run_checksum``'s ``covers``.

    ``values``: the run's slab of each covered variable (float64 or int8 arrays); their
    little-endian bytes are summed (analysis/SCHEMA.md, "Checksums"; engine/io/run_checksum.hpp).
    """
    crc = 0
    for v in values:
        a = np.asarray(v)
        crc = zlib.crc32(np.ascontiguousarray(a, dtype=a.dtype.newbyteorder("<")).tobytes(), crc)
    return crc


def _run_checksum_failures(group, run_index, known) -> list:
    """``("run_checksum", run_index)`` of every finished run whose ``run_checksum`` (schema 1.4)
    differs from its data: a zeroed chunk, or one whose chunk-index entry changed, passes
    Fletcher-32 but not this. Runs in ``known`` (already damaged) and pending runs are skipped."""
    if "run_checksum" not in group:
        return []  # a file before schema 1.4: Fletcher-32 only
    sums = group["run_checksum"]
    covers = _text(sums.attrs.get("covers", ""))
    names = str(covers).split()
    if not names:
        raise OSError("run_checksum has no 'covers' attribute")
    stored = sums[...]
    status = group["status"][...]
    data = [group[n] for n in names]
    out = []
    for i in range(stored.shape[0]):
        run = int(run_index[i]) if run_index is not None else i
        if status[i] == PENDING or run in known:
            continue
        if run_checksum(d[i] for d in data) != int(stored[i]):
            out.append(("run_checksum", run))
    return out


def _run_index(ds) -> np.ndarray:
    if "run_index" in ds.variables:
        return np.asarray(ds["run_index"].values)
    return np.arange(ds.sizes["run"])


def _check_flags(path, name: str, ds) -> None:
    """``status`` (and ``outcome``) inside their flag values: per-run integers, cheap to read."""
    status = np.asarray(ds["status"].values)
    run_index = _run_index(ds)
    flags = (PENDING, COMPLETED, DIVERGED)
    outside = ~np.isin(status, flags)
    if outside.any():
        i = int(np.flatnonzero(outside)[0])
        raise CampaignError(
            f"{path}: group {name!r}: status {int(status[i])} of run_index {int(run_index[i])} "
            f"is outside the flag values (0 pending, 1 completed, 2 diverged); "
            f"{int(outside.sum())} run(s) affected"
        )
    if "outcome" in ds.variables:  # schema 1.1: the flags of analysis/SCHEMA.md, "Outcomes"
        outcome = np.asarray(ds["outcome"].values)
        from .outcomes import OUTCOMES

        bad = ~np.isin(outcome, np.arange(len(OUTCOMES)))
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            flags = ", ".join(f"{k} {word}" for k, word in enumerate(OUTCOMES))
            raise CampaignError(
                f"{path}: group {name!r}: outcome {outcome[i]} of run_index {int(run_index[i])} "
                f"is outside the flag values ({flags}); {int(bad.sum())} run(s) affected"
            )


#: The levels of ``escape_predicted_law`` (schema 1.13): j/100, j = 1 ... 99.
ESCAPE_LEVELS = np.arange(1, 100) / 100.0


def _check_escape_law(path, name: str, ds) -> None:
    """``escape_predicted_law`` (schema 1.13, theory files; analysis/SCHEMA.md): dims (run,
    escape_level), the levels 0.01 ... 0.99, each run's 99 quantiles all NaN or all finite and
    non-decreasing, and equal to ``escape_predicted_q10``, ``_q50``, ``_q90`` at 0.1, 0.5, 0.9
    (the same numbers: the engine writes them from one function). Per-run values, cheap."""
    if "escape_predicted_law" not in ds.variables:
        return
    law = ds["escape_predicted_law"]
    where = f"{path}: group {name!r}: variable 'escape_predicted_law'"
    if law.dims != ("run", "escape_level"):
        raise CampaignError(f"{where} has dims {law.dims}; allowed: ('run', 'escape_level')")
    levels = np.asarray(ds["escape_level"].values, dtype=float) \
        if "escape_level" in ds.variables else np.array([])
    if levels.shape != ESCAPE_LEVELS.shape or not np.allclose(levels, ESCAPE_LEVELS, rtol=0,
                                                              atol=1e-12):
        raise CampaignError(f"{where}: its levels 'escape_level' are {levels.size} values "
                            f"{levels[:3].tolist()}...; allowed: the 99 levels 0.01, 0.02, ..., "
                            "0.99")
    values = np.asarray(law.values, dtype=float)
    run_index = _run_index(ds)
    finite = np.isfinite(values)
    partial = finite.any(axis=1) & ~finite.all(axis=1)
    with np.errstate(invalid="ignore"):
        falling = finite.all(axis=1) & (np.diff(values, axis=1) < 0).any(axis=1)
    for bad, what in ((partial, "is NaN at some levels only (allowed: all 99 finite or all NaN)"),
                      (falling, "decreases with the level (allowed: quantiles non-decreasing "
                                "in q)")):
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            raise CampaignError(f"{where} of run_index {int(run_index[i])} {what}; "
                                f"{int(bad.sum())} run(s) affected")
    for q, column in ((10, 9), (50, 49), (90, 89)):
        key = f"escape_predicted_q{q}"
        if key not in ds.variables:
            continue
        printed = np.asarray(ds[key].values, dtype=float)
        both = np.isfinite(printed) & finite[:, column]
        differ = both & ~np.isclose(values[:, column], printed, rtol=1e-12, atol=0)
        if differ.any():
            i = int(np.flatnonzero(differ)[0])
            raise CampaignError(
                f"{where} of run_index {int(run_index[i])} is {values[i, column]!r} at level "
                f"0.{q:02d}, {key} {printed[i]!r}; allowed: the same quantile; "
                f"{int(differ.sum())} run(s) affected")


def _check_finite(path, name: str, ds) -> None:
    """Every value of a completed run finite (reads eg, Q, R, T: every record of every run)."""
    run_index = _run_index(ds)
    completed = np.asarray(ds["status"].values) == COMPLETED
    if not completed.any():
        return
    # Runs of different lengths (a per-run alpha_max) record the grid up to their own end.
    recorded = None
    if "alpha_max" in ds.variables and ds["alpha_max"].dims == ("run",):
        recorded = (np.asarray(ds["alpha"].values)[None, :]
                    <= np.asarray(ds["alpha_max"].values)[:, None] * (1 + 1e-12))
    for var in _REQUIRED_VARIABLES:
        if var == "status" or var not in ds.variables or ds[var].dims[:1] != ("run",):
            continue
        values = np.asarray(ds[var].values)
        if values.dtype.kind != "f":
            continue
        finite = np.isfinite(values)
        if recorded is not None and ds[var].dims[:2] == ("run", "alpha"):
            finite |= ~recorded.reshape(recorded.shape + (1,) * (values.ndim - 2))
        bad = completed & ~finite.reshape(values.shape[0], -1).all(axis=1)
        if bad.any():
            runs = ", ".join(str(int(r)) for r in run_index[bad][:5])
            raise CampaignError(
                f"{path}: group {name!r}: variable {var!r} holds NaN or inf in completed "
                f"run(s) run_index {runs}" + (" ..." if bad.sum() > 5 else "")
                + " (a completed run has a finite value at every record)"
            )


def read_root_attributes(path: PathLike) -> dict[str, Any]:
    """Check that ``path`` is a campaign file this package can read; return its root attributes.

    Parameters
    ----------
    path : str or os.PathLike
        The HDF5 file.

    Returns
    -------
    dict
        The root attributes (``schema``, ``schema_version``, ``kind``, ``config``, ``seeds``, ...)
        as Python values (text decoded, scalars unwrapped), plus ``groups``: the list of group
        names in the file.

    Raises
    ------
    CampaignFileNotFoundError
        The file does not exist.
    CampaignError
        It is not an HDF5 file, not a campaign file (no ``schema = "plateau-campaign"``), has an
        unknown (e.g. newer) major ``schema_version`` (every minor version of a known major is
        read), an unknown ``kind``, or no group of runs.
    """
    import h5py

    path = Path(path)
    if not path.exists():
        if path.is_symlink():
            raise CampaignError(f"{path}: a symbolic link to nothing or a loop of symbolic links")
        raise CampaignFileNotFoundError(f"{path}: no such file")
    if path.is_dir():
        raise CampaignError(f"{path}: is a directory, not a campaign file")
    try:
        is_hdf5 = h5py.is_hdf5(str(path))
    except OSError as exc:  # unreadable (permissions, ...)
        raise CampaignError(f"{path}: cannot read the file ({exc})") from None
    if not is_hdf5:
        raise CampaignError(f"{path}: not an HDF5 file (a plateau campaign file is netCDF-4/HDF5)")
    try:
        with h5py.File(path, "r") as f:
            attrs = {k: _text(v) for k, v in f.attrs.items() if k not in _ROOT_ATTRIBUTES_SKIPPED}
            groups = [name for name, obj in f.items() if isinstance(obj, h5py.Group)]
            missing = {
                name: [v for v in _REQUIRED_VARIABLES if v not in f[name]] for name in groups
            }
    except Exception as exc:  # noqa: BLE001 - h5py raises OSError, KeyError, RuntimeError, ...
        raise CampaignError(f"{path}: cannot open the HDF5 file ({_one_line(exc)})") from None

    schema = attrs.get("schema")
    if schema is None:
        raise CampaignError(
            f"{path}: not a plateau campaign file (HDF5 without a 'schema' attribute; "
            f"expected schema = \"{SCHEMA_NAME}\")"
        )
    if schema != SCHEMA_NAME:
        raise CampaignError(
            f"{path}: not a plateau campaign file (schema = {schema!r}, expected {SCHEMA_NAME!r})"
        )
    version = attrs.get("schema_version")
    minor = attrs.setdefault("schema_version_minor", 0)
    for key, value in (("schema_version", version), ("schema_version_minor", minor)):
        if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)):
            raise CampaignError(f"{path}: invalid {key} {value!r} (expected an integer)")
    if version not in SUPPORTED_VERSIONS:
        newest = max(SUPPORTED_VERSIONS)
        if version > newest:
            raise CampaignError(
                f"{path}: schema_version {version} is newer than this reader supports "
                f"(major version {newest}, any minor version); update plateau_analysis"
            )
        raise CampaignError(
            f"{path}: unknown schema_version {version} (this reader supports major version "
            f"{', '.join(map(str, SUPPORTED_VERSIONS))}, any minor version)"
        )
    kind = attrs.get("kind")
    if kind not in KINDS:
        raise CampaignError(
            f"{path}: unknown kind {kind!r} (expected one of {', '.join(KINDS)})"
        )
    if not groups:
        raise CampaignError(f"{path}: campaign file without any group of runs")
    for name, absent in missing.items():
        if absent:
            raise CampaignError(
                f"{path}: group {name!r} lacks the variable(s) {', '.join(absent)}"
            )
    attrs["groups"] = groups
    return attrs


def _check_checksums(path, name: str, run_checksums: bool = False) -> None:
    """Raise :class:`CampaignError` naming the runs of group ``name`` that fail their checksum:
    Fletcher-32 of each chunk, or with ``run_checksums`` each finished run's ``run_checksum``
    (checked after the flags and finite values, whose messages say more of a value edited in
    place)."""
    try:
        if run_checksums:
            import h5py

            with h5py.File(path, "r") as f:
                group = f[name]
                run_index = group["run_index"][...] if "run_index" in group else None
                damaged = _run_checksum_failures(group, run_index, set())
        else:
            damaged = _damaged_runs(path, name)
    except Exception as exc:  # noqa: BLE001 - any reader failure is a bad file
        raise CampaignError(f"{path}: cannot read group {name!r} ({_one_line(exc)})") from None
    if damaged:
        listed = ", ".join(f"{var} of run_index {run}" for var, run in damaged[:5])
        runs = sorted({run for _, run in damaged})
        raise CampaignError(
            f"{path}: group {name!r}: data of {len(runs)} run(s) fail(s) their checksum "
            f"(bits changed on disk: flipped, zeroed or misdirected): {listed}" + (" ..." if len(damaged) > 5 else "")
            + "; 'plateau run --resume' recomputes damaged runs"
        )


def _read_campaign(path: PathLike, *, load: bool, warn_incomplete: bool,
                   open_kwargs: dict[str, Any]) -> dict[str, xr.Dataset]:
    """:func:`open_campaign` (``load=False``) and :func:`load_campaign` (``load=True``)."""
    import xarray as xr

    if "group" in open_kwargs:
        raise TypeError("open_campaign/load_campaign read every group of the file: "
                        "'group' is not an option (select one from the dict returned)")
    options: dict[str, Any] = {"engine": "h5netcdf", **open_kwargs}
    root = read_root_attributes(path)
    groups = {}
    pending_total = 0
    for name in root["groups"]:
        if load:
            _check_checksums(path, name)
        try:
            ds = xr.open_dataset(path, group=name, **options)
            if load:
                with ds:
                    ds = ds.load()
        except Exception as exc:  # noqa: BLE001 - any reader failure is a bad file
            raise CampaignError(f"{path}: cannot read group {name!r} ({_one_line(exc)})") from None
        try:
            _check_flags(path, name, ds)
            _check_escape_law(path, name, ds)
            if load:
                _check_finite(path, name, ds)
                _check_checksums(path, name, run_checksums=True)
        except CampaignError:
            ds.close()
            raise
        except Exception as exc:  # noqa: BLE001 - a damaged status chunk (lazy): OSError
            ds.close()
            raise CampaignError(f"{path}: cannot read group {name!r} ({_one_line(exc)})") from None
        # The group's attributes, then the root's: the root's provenance is the file's (a
        # group holds a copy of it, see analysis/SCHEMA.md).
        attrs = {k: _text(v) for k, v in ds.attrs.items()}
        attrs.update({k: v for k, v in root.items() if k != "groups"})
        status = np.asarray(ds["status"].values)
        pending = int(np.count_nonzero(status == PENDING))
        pending_total += pending
        attrs.update(group=name, path=os.fspath(path), pending_runs=pending,
                     complete=int(pending == 0))
        shape = parse_group_name(name)
        if shape and "K" not in attrs:
            attrs["K"], attrs["M"] = shape
        ds.attrs = attrs
        groups[name] = with_settings(ds)
    if warn_incomplete and pending_total:
        runs = sum(ds.sizes["run"] for ds in groups.values())
        warnings.warn(
            f"{path}: {pending_total} of {runs} run(s) are pending (not run yet or interrupted; "
            "'plateau run --resume' finishes them); they are left out of every average",
            IncompleteCampaignWarning,
            stacklevel=3,
        )
    return groups



def open_campaign(path: PathLike, *, warn_incomplete: bool = True,
                  **kwargs: Any) -> dict[str, xr.Dataset]:
    """Open a campaign file lazily: one :class:`xarray.Dataset` per group.

    As :func:`xarray.open_dataset`: the data stay in the file until used (``ds.load()``,
    ``ds["eg"].values``), and the file stays open until the Datasets are closed
    (``ds.close()``, ``with``) or collected. :func:`load_campaign` reads all and closes it.

    Checked on opening (cheap): the schema name, version and kind, the groups and their
    required variables, ``status`` and ``outcome`` inside their flag values (per-run integers,
    read anyway to count the pending runs). Not checked, as that reads every record of every
    run (:func:`load_campaign` does): the checksums (reading a damaged run later raises h5py's
    ``OSError``) and the finite values of completed runs.

    Parameters
    ----------
    path : str or os.PathLike
        A file written by ``plateau run -o`` (``kind = "simulation"``) or ``plateau ode``
        (``kind = "theory"``), schema ``plateau-campaign`` version 1.x.
    warn_incomplete : bool, default True
        Emit an :class:`IncompleteCampaignWarning` if any run is pending.
    **kwargs
        Passed to :func:`xarray.open_dataset` for every group (``engine`` defaults to
        ``"h5netcdf"``; e.g. ``drop_variables=[...]``, ``cache=False``, ``chunks={}`` for dask
        arrays). ``group`` is refused (``TypeError``): every group is read.

    Returns
    -------
    dict of str to xarray.Dataset
        Group name (e.g. ``"K2_M2"``) to Dataset, in file order. Each Dataset's ``attrs`` hold the
        group attributes (``K``, ``M``), every root attribute (``schema``, ``schema_version``,
        ``kind``, ``config``, ``seeds``, ``master_seed``, ...), and ``group``, ``path``,
        ``pending_runs`` (pending runs in this group) and ``complete`` (no pending run).

    Raises
    ------
    CampaignFileNotFoundError, CampaignError
        See :func:`read_root_attributes`: the message says what is wrong with the file; also a
        ``status`` or ``outcome`` outside its flag values.

    Examples
    --------
    >>> groups = open_campaign("results/default.h5")        # doctest: +SKIP
    >>> ds = groups["K2_M2"].sel(run=slice(0, 4)).load()   # doctest: +SKIP
    """
    return _read_campaign(path, load=False, warn_incomplete=warn_incomplete, open_kwargs=kwargs)


def load_campaign(path: PathLike, *, warn_incomplete: bool = True,
                  **kwargs: Any) -> dict[str, xr.Dataset]:
    """Read a whole campaign file into memory: one :class:`xarray.Dataset` per group.

    As :func:`xarray.load_dataset`: :func:`open_campaign`, every group loaded, the file closed
    (it may then be rewritten, e.g. by ``plateau run --resume``).

    Checked: everything :func:`open_campaign` checks, and every run's checksum (Fletcher-32,
    analysis/SCHEMA.md, "Checksums") and that every record of a completed run is finite.

    Parameters
    ----------
    path : str or os.PathLike
        A file written by ``plateau run -o`` (``kind = "simulation"``) or ``plateau ode``
        (``kind = "theory"``), schema ``plateau-campaign`` version 1.x.
    warn_incomplete : bool, default True
        Emit an :class:`IncompleteCampaignWarning` if any run is pending.
    **kwargs
        Passed to :func:`xarray.open_dataset` for every group (``engine`` defaults to
        ``"h5netcdf"``; e.g. ``drop_variables=[...]``, ``cache=False``, ``chunks={}`` for dask
        arrays). ``group`` is refused (``TypeError``): every group is read.

    Returns
    -------
    dict of str to xarray.Dataset
        Group name (e.g. ``"K2_M2"``) to Dataset, in file order. Each Dataset's ``attrs`` hold the
        group attributes (``K``, ``M``), every root attribute (``schema``, ``schema_version``,
        ``kind``, ``config``, ``seeds``, ``master_seed``, ...), and ``group``, ``path``,
        ``pending_runs`` (pending runs in this group) and ``complete`` (no pending run).

    Raises
    ------
    CampaignFileNotFoundError, CampaignError
        See :func:`read_root_attributes`: the message says what is wrong with the file; also a
        run whose data fail their checksum, a ``status`` or ``outcome`` outside its flag
        values, NaN or inf in a completed run.

    Examples
    --------
    >>> groups = load_campaign("results/default.h5")        # doctest: +SKIP
    >>> ds = groups["K2_M2"]; ds.attrs["kind"]              # doctest: +SKIP
    'simulation'
    """
    return _read_campaign(path, load=True, warn_incomplete=warn_incomplete, open_kwargs=kwargs)


#: Saved weights (schema 1.11, simulation files with ``save-weights = initial | final |
#: records``; analysis/SCHEMA.md, "Saved weights"): absent from files without them.
WEIGHT_VARIABLES = ("weights_alpha", "weights_W", "weights_v", "weights_B", "weights_v_star")
#: The student's weights at every record (schema 1.12, ``save-weights = records``): absent from
#: files with another ``save-weights``.
RECORD_WEIGHT_VARIABLES = ("record_weights_W", "record_weights_v")


def saved_weights(ds: xr.Dataset, run: int, record: int | None = None) -> dict[str, Any] | None:
    """The weights saved for run ``run`` (its position along ``run``) of a group, at its own N.

    Returns ``None`` for a file without saved weights (``save-weights = none``, or written before
    schema 1.11) or a run that has not written them (pending). Otherwise a dict: ``alpha`` (when
    they were taken), ``W`` (K x N: row j is w_j, so ``W @ W.T`` is Q there), ``v`` (K), ``B``
    (M x N) and ``v_star`` (M), numpy arrays with the NaN padding past the run's N removed.

    With ``record`` (a position along ``alpha``, negative from the end; a file with
    ``save-weights = records``, schema 1.12): the student's ``W`` and ``v`` at that record and
    the teacher's (constant) ``B``, ``v_star``; ``alpha`` is the record's nominal time
    (``ds.alpha``). ``None`` for a record the run did not reach (NaN: diverged, or past its
    ``alpha_max``). A file without weights at every record raises ``ValueError``.
    """
    if any(name not in ds.variables for name in WEIGHT_VARIABLES):
        if record is not None:
            raise ValueError("the file has no saved weights at every record "
                             "(save-weights = records)")
        return None
    one = ds.isel(run=run)
    alpha = float(one["weights_alpha"].values)
    n = int(one["N"].values) if "N" in one.variables else one.sizes["input"]
    if record is not None:
        if any(name not in ds.variables for name in RECORD_WEIGHT_VARIABLES):
            raise ValueError("the file has no saved weights at every record "
                             "(save-weights = records)")
        at = one.isel(alpha=record)
        W = np.asarray(at["record_weights_W"].values)[:, :n]
        if not np.isfinite(W).all():
            return None
        alpha = float(at["alpha"].values)
        student = {"W": W, "v": np.asarray(at["record_weights_v"].values)}
    else:
        if not np.isfinite(alpha):
            return None
        student = {"W": np.asarray(one["weights_W"].values)[:, :n],
                   "v": np.asarray(one["weights_v"].values)}
    return {
        "alpha": alpha,
        **student,
        "B": np.asarray(one["weights_B"].values)[:, :n],
        "v_star": np.asarray(one["weights_v_star"].values),
    }


#: Variables of classification on Gaussian-mixture inputs (schema 1.6, simulation files;
#: analysis/SCHEMA.md): NaN for runs on Gaussian inputs, absent from older files.
MIXTURE_VARIABLES = ("class_error", "bayes_error", "bayes_error_stderr")


def mixture_runs(ds: xr.Dataset) -> np.ndarray:
    """Per run (shape (run,)): whether it learned from Gaussian-mixture inputs
    (``inputs = mixture``, docs/theory.md section 15): its ``bayes_error`` is a number (in
    simulation and theory files, section 15c). All False for Gaussian inputs and files before
    schema 1.6."""
    if "bayes_error" not in ds.variables:
        return np.zeros(ds.sizes["run"], dtype=bool)
    return np.isfinite(np.asarray(ds["bayes_error"].values, dtype=float))


def with_settings(ds: xr.Dataset) -> xr.Dataset:
    """``ds`` with every setting of its group (the group attribute ``settings`` lists them:
    each run key that is not a per-run coordinate, e.g. ``noise``, ``activation``) as a scalar
    coordinate, so that ``xarray.concat`` of groups from several files along ``run`` turns the
    settings that differ into per-run coordinates and the runs stay told apart.

    Files written before the attribute existed are returned unchanged."""
    if "settings" not in ds.attrs:
        return ds
    names = ["K", "M"] + str(ds.attrs["settings"]).split()
    scalars = {n: ds.attrs[n] for n in names if n in ds.attrs and n not in ds.variables}
    return ds.assign_coords(scalars) if scalars else ds


def run_coordinates(ds: xr.Dataset) -> list[str]:
    """Names of the per-run coordinates that define a grid point.

    Every coordinate along ``run`` except ``run_index`` and ``seed`` (e.g. ``N``, ``eta``, and
    any other swept key such as ``activation`` or ``noise``).

    Parameters
    ----------
    ds : xarray.Dataset
        One group of a campaign file.

    Returns
    -------
    list of str
    """
    return [
        name
        for name, coord in ds.coords.items()
        if coord.dims == ("run",) and name not in RUN_ONLY_COORDS
    ]


def swept_coordinates(ds: xr.Dataset, dim: str = "run") -> list[str]:
    """Names of the per-run (or per-point) coordinates that take more than one value.

    Parameters
    ----------
    ds : xarray.Dataset
        A campaign group (``dim="run"``) or a :func:`~plateau_analysis.seed_average` result
        (``dim="point"``).
    dim : str
        The dimension the coordinates lie along.

    Returns
    -------
    list of str
    """
    names = []
    for name, coord in ds.coords.items():
        if coord.dims != (dim,) or name in RUN_ONLY_COORDS or name == dim:
            continue
        values = coord.values
        if values.dtype.kind == "f":
            distinct = np.unique(values[np.isfinite(values)])
        else:
            distinct = np.unique(values.astype(str))
        if distinct.size > 1:
            names.append(name)
    # A run length set from another swept key (alpha-max-scale = inverse-eta: alpha_max =
    # alpha-max / eta) is not a parameter of its own: leave it out when the others fix it.
    if "alpha_max" in names and len(names) > 1:
        others = [n for n in names if n != "alpha_max"]
        keys = [tuple(str(ds[n].values[i]) for n in others) for i in range(ds.sizes[dim])]
        lengths = {}
        for key, length in zip(keys, np.asarray(ds["alpha_max"].values)):
            lengths.setdefault(key, set()).add(float(length))
        if all(len(v) == 1 for v in lengths.values()):
            names.remove("alpha_max")
    return names


def grid_point_index(ds: xr.Dataset) -> np.ndarray:
    """The global grid-point index of every run.

    ``run_index // seeds`` (the schema's definition) when the ``seeds`` attribute and the
    ``run_index`` coordinate are present; otherwise runs are grouped by equal values of all
    per-run coordinates (:func:`run_coordinates`), numbered in order of first appearance.

    Parameters
    ----------
    ds : xarray.Dataset
        One group of a campaign file.

    Returns
    -------
    numpy.ndarray of int64, shape (run,)
    """
    seeds = ds.attrs.get("seeds")
    if "run_index" in ds.coords and isinstance(seeds, (int, np.integer)) and seeds > 0:
        return np.asarray(ds["run_index"].values, dtype=np.int64) // int(seeds)
    keys = [tuple(str(ds[c].values[r]) for c in run_coordinates(ds)) for r in range(ds.sizes["run"])]
    order = {}
    return np.array([order.setdefault(k, len(order)) for k in keys], dtype=np.int64)
