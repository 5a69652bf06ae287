"""Plateau from Python: campaigns, their theory and the plateau's fixed point, in this process.

    >>> import plateau
    >>> groups = plateau.run(K=2, M=2, eta=[0.3, 0.5], N=500, seeds=4, alpha_max=300)
    >>> theory = plateau.ode(K=2, M=2, eta=[0.3, 0.5], alpha_max=300)
    >>> [fp["plateau"]["eps_g"] for fp in plateau.fixed_point(eta=[0.3, 0.5])]

The functions take the keys of the command line (``plateau run --help``) as keyword arguments,
with ``_`` for ``-`` (``alpha_max`` for ``alpha-max``); a list, tuple, range or array is a sweep
(``eta=[0.3, 0.5]``), a string is passed as the command line would take it
(``eta="linspace(0.1, 1, 10)"``, ``K="8x4"``). ``config`` names an INI file whose keys the
keyword arguments override. They run the engine of the ``plateau`` program (the same parsing,
checks and code: a file written here is the file the command line writes for the same keys, but
for its ``command_line`` attribute) on its oneTBB task arena, with the GIL released.

- :func:`run` simulates (``plateau run``), :func:`ode` integrates the N -> infinity theory
  (``plateau ode``); each returns ``{group: xarray.Dataset}`` as
  :func:`plateau_analysis.load_campaign` gives it, from ``output`` (kept) or from a temporary
  file (removed).
- :func:`fixed_point` returns each grid point's symmetric fixed point, escape rate, the fixed
  points along a generic trajectory, the escape-time prediction and eta_max as Python objects.
- Bad input raises :class:`ValueError` with the command line's one-line message. Ctrl-C (or
  Jupyter's interrupt) raises :class:`KeyboardInterrupt` once the runs in flight are written:
  a file given as ``output`` is then finished by the same call with ``resume=True``.
- Progress: a bar (tqdm: a widget in Jupyter when ipywidgets is installed) while a campaign runs,
  when stderr is a terminal or in Jupyter; ``progress=False`` for none, ``True`` always, or a
  callable ``progress(done, total, unit)``.

Every key, its default and what it may be: :data:`KEYS` (from the engine's registry), also listed
in the docstrings of :func:`run` and :func:`ode`.
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
from collections.abc import Callable, Iterable, Mapping
from numbers import Integral, Real
from pathlib import Path
from typing import Any, Union

import _plateau

__all__ = ["KEYS", "fixed_point", "ode", "run", "version"]

PathLike = Union[str, "os.PathLike[str]"]
Progress = Union[bool, None, Callable[[float, float, str], Any]]

#: Every configuration key: name -> {"default", "follows", "unit", "help", "allowed",
#: "sweepable"}, in the engine's registry order (cli/config.cpp).
KEYS: dict[str, dict[str, Any]] = {k["name"]: k for k in _plateau.keys()}


def version() -> str:
    """The engine's version, as ``plateau --version`` prints it."""
    return _plateau.version()


def _scalar_text(key: str, value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Integral):
        return str(int(value))
    if isinstance(value, Real):
        return repr(float(value))  # the shortest text that reads back as the same double
    if isinstance(value, (str, os.PathLike)):
        return os.fspath(value)
    raise TypeError(f"{key}={value!r}: allowed are numbers, booleans, strings, and lists of them")


def _value_text(key: str, value: Any) -> str:
    if isinstance(value, (Mapping, set, frozenset)):
        raise TypeError(f"{key}={value!r}: allowed are numbers, booleans, strings, and lists of "
                        "them")
    if isinstance(value, (str, bytes, os.PathLike)) or not isinstance(value, Iterable):
        return _scalar_text(key, value)
    items = list(value)
    if not items:
        raise ValueError(f"{key}=[]: a sweep needs at least one value")
    return ",".join(_scalar_text(key, v) for v in items)


