"""Run outcomes (analysis/SCHEMA.md, "Outcomes"): the Python twin (plateau_analysis.outcomes)
against the engine's (engine/run/outcome.hpp, the file's ``outcome`` and the summary ``plateau
run`` prints), and the report: a run that completes without learning (erf at eta = 4) is
``failed`` -- never a plateau "not escaped", never shaded."""

from __future__ import annotations

import io
import re
import shutil

import h5py
import numpy as np
import pytest

from conftest import REPO, run_plateau

import plateau_analysis as pa
from plateau_analysis import outcomes as oc
from plateau_analysis.campaign import CampaignError

HEADER = REPO / "engine" / "run" / "outcome.hpp"


# --------------------------------------------------------------------------------------------
# One rule: the same thresholds and names in C++ and Python


def test_thresholds_are_the_engines():
    text = HEADER.read_text()
    block = re.search(r"struct OutcomeThresholds \{(.*?)\};", text, re.S).group(1)
    found = dict(re.findall(r"double (\w+) = ([0-9.eE+-]+);", block))
    assert {k.upper(): float(v) for k, v in found.items()} == {
        "WINDOW_FACTOR": oc.WINDOW_FACTOR, "LEARNED_FRACTION": oc.LEARNED_FRACTION,
        "STATIONARY_RATIO": oc.STATIONARY_RATIO, "GROWTH": oc.GROWTH, "EXCESS": oc.EXCESS,
        "SLOW_RATIO": oc.SLOW_RATIO, "SEARCH_FRACTION": oc.SEARCH_FRACTION,
        "CAPTURED_FRACTION": oc.CAPTURED_FRACTION}


def test_names_are_the_engines():
    text = HEADER.read_text()
    enum = re.search(r"enum class RunOutcome : std::int8_t \{(.*?)\};", text, re.S).group(1)
    values = re.findall(r"^\s*(\w+) = (\d+),", enum, re.M)
    assert [name for name, _ in values] == list(pa.OUTCOMES)
    assert [int(v) for _, v in values] == list(range(len(pa.OUTCOMES)))
    names = re.findall(r'\{RunOutcome::(\w+), "(\w+)"\}', text)
    assert names and all(a == b for a, b in names)


# --------------------------------------------------------------------------------------------
# Hand-built series (the C++ cases of tests/test_outcome.cpp)

ALPHA = np.concatenate([[0.0], 0.01 * 30000.0 ** (np.arange(99) / 98)])
N_DIM = 8


def e(i):
    return np.eye(N_DIM)[i]


def assess(eg, W, M=2, status=pa.COMPLETED, **model):
    """The rule on eps_g(alpha) and student vectors W(alpha) against teachers e_0 .. e_{M-1}
    (``model``: search)."""
    B = np.eye(N_DIM)[:M]
    Ws = [np.atleast_2d(W(a)) for a in ALPHA]
    Q = np.stack([w @ w.T for w in Ws])
    R = np.stack([w @ B.T for w in Ws])
    return pa.OUTCOMES[pa.assess_outcome(status, ALPHA, [eg(a) for a in ALPHA], Q, R, B @ B.T,
                                         **model)]


def falls_to(start, level):
    return lambda a: level + (start - level) / (1 + (a / 3) ** 3)


def symmetric(_):
    w = 0.48 * (e(0) + e(1))
    return np.array([w + 0.2 * e(2), w + 0.2 * e(3)])


def aligned(length):
    return lambda a: np.sqrt(length(a)) * np.array([0.8 * e(0) + 0.6 * e(4),
                                                    0.8 * e(1) + 0.6 * e(5)])


def test_rule_on_hand_built_series():
    stall = falls_to(0.45, 0.24)
    assert assess(stall, aligned(lambda a: 0.2 + 4 * np.sqrt(a))) == "failed"
    assert assess(stall, aligned(lambda a: 1.0)) == "learned"  # specialized: its asymptote
    assert assess(stall, aligned(lambda a: 1 + 0.9 * min(1, max(0, (a - 30) / 270)))) \
        == "learned"  # grows, but stays below 10 times the teacher
    assert assess(lambda a: 0.5 + a, symmetric) == "failed"
    assert assess(lambda a: 0.3, symmetric) == "failed"
    assert assess(lambda a: 0.0, symmetric) == "learned"
    assert assess(falls_to(0.45, 0.015), symmetric) == "plateau"
    assert assess(lambda a: 0.45 / np.sqrt(1 + a / 3), symmetric) == "plateau"
    one = lambda a: 0.97 * (e(0) + e(1)) + 0.1 * e(2)  # noqa: E731 - K = 1, M = 2
    assert assess(falls_to(0.39, 0.031), one) == "learned"
    assert assess(lambda a: 0.39 / np.sqrt(1 + a / 3), one) == "plateau"
    assert assess(falls_to(0.45, 0.004), symmetric) == "learned"
    assert assess(stall, symmetric, status=pa.DIVERGED) == "diverged"
    assert assess(stall, symmetric, status=pa.PENDING) == "pending"


