"""Forgetting against teacher overlap: continual learning of two teachers, theory and simulation
(experiments/continual.ini; issue 28; docs/theory.md sections 17 and 17b; Lee, Goldt, Saxe 2021).

    /usr/bin/python3 experiments/continual.py continual_sim.h5 continual_ode.h5 \
        [--overlap 0.15] [-o continual.png]

The simulation file may be the full simulation's or the Gram chain's (``--dynamics gram``).

Left: eps_1 and eps_2 (the student's error on teacher 1 with head 1 and on teacher 2 with head 2,
the file's ``eg_tasks``) against alpha at one teacher overlap, seed means of the simulation
(points with standard errors) and of the theory from each run's start (lines), the switch
marked. Right: forgetting = eps_1(end) - eps_1(switch) against teacher-overlap, simulation and
theory, seed means with standard errors. The table printed gives the same numbers. The
switch is the run's ``switch_alpha`` of task 2; eps_1(switch) is the last record before it.

--check Z exits 1 unless, at every overlap, the simulation's mean forgetting is within Z
combined standard errors (sqrt(se_sim^2 + se_theory^2); the theory runs start from the
simulation's starts, so this overstates the spread of the difference) of the theory's, and the
theory's forgetting is largest at an overlap strictly inside the swept range (the non-monotonic
forgetting of Lee, Goldt, Saxe 2021). The gallery test runs the .ini at overlaps 0, 0.5, 1, N =
1000, Gram chain, 16 seeds, Z = 3.
"""
import argparse
import sys
from pathlib import Path

import h5py
import numpy as np


def load(path):
    """Per run: teacher-overlap, alpha, eg_tasks (runs x records x tasks), the switch's alpha."""
    with h5py.File(path, "r") as f:
        groups = [g for g in f.values() if isinstance(g, h5py.Group) and "eg_tasks" in g]
        if len(groups) != 1:
            raise SystemExit(f"{path}: expected one group with eg_tasks, found {len(groups)}")
        g = groups[0]
        completed = g["status"][:] == 1
        last = g["switch_alpha"][:, -1, :]  # the tasks' starts at the last record
        # Per run when teacher-overlap is swept; else one value, the group's attribute.
        overlap = (g["teacher_overlap"][:] if "teacher_overlap" in g
                   else np.full(completed.shape, float(g.attrs["teacher_overlap"][0])))
        return {
            "overlap": overlap[completed],
            "alpha": g["alpha"][:],
            "eg": g["eg_tasks"][:][completed],
            "switch": last[completed, 1],
        }


def forgetting(d):
    """Per overlap: the mean and standard error of eps_1(end) - eps_1(switch) over its runs."""
    out = {}
    for o in np.unique(d["overlap"]):
        runs = np.flatnonzero(d["overlap"] == o)
        values = []
        for r in runs:
            before = np.searchsorted(d["alpha"], d["switch"][r], side="right") - 1
            values.append(d["eg"][r, -1, 0] - d["eg"][r, before, 0])
        values = np.asarray(values)
        sem = values.std(ddof=1) / np.sqrt(values.size) if values.size > 1 else np.nan
        out[float(o)] = (values.mean(), sem, values.size)
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("simulation")
    ap.add_argument("theory")
    ap.add_argument("--overlap", type=float, default=0.15,
                    help="the teacher overlap of the left panel")
    ap.add_argument("-o", "--out", default="continual.png")
    ap.add_argument("--check", type=float, default=None, metavar="Z")
    args = ap.parse_args()
    sim, ode = load(args.simulation), load(args.theory)
    fs, ft = forgetting(sim), forgetting(ode)
    print(f"{'overlap':>7} {'sim forgetting':>15} {'s.e.':>6} {'theory':>7} {'s.e.':>6}")
    for o in sorted(ft):
        s = fs.get(o, (np.nan, np.nan, 0))
        print(f"{o:7.2f} {s[0]:15.4f} {s[1]:6.4f} {ft[o][0]:7.4f} {ft[o][1]:6.4f}")

    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (ax, bx) = plt.subplots(1, 2, figsize=(11.5, 4.4))
    pick = min(ft, key=lambda o: abs(o - args.overlap))
    for t, color in ((0, "C0"), (1, "C1")):
        rs = sim["overlap"] == pick
        rt = ode["overlap"] == pick
        e = sim["eg"][rs, :, t]
        ax.errorbar(sim["alpha"], e.mean(0), e.std(0, ddof=1) / np.sqrt(e.shape[0]), fmt="o",
                    ms=3, color=color, label=f"ε_{t + 1} simulation ({e.shape[0]} runs)")
        ax.plot(ode["alpha"], ode["eg"][rt, :, t].mean(0), color=color, lw=1.5,
                label=f"ε_{t + 1} theory")
    ax.axvline(np.nanmedian(ode["switch"]), color="k", ls="--", lw=1, label="switch")
    ax.set_yscale("log")
    ax.set_xlabel("α = examples / N")
    ax.set_ylabel("ε_t: error on teacher t (head t)")
    ax.set_title(f"teacher-overlap {pick:g}", fontsize=9)
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=8)
    o = np.array(sorted(ft))
    bx.plot(o, [ft[x][0] for x in o], color="k", lw=1.5, label="theory (mean over starts)")
    so = np.array(sorted(fs))
    bx.errorbar(so, [fs[x][0] for x in so], [fs[x][1] for x in so], fmt="o", color="C3",
                label="simulation (mean ± s.e.)")
    bx.set_xlabel("teacher-overlap ρ (cosine of the teachers' first layers)")
    bx.set_ylabel("forgetting ε_1(end) − ε_1(switch)")
    bx.grid(True, alpha=0.3)
    bx.legend(fontsize=8)
    bx.set_title("forgetting of task 1 after the switch", fontsize=9)
    fig.tight_layout()
    fig.savefig(args.out, dpi=110)
    print(f"wrote {Path(args.out)}")
    failures = []
    if args.check is not None:
        for o in sorted(ft):
            s = fs.get(o, (np.nan, np.nan, 0))
            z = abs(s[0] - ft[o][0]) / np.hypot(s[1], ft[o][1])
            if not z <= args.check:
                failures.append(f"overlap {o:g}: simulation {s[0]:.4f} vs theory {ft[o][0]:.4f} "
                                f"({z:.1f} standard errors)")
        top = max(ft, key=lambda o: ft[o][0])
        if top in (min(ft), max(ft)):
            failures.append(f"the theory's forgetting is largest at the end of the range ({top:g})")
    for line in failures:
        print(line, file=sys.stderr)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
