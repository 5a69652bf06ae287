"""Hidden-manifold inputs from the command line (docs/theory.md §16): the file records Q, R, T
through the manifold and eps_g on fresh inputs; runs are bit-identical for any thread count, after
--resume, split into shards (merged) and over MPI ranks, for the simulation and for the theory;
what the model refuses is one line naming the key, exit 2, no file.
"""

from __future__ import annotations

import numpy as np

from conftest import dataset_bytes, make_pending, run_plateau, run_program
from test_mpi import MPIRUN, built_with_mpi, mpirun
from plateau_analysis.campaign import load_campaign

ARGS = ["--inputs", "hidden-manifold", "--latent-ratio", "0.5,2", "--feature-map", "relu",
        "--N", "60", "--K", "3", "--M", "2", "--learn-v", "--noise", "0.01", "--alpha-max", "4",
        "--records", "6", "--eg-samples", "500", "--seeds", "3"]


def test_manifold_runs_are_identical_for_any_thread_count_and_after_resume(plateau_program,
                                                                           tmp_path):
    one = tmp_path / "one.h5"
    two = tmp_path / "two.h5"
    run_plateau(plateau_program, one, *ARGS, "--threads", "1")
    run_plateau(plateau_program, two, *ARGS, "--threads", "2")
    assert dataset_bytes(one) == dataset_bytes(two)
    pending = make_pending(one, tmp_path / "pending.h5", [0, 4], group="K3_M2")
    r = run_program(plateau_program, "run", *ARGS, "--threads", "2", "--quiet", "--resume",
                    "-o", pending)
    assert r.returncode == 0, r.stderr
    assert dataset_bytes(pending) == dataset_bytes(one)
    ds = load_campaign(one)["K3_M2"]
    eg = ds["eg"].values
    assert np.isfinite(eg).all() and (ds["eg_stderr"].values > 0).all()
    # T = b_n . b_m of orthonormal latent rows: the identity, for every run.
    T = ds["T"].values
    assert np.allclose(T, np.eye(2)[None], atol=1e-12)
    assert np.isfinite(ds["Q"].values).all() and np.isfinite(ds["R"].values).all()


def test_manifold_shards_and_mpi_ranks_give_the_single_process_file(plateau_program, tmp_path):
    # Each run's feature matrix F comes from its own stream (seed, run index): a run computed
    # in a shard or on another rank is the run computed alone. The theory too (each run from
    # its own F's modes, docs/theory.md section 16b).
    args = [*ARGS[:-1], "2", "-q"]  # 2 seeds x 2 latent ratios
    mpi = MPIRUN is not None and built_with_mpi(plateau_program, tmp_path)
    for command in ("run", "ode"):
        whole = tmp_path / f"{command}_whole.h5"
        r = run_program(plateau_program, command, *args, "-o", whole)
        assert r.returncode == 0, r.stderr
        parts = []
        for i in range(2):
            parts.append(tmp_path / f"{command}_p{i}.h5")
            r = run_program(plateau_program, command, *args, "--shard", f"{i}/2", "-o", parts[-1])
            assert r.returncode == 0, r.stderr
        merged = tmp_path / f"{command}_merged.h5"
        r = run_program(plateau_program, "merge", merged, *parts)
        assert r.returncode == 0, r.stderr
        assert dataset_bytes(merged) == dataset_bytes(whole), command
        if not mpi:
            continue
        ranks = tmp_path / f"{command}_mpi.h5"
        r = mpirun(3, plateau_program, command, *args, "-o", ranks)
        assert r.returncode == 0, r.stderr
        assert dataset_bytes(ranks) == dataset_bytes(whole), command


def test_what_hidden_manifold_inputs_refuse_is_one_line_naming_the_key(plateau_program,
                                                                      tmp_path):
    hm = ["--inputs", "hidden-manifold"]
    cases = [
        (["run", *hm], "'latent-dim'"),
        (["run", *hm, "--latent-dim", "10", "--latent-ratio", "0.5"], "'latent-ratio'"),
        (["run", *hm, "--latent-ratio", "0"], "'latent-ratio'"),
        (["run", *hm, "--latent-ratio", "0.5", "--feature-map", "tanh"], "'feature-map'"),
        (["run", *hm, "--latent-dim", "1", "--M", "2"], "'M'"),
        (["run", *hm, "--latent-ratio", "0.5", "--dynamics", "gram"], "'inputs'"),
        (["run", *hm, "--latent-ratio", "0.5", "--K", "4x2"], "'K'"),
        (["run", "--latent-ratio", "0.5"], "'latent-ratio'"),  # no effect on Gaussian inputs
    ]
    for args, key in cases:
        out = tmp_path / "x.h5"
        r = run_program(plateau_program, *args, "-o", out)
        assert r.returncode == 2, (args, r.stderr)
        lines = r.stderr.strip().splitlines()
        assert len(lines) == 1 and key in lines[0], (args, r.stderr)
        assert not out.exists(), args
