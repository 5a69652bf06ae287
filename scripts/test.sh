#!/usr/bin/env bash
# Every test: set up (if needed), then two builds of the same sources, each with its tests:
#   1. ci      (portable, warnings as errors): every test, C++ and Python, slow ones included,
#              the golden-file bit-identity check, the install check, clang-tidy
#   2. asan    (AddressSanitizer + UndefinedBehaviorSanitizer, built by Clang with warnings as
#              errors: a second compiler, and 2/3 of GCC's build time and 0.6x its sanitized
#              test time, docs/PERFORMANCE.md; -march=native): the fast C++ tests
#              but the [heavy] ones, and the hostile-input replay (tests/fuzz) against the
#              sanitized program, in one ctest call. Host code, so that a failure that only FMA
#              contraction or wider vectors provoke cannot hide (the separate -march=native
#              release stage this replaced cost 230 s of the 20-minute budget; docs/PERFORMANCE.md
#              §19).
# Arguments go to the ci preset's ctest (e.g. -R regex). PLATEAU_TEST_PRESETS="ci" runs only
# the first stage (a quick local loop); "release" is still a stage one may ask for (the fast
# C++ tests on the build scripts/main.sh uses). CI runs ci and asan.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
jobs=$(nproc)
stages=${PLATEAU_TEST_PRESETS:-ci asan}
stamp() { printf '== %s: %s (%ss)\n' "$(date +%H:%M:%S)" "$1" "$SECONDS"; }

for preset in $stages; do
    case "$preset" in
    ci)
        stamp "build ci"
        "$root/scripts/bootstrap.sh" ci
        stamp "test ci"
        # The hostile-input replay (label "replay", 500 processes) runs once, against the
        # sanitized program, when the asan stage follows; alone, the ci stage runs it here.
        skip=()
        case " $stages " in *" asan "*) skip=(-LE '^replay$') ;; esac
        ctest --preset ci -j "$jobs" "${skip[@]}" "$@"
        stamp "clang-tidy"
        "$root/scripts/tidy.sh" "$root/build/ci"
        ;;
    release | asan)
        stamp "build $preset"
        "$root/scripts/bootstrap.sh" "$preset" --target plateau_tests plateau h5_fixture
        if [ "$preset" = asan ]; then
            # Without the [heavy] tests (statistical and numerical, long under ASan; they run in
            # the ci stage); with the hostile-input replay (label "replay"), which ctest starts
            # first beside the C++ tests (its COST, tests/CMakeLists.txt).
            stamp "test asan (fast C++ tests and the hostile-input replay)"
            ctest --test-dir build/asan -L "^fast$|^replay$" -j "$jobs" --output-on-failure
        else
            stamp "test $preset (fast C++ tests)"
            ctest --test-dir "build/$preset" -L fast -j "$jobs" --output-on-failure
        fi
        ;;
    *)
        echo "scripts/test.sh: PLATEAU_TEST_PRESETS: '$preset' is not one of ci, asan, release" >&2
        exit 2
        ;;
    esac
done
stamp "all tests passed"
