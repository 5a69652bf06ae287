"""Bit-identity of campaign files across refactors.

``tests/golden/files.json`` holds, for small configurations that between them touch every model
option and every kind of run, the SHA-256 of every dataset's raw bytes and the configuration hash
the file carries:

- simulations (``plateau run``): every g and h, learned v, label noise, K != M, N below and above
  the trainer's chunk size, both teacher inits, both schedules, Monte-Carlo eps_g (the five cases
  written before the wave-2 refactors); mini-batches with weight decay; finite training sets
  (``train-set`` / ``alpha-train``, both samplings, ``batch = all``); ``dynamics = gram``; deeper
  networks (``K = 4x2``, ``4x3x2`` with per-layer ``eta-layers`` / ``learn-layers``);
  Gaussian-mixture inputs (``inputs = mixture``: XOR with both losses, two clusters on a
  training set); hidden-manifold inputs (``inputs = hidden-manifold``: relu features at two
  latent ratios, sign features on a training set with mini-batches and weight decay);
- the theory (``plateau ode``): the closed-form integrals (erf, relu; sampled and symmetric
  initial conditions, initial conditions of a gram run), the quadrature (tanh, K + M = 5), the
  tensor rule (tanh at K + M = 4; square student, he2 teacher; erf with tanh outputs) and the
  joint rule (g != g*); Gaussian-mixture inputs (erf and relu, both losses);
- shards: ``SHARDED`` cases run every ``--shard i/n`` and ``plateau merge`` the parts; the merged
  file must carry exactly the hashes of the unsharded case.

This test regenerates the files and compares both ways: a dataset whose bytes differ, a dataset
missing from the new file and a dataset the golden file does not know all fail it, by name. So
does a case without golden entry, or a golden entry without case.

The hashes hold for the binary of the ``ci`` preset (portable x86-64, no FMA contraction across
ISAs): other presets (``release`` is -march=native) may differ in the last bits, so the test
skips unless PLATEAU_GOLDEN=1 is set (the ``ci`` preset sets it).

Regenerate (with ``PLATEAU_BUILD_DIR=build/ci``, the built ``plateau`` of the ``ci`` preset):
    /usr/bin/python3 tests/python/test_golden.py --add
        records only what the file lacks: new cases, and new datasets of existing cases; it
        refuses (exit 1, no write) if any recorded hash differs or a recorded dataset is gone.
        Use it when a case or a dataset is added. Check that ``git diff tests/golden`` shows
        only added lines.
    /usr/bin/python3 tests/python/test_golden.py --write
        rewrites every entry: only when a change of results is intended, in a commit that says
        so, and say it in CHANGELOG.md.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import h5py
import numpy as np
import pytest

from conftest import _program as built_program

REPO = Path(os.environ.get("PLATEAU_SOURCE_DIR") or Path(__file__).resolve().parents[2])
GOLDEN = REPO / "tests" / "golden" / "files.json"

# name -> (subcommand, arguments); each case takes well under 2 s on the ci build.
CASES = {
    # --- written before the wave-2 refactors
    "default-small": ("run", ["--N", "60", "--alpha-max", "3", "--seeds", "2", "--records", "8"]),
    "sweep-learnv-noise-relu": ("run", [
        "--N", "40", "--K", "3", "--M", "2", "--activation", "relu",
        "--teacher-activation", "relu", "--learn-v", "true", "--noise", "0.1",
        "--eta", "0.3,0.7", "--alpha-max", "2", "--seeds", "2", "--records", "6",
        "--schedule", "linear", "--v0", "0.5"]),
    "tanh-output-mc": ("run", [
        "--N", "37", "--K", "4", "--M", "3", "--activation", "tanh",
        "--teacher-activation", "sigmoid", "--output-activation", "tanh",
        "--teacher-output-activation", "tanh", "--gamma", "1.5", "--teacher-init", "gaussian",
        "--alpha-max", "1", "--seeds", "2", "--records", "5", "--eg-samples", "500"]),
    "chunked-linear": ("run", [
        "--N", "700", "--K", "2", "--M", "1", "--activation", "linear",
        "--teacher-activation", "erf", "--learn-v", "true", "--eta-v", "0.2",
        "--alpha-max", "0.5", "--seeds", "1", "--records", "4"]),
    "theory": ("ode", ["--N", "100", "--K", "2", "--M", "3", "--eta", "0.5,1",
                       "--alpha-max", "20", "--seeds", "2", "--records", "10"]),
    # --- training regimes: mini-batches of fresh examples, finite training sets
    "batch-weight-decay": ("run", [
        "--N", "50", "--K", "3", "--M", "2", "--batch", "8", "--weight-decay", "0.01",
        "--learn-v", "true", "--alpha-max", "2", "--seeds", "2", "--records", "6"]),
    "alpha-train-sampling": ("run", [
        "--N", "40", "--K", "2", "--M", "2", "--alpha-train", "1.5",
        "--sampling", "epochs,replacement", "--batch", "4", "--noise", "0.05",
        "--alpha-max", "2", "--seeds", "2", "--records", "6"]),
    "train-set-batch-all": ("run", [
        "--N", "40", "--K", "2", "--M", "2", "--train-set", "60", "--batch", "all",
        "--weight-decay", "0.001", "--alpha-max", "1", "--seeds", "2", "--records", "6"]),
    # --- the Gram chain
    "gram": ("run", [
        "--N", "30", "--K", "2", "--M", "3", "--dynamics", "gram", "--learn-v", "true",
        "--noise", "0.05", "--weight-decay", "0.01", "--teacher-init", "gaussian", "--alpha-max", "3", "--seeds", "2",
        "--records", "6"]),
    # --- deeper networks
    "deep-4x2": ("run", [
        "--N", "40", "--K", "4x2", "--M", "4x2", "--eta-layers", "0.3,0.6",
        "--learn-layers", "false", "--learn-v", "true", "--alpha-max", "2", "--seeds", "2",
        "--records", "6"]),
    "deep-4x3x2-train-set": ("run", [
        "--N", "40", "--K", "4x3x2", "--M", "4x2", "--eta-layers", "0.3:0.2",
        "--learn-layers", "true:false", "--train-set", "80", "--batch", "4",
        "--weight-decay", "0.01", "--alpha-max", "2", "--seeds", "2", "--records", "6"]),
    # --- the theory: closed-form integrals, quadrature, tensor rule, joint rule
    "ode-integrals-relu-learnv": ("ode", [
        "--N", "100", "--K", "2", "--M", "3", "--activation", "relu",
        "--teacher-activation", "relu", "--learn-v", "true", "--noise", "0.1",
        "--v-star", "0.8", "--alpha-max", "5", "--seeds", "2", "--records", "6"]),
    "ode-integrals-erf-symmetric": ("ode", [
        "--N", "100", "--K", "3", "--M", "2", "--init", "symmetric", "--r0", "0.1",
        "--learn-v", "true", "--noise", "0.05", "--eta", "0.4,0.8", "--alpha-max", "10",
        "--records", "8"]),
    "ode-gram-init": ("ode", [
        "--N", "60", "--K", "2", "--M", "3", "--dynamics", "gram", "--teacher-init",
        "gaussian", "--alpha-max", "3", "--seeds", "2", "--records", "6"]),
    "ode-quadrature-tanh": ("ode", [
        "--N", "100", "--K", "3", "--M", "2", "--activation", "tanh",
        "--teacher-activation", "tanh", "--gamma", "0.5", "--alpha-max", "1", "--seeds", "1",
        "--records", "3"]),
    "ode-tensor-tanh": ("ode", [
        "--N", "100", "--K", "2", "--M", "2", "--activation", "tanh",
        "--teacher-activation", "tanh", "--gamma", "0.5", "--alpha-max", "1", "--seeds", "1",
        "--records", "3"]),
    "ode-tensor-square-he2": ("ode", [
        "--N", "100", "--K", "2", "--M", "2", "--activation", "square",
        "--teacher-activation", "he2", "--learn-v", "true", "--noise", "0.1",
        "--alpha-max", "1", "--seeds", "1", "--records", "3"]),
    "ode-tensor-tanh-output": ("ode", [
        "--N", "100", "--K", "2", "--M", "2", "--output-activation", "tanh",
        "--teacher-output-activation", "tanh", "--alpha-max", "2", "--seeds", "1",
        "--records", "5"]),
    "ode-joint-mixed-g": ("ode", [
        "--N", "100", "--K", "2", "--M", "3", "--output-activation", "tanh",
        "--activation", "erf", "--teacher-activation", "relu", "--learn-v", "true",
        "--joint-points", "512", "--alpha-max", "2", "--seeds", "2", "--records", "5"]),
    # --- Gaussian-mixture inputs (docs/theory.md §15): on-line, logistic loss, training set
    "mixture-xor": ("run", [
        "--N", "40", "--K", "3", "--M", "1", "--inputs", "mixture", "--activation", "relu",
        "--learn-v", "true", "--cluster-variance", "0.1,0.3", "--loss", "squared,logistic",
        "--alpha-max", "2", "--seeds", "2", "--records", "5", "--eg-samples", "500"]),
    "mixture-two-train-set": ("run", [
        "--N", "40", "--K", "2", "--M", "1", "--inputs", "mixture", "--clusters", "two",
        "--alpha-train", "1.5", "--batch", "4", "--noise", "0.05", "--alpha-max", "2",
        "--seeds", "2", "--records", "5", "--eg-samples", "500"]),
    # --- hidden-manifold inputs (docs/theory.md §16): on-line (two D, relu), a training set
    "hidden-manifold": ("run", [
        "--N", "40", "--K", "3", "--M", "2", "--inputs", "hidden-manifold",
        "--latent-ratio", "0.5,2", "--feature-map", "relu", "--learn-v", "true", "--noise",
        "0.01", "--alpha-max", "2", "--seeds", "2", "--records", "5", "--eg-samples", "500"]),
    "hidden-manifold-train-set": ("run", [
        "--N", "40", "--K", "2", "--M", "2", "--inputs", "hidden-manifold", "--latent-dim",
        "15", "--feature-map", "sign", "--alpha-train", "1.5", "--batch", "4",
        "--weight-decay", "0.01", "--alpha-max", "2", "--seeds", "2", "--records", "5",
        "--eg-samples", "500"]),
    # --- several teachers (docs/theory.md §17): a switch, per-task heads, a threshold, both
    # simulation backends
    "teachers-switch": ("run", [
        "--N", "40", "--teachers", "2", "--teacher-overlap", "0.5", "--readout-overlap", "0.5",
        "--switch-at", "1", "--switch-eg-below", "0.02", "--heads", "per-task", "--learn-v",
        "true", "--dynamics", "full,gram", "--alpha-max", "3", "--seeds", "2", "--records", "7",
        "--schedule", "linear"]),
    # the mixture theory (docs/theory.md §15c): erf on the joint rule, relu on the radial rule
    "ode-mixture-xor": ("ode", [
        "--N", "40", "--K", "3", "--M", "1", "--inputs", "mixture", "--activation", "erf,relu",
        "--learn-v", "true", "--v0", "0.3", "--loss", "squared,logistic", "--joint-points",
        "1024", "--alpha-max", "2", "--seeds", "2", "--records", "5"]),
}

# case -> number of shards n: run every --shard i/n, merge, compare with the case's golden hashes
SHARDED = {
    "sweep-learnv-noise-relu": 3,
    "gram": 2,
    "deep-4x3x2-train-set": 2,
    "alpha-train-sampling": 4,
    "theory": 2,
    "mixture-xor": 2,
    "hidden-manifold": 2,
    "teachers-switch": 2,
}


def _program() -> Path | None:
    """The built program (conftest's lookup: $PLATEAU_BUILD_DIR or build/ci), absolute."""
    path = built_program()
    return path.resolve() if path is not None else None


def dataset_sha256(data: np.ndarray) -> str:
    """SHA-256 of a dataset's raw bytes; variable-length strings (a swept name key's coordinate,
    read as an object array whose raw bytes would be pointers) by their UTF-8 bytes, each
    prefixed with its length."""
    if data.dtype.kind != "O":
        return hashlib.sha256(np.ascontiguousarray(data).tobytes()).hexdigest()
    digest = hashlib.sha256()
    for item in data.ravel():
        raw = item if isinstance(item, bytes) else str(item).encode()
        digest.update(len(raw).to_bytes(8, "little") + raw)
    return digest.hexdigest()


def fingerprint(path: Path) -> dict:
    """SHA-256 of every dataset's raw bytes, by its path in the file, and the config hash."""
    out = {}
    with h5py.File(path, "r") as f:
        out["config_sha256"] = f.attrs["config_sha256"].decode() if isinstance(
            f.attrs["config_sha256"], bytes) else str(f.attrs["config_sha256"])

        def visit(name, obj):
            if isinstance(obj, h5py.Dataset):
                out[name] = dataset_sha256(np.asarray(obj[()]))

        f.visititems(visit)
    return out


def _run(command: list[str]) -> None:
    result = subprocess.run(command, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, f"{' '.join(command)}\nexit {result.returncode}: {result.stderr}"


def make(program: Path, case: str, directory: Path) -> Path:
    sub, args = CASES[case]
    out = directory / f"{case}.h5"
    _run([str(program), sub, *args, "--quiet", "--overwrite", "-o", str(out)])
    return out


def make_sharded(program: Path, case: str, directory: Path) -> Path:
    """Every shard i/n of the case into its own file, then ``plateau merge`` of them all."""
    sub, args = CASES[case]
    n = SHARDED[case]
    parts = [directory / f"{case}.part{i}of{n}.h5" for i in range(n)]
    for i, part in enumerate(parts):
        _run([str(program), sub, *args, "--shard", f"{i}/{n}", "--quiet", "--overwrite",
              "-o", str(part)])
    out = directory / f"{case}.merged.h5"
    _run([str(program), "merge", str(out), *map(str, parts), "--quiet", "--overwrite"])
    return out


def differences(case: str, golden: dict, got: dict) -> list[str]:
    """What differs between two fingerprints, both ways: one line per kind, naming the datasets."""
    problems = []
    missing = sorted(set(golden) - set(got))
    if missing:
        problems.append(f"{case}: datasets missing from the new file: {missing}")
    extra = sorted(set(got) - set(golden))
    if extra:
        problems.append(f"{case}: datasets the golden file does not have: {extra} "
                        "(a new dataset: record it with test_golden.py --add)")
    differ = sorted(k for k in set(golden) & set(got) if golden[k] != got[k])
    if differ:
        problems.append(f"{case}: these differ from the golden file: {differ}")
    return problems


def _golden_table() -> dict:
    return json.loads(GOLDEN.read_text())


def _golden_case(case: str) -> dict:
    table = _golden_table()
    assert case in table, (f"case '{case}' has no entry in {GOLDEN} "
                           "(record it with test_golden.py --add)")
    return table[case]


golden_only = pytest.mark.skipif(
    os.environ.get("PLATEAU_GOLDEN") != "1",
    reason="golden hashes hold for the ci preset only (PLATEAU_GOLDEN=1)")


def _built() -> Path:
    program = _program()
    if program is None:
        pytest.skip("the plateau program is not built")
    return program


def test_every_case_has_golden_hashes_and_every_entry_a_case():
    table = _golden_table()
    unrecorded, stale = sorted(set(CASES) - set(table)), sorted(set(table) - set(CASES))
    assert not unrecorded and not stale, \
        f"cases without golden entry: {unrecorded}; golden entries without case: {stale}"
    assert set(SHARDED) <= set(CASES), f"sharded cases unknown: {sorted(set(SHARDED) - set(CASES))}"


def test_differences_are_named_both_ways():
    golden = {"config_sha256": "c", "G/a": "1", "G/b": "2"}
    assert differences("x", golden, dict(golden)) == []
    got = {"config_sha256": "c", "G/a": "1", "G/new": "3"}
    problems = differences("x", golden, got)
    assert len(problems) == 2
    assert "missing" in problems[0] and "'G/b'" in problems[0]
    assert "does not have" in problems[1] and "'G/new'" in problems[1]
    assert differences("x", golden, {**golden, "G/a": "9"}) == [
        "x: these differ from the golden file: ['G/a']"]


def test_strings_are_hashed_by_their_bytes_not_their_addresses():
    def strings(*items):
        return np.array([i.encode() for i in items], dtype=object)

    assert dataset_sha256(strings("epochs", "replacement")) == dataset_sha256(
        strings("epochs", "replacement"))
    assert dataset_sha256(strings("ab", "c")) != dataset_sha256(strings("a", "bc"))
    assert dataset_sha256(np.arange(3.0)) == hashlib.sha256(np.arange(3.0).tobytes()).hexdigest()


@golden_only
@pytest.mark.parametrize("case", sorted(CASES))
def test_files_are_bit_identical_to_the_golden_ones(case, tmp_path):
    program = _built()
    golden = _golden_case(case)
    problems = differences(case, golden, fingerprint(make(program, case, tmp_path)))
    assert not problems, "\n".join(problems)


@golden_only
@pytest.mark.parametrize("case", sorted(SHARDED))
def test_merged_shards_are_bit_identical_to_the_unsharded_golden_file(case, tmp_path):
    program = _built()
    golden = _golden_case(case)
    got = fingerprint(make_sharded(program, case, tmp_path))
    problems = differences(f"{case} in {SHARDED[case]} shards, merged", golden, got)
    assert not problems, "\n".join(problems)


def _regenerate(mode: str) -> int:
    program = _program()
    if program is None:
        sys.exit("set PLATEAU_BUILD_DIR to a built ci preset")
    with tempfile.TemporaryDirectory() as d:
        fresh = {case: fingerprint(make(program, case, Path(d))) for case in sorted(CASES)}
    if mode == "--write":
        table = fresh
    else:  # --add: keep every recorded hash; add only the cases and datasets not yet recorded
        table = _golden_table() if GOLDEN.exists() else {}
        problems = []
        for case, got in fresh.items():
            if case not in table:
                table[case] = got
                print(f"added case {case}")
                continue
            extra = sorted(set(got) - set(table[case]))
            problems += [p for p in differences(case, table[case], got)
                         if "does not have" not in p]
            for name in extra:
                table[case][name] = got[name]
            if extra:
                print(f"{case}: added datasets {extra}")
        stale = sorted(set(table) - set(CASES))
        if stale:
            problems.append(f"golden entries without case: {stale}")
        if problems:
            print("\n".join(problems), file=sys.stderr)
            print(f"{GOLDEN} not written: results changed (use --write if that is intended)",
                  file=sys.stderr)
            return 1
    GOLDEN.write_text(json.dumps(table, indent=1, sort_keys=True) + "\n")
    print(f"wrote {GOLDEN}")
    return 0


if __name__ == "__main__":
    if sys.argv[1:] not in (["--write"], ["--add"]):
        sys.exit(__doc__)
    sys.exit(_regenerate(sys.argv[1]))
