"""dynamics = gram with Gaussian-mixture inputs (docs/theory.md section 15d) through the
program: the file holds the same mixture variables as a full run's (class error, the students'
overlaps with the means, the Bayes error), and a gram run on the XOR mixture learns."""

from __future__ import annotations

import numpy as np

import plateau_analysis as pa

from conftest import run_plateau


def test_a_gram_mixture_file_holds_the_mixture_variables(plateau_program, tmp_path):
    common = ("--inputs", "mixture", "--cluster-variance", 0.1, "--N", 60, "--K", 4, "--M", 1,
              "--activation", "relu", "--learn-v", "true", "--v0", 0.1, "--eta", 2,
              "--eta-v", 2, "--seeds", 2, "--alpha-max", 40, "--records", 3,
              "--eg-samples", 2000)
    gram = tmp_path / "gram.h5"
    full = tmp_path / "full.h5"
    run_plateau(plateau_program, gram, "--dynamics", "gram", *common)
    run_plateau(plateau_program, full, "--dynamics", "full", *common)
    g = pa.load_campaign(gram)["K4_M1"]
    f = pa.load_campaign(full)["K4_M1"]
    assert pa.mixture_runs(g).all()
    for name in pa.MIXTURE_VARIABLES:
        assert g[name].dims == f[name].dims, name
        assert np.isfinite(g[name].values).all(), name
    # Every run starts at chance and learns (Bayes error 0.025; a run with a pair of clusters
    # misplaced ends near 0.27, tests/test_mixture.cpp): below 0.35 at alpha = 40.
    ce = g["class_error"].values
    assert (np.abs(ce[..., 0] - 0.5) < 0.1).all()
    assert (ce[..., -1] < 0.35).all()
