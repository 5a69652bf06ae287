"""MPI campaigns: `mpirun -np 3 plateau run` (rank 0 writes, ranks 1 and 2 compute) gives a file
whose every dataset equals the single-process file's; with a rank killed with -9 mid-campaign,
a single-process --resume finishes it to the same bits. As root, Open MPI needs
--allow-run-as-root, and --oversubscribe on 2 cores."""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import time

import h5py
import pytest

from conftest import dataset_bytes, run_program

MPIRUN = shutil.which("mpirun")
pytestmark = pytest.mark.skipif(MPIRUN is None, reason="mpirun is not installed")

SMALL = ["--N", "60", "--eta", "0.5, 1", "--seeds", "3", "--alpha-max", "5", "--records", "10",
         "-q"]


def mpirun(n, program, *args, **kw):
    cmd = [MPIRUN, "--allow-run-as-root", "--oversubscribe", "-np", str(n), str(program),
           *map(str, args)]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=300, **kw)


def plateau(program, *args):
    return run_program(program, *args)


datasets = dataset_bytes


def assert_same_data(a, b):
    da, db = datasets(a), datasets(b)
    assert da.keys() == db.keys()
    for name in da:
        assert da[name] == db[name], name


def built_with_mpi(program, tmp_path):
    r = mpirun(2, program, "run", *SMALL, "-o", tmp_path / "probe.h5")
    return "built without MPI" not in r.stderr


def test_three_ranks_write_the_single_process_file(plateau_program, tmp_path):
    if not built_with_mpi(plateau_program, tmp_path):
        pytest.skip("this plateau was built without MPI")
    assert plateau(plateau_program, "run", *SMALL, "-o", tmp_path / "one.h5").returncode == 0
    r = mpirun(3, plateau_program, "run", *SMALL, "-o", tmp_path / "three.h5")
    assert r.returncode == 0, r.stderr
    assert_same_data(tmp_path / "one.h5", tmp_path / "three.h5")
    with h5py.File(tmp_path / "three.h5", "r") as f:
        assert int(f.attrs["mpi_ranks"][0]) == 3
        assert int(f.attrs["mpi_threads"][0]) == 0  # --threads not given: all cores
    # plateau ode the same way.
    ode = ["--eta", "0.5, 1", "--seeds", "2", "--alpha-max", "5", "--records", "10", "-q",
           "--predictions", "none"]
    assert plateau(plateau_program, "ode", *ode, "-o", tmp_path / "t1.h5").returncode == 0
    r = mpirun(3, plateau_program, "ode", *ode, "-o", tmp_path / "t3.h5")
    assert r.returncode == 0, r.stderr
    assert_same_data(tmp_path / "t1.h5", tmp_path / "t3.h5")


def test_bad_input_under_mpi_is_one_line_and_exit_2(plateau_program, tmp_path):
    if not built_with_mpi(plateau_program, tmp_path):
        pytest.skip("this plateau was built without MPI")
    r = mpirun(3, plateau_program, "run", "--N", "60", "--seeds", "1", "--alpha-max", "1", "-q",
               "-o", tmp_path / "x.h5")
    assert r.returncode == 2
    lines = [line for line in r.stderr.splitlines() if line.startswith("plateau run:")]
    assert lines == ["plateau run: invalid value '3' for 'ranks': allowed is at most 2 for 1 "
                     "run(s): rank 0 writes the file, each other rank computes runs"]
    assert not (tmp_path / "x.h5").exists()
    (tmp_path / "exists.h5").write_bytes(b"keep")
    r = mpirun(3, plateau_program, "run", *SMALL, "-o", tmp_path / "exists.h5")
    assert r.returncode == 2
    assert sum(line.startswith("plateau run:") for line in r.stderr.splitlines()) == 1
    assert (tmp_path / "exists.h5").read_bytes() == b"keep"


def test_the_computing_ranks_of_a_node_share_its_threads(plateau_program, tmp_path):
    if not built_with_mpi(plateau_program, tmp_path):
        pytest.skip("this plateau was built without MPI")
    # What one process may start now (issue 33): its refusal of a count few machines give.
    alone = plateau(plateau_program, "run", "--threads", "4096", "--dry-run")
    if alone.returncode == 0:
        pytest.skip("this machine can start 4096 threads now")
    capacity = int(re.search(r"allowed is at most (\d+)", alone.stderr).group(1))
    threads = max(2, capacity * 3 // 4)  # one process may start them, two ranks of a node not
    ok = plateau(plateau_program, "run", "--threads", threads, "--seeds", "2", "--dry-run")
    assert ok.returncode == 0, ok.stderr
    out = tmp_path / "x.h5"
    r = mpirun(3, plateau_program, "run", "--threads", threads, "--seeds", "2", "-q", "-o", out)
    assert r.returncode == 2, r.stderr
    lines = [line for line in r.stderr.splitlines() if line.startswith("plateau run:")]
    assert len(lines) == 1, r.stderr
    assert lines[0].startswith(f"plateau run: invalid value '{threads}' for 'threads': allowed "
                               "is at most "), lines[0]
    assert "per computing rank: the 2 computing rank(s) on this node share" in lines[0], lines[0]
    assert not out.exists()


def test_a_rank_killed_mid_campaign_then_resume(plateau_program, tmp_path):
    if not built_with_mpi(plateau_program, tmp_path):
        pytest.skip("this plateau was built without MPI")
    # Long enough (24 runs of 160000 steps) that the kill lands before the last run is written.
    args = ["--N", "400", "--eta", "0.5, 1", "--seeds", "12", "--alpha-max", "400", "--records",
            "20", "--threads", "1", "-q"]
    out = tmp_path / "killed.h5"
    proc = subprocess.Popen([MPIRUN, "--allow-run-as-root", "--oversubscribe", "-np", "3",
                             str(plateau_program), "run", *args, "-o", str(out)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                            start_new_session=True)
    try:
        # Wait for some runs to be written, then kill one rank with -9.
        deadline = time.time() + 120
        written = 0
        while time.time() < deadline and written < 3:
            time.sleep(0.2)
            try:
                with h5py.File(out, "r", locking=False) as f:
                    written = int((f["K2_M2/status"][...] != 0).sum())
            except (OSError, KeyError):
                continue
        assert written >= 3, "no run was written in time"
        ranks = subprocess.run(["pgrep", "-P", str(proc.pid)], capture_output=True,
                               text=True).stdout.split()
        assert ranks, "no rank process found"
        os.kill(int(ranks[-1]), signal.SIGKILL)
        proc.wait(timeout=120)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    assert proc.returncode != 0
    with h5py.File(out, "r") as f:
        pending = int((f["K2_M2/status"][...] == 0).sum())
    assert pending > 0, "the campaign finished before the kill: make it longer"
    r = plateau(plateau_program, "run", *args, "--resume", "-o", out)
    assert r.returncode == 0, r.stderr
    assert plateau(plateau_program, "run", *args, "-o", tmp_path / "one.h5").returncode == 0
    assert_same_data(tmp_path / "one.h5", out)
