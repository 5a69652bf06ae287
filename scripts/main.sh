#!/usr/bin/env bash
# The main job: set up (if needed), build, then
#   1. the default experiment (K = M = 2, erf, N = 500, eta = 0.5, alpha up to 300, 8 seeds)
#      -> results/default.h5
#   2. its N -> infinity theory, each run started from the same initial order parameters
#      -> results/default-theory.h5
#   3. the report: figures (PNG, PDF) and the plateau table -> results/report/
# Extra arguments go to both `plateau run` and `plateau ode` (e.g. --eta 0.3,0.5 --N 1000).
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# The program and the Python module (the tests and benchmarks are the test command's,
# scripts/test.sh, and `cmake --build build/release`'s to build); the module is installed for
# the system Python into the user's site-packages (README, "Python").
"$root/scripts/bootstrap.sh" release --target plateau _plateau
cmake --install "$root/build/release" --component python \
    --prefix "$(/usr/bin/python3 -m site --user-base)" >/dev/null
out="$root/results"
mkdir -p "$out"
plateau="$root/build/release/plateau"
"$plateau" run "$@" --overwrite -o "$out/default.h5"
"$plateau" ode "$@" --overwrite --quiet -o "$out/default-theory.h5" >/dev/null
PYTHONPATH="$root/analysis" /usr/bin/python3 -m plateau_analysis report "$out/default.h5" \
    --theory "$out/default-theory.h5" -o "$out/report"
echo "results: $out/default.h5, $out/default-theory.h5, figures and tables in $out/report/"
