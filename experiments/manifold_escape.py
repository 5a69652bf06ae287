"""Escape from the plateau (specialization time) against the latent ratio delta on the hidden
manifold model, simulation and theory (experiments/manifold_escape.ini; issue 27; docs/theory.md
section 16b; Goldt, Mezard, Krzakala, Zdeborova, PRX 10, 041044 (2020)).

    /usr/bin/python3 experiments/manifold_escape.py me_sim.h5 me_ode.h5 [-o manifold_escape.png]

A run's escape time is its specialization time alpha_s (plateau_analysis.specialization:
``time_all``, the first record from which every student unit holds its own teacher unit with a
lead of MARGIN in normalized overlap up to the end), the same rule for the simulation and for the
theory run started from that simulation's weights. Left: alpha_s against delta, the mean over
the runs that specialized by alpha_max with its standard error (simulation: points; theory:
line with band), runs that did not specialize counted in the table. Right: eps_g against alpha
for a few delta, seed means (simulation points, theory lines), each delta's mean alpha_s of the
simulation marked. The table printed gives the same numbers, with the plateau height (the seed
mean of eps_g at alpha_s / 2) of both.

--check Z exits 1 unless every run specialized, each delta's simulated mean alpha_s is within Z
combined standard errors (sqrt(se_sim^2 + se_theory^2)) of the theory's, and the plateau
lengthens with delta (the simulated mean alpha_s at the largest delta exceeds that at the
smallest by more than Z combined standard errors). The gallery test runs the .ini at delta =
0.125 and 0.375, N = 200, alpha-max = 200 (70 records), Z = 3 (measured: 9.3 +- 1.5 against
8.2 +- 1.3, and 65.5 +- 12.0 against 55.7 +- 7.0; the increase 4.6 standard errors).
"""
import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "analysis"))

import numpy as np  # noqa: E402

from plateau_analysis import load_sweep  # noqa: E402
from plateau_analysis.figures import pyplot  # noqa: E402
from plateau_analysis.overlaps import specialization  # noqa: E402


def by_delta(path):
    """Per latent ratio: its runs (the per-run coordinate latent_ratio), completed ones only."""
    out = {}
    for ds in load_sweep([path]).values():
        ds = ds.isel(run=np.flatnonzero(ds["status"].values == 1))
        ratio = ds["latent_ratio"].values
        for delta in np.unique(ratio):
            out[float(delta)] = ds.isel(run=np.flatnonzero(ratio == delta))
    return out


def escape_times(ds):
    """alpha_s of every run (NaN: not specialized by the end), ordered by run_index."""
    order = np.argsort(ds["run_index"].values)
    return specialization(ds)["time_all"].values[order]


def mean_se(values):
    """Mean and standard error of the finite values, and their count."""
    v = values[np.isfinite(values)]
    if v.size == 0:
        return np.nan, np.nan, 0
    se = v.std(ddof=1) / np.sqrt(v.size) if v.size > 1 else np.nan
    return v.mean(), se, v.size


