"""Polynomial targets end to end (docs/theory.md §13): a sweep over targets is written with the
target as a per-run text coordinate, the analysis reads it (and the configuration text) without
complaint, and a bad target is one line with exit status 2 and no file."""

import numpy as np

from conftest import refused, run_plateau, run_program
from plateau_analysis.campaign import load_campaign
from plateau_analysis.configs import is_sweep, parse_config
from plateau_analysis.summary import summary_rows

ARGS = ["--activation", "square", "--K", "1", "--M", "2", "--N", "100", "--q0", "0.5",
        "--eta", "0.1", "--alpha-max", "2", "--records", "3", "--schedule", "linear",
        "--seeds", "2", "--eg-samples", "1000"]


def test_a_sweep_over_targets_is_read_by_the_analysis(plateau_program, tmp_path):
    for dynamics in ("full", "gram"):
        out = tmp_path / f"{dynamics}.h5"
        run_plateau(plateau_program, out, *ARGS, "--target", "y1^2, he2(y1) + y1*y2",
                    "--dynamics", dynamics)
        ds = load_campaign(out)["K1_M2"]
        assert list(ds.target.values) == ["y1^2", "y1^2", "he2(y1) + y1*y2", "he2(y1) + y1*y2"]
        assert (ds.status == 1).all(), dynamics
        assert np.isfinite(ds.eg.values).all(), dynamics
        assert (ds.eg_stderr == 0).all(), dynamics  # exact: Isserlis, docs/theory.md Eq. (13.4)
        config = parse_config(ds.attrs["config"])
        assert config["target"] == "y1^2, he2(y1) + y1*y2"
        assert is_sweep(config["target"])
        rows = summary_rows(load_campaign(out))  # one row per grid point: one per target
        assert len(rows) == 2, rows


def test_a_single_target_is_a_setting(plateau_program, tmp_path):
    out = tmp_path / "one.h5"
    run_plateau(plateau_program, out, *ARGS, "--target", "he3(y2)")
    ds = load_campaign(out)["K1_M2"]
    assert parse_config(ds.attrs["config"])["target"] == "he3(y2)"
    assert str(ds.target.values) == "he3(y2)"


def test_a_bad_target_is_one_line_and_exit_status_2(plateau_program, tmp_path):
    out = tmp_path / "bad.h5"
    r = run_program(plateau_program, "run", *ARGS, "--target", "y1 * (y2 +", "-o", out)
    refused(r, "'target'", "at character 11", "found the end")
    assert not out.exists()
    r = run_program(plateau_program, "run", *ARGS, "--target", "y1*y3", "-o", out)
    refused(r, "'target'", "M = 2", "set M to at least 3")
    assert not out.exists()
