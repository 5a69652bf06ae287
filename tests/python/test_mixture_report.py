"""The report of a file with Gaussian-mixture runs (issue 26, docs/theory.md section 15): the
classification error over alpha with the Bayes error as a labelled horizontal line (and the
theory dashed), and the per-unit overlaps with the mixture's means."""

from __future__ import annotations

import csv
import io
import math
import subprocess

import numpy as np
import pytest

import plateau_analysis as pa
from plateau_analysis.mixture_figures import plot_class_error, plot_mean_overlaps
from plateau_analysis.report import report

from conftest import run_plateau

#: A tiny XOR run: N = 100, K = 2, three seeds, alpha = 5.
XOR = ("--inputs", "mixture", "--clusters", "xor", "--cluster-variance", "0.1", "--K", 2,
       "--M", 1, "--activation", "relu", "--learn-v", "true", "--v0", "0.1", "--N", 100,
       "--eta", 1, "--alpha-max", 5, "--records", 6, "--seeds", 3, "--eg-samples", 1000)


def _xor_bayes(delta: float) -> float:
    # docs/theory.md Eq. (15.6): 2 q (1 - q), q = Phi(-1/sqrt(2 Delta)).
    q = 0.5 * math.erfc(1.0 / math.sqrt(2.0 * delta) / math.sqrt(2.0))
    return 2.0 * q * (1.0 - q)


