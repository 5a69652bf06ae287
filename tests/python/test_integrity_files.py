"""Issue 34, items 1, 9, 10, 11: one writer per file, merges that cannot be half done, every
terminating signal, no hangs.

- A file a running plateau writes (run, ode, merge, an MPI launch) is refused to a second one,
  --overwrite or not: one line, exit 2, and the first campaign finishes untouched. The lock dies
  with its process: a lock file left by kill -9 never blocks (a lock whose recorded holder has
  ended is waited for up to 2 s before it is refused).
- merge writes OUT under a temporary name and moves it into place: interrupted, OUT is as it was.
- Every signal that ends the process by default leaves no `.NAME.part-PID` (or lock) file, during
  the file's creation, a run, ode or merge; the campaign file stays resumable.
- A FIFO as a merge part or as `ode --init-from` is refused at once; merge under mpirun is
  refused; a fixed-point search of hours says so before it starts.
"""

from __future__ import annotations

import os
import resource
import select
import shutil
import signal
import subprocess
import threading
import time
from pathlib import Path

import h5py
import pytest

from conftest import dataset_bytes, run_program

MPIRUN = shutil.which("mpirun")

# A campaign of ~10 s on one thread: long enough to be caught running.
LONG = ["--N", "1000", "--alpha-max", "300", "--seeds", "4", "--threads", "1", "-q"]
# A file of ~1 GB whose creation (every dataset filled) takes a good fraction of a second.
BIG = ["--N", "50", "--alpha-max", "1", "--records", "200", "--seeds", "20000", "--K", "4", "-q"]

# The signals whose default action ends a process (SIGKILL and SIGSTOP cannot be caught).
TERMINATING = ["SIGHUP", "SIGINT", "SIGQUIT", "SIGTERM", "SIGUSR1", "SIGUSR2", "SIGPIPE",
               "SIGALRM", "SIGXCPU", "SIGXFSZ", "SIGVTALRM", "SIGPROF"]


def no_core_dumps():
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))  # SIGQUIT, SIGXCPU, SIGXFSZ dump core


def start(program, *args, cwd=None):
    return subprocess.Popen([str(program), *map(str, args)], stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True, cwd=cwd,
                            preexec_fn=no_core_dumps)


def debris(directory: Path):
    """The temporary and lock files of plateau in `directory`."""
    return sorted(p.name for p in directory.iterdir()
                  if ".part-" in p.name or p.name.endswith(".lock"))


def wait_for(predicate, timeout=60.0, step=0.002):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if predicate():
            return True
        time.sleep(step)
    return False


def written_runs(path: Path) -> int:
    try:
        with h5py.File(path, "r", locking=False) as f:
            return sum(int((f[g]["status"][...] != 0).sum()) for g in f if "status" in f[g])
    except (OSError, KeyError, RuntimeError):  # not yet a whole HDF5 file
        return -1


def one_line_refusal(r, command, *needles):
    assert r.returncode == 2, (r.returncode, r.stderr)
    assert r.stderr.count("\n") == 1, r.stderr
    assert r.stderr.startswith(f"plateau {command}: "), r.stderr
    for n in needles:
        assert n in r.stderr, r.stderr


def stop(proc):
    if proc.poll() is None:
        proc.kill()
    proc.wait()


# --------------------------------------------------------------------------------------------
# 1. One writer per file


