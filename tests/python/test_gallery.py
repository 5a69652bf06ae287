"""The gallery of published results (experiments/, issue 31), re-run at reduced size: each entry's
numbers against the published or closed-form values it prints, within the tolerance stated here.

- Saad & Solla 1995, the symmetric plateau's height (experiments/saad_solla_plateaus.py): at
  K = 2, 3 the Richardson extrapolation eta -> 0 of `plateau ode --fixed-point` from eta = 0.01
  and 0.005 is within 1e-4 (relative) of (K/pi)(pi/6 - K arcsin(1/(2K))) (measured 1.0e-5 and
  2.9e-5: the O(eta^2) left by the extrapolation). A flow whose eta -> 0 plateau differs by
  1e-4 of its height, or the closed form with arcsin(1/K), fails it (a wrong term linear in eta
  would not: the extrapolation removes it).
- Every configuration under experiments/ stays runnable: `plateau run --dry-run` and `plateau ode
  --dry-run` accept each one (exit 0, no file), so a key renamed or a refusal widened cannot
  leave a gallery entry that no longer starts. (The ode dry run of experiments/continual.ini,
  several teachers, was refused while its run was accepted, until its probe timed the run's own
  flow.)
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import run_program

SOURCE = Path(__file__).resolve().parents[2]


def entry(name, *args, timeout=300):
    """Run experiments/NAME.py with args; its stdout and stderr (exit status asserted by caller)."""
    return subprocess.run([sys.executable, str(SOURCE / "experiments" / f"{name}.py"),
                           *map(str, args)], capture_output=True, text=True, timeout=timeout)


def test_saad_solla_plateau_heights(plateau_program):
    r = entry("saad_solla_plateaus", "--plateau", plateau_program, "--K", "2", "3",
              "--check", "1e-4")
    assert r.returncode == 0, r.stdout + r.stderr
    rows = [line.split() for line in r.stdout.splitlines()[1:]]
    assert [row[0] for row in rows] == ["2", "3"]
    for row in rows:
        assert float(row[5]) < 1e-4, row


def test_goldt_overparameterised(plateau_program):
    r = entry("goldt_overparameterised", "--plateau", plateau_program, "--small",
              "--check", "2e-3")
    assert r.returncode == 0, r.stdout + r.stderr
    rows = [line.split() for line in r.stdout.splitlines()[2:8]]
    assert [(row[0], row[1]) for row in rows[:3]] == [("2", "w"), ("4", "w"), ("8", "w")]
    assert all(float(row[5]) < 2e-3 for row in rows[:3]), rows


def test_saxe_linear_transition(plateau_program):
    r = entry("saxe_linear", "--plateau", plateau_program, "--small", "--check", "1e-6")
    assert r.returncode == 0, r.stdout + r.stderr
    assert "16 runs" in r.stdout, r.stdout


def campaign(plateau_program, tmp_path, command, name, *overrides, extra=()):
    """`plateau COMMAND experiments/NAME.ini --key value ...` into tmp_path; the file's path."""
    out = tmp_path / f"{name}_{command}.h5"
    args = [command, SOURCE / "experiments" / f"{name}.ini", *overrides, "-q", "-o", out]
    if command == "ode":
        args += ["--predictions", "none"]
    r = run_program(plateau_program, *args, *extra, timeout=300)
    assert r.returncode == 0, r.stderr
    return out


def checked(name, *args):
    """Run experiments/NAME.py with args (figures into the files' directory) and assert it passed
    its own --check; its stdout."""
    r = entry(name, *args)
    assert r.returncode == 0, r.stdout + r.stderr
    return r.stdout


def test_escape_vs_lnN(plateau_program, tmp_path):
    fixed = run_program(plateau_program, "ode", "--eta", "0.5", "--fixed-point", timeout=120).stdout
    height = float(re.search(r"^  eps_g = ([0-9.eE+-]+)", fixed, re.M).group(1))
    rate = float(re.search(r"escape rate [^:]*: ([0-9.eE+-]+)", fixed).group(1))
    sim = campaign(plateau_program, tmp_path, "run", "escape_vs_lnN",
                   "--N", "100, 1000", "--seeds", "80")
    out = checked("escape_vs_lnN", sim, "--eg-plateau", height, "--rate", rate,
                  "-o", tmp_path / "f.png", "--check", 3)
    assert "standard errors" in out


def test_phase_retrieval_escape(plateau_program, tmp_path):
    sim = campaign(plateau_program, tmp_path, "run", "phase_retrieval_escape", "--K", "1",
                   "--N", "1000, 10000", "--seeds", "48", "--alpha-max", "60", "--records", "100")
    out = checked("phase_retrieval_escape", sim, "-o", tmp_path / "f.png", "--check", 3)
    assert "closed form 1/(2 lambda) = 3.1289" in out


REDUCED = {  # entry: the reduced campaign's overrides, the same for simulation and theory
    "hidden_manifold": ("--latent-ratio", "0.25, 1", "--N", "200"),
    "manifold_escape": ("--latent-ratio", "0.125, 0.375", "--N", "200", "--alpha-max", "200",
                        "--records", "70"),
    "continual": ("--teacher-overlap", "0, 0.5, 1", "--N", "1000", "--dynamics", "gram",
                  "--seeds", "16"),
    "schedule_asymptotics": ("--alpha-max", "1000", "--records", "21", "--seeds", "8"),
}


@pytest.mark.parametrize("name", sorted(REDUCED))
def test_simulation_against_theory(plateau_program, tmp_path, name):
    sim = campaign(plateau_program, tmp_path, "run", name, *REDUCED[name])
    ode = campaign(plateau_program, tmp_path, "ode", name, *REDUCED[name])
    checked(name, sim, ode, "-o", tmp_path / "f.png", "--check", 3)


def test_mixture_xor(plateau_program, tmp_path):
    sim = campaign(plateau_program, tmp_path, "run", "mixture_xor", "--N", "500", "--seeds", "16",
                   "--eg-samples", "2000", "--records", "21")
    out = checked("mixture_xor", sim, "-o", tmp_path / "f.png", "--check", 3)
    assert " 8    16" in out, out


def test_order_parameter_spread(plateau_program, tmp_path):
    keys = ("--alpha-max", "35", "--records", "36")
    sim = campaign(plateau_program, tmp_path, "run", "order_parameter_spread", *keys,
                   "--seeds", "150")
    ode = campaign(plateau_program, tmp_path, "ode", "order_parameter_spread", *keys,
                   extra=("--seeds", "1", "--init", "symmetric", "--asymmetry", "0",
                          "--fluctuations"))
    checked("order_parameter_spread", sim, ode, "-o", tmp_path / "f.png", "--check", 4)


@pytest.mark.parametrize("config", sorted((SOURCE / "experiments").glob("*.ini")),
                         ids=lambda path: path.stem)
@pytest.mark.parametrize("command", ["run", "ode"])
def test_every_gallery_configuration_is_accepted(plateau_program, tmp_path, command, config):
    out = tmp_path / "out.h5"
    r = run_program(plateau_program, command, config, "-o", out, "--dry-run", timeout=120)
    assert r.returncode == 0, (config.name, r.stderr)
    assert r.stdout.startswith("runs:"), r.stdout
    assert not out.exists() and not list(tmp_path.iterdir())
