"""Deeper networks from the command line (docs/theory.md §12): a 3-layer teacher-student run
learns through a plateau, with the whole pipeline (file, reader, detection, threads, resume),
and the refusals of what deeper networks do not support.
"""

from __future__ import annotations

import numpy as np

from conftest import dataset_bytes, make_pending, run_plateau, run_program
from plateau_analysis.campaign import load_campaign, parse_group_widths
from plateau_analysis.detection import detect_plateau

# Three layers (two hidden layers, then the output): 4x2 student and teacher, erf, small eta.
DEEP = ["--K", "4x2", "--M", "4x2", "--N", "500", "--eta", "1", "--alpha-max", "2000",
        "--records", "50", "--eg-samples", "5000"]
GROUP = "K4x2_M4x2"


def test_group_names_with_widths():
    assert parse_group_widths("K4x2_M4x2") == ((4, 2), (4, 2))
    assert parse_group_widths("K3_M2") == ((3,), (2,))
    for bad in ["K4x_M2", "Kx4_M2", "K4x2_M", "K4xx2_M2"]:
        assert parse_group_widths(bad) is None, bad


def test_a_three_layer_teacher_student_run_learns_through_a_plateau(plateau_program, tmp_path):
    out = tmp_path / "deep.h5"
    run_plateau(plateau_program, out, *DEEP, "--seeds", "2")
    ds = load_campaign(out)[GROUP]
    assert ds.attrs["schema_version_minor"] >= 3
    eg = ds["eg"].values  # (run, alpha)
    alpha = ds["alpha"].values
    assert np.isfinite(eg).all()
    # The weights above the first layer as they are: W_2 (2 x 4) and v (2), per record.
    assert ds.sizes["student_deep"] == 4 * 2 + 2
    assert ds.sizes["teacher_deep"] == 4 * 2 + 2
    layers = ds["student_layers"].values
    assert np.isfinite(layers).all()
    assert not np.allclose(layers[:, 0, :8], layers[:, -1, :8])  # W_2 learned
    assert np.isnan(ds["v"].values).all()  # the two-layer v: none here
    for run in range(eg.shape[0]):
        assert eg[run, -1] < 0.1 * eg[run, 0], eg[run]
    mean = eg.mean(axis=0)
    plateau = detect_plateau(alpha, mean)
    assert plateau.found, mean
    assert plateau.escaped


def test_deep_runs_are_identical_for_any_thread_count_and_after_resume(plateau_program,
                                                                        tmp_path):
    args = ["--K", "3x2", "--M", "3x2x2", "--N", "80", "--alpha-max", "5", "--records", "8",
            "--eg-samples", "500", "--learn-v", "--seeds", "3"]
    one = tmp_path / "one.h5"
    two = tmp_path / "two.h5"
    run_plateau(plateau_program, one, *args, "--threads", "1")
    run_plateau(plateau_program, two, *args, "--threads", "2")
    assert dataset_bytes(one) == dataset_bytes(two)
    pending = make_pending(one, tmp_path / "pending.h5", [0, 2], group="K3x2_M3x2x2")
    r = run_program(plateau_program, "run", *args, "--threads", "2", "--quiet", "--resume", "-o",
                    pending)
    assert r.returncode == 0, r.stderr
    assert dataset_bytes(pending) == dataset_bytes(one)


def test_what_deeper_networks_refuse_is_one_line_naming_the_key(plateau_program, tmp_path):
    cases = [
        (["ode", "--K", "4x2"], "'K'"),
        (["ode", "--M", "2x2", "--fixed-point"], "'M'"),
        (["run", "--K", "4x2", "--batch", "4", "--dynamics", "gram"], "'batch'"),
        (["run", "--K", "4x0"], "'K'"),
        (["run", "--K", "4x2", "--eta-layers", "0.5:0.2"], "'eta-layers'"),
        (["run", "--K", "4x3x2", "--learn-layers", "true:false:true"], "'learn-layers'"),
    ]
    for args, key in cases:
        r = run_program(plateau_program, *args, "-o", tmp_path / "x.h5")
        assert r.returncode == 2, (args, r.stderr)
        lines = r.stderr.strip().splitlines()
        assert len(lines) == 1 and key in lines[0], (args, r.stderr)


