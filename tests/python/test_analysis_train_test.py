"""Training and test error together (plateau_analysis.standard.plot_train_test): a file of runs on
a finite training set with noisy labels holds ``eps_train`` (schema 1.2), the figure draws both
errors per grid point with the gap in the legend, and the report writes it only when the file
has a training error."""

from __future__ import annotations

import numpy as np
import pytest

import plateau_analysis as pa
from plateau_analysis.report import report
from plateau_analysis.standard import generalization_gap, has_training_error, plot_train_test
from plateau_analysis.figures import pyplot

from conftest import run_plateau


@pytest.fixture(scope="module")
def finite_set(plateau_program, tmp_path_factory):
    path = tmp_path_factory.mktemp("regimes") / "finite.h5"
    run_plateau(plateau_program, path, "--N", 40, "--alpha-train", "0.5, 4", "--noise", 0.5,
                "--batch", 4, "--eta", 1, "--seeds", 3, "--alpha-max", 20, "--records", 25,
                "--alpha-min", 0.1)
    return path


def test_the_file_holds_the_training_error(finite_set):
    ds = pa.load_campaign(finite_set)["K2_M2"]
    assert has_training_error(ds)
    assert np.isfinite(ds["eps_train"].values).all()
    # examples seen: 4 per update, alpha N updates.
    steps = np.round(ds["alpha"].values * 40)
    assert np.array_equal(ds["examples"].values[0], 4 * steps)
    # A small set with noisy labels is fitted better than it generalizes at the end.
    gaps = generalization_gap(ds)
    assert len(gaps) == 2
    assert gaps[0][0] > 0 and np.isfinite(gaps[0][1])


def test_on_line_runs_have_no_training_error(plateau_program, tmp_path):
    path = tmp_path / "online.h5"
    run_plateau(plateau_program, path, "--N", 40, "--seeds", 2, "--alpha-max", 2, "--records", 5)
    ds = pa.load_campaign(path)["K2_M2"]
    assert "eps_train" in ds and np.isnan(ds["eps_train"].values).all()
    assert not has_training_error(ds)
    out = tmp_path / "report"
    report(path, out, formats=("png",))
    assert not list(out.glob("train_test_*"))


def test_the_figure_renders_both_errors_and_the_gap(finite_set, tmp_path):
    ds = pa.load_campaign(finite_set)["K2_M2"]
    avg = pa.seed_average(ds)
    fig = plot_train_test(ds, avg)
    ax = fig.axes[0]
    styles = [line.get_linestyle() for line in ax.get_lines()]
    assert styles.count("--") >= 2 and styles.count("-") >= 2  # two points, both errors
    assert styles.count(":") >= 2  # eps_g + s^2/2 (label noise 0.5)
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert sum("gap" in t for t in labels) == 2
    pyplot().close(fig)
    out = tmp_path / "report"
    report(finite_set, out, formats=("png",))
    assert (out / "train_test_K2_M2.png").stat().st_size > 0
