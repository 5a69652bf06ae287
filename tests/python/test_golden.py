"""Bit-identity of campaign files across refactors.

``tests/golden/files.json`` holds, for a few small configurations that between them touch every
model option (every g and h, learned v, label noise, K != M, N below and above the trainer's
chunk size, both teacher inits, both schedules, Monte-Carlo eps_g, the theory), the SHA-256 of
every dataset's raw bytes and the configuration hash the file carries. They were written by the
engine before the wave-2 refactors (trainer seam, key registry, variable table). This test
regenerates the files and compares: a refactor that changes a single bit of a result fails it.

The hashes hold for the binary of the ``ci`` preset (portable x86-64, no FMA contraction across
ISAs): other presets (``release`` is -march=native) may differ in the last bits, so the test
skips unless PLATEAU_GOLDEN=1 is set (the ``ci`` preset sets it).

Regenerate (only when a change of results is intended, and say so in CHANGELOG.md):
    PLATEAU_BUILD_DIR=build/ci /usr/bin/python3 tests/python/test_golden.py --write
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

# name -> (subcommand, arguments)
CASES = {
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
}


def _program() -> Path | None:
    """The built program (conftest's lookup: $PLATEAU_BUILD_DIR or build/ci), absolute."""
    path = built_program()
    return path.resolve() if path is not None else None


def fingerprint(path: Path) -> dict:
    """SHA-256 of every dataset's raw bytes, by its path in the file, and the config hash."""
    out = {}
    with h5py.File(path, "r") as f:
        out["config_sha256"] = f.attrs["config_sha256"].decode() if isinstance(
            f.attrs["config_sha256"], bytes) else str(f.attrs["config_sha256"])

        def visit(name, obj):
            if isinstance(obj, h5py.Dataset):
                data = np.ascontiguousarray(obj[()])
                out[name] = hashlib.sha256(data.tobytes()).hexdigest()

        f.visititems(visit)
    return out


def make(program: Path, case: str, directory: Path) -> Path:
    sub, args = CASES[case]
    out = directory / f"{case}.h5"
    subprocess.run([str(program), sub, *args, "--quiet", "--overwrite", "-o", str(out)],
                   check=True, capture_output=True, text=True, timeout=300)
    return out


@pytest.mark.skipif(os.environ.get("PLATEAU_GOLDEN") != "1",
                    reason="golden hashes hold for the ci preset only (PLATEAU_GOLDEN=1)")
@pytest.mark.parametrize("case", sorted(CASES))
def test_files_are_bit_identical_to_the_golden_ones(case, tmp_path):
    program = _program()
    if program is None:
        pytest.skip("the plateau program is not built")
    golden = json.loads(GOLDEN.read_text())[case]
    got = fingerprint(make(program, case, tmp_path))
    missing = sorted(set(golden) - set(got))
    assert not missing, f"datasets missing from the new file: {missing}"
    differ = sorted(k for k in golden if golden[k] != got[k])
    assert not differ, f"{case}: these differ from the golden file: {differ}"


if __name__ == "__main__":
    if sys.argv[1:] != ["--write"]:
        sys.exit(__doc__)
    program = _program()
    if program is None:
        sys.exit("set PLATEAU_BUILD_DIR to a built ci preset")
    with tempfile.TemporaryDirectory() as d:
        table = {case: fingerprint(make(program, case, Path(d))) for case in sorted(CASES)}
    GOLDEN.write_text(json.dumps(table, indent=1, sort_keys=True) + "\n")
    print(f"wrote {GOLDEN}")
