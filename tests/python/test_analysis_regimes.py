"""The report in the new regimes (issue 24, "Analysis that tells the truth"): the time unit of
batches, the generalization gap with label noise, learning curves of a training-set sweep with
their own outcome words, and deeper networks (sign symmetry, architecture in the title, no
relabelling claim without an assigned unit, the weights above the first layer)."""

from __future__ import annotations

import csv

import numpy as np
import pytest

import plateau_analysis as pa
from plateau_analysis.figures import (ALPHA_LABEL, architecture_text, examples_per_update,
                                      plot_eg, plot_overlaps, pyplot, time_label, time_unit)
from plateau_analysis.outcomes import (FINITE_CONVERGED, FINITE_FAILED, FINITE_LEARNED,
                                       FINITE_NOT_CONVERGED, FINITE_OVERFITTED, OUTCOME_FAILED,
                                       OUTCOME_LEARNED, OUTCOME_PLATEAU, finite_set_outcome)
from plateau_analysis.report import report
from plateau_analysis.standard import (generalization_gap, learning_curve,
                                       plot_normalized_overlaps, plot_train_test,
                                       plot_upper_layers)

from conftest import run_plateau

SHORT = ["--N", 40, "--alpha-max", 4, "--records", 12, "--alpha-min", 0.1, "--seeds", 2]


@pytest.fixture(scope="module")
def files(plateau_program, tmp_path_factory):
    d = tmp_path_factory.mktemp("regimes")
    made = {}

    def make(name, *args):
        made[name] = d / f"{name}.h5"
        run_plateau(plateau_program, made[name], *args)

    make("online", *SHORT)
    make("batch", *SHORT, "--batch", 4)
    make("all", *SHORT, "--batch", "all", "--alpha-train", 2, "--eta", 1)
    # The case: alpha_train = 20, s^2 = 0.3, where eps_g - eps_t was negative.
    make("noisy", "--N", 40, "--alpha-train", 20, "--noise", 0.3, "--seeds", 3,
         "--alpha-max", 30, "--records", 15, "--alpha-min", 0.1)
    # A learning curve: small sets with noisy labels over-fit.
    make("curve", "--N", 40, "--alpha-train", "0.5, 2, 8", "--noise", 0.3, "--seeds", 3,
         "--alpha-max", 100, "--records", 20, "--alpha-min", 0.1)
    # A 4x2 network (odd g, learned W_2): units end at r = +-1.
    make("deep", "--K", "4x2", "--M", "4x2", "--N", 100, "--eta", 1, "--alpha-max", 6000,
         "--records", 30, "--eg-samples", 3000, "--seeds", 4)
    return made


def _group(path):
    return next(iter(pa.load_campaign(path).values()))


# -- 1. time unit -----------------------------------------------------------------------------

def test_the_time_label_says_what_alpha_counts(files):
    online, batch, full = (_group(files[n]) for n in ("online", "batch", "all"))
    assert examples_per_update(online) == 1.0 and time_label(online) == ALPHA_LABEL
    assert time_unit(online) == "examples/N"
    assert examples_per_update(batch) == 4.0 and time_unit(batch) == "updates/N"
    assert time_label(batch).startswith("training time α = updates / N")
    assert "B = 4 examples per update" in time_label(batch)
    # batch = all: P = alpha_train N = 80 examples per update.
    assert examples_per_update(full) == 80.0
    assert "all P = 80 examples per update" in time_label(full)
    # examples (schema 1.2) = updates x examples per update, at alpha N updates.
    steps = np.round(full["alpha"].values * 40)
    assert np.array_equal(full["examples"].values[0], 80 * steps)


def test_every_alpha_axis_and_table_of_a_batch_report_counts_updates(files, tmp_path):
    out = tmp_path / "report"
    report(files["batch"], out, formats=("png",), examples_axis=True)
    assert (out / "eg_K2_M2.png").stat().st_size > 0
    rows = list(csv.DictReader((out / "plateaus.csv").open()))
    assert {r["alpha_unit"] for r in rows} == {"updates/N"}
    runs = list(csv.DictReader((out / "plateaus_runs.csv").open()))
    assert {r["alpha_unit"] for r in runs} == {"updates/N"}
    ds = _group(files["batch"])
    avg = pa.seed_average(ds, align=True)
    summary = pa.plateau_summary(ds, averaged=avg)
    fig = plot_eg(ds, avg, summary)
    assert "updates / N" in fig.axes[0].get_xlabel()
    pyplot().close(fig)
    fig = plot_overlaps(ds, avg, summary, 0)
    assert all("updates / N" in ax.get_xlabel() for ax in fig.axes if ax.get_xlabel())
    pyplot().close(fig)
    fig = plot_normalized_overlaps(ds, avg)
    assert "updates / N" in fig.axes[0].get_xlabel()
    pyplot().close(fig)


