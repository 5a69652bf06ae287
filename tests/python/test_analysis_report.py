"""`python3 -m plateau_analysis report`: end to end on small files, and its errors."""

from __future__ import annotations

import csv
import os
import subprocess
import sys

import h5py
import pytest

from conftest import ANALYSIS, make_pending, run_plateau

from plateau_analysis.cli import main
from plateau_analysis.report import match_theory

PYTHON = "/usr/bin/python3" if os.path.exists("/usr/bin/python3") else sys.executable


def cli(*args):
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(
        [str(ANALYSIS)] + ([env["PYTHONPATH"]] if env.get("PYTHONPATH") else []))
    env["MPLBACKEND"] = "Agg"
    return subprocess.run([PYTHON, "-m", "plateau_analysis", *map(str, args)],
                          capture_output=True, text=True, timeout=120, env=env)


@pytest.fixture(scope="module")
def sweep(plateau_program, tmp_path_factory):
    path = tmp_path_factory.mktemp("report") / "sweep.h5"
    run_plateau(plateau_program, path, "--eta", "0.5,1.0", "--seeds", 4, "--N", 100,
                "--records", 60)
    return path


def read_csv(path):
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def assert_figure(path, kind):
    assert path.exists(), path
    data = path.read_bytes()
    assert len(data) > 5000, path
    assert data.startswith(b"\x89PNG" if kind == "png" else b"%PDF"), path


def test_report_end_to_end(sweep, theory_file, tmp_path):
    out = tmp_path / "report"
    result = cli("report", sweep, "--theory", theory_file, "-o", out)
    assert result.returncode == 0, result.stderr
    for stem in ("eg_K2_M2", "overlaps_K2_M2_p0", "overlaps_K2_M2_p1", "sweep_K2_M2_eta"):
        for kind in ("png", "pdf"):
            assert_figure(out / f"{stem}.{kind}", kind)
    rows = read_csv(out / "plateaus.csv")
    assert [r["eta"] for r in rows] == ["0.5", "1"]
    for r in rows:
        assert r["group"] == "K2_M2" and r["n_completed"] == "4" and r["found"] == "yes"
        height, theory = float(r["height"]), float(r["theory_height"])
        assert height == pytest.approx(theory, rel=0.1)
        assert float(r["start"]) < float(r["end"]) < float(r["escape"])
        assert float(r["length"]) == pytest.approx(float(r["end"]) - float(r["start"]),
                                                   rel=1e-6)
        assert int(r["runs_escaped"]) >= 3
    runs = read_csv(out / "plateaus_runs.csv")
    assert len(runs) == 8 and {r["seed"] for r in runs} == {"0", "1", "2", "3"}
    # The table is printed too.
    assert "Plateaus per grid point" in result.stdout
    lines = result.stdout.splitlines()
    header = next(line for line in lines if line.split()[:2] == ["group", "point"])
    assert "height" in header and "escape" in header and "th_height" in header
    assert sum(line.strip().startswith("K2_M2") for line in lines) == 2


def test_report_single_point_in_process(plateau_program, tmp_path, capsys):
    """One grid point, pending runs, standard-error band: no sweep figure, a warning."""
    path = tmp_path / "single.h5"
    run_plateau(plateau_program, path, "--seeds", 3, "--N", 100, "--records", 50)
    pending = make_pending(path, tmp_path / "pending.h5", [2])
    out = tmp_path / "out"
    assert main(["report", str(pending), "-o", str(out), "--band", "se",
                 "--formats", "png"]) == 0
    captured = capsys.readouterr()
    assert "1 of 3 run(s) are pending" in captured.err
    assert_figure(out / "eg_K2_M2.png", "png")
    assert_figure(out / "overlaps_K2_M2_p0.png", "png")
    assert not list(out.glob("sweep_*")) and not list(out.glob("*.pdf"))
    rows = read_csv(out / "plateaus.csv")
    assert len(rows) == 1 and rows[0]["n_pending"] == "1" and rows[0]["n_completed"] == "2"


def test_report_of_an_unfinished_file(sweep, tmp_path, capsys):
    """Every run pending (a campaign killed at once): figures say so, the table has counts."""
    path = make_pending(sweep, tmp_path / "pending.h5", range(8))
    out = tmp_path / "out"
    assert main(["report", str(path), "-o", str(out), "--formats", "png"]) == 0
    assert "8 of 8 run(s) are pending" in capsys.readouterr().err
    assert_figure(out / "eg_K2_M2.png", "png")
    rows = read_csv(out / "plateaus.csv")
    assert [(r["n_pending"], r["found"]) for r in rows] == [("4", "no"), ("4", "no")]


def test_report_of_a_theory_file(theory_file, tmp_path, capsys):
    out = tmp_path / "theory"
    assert main(["report", str(theory_file), "-o", str(out), "--formats", "png"]) == 0
    assert_figure(out / "sweep_K2_M2_eta.png", "png")
    rows = read_csv(out / "plateaus.csv")
    assert [r["found"] for r in rows] == ["yes", "yes"]


def test_match_theory(sweep, theory_file):
    import plateau_analysis as pa

    sim = pa.seed_average(pa.load_campaign(sweep)["K2_M2"])
    th = pa.seed_average(pa.load_campaign(theory_file)["K2_M2"])
    assert match_theory(sim, th).tolist() == [0, 1]  # by eta; N differs (100 vs 0)
    assert match_theory(sim, th.isel(point=[1])).tolist() == [-1, 0]


def test_cli_missing_file_exit_status(tmp_path):
    result = cli("report", tmp_path / "absent.h5", "-o", tmp_path / "out")
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("plateau_analysis: error: ") and "no such file" in lines[0]
    assert not (tmp_path / "out").exists()


def test_cli_bad_files(sweep, tmp_path, capsys):
    text = tmp_path / "notes.txt"
    text.write_text("not hdf5")
    other = tmp_path / "other.h5"
    with h5py.File(other, "w") as f:
        f["x"] = [1, 2, 3]
    newer = tmp_path / "newer.h5"
    newer.write_bytes(sweep.read_bytes())
    with h5py.File(newer, "a") as f:
        f.attrs["schema_version"] = 7
    expected = {text: "not an HDF5 file", other: "not a plateau campaign file",
                newer: "schema_version 7 is newer"}
    for path, message in expected.items():
        assert main(["report", str(path), "-o", str(tmp_path / "out")]) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and message in err[0] and str(path) in err[0]
    # A bad theory file is an error too.
    assert main(["report", str(sweep), "--theory", str(text), "-o", str(tmp_path / "o")]) == 2
    assert "not an HDF5 file" in capsys.readouterr().err
