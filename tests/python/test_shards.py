"""Job arrays: `plateau run --shard i/n` computes a share of the runs, `plateau merge` joins the
shards into a file whose every dataset equals the single-process file's."""

from __future__ import annotations


import h5py
import pytest

from conftest import dataset_bytes, refused, run_program

ARGS = ["--N", "60", "--eta", "0.5, 1", "--noise", "0.01, 0", "--seeds", "3", "--alpha-max",
        "5", "--records", "12", "-q"]


def plateau(program, *args):
    return run_program(program, *args, timeout=120)


datasets = dataset_bytes


@pytest.fixture(scope="module")
def shards(plateau_program, tmp_path_factory):
    d = tmp_path_factory.mktemp("shards")
    assert plateau(plateau_program, "run", *ARGS, "-o", d / "whole.h5").returncode == 0
    for i in range(3):
        r = plateau(plateau_program, "run", *ARGS, "--shard", f"{i}/3", "-o", d / f"p{i}.h5")
        assert r.returncode == 0, r.stderr
    return d


def test_three_shards_merge_to_the_single_process_file(plateau_program, shards):
    out = shards / "merged.h5"
    r = plateau(plateau_program, "merge", out, *(shards / f"p{i}.h5" for i in range(3)))
    assert r.returncode == 0, r.stderr
    whole, merged = datasets(shards / "whole.h5"), datasets(out)
    assert whole.keys() == merged.keys()
    for name in whole:
        assert whole[name] == merged[name], name
    with h5py.File(shards / "p1.h5", "r") as f:
        assert f.attrs["shard"] in (b"1/3", "1/3")
        status = f["K2_M2/status"][...]
        run_index = f["K2_M2/run_index"][...]
    assert ((status != 0) == (run_index % 3 == 1)).all()  # its runs only, round robin


def test_a_missing_shard_is_reported_by_its_runs_and_nothing_is_written(plateau_program, shards):
    out = shards / "incomplete.h5"
    r = plateau(plateau_program, "merge", out, shards / "p0.h5", shards / "p2.h5")
    assert r.returncode == 2
    assert "run_index 1, 4, 7, 10" in r.stderr and r.stderr.count("\n") == 1
    assert not out.exists()
    # Asked for, the missing runs stay pending, and --resume finishes them: the same file.
    r = plateau(plateau_program, "merge", out, shards / "p0.h5", shards / "p2.h5",
                "--allow-incomplete")
    assert r.returncode == 0 and "4 pending" in r.stderr
    assert plateau(plateau_program, "run", *ARGS, "--resume", "-o", out).returncode == 0
    whole, merged = datasets(shards / "whole.h5"), datasets(out)
    assert all(whole[name] == merged[name] for name in whole)


def test_parts_of_another_campaign_are_refused(plateau_program, shards, tmp_path):
    other = tmp_path / "other.h5"
    args = [a if a != "0.5, 1" else "0.5, 2" for a in ARGS]
    assert plateau(plateau_program, "run", *args, "--shard", "1/3", "-o", other).returncode == 0
    out = tmp_path / "m.h5"
    # The refusal names the part that differs from the others, and the key that differs,
    # wherever that part stands: first, it was taken for the campaign and p0 was named.
    for parts in ([shards / "p0.h5", other, shards / "p2.h5"],
                  [other, shards / "p0.h5", shards / "p2.h5"]):
        r = plateau(plateau_program, "merge", out, *parts)
        refused(r, f"invalid value '{other}' for 'part': allowed is a part of the campaign of "
                   f"'{shards / 'p0.h5'}' (eta = 0.5, 2 here, 0.5, 1 there)")
        assert not out.exists()
    # Twice the same shard: its runs are finished in two parts, named both.
    r = plateau(plateau_program, "merge", out, shards / "p0.h5", shards / "p1.h5",
                shards / "p0.h5")
    refused(r, f"invalid value '{shards / 'p0.h5'}' for 'part'", "finished in two parts",
            f"in this one and in '{shards / 'p0.h5'}'")
    assert not out.exists()


def test_bad_shards_and_a_shard_resumed_as_another(plateau_program, shards, tmp_path):
    for bad in ("3/3", "-1/3", "1/0", "1", "a/b", "0/13"):
        r = plateau(plateau_program, "run", *ARGS, "--shard", bad, "-o", tmp_path / "x.h5")
        assert r.returncode == 2, bad
        assert r.stderr.startswith(f"plateau run: invalid value '{bad}' for 'shard'"), r.stderr
        assert not (tmp_path / "x.h5").exists()
    before = (shards / "p0.h5").read_bytes()
    r = plateau(plateau_program, "run", *ARGS, "--shard", "1/3", "--resume", "-o",
                shards / "p0.h5")
    assert r.returncode == 2 and "allowed is --shard 0/3" in r.stderr
    assert (shards / "p0.h5").read_bytes() == before
    r = plateau(plateau_program, "run", *ARGS, "--shard", "0/3", "--resume", "-o",
                shards / "p0.h5")
    assert r.returncode == 0, r.stderr  # nothing left to do in its own shard


def test_theory_shards_merge_too(plateau_program, tmp_path):
    # A theory file's config text goes on with plateau ode's own options (init, rtol, ...).
    ode = ["--eta", "0.5, 1", "--seeds", "2", "--alpha-max", "5", "--records", "10", "-q",
           "--predictions", "none"]
    assert plateau(plateau_program, "ode", *ode, "-o", tmp_path / "whole.h5").returncode == 0
    for i in range(2):
        r = plateau(plateau_program, "ode", *ode, "--shard", f"{i}/2", "-o", tmp_path / f"t{i}.h5")
        assert r.returncode == 0, r.stderr
    r = plateau(plateau_program, "merge", tmp_path / "m.h5", tmp_path / "t0.h5", tmp_path / "t1.h5")
    assert r.returncode == 0, r.stderr
    assert datasets(tmp_path / "whole.h5") == datasets(tmp_path / "m.h5")
