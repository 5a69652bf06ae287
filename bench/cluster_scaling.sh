#!/usr/bin/env bash
# Strong scaling of one campaign over processes and threads, and the write rate of the rank
# that owns the file. Prints a table of wall times, measured side by side in one run.
# usage: bench/cluster_scaling.sh [BUILD_DIR]   (default build/release)
set -euo pipefail
build=${1:-build/release}
P=$build/plateau
MPIRUN=(mpirun --allow-run-as-root --oversubscribe)
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT

# The compute-bound campaign: 24 runs of N = 1000 to alpha = 100 (2.4e6 steps).
work=(--N 1000 --eta 0.5,1 --seeds 12 --alpha-max 100 --records 50 -q)
# The write-bound campaign: 6000 runs of a few steps each.
tiny=(--N 20 --seeds 6000 --alpha-max 0.5 --records 20 -q)

seconds() { # command... -> wall seconds
    local t0 t1
    t0=$(date +%s.%N)
    "$@" >/dev/null
    t1=$(date +%s.%N)
    awk -v a="$t0" -v b="$t1" 'BEGIN { print b - a }'
}

printf '%-44s %10s\n' "layout (compute-bound: 24 runs, N = 1000)" "seconds"
printf '%-44s %10.2f\n' "1 process, 1 thread" "$(seconds "$P" run "${work[@]}" --threads 1 -o "$dir/a.h5")"
printf '%-44s %10.2f\n' "1 process, 2 threads" "$(seconds "$P" run "${work[@]}" --threads 2 -o "$dir/b.h5")"
printf '%-44s %10.2f\n' "mpirun -np 2 (1 computing rank) x 2 threads" \
    "$(seconds "${MPIRUN[@]}" -np 2 "$P" run "${work[@]}" --threads 2 -o "$dir/c.h5")"
printf '%-44s %10.2f\n' "mpirun -np 3 (2 computing ranks) x 1 thread" \
    "$(seconds "${MPIRUN[@]}" -np 3 "$P" run "${work[@]}" --threads 1 -o "$dir/d.h5")"
echo
printf '%-44s %10s\n' "layout (write-bound: 6000 tiny runs)" "runs/s"
t=$(seconds "$P" run "${tiny[@]}" --threads 2 -o "$dir/e.h5")
printf '%-44s %10.0f\n' "1 process, 2 threads" "$(awk -v t="$t" 'BEGIN { print 6000 / t }')"
t=$(seconds "${MPIRUN[@]}" -np 3 "$P" run "${tiny[@]}" --threads 1 -o "$dir/f.h5")
printf '%-44s %10.0f\n' "mpirun -np 3 x 1 thread" "$(awk -v t="$t" 'BEGIN { print 6000 / t }')"
