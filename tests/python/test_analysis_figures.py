"""plateau_analysis figures and report options on hand-made (synthetic) campaigns: no grid point
is dropped, the standard figures render with the expected artists and labels."""

from __future__ import annotations

import csv
import math
import warnings

import numpy as np
import pytest

import plateau_analysis as pa
from plateau_analysis.detection import PlateauRule
from plateau_analysis.figures import EDGE_Y, plot_sweep, pyplot
from plateau_analysis.report import report
from plateau_analysis.synthetic import make_group, write_campaign

ALPHA = np.r_[0.0, np.geomspace(0.01, 300.0, 99)]


def plateau_curve(height=0.02, start=5.0, end=60.0):
    """A log-log curve that falls, stays at ``height`` from ``start`` to ``end``, then falls."""
    u = np.log(np.where(ALPHA > 0, ALPHA, ALPHA[1]))
    y = np.full_like(u, math.log(height))
    y = np.where(u < math.log(start), y - 2.0 * (u - math.log(start)), y)
    y = np.where(u > math.log(end), y - 4.0 * (u - math.log(end)), y)
    return np.exp(np.minimum(y, math.log(0.5)))


def overlaps(n_runs, specialized_after=None):
    """Q, R of K = M = 2 students: symmetric (r = 0.3), specialized after ``specialized_after``."""
    Q = np.broadcast_to(np.eye(2) * 0.8, (n_runs, ALPHA.size, 2, 2)).copy()
    R = np.full((n_runs, ALPHA.size, 2, 2), 0.3)
    if specialized_after is not None:
        late = ALPHA > specialized_after
        R[:, late] = np.array([[0.85, 0.02], [0.02, 0.85]])
    return Q, R


def eta_sweep_group():
    """eta = 0.5 (both runs escape), 1 (one of two escapes), 2 (no plateau), 4 (both diverge)."""
    curves = [plateau_curve(), plateau_curve(end=40.0), plateau_curve(end=30.0),
              0.02 * np.ones(ALPHA.size), 0.5 / (1 + ALPHA), 0.5 / (1 + ALPHA),
              np.full(ALPHA.size, np.nan), np.full(ALPHA.size, np.nan)]
    eg = np.array(curves)
    eg[3, :40] = plateau_curve()[:40]  # falls onto a plateau, stays there (unspecialized)
    eg[6:, :30] = plateau_curve()[:30]
    Q, R = overlaps(8, specialized_after=60.0)
    R[3] = 0.3  # the run still on the plateau is unspecialized
    status = np.array([1, 1, 1, 1, 1, 1, 2, 2])
    return make_group(ALPHA, eg, Q, R, np.eye(2), status=status, seeds=2,
                      coords={"eta": np.repeat([0.5, 1.0, 2.0, 4.0], 2),
                              "N": np.full(8, 100)})


@pytest.fixture()
def sweep_file(tmp_path):
    return write_campaign(tmp_path / "sweep.h5", {"K2_M2": eta_sweep_group()},
                          kind="simulation", seeds=2)


def test_sweep_figure_keeps_every_point(sweep_file):
    ds = pa.load_campaign(sweep_file)["K2_M2"]
    summary = pa.plateau_summary(ds)
    assert summary["runs_escaped"].values.tolist() == [2, 1, 0, 0]
    plt = pyplot()
    fig = plot_sweep(ds, summary, "eta")
    ax_e, ax_h = fig.axes[:2]
    texts = [t.get_text() for t in ax_e.texts]
    # Every grid point carries "escaped / runs" (and its diverged runs).
    assert texts == ["2/2", "1/2", "0/2", "0/2 (2 div)"]
    # The points without an escape time are drawn at the top edge: open circle, open cross.
    edge = [line for line in ax_e.get_lines()
            if line.get_transform() == ax_e.get_xaxis_transform()]
    assert sorted((line.get_marker(), tuple(line.get_xdata())) for line in edge) == [
        ("X", (4.0,)), ("o", (2.0,))]
    assert all(line.get_mfc() == "none" and line.get_ydata()[0] == EDGE_Y for line in edge)
    labels = ax_e.get_legend().get_texts()
    assert any("no run escaped" in t.get_text() for t in labels)
    assert any("every run diverged" in t.get_text() for t in labels)
    # The height panel: eta = 2 has no plateau in any run, eta = 4 diverged.
    edge_h = [line for line in ax_h.get_lines()
              if line.get_transform() == ax_h.get_xaxis_transform()]
    assert sorted(tuple(line.get_xdata()) for line in edge_h) == [(2.0,), (4.0,)]
    plt.close(fig)