def test_the_examples_axis(files):
    from plateau_analysis.figures import add_examples_axis

    plt = pyplot()
    for name, expected in (("online", None), ("batch", "examples / N = 4 α")):
        ds = _group(files[name])
        fig, ax = plt.subplots()
        drawn = add_examples_axis(ax, ds)
        labels = [c.get_xlabel() for c in ax.child_axes]
        assert drawn == (expected is not None)
        assert labels == ([expected] if expected else [])
        plt.close(fig)


# -- 2. generalization gap with label noise ---------------------------------------------------

def test_the_gap_adds_half_the_label_noise(files):
    ds = _group(files["noisy"])
    eg = ds["eg"].values[:, -1]
    et = ds["eps_train"].values[:, -1]
    by_hand = eg + 0.3 / 2 - et
    (gap, sem), = generalization_gap(ds)
    assert gap == pytest.approx(by_hand.mean(), rel=1e-12)
    assert sem == pytest.approx(by_hand.std(ddof=1) / np.sqrt(3), rel=1e-9)
    # eps_g - eps_t alone is about -s^2/2 here; the gap of a 20 N set is small and not negative.
    assert (eg - et).mean() < -0.05
    assert gap > -3 * sem
    fig = plot_train_test(ds, pa.seed_average(ds))
    ax = fig.axes[0]
    assert "ε_g + s²/2 − ε_t" in ax.get_title()
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert any(f"gap {gap:.3g}" in t for t in labels), labels
    pyplot().close(fig)


# -- 3. learning curves and the words of finite-set runs -------------------------------------

def _words(curve, outcome=OUTCOME_PLATEAU):
    alpha = np.geomspace(0.1, 100, len(curve))
    return finite_set_outcome(outcome, alpha, np.asarray(curve, dtype=float))


def test_finite_set_words():
    falls_then_rises = [0.4, 0.3, 0.2, 0.1, 0.1, 0.12, 0.15, 0.2]
    settles = [0.4, 0.3, 0.2, 0.1, 0.1, 0.1, 0.1, 0.1]
    still_falling = [0.4, 0.3, 0.2, 0.1, 0.08, 0.05, 0.03, 0.01]
    never_falls = [0.4, 0.41, 0.42, 0.43, 0.44, 0.45, 0.46, 0.47]
    assert _words(falls_then_rises) == FINITE_OVERFITTED
    assert _words(falls_then_rises, OUTCOME_FAILED) == FINITE_OVERFITTED
    assert _words(settles) == FINITE_CONVERGED
    assert _words(still_falling) == FINITE_NOT_CONVERGED
    assert _words(never_falls, OUTCOME_FAILED) == FINITE_FAILED
    assert _words(still_falling, OUTCOME_LEARNED) == FINITE_LEARNED


def test_a_training_set_sweep_gets_a_learning_curve(files, tmp_path):
    ds = _group(files["curve"])
    curve = learning_curve(ds)
    assert [c["P_over_N"] for c in curve] == [0.5, 2.0, 8.0]
    eg, status = ds["eg"].values, ds["status"].values
    point = pa.grid_point_index(ds)
    for p, c in enumerate(curve):
        runs = (point == p) & (status == pa.COMPLETED)
        assert c["eg_final"][0] == pytest.approx(eg[runs, -1].mean())
        assert c["eg_min"][0] == pytest.approx(eg[runs].min(axis=1).mean())
        assert c["eg_min"][0] <= c["eg_final"][0]
        assert c["eps_train_final"][0] == pytest.approx(ds["eps_train"].values[runs, -1].mean())
    # Small noisy sets over-fit: the report says so, never "failed" or "plateau".
    assert (curve[0]["outcomes"] == FINITE_OVERFITTED).all()
    out = tmp_path / "report"
    report(files["curve"], out, formats=("png",))
    assert (out / "learning_curve_K2_M2.png").stat().st_size > 0
    assert not list(out.glob("sweep_K2_M2_alpha_train*"))  # no empty escape panel
    rows = list(csv.DictReader((out / "plateaus.csv").open()))
    assert "over-fitted" in rows[0]["outcomes"]
    assert not any("failed" in r["outcomes"] or "plateau" in r["outcomes"] for r in rows)
    # No plateau at an over-fitting minimum in the table either (found only where escaped).
    assert all(r["found"] == "no" or r["escape"] != "nan" for r in rows), rows
    runs = list(csv.DictReader((out / "plateaus_runs.csv").open()))
    assert {r["finite_set_outcome"] for r in runs} <= {"over-fitted", "converged",
                                                       "not converged", "learned"}
    avg = pa.seed_average(ds, align=True)
    summary = pa.plateau_summary(ds, averaged=avg)
    fig = plot_eg(ds, avg, summary)
    ax = fig.axes[0]
    from matplotlib.collections import LineCollection
    from matplotlib.legend import Legend

    texts = [t.get_text() for leg in ax.get_children() if isinstance(leg, Legend)
             for t in leg.get_texts()]
    points = [t for t in texts if t.startswith("α_train")]
    assert len(points) == 3 and "over-fitted" in points[0], texts
    assert not any("failed" in t or "escaped" in t for t in points), points
    # A plateau is drawn only where eps_g escapes it: not at an over-fitting minimum.
    assert summary["found"].values.any()  # the detector finds the minima ...
    escaped = np.isfinite(summary["escape"].values) & summary["found"].values
    drawn = [c for c in ax.collections if isinstance(c, LineCollection)]
    assert len(drawn) == int(escaped.sum()) < int(summary["found"].values.sum())
    assert "detected plateau (height)" not in texts or escaped.any()
    pyplot().close(fig)
    fig = plot_overlaps(ds, avg, summary, 0)  # the runs' words in its title too
    title = fig._suptitle.get_text().replace("\n", " ")  # wrapped
    assert "outcomes: over-fitted" in title and "failed" not in title, title
    pyplot().close(fig)


