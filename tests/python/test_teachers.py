"""Several teachers in the analysis package (docs/theory.md section 17): switch times,
forgetting and transfer from a real two-teacher file, against the file's own numbers, and the
report's ``task_errors`` figure."""

from __future__ import annotations

import subprocess

import numpy as np
import pytest

from conftest import _program as built_program

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
