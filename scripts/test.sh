#!/usr/bin/env bash
# Every test: set up (if needed), build with warnings as errors, run ctest (C++ and Python).
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
"$root/scripts/bootstrap.sh" ci
cd "$root"
ctest --preset ci -j "$(nproc)" "$@"