def _arguments(config: PathLike | None, keys: Mapping[str, Any]) -> list[str]:
    """The command line's words for `keys`: ``--key=value`` (a flag option alone, or nothing
    when False)."""
    args = [] if config is None else [os.fspath(config)]
    for name, value in keys.items():
        key = name.replace("_", "-")
        if value is None:
            continue
        if isinstance(value, bool) and key not in KEYS:  # a command's own flag (--fluctuations)
            if value:
                args.append("--" + key)
            continue
        args.append(f"--{key}={_value_text(name, value)}")
    return args


def _call_text(function: str, config: PathLike | None, keys: Mapping[str, Any]) -> str:
    """What the file records as its command_line: the call, in Python."""
    parts = [] if config is None else [repr(os.fspath(config))]
    parts += [f"{k}={v!r}" for k, v in keys.items()]
    return f"plateau.{function}({', '.join(parts)})"


def _in_jupyter() -> bool:
    shell = sys.modules.get("IPython")
    ip = getattr(shell, "get_ipython", lambda: None)() if shell else None
    return ip is not None and "IPKernelApp" in getattr(ip, "config", {})


class _Bar:
    """A progress bar (tqdm) fed by the engine's progress reports."""

    def __init__(self, description: str):
        self._description = description
        self._bar: Any = None

    def __call__(self, done: float, total: float, unit: str) -> None:
        if self._bar is None:
            try:
                if _in_jupyter():
                    import importlib.util
                    if importlib.util.find_spec("ipywidgets") is not None:
                        from tqdm.notebook import tqdm
                    else:
                        from tqdm.std import tqdm
                else:
                    from tqdm.std import tqdm
            except ImportError:  # no tqdm (Debian python3-tqdm): a line on stderr
                tqdm = None
            if tqdm is None:
                self._bar = _Line(self._description)
            else:
                scale = unit != "alpha"
                self._bar = tqdm(total=total, desc=self._description, unit=unit,
                                 unit_scale=scale, leave=True, dynamic_ncols=True)
        self._bar.n = min(done, total)
        self._bar.refresh()

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()


class _Line:
    """The fallback without tqdm: the share done, redrawn on one line of stderr."""

    def __init__(self, description: str):
        self.n = 0.0
        self.total = 0.0
        self._description = description

    def refresh(self) -> None:
        share = 100.0 * self.n / self.total if self.total else 100.0
        sys.stderr.write(f"\r{self._description}: {share:5.1f} %")
        sys.stderr.flush()

    def close(self) -> None:
        sys.stderr.write("\n")


def _progress_for(progress: Progress, description: str):
    if callable(progress) and not isinstance(progress, bool):
        return progress, None
    show = progress if progress is not None else (sys.stderr.isatty() or _in_jupyter())
    if not show:
        return None, None
    bar = _Bar(description)
    return bar, bar


def _command(command: str, function: str, config: PathLike | None, output: PathLike | None,
             overwrite: bool, resume: bool, load: bool, progress: Progress,
             keys: dict[str, Any]) -> dict[str, Any]:
    from plateau_analysis import load_campaign, open_campaign

    args = _arguments(config, keys)
    if overwrite:
        args.append("--overwrite")
    if resume:
        args.append("--resume")
    args.append("--quiet")
    shown = dict(keys)
    scratch = None
    if output is None:
        if resume:
            raise ValueError("resume=True needs the file to finish: output=FILE")
        scratch = Path(tempfile.mkdtemp(prefix="plateau-"))
        path = scratch / "campaign.h5"
    else:
        path = Path(output)
        shown["output"] = os.fspath(output)
        for flag, on in (("overwrite", overwrite), ("resume", resume)):
            if on:
                shown[flag] = True
    args += ["-o", os.fspath(path)]
    callback, bar = _progress_for(progress, f"plateau {command}")
    try:
        try:
            _plateau.command(command, args, _call_text(function, config, shown), callback)
        finally:
            if bar is not None:
                bar.close()
        if scratch is not None or load:
            return load_campaign(path)
        return open_campaign(path)
    finally:
        if scratch is not None:
            shutil.rmtree(scratch, ignore_errors=True)


