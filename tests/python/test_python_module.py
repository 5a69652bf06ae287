"""The Python module (`import plateau`, python/; issue 31): the command line's engine, keys,
messages and files, from Python.

- plateau.run and plateau.ode write the files `plateau run` and `plateau ode` write for the same
  keys, bit for bit (every dataset, every root attribute but command_line), sweeps given as
  lists or as the command line's text;
- bad keys raise ValueError with the command line's one-line message, and write nothing;
- Ctrl-C (SIGINT from outside) mid-campaign raises KeyboardInterrupt and leaves a file that
  resume=True finishes into the uninterrupted file;
- plateau.fixed_point gives the numbers `plateau ode --fixed-point` prints;
- installed with `cmake --install BUILD --component python` into a fresh prefix, the system
  Python imports it from there without PYTHONPATH (and runs a campaign).
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import h5py
import numpy as np
import pytest

from conftest import REPO, dataset_bytes, run_program

BUILD = Path(os.environ.get("PLATEAU_BUILD_DIR") or REPO / "build" / "ci")
PATHS = [str(REPO / "python"), str(BUILD / "python"), str(REPO / "analysis")]


@pytest.fixture(scope="module")
def plateau():
    if not list((BUILD / "python").glob("_plateau*.so")):
        pytest.fail(f"the Python module is not built in {BUILD}/python (pybind11-dev and "
                    "python3-dev are in scripts/bootstrap.sh's packages)")
    for p in reversed(PATHS):
        if p not in sys.path:
            sys.path.insert(0, p)
    import plateau as module
    assert Path(module.__file__).resolve().is_relative_to((REPO / "python").resolve())
    return module


def root_attributes(path: Path) -> dict:
    with h5py.File(path, "r") as f:
        return {k: (v.tobytes() if isinstance(v, np.ndarray) else v) for k, v in f.attrs.items()}


def assert_same_file(a: Path, b: Path) -> None:
    assert dataset_bytes(a) == dataset_bytes(b)
    ra, rb = root_attributes(a), root_attributes(b)
    assert ra.pop("command_line") != rb.pop("command_line")
    ra.pop("created"), rb.pop("created")  # the time of creation, to the second
    assert ra == rb


KEYS = dict(K=2, M=2, N=300, eta=[0.3, 0.5], seeds=3, alpha_max=20, records=12, noise=0.01)
CLI_KEYS = ["--K", "2", "--M", "2", "--N", "300", "--eta", "0.3,0.5", "--seeds", "3",
            "--alpha-max", "20", "--records", "12", "--noise", "0.01"]


def test_run_writes_the_command_lines_file(plateau, plateau_program, tmp_path):
    cli = tmp_path / "cli.h5"
    r = run_program(plateau_program, "run", *CLI_KEYS, "-o", cli)
    assert r.returncode == 0, r.stderr
    py = tmp_path / "py.h5"
    groups = plateau.run(**KEYS, output=py, progress=False)
    assert_same_file(cli, py)
    with h5py.File(py, "r") as f:
        assert f.attrs["command_line"].decode().startswith("plateau.run(")
    # What it returns is what load_campaign reads from the file.
    from plateau_analysis import load_campaign
    expected = load_campaign(py)
    assert list(groups) == list(expected) == ["K2_M2"]
    assert groups["K2_M2"].identical(expected["K2_M2"])
    # Without output: the same data from a temporary file, which is gone afterwards.
    before = set(Path(os.environ.get("TMPDIR", "/tmp")).glob("plateau-*"))
    again = plateau.run(**KEYS, progress=False)
    assert np.array_equal(again["K2_M2"]["eg"].values, expected["K2_M2"]["eg"].values)
    assert set(Path(os.environ.get("TMPDIR", "/tmp")).glob("plateau-*")) == before


def test_sweeps_as_lists_ranges_and_text_are_one_campaign(plateau, tmp_path):
    a = tmp_path / "a.h5"
    b = tmp_path / "b.h5"
    c = tmp_path / "c.h5"
    common = dict(N=200, seeds=1, alpha_max=5, records=4, progress=False)
    plateau.run(**common, eta=np.array([0.1, 0.5]), K=range(1, 3), output=a)
    plateau.run(**common, eta="0.1,0.5", K="1,2", output=b)
    plateau.run(**common, eta=(0.1, 0.5), K=[1, 2], output=c)
    assert dataset_bytes(a) == dataset_bytes(b) == dataset_bytes(c)


def test_ode_writes_the_command_lines_file(plateau, plateau_program, tmp_path):
    cli = tmp_path / "cli.h5"
    args = ["--eta", "0.5,1", "--alpha-max", "50", "--records", "20", "--seeds", "2",
            "--init", "sample", "--predictions", "none"]
    r = run_program(plateau_program, "ode", *args, "-o", cli)
    assert r.returncode == 0, r.stderr
    py = tmp_path / "py.h5"
    groups = plateau.ode(eta=[0.5, 1], alpha_max=50, records=20, seeds=2, init="sample",
                         predictions="none", output=py, progress=False)
    assert_same_file(cli, py)
    assert groups["K2_M2"].attrs["kind"] == "theory"


@pytest.mark.parametrize("keys, cli_args", [
    (dict(eat=0.3), ["--eat", "0.3"]),
    (dict(eta=-1), ["--eta", "-1"]),
    (dict(activation="erff"), ["--activation", "erff"]),
    (dict(K="2x"), ["--K", "2x"]),
    (dict(sampling="without-replacement"), ["--sampling", "without-replacement"]),
])
def test_bad_keys_raise_the_command_lines_message(plateau, plateau_program, tmp_path, keys,
                                                  cli_args):
    r = run_program(plateau_program, "run", *cli_args, "-o", tmp_path / "cli.h5")
    assert r.returncode == 2
    out = tmp_path / "py.h5"
    with pytest.raises(ValueError) as e:
        plateau.run(**keys, output=out, progress=False)
    assert str(e.value) == r.stderr.strip()
    assert not out.exists() and not (tmp_path / "cli.h5").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == []


def test_non_values_are_refused_before_the_engine(plateau):
    with pytest.raises(TypeError, match="eta=.*allowed are numbers"):
        plateau.run(eta={"a": 1}, progress=False)
    with pytest.raises(ValueError, match="at least one value"):
        plateau.run(eta=[], progress=False)


def test_progress_callback_sees_the_steps(plateau):
    seen = []
    plateau.run(N=500, seeds=2, alpha_max=40, records=5,
                progress=lambda done, total, unit: seen.append((done, total, unit)))
    assert seen, "no progress report"
    assert {u for _, _, u in seen} == {"steps"}
    assert seen[-1][0] == seen[-1][1] == 2 * 40 * 500
    assert all(a[0] <= b[0] for a, b in zip(seen, seen[1:]))


def test_an_error_in_the_progress_callback_stops_the_campaign(plateau, tmp_path):
    def fails(done, total, unit):
        raise RuntimeError("callback failed")

    with pytest.raises(RuntimeError, match="callback failed"):
        plateau.run(N=300, seeds=4, alpha_max=50, records=5, output=tmp_path / "c.h5",
                    progress=fails)


INTERRUPTED = textwrap.dedent("""
    import sys
    sys.path[:0] = {paths!r}
    import plateau
    import plateau_analysis  # imported by the first call: before the signal
    started = False
    def progress(done, total, unit):
        global started
        if done >= 3 * 30000 and not started:  # some runs have finished
            started = True
            print("started", flush=True)
    if not {callback!r}:
        print("started", flush=True)
    try:
        plateau.run(N=500, seeds=40, alpha_max=60, records=6, threads=2, output={out!r},
                    progress=progress if {callback!r} else False)
    except KeyboardInterrupt:
        print("interrupted", flush=True)
        sys.exit(0)
    print("finished", flush=True)
