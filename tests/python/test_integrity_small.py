"""Issue 34, items 5, 8, 12 and 13: foreign inputs and the small ones (docs/RELIABILITY.md,
"Foreign and odd inputs").

Every refusal is bad input: exit status 2, one line on stderr naming the key (or option) and
the value, and no file written.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from conftest import _program, refused

TINY = ["--N", "50", "--alpha-max", "1", "--records", "5"]


@pytest.fixture(scope="module")
def program() -> Path:
    path = _program()
    if path is None:
        pytest.skip("the plateau program is not built (set PLATEAU_BUILD_DIR)")
    return path.resolve()


def plateau(program, *args, cwd=None):
    return subprocess.run([str(program), *map(str, args)], capture_output=True, text=True,
                          timeout=120, cwd=cwd, stdin=subprocess.DEVNULL,
                          errors="replace")



@pytest.fixture(scope="module")
def simulation(program, tmp_path_factory):
    """A simulation file of q0 = 0.5, 3 seeds (item 5's foreign start)."""
    path = tmp_path_factory.mktemp("sim") / "s.h5"
    r = plateau(program, "run", *TINY, "--q0", "0.5", "--seeds", "3", "-q", "-o", path)
    assert r.returncode == 0, r.stderr
    return path


# ---- item 5: ode --init-from a file of another configuration --------------------------------


@pytest.mark.parametrize("args,named", [
    ([], "q0 = 0.5 there, 0.2 here"),                      # the case: q0 not given
    (["--q0", "0.5", "--N", "60"], "N = 50 there, 60 here"),
    (["--q0", "0.5", "--seed", "7"], "seed = "),
    (["--q0", "0.5", "--v0", "0.5"], "v0 = 1 there, 0.5 here"),
    (["--q0", "0.5", "--teacher-init", "gaussian"], "teacher-init = orthonormal there, gaussian"),
    (["--q0", "0.5", "--dynamics", "gram"], "dynamics = full there, gram here"),
])
def test_init_from_another_configuration_is_refused(program, simulation, tmp_path, args, named):
    out = tmp_path / "t.h5"
    tiny = [a for a in TINY if a not in ("--N", "50")] if "--N" in args else TINY
    r = plateau(program, "ode", *tiny, "--seeds", "3", *args, "--init-from", simulation,
                "-o", out)
    refused(r, "for 'init-from': it starts another configuration", named)
    assert not out.exists()
    assert list(tmp_path.iterdir()) == []


def test_init_from_the_same_configuration_is_accepted(program, simulation, tmp_path):
    """Keys that do not decide the start (eta, alpha-max) may differ."""
    out = tmp_path / "t.h5"
    r = plateau(program, "ode", *TINY, "--q0", "0.5", "--seeds", "3", "--eta", "0.3",
                "--init-from", simulation, "--predictions", "none", "-q", "-o", out)
    assert r.returncode == 0, r.stderr
    assert out.exists()


# ---- item 8: tolerances the integrator cannot meet ------------------------------------------


@pytest.mark.parametrize("rtol", ["1e-25", "1e-15", "2e-14"])
def test_an_rtol_below_100_machine_epsilons_is_refused(program, tmp_path, rtol):
    out = tmp_path / "t.h5"
    r = plateau(program, "ode", *TINY, "--rtol", rtol, "--atol", "1e-25", "-o", out)
    refused(r, f"invalid value '{rtol}' for 'rtol'", ">= 2.220446049250313e-14")
    assert not out.exists()


def test_the_smallest_rtol_allowed_integrates_a_convergent_flow(program):
    r = plateau(program, "ode", "--alpha-max", "10", "--rtol", "2.3e-14", "--atol", "1e-25",
                "--predictions", "none", "-q")
    assert r.returncode == 0, r.stderr
    points = [line for line in r.stdout.splitlines() if line.startswith("grid point ")]
    assert points and not any("diverged" in line for line in points), r.stdout


# ---- item 12: the small ones -------------------------------------------------------------------


def test_merge_takes_no_abbreviated_option(program, tmp_path):
    parts = []
    for i in range(2):
        part = tmp_path / f"p{i}.h5"
        r = plateau(program, "run", *TINY, "--seeds", "2", "--shard", f"{i}/2", "-q", "-o", part)
        assert r.returncode == 0, r.stderr
        parts.append(part)
    out = tmp_path / "m.h5"
    out.write_bytes(b"keep")
    r = plateau(program, "merge", out, *parts, "--over")
    refused(r, "over")
    assert out.read_bytes() == b"keep"


@pytest.mark.parametrize("args,needle", [
    (["--shard", ""], "invalid value '' for 'shard'"),
    (["--learn-v", ""], "invalid value '' for 'learn-v'"),
    (["--progress-interval", "nan"], "invalid value 'nan' for 'progress-interval'"),
])
def test_empty_and_nan_values_are_refused_with_their_value(program, tmp_path, args, needle):
    out = tmp_path / "s.h5"
    r = plateau(program, "run", *TINY, *args, "-o", out)
    refused(r, needle)
    assert not out.exists()


@pytest.mark.parametrize("args,needle", [
    (["--fixed-point", "-o", "F.h5"], "--out does not go with --fixed-point"),
    (["--fixed-point", "--rtol", "1e-6"], "--rtol does not go with --fixed-point"),
    (["--fixed-point", "--teacher-init", "gaussian"],
     "invalid value 'gaussian' for 'teacher-init': allowed is orthonormal with --fixed-point"),
    (["--r0", "0.1"], "--r0 goes with --init symmetric"),
    (["--asymmetry", "1e-6", "--init", "sample"], "--asymmetry goes with --init symmetric"),
    (["--init", "symmetric", "--asymmetry", "1e300"], "invalid value '1e+300' for 'asymmetry'"),
])
def test_ode_options_that_would_be_ignored_are_refused(program, tmp_path, args, needle):
    r = plateau(program, "ode", *TINY, *args, cwd=tmp_path)
    refused(r, needle)
    assert list(tmp_path.iterdir()) == []


def test_a_too_large_r0_is_still_blamed_on_r0(program, tmp_path):
    r = plateau(program, "ode", *TINY, "--init", "symmetric", "--r0", "1", cwd=tmp_path)
    refused(r, "invalid value '1' for 'r0'")


@pytest.mark.parametrize("line", [b"\x00\n", b"\x00x y\n", b"[\x00]\n"])
def test_a_nul_in_an_ini_line_does_not_cut_the_message(program, tmp_path, line):
    config = tmp_path / "c.ini"
    config.write_bytes(b"N = 50\n" + line)
    r = plateau(program, "run", config, "--dry-run")
    err = refused(r, "c.ini:2: expected 'key = value', got '")
    assert err.endswith("'") and "\\x00" in err


def test_a_symbolic_link_loop_is_named_as_such(program, tmp_path):
    loop = tmp_path / "loop"
    os.symlink("loop", loop)
    refused(plateau(program, "run", loop, "--dry-run"), "loop of symbolic links")
    refused(plateau(program, "ode", *TINY, "--init-from", loop, "-o", tmp_path / "t.h5"),
            "for 'init-from': a loop of symbolic links")
    refused(plateau(program, "merge", tmp_path / "m.h5", loop), "a loop of symbolic links")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["loop"]


def test_the_python_reader_names_a_link_loop(tmp_path):
    from plateau_analysis.campaign import CampaignError, CampaignFileNotFoundError, open_campaign

    loop = tmp_path / "loop"
    os.symlink("loop", loop)
    with pytest.raises(CampaignError, match="loop of symbolic links") as info:
        open_campaign(loop)
    assert not isinstance(info.value, CampaignFileNotFoundError)


def test_the_python_reader_does_not_quote_library_internals(program, tmp_path, monkeypatch):
    """A library tripping over a damaged structure ('NoneType' object has no attribute
    'attrs') is named as a damaged file, not quoted."""
    import xarray as xr
    from plateau_analysis.campaign import CampaignError, open_campaign

    path = tmp_path / "s.h5"
    assert plateau(program, "run", *TINY, "--seeds", "1", "-q", "-o", path).returncode == 0

    def broken(*args, **kwargs):
        raise AttributeError("'NoneType' object has no attribute 'attrs'")

    monkeypatch.setattr(xr, "open_dataset", broken)
    with pytest.raises(CampaignError) as info:
        open_campaign(path)
    message = str(info.value)
    assert "NoneType" not in message
    assert "structure is damaged" in message and "AttributeError" in message


# ---- item 13: at small N a record's state is at round(alpha N) / N -------------------------


def test_the_state_of_an_early_record_at_small_n_is_documented(program, tmp_path):
    """N = 50: the record at alpha = 0.01 is the state after one update (alpha' = 0.02); the
    schema and the report's alpha axis say so, and `examples` gives alpha' exactly."""
    import h5py
    import numpy as np
    from conftest import REPO
    from plateau_analysis.figures import ALPHA_LABEL

    path = tmp_path / "s.h5"
    r = plateau(program, "run", "--N", "50", "--alpha-min", "0.01", "--alpha-max", "1",
                "--records", "5", "--seeds", "1", "-q", "-o", path)
    assert r.returncode == 0, r.stderr
    with h5py.File(path, "r") as f:
        group = f["K2_M2"]
        alpha = group["alpha"][...]
        examples = group["examples"][0, :]
    k = int(np.argmin(np.abs(alpha - 0.01)))
    assert alpha[k] == pytest.approx(0.01)
    assert examples[k] / 50 == 0.02  # one update: alpha' = round(0.01 * 50) / 50
    schema = (REPO / "analysis" / "SCHEMA.md").read_text()
    assert "the record at α = 0.01 is the state after one update (α' = 0.02)" in schema
    assert "round(α N)" in ALPHA_LABEL
