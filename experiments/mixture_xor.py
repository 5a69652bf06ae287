"""Classification of the XOR Gaussian mixture by K = 1, 4 and 8 ReLU students
(experiments/mixture_xor.ini; dynamics = gram; issue 26, docs/theory.md section 15).

    /usr/bin/python3 experiments/mixture_xor.py mixture_xor.h5 [--margin 0.01] \
        [-o mixture_xor.png]

Left: the classification error P(sign sigma != y) on fresh inputs against alpha, per K the seed
mean (line) and the 10-90 % quantiles over seeds (band), with the mixture's Bayes error (the
file's ``bayes_error``, Eq. (15.6)) and chance (1/2). Right: per K the fraction of runs whose
classification error is within ``margin`` of the Bayes error, against alpha. The table printed
gives per K the final seed mean +- standard error, that fraction at the end, and the median
alpha at which the runs that got there first did.

--check Z exits 1 unless the published contrast (Refinetti, Goldt, Krzakala, Zdeborova, ICML
2021) holds: the K = 1 student stays at chance (its final seed mean within Z standard errors of
1/2: one ReLU unit cannot separate XOR) and every run of the largest K ends within the margin of
the Bayes error. The gallery test runs the .ini at N = 500, 16 seeds, eg-samples 2000, Z = 3
(measured: K = 1 at 0.5002 +- 0.0007; K = 8 at 0.0022, 16 of 16 runs within 0.01 of Bayes
0.0016; K = 4 in between, 3 of 16).
"""
import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "analysis"))

import numpy as np  # noqa: E402

from plateau_analysis import load_sweep, seed_average  # noqa: E402
from plateau_analysis.campaign import COMPLETED  # noqa: E402
from plateau_analysis.configs import parse_config  # noqa: E402
from plateau_analysis.figures import pyplot  # noqa: E402


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("files", nargs="+")
    ap.add_argument("--margin", type=float, default=0.01,
                    help="a run has reached the Bayes error when its classification error is "
                         "at most Bayes + margin")
    ap.add_argument("--check", type=float, default=None, metavar="Z")
    ap.add_argument("-o", "--out", default="mixture_xor.png")
    args = ap.parse_args()
    groups = load_sweep(args.files)
    plt = pyplot()
    fig, (ax, bx) = plt.subplots(1, 2, figsize=(11.5, 4.6),
                                 gridspec_kw={"width_ratios": [1.35, 1]})
    first = next(iter(groups.values()))
    config = parse_config(first.attrs.get("config", ""))
    bayes = float(first["bayes_error"].values[0])
    print(f"Bayes error {bayes:.5f}; reached: class error <= Bayes + {args.margin:g}")
    print(f"{'K':>2} {'runs':>5} {'final mean':>10} {'s.e.':>7} {'reached':>8} "
          f"{'median alpha':>12}")
    finals = {}
    for c, (name, ds) in enumerate(sorted(groups.items(), key=lambda g: int(g[1].attrs["K"]))):
        K = int(ds.attrs["K"])
        color = f"C{c}"
        avg = seed_average(ds)
        alpha = avg["alpha"].values
        mean = avg["class_error_mean"].values[0]
        q = avg["class_error_quantile"].values[0]
        runs = int(avg["n_completed"].values[0])
        ax.plot(alpha, mean, color=color, lw=2, label=f"K = {K}: seed mean ({runs} runs)")
        ax.fill_between(alpha, q[0], q[-1], color=color, alpha=0.2, lw=0)
        ce = ds["class_error"].values[np.asarray(ds["status"].values) == COMPLETED]
        reached = ce <= bayes + args.margin
        bx.plot(alpha, reached.mean(axis=0), color=color, lw=2, label=f"K = {K}")
        ever = reached.any(axis=1)
        first_alpha = alpha[np.argmax(reached[ever], axis=1)] if ever.any() else np.array([])
        med = float(np.median(first_alpha)) if first_alpha.size else float("nan")
        print(f"{K:2d} {runs:5d} {mean[-1]:10.4f} {avg['class_error_sem'].values[0][-1]:7.4f} "
              f"{reached[:, -1].mean():8.3f} {med:12.1f}")
        finals[K] = (mean[-1], avg["class_error_sem"].values[0][-1], reached[:, -1].mean())
    ax.axhline(0.5, color="0.5", lw=1, ls="--", label="chance (1/2)")
    ax.axhline(bayes, color="k", lw=1.2, ls=":", label=f"Bayes error {bayes:.4f}")
    ax.fill_between([], [], [], color="0.5", alpha=0.2, label="10–90 % quantiles over seeds")
    ax.set_xlabel("α = examples / N")
    ax.set_ylabel("classification error P(sign σ ≠ y), fresh inputs")
    ax.set_ylim(-0.01, 0.56)
    ax.set_xlim(0, alpha.max())
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=8, loc="center right")
    ax.set_title(f"XOR mixture, Δ = {config.get('cluster-variance', '?')}: ReLU student, "
                 f"learned v, squared loss, η = {config.get('eta', '?')}, "
                 f"N = {config.get('N', '?')} (Gram chain)", fontsize=9)
    bx.set_xlabel("α = examples / N")
    bx.set_ylabel(f"fraction of runs with error ≤ Bayes + {args.margin:g}")
    bx.set_ylim(-0.02, 1.02)
    bx.set_xlim(0, alpha.max())
    bx.grid(True, alpha=0.3)
    bx.legend(fontsize=8, loc="center right")
    bx.set_title("runs that reached the Bayes error", fontsize=9)
    fig.tight_layout()
    fig.savefig(args.out, dpi=110)
    print(f"wrote {args.out}")
    failures = []
    if args.check is not None:
        if 1 in finals and not abs(finals[1][0] - 0.5) <= args.check * finals[1][1]:
            failures.append(f"K = 1 ends at {finals[1][0]:.4f}, not at chance 1/2")
        top = max(finals)
        if top > 1 and not finals[top][2] == 1.0:
            failures.append(f"K = {top}: {finals[top][2]:.3f} of the runs reached the Bayes error")
    for line in failures:
        print(line, file=sys.stderr)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
