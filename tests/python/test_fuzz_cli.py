"""Hostile-input replay: deterministic mutants of the corpus in tests/fuzz/ (see its README).

Every mutant of a ``plateau run`` / ``plateau ode`` command line or INI file must
- finish within its time limit (no hang),
- exit with status 0 or 2 (no crash, no signal, no exit 1 for bad input),
- on status 2: print exactly one printable line of bounded length on stderr, and leave no
  output file and no temporary file in the output directory.

The mutants are a pure function of PLATEAU_FUZZ_SEED (default 20261202) and
PLATEAU_FUZZ_MUTANTS (default 240 per corpus entry kind); a failure names the mutant, which can
be replayed by hand and added to tests/fuzz/regressions.txt (command lines) or
tests/fuzz/regressions/*.ini (configuration files), replayed as they are.
"""

from __future__ import annotations

import os
import random
import re
import subprocess
from pathlib import Path

import pytest

from conftest import _program as built_program

REPO = Path(os.environ.get("PLATEAU_SOURCE_DIR") or Path(__file__).resolve().parents[2])
CORPUS = REPO / "tests" / "fuzz" / "corpus"
REGRESSIONS = REPO / "tests" / "fuzz" / "regressions.txt"
REGRESSION_INIS = REPO / "tests" / "fuzz" / "regressions"
SEED = int(os.environ.get("PLATEAU_FUZZ_SEED", "20261202"))
MUTANTS = int(os.environ.get("PLATEAU_FUZZ_MUTANTS", "240"))
TIMEOUT = 60.0  # seconds per invocation: generous for the sanitizer build; a hang is far longer
MAX_LINE = 1000  # characters of the one error line (the backstop of cli/command_support.cpp)

KEYS = ["N", "K", "M", "eta", "eta-v", "learn-v", "activation", "teacher-activation",
        "output-activation", "teacher-output-activation", "gamma", "v0", "v-star", "q0",
        "teacher-init", "noise", "alpha-max", "alpha-min", "records", "schedule", "eg-samples",
        "divergence-q", "seeds", "seed", "threads",
        # issue 23: the keys added since the first corpus (tests/fuzz/corpus/layers.args and
        # train.args use them), and the output and ode options
        "batch", "train-set", "alpha-train", "sampling", "weight-decay", "eta-layers",
        "learn-layers", "init-seed", "alpha-max-scale", "joint-points", "dynamics",
        "gamma-hidden", "gamma-output", "shard", "progress-interval", "init", "r0", "asymmetry",
        "rtol", "atol", "init-average", "force",
        # issue 31: saved weights
        "save-weights", "student-from", "teacher-from"]

HOSTILE_VALUES = [
    "", " ", "-1", "0", "1", "2", "-0", "1e308", "-1e308", "1e400", "nan", "NaN", "inf", "-inf",
    "1e-320", "4.9e-324", "2147483648", "4294967297", "9223372036854775807",
    "9223372036854775808", "-9223372036854775809", "1e12", "1e18", "0x10", "1_000", "1,",
    ",1", "1,,2", "1, 2, 3", "linspace(1, 2, 0)", "linspace(1, 2, 1e9)", "linspace(1, 2",
    "linspace(1, 2, 3", "logspace(0, 1, 3)", "logspace(-1, 1, 3)", "linspace(nan, 1, 2)",
    "linspace(1, 2, 3)x", "((((", "))", "x" * 5000, "9" * 400, "\x01\x02", "a\tb", "\x7f",
    "é", "\ufeff1", "true", "yes", "false", "erf", "linear", "identity", "tanh", "8x4",
    "2x", "x2", "0.5.5", "1e", "e1", "+1", "--", "-", "=", "a=b", "'1'", '"1"', "$HOME",
    "1;2", "1#2", "%s%n", "\\", "1 2",
    # issue 23: values of the newer keys (layer lists, shards, choices) and sizes beyond memory
    "8x4x", "0x4", "4x0", "0.5:", ":", "0.5::0.2", "true:maybe", "all", "0/0", "1/0", "0/1",
    "without-replacement", "shared", "inverse-eta", "gram", "1e10", "2^62", "3e9",
    "initial", "final",
]

FLAGS = ["--dry-run", "--print-config", "--overwrite", "--resume", "-q", "--quiet", "--help"]


def _program() -> Path | None:
    """The built program (conftest's lookup), absolute: mutants run in their own directory."""
    path = built_program()
    return path.resolve() if path is not None else None


def _corpus(kind: str) -> list:
    return sorted(CORPUS.glob(f"*.{kind}"))


def mutate_args(rng: random.Random, tokens: list) -> list:
    """One to three mutations of a command line (a list of tokens)."""
    tokens = list(tokens)
    for _ in range(rng.randint(1, 3)):
        op = rng.randrange(8)
        values = [i for i, t in enumerate(tokens) if not t.startswith("-")]
        keys = [i for i, t in enumerate(tokens) if t.startswith("--")]
        if op <= 2 and values:  # hostile value
            tokens[rng.choice(values)] = rng.choice(HOSTILE_VALUES)
        elif op == 3 and keys:  # abbreviated, misspelt or other key
            i = rng.choice(keys)
            name = tokens[i][2:]
            tokens[i] = "--" + rng.choice([name[: max(1, len(name) - 1)], name.upper(),
                                           name + "x", rng.choice(KEYS), name + "=1"])
        elif op == 4:  # a new key with a hostile value
            tokens += ["--" + rng.choice(KEYS), rng.choice(HOSTILE_VALUES)]
        elif op == 5 and tokens:  # drop a token
            del tokens[rng.randrange(len(tokens))]
        elif op == 6 and keys:  # duplicate an option
            i = rng.choice(keys)
            tokens += tokens[i: i + 2]
        else:  # a flag
            tokens.append(rng.choice(FLAGS))
    return tokens