def height(ds, alpha_s):
    """The seed mean of eps_g at the record nearest alpha_s / 2 (on the plateau); NaN without
    an alpha_s (no run specialized)."""
    if not np.isfinite(alpha_s):
        return np.nan
    alpha = ds["alpha"].values
    i = int(np.argmin(np.abs(np.log(alpha[1:] / (0.5 * alpha_s))))) + 1
    return ds["eg"].values[:, i].mean()


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("simulation")
    ap.add_argument("theory")
    ap.add_argument("--curves", default="0.125,0.25,0.375,0.5",
                    help="the latent ratios whose eps_g curves the right panel draws")
    ap.add_argument("-o", "--out", default="manifold_escape.png")
    ap.add_argument("--check", type=float, default=None, metavar="Z")
    args = ap.parse_args()
    failures = []
    sim, theory = by_delta(args.simulation), by_delta(args.theory)
    deltas = sorted(sim)
    rows = []
    print(f"{'delta':>7} {'sim alpha_s':>12} {'s.e.':>6} {'n':>5} {'theory alpha_s':>15} "
          f"{'s.e.':>6} {'n':>5} {'sim height':>11} {'theory height':>14}")
    for delta in deltas:
        s, t = sim[delta], theory[delta]
        if not np.array_equal(np.sort(s["run_index"].values), np.sort(t["run_index"].values)):
            raise SystemExit(f"delta = {delta:g}: the theory runs are not the simulation's")
        ms, ss, ns = mean_se(escape_times(s))
        mt, st, nt = mean_se(escape_times(t))
        hs, ht = height(s, ms), height(t, ms)
        rows.append((delta, ms, ss, ns, mt, st, nt))
        runs = s.sizes["run"]
        if ns < runs or nt < runs:
            failures.append(f"delta = {delta:g}: not every run specialized")
        elif not abs(ms - mt) <= (args.check or np.inf) * np.hypot(ss, st):
            failures.append(f"delta = {delta:g}: alpha_s {ms:.1f} against the theory's {mt:.1f}")
        print(f"{delta:7g} {ms:12.1f} {ss:6.1f} {ns:>2}/{runs:<2} {mt:15.1f} {st:6.1f} "
              f"{nt:>2}/{runs:<2} {hs:11.4f} {ht:14.4f}")
    r = np.array([row[:3] + row[4:6] for row in rows], dtype=float)

    plt = pyplot()
    fig, (ax, bx) = plt.subplots(1, 2, figsize=(11.0, 4.4))
    ax.errorbar(r[:, 0], r[:, 1], yerr=r[:, 2], fmt="o", ms=4, color="C0",
                label="simulation, mean ± s.e.")
    ax.plot(r[:, 0], r[:, 3], color="C1", lw=1.5, label="theory (§16b) from the same starts")
    ax.fill_between(r[:, 0], r[:, 3] - r[:, 4], r[:, 3] + r[:, 4], color="C1", alpha=0.25, lw=0)
    ax.set_xlabel("δ = D / N (latent ratio)")
    ax.set_ylabel("escape time α_s (specialization)")
    ax.set_yscale("log")
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=8, loc="upper left")

    wanted = [float(x) for x in args.curves.split(",")]
    for c, delta in enumerate(d for d in wanted if d in sim):
        s, t = sim[delta], theory[delta]
        alpha = s["alpha"].values
        eg = s["eg"].values
        mean, se = eg.mean(axis=0), eg.std(axis=0, ddof=1) / np.sqrt(eg.shape[0])
        color = f"C{c + 2}"
        bx.errorbar(alpha[1:], mean[1:], yerr=se[1:], fmt="o", ms=2.5, color=color,
                    label=f"δ = {delta:g}")
        bx.plot(t["alpha"].values[1:], t["eg"].values.mean(axis=0)[1:], color=color, lw=1.2)
        a_s = rows[deltas.index(delta)][1]
        if np.isfinite(a_s):
            bx.axvline(a_s, color=color, ls=":", lw=1)
    bx.plot([], [], color="k", lw=1.2, label="theory (§16b)")
    bx.plot([], [], color="k", ls=":", lw=1, label="mean α_s, simulation")
    bx.set_xscale("log")
    bx.set_yscale("log")
    bx.set_xlabel("α = examples / N")
    bx.set_ylabel("ε_g on fresh inputs")
    bx.grid(True, alpha=0.3)
    bx.legend(fontsize=8, loc="lower left")
    Ns = sorted({int(n) for d in sim.values() for n in np.atleast_1d(d["N"].values)})
    fig.suptitle(f"Hidden manifold, sign features, erf K = M = 2, η = 1, "
                 f"N = {', '.join(map(str, Ns))}: the plateau lengthens with δ", fontsize=9)
    fig.tight_layout()
    fig.savefig(args.out, dpi=110)
    print(f"wrote {args.out}")
    if args.check is None:
        return 0
    first, last = rows[0], rows[-1]
    rise = (last[1] - first[1]) / np.hypot(first[2], last[2])
    print(f"alpha_s from delta = {first[0]:g} to {last[0]:g}: {last[1] - first[1]:+.1f} "
          f"({rise:.1f} standard errors)")
    if not rise > args.check:
        failures.append("the plateau does not lengthen with delta")
    for line in failures:
        print(line, file=sys.stderr)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
