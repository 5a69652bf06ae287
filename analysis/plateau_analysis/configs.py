"""Comparing the configurations of campaign files (their ``config`` root attribute).

Every campaign file holds its fully resolved configuration as INI text (analysis/SCHEMA.md,
root attribute ``config``). Two files describe the same experiment when the keys that matter
agree:

- a theory file (``--theory``) against a simulation file (:func:`theory_mismatches`): every key
  except those that do not exist in the N -> infinity theory or do not change a curve
  (:data:`THEORY_IGNORED`: seeds, threads, N, record times, Monte-Carlo samples, divergence
  threshold). The swept keys are matched grid point by grid point instead
  (:func:`~plateau_analysis.report.match_theory`).
- several simulation files read as one sweep (:func:`sweep_mismatches`): every key except
  ``seed``, ``seeds`` and ``threads`` and the keys that are per-run coordinates (the swept ones,
  and ``eta`` and ``N`` which always are).
"""

from __future__ import annotations

import math

from .campaign import CampaignError

#: Keys never compared: random seeds and the thread count (they change no expected curve).
RUN_KEYS = ("seed", "seeds", "threads")
#: Keys a theory file may differ in from a simulation file: no such thing at N -> infinity, or
#: only the record times.
THEORY_IGNORED = RUN_KEYS + ("N", "alpha-max", "alpha-min", "records", "schedule",
                             "eg-samples", "divergence-q")


class ConfigMismatchError(CampaignError):
    """Files whose configurations differ in a key that matters (the message names them)."""


class ConfigMismatchWarning(UserWarning):
    """A theory file that does not fit the results, used anyway (``force``), or grid points
    without a matching theory point."""


def parse_config(text: str) -> dict:
    """Parse a ``config`` root attribute (INI ``key = value`` lines) into a dict of text.

    Section headers and comments (``#``) are skipped.

    Parameters
    ----------
    text : str

    Returns
    -------
    dict of str to str
    """
    out = {}
    for line in (text or "").splitlines():
        line = line.split("#", 1)[0].strip()
        if "=" in line and not line.startswith("["):
            key, value = line.split("=", 1)
            out[key.strip()] = value.strip()
    return out


def _items(value: str) -> tuple:
    """A value as a tuple of normalized items (a comma-separated list is a sweep)."""
    items = []
    for item in value.split(","):
        item = item.strip()
        try:
            x = float(item)
            items.append(x if math.isfinite(x) else item)
        except ValueError:
            items.append(item.lower() if item.lower() in ("true", "false") else item)
    return tuple(items)


def same_value(a: str, b: str) -> bool:
    """Whether two config values are equal: numbers to 1e-12 relative, text exactly."""
    ia, ib = _items(a), _items(b)
    if len(ia) != len(ib):
        return False
    for x, y in zip(ia, ib):
        if isinstance(x, float) and isinstance(y, float):
            if not math.isclose(x, y, rel_tol=1e-12, abs_tol=0.0):
                return False
        elif x != y:
            return False
    return True


def is_sweep(value: str) -> bool:
    """Whether a config value lists several values (a swept key)."""
    return len(_items(value)) > 1


def differences(configs: dict, ignore=()) -> dict:
    """Keys whose values differ among configurations.

    Parameters
    ----------
    configs : dict of str to dict
        Name (e.g. the file) to parsed configuration (:func:`parse_config`).
    ignore : iterable of str
        Keys not compared.

    Returns
    -------
    dict of str to dict
        Key to {name: value} (``"(absent)"`` where a configuration lacks a key another has),
        only for keys that differ; in the order of the first configuration's keys.
    """
    ignore = set(ignore)
    keys = []
    for cfg in configs.values():
        keys += [k for k in cfg if k not in keys and k not in ignore]
    out = {}
    for key in keys:
        values = {name: cfg.get(key) for name, cfg in configs.items()}
        present = [v for v in values.values() if v is not None]
        if len(present) < len(values) or any(not same_value(present[0], v) for v in present):
            out[key] = {n: ("(absent)" if v is None else v) for n, v in values.items()}
    return out


def describe(diffs: dict) -> str:
    """``"activation = relu (a.h5) vs erf (b.h5); noise = ..."``: one line."""
    parts = []
    for key, values in diffs.items():
        parts.append(f"{key} = " + " vs ".join(f"{v} ({n})" for n, v in values.items()))
    return "; ".join(parts)


def theory_mismatches(results_config: str, theory_config: str, results_name: str = "results",
                      theory_name: str = "theory") -> dict:
    """The keys that matter in which a theory file differs from a simulation file.

    Keys in :data:`THEORY_IGNORED` and keys that are absent from one of the two (e.g. options
    only ``plateau ode`` has) are not compared. Swept keys (a list of values in either file)
    are not compared either: they are matched per grid point.

    Parameters
    ----------
    results_config, theory_config : str
        The ``config`` root attributes.
    results_name, theory_name : str
        Names used in the result (e.g. the file names).

    Returns
    -------
    dict
        As :func:`differences`; empty when the theory belongs to the results.
    """
    a, b = parse_config(results_config), parse_config(theory_config)
    shared = set(a) & set(b)
    ignore = set(THEORY_IGNORED) | {k for k in shared if is_sweep(a[k]) or is_sweep(b[k])}
    ignore |= (set(a) | set(b)) - shared
    return differences({results_name: a, theory_name: b}, ignore)


def sweep_mismatches(configs: dict, coordinates) -> dict:
    """The keys in which campaign files differ that are not per-run coordinates.

    Parameters
    ----------
    configs : dict of str to str
        Name (file) to its ``config`` root attribute.
    coordinates : iterable of str
        Config keys that are per-run coordinates in any of the files (their ``config_key``
        spelling: ``eta``, ``N``, ``eta-v``, ...): these may differ.

    Returns
    -------
    dict
        As :func:`differences`.
    """
    parsed = {name: parse_config(text) for name, text in configs.items()}
    return differences(parsed, set(RUN_KEYS) | set(coordinates))