def test_report_table_counts_escapes(sweep_file, tmp_path):
    out = tmp_path / "out"
    with open(tmp_path / "stdout.txt", "w") as f:
        report(sweep_file, out, formats=["png"], out=f)
    text = (tmp_path / "stdout.txt").read_text()
    assert "esc/runs" in text
    with open(out / "plateaus.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert [r["escaped_of_runs"] for r in rows] == ["2/2", "1/2", "0/2", "0/2"]


# --------------------------------------------------------------------------------------------
# A theory file from another configuration


CONFIG = ("N = 100\nK = 2\nM = 2\neta = {eta}\nactivation = {act}\nnoise = 0\nseeds = {seeds}\n"
          "seed = {seed}\nalpha-max = 300\n")


def theory_group(etas):
    eg = np.array([plateau_curve() for _ in etas])
    Q, R = overlaps(len(etas), specialized_after=60.0)
    return make_group(ALPHA, eg, Q, R, np.eye(2), coords={"eta": list(etas), "N": [0] * len(etas)})


def test_theory_from_another_configuration(sweep_file, tmp_path):
    from plateau_analysis.configs import ConfigMismatchError, ConfigMismatchWarning
    from plateau_analysis.cli import main

    sim = tmp_path / "sim.h5"
    write_campaign(sim, {"K2_M2": eta_sweep_group()}, kind="simulation", seeds=2,
                   attrs={"config": CONFIG.format(eta="0.5,1,2,4", act="erf", seeds=2, seed=1)})
    other = write_campaign(tmp_path / "relu.h5", {"K2_M2": theory_group([0.5, 1.0])},
                           attrs={"config": CONFIG.format(eta="0.5,1", act="relu", seeds=1,
                                                          seed=7).replace("N = 100", "N = 0")})
    with pytest.raises(ConfigMismatchError) as err:
        report(sim, tmp_path / "o1", other, formats=["png"], out=open(tmp_path / "t", "w"))
    message = str(err.value)
    assert "activation = erf (results) vs relu (theory)" in message
    assert "--force-theory" in message
    for ignored in ("seed", "seeds", "N =", "eta"):  # seeds, N and the swept eta may differ
        assert f"; {ignored}" not in message and f": {ignored}" not in message
    # Forced: overlaid with a warning naming the key; the points without theory are named.
    with pytest.warns(ConfigMismatchWarning) as record:
        report(sim, tmp_path / "o2", other, formats=["png"], out=open(tmp_path / "t", "w"),
               force_theory=True)
    texts = [str(w.message) for w in record]
    assert any("activation = erf (results) vs relu (theory)" in t for t in texts)
    assert any("no theory for 2 of 4 grid point(s) of K2_M2: (eta = 2), (eta = 4)" in t
               for t in texts)
    # The command line: exit status 2 and one line; --force-theory gives warnings on stderr.
    assert main(["report", str(sim), "--theory", str(other), "-o", str(tmp_path / "o3"),
                 "--formats", "png"]) == 2
    same = write_campaign(tmp_path / "erf.h5", {"K2_M2": theory_group([0.5, 1.0, 2.0, 4.0])},
                          attrs={"config": CONFIG.format(eta="0.5,1,2,4", act="erf", seeds=1,
                                                         seed=3)})
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConfigMismatchWarning)
        report(sim, tmp_path / "o4", same, formats=["png"], out=open(tmp_path / "t", "w"))

