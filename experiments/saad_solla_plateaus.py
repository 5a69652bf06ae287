"""The symmetric plateau's height against K (Saad & Solla 1995; gallery, issue 31).

    /usr/bin/python3 experiments/saad_solla_plateaus.py [--plateau build/release/plateau]
        [--K 2 3 4 5 6] [--eta 0.01 0.005] [--check 2e-4]

Saad & Solla, "On-line learning in soft committee machines", Phys. Rev. E 52, 4225 (1995): for
erf units, K = M, an orthonormal teacher and v = v* = 1 fixed, the symmetric fixed point of the
ODEs (docs/theory.md §11.1) has, as eta -> 0, the height

    eps_g = (K/pi) (pi/6 - K arcsin(1/(2K))).

`plateau ode --fixed-point` finds the fixed point at each eta; the height is linear in eta to
leading order, so Richardson's extrapolation 2 eps(eta/2) - eps(eta) removes that term. The table
prints both heights, the extrapolation, the closed form and their relative difference; with
--check TOL the script exits 1 when a relative difference exceeds TOL (the gallery test,
tests/python/test_gallery.py, runs it at K = 2, 3).
"""
import argparse
import math
import re
import subprocess
import sys
from pathlib import Path


def closed_form(K):
    """The eta -> 0 plateau height of Saad & Solla 1995."""
    return (K / math.pi) * (math.pi / 6.0 - K * math.asin(1.0 / (2.0 * K)))


def plateau_height(program, K, eta):
    """eps_g at the symmetric fixed point, as `plateau ode --fixed-point` prints it."""
    out = subprocess.run([str(program), "ode", "--K", str(K), "--M", str(K), "--eta", str(eta),
                          "--fixed-point"], capture_output=True, text=True, check=True).stdout
    match = re.search(r"^  eps_g = ([0-9.eE+-]+)", out, re.M)
    if match is None:
        raise SystemExit(f"no symmetric fixed point in the output for K = {K}, eta = {eta}")
    return float(match.group(1))


def main():
    root = Path(__file__).resolve().parents[1]
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--plateau", default=str(root / "build" / "release" / "plateau"))
    ap.add_argument("--K", type=int, nargs="+", default=[2, 3, 4, 5, 6])
    ap.add_argument("--eta", type=float, nargs=2, default=[0.01, 0.005],
                    help="eta and eta/2 of the extrapolation")
    ap.add_argument("--check", type=float, default=None,
                    help="exit 1 when a relative difference exceeds this")
    args = ap.parse_args()
    eta, half = args.eta
    print(f"{'K':>2} {'eps(' + format(eta, 'g') + ')':>13} {'eps(' + format(half, 'g') + ')':>13} "
          f"{'extrapolated':>13} {'Saad & Solla':>13} {'rel. diff':>10}")
    worst = 0.0
    for K in args.K:
        a, b = plateau_height(args.plateau, K, eta), plateau_height(args.plateau, K, half)
        # eps(eta) = eps_0 + c eta + O(eta^2): eps_0 = b - (a - b) half/(eta - half) (2b - a
        # for half = eta/2), left with O(eta half).
        extrapolated = b - (a - b) * half / (eta - half)
        exact = closed_form(K)
        rel = abs(extrapolated / exact - 1.0)
        worst = max(worst, rel)
        print(f"{K:2d} {a:13.8f} {b:13.8f} {extrapolated:13.8f} {exact:13.8f} {rel:10.2e}")
    if args.check is not None and worst > args.check:
        print(f"largest relative difference {worst:.2e} > {args.check:g}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
