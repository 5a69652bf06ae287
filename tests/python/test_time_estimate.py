"""Time estimates that hold, and progress inside long runs (``plateau run --dry-run``,
engine/campaign/cost_model.hpp; docs/PERFORMANCE.md, "Cost model").

- The estimate of a mixed campaign (several N and K, closed-form and Monte-Carlo eps_g) is within
  ``FACTOR`` of the CPU time the campaign takes on one thread. CPU time, not wall time: the
  probes time the fastest of their repetitions, so the estimate is for a core free of other work,
  and this machine is shared (on a loaded machine the wall time stretches, the CPU time does not).
- Two identical calls, and two calls with the grid in another order, agree within 20%.
- A single long run prints progress lines on stderr before it finishes; -q prints none.
"""

from __future__ import annotations

import re
import resource
import subprocess

import pytest

# Estimate vs CPU time on the mixed campaign: measured 0.94-1.19 here (docs/PERFORMANCE.md); the
# factor leaves room for a machine or build whose balance of costs differs, and for the machine's
# own changes of speed (the same campaign took 4.3-5.3 s of CPU here under load).
FACTOR = 2.0

MIXED = ["--N", "300,1000,3000", "--K", "1,3,8", "--output-activation", "linear,tanh",
         "--eg-samples", "5000", "--alpha-max", "20", "--seeds", "1", "--threads", "1"]

_ESTIMATE = re.compile(r"^time:\s+~\S+ with \d+ thread\(s\) \(([0-9.eE+-]+) s:", re.M)


def estimate(program, *args) -> float:
    out = subprocess.run([str(program), "run", *args, "--dry-run"], capture_output=True,
                         text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    m = _ESTIMATE.search(out.stdout)
    assert m, out.stdout
    return float(m.group(1))


def cpu_seconds_of(cmd) -> float:
    """CPU time (user + system) of a child process."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    assert out.returncode == 0, out.stderr
    return (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def test_estimate_of_a_mixed_campaign_holds(plateau_program):
    predicted = estimate(plateau_program, *MIXED)
    measured = cpu_seconds_of([str(plateau_program), "run", *MIXED, "-q"])
    print(f"mixed campaign: estimate {predicted:.3f} s, measured {measured:.3f} s CPU, "
          f"ratio {measured / predicted:.3f}")
    assert predicted / FACTOR <= measured <= predicted * FACTOR, (predicted, measured)


def test_estimate_of_monte_carlo_eps_g_holds(plateau_program):
    # tanh output: no closed form, eps_g is a Monte-Carlo average of eg-samples draws at every
    # record, which here costs 20 times the steps.
    args = ["--N", "100", "--K", "2", "--output-activation", "tanh", "--eg-samples", "10000",
            "--seeds", "3", "--threads", "1"]
    predicted = estimate(plateau_program, *args)
    measured = cpu_seconds_of([str(plateau_program), "run", *args, "-q"])
    print(f"Monte-Carlo campaign: estimate {predicted:.3f} s, measured {measured:.3f} s CPU")
    assert predicted / FACTOR <= measured <= predicted * FACTOR, (predicted, measured)


def test_estimate_of_gram_dynamics_holds(plateau_program):
    # dynamics = gram: a step costs the same at every N (the (K+M)^3 chain). Estimated like a
    # full step, (K+M+1) N, it was far too high: 7 h for experiments/escape_vs_lnN.ini, which
    # takes about 5 min of CPU.
    args = ["--dynamics", "gram", "--N", "1000,100000", "--K", "2,6", "--M", "2",
            "--alpha-max", "40", "--seeds", "4", "--threads", "1"]
    predicted = estimate(plateau_program, *args)
    measured = cpu_seconds_of([str(plateau_program), "run", *args, "-q"])
    print(f"gram campaign: estimate {predicted:.3f} s, measured {measured:.3f} s CPU")
    assert predicted / FACTOR <= measured <= predicted * FACTOR, (predicted, measured)


def test_estimate_of_training_regimes_holds(plateau_program):
    # Mini-batches and a training set: an update costs B examples (P for batch = all), and the
    # training error is measured on the P examples at every record.
    for args in (["--train-set", "2000", "--batch", "all", "--N", "200", "--alpha-max", "10",
                  "--records", "30"],
                 ["--batch", "8", "--alpha-train", "5", "--N", "300", "--alpha-max", "20"]):
        args = [*args, "--seeds", "2", "--threads", "1"]
        predicted = estimate(plateau_program, *args)
        measured = cpu_seconds_of([str(plateau_program), "run", *args, "-q"])
        print(f"{args}: estimate {predicted:.3f} s, measured {measured:.3f} s CPU")
        assert predicted / FACTOR <= measured <= predicted * FACTOR, (args, predicted, measured)


def agree(a: float, b: float) -> bool:
    # Identical calls measured up to 1.38x apart when CI ran beside a build on the 2 cores (the
    # probes time CPU, and a loaded core runs slower alike for every probe of one call); the
    # defects this test guards against were 2x (repeated calls) and 4x (grid order).
    return max(a, b) / min(a, b) <= 1.6


def median_estimate(program, *args) -> float:
    """The median of three calls: one call taken during a burst of load does not decide."""
    return sorted(estimate(program, *args) for _ in range(3))[1]


def test_identical_calls_and_any_grid_order_agree(plateau_program):
    reordered = MIXED.copy()
    reordered[1] = "3000,300,1000"
    reordered[3] = "8,1,3"
    reordered[5] = "tanh,linear"
    # One retry: this shared machine itself runs 20-30% slower for a second or so at times (in
    # about 1 call of 15 under a load average of 7 on its 2 cores, every probe of the call is
    # slower alike); a second pair is then taken. Before the cost model, calls were 2x apart
    # and the grid order changed the estimate 4x: both attempts failed.
    for attempt in range(2):
        first = median_estimate(plateau_program, *MIXED)
        again = median_estimate(plateau_program, *MIXED)
        other_order = median_estimate(plateau_program, *reordered)
        print(f"estimates: {first:.3f}, again {again:.3f}, grid reordered {other_order:.3f}")
        if agree(first, again) and agree(first, other_order):
            return
    assert False, (first, again, other_order)


_LINE = re.compile(r"^\[(\d+)/1 runs, (\d+)% of steps\]", re.M)


def long_run(program, *extra):
    # One run, one stretch between its two record times (linear schedule, 2 records): before,
    # nothing was printed until the run ended.
    return subprocess.run(
        [str(program), "run", "--N", "2000", "--alpha-max", "100", "--schedule", "linear",
         "--records", "2", "--seeds", "1", "--threads", "1", *extra],
        capture_output=True, text=True, timeout=120)


def test_a_long_run_reports_progress_before_it_ends(plateau_program):
    out = long_run(plateau_program, "--progress-interval", "0.1")
    assert out.returncode == 0, out.stderr
    lines = _LINE.findall(out.stderr)
    during = [int(share) for done, share in lines if done == "0"]
    assert len(during) >= 2, out.stderr
    assert during == sorted(during) and during[-1] > during[0], out.stderr
    assert lines[-1] == ("1", "100"), out.stderr


def test_quiet_prints_no_progress(plateau_program):
    out = long_run(plateau_program, "--progress-interval", "0.1", "-q")
    assert out.returncode == 0, out.stderr
    assert out.stderr == ""


@pytest.mark.parametrize("value", ["0", "-1", "nan", "1e9"])
def test_progress_interval_is_checked(plateau_program, value):
    out = long_run(plateau_program, "--progress-interval", value)
    assert out.returncode == 2
    assert "progress-interval" in out.stderr
