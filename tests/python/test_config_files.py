"""Configuration files and run lengths the program must refuse or accept (docs/RELIABILITY.md).

Each case failed before its fix: a directory as CONFIG ran the defaults, a FIFO blocked
forever, /dev/zero read without end, a BOM or bare-CR file was refused or read as one line, and
alpha-max x N beyond 2^63 gave a run of 0 steps marked completed.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from conftest import _program as built_program, refused



def _program() -> Path:
    path = built_program()
    if path is None:
        pytest.skip("the plateau program is not built")
    return path.resolve()


def run(*args, timeout=30):
    return subprocess.run([str(_program()), "run", *map(str, args)], capture_output=True,
                          text=True, timeout=timeout, stdin=subprocess.DEVNULL)


def test_a_directory_is_not_a_configuration_file(tmp_path):
    refused(run(tmp_path, "--dry-run"), "not a regular file")


def test_a_fifo_is_refused_without_blocking(tmp_path):
    fifo = tmp_path / "config.fifo"
    os.mkfifo(fifo)
    refused(run(fifo, "--dry-run", timeout=10), "not a regular file")


def test_a_device_is_refused():
    refused(run("/dev/zero", "--dry-run", timeout=10), "not a regular file")


def test_a_huge_configuration_file_is_refused(tmp_path):
    big = tmp_path / "big.ini"
    big.write_text("# padding\n" * 200_000)
    refused(run(big, "--dry-run"), "bytes: allowed is at most")


def test_a_missing_configuration_file_is_named(tmp_path):
    refused(run(tmp_path / "nope.ini", "--dry-run"), "does not exist")


@pytest.mark.parametrize("encoding", ["bom", "cr", "crlf"])
def test_bom_and_every_line_end_are_read(tmp_path, encoding):
    lines = ["N = 30", "K = 3", "eta = 0.25"]
    text = {"bom": "\ufeff" + "\n".join(lines) + "\n", "cr": "\r".join(lines) + "\r",
            "crlf": "\r\n".join(lines) + "\r\n"}[encoding]
    config = tmp_path / "c.ini"
    config.write_bytes(text.encode("utf-8"))
    res = run(config, "--print-config")
    assert res.returncode == 0, res.stderr
    for want in ("N = 30", "K = 3", "eta = 0.25"):
        assert want in res.stdout


def test_line_numbers_count_crlf_lines_once(tmp_path):
    config = tmp_path / "c.ini"
    config.write_bytes(b"N = 30\r\nK = 3\r\nbogus line\r\n")
    refused(run(config, "--dry-run"), "c.ini:3:")


def test_a_run_too_long_to_count_is_refused():
    refused(run("--alpha-max", "1e18", "--N", "10", "--dry-run"), "alpha-max", "2^53")
    ok = run("--alpha-max", "1e3", "--N", "10", "--dry-run")
    assert ok.returncode == 0, ok.stderr


def test_more_threads_than_cores_are_used_quietly(tmp_path):
    # Before: oneTBB printed "TBB Warning: The number of workers is currently limited..." even
    # under -q, and ignored the request.
    res = run("--threads", "64", "-q", "--N", "20", "--alpha-max", "0.2", "--seeds", "3",
              "-o", tmp_path / "t.h5")
    assert res.returncode == 0, res.stderr
    assert res.stderr == ""
