"""The specialization rule (analysis/SCHEMA.md, "Specialization"): the Python twin
(plateau_analysis.classify_units / specialization) against the engine's
(engine/run/specialization.hpp, the count ``plateau run`` prints), and on hand-built states."""

from __future__ import annotations

import re

import numpy as np
import pytest

from conftest import REPO, parse_summary, run_plateau

import plateau_analysis as pa

HEADER = REPO / "engine" / "run" / "specialization.hpp"


# --------------------------------------------------------------------------------------------
# One rule: the same thresholds and state names in C++ and Python


def test_thresholds_are_the_engines():
    text = HEADER.read_text()
    found = dict(re.findall(r"double (\w+) = ([0-9.eE+-]+);", text))
    assert {k: float(v) for k, v in found.items()} == {
        "min_overlap": pa.MIN_OVERLAP, "margin": pa.MARGIN, "dead_fraction": pa.DEAD_FRACTION}


def test_state_names_are_the_engines():
    text = HEADER.read_text()
    enum = re.search(r"enum class UnitState \{(.*?)\};", text, re.S).group(1)
    order = re.findall(r"^\s*(\w+),", enum, re.M)
    assert tuple(order) == pa.UNIT_STATES
    names = re.findall(r'\{UnitState::(\w+), "(\w+)"\}', text)
    assert names and all(a == b for a, b in names)


# --------------------------------------------------------------------------------------------
# Hand-built states: Q = W W^T, R = W B^T, T = B B^T of explicit vectors (the C++ cases,
# tests/test_specialization.cpp)

N_DIM = 8


def e(i):
    return np.eye(N_DIM)[i]


def classify(W, B, **thresholds):
    W, B = np.array(W, dtype=float), np.array(B, dtype=float)
    return pa.classify_units(W @ W.T, W @ B.T, B @ B.T, **thresholds)


def states(c):
    return c["state"].tolist()


def test_k_equal_m():
    B = [e(0), e(1)]
    c = classify([1.2 * e(1) + 0.1 * e(0), 0.9 * e(0) - 0.05 * e(5)], B)
    assert states(c) == ["assigned", "assigned"] and c["teacher"].tolist() == [1, 0]
    assert c["lead"][0] == pytest.approx(1.1 / np.hypot(1.2, 0.1))
    assert c["specialized"]
    # The symmetric plateau with a tiny asymmetry (an argmax rule says specialized).
    w = 0.4 * (e(0) + e(1))
    c = classify([w + 0.01 * e(0) + 0.3 * e(2), w + 0.01 * e(1) + 0.3 * e(3)], B)
    assert states(c) == ["split", "split"] and not c["specialized"]


def test_k_less_than_m():
    B = [e(0), e(1), e(2), e(3)]
    c = classify([e(0) + 0.95 * e(1), e(2) + 0.9 * e(3)], B)  # stuck: two teacher units each
    assert states(c) == ["split", "split"] and not c["specialized"]
    c = classify([e(2) + 0.1 * e(0), e(0) + 0.2 * e(6)], B[:3])
    assert states(c) == ["assigned", "assigned"] and c["specialized"]
    c = classify([e(2), 1e-3 * e(0)], B[:3])
    assert states(c) == ["assigned", "dead"] and not c["specialized"]


def test_k_greater_than_m():
    B = [e(0), e(1)]
    c = classify([e(1), 0.98 * e(0) + 0.1 * e(4), 1e-4 * (e(0) + e(5))], B)
    assert states(c) == ["assigned", "assigned", "dead"] and c["specialized"]
    assert np.isnan(c["overlap"][2]) and c["teacher"][2] == -1
    c = classify([e(1), 0.98 * e(0) + 0.1 * e(4), np.sqrt(2e-3) * e(5)], B)
    assert states(c) == ["assigned", "assigned", "unassigned"] and not c["specialized"]
    c = classify([e(0), e(1), 0.5 * e(0) + 0.05 * e(3)], B)
    assert states(c) == ["shared", "assigned", "shared"] and not c["specialized"]
    assert c["teacher"].tolist() == [0, 1, 0]