""")


@pytest.mark.parametrize("callback", [True, False], ids=["in-a-progress-callback", "no-callback"])
def test_ctrl_c_stops_cleanly_and_resume_finishes_the_file(plateau, plateau_program, tmp_path,
                                                           callback):
    """SIGINT reaches Python's handler while the engine runs: inside the progress callback (the
    handler raises there), or, with no callback, at the engine's check of the signals every 0.1 s
    (PyErr_CheckSignals)."""
    out = tmp_path / "c.h5"
    script = tmp_path / "interrupted.py"
    script.write_text(INTERRUPTED.format(paths=PATHS, out=str(out), callback=callback))
    proc = subprocess.Popen([sys.executable, str(script)], stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "started"
    if not callback:
        time.sleep(0.6)  # the import, then some runs
    proc.send_signal(signal.SIGINT)
    rest, _ = proc.communicate(timeout=120)
    assert proc.returncode == 0 and rest.strip() == "interrupted", rest
    with h5py.File(out, "r") as f:
        status = f["K2_M2/status"][...]
    assert (status == 0).sum() > 0, status  # pending runs are left
    if callback:
        assert (status != 0).sum() >= 3, status  # the runs finished before are in the file
    plateau.run(N=500, seeds=40, alpha_max=60, records=6, output=out, resume=True,
                progress=False)
    whole = tmp_path / "whole.h5"
    r = run_program(plateau_program, "run", "--N", "500", "--seeds", "40", "--alpha-max", "60",
                    "--records", "6", "-o", whole)
    assert r.returncode == 0, r.stderr
    assert dataset_bytes(out) == dataset_bytes(whole)


def printed(pattern: str, text: str) -> float:
    m = re.search(pattern, text)
    assert m, (pattern, text)
    return float(m.group(1))


def test_fixed_point_gives_what_the_command_line_prints(plateau, plateau_program):
    r = run_program(plateau_program, "ode", "--fixed-point", "--eta", "0.5,4")
    assert r.returncode == 0, r.stderr
    points = plateau.fixed_point(eta=[0.5, 4])
    assert [p["point"] for p in points] == [0, 1]
    first, second = points
    assert first["converged"] and first["coordinates"]["eta"] == 0.5
    assert first["coordinates"]["N"] == 500
    text = r.stdout.split("grid point 1:")[0]
    # The printed digits of each number, from Python's values and from the command line's text.
    pairs = [
        (first["plateau"]["eps_g"], r"eps_g = (\S+)", ".10g"),
        (first["plateau"]["escape_rate"], r"eigenvalues\): (\S+)", ".6g"),
        (max(np.real(first["plateau"]["eigenvalues"])), r"eigenvalues\): (\S+)", ".6g"),
        (first["escape"]["mean"], r"predicted mean escape at N = 500: (\S+)", ".6g"),
        (first["escape"]["sd"], r"standard deviation (\S+);", ".4g"),
        (first["escape"]["quantiles"][0.5], r"50 % (\S+),", ".5g"),
        (first["eta_max"], r"fixed point is stable\): (\S+)", ".7g"),
    ]
    for value, pattern, digits in pairs:
        assert format(value, digits) == format(printed(pattern, text), digits), pattern
    q = first["plateau"]["Q"]
    assert q.shape == (2, 2) and q[0, 1] == pytest.approx(q[1, 0])
    assert [t["kind"] for t in first["trajectory"]][-1] == "specialized"
    assert not second["converged"] and second["why"] in r.stdout
    assert second["escape"] is None and second["eta_max"] is None


def test_docstrings_list_every_key(plateau):
    assert list(plateau.KEYS)[:3] == ["N", "K", "M"]
    for name in plateau.KEYS:
        assert f"\n{name.replace('-', '_')} : default" in plateau.run.__doc__
    assert plateau.version().startswith("plateau ")


def test_installs_into_a_prefix_and_imports_without_pythonpath(plateau, tmp_path):
    base = tmp_path / "userbase"
    r = subprocess.run(["cmake", "--install", str(BUILD), "--component", "python", "--prefix",
                        str(base)], capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stdout + r.stderr
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTHON")}
    env["PYTHONUSERBASE"] = str(base)
    probe = subprocess.run(
        ["/usr/bin/python3", "-c",
         "import plateau, plateau_analysis, _plateau; "
         "print(plateau.__file__); print(plateau_analysis.__file__); print(_plateau.__file__); "
         "g = plateau.run(N=100, seeds=1, alpha_max=2, records=2, progress=False); "
         "print(sorted(g))"],
        capture_output=True, text=True, timeout=120, env=env, cwd=tmp_path)
    assert probe.returncode == 0, probe.stderr
    *files, groups = probe.stdout.splitlines()
    for f in files:
        assert Path(f).resolve().is_relative_to(base.resolve()), f
    assert groups == "['K2_M2']"


def test_the_readmes_study_runs_end_to_end(plateau, tmp_path):
    """experiments/python_study.py (README, "Python"): sweep, theory, fixed points, figure."""
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(PATHS))
    figure = tmp_path / "study.png"
    r = subprocess.run([sys.executable, str(REPO / "experiments" / "python_study.py"),
                        str(figure)], capture_output=True, text=True, timeout=300, env=env,
                       cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert [line.split(":")[0] for line in lines] == ["eta 0.3", "eta 0.5", "eta 1.0"]
    assert "plateau 0.01464" in lines[1]  # the K = M = 2 erf plateau at eta = 0.5
    assert figure.stat().st_size > 10_000
