#!/usr/bin/env bash
# Every test: set up (if needed), then three builds of the same sources, each with its tests:
#   1. ci      (portable, warnings as errors): every test, C++ and Python, slow ones included,
#              the golden-file bit-identity check, the install check, clang-tidy
#   2. release (-march=native, the build scripts/main.sh uses): the fast C++ tests, so that a
#              failure that only FMA contraction or wider vectors provoke cannot hide
#   3. asan    (AddressSanitizer + UndefinedBehaviorSanitizer): the fast C++ tests but the
#              [heavy] ones, and the hostile-input replay (tests/fuzz) against the sanitized program
# Arguments go to the ci preset's ctest (e.g. -R regex). PLATEAU_TEST_PRESETS="ci" runs only
# the first stage (a quick local loop); CI runs all three.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
jobs=$(nproc)
stages=${PLATEAU_TEST_PRESETS:-ci release asan}
stamp() { printf '== %s: %s (%ss)\n' "$(date +%H:%M:%S)" "$1" "$SECONDS"; }

for preset in $stages; do
    case "$preset" in
    ci)
        stamp "build ci"
        "$root/scripts/bootstrap.sh" ci
        stamp "test ci"
        ctest --preset ci -j "$jobs" "$@"
        stamp "clang-tidy"
        "$root/scripts/tidy.sh" "$root/build/ci"
        ;;
    release | asan)
        stamp "build $preset"
        "$root/scripts/bootstrap.sh" "$preset" --target plateau_tests plateau h5_fixture
        stamp "test $preset (fast C++ tests)"
        # asan: without the [heavy] tests (statistical and numerical, long under ASan; they run
        # in the ci and release stages).
        exclude=()
        if [ "$preset" = asan ]; then exclude=(-LE heavy); fi
        ctest --test-dir "build/$preset" -L fast "${exclude[@]}" -j "$jobs" --output-on-failure
        if [ "$preset" = asan ]; then
            stamp "test asan (hostile-input replay)"
            ctest --test-dir build/asan -R "python: test_fuzz_cli" --output-on-failure
        fi
        ;;
    *)
        echo "scripts/test.sh: PLATEAU_TEST_PRESETS: '$preset' is not one of ci, release, asan" >&2
        exit 2
        ;;
    esac
done
stamp "all tests passed"
