"""Thread counts the system cannot give (issue 33, docs/RELIABILITY.md, "Threads").

Before: ``--threads 100`` under ``ulimit -u 60`` (or any worker the system refused) ended in
``terminate called ... pthread_create has failed: Resource temporarily unavailable`` and
SIGABRT, with whatever the writer had open.

- A count beyond what the system can start now is refused before any file: one line, exit 2.
  Linux does not apply RLIMIT_NPROC to root, so as root the child runs as ``nobody``.
- A worker that still cannot start (here: an address-space limit, ``ulimit -v``, which the
  check does not count) ends the run with one line and exit 2, and the file it leaves is
  finished by ``--resume`` to the bits of an uninterrupted run.
"""

from __future__ import annotations

import os
import re
import resource
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

from conftest import _program as built_program
from conftest import dataset_bytes

NOBODY = 65534
CAMPAIGN = ["--N", "50", "--alpha-max", "5", "--records", "6", "--eta", "0.5, 1", "--seeds", "8"]
# Runs enough (200, ~0.3 s on one core) that oneTBB asks for every worker before the work is
# done: it starts them as the work demands, and the 16 runs of CAMPAIGN could all end on the
# first workers before the one the system refuses was asked for (seen once in CI: exit 0).
BUSY = ["--N", "100", "--alpha-max", "20", "--records", "6", "--eta", "0.5, 1", "--seeds", "100"]


def _program() -> Path:
    path = built_program()
    if path is None:
        pytest.skip("the plateau program is not built")
    return path.resolve()


@pytest.fixture
def shared_dir():
    """A directory that `nobody` can write (pytest's tmp_path is private to root)."""
    path = Path(tempfile.mkdtemp(prefix="plateau-threads-"))
    path.chmod(0o777)
    yield path
    shutil.rmtree(path, ignore_errors=True)


def run_limited(args, cwd, nproc=None, address_space=None, timeout=120):
    """``plateau run ARGS`` in a child with lowered limits (as nobody when we are root, so that
    RLIMIT_NPROC applies)."""
    as_root = os.getuid() == 0

    def limit():
        if nproc is not None:
            resource.setrlimit(resource.RLIMIT_NPROC, (nproc, nproc))
        if address_space is not None:
            resource.setrlimit(resource.RLIMIT_AS, (address_space, address_space))
        if nproc is not None and as_root:
            os.setgroups([])
            os.setgid(NOBODY)
            os.setuid(NOBODY)

    try:
        return subprocess.run([str(_program()), "run", *map(str, args)], cwd=cwd,
                              capture_output=True, text=True, timeout=timeout,
                              stdin=subprocess.DEVNULL, preexec_fn=limit)
    except PermissionError:
        pytest.skip("nobody cannot run the built program (a private build directory)")


def one_line(res):
    assert res.returncode == 2, (res.returncode, res.stderr)
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1, res.stderr
    return lines[0]


def test_more_threads_than_ulimit_u_allows_are_refused_before_any_file(shared_dir):
    out = shared_dir / "t.h5"
    line = one_line(run_limited([*CAMPAIGN, "--threads", "64", "-q", "-o", out], shared_dir,
                                nproc=40))
    assert re.fullmatch(r"plateau run: invalid value '64' for 'threads': allowed is at most \d+ "
                        r"on this machine now: ulimit -u \(RLIMIT_NPROC\) 40 less the \d+ "
                        r"thread\(s\) this user runs", line), line
    assert sorted(p.name for p in shared_dir.iterdir()) == []
    # --dry-run says the same.
    assert "'threads'" in one_line(run_limited([*CAMPAIGN, "--threads", "64", "--dry-run"],
                                               shared_dir, nproc=40))
    # Within the limit the campaign runs.
    ok = run_limited([*CAMPAIGN, "--threads", "4", "-q", "-o", out], shared_dir, nproc=40)
    assert ok.returncode == 0, ok.stderr
    assert out.exists()


def _address_space_for_one_thread(tmp_path) -> int:
    """The smallest of a few address-space limits under which a one-thread campaign runs."""
    for mib in (64, 96, 128, 192, 256, 384, 512, 768, 1024, 2048):
        res = run_limited([*BUSY, "--threads", "1", "-q", "--overwrite", "-o",
                           tmp_path / "probe.h5"], tmp_path, address_space=mib << 20)
        if res.returncode == 0:
            return mib << 20
    pytest.skip("no address-space limit up to 2 GiB lets a campaign run (a sanitizer build?)")


def test_a_worker_the_system_refuses_ends_in_one_line_and_a_resumable_file(tmp_path):
    limit = _address_space_for_one_thread(tmp_path) + (64 << 20)
    # Far more workers than their stacks (4 MiB each for oneTBB) can fit in that address space.
    threads = (limit >> 22) + 16
    out = tmp_path / "refused.h5"
    res = run_limited([*BUSY, "--threads", threads, "-q", "-o", out], tmp_path,
                      address_space=limit)
    line = one_line(res)
    assert line.startswith(f"plateau run: invalid value '{threads}' for 'threads': allowed is "
                           "fewer threads or a higher system limit: the system refused to start "
                           "one (pthread_create has failed: "), line
    assert line.endswith(f"'{out}' keeps every finished run: --resume finishes it"), line
    assert out.exists()
    resumed = run_limited([*BUSY, "--threads", "2", "-q", "--resume", "-o", out], tmp_path)
    assert resumed.returncode == 0, resumed.stderr
    clean = run_limited([*BUSY, "--threads", "2", "-q", "-o", tmp_path / "clean.h5"],
                        tmp_path)
    assert clean.returncode == 0, clean.stderr
    assert dataset_bytes(out) == dataset_bytes(tmp_path / "clean.h5")