# -- 4. deeper networks ------------------------------------------------------------------------

def test_specialization_counts_either_sign_when_the_sign_is_a_symmetry():
    # Unit 0 learned B_0, unit 1 learned -B_1 (r = -0.998).
    T = np.eye(2)
    R = np.array([[0.998, 0.01], [0.02, -0.998]])
    Q = np.eye(2)
    signed = pa.classify_units(Q, R, T)
    assert list(signed["state"]) == ["assigned", "unassigned"] and not signed["specialized"]
    either = pa.classify_units(Q, R, T, symmetric=True)
    assert list(either["state"]) == ["assigned", "assigned"] and either["specialized"]
    assert list(either["teacher"]) == [0, 1]


def test_which_runs_have_the_sign_symmetry(files):
    deep = _group(files["deep"])
    assert pa.sign_symmetric(deep).all()  # erf, learned W_2 (learn-layers = true)
    assert not pa.sign_symmetric(_group(files["online"])).any()  # v fixed at 1
    relu = deep.copy()
    relu.attrs = dict(deep.attrs, activation="relu")
    assert not pa.sign_symmetric(relu).any()
    fixed = deep.copy()
    fixed.attrs = dict(deep.attrs, learn_layers="false")
    assert not pa.sign_symmetric(fixed).any()
    lv = _group(files["online"]).copy()
    lv.attrs = dict(lv.attrs, learn_v="true")
    assert pa.sign_symmetric(lv).all()


def test_a_deep_run_with_units_at_minus_one_is_specialized(files):
    ds = _group(files["deep"])
    r = pa.normalized_overlaps(ds).values[:, -1]
    best = np.take_along_axis(r, np.abs(r).argmax(axis=-1)[..., None], axis=-1)[..., 0]
    assert (best < -0.9).any()  # some units learned -B_n
    either = pa.specialization(ds)
    signed = pa.specialization(ds, symmetric=False)
    assert either["specialized"].values.sum() > signed["specialized"].values.sum()
    assert either["run_specialized"].values.sum() >= 1
    assert signed["run_specialized"].values.sum() == 0
    # Relabelled and flipped: every assigned unit's own overlap is positive.
    aligned = pa.align_students(ds)
    assert aligned.attrs["flipped_units"] > 0
    ra = pa.normalized_overlaps(aligned).values[:, -1]
    for i in range(ra.shape[0]):
        for j in np.flatnonzero(either["specialized"].values[i]):
            n = int(either["teacher"].values[i, j])  # unit j moved to position n
            assert ra[i, n, n] >= pa.MIN_OVERLAP


def test_deep_figures_name_the_architecture_and_show_negative_overlaps(files, tmp_path):
    ds = _group(files["deep"])
    assert architecture_text(ds) == "K = 4x2, M = 4x2"
    avg = pa.seed_average(ds)  # not aligned: the signs as they are
    fig = plot_normalized_overlaps(ds, avg)
    assert fig.axes[0].get_ylim()[0] <= -1.0
    assert "K = 4x2, M = 4x2" in fig._suptitle.get_text()
    pyplot().close(fig)
    fig = plot_upper_layers(ds)
    titles = [ax.get_title() for ax in fig.axes]
    assert titles[0].startswith("W_2 (2 × 4)") and titles[1].startswith("v (2, fixed)")
    pyplot().close(fig)
    out = tmp_path / "report"
    report(files["deep"], out, formats=("png",))
    assert (out / "layers_K4x2_M4x2.png").stat().st_size > 0


def test_no_relabelling_claim_without_an_assigned_unit(files):
    ds = _group(files["online"])  # alpha = 4: still on the plateau, no unit assigned
    assert not pa.specialization(ds)["specialized"].values.any()
    avg = pa.seed_average(ds, align=True)
    summary = pa.plateau_summary(ds, averaged=avg)
    fig = plot_overlaps(ds, avg, summary, 0)
    title = fig._suptitle.get_text().replace("\n", " ")  # wrapped
    assert "j learned B_j" not in title and "file order" in title
    pyplot().close(fig)