@pytest.fixture(scope="module")
def files(plateau_program, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("mixture_report")
    sim, theory = tmp / "xor.h5", tmp / "xor_ode.h5"
    run_plateau(plateau_program, sim, *XOR)
    subprocess.run([str(plateau_program), "ode", *map(str, XOR), "--init-from", str(sim),
                    "-q", "-o", str(theory)], check=True, capture_output=True, timeout=300)
    return sim, theory


def _group(path):
    return pa.load_campaign(path)["K2_M1"]


def test_the_report_draws_the_mixture_figures(files, tmp_path):
    sim, theory = files
    written = {p.name for p in report(sim, tmp_path, theory, formats=("png",),
                                      out=io.StringIO())}
    assert {"class_error_K2_M1.png", "mean_overlaps_K2_M1_p0.png"} <= written


def test_a_gaussian_file_has_no_mixture_figures(plateau_program, tmp_path):
    path = tmp_path / "gauss.h5"
    run_plateau(plateau_program, path, "--N", 40, "--seeds", 2, "--alpha-max", 1,
                "--records", 3)
    written = {p.name for p in report(path, tmp_path / "r", formats=("png",),
                                      out=io.StringIO())}
    assert not any(n.startswith(("class_error", "mean_overlaps")) for n in written)
    assert "class_error_mean" not in pa.seed_average(_group_of(path))


def _group_of(path):
    return next(iter(pa.load_campaign(path).values()))


def test_the_class_error_figure_says_what_it_shows(files):
    sim, theory = files
    ds, th = _group(sim), _group(theory)
    avg, th_avg = pa.seed_average(ds), pa.seed_average(th)
    # The seed mean is the mean over the three runs of class_error.
    assert np.allclose(avg["class_error_mean"].values[0], ds["class_error"].values.mean(axis=0))
    fig = plot_class_error(ds, avg, th_avg, np.array([0]))
    ax = fig.axes[0]
    assert ax.get_ylabel() == "classification error P(sign σ ≠ y)"
    assert ax.get_xlabel().startswith("training time α = examples / N")
    title = ax.get_title().replace("\n", " ")
    assert "classification error" in title and "xor mixture, Δ = 0.1" in title
    assert "g* =" not in title  # the teacher labels nothing on a mixture
    texts = [t.get_text() for legend in ax.findobj(lambda a: a.__class__.__name__ == "Legend")
             for t in legend.get_texts()]
    bayes = _xor_bayes(0.1)
    assert f"Bayes error {bayes:.4f} (lowest possible)" in texts
    assert "theory (N → ∞)" in texts
    assert "seed mean" in texts
    # The Bayes line sits at the file's Bayes error (Eq. (15.6)), across the axes.
    flat = [ln for ln in ax.get_lines() if ln.get_linestyle() == ":"
            and np.ptp(np.asarray(ln.get_ydata(), dtype=float)) == 0]
    assert len(flat) == 1
    assert flat[0].get_ydata()[0] == pytest.approx(bayes, rel=1e-12)
    # The theory curve (dashed; log alpha axis, so alpha > 0) is the theory file's class_error
    # (its runs start where the three simulations start: their mean).
    dashed = [ln for ln in ax.get_lines() if ln.get_linestyle() == "--"
              and len(ln.get_xdata()) > 1]
    assert len(dashed) == 1
    pos = th["alpha"].values > 0
    assert np.allclose(dashed[0].get_ydata(), th["class_error"].values.mean(axis=0)[pos])


def test_the_overlap_figure_draws_each_unit_against_each_mean(files):
    sim, theory = files
    ds, th = _group(sim), _group(theory)
    avg = pa.seed_average(ds)
    fig = plot_mean_overlaps(ds, avg, 0, th)
    panels = [ax for ax in fig.axes if ax.get_visible() and ax.get_title()]
    assert [ax.get_title() for ax in panels] == ["student unit j = 0", "student unit j = 1"]
    assert "M_jc = w_j·μ_c" in fig._supylabel.get_text()
    assert fig._supxlabel.get_text().startswith("training time α")
    labels = [t.get_text() for t in fig.legends[0].get_texts()]
    assert labels == ["+e₁ (y = +1)", "−e₁ (y = +1)", "+e₂ (y = −1)", "−e₂ (y = −1)",
                      "theory (N → ∞), same start"]
    assert "seed 0" in fig._suptitle.get_text()
    # Unit 1's line for cluster 2 (+e_2) is M_{1,2} of the first run, over alpha > 0.
    M = ds["mean_overlaps"].values[0]
    solid = [ln for ln in panels[1].get_lines() if ln.get_linestyle() == "-"
             and len(ln.get_xdata()) > 2]
    pos = ds["alpha"].values > 0
    assert np.allclose(solid[2].get_ydata(), M[pos, 1, 2])
    dashed = [ln for ln in panels[1].get_lines() if ln.get_linestyle() == "--"]
    assert np.allclose(dashed[2].get_ydata(), th["mean_overlaps"].values[0][pos, 1, 2])


def test_the_plateau_table_says_what_a_classification_reached(files, tmp_path):
    """A mixture group's row says what the classification reached (the seed-mean class_error
    at the last record and the Bayes error), not the regression's outcome words (learned;
    plateau = not converged at the end), which eps_g on +-1 labels cannot fulfil."""
    sim, _ = files
    out = io.StringIO()
    report(sim, tmp_path, formats=("png",), out=out)
    text = out.getvalue()
    ds = _group(sim)
    end = float(ds["class_error"].values.mean(axis=0)[-1])
    bayes = _xor_bayes(0.1)
    words = f"class_error {end:.4g} at the end, Bayes error {bayes:.4g}"
    assert words in text
    assert "Gaussian-mixture runs classifies" in text
    with open(tmp_path / "plateaus.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 1
    assert float(rows[0]["class_error_end"]) == pytest.approx(end, rel=1e-7)  # 8 digits
    assert float(rows[0]["bayes_error"]) == pytest.approx(bayes, rel=1e-7)
    assert rows[0]["outcomes"] == words
    for word in ("learned", "plateau", "failed", "diverged"):
        assert word not in rows[0]["outcomes"]


def test_a_gaussian_plateau_table_keeps_the_regression_words(plateau_program, tmp_path):
    path = tmp_path / "gauss.h5"
    run_plateau(plateau_program, path, "--N", 40, "--seeds", 2, "--alpha-max", 1,
                "--records", 3)
    out = io.StringIO()
    report(path, tmp_path / "r", formats=("png",), out=out)
    with open(tmp_path / "r" / "plateaus.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert "class_error_end" not in rows[0]
    assert "class_error" not in rows[0]["outcomes"]
