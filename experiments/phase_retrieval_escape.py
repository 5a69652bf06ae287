"""Phase retrieval's search phase against ln N, for K = 1 and K = 2 students
(experiments/phase_retrieval_escape.ini; dynamics = gram).

    /usr/bin/python3 experiments/phase_retrieval_escape.py pr_escape.h5 [more.h5 ...] \
        [--plateau build/release/plateau] [--fraction 0.99] [-o phase_retrieval_escape.png]

Files that differ only in N, seeds or the master seed pool (plateau_analysis.load_sweep). A run's
escape time is the first alpha with eps_g <= fraction * eps_g(0) (plateau_analysis.search); per
K and N the mean over the runs that escaped +- its standard error; per K the weighted fit
alpha_esc = a + b ln N (plateau_analysis.stats.weighted_line_fit); at each N the ratio of the
K = 2 and K = 1 mean escape times (the constant factor of over-parameterisation).

With --plateau, the N -> infinity theory (plateau ode) of the same settings is integrated from
Q_jj = 1 and R_j1 = r0 = c / sqrt(N) for every N, c = exp(E ln|z|) = exp(-(gamma_E + ln 2) / 2)
= 0.5298 (z ~ N(0, 1)): the initial overlap of a random unit vector is z / sqrt(N), and the
escape time depends on it through ln|R(0)|, so the ODE from c / sqrt(N) gives the escape time at
the mean of ln|R(0)| (for K = 2 both units start there). Its escape time uses the same rule.

--check Z exits 1 unless every run escaped and the K = 1 slope in ln N is within Z of its
standard errors of the closed form 1/(2 lambda), lambda = 4 eta - 24 eta^2 - 2 eta^2 s^2
(docs/theory.md section 14b). The gallery test runs the .ini with K = 1 only, N = 1000 and
10000, 48 seeds, alpha-max = 60 (100 records), Z = 3 (measured: 3.48 +- 0.62
against 1/(2 lambda) = 3.13).
"""
import argparse
import math
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "analysis"))

import numpy as np  # noqa: E402

from plateau_analysis import load_campaign, load_sweep  # noqa: E402
from plateau_analysis.configs import parse_config  # noqa: E402
from plateau_analysis.figures import pyplot  # noqa: E402
from plateau_analysis.search import (DEFAULT_FRACTION, escape_ratio, first_fall,  # noqa: E402
                                     search_summary)
from plateau_analysis.stats import weighted_line_fit  # noqa: E402

#: exp(E ln|z|) for z ~ N(0, 1): E ln|z| = -(gamma_E + ln 2) / 2.
TYPICAL_OVERLAP = math.exp(-(0.5772156649015329 + math.log(2.0)) / 2.0)
#: The settings the ODE takes from the simulation file's configuration.
ODE_KEYS = ("activation", "teacher-activation", "readout-scale", "constraint", "eta", "noise",
            "alpha-max", "schedule", "alpha-min", "records", "target")