def run(config: PathLike | None = None, *, output: PathLike | None = None,
        overwrite: bool = False, resume: bool = False, load: bool = True,
        progress: Progress = None, **keys: Any) -> dict[str, Any]:
    """Simulate a campaign (``plateau run``): every grid point of the keys x seeds.

    Parameters
    ----------
    config : path, optional
        An INI file of keys (as ``plateau run CONFIG.ini``); keyword arguments override it.
    output : path, optional
        The campaign file to write (``-o``), kept; without it a temporary file, removed once read.
    overwrite, resume : bool
        As ``--overwrite`` and ``--resume``: replace ``output``, or finish it (after an
        interruption, with the same keys).
    load : bool, default True
        Read the file whole (:func:`plateau_analysis.load_campaign`, checksums checked);
        False: open it lazily (:func:`plateau_analysis.open_campaign`; needs ``output``).
    progress : bool or callable, optional
        See the module's documentation.
    **keys
        The configuration keys (below), ``_`` for ``-``; lists for sweeps.

    Returns
    -------
    dict of str to xarray.Dataset
        One Dataset per group, as :func:`plateau_analysis.load_campaign` returns them.

    Raises
    ------
    ValueError
        Bad input, with the command line's message (``plateau run: invalid value ...``).
    KeyboardInterrupt
        Interrupted: ``output`` holds the runs finished so far (``resume=True`` finishes it).
    """
    return _command("run", "run", config, output, overwrite, resume, load, progress, keys)


def ode(config: PathLike | None = None, *, output: PathLike | None = None,
        overwrite: bool = False, resume: bool = False, load: bool = True,
        progress: Progress = None, **keys: Any) -> dict[str, Any]:
    """The N -> infinity theory of a campaign (``plateau ode``), one run per grid point and seed.

    Takes the keys of :func:`run` and the options of ``plateau ode --help`` (``init``,
    ``init_from``, ``rtol``, ``atol``, ``predictions``, ``fluctuations=True``, ...), and returns
    the theory file's groups as :func:`run` returns a campaign's (``kind = "theory"``).
    """
    return _command("ode", "ode", config, output, overwrite, resume, load, progress, keys)


def fixed_point(config: PathLike | None = None, **keys: Any) -> list[dict[str, Any]]:
    """``plateau ode --fixed-point``: each grid point's plateau and what follows from it.

    Returns one dict per grid point: ``point`` (its index), ``coordinates`` (N, eta and the swept
    keys), ``converged`` (a symmetric fixed point was found; else ``why`` says why, and the rest
    is empty), ``plateau`` (``Q``, ``R``, ``v``, ``eps_g``, ``escape_rate`` lambda,
    ``eigenvalues`` of the linearized flow, ``residual``), ``trajectory`` (the fixed points a
    trajectory from a generic start passes up to ``trajectory_alpha_end``, each with ``alpha``
    and ``kind``), ``escape`` (the escape-time law at the grid point's N: ``mean``, ``sd``,
    ``quantiles``, and its parameters ``A``, ``rate``, ``alpha_plateau``, ``c``,
    ``sigma_initial``, ``sigma_noise``, ``dimension``; None with ``escape_why``) and ``eta_max``
    (None with ``eta_max_why``). docs/theory.md §11 defines each.
    """
    return list(_plateau.fixed_points(_arguments(config, keys),
                                      _call_text("fixed_point", config, keys)))


def _keys_text() -> str:
    lines = ["", "Keys", "----"]
    for name, k in KEYS.items():
        default = k["default"] or (f"follows {k['follows']}" if k["follows"] else "none")
        unit = f" [{k['unit']}]" if k["unit"] else ""
        lines.append(f"{name.replace('-', '_')} : default {default}{unit}")
        lines.append(f"    {k['help']} Allowed: {k['allowed']}.")
    return "\n".join(lines)


run.__doc__ = (run.__doc__ or "") + _keys_text()
ode.__doc__ = (ode.__doc__ or "") + _keys_text()