def test_a_file_being_written_is_refused_to_every_second_writer(plateau_program, tmp_path):
    out = tmp_path / "s.h5"
    first = start(plateau_program, "run", *LONG, "-o", out)
    try:
        assert wait_for(out.exists), "the first campaign created no file"
        # Another campaign, --overwrite or --resume, ode, merge: all refused while it runs.
        for command, args in [
                ("run", ["run", "--seeds", "1", "--alpha-max", "10", "-o", out, "--overwrite"]),
                ("run", ["run", *LONG, "-o", out, "--resume"]),
                ("ode", ["ode", "--seeds", "1", "--alpha-max", "10", "-o", out, "--overwrite"]),
                ("merge", ["merge", out, out.with_name("p.h5"), "--overwrite"])]:
            if command == "merge":
                assert run_program(plateau_program, "run", "--seeds", "1", "--alpha-max", "1",
                                   "-q", "-o", out.with_name("p.h5")).returncode == 0
            r = run_program(plateau_program, *args, timeout=60)
            one_line_refusal(r, command, f"'{out}' for 'out'", "another plateau (process "
                             f"{first.pid}) is writing it")
            assert first.poll() is None, "the first campaign ended early: make LONG longer"
        assert first.wait(timeout=300) == 0, first.stderr.read()
    finally:
        stop(first)
    # The first campaign's file, whole: nothing left to do on --resume.
    assert debris(tmp_path) == []
    r = run_program(plateau_program, "run", *LONG[:-1], "-o", out, "--resume")
    assert r.returncode == 0, r.stderr
    assert "0 run(s) to do of 4" in r.stderr


def test_a_lock_left_by_kill_9_never_blocks(plateau_program, tmp_path):
    out = tmp_path / "s.h5"
    first = start(plateau_program, "run", *LONG, "-o", out)
    try:
        assert wait_for(lambda: written_runs(out) >= 0)
        first.send_signal(signal.SIGKILL)
        first.wait(timeout=60)
    finally:
        stop(first)
    # kill -9 cannot be caught: the lock file stays, but no process holds its lock.
    assert (tmp_path / ".s.h5.lock").exists()
    r = run_program(plateau_program, "run", *LONG[:-1], "-o", out, "--resume")
    assert r.returncode == 0, r.stderr
    assert debris(tmp_path) == []


def dead_pid() -> int:
    """The pid of a process that has ended (and been reaped)."""
    p = subprocess.Popen(["true"])
    p.wait()
    return p.pid


def hold_lock(lock: Path, pid: int):
    """An open descriptor holding flock() on `lock`, which records `pid` as its holder."""
    import fcntl
    fd = os.open(lock, os.O_RDWR | os.O_CREAT, 0o644)
    fcntl.flock(fd, fcntl.LOCK_EX)
    os.ftruncate(fd, 0)
    os.pwrite(fd, f"{pid}\n".encode(), 0)
    return fd


def test_a_lock_whose_recorded_holder_has_ended_is_waited_for(plateau_program, tmp_path):
    # The recorded holder has ended but the lock is still held for a moment (its release on the
    # way, or a new holder about to write its pid): taken once free, not refused.
    out = tmp_path / "s.h5"
    fd = hold_lock(tmp_path / ".s.h5.lock", dead_pid())
    release = threading.Timer(0.5, os.close, [fd])
    release.start()
    try:
        r = run_program(plateau_program, "run", "--seeds", "1", "--alpha-max", "1", "-q",
                        "-o", out, timeout=60)
    finally:
        release.join()
    assert r.returncode == 0, r.stderr
    assert debris(tmp_path) == []


def test_a_lock_held_past_the_wait_is_refused_naming_its_holder(plateau_program, tmp_path):
    out = tmp_path / "s.h5"
    gone = dead_pid()
    fd = hold_lock(tmp_path / ".s.h5.lock", gone)
    try:
        r = run_program(plateau_program, "run", "--seeds", "1", "--alpha-max", "1", "-q",
                        "-o", out, timeout=60)
    finally:
        os.close(fd)
    one_line_refusal(r, "run", f"another plateau (process {gone}) is writing it")
    assert not out.exists()


@pytest.mark.skipif(MPIRUN is None, reason="mpirun is not installed")
def test_a_file_an_mpi_launch_writes_is_refused(plateau_program, tmp_path):
    out = tmp_path / "m.h5"
    launch = subprocess.Popen([MPIRUN, "--allow-run-as-root", "--oversubscribe", "-np", "2",
                               str(plateau_program), "run", *LONG, "-o", str(out)],
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                              start_new_session=True)
    try:
        if not wait_for(out.exists, timeout=60):
            launch.wait(timeout=60)
            err = launch.stderr.read()
            if "built without MPI" in err:
                pytest.skip("this plateau was built without MPI")
            pytest.fail(err)
        r = run_program(plateau_program, "run", "--seeds", "1", "--alpha-max", "10", "-o", out,
                        "--overwrite", timeout=60)
        one_line_refusal(r, "run", "is writing it")
        assert launch.poll() is None
    finally:
        if launch.poll() is None:
            os.killpg(launch.pid, signal.SIGKILL)
        launch.wait()


