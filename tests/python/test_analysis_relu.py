"""The plateau rule on ReLU simulations (K = M = 2, eta = 0.1 and 0.5, N = 500), and its
command-line options."""

from __future__ import annotations

import csv

import pytest

from conftest import run_plateau

import plateau_analysis as pa
from plateau_analysis.cli import main
from plateau_analysis.detection import rule_for


@pytest.fixture(scope="module")
def relu(plateau_program, tmp_path_factory):
    path = tmp_path_factory.mktemp("relu") / "relu.h5"
    run_plateau(plateau_program, path, "--activation", "relu", "--teacher-activation", "relu",
                "--eta", "0.1,0.5", "--seeds", 4, "--N", 500)
    return path


def test_relu_plateaus_are_found(relu):
    """Each run has a visible plateau (a shoulder of eps_g ~ 0.07-0.1 over a factor ~2 in alpha
    before the exponential escape): found in at least 7 of 8 runs and in both seed means."""
    ds = pa.load_campaign(relu)["K2_M2"]
    rule = rule_for(ds.attrs["config"])
    assert rule.min_factor < pa.PlateauRule().min_factor
    runs = pa.plateaus(ds, rule)
    assert runs["found"].values.sum() >= 7
    assert runs["escaped"].values[runs["found"].values].all()
    found = runs["found"].values
    assert ((runs["height"].values[found] > 0.05) & (runs["height"].values[found] < 0.12)).all()
    summary = pa.plateau_summary(ds, rule)
    assert summary["found"].values.all() and (summary["runs_escaped"].values >= 3).all()
    # Larger eta: earlier escape.
    assert summary["escape"].values[1] < summary["escape"].values[0]


def read_csv(path):
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def test_plateau_options_on_the_command_line(relu, tmp_path, capsys):
    out = tmp_path / "default"
    assert main(["report", str(relu), "-o", str(out), "--formats", "png"]) == 0
    assert [r["found"] for r in read_csv(out / "plateaus.csv")] == ["yes", "yes"]
    strict = tmp_path / "strict"
    assert main(["report", str(relu), "-o", str(strict), "--formats", "png",
                 "--plateau-min-factor", "50", "--plateau-band", "0.01"]) == 0
    assert [r["found"] for r in read_csv(strict / "plateaus.csv")] == ["no", "no"]
    capsys.readouterr()
    with pytest.raises(SystemExit):
        main(["report", str(relu), "-o", str(strict), "--plateau-band", "wide"])
    assert "--plateau-band" in capsys.readouterr().err


def test_tilted_plateau_option():
    """A plateau tilted at slope -0.2 from alpha = 5 to 50: with tilt the band follows it."""
    import numpy as np

    alpha = np.r_[0.0, np.geomspace(0.01, 300.0, 99)]
    ka, ke = np.log(np.array([(0.01, 0.5), (0.1, 0.5), (5.0, 0.1), (50.0, 0.1 * 10 ** -0.2),
                              (150.0, 1e-3), (300.0, 1e-4)])).T
    eg = np.exp(np.interp(np.log(np.where(alpha > 0, alpha, 0.01)), ka, ke))
    flat = pa.detect_plateau(alpha, eg, rule=pa.PlateauRule(slope_max=0.25))
    tilted = pa.detect_plateau(alpha, eg, rule=pa.PlateauRule(slope_max=0.25, tilt=True))
    assert not flat.found or flat.end / flat.start < 3
    assert tilted.found and tilted.escaped
    # (the fall before it is shallow, slope -0.4: the start lies within a factor 1.5)
    assert 5.0 / 1.5 <= tilted.start <= 5.0 * 1.3 and 50.0 / 1.3 <= tilted.end <= 50.0 * 1.3
