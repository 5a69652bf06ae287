"""The order parameters' spread over seeds against the linear-noise theory (issue 30).

    /usr/bin/python3 experiments/order_parameter_spread.py spread_sim.h5 spread_ode.h5 \
        -o docs/order_parameter_spread.png [--check 4]

spread_sim.h5: experiments/order_parameter_spread.ini run by `plateau run` (600 exact runs);
spread_ode.h5: the same configuration by `plateau ode --seeds 1 --init symmetric --asymmetry 0
--fluctuations` (the theory from the random draw's mean, docs/theory.md §11.2c). Left: Q_11 and
R_11 of every run (grey), their mean and mean ± SD over the runs, and the theory's trajectory
± its Q_sd, R_sd. Right: the standard deviations themselves, simulated (points, with their
standard errors) and predicted (lines), on a log scale: the growth of R's spread on the plateau
at the escape rate. Prints, per record time, the largest deviation of the sample SDs from the
theory in standard errors; with --check Z, exits 1 if one within the linear regime exceeds Z.
The linear regime: the records where the theory's R_sd is below 5 % of R's mean (marked on the
figure; at N = 1000, eta = 0.5: alpha <= 35). The approximation's error grows like the square of
the spread; beyond it the next order shows first in Q, whose diagonal answers the growing
asymmetry of R at second order (measured with the .ini: within 2 standard errors up to
alpha = 35, 2.7 up to 56, then 5.4 at 64 and 28 at 80, in Q).
"""
import argparse
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import xarray as xr  # noqa: E402


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("sim")
    ap.add_argument("theory")
    ap.add_argument("-o", "--out", default="order_parameter_spread.png")
    ap.add_argument("--check", type=float, default=None)
    args = ap.parse_args()

    sim = xr.open_dataset(args.sim, group="K2_M2", engine="h5netcdf")
    th = xr.open_dataset(args.theory, group="K2_M2", engine="h5netcdf")
    if not np.array_equal(sim.alpha, th.alpha):
        sys.exit("the two files have different record times: run both from the same .ini")
    if np.isnan(th.Q_sd).all():
        sys.exit(f"{args.theory}: no Q_sd (write it with plateau ode --fluctuations)")
    alpha = sim.alpha.values
    runs = sim.sizes["run"]

    fig, axes = plt.subplots(1, 2, figsize=(11, 4.2))
    ax = axes[0]
    for name, (j, k), color in [("Q", (0, 0), "C0"), ("R", (0, 0), "C3")]:
        x = sim[name].isel({sim[name].dims[2]: j, sim[name].dims[3]: k}).values  # (run, alpha)
        mean, sd = x.mean(0), x.std(0, ddof=1)
        ax.plot(alpha, x[:40].T, color="0.8", lw=0.4)
        ax.plot(alpha, mean, color=color, lw=1.5, label=f"{name}$_{{11}}$: {runs} runs, mean ± SD")
        ax.fill_between(alpha, mean - sd, mean + sd, color=color, alpha=0.25, lw=0)
        t = th[name].isel(run=0).values[:, j, k]
        s = th[f"{name}_sd"].isel(run=0).values[:, j, k]
        ax.plot(alpha, t, "k--", lw=1)
        ax.plot(alpha, t + s, "k:", lw=1)
        ax.plot(alpha, t - s, "k:", lw=1)
    ax.plot([], [], "k--", lw=1, label="ODE")
    ax.plot([], [], "k:", lw=1, label="ODE ± SD (linear noise)")
    ax.set_xlabel(r"$\alpha$ = steps / N")
    ax.set_ylabel("order parameter")
    ax.set_title(f"N = {int(sim.N.values.flat[0])}, erf K = M = 2, $\\eta$ = 0.5")
    ax.legend(fontsize=8, loc="upper left")

    # The linear regime (see the docstring): R's theory SD below 5 % of R's mean, every entry.
    r_sd = th.R_sd.isel(run=0).values
    linear = (r_sd < 0.05 * np.abs(sim.R.mean("run").values)).all(axis=(1, 2))
    end = alpha[linear][-1]
    for a in axes:
        a.axvline(end, color="0.5", lw=0.8, ls="-.")
    axes[0].text(end, axes[0].get_ylim()[0], " SD(R) = 5 % of R", fontsize=7, color="0.4",
                 va="bottom")

    ax = axes[1]
    worst = []
    for name, color in [("Q", "C0"), ("R", "C3")]:
        measured = sim[name].std("run", ddof=1).values  # (alpha, j, k)
        predicted = th[f"{name}_sd"].isel(run=0).values
        se = predicted / np.sqrt(2.0 * (runs - 1))
        z = np.abs(measured - predicted) / np.where(se > 0, se, np.nan)
        worst.append(np.where(linear, np.nanmax(z, axis=(1, 2)), np.nan))
        for (j, k), marker in [((0, 0), "o"), ((0, 1), "s")]:
            lab = f"{name}$_{{{j + 1}{k + 1}}}$"
            ax.errorbar(alpha[1:], measured[1:, j, k], yerr=se[1:, j, k], fmt=marker, ms=2.5,
                        color=color, alpha=0.7, lw=0.6, label=f"{lab}: runs")
            ax.plot(alpha[1:], predicted[1:, j, k], color=color, lw=1,
                    ls="-" if marker == "o" else "--", label=f"{lab}: theory")
    ax.set_yscale("log")
    ax.set_xlabel(r"$\alpha$ = steps / N")
    ax.set_ylabel("standard deviation over runs")
    ax.set_title("spread over seeds: exact runs against linear noise")
    ax.legend(fontsize=7, ncol=2)
    fig.tight_layout()
    fig.savefig(args.out, dpi=120)

    z = np.fmax(worst[0], worst[1])
    print(f"alpha  max |SD_runs - SD_theory| / SE (Q and R; the linear regime: alpha <= {end:g})")
    for a, v in zip(alpha, z):
        if np.isfinite(v):
            print(f"{a:6.1f}  {v:5.2f}")
    if args.check is not None and np.nanmax(z) > args.check:
        print(f"a deviation beyond {args.check} standard errors", file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