# --------------------------------------------------------------------------------------------
# 9. and 10. Interrupted merges, every terminating signal


@pytest.fixture(scope="module")
def big_parts(plateau_program, tmp_path_factory):
    """Two shards of a campaign whose merge takes about a second (half of it reading and checking
    the parts, half copying their runs: the signal comes while a run or more is copied), and
    their merge. 1000 runs: 2000 took 4 s per signal, most of it the reading before the copy."""
    d = tmp_path_factory.mktemp("parts")
    args = ["--N", "50", "--alpha-max", "1", "--records", "100", "--seeds", "1000", "--K", "3",
            "-q"]
    parts = [d / "p0.h5", d / "p1.h5"]
    for i, p in enumerate(parts):
        r = run_program(plateau_program, "run", *args, "--shard", f"{i}/2", "-o", p)
        assert r.returncode == 0, r.stderr
    merged = d / "merged.h5"
    r = run_program(plateau_program, "merge", merged, *parts, "-q")
    assert r.returncode == 0, r.stderr
    return parts, merged


# Every signal in one of the two modes, both modes with SIGHUP and SIGTERM (seven signals per
# mode): the handler is one for every signal, what it removes depends on the mode (the
# whole cross product took 60 s of the test command; docs/PERFORMANCE.md §32).
MERGE_MODES = {name: ((False, True) if name in ("SIGHUP", "SIGTERM") else (i % 2 == 1,))
               for i, name in enumerate(TERMINATING)}


@pytest.mark.parametrize("signame", TERMINATING)
def test_a_signal_during_merge_leaves_out_as_it_was(plateau_program, tmp_path, big_parts,
                                                   signame):
    parts, merged = big_parts
    sig = getattr(signal, signame)
    # A new OUT: absent after the signal. An OUT to --overwrite: unchanged, byte for byte.
    for overwrite in MERGE_MODES[signame]:
        out = tmp_path / "out.h5"
        if overwrite:
            shutil.copyfile(parts[0], out)
        before = out.read_bytes() if overwrite else None
        proc = start(plateau_program, "merge", out, *parts, "-q",
                     *(["--overwrite"] if overwrite else []))
        try:
            # While runs are copied, a run or more written (before: into OUT, every other run
            # pending; now: into the temporary name, ".out.h5.part-PID").
            def copying():
                names = [p.name for p in tmp_path.iterdir()]
                return any(written_runs(tmp_path / n) >= 1 for n in names
                           if (n == "out.h5" and not overwrite) or
                           (n.startswith(".out.h5.part-") and n.count(".part-") == 1))
            assert wait_for(copying, step=0.01), proc.stderr.read()
            proc.send_signal(sig)
            assert proc.wait(timeout=60) == -sig
        finally:
            stop(proc)
        assert debris(tmp_path) == []
        if overwrite:
            assert out.read_bytes() == before
        else:
            assert not out.exists()
    if signame != "SIGHUP":
        return
    # A merge run again gives the whole file.
    r = run_program(plateau_program, "merge", out, *parts, "-q", "--overwrite")
    assert r.returncode == 0, r.stderr
    assert dataset_bytes(out) == dataset_bytes(merged)


@pytest.mark.parametrize("signame", TERMINATING)
def test_a_signal_while_the_file_is_created_leaves_no_temporary_file(plateau_program, tmp_path,
                                                                    signame):
    sig = getattr(signal, signame)
    out = tmp_path / "big.h5"
    proc = start(plateau_program, "run", *BIG, "-o", out)
    try:
        assert wait_for(lambda: debris(tmp_path) != [] and
                        any(".part-" in n for n in debris(tmp_path)))
        proc.send_signal(sig)
        assert proc.wait(timeout=60) == -sig
    finally:
        stop(proc)
    assert debris(tmp_path) == []
    assert not out.exists()


