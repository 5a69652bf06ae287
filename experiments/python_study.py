"""A plateau study from Python (README, "Python"): a sweep of eta, its theory, one figure."""
import sys

import matplotlib
matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import plateau  # noqa: E402

etas = [0.3, 0.5, 1.0]
sim = plateau.run(eta=etas, N=500, seeds=4, alpha_max=300)["K2_M2"]
ode = plateau.ode(eta=etas, alpha_max=300)["K2_M2"]
for eta, fp in zip(etas, plateau.fixed_point(eta=etas)):
    runs = sim.where(sim.eta == eta, drop=True)
    line, = plt.loglog(runs.alpha, runs.eg.mean("run"), label=f"eta = {eta}")
    theory = ode.where(ode.eta == eta, drop=True)
    plt.loglog(theory.alpha, theory.eg.mean("run"), "--", color=line.get_color())
    plt.axhline(fp["plateau"]["eps_g"], color=line.get_color(), lw=0.5)
    print(f"eta {eta}: plateau {fp['plateau']['eps_g']:.5f}, "
          f"predicted escape {fp['escape']['mean']:.0f}")
plt.xlabel("alpha = steps / N"), plt.ylabel("eps_g"), plt.legend()
plt.savefig(sys.argv[1] if len(sys.argv) > 1 else "study.png")