def test_search_phase_rule_on_hand_built_series():
    """The C++ cases of "a search-phase model is learned, searching or escaped"."""
    def shared(a):
        m = min(0.98, 0.03 * np.exp(a / 3))
        rest = np.sqrt(1 - m * m)
        return np.array([m * e(0) + rest * e(1), -m * e(0) + rest * e(2)])

    pr = falls_to(1.5, 0.05)
    assert assess(pr, shared, M=1) == "plateau"  # the committee's word: wrong here
    assert assess(pr, shared, M=1, search=True) == "learned"
    start = lambda a: np.array([0.03 * e(0) + np.sqrt(1 - 0.03 ** 2) * e(1),  # noqa: E731
                                0.03 * e(0) + np.sqrt(1 - 0.03 ** 2) * e(2)])
    flat = lambda a: 1.5 * (1 + 0.005 * a / 300)  # noqa: E731
    assert assess(flat, start, M=1) == "failed"
    assert assess(flat, start, M=1, search=True) == "searching"
    rising = lambda a: 1.5 * (1 + 0.02 * min(1.0, a / 30))  # noqa: E731
    assert assess(rising, start, M=1, search=True) == "failed"
    step = lambda a: np.array([0.9 * e(0) + 0.05 * e(1) + 0.43 * e(2),  # noqa: E731
                               0.9 * e(0) - 0.05 * e(1) + 0.43 * e(3)])
    assert assess(falls_to(1.0, 0.5), step, search=True) == "escaped"
    mixed = lambda a: np.array([0.7 * (e(0) + e(1)) + 0.1 * e(2),  # noqa: E731
                                0.7 * (e(0) - e(1)) + 0.1 * e(3)])
    assert assess(falls_to(1.0, 0.02), mixed, search=True) == "learned"
    stuck = lambda a: np.array([0.85 * e(0) + 0.5 * e(1) + 0.17 * e(2),  # noqa: E731
                                0.85 * e(0) + 0.5 * e(1) + 0.17 * e(3)])
    assert assess(falls_to(2.95, 0.53), stuck, search=True) == "escaped"  # |P B_2|^2 = 0.26
    assert assess(lambda a: 1 / np.sqrt(1 + a / 3), mixed, search=True) == "escaped"


def test_which_models_have_a_search_phase():
    for g in ("square", "he2", "he3", "he4", "poly:0:-3:0:1", "poly:1:0:2"):
        assert oc.lacks_linear_part(g), g
    for g in ("erf", "tanh", "sigmoid", "relu", "linear", "he1", "poly:0:1:0.5"):
        assert not oc.lacks_linear_part(g), g
    text = (REPO / "engine" / "run" / "outcome.cpp").read_text()
    assert "lacks_linear_part" in text  # the engine's twin


# --------------------------------------------------------------------------------------------
# The engine's verdict: stored, printed, and equal to the Python rule


@pytest.fixture(scope="module")
def files(plateau_program, tmp_path_factory):
    """eta = 0.5 (learns), 4 and 6 (complete without learning), 20 (ends on the plateau),
    K = 1 < M = 2, label noise, ReLU at eta = 4 (diverges): N = 200, 4 seeds."""
    d = tmp_path_factory.mktemp("outcomes")
    cases = {
        "eta": ["--eta", "0.5,4,6"],
        "short": ["--eta", "0.5", "--alpha-max", "20"],
        "small": ["--K", "1", "--eta", "0.5"],
        "noise": ["--eta", "0.5", "--noise", "0.1"],
        "relu": ["--eta", "4", "--activation", "relu", "--teacher-activation", "relu"],
        # phase retrieval (search phase), label noise s^2 = 0.5 (eps_g's floor ~0.12 and 0.035,
        # 6 % and 2 % of its start): learned by alpha = 1000 with K = 1 (m -> -1 in some runs)
        # and K = 2 (both units on the one teacher direction); the old rule said plateau for
        # both. Still searching at alpha = 1.
        "search": ["--K", "1,2", "--M", "1", "--activation", "square", "--teacher-activation",
                   "square", "--readout-scale", "inverse-k", "--constraint", "sphere", "--eta",
                   "0.1", "--noise", "0.5", "--dynamics", "gram", "--alpha-max", "1000"],
        "searching": ["--K", "2", "--M", "1", "--activation", "square", "--teacher-activation",
                      "square", "--readout-scale", "inverse-k", "--constraint", "sphere",
                      "--eta", "0.1", "--dynamics", "gram", "--alpha-max", "1"],
    }
    out = {}
    for name, args in cases.items():
        path = d / f"{name}.h5"
        stdout = run_plateau(plateau_program, path, "--N", 200, "--seeds", 4, *args)
        out[name] = (path, stdout)
    return out


