"""Several teachers in the analysis package (docs/theory.md section 17): switch times,
forgetting and transfer from a real two-teacher file, against the file's own numbers, and the
report's ``task_errors`` figure. A campaign of three teachers with a fixed and a threshold switch
killed with -9 before and after its switches and finished by --resume: the bits of an
uninterrupted campaign, in the full simulation and the Gram chain."""

from __future__ import annotations

import re
import signal
import subprocess
import time

import numpy as np
import pytest

from conftest import _program as built_program
from conftest import dataset_bytes, refused, run_program
from test_integrity_files import start, stop, written_runs

from plateau_analysis.campaign import load_campaign
from plateau_analysis.report import report
from plateau_analysis.teachers import forgetting, switch_alphas, teacher_runs, transfer

ARGS = ["--N", "40", "--teachers", "2", "--teacher-overlap", "0.5", "--switch-at", "1",
        "--alpha-max", "3", "--seeds", "3", "--records", "7", "--schedule", "linear",
        "--quiet"]


@pytest.fixture(scope="module")
def two_teachers(tmp_path_factory):
    program = built_program()
    if program is None:
        pytest.skip("plateau is not built")
    path = tmp_path_factory.mktemp("teachers") / "two.h5"
    subprocess.run([str(program), "run", *ARGS, "-o", str(path)], check=True)
    return path


def test_switches_forgetting_and_transfer(two_teachers):
    ds = load_campaign(two_teachers)["K2_M2"]
    assert teacher_runs(ds).all()
    starts = switch_alphas(ds)
    np.testing.assert_array_equal(starts.isel(task=0).values, 0.0)
    np.testing.assert_array_equal(starts.isel(task=1).values, 1.0)  # 40 steps at N = 40
    eg = ds["eg_tasks"].values  # (run, alpha, task); records at 0, 0.5, ..., 3
    f = forgetting(ds)
    # records after the switch (alpha = 1.5 .. 3) minus the record at alpha = 1 (task 1's last)
    np.testing.assert_allclose(f["curve"].values[:, 3:], eg[:, 3:, 0] - eg[:, 2:3, 0])
    assert np.isnan(f["curve"].values[:, :3]).all()
    np.testing.assert_allclose(f["final"].values, eg[:, -1, 0] - eg[:, 2, 0])
    np.testing.assert_allclose(transfer(ds).values, eg[:, 0, 1] - eg[:, 2, 1])


def test_one_teacher_files_have_no_teacher_runs(tmp_path):
    program = built_program()
    if program is None:
        pytest.skip("plateau is not built")
    path = tmp_path / "one.h5"
    subprocess.run([str(program), "run", "--N", "40", "--alpha-max", "1", "--seeds", "1",
                    "--records", "3", "--quiet", "-o", str(path)], check=True)
    assert not teacher_runs(load_campaign(path)["K2_M2"]).any()


def test_report_draws_the_task_errors(two_teachers, tmp_path):
    report(two_teachers, tmp_path, formats=("png",))
    assert (tmp_path / "task_errors_K2_M2.png").exists()


# --------------------------------------------------------------------------------------------
# kill -9 and --resume through the task switches (issue 28)

# Three teachers: the fixed switch to task 2 at alpha = 3 (a quarter of the run), then the
# threshold switch to task 3 when eps_g of task 2 at a record falls below 0.03 (alpha 7.3-7.5
# here: where depends on the run's trajectory); per-task heads. One thread: the runs one after
# the other, ~0.2 s each (full: N = 2000; gram, whose step does not grow with N: N = 20000).
def resumable(dynamics, n, switch_at="3", below="0.03"):
    return ["--dynamics", dynamics, "--N", str(n), "--teachers", "3", "--teacher-overlap",
            "0.5", "--switch-at", switch_at, "--switch-eg-below", below, "--heads", "per-task",
            "--learn-v", "true", "--alpha-max", "12", "--schedule", "linear", "--records", "121",
            "--seeds", "5", "--threads", "1"]