def test_thresholds_and_teacher_norms():
    B = [e(0), e(1)]
    c_ = np.sqrt(1 - 0.8**2 - 0.35**2)
    W = [0.8 * e(0) + 0.35 * e(1) + c_ * e(2), e(1)]
    assert states(classify(W, B)) == ["unassigned", "assigned"]
    assert classify(W, B, margin=0.4)["specialized"]
    assert states(classify([-e(0) - 0.2 * e(1), e(1)], B)) == ["unassigned", "assigned"]
    c = classify([e(0), 0.2 * e(0) + e(1)], [3 * e(0), 0.5 * e(1)])
    assert c["teacher"].tolist() == [0, 1] and c["specialized"]
    assert classify([e(0), 1e-3 * e(1)], [e(0)])["specialized"]  # M = 1, K = 2: one dead
    Q = np.eye(2)
    Q[1, 1] = np.nan
    c = pa.classify_units(Q, np.eye(2), np.eye(2))
    assert states(c) == ["unassigned", "unassigned"] and not c["specialized"]


def test_classify_broadcasts_over_records():
    B = np.array([e(0), e(1)])
    Ws = [np.array([e(1), e(0)]), np.array([e(0) + e(1), e(0) + 0.9 * e(1)])]
    Q = np.stack([W @ W.T for W in Ws])
    R = np.stack([W @ B.T for W in Ws])
    c = pa.classify_units(Q, R, B @ B.T)
    assert c["specialized"].tolist() == [True, False]
    assert c["state"].shape == (2, 2)


# --------------------------------------------------------------------------------------------
# The engine's count equals the Python count

CAMPAIGNS = {
    # alpha-max near the escape: some runs specialized, some on the plateau
    "K2_M2": ("--K", 2, "--M", 2, "--alpha-max", 110),
    # a surplus unit dies (Q_jj -> 0) in some runs by alpha = 500
    "K3_M2": ("--K", 3, "--M", 2, "--alpha-max", 500),
    # fewer student units than teacher units
    "K2_M3": ("--K", 2, "--M", 3, "--alpha-max", 300),
}


def test_engine_summary_counts_the_python_rule(plateau_program, tmp_path):
    total = counted = 0
    states_seen = set()
    for group, args in CAMPAIGNS.items():
        path = tmp_path / f"{group}.h5"
        stdout = run_plateau(plateau_program, path, *args, "--N", 200, "--seeds", 8,
                             "--records", 40, "--eta", "0.5,0.8", "--table")
        table = parse_summary(stdout)
        ds = pa.load_campaign(path)[group]
        spec = pa.specialization(ds)
        completed = ds["status"].values == pa.COMPLETED
        point = ds["run_index"].values // ds.attrs["seeds"]
        assert len(table) == 2
        for p in table:
            sel = completed & (point == p["point"])
            assert p["completed"] == sel.sum()
            assert p["specialized"] == spec["run_specialized"].values[sel].sum(), (group, p)
            total += p["completed"]
            counted += p["specialized"]
        states_seen |= set(spec["state"].values.ravel().tolist())
    # The campaigns exercise the rule: specialized and not, dead, split and unassigned units.
    assert 0 < counted < total
    assert {"assigned", "dead", "split", "unassigned"} <= states_seen


def test_activation_parity_is_the_evaluators():
    """The twin of the evaluators' parity (models/activations/*.hpp; the engine's side is checked
    in tests/test_specialization.cpp): poly by the powers it has."""
    assert [pa.activation_parity(a) for a in ("erf", "tanh", "linear", "he1", "he3")] == ["odd"] * 5
    assert [pa.activation_parity(a) for a in ("square", "he2", "he4")] == ["even"] * 3
    assert [pa.activation_parity(a) for a in ("sigmoid", "relu")] == ["none"] * 2
    assert pa.activation_parity("poly:0:1:0:1") == "odd"
    assert pa.activation_parity("poly:1:0:1") == "even"
    assert pa.activation_parity("poly:0:1:1") == "none"
