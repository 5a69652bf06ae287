"""eps_g of on-line SGD on the hidden manifold model against alpha, per latent ratio delta:
simulation (seed mean +- standard error) and the theory of docs/theory.md section 16b (the mean of
the theory runs, each from its simulation's start). experiments/hidden_manifold.ini.

    /usr/bin/python3 experiments/hidden_manifold.py hm_sim.h5 hm_ode.h5 [-o hidden_manifold.png]

The table printed gives per delta the final eps_g of both and the alpha at which the theory's
eps_g first falls within 1 % of its final value above it (the end of the plateau and escape).

--check Z exits 1 when a delta's final simulated seed mean is more than Z of its standard errors
(seeds; they include the Monte-Carlo error of eps_g) from the theory's mean. The gallery test
runs the .ini at delta = 0.25 and 1, N = 200, Z = 3 (measured 1.7 and 0.2 standard errors).
"""
import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "analysis"))

import numpy as np  # noqa: E402

from plateau_analysis import load_sweep  # noqa: E402
from plateau_analysis.figures import pyplot  # noqa: E402


def by_delta(path):
    """The runs of each latent ratio (the per-run coordinate latent_ratio)."""
    out = {}
    for ds in load_sweep([path]).values():
        ratio = ds["latent_ratio"].values
        for delta in np.unique(ratio):
            out[float(delta)] = ds.isel(run=np.nonzero(ratio == delta)[0])
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("simulation")
    ap.add_argument("theory")
    ap.add_argument("-o", "--out", default="hidden_manifold.png")
    ap.add_argument("--check", type=float, default=None, metavar="Z")
    args = ap.parse_args()
    worst = 0.0
    sim, theory = by_delta(args.simulation), by_delta(args.theory)
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(9.0, 4.8))
    print(f"{'delta':>6} {'sim final':>10} {'s.e.':>7} {'theory final':>12} {'alpha_1%':>9}")
    for c, delta in enumerate(sorted(sim)):
        s, t = sim[delta], theory[delta]
        alpha = s["alpha"].values
        eg = s["eg"].values
        mean, se = eg.mean(axis=0), eg.std(axis=0, ddof=1) / np.sqrt(eg.shape[0])
        th = t["eg"].values.mean(axis=0)
        color = f"C{c}"
        ax.errorbar(alpha, mean, yerr=se, fmt="o", ms=3, color=color, label=f"δ = {delta:g}")
        ax.plot(t["alpha"].values, th, color=color, lw=1.5)
        near = np.nonzero(th <= th[-1] * 1.01)[0]
        a1 = t["alpha"].values[near[0]] if near.size else float("nan")
        print(f"{delta:6g} {mean[-1]:10.4f} {se[-1]:7.4f} {th[-1]:12.4f} {a1:9.1f}")
        worst = max(worst, abs(mean[-1] - th[-1]) / se[-1])
    ax.plot([], [], color="k", lw=1.5, label="theory (§16b)")
    ax.errorbar([], [], yerr=[], fmt="o", ms=3, color="k", label="simulation, seed mean ± s.e.")
    ax.set_xlabel("α = examples / N")
    ax.set_ylabel("ε_g on fresh inputs")
    ax.set_yscale("log")
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    Ns = sorted({int(n) for d in sim.values() for n in np.atleast_1d(d["N"].values)})
    ax.set_title("Hidden manifold, sign features, erf K = M = 2, η = 1, "
                 f"N = {', '.join(map(str, Ns))}", fontsize=9)
    fig.tight_layout()
    fig.savefig(args.out, dpi=110)
    print(f"wrote {args.out}")
    print(f"largest |simulation - theory| at the end: {worst:.2f} standard errors")
    if args.check is not None and not worst <= args.check:
        print(f"more than {args.check:g} standard errors", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