PROGRESS = re.compile(r"^\[(\d+)/(\d+) runs, ")


def run_watched(program, args, out, kill_when=None):
    """``plateau run ARGS -o OUT`` (one thread: one run at a time) with a progress line every
    10 ms; at each line ``kill_when(done, runs, seconds)`` (runs written of those to do, and the
    time since the last run was written: how far the run under way has come; the gram chain's
    progress lines count a run's steps only when it ends), SIGKILL when it is true. Returns
    the runs written and the mean time per run between the first and the last written."""
    proc = start(program, "run", *args, "--progress-interval", "0.01", "-o", out)
    written, times = 0, []
    try:
        for line in proc.stderr:
            m = PROGRESS.match(line)
            if not m:
                continue
            now = time.monotonic()
            done, runs = int(m.group(1)), int(m.group(2))
            if done != written:
                written = done
                times.append(now)
            if kill_when and times and kill_when(done, runs, now - times[-1]):
                proc.send_signal(signal.SIGKILL)
                assert proc.wait(timeout=60) == -signal.SIGKILL
                return done, None
        assert proc.wait(timeout=60) == 0, proc.stderr.read()
        assert not kill_when, "the campaign ended before it was killed: make its runs longer"
        return written, (times[-1] - times[0]) / (len(times) - 1)
    finally:
        stop(proc)


@pytest.mark.parametrize("dynamics, n", [("full", 2000), ("gram", 20000)])
def test_kill_9_before_and_after_the_switches_then_resume_gives_the_same_bits(dynamics, n,
                                                                              tmp_path):
    """A run is written whole when it ends, so a run killed part way is computed again from its
    start by --resume: nothing of its task, heads or threshold switches may carry over from the
    process that ran before (or from the runs before it in the same process). Killed once in
    a run before its first switch, then (resumed) once in a run past both, and resumed to the
    end: every dataset equals an uninterrupted campaign's, bit for bit."""
    program = built_program()
    if program is None:
        pytest.skip("plateau is not built")
    args = resumable(dynamics, n)
    clean = tmp_path / "clean.h5"
    _, seconds = run_watched(program, args, clean)
    starts = switch_alphas(load_campaign(clean)["K2_M2"]).values  # (run, task)
    np.testing.assert_array_equal(starts[:, :2], [[0.0, 3.0]] * 5)
    assert ((starts[:, 2] > 5) & (starts[:, 2] < 11)).all(), starts  # the threshold switch

    # Kills in a run with one written before it and one after it. The first at the progress
    # line that says a run was written (t = 0: the next run is in task 1). The second past 70 %
    # of a run (task 3), by the clean campaign's time per run; a resumed process whose runs are
    # faster than that (a machine less busy than during the clean campaign) never shows such a
    # line, so at the latest it kills in the next run, wherever that run is: a run is recomputed
    # from its start by --resume in any case, the late kill is for coverage, not correctness.
    def early(done, runs, t):
        return 1 <= done < runs - 1 and t / seconds < 0.2

    def late(done, runs, t):
        return 1 <= done < runs - 1 and (t / seconds >= 0.7 or done >= 2)

    out = tmp_path / "killed.h5"
    first, _ = run_watched(program, args, out, early)  # task 1
    assert written_runs(out) == first
    resumed, _ = run_watched(program, [*args, "--resume"], out, late)  # task 3
    assert written_runs(out) == first + resumed < 5
    r = run_program(program, "run", *args, "--resume", "-o", out)
    assert r.returncode == 0, r.stderr
    assert f"{5 - first - resumed} run(s) to do of 5" in r.stderr
    got, want = dataset_bytes(out), dataset_bytes(clean)
    assert got.keys() == want.keys()
    assert [name for name in want if got[name] != want[name]] == []
    # A file of this campaign is not finished under another switch schedule.
    for other in (resumable(dynamics, n, switch_at="4"), resumable(dynamics, n, below="0.04")):
        refused(run_program(program, "run", *other, "-q", "--resume", "-o", out),
                "refusing to resume", "its configuration differs")
