"""Memory and disk before anything is allocated (issue 23, docs/RELIABILITY.md, "Resources").

- The estimate of a campaign's peak memory that ``--dry-run`` prints, and that refuses a
  campaign before any file exists, is within a factor 2 of the peak resident size measured
  (``VmHWM``, through ``getrusage(RUSAGE_CHILDREN)`` of a fresh child) for full, Gram,
  training-set, deep and theory runs, each sized so that its own allocations dominate.
- A campaign beyond the machine's memory is refused with one line naming the quantity, the
  estimate and the limit, exit status 2, and no file (was: std::bad_alloc, exit 1, 72 KB left).
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import _program as built_program

UNITS = {"B": 1.0, "kB": 1e3, "MB": 1e6, "GB": 1e9, "TB": 1e12}
ESTIMATE = re.compile(r"memory:\s+~([0-9.e+-]+) (B|kB|MB|GB|TB) at the peak")

# One run each (--threads 1 --seeds 1), few steps: the peak is the run's allocations.
CASES = {
    "full": ["run", "--N", "2000000", "--K", "2", "--M", "2", "--alpha-max", "1e-5",
             "--schedule", "linear", "--records", "2"],
    "gram": ["run", "--dynamics", "gram", "--N", "4000", "--K", "600", "--M", "600",
             "--alpha-max", "0.002", "--schedule", "linear", "--records", "2"],
    "train-set": ["run", "--N", "10000", "--train-set", "1500", "--alpha-max", "0.01",
                  "--schedule", "linear", "--records", "2"],
    "deep": ["run", "--N", "1000000", "--K", "4x4", "--M", "2", "--alpha-max", "1e-5",
             "--schedule", "linear", "--records", "2"],
    "theory": ["ode", "--N", "2000000", "--K", "2", "--M", "2", "--alpha-max", "0.01",
               "--schedule", "linear", "--records", "2"],
}

MEASURE = r"""
import resource, subprocess, sys
p = subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
print(p.returncode, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * 1024)
sys.stderr.write(p.stderr)
"""


def _program() -> Path:
    path = built_program()
    if path is None:
        pytest.skip("the plateau program is not built")
    return path.resolve()


def estimate_bytes(program: Path, args: list) -> float:
    r = subprocess.run([str(program), *args, "--threads", "1", "--seeds", "1", "--dry-run"],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    m = ESTIMATE.search(r.stdout)
    assert m, r.stdout
    return float(m.group(1)) * UNITS[m.group(2)]


def peak_bytes(program: Path, args: list, tmp_path: Path) -> float:
    """The peak resident size of a fresh child running the campaign into a file."""
    r = subprocess.run([sys.executable, "-c", MEASURE, str(program), *args, "--threads", "1",
                        "--seeds", "1", "--quiet", "-o", str(tmp_path / "c.h5")],
                       capture_output=True, text=True, timeout=300)
    status, peak = r.stdout.split()
    assert status == "0", r.stderr
    return float(peak)


@pytest.mark.parametrize("case", sorted(CASES))
def test_memory_estimate_within_a_factor_2_of_the_measured_peak(case, tmp_path):
    program = _program()
    args = CASES[case]
    estimate = estimate_bytes(program, args)
    peak = peak_bytes(program, args, tmp_path)
    print(json.dumps({"case": case, "estimate": estimate, "peak": peak}))
    assert peak / 2 <= estimate <= 2 * peak, (case, estimate, peak)


@pytest.mark.parametrize("args", [
    ["run", "--N", "1e10", "--alpha-max", "1e-9", "--schedule", "linear", "--seeds", "1"],
    ["run", "--N", "1e12"],
    ["run", "--N", "3e9", "--K", "1", "--M", "1"],
    ["run", "--N", "9223372036854775807", "--alpha-max", "1e-4", "--schedule", "linear"],
    ["ode", "--N", "1e12"],
])
def test_beyond_memory_is_refused_before_any_file(args, tmp_path):
    out = tmp_path / "out.h5"
    r = subprocess.run([str(_program()), *args, "-o", str(out)], capture_output=True, text=True,
                       timeout=60)
    assert r.returncode == 2, r.stderr
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1, r.stderr
    assert "memory: ~" in lines[0] and "the limit is" in lines[0], lines[0]
    assert list(tmp_path.iterdir()) == []


def test_a_long_campaign_says_its_estimate_when_it_starts(tmp_path):
    """A campaign of hours, not years (as ``--records 1e7 --alpha-max 1e7`` of issue 23, with
    little memory): it starts, and says its estimate in its first line."""
    out = tmp_path / "out.h5"
    with subprocess.Popen([str(_program()), "run", "--N", "10000", "--alpha-max", "30000",
                           "-o", str(out)], stderr=subprocess.PIPE, stdout=subprocess.DEVNULL,
                          text=True) as p:
        try:
            first = p.stderr.readline()
        finally:
            p.kill()
    assert first.startswith("plateau run: estimated ~"), first
    assert "thread(s)" in first and "of CPU" in first, first


@pytest.mark.parametrize("args", [
    ["--K", "100", "--M", "100", "--alpha-max", "1"],
    ["--gamma", "5", "--activation", "tanh", "--alpha-max", "5"],
    ["--K", "3", "--M", "3", "--output-activation", "tanh", "--joint-points", "67108864"],
])
def test_ode_dry_run_answers_at_once(args):
    """Theory campaigns of minutes (issue 23): --dry-run answers within seconds with a time
    (a probe of at most 0.5 s of integration), the memory and the file size."""
    r = subprocess.run([str(_program()), "ode", *args, "--dry-run"], capture_output=True,
                       text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    assert re.search(r"^time: +(~|at least|not probed)", r.stdout, re.MULTILINE), r.stdout
    assert ESTIMATE.search(r.stdout), r.stdout
    assert "file size:" in r.stdout


def test_ode_reports_progress_in_alpha_inside_its_runs(tmp_path):
    """A theory run of seconds (tanh, gamma = 5: over 90 s at alpha = 5 in the issue) reports
    its progress in alpha before any run has finished."""
    r = subprocess.run([str(_program()), "ode", "--gamma", "5", "--activation", "tanh",
                        "--alpha-max", "5", "--seeds", "2", "--threads", "1",
                        "--progress-interval", "0.1", "-o", str(tmp_path / "g.h5")],
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    inside = re.findall(r"\[0/2 runs, (\d+)% of alpha\] [0-9.e+-]+ alpha/s", r.stderr)
    assert inside and max(map(int, inside)) > 0, r.stderr


def test_ode_dry_run_counts_the_fixed_point_predictions():
    """Each grid point's plateau height and escape prediction (schema 1.5, about a second of CPU
    at K = M = 2) are part of a theory campaign's time: the dry-run times them on its probe's
    point and counts them once per grid point (issue 24: a 4-point N sweep took 3.4 s where the
    dry-run said 0.06 s)."""
    r = subprocess.run([str(_program()), "ode", "--N", "100,300,1000,3000", "--alpha-max", "50",
                        "--seeds", "1", "--threads", "1", "--dry-run"], capture_output=True,
                       text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    each = re.search(r"fixed-point predictions, once per grid point: ([0-9.e+-]+) s", r.stdout)
    assert each and float(each.group(1)) > 0, r.stdout
    runs = re.search(r"\(([0-9.e+-]+) s of runs on", r.stdout)
    assert runs and float(runs.group(1)) >= 4 * float(each.group(1)), r.stdout