def mutate_ini(rng: random.Random, text: str) -> bytes:
    """One to three mutations of an INI file's bytes."""
    lines = text.splitlines()
    for _ in range(rng.randint(1, 3)):
        op = rng.randrange(9)
        i = rng.randrange(len(lines)) if lines else 0
        if op <= 2 and lines and "=" in lines[i]:
            key = lines[i].split("=", 1)[0]
            lines[i] = key + "= " + rng.choice(HOSTILE_VALUES)
        elif op == 3:
            lines.insert(i, rng.choice(["[section]", "no equals sign", "= 3", "N == 3",
                                        "N = 1 # comment", "K = 2 ; comment", "\x00N = 3",
                                        "x" * 3000 + " = 1", "N=", "unknown-key = 1"]))
        elif op == 4 and lines:
            del lines[i]
        elif op == 5 and lines:
            lines.append(lines[i])  # a key twice
        elif op == 6:
            return ("\r".join(lines) + "\r").encode()  # bare-CR line ends
        elif op == 7:
            return b"\xef\xbb\xbf" + ("\n".join(lines) + "\n").encode()  # a BOM
        else:
            return ("\n".join(lines)).encode("utf-8", "replace")[: rng.randint(0, 200)]
    return ("\n".join(lines) + "\n").encode("utf-8", "replace")


def _mutants():
    rng = random.Random(SEED)
    cases = []
    for path in _corpus("args"):
        tokens = path.read_text().splitlines()
        for k in range(MUTANTS // max(1, len(_corpus("args")))):
            sub = "ode" if k % 5 == 4 else "run"
            cases.append((f"{path.stem}-{k}", sub, mutate_args(rng, tokens), None))
    for path in _corpus("ini"):
        text = path.read_text()
        for k in range(MUTANTS // max(1, len(_corpus("ini")))):
            extra = mutate_args(rng, ["--seeds", "1"]) if k % 3 == 0 else []
            cases.append((f"{path.stem}-{k}", "run", extra, mutate_ini(rng, text)))
    if REGRESSIONS.exists():
        for n, line in enumerate(REGRESSIONS.read_text().splitlines()):
            if line.strip() and not line.startswith("#"):
                sub, *args = line.split("\t")
                cases.append((f"regression-{n}", sub, args, None))
    for path in sorted(REGRESSION_INIS.glob("*.ini")):
        cases.append((f"regression-{path.stem}", "run", [], path.read_bytes()))
    return cases


def _check(program: Path, tmp_path: Path, sub: str, args: list, ini: bytes | None):
    outdir = tmp_path / "out"
    outdir.mkdir()
    cmd = [str(program), sub]
    if ini is not None:
        config = tmp_path / "config.ini"
        config.write_bytes(ini)
        cmd.append(str(config))
    out = outdir / "result.h5"
    cmd += args + ["-o", str(out)]
    if "--dry-run" not in args and "--print-config" not in args and "--help" not in args:
        cmd.append("--dry-run")  # parse, validate, expand and estimate; run nothing
    where = f"mutant: {cmd!r}" + (f" with config.ini = {ini[:600]!r}" if ini is not None else "")
    try:
        # TMPDIR names no directory: the dry run's estimate leaves out the file writes
        # (cli/run_command.cpp: no scratch directory, no write probe). The probe writes and
        # checks two scratch HDF5 files, input-independent work that was 70 % of a sanitized
        # dry run (1.2 s against 0.37 s) and most of this replay's time (docs/PERFORMANCE.md §25);
        # the CLI tests run dry runs with it.
        env = dict(os.environ, TMPDIR=str(tmp_path / "no-such-directory"))
        res = subprocess.run(cmd, capture_output=True, timeout=TIMEOUT, cwd=tmp_path,
                             stdin=subprocess.DEVNULL, env=env)
    except subprocess.TimeoutExpired:
        pytest.fail(f"no answer within {TIMEOUT} s (hang); {where}")
    assert res.returncode in (0, 2), (
        f"exit status {res.returncode} (0 or 2 allowed); stderr: {res.stderr[-2000:]!r}; {where}")
    # A regression may say which: a line "# expect exit N" in its INI file.
    expect = re.search(rb"^# expect exit (\d)$", ini or b"", re.MULTILINE)
    if expect:
        assert res.returncode == int(expect.group(1)), (
            f"exit status {res.returncode}, expected {expect.group(1).decode()}; {where}")
    if res.returncode == 2:
        err = res.stderr.decode("utf-8", "replace").rstrip("\n")
        assert err, f"exit status 2 without a message; {where}"
        assert "\n" not in err, f"more than one line on stderr: {err[:2000]!r}; {where}"
        assert len(err) <= MAX_LINE, f"error line of {len(err)} characters; {where}"
        assert all(c.isprintable() for c in err), f"control bytes in the message {err!r}; {where}"
        left = sorted(p.name for p in outdir.iterdir())
        assert not left, f"files left after a refusal: {left}; {where}"


@pytest.mark.parametrize("sub,args,ini", [pytest.param(s, a, i, id=n) for n, s, a, i in _mutants()])
def test_hostile_input_is_refused_cleanly(sub, args, ini, tmp_path):
    program = _program()
    if program is None:
        pytest.skip("the plateau program is not built")
    _check(program, tmp_path, sub, args, ini)
