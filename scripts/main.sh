#!/usr/bin/env bash
# The main job: set up (if needed), build, and run the default experiment
# (K = M = 2, erf, N = 500, eta = 0.5, alpha up to 300, 4 seeds).
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
"$root/scripts/bootstrap.sh" release
cd "$root"
"$root/build/release/plateau" run "$@"
