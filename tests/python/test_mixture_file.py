"""Gaussian-mixture inputs in a campaign file (schema 1.6, docs/theory.md section 15): the file
holds the classification error and the Bayes error, the reader finds the mixture runs, and what
is not built yet (a symmetric start of plateau ode) or bad (a clusters file, N <= K + M + D with
dynamics = gram) is
refused with one line."""

from __future__ import annotations

import math

import numpy as np

import plateau_analysis as pa

from conftest import refused, run_plateau, run_program


def _xor_bayes(delta: float) -> float:
    # Eq. (15.6): 2 q (1 - q), q = Phi(-1/sqrt(2 Delta)).
    q = 0.5 * math.erfc(1.0 / math.sqrt(2.0 * delta) / math.sqrt(2.0))
    return 2.0 * q * (1.0 - q)


def test_a_mixture_file_holds_the_class_and_bayes_errors(plateau_program, tmp_path):
    path = tmp_path / "xor.h5"
    run_plateau(plateau_program, path, "--inputs", "mixture", "--cluster-variance", "0.1, 0.3",
                "--N", 60, "--K", 4, "--M", 1, "--activation", "relu", "--learn-v", "true",
                "--seeds", 2, "--alpha-max", 2, "--records", 4, "--eg-samples", 1000)
    root = pa.read_root_attributes(path)
    assert root["schema_version_minor"] >= 6
    ds = pa.load_campaign(path)["K4_M1"]
    assert pa.mixture_runs(ds).all()
    ce = ds["class_error"].values
    assert np.isfinite(ce).all() and (ce >= 0).all() and (ce <= 1).all()
    delta = np.asarray(ds["cluster_variance"].values, dtype=float)
    expected = [_xor_bayes(d) for d in delta]
    assert np.allclose(ds["bayes_error"].values, expected, rtol=1e-12)
    assert (ds["bayes_error_stderr"].values == 0).all()


def test_a_clusters_file_gives_a_monte_carlo_bayes_error(plateau_program, tmp_path):
    clusters = tmp_path / "clusters.txt"
    clusters.write_text("# XOR written out\n1 1 0\n1 -1 0\n-1 0 1\n-1 0 -1\n")
    path = tmp_path / "file.h5"
    run_plateau(plateau_program, path, "--inputs", "mixture", "--clusters", clusters,
                "--cluster-variance", 0.2, "--N", 40, "--K", 2, "--M", 1, "--seeds", 1,
                "--alpha-max", 1, "--records", 3, "--eg-samples", 500)
    ds = pa.load_campaign(path)["K2_M1"]
    se = float(ds["bayes_error_stderr"].values[0])
    assert 0 < se < 1e-3
    assert abs(float(ds["bayes_error"].values[0]) - _xor_bayes(0.2)) < 4 * se


def test_gaussian_runs_have_no_mixture_values(plateau_program, tmp_path):
    path = tmp_path / "gauss.h5"
    run_plateau(plateau_program, path, "--N", 40, "--seeds", 1, "--alpha-max", 1, "--records", 3)
    ds = pa.load_campaign(path)["K2_M2"]
    assert not pa.mixture_runs(ds).any()
    for name in pa.MIXTURE_VARIABLES:
        assert np.isnan(ds[name].values).all()


def test_what_is_not_built_yet_or_bad_is_refused(plateau_program, tmp_path):
    out = tmp_path / "x.h5"
    refused(run_program(plateau_program, "ode", "--inputs", "mixture", "--N", 40,
                        "--init", "symmetric", "-o", out), "init", "symmetric", "mixture")
    refused(run_program(plateau_program, "run", "--inputs", "mixture", "--dynamics", "gram",
                        "--N", 5, "-o", out), "'N'", "K + M + D")
    refused(run_program(plateau_program, "ode", "--loss", "logistic", "--N", 40, "-o", out),
            "loss", "logistic")
    bad = tmp_path / "bad.txt"
    bad.write_text("1 1 0\n-1 0\n")
    refused(run_program(plateau_program, "run", "--inputs", "mixture", "--clusters", bad,
                        "--N", 40, "-o", out), "clusters", str(bad), "line 2")
    refused(run_program(plateau_program, "run", "--clusters", tmp_path / "missing.txt",
                        "-o", out), "clusters", "cannot be read")
    assert not out.exists()