def _summary_outcomes(stdout):
    # "grid point 0: eta=0.5  (K=2 M=2 g=erf)  learned 4 of 4; specialized 4 of 4; ..."
    return re.findall(r"^grid point \d+:.*?\)  (.*?); specialized", stdout, re.M)


def test_summary_says_failed_for_eta_4(files):
    _, stdout = files["eta"]
    assert _summary_outcomes(stdout) == ["learned 4 of 4", "failed 4 of 4", "failed 4 of 4"]
    assert _summary_outcomes(files["short"][1]) == ["plateau 4 of 4"]
    assert _summary_outcomes(files["small"][1]) == ["learned 4 of 4"]  # its asymptote
    assert _summary_outcomes(files["noise"][1]) == ["learned 4 of 4"]  # its asymptote
    assert _summary_outcomes(files["relu"][1]) == ["diverged 4 of 4"]
    # search-phase models: never plateau (analysis/SCHEMA.md, "Outcomes of a search-phase model")
    assert _summary_outcomes(files["search"][1]) == ["learned 4 of 4", "learned 4 of 4"]
    assert _summary_outcomes(files["searching"][1]) == ["searching 4 of 4"]


def test_file_stores_the_outcome_and_python_agrees(files):
    for name, (path, _) in files.items():
        with h5py.File(path, "r") as f:
            assert f.attrs["schema_version_minor"] >= 1  # `outcome` since 1.1
        for gname, ds in pa.load_campaign(path).items():
            stored = pa.run_outcomes(ds)
            assert stored.attrs["source"] == "file"
            assert ds["outcome"].attrs["flag_meanings"] == " ".join(pa.OUTCOMES)
            np.testing.assert_array_equal(stored.values,
                                          pa.run_outcomes(ds, recompute=True).values,
                                          err_msg=f"{name} {gname}")
    ds = pa.load_campaign(files["eta"][0])["K2_M2"]
    assert pa.outcome_text(pa.run_outcomes(ds).values) == "learned 4, failed 8 of 12"
    assert (ds["status"].values == pa.COMPLETED).all()  # status keeps its meaning


def test_a_file_before_1_1_gets_the_outcome_computed(files, tmp_path):
    old = tmp_path / "old.h5"
    shutil.copyfile(files["eta"][0], old)
    with h5py.File(old, "r+") as f:
        del f["K2_M2"]["outcome"]
        del f["K2_M2"]["run_checksum"]  # 1.4: a 1.0 file has neither
        f.attrs["schema_version_minor"] = np.int64(0)
    ds = pa.load_campaign(old)["K2_M2"]
    computed = pa.run_outcomes(ds)
    assert computed.attrs["source"] == "computed"
    assert pa.outcome_names(computed.values) == ["learned"] * 4 + ["failed"] * 8


def test_outcome_outside_the_flags_is_refused(files, tmp_path):
    bad = tmp_path / "bad.h5"
    shutil.copyfile(files["eta"][0], bad)
    with h5py.File(bad, "r+") as f:
        f["K2_M2"]["outcome"][3] = 9
    with pytest.raises(CampaignError, match="outcome 9 of run_index 3 is outside the flag"):
        pa.load_campaign(bad)


# --------------------------------------------------------------------------------------------
# Tables and figures


