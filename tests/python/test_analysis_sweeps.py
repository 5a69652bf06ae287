"""Several campaign files read as one sweep (report A.h5 B.h5 --theory T1.h5 T2.h5)."""

from __future__ import annotations

import csv

import numpy as np
import pytest

from conftest import ode_theory_file, run_plateau

import plateau_analysis as pa
from plateau_analysis.cli import main
from plateau_analysis.configs import ConfigMismatchError
from plateau_analysis.merge import load_sweep

COMMON = ("--N", 100, "--records", 40, "--alpha-max", 300)


@pytest.fixture(scope="module")
def files(plateau_program, tmp_path_factory):
    d = tmp_path_factory.mktemp("sweeps")
    a, b, c = d / "a.h5", d / "b.h5", d / "c.h5"
    run_plateau(plateau_program, a, "--eta", "0.5", "--seeds", 2, *COMMON)
    run_plateau(plateau_program, b, "--eta", "1,1.5", "--seeds", 3, "--seed", 9, *COMMON)
    run_plateau(plateau_program, c, "--eta", "1", "--noise", "0.1", "--seeds", 2, *COMMON)
    return a, b, c


def test_open_sweep_merges_files(files):
    a, b, _ = files
    ds = load_sweep([a, b])["K2_M2"]
    assert ds.sizes["run"] == 8 and ds.attrs["seeds"] == 3
    avg = pa.seed_average(ds)
    assert avg["eta"].values.tolist() == [0.5, 1.0, 1.5]
    assert avg["n_completed"].values.tolist() == [2, 3, 3]
    # The runs are the files' runs, unchanged.
    np.testing.assert_array_equal(ds["eg"].values[:2], pa.load_campaign(a)["K2_M2"]["eg"].values)
    np.testing.assert_array_equal(ds["eg"].values[2:], pa.load_campaign(b)["K2_M2"]["eg"].values)


def test_files_that_differ_in_a_fixed_setting(files):
    a, _, c = files
    with pytest.raises(ConfigMismatchError, match=r"noise = 0 \(.*a.h5\) vs 0.1 \(.*c.h5\)"):
        load_sweep([a, c])


def test_report_of_several_files(files, tmp_path, capsys):
    a, b, c = files
    t1 = ode_theory_file(tmp_path / "t1.h5", etas=(0.5,), alpha_max=300.0, records=40)
    t2 = ode_theory_file(tmp_path / "t2.h5", etas=(1.0, 1.5), alpha_max=300.0, records=40)
    out = tmp_path / "out"
    assert main(["report", str(a), str(b), "--theory", str(t1), str(t2), "-o", str(out),
                 "--formats", "png"]) == 0
    with open(out / "plateaus.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert [r["eta"] for r in rows] == ["0.5", "1", "1.5"]
    assert all(r["theory_height"] not in ("", "nan") for r in rows)
    assert (out / "sweep_K2_M2_eta.png").exists()
    capsys.readouterr()
    assert main(["report", str(a), str(c), "-o", str(tmp_path / "bad")]) == 2
    err = capsys.readouterr().err
    assert "not swept" in err and "noise = 0" in err
