#!/usr/bin/env bash
# The main job: set up (if needed), build, and run the default experiment
# (K = M = 2, erf, N = 500, eta = 0.5, alpha up to 300, 4 seeds) into results/default.h5.
# Extra arguments are passed to `plateau run` (e.g. --seeds 16).
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
"$root/scripts/bootstrap.sh" release
mkdir -p "$root/results"
"$root/build/release/plateau" run --overwrite -o "$root/results/default.h5" "$@"