def test_table_and_runs_say_failed_not_plateau(files):
    ds = pa.load_campaign(files["eta"][0])["K2_M2"]
    summary = pa.plateau_summary(ds)
    rows = pa.table_rows(summary)
    assert [r["outcomes"] for r in rows] == ["learned 4 of 4", "failed 4 of 4", "failed 4 of 4"]
    assert [r["n_failed"] for r in rows] == [0, 4, 4]
    # A failed point has no plateau (today's code found one "not escaped" at eps_g ~ 0.24).
    assert [bool(r["found"]) for r in rows] == [True, False, False]
    assert [r["runs_found"] for r in rows] == [4, 0, 0]
    runs = pa.plateaus(ds)
    failed = runs["outcome"].values == "failed"
    assert failed.sum() == 8 and not runs["found"].values[failed].any()


def test_report_for_eta_4(files, tmp_path):
    from plateau_analysis.report import report

    out = io.StringIO()
    report(files["eta"][0], tmp_path, formats=("png",), out=out)
    text = out.getvalue()
    lines = [line for line in text.splitlines() if line.startswith("K2_M2")]
    assert len(lines) == 3
    assert lines[0].endswith("learned 4 of 4")
    for line in lines[1:]:
        assert line.endswith("failed 4 of 4") and " no " in line
    csv = (tmp_path / "plateaus.csv").read_text().splitlines()
    assert "outcomes" in csv[0].split(",")
    assert (tmp_path / "eg_K2_M2.png").exists()


def test_figures_mark_failed_points(files):
    from matplotlib.collections import LineCollection

    from plateau_analysis.figures import FAILED_STYLE, plot_eg, plot_overlaps, pyplot

    ds = pa.load_campaign(files["eta"][0])["K2_M2"]
    avg = pa.seed_average(ds, align=True)
    summary = pa.plateau_summary(ds, averaged=avg)
    fig = plot_eg(ds, avg, summary)
    ax = fig.axes[0]
    curves = [line for line in ax.get_lines() if line.get_linewidth() == 2]
    assert [line.get_linestyle() for line in curves] == ["-", "-.", "-."]
    assert "-." == FAILED_STYLE
    assert [line.get_label().endswith("4 failed)") for line in curves] == [False, True, True]
    # One plateau line (eta = 0.5), none for the failed points.
    assert len([c for c in ax.collections if isinstance(c, LineCollection)]) == 1
    assert not ax.texts  # two failed points: their labels say it (no overlapping notes)
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    assert "every run failed: no learning, not a plateau" in legend
    pyplot().close(fig)
    two = ds.isel(run=slice(0, 8))  # eta = 0.5 and 4: the failed point is also labelled
    two_avg = pa.seed_average(two)
    fig = plot_eg(two, two_avg, pa.plateau_summary(two, averaged=two_avg))
    assert [t.get_text() for t in fig.axes[0].texts] == ["failed 4 of 4"]
    pyplot().close(fig)
    # The overlaps of a failed point: no plateau shading; the title names the outcome.
    fig = plot_overlaps(ds, avg, summary, 1)
    assert sum(len(a.patches) for a in fig.axes) == 0  # axvspan: the only patches
    assert "failed 4 of 4" in fig._suptitle.get_text().replace("\n", " ")  # wrapped
    pyplot().close(fig)
    fig = plot_overlaps(ds, avg, summary, 0)  # eta = 0.5: its plateau is shaded
    assert sum(len(a.patches) for a in fig.axes) == 2
    pyplot().close(fig)


def test_figure_marks_diverged_runs(files):
    from plateau_analysis.figures import plot_eg, pyplot

    ds = pa.load_campaign(files["relu"][0])["K2_M2"]
    avg = pa.seed_average(ds)
    fig = plot_eg(ds, avg, pa.plateau_summary(ds, averaged=avg))
    ax = fig.axes[0]
    crosses = [line for line in ax.get_lines() if line.get_marker() == "X"]
    assert len(crosses) == 4
    assert "no completed run: 4 diverged" in [t.get_text() for t in ax.texts]
    pyplot().close(fig)


def test_sweep_marks_points_whose_runs_all_failed(files):
    from plateau_analysis.figures import EDGE_MARKERS, plot_sweep, pyplot

    ds = pa.load_campaign(files["eta"][0])["K2_M2"]
    fig = plot_sweep(ds, pa.plateau_summary(ds), "eta")
    squares = [line for line in fig.axes[0].get_lines()
               if line.get_marker() == EDGE_MARKERS["failed"]["marker"]]
    assert sum(len(line.get_xdata()) for line in squares) == 2  # eta = 4 and 6
    labels = [t.get_text() for t in fig.axes[0].texts]
    assert labels.count("0/4 (4 failed)") == 2
    pyplot().close(fig)