@pytest.mark.parametrize("signame", ["SIGHUP", "SIGUSR1", "SIGPIPE", "SIGXCPU"])
def test_a_signal_while_ode_creates_its_file_leaves_no_temporary_file(plateau_program, tmp_path,
                                                                     signame):
    sig = getattr(signal, signame)
    out = tmp_path / "theory.h5"
    proc = start(plateau_program, "ode", *BIG, "-o", out)
    try:
        assert wait_for(lambda: any(".part-" in n for n in debris(tmp_path)))
        proc.send_signal(sig)
        assert proc.wait(timeout=60) == -sig
    finally:
        stop(proc)
    assert debris(tmp_path) == []
    assert not out.exists()


@pytest.mark.parametrize("signame", TERMINATING)
def test_a_signal_during_a_run_leaves_a_resumable_file(plateau_program, tmp_path, signame):
    sig = getattr(signal, signame)
    out = tmp_path / "s.h5"
    proc = start(plateau_program, "run", *LONG, "-o", out)
    try:
        assert wait_for(lambda: written_runs(out) >= 0)
        proc.send_signal(sig)
        assert proc.wait(timeout=60) == -sig
    finally:
        stop(proc)
    assert debris(tmp_path) == []
    assert 0 <= written_runs(out) < 4
    if signame == "SIGHUP":  # resumable: --resume finishes it (each run is a pure function)
        r = run_program(plateau_program, "run", *LONG[:-1], "-o", out, "--resume")
        assert r.returncode == 0, r.stderr
        assert written_runs(out) == 4


# --------------------------------------------------------------------------------------------
# 11. No hangs


def test_a_fifo_is_refused_as_merge_part_and_as_init_from(plateau_program, tmp_path):
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    part = tmp_path / "p.h5"
    assert run_program(plateau_program, "run", "--seeds", "1", "--alpha-max", "1", "-q", "-o",
                       part).returncode == 0
    r = run_program(plateau_program, "merge", tmp_path / "out.h5", part, fifo, timeout=30)
    one_line_refusal(r, "merge", f"'{fifo}' for 'part'", "a regular file", "FIFO")
    r = run_program(plateau_program, "ode", "--init-from", fifo, "-o", tmp_path / "t.h5",
                    timeout=30)
    one_line_refusal(r, "ode", f"'{fifo}' for 'init-from'", "a regular file", "FIFO")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["fifo", "p.h5"]


@pytest.mark.skipif(MPIRUN is None, reason="mpirun is not installed")
def test_merge_under_mpi_is_refused(plateau_program, tmp_path):
    part = tmp_path / "p.h5"
    assert run_program(plateau_program, "run", "--seeds", "1", "--alpha-max", "1", "-q", "-o",
                       part).returncode == 0
    r = subprocess.run([MPIRUN, "--allow-run-as-root", "--oversubscribe", "-np", "2",
                        str(plateau_program), "merge", str(tmp_path / "out.h5"), str(part)],
                       capture_output=True, text=True, timeout=120)
    if "built without MPI" in r.stderr:
        pytest.skip("this plateau was built without MPI")
    assert r.returncode != 0
    lines = [l for l in r.stderr.splitlines() if l.startswith("plateau merge: ")]
    assert lines == ["plateau merge: merge runs as one process (it only copies files): allowed "
                     "is 'plateau merge OUT.h5 PART.h5 ...' without an MPI launcher"], r.stderr
    assert not (tmp_path / "out.h5").exists()


def test_a_fixed_point_search_of_hours_says_so_at_once(plateau_program):
    proc = subprocess.Popen([str(plateau_program), "ode", "--fixed-point", "--K", "50", "--M",
                             "50"], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        # Before: nothing on stderr for more than 300 s (the relaxation prints nothing).
        ready, _, _ = select.select([proc.stderr], [], [], 60)
        line = proc.stderr.readline() if ready else ""
    finally:
        stop(proc)
    assert "fixed point of grid point 0 (K = 50, M = 50)" in line, line
    assert "at least ~" in line