def ode_escape(plateau: str, config: dict, K: int, M: int, N: int, fraction: float) -> float:
    """The theory's escape time for width K at size N (see the module's docstring)."""
    args = [plateau, "ode", "--K", str(K), "--M", str(M), "--init", "symmetric",
            "--r0", repr(TYPICAL_OVERLAP / math.sqrt(N)), "--asymmetry", "0", "-q"]
    for key in ODE_KEYS:
        if key in config:
            args += [f"--{key}", config[key]]
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "theory.h5"
        subprocess.run(args + ["-o", str(out)], check=True, stdout=subprocess.DEVNULL)
        ds = next(iter(load_campaign(out).values()))
        return first_fall(ds["alpha"].values, ds["eg"].values[0], fraction)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("files", nargs="+")
    ap.add_argument("--fraction", type=float, default=DEFAULT_FRACTION)
    ap.add_argument("--plateau", help="the plateau program: add the ODE's escape times")
    ap.add_argument("-o", "--out", default="phase_retrieval_escape.png")
    ap.add_argument("--check", type=float, default=None, metavar="Z")
    args = ap.parse_args()
    failures = []
    groups = load_sweep(args.files)
    summaries = {}
    for name, ds in sorted(groups.items()):
        summaries[int(ds.attrs["K"])] = (ds, search_summary(ds, args.fraction))
    print(f"escape: first alpha with eps_g <= {args.fraction:g} eps_g(0); mean and s.e. over "
          "the runs that escaped")
    print(f"{'K':>2} {'N':>8} {'runs':>5} {'escaped':>7} {'eps_g(0)':>9} {'mean':>8} "
          f"{'s.e.':>6} {'median':>8} {'ODE':>8}")
    theory = {}
    for K, (ds, s) in summaries.items():
        config = parse_config(ds.attrs.get("config", ""))
        for i, n in enumerate(s["N"].values):
            t_ode = (ode_escape(args.plateau, config, K, int(ds.attrs["M"]), int(n),
                                args.fraction) if args.plateau else math.nan)
            theory[(K, int(n))] = t_ode
            print(f"{K:2d} {int(n):8d} {int(s['n_runs'].values[i]):5d} "
                  f"{int(s['runs_escaped'].values[i]):7d} {s['eg0_mean'].values[i]:9.4f} "
                  f"{s['escape_runs_mean'].values[i]:8.3f} {s['escape_runs_sem'].values[i]:6.3f} "
                  f"{s['escape_runs_median'].values[i]:8.3f} {t_ode:8.3f}")
            if int(s["runs_escaped"].values[i]) < int(s["n_runs"].values[i]):
                failures.append(f"K = {K}, N = {int(n)}: not every run escaped")
    fits = {}
    for K, (ds, s) in summaries.items():
        config = parse_config(ds.attrs.get("config", ""))
        fit = weighted_line_fit(np.log(s["N"].values.astype(float)), s["escape_runs_mean"].values,
                                s["escape_runs_sem"].values)
        fits[K] = fit
        line = (f"K = {K}: alpha_esc = {fit.intercept:.3f} + ({fit.slope:.4f} +- "
                f"{fit.slope_err:.4f}) ln N (weighted, {fit.n_points} points, chi2/dof "
                f"{fit.reduced_chi2:.2f})")
        ode = [theory[(K, int(n))] for n in s["N"].values]
        if all(math.isfinite(t) for t in ode) and len(ode) > 1:
            b = np.polyfit(np.log(s["N"].values.astype(float)), ode, 1)[0]
            line += f"; ODE slope {b:.4f}"
        if K == 1 and config.get("constraint") == "sphere" and config.get(
                "activation") == "square":
            # docs/theory.md §14: lambda = 4 eta - 24 eta^2 - 2 eta^2 s^2 for K = M = 1
            eta, s2 = float(config.get("eta", "nan")), float(config.get("noise", "0"))
            closed = 1 / (2 * (4 * eta - 24 * eta**2 - 2 * eta**2 * s2))
            line += f"; closed form 1/(2 lambda) = {closed:.4f}"
            z = abs(fit.slope - closed) / fit.slope_err
            line += f" ({z:.2f} standard errors)"
            if args.check is not None and not z <= args.check:
                failures.append(f"K = 1: slope {fit.slope:.4f} is {z:.1f} standard errors from "
                                f"1/(2 lambda) = {closed:.4f}")
        print(line)
    ratio = None
    if 1 in summaries and 2 in summaries:
        ratio = escape_ratio(summaries[2][1], summaries[1][1])
        print("ratio of mean escape times, K = 2 over K = 1:")
        for n, r, e in zip(ratio["N"].values, ratio["ratio"].values, ratio["ratio_sem"].values):
            print(f"  N = {int(n):8d}: {r:.4f} +- {e:.4f}")
    plt = pyplot()
    fig, (ax, bx) = plt.subplots(1, 2, figsize=(11, 4.3))
    for c, (K, (ds, s)) in enumerate(summaries.items()):
        x = np.log(s["N"].values.astype(float))
        color = f"C{c}"
        ax.errorbar(x, s["escape_runs_mean"].values, yerr=s["escape_runs_sem"].values, fmt="o",
                    color=color, capsize=3, label=f"K = {K}: Gram chain, mean ± SE")
        fit = fits[K]
        if math.isfinite(fit.slope):
            xs = np.linspace(x.min() - 0.3, x.max() + 0.3, 50)
            ax.plot(xs, fit.intercept + fit.slope * xs, color=color, lw=1,
                    label=f"K = {K}: weighted fit, slope {fit.slope:.3f} ± {fit.slope_err:.3f}")
        ode = np.array([theory[(K, int(n))] for n in s["N"].values])
        if np.isfinite(ode).any():
            ax.plot(x, ode, "x--", color=color, ms=7, lw=0.8,
                    label=f"K = {K}: ODE from R(0) = {TYPICAL_OVERLAP:.3f}/√N")
    top = ax.secondary_xaxis("top")
    values = np.unique(np.concatenate([s["N"].values for _, s in summaries.values()]))
    top.set_xticks(np.log(values.astype(float)), [f"{v:g}" for v in values])
    top.set_xlabel("N")
    ax.set_xlabel("ln N   (N = input dimension)")
    ax.set_ylabel(f"escape time α (ε_g ≤ {args.fraction:g} ε_g(0)), α = examples/N")
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=7)
    ax.set_title("phase retrieval, square student on the sphere, readout 1/K, η = "
                 f"{parse_config(next(iter(summaries.values()))[0].attrs.get('config', '')).get('eta', '?')}",
                 fontsize=9, pad=34)
    if ratio is not None:
        lr = np.log(ratio["N"].values.astype(float))
        bx.errorbar(lr, ratio["ratio"].values, yerr=ratio["ratio_sem"].values, fmt="s",
                    capsize=3, color="k", label="Gram chain (mean ± SE)")
        ode_ratio = np.array([theory[(2, int(n))] / theory[(1, int(n))]
                              for n in ratio["N"].values])
        if np.isfinite(ode_ratio).any():
            bx.plot(lr, ode_ratio, "x--", color="0.4", label="ODE from R(0) = 0.530/√N")
        bx.legend(fontsize=7)
        bx.set_xlabel("ln N")
        bx.set_ylabel("α_esc(K = 2) / α_esc(K = 1)")
        bx.set_title("over-parameterisation: ratio of mean escape times", fontsize=9)
        bx.grid(True, alpha=0.3)
    else:
        bx.set_visible(False)
    fig.tight_layout()
    fig.savefig(args.out, dpi=110)
    print(f"wrote {args.out}")
    if args.check is None:
        return 0
    for line in failures:
        print(line, file=sys.stderr)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