def test_per_layer_rates_and_flags_reach_each_layer(plateau_program, tmp_path):
    """learn-layers = false:true keeps W_2 at its initial value and trains W_3; the rates and
    flags are recorded as the group's settings."""
    out = tmp_path / "layers.h5"
    run_plateau(plateau_program, out, "--K", "3x2x2", "--M", "3x2", "--N", "60", "--eta", "0.8",
                "--eta-layers", "0.5:2", "--learn-layers", "false:true", "--learn-v",
                "--alpha-max", "3", "--records", "6", "--eg-samples", "500", "--seeds", "2")
    ds = load_campaign(out)["K3x2x2_M3x2"]
    assert ds.attrs["eta_layers"] == "0.5:2"
    assert ds.attrs["learn_layers"] == "false:true"
    layers = ds["student_layers"].values  # W_2 (2 x 3), W_3 (2 x 2), v (2)
    w2, w3, v = layers[:, :, :6], layers[:, :, 6:10], layers[:, :, 10:]
    assert (w2 == w2[:, :1, :]).all()  # fixed: bit for bit its initial value
    assert not np.allclose(w3[:, 0], w3[:, -1])
    assert not np.allclose(v[:, 0], v[:, -1])


def test_deep_networks_train_on_a_finite_set_with_mini_batches(plateau_program, tmp_path):
    """A training set, mini-batches and weight decay: the file holds the training error, and
    the deeper student learns the set (eps_train falls)."""
    out = tmp_path / "set.h5"
    run_plateau(plateau_program, out, "--K", "3x2", "--M", "3x2", "--N", "50", "--eta", "1",
                "--train-set", "100", "--batch", "5", "--weight-decay", "0.001", "--learn-v",
                "--alpha-max", "40", "--records", "10", "--eg-samples", "500", "--seeds", "2")
    ds = load_campaign(out)["K3x2_M3x2"]
    eps_train = ds["eps_train"].values
    assert np.isfinite(eps_train).all()
    assert (eps_train[:, -1] < 0.5 * eps_train[:, 0]).all(), eps_train
    assert (ds["examples"].values[:, -1] == 5 * 40 * 50).all()


def test_a_deeper_layer_that_blows_up_ends_the_run_diverged(plateau_program, tmp_path):
    """Issue 35: only Q_jj of the first layer was bounded. With eta-layers = 1e3, W_2's rows
    grow (squared norms from ~1 to ~8 by alpha = 2) while Q_jj stays near 0.2: the old rule
    recorded both runs as completed (outcome plateau) against divergence-q = 10. Every learned
    layer is bounded now (docs/theory.md §12, "Divergence"). (At the default divergence-q = 1e8
    the erf units saturate and W_2 stalls near |w| ~ 10 by alpha = 5: the issue's 6e305 does
    not happen with this code.)"""
    out = tmp_path / "blowup.h5"
    stdout = run_plateau(plateau_program, out, "--K", "4x2", "--M", "4x2", "--eta-layers", "1e3",
                         "--alpha-max", "5", "--seeds", "2", "--divergence-q", "10")
    assert "  diverged 2 of 2; specialized 0 of 0\n" in stdout, stdout
    ds = load_campaign(out)[GROUP]
    assert (ds["status"].values == 2).all()
    assert (ds["outcome"].values == 4).all()
    # The records kept are within every bound; the ones after the divergence are NaN.
    kept = np.isfinite(ds["eg"].values)
    assert kept[:, 0].all() and not kept[:, -1].any()
    layers = ds["student_layers"].values  # W_2 (2 x 4), v (2)
    w2 = layers[:, :, :8].reshape(*layers.shape[:2], 2, 4)
    rows = (w2 ** 2).sum(axis=-1)[kept]
    assert (rows <= 10).all()
    q = np.diagonal(ds["Q"].values, axis1=-2, axis2=-1)[kept]
    assert (q < 1).all()  # the first layer never came near its bound
