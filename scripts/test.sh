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
#
# Two lanes keep both cores busy (docs/PERFORMANCE.md §35): the first stage's build and tests run
# in the foreground; the other stages' builds, then clang-tidy (once the ci build is there), run
# in a background lane at nice 19, which takes only the cycles the foreground leaves idle (a
# link, the critical path of a build, a test that waits for a signal or a lock) and the cores
# once the foreground waits for it. The background lane's output goes to build/test-logs/; its
# stage lines and, on a failure, its log's tail are printed here.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
jobs=$(nproc)
read -r -a stages <<<"${PLATEAU_TEST_PRESETS:-ci asan}"
logs=$root/build/test-logs
# Seconds since the test command started, in both lanes.
export PLATEAU_TEST_START=${PLATEAU_TEST_START:-$(date +%s)}
stamp() { printf '== %s: %s (%ss)\n' "$(date +%H:%M:%S)" "$1" "$(($(date +%s) - PLATEAU_TEST_START))"; }

has_stage() {
    local s
    for s in "${stages[@]}"; do [ "$s" = "$1" ] && return 0; done
    return 1
}

build_stage() {
    case "$1" in
    ci) "$root/scripts/bootstrap.sh" ci ;;
    release | asan) "$root/scripts/bootstrap.sh" "$1" --target plateau_tests plateau h5_fixture ;;
    esac
}

# The background lane (this script run again as `--background`, in a session of its own so that
# a failure of the foreground can stop all of it): the builds of stages 2.., in order, each
# leaving build/test-logs/build-PRESET.status; then clang-tidy on the ci build, after it is
# built (by this lane or the foreground), leaving tidy.status.
if [ "${1:-}" = --background ]; then
    renice -n 19 -p $$ >/dev/null
    # With the scheduler's autogroups (Linux, sched_autogroup_enabled = 1) a process's nice value
    # counts only against its own session's processes, and setsid made this lane a session of
    # its own: its autogroup is niced too, or it would take half the cores from the foreground.
    if [ -w "/proc/$$/autogroup" ]; then echo 19 >"/proc/$$/autogroup" 2>/dev/null || true; fi
    for preset in "${stages[@]:1}"; do
        stamp "build $preset (background)"
        status=0
        build_stage "$preset" >"$logs/build-$preset.log" 2>&1 || status=$?
        echo "$status" >"$logs/build-$preset.status"
        stamp "build $preset done (background, exit $status)"
        [ "$status" -eq 0 ] || exit "$status"
    done
    if has_stage ci; then
        while [ ! -f "$logs/build-ci.status" ]; do sleep 1; done
        [ "$(cat "$logs/build-ci.status")" -eq 0 ] || exit 1
        stamp "clang-tidy (background)"
        status=0
        "$root/scripts/tidy.sh" "$root/build/ci" >"$logs/tidy.log" 2>&1 || status=$?
        echo "$status" >"$logs/tidy.status"
        stamp "clang-tidy done (background, exit $status)"
    fi
    exit 0
fi

for preset in "${stages[@]}"; do
    case "$preset" in
    ci | asan | release) ;;
    *)
        echo "scripts/test.sh: PLATEAU_TEST_PRESETS: '$preset' is not one of ci, asan, release" >&2
        exit 2
        ;;
    esac
done

# Packages first and once: the two lanes' builds must not both run apt-get.
"$root/scripts/bootstrap.sh" packages
rm -rf "$logs"
mkdir -p "$logs"
background=""
if ((${#stages[@]} > 1)) || has_stage ci; then
    setsid bash "$root/scripts/test.sh" --background >"$logs/background.log" 2>&1 &
    background=$!
fi
stop_background() {
    if [ -n "$background" ] && kill -0 "$background" 2>/dev/null; then
        kill -- "-$background" 2>/dev/null || true
        kill -CONT -- "-$background" 2>/dev/null || true # a paused lane takes its signal now
    fi
}
# The tests labelled "slow-timing" compare CPU times measured at different moments: the
# background lane is paused (SIGSTOP to its process group) while they run alone.
pause_background() { [ -z "$background" ] || kill -STOP -- "-$background" 2>/dev/null || true; }
resume_background() { [ -z "$background" ] || kill -CONT -- "-$background" 2>/dev/null || true; }
trap stop_background EXIT

# Waits for the background lane's FILE (a stage's exit status) and fails as that stage failed,
# printing its log's tail.
wait_for() {
    local file=$logs/$1 log=$logs/$2
    while [ ! -f "$file" ]; do
        if ! kill -0 "$background" 2>/dev/null && [ ! -f "$file" ]; then
            echo "scripts/test.sh: the background lane stopped before $1 (build/test-logs/):" >&2
            tail -n 40 "$logs/background.log" >&2
            exit 1
        fi
        sleep 1
    done
    if [ "$(cat "$file")" -ne 0 ]; then
        grep '^==' "$logs/background.log" || true
        echo "scripts/test.sh: ${1%.status} failed; the end of build/test-logs/$2:" >&2
        tail -n 60 "$log" >&2
        exit 1
    fi
}

first=${stages[0]}
for preset in "${stages[@]}"; do
    if [ "$preset" = "$first" ]; then
        stamp "build $preset"
        status=0
        build_stage "$preset" || status=$?
        echo "$status" >"$logs/build-$preset.status"
        [ "$status" -eq 0 ] || exit "$status"
    else
        stamp "wait for the background build of $preset"
        wait_for "build-$preset.status" "build-$preset.log"
    fi
    case "$preset" in
    ci)
        stamp "test ci"
        # The hostile-input replay (label "replay", 500 processes) runs once, against the
        # sanitized program, when the asan stage follows; alone, the ci stage runs it here.
        skip='timing'
        has_stage asan && skip='timing|^replay$'
        ctest --preset ci -j "$jobs" -LE "$skip" "$@"
        stamp "test ci: the timing tests, alone (the background lane paused)"
        pause_background
        status=0
        ctest --preset ci -L timing "$@" || status=$?
        resume_background
        [ "$status" -eq 0 ] || exit "$status"
        ;;
    asan)
        # Without the [heavy] tests (statistical and numerical, long under ASan; they run in
        # the ci stage); with the hostile-input replay (label "replay"), which ctest starts
        # first beside the C++ tests (its COST, tests/CMakeLists.txt).
        stamp "test asan (fast C++ tests and the hostile-input replay)"
        ctest --test-dir build/asan -L "^fast$|^replay$" -j "$jobs" --output-on-failure
        ;;
    release)
        stamp "test release (fast C++ tests)"
        ctest --test-dir build/release -L fast -j "$jobs" --output-on-failure
        ;;
    esac
done
if has_stage ci; then
    stamp "wait for clang-tidy"
    wait_for tidy.status tidy.log
    tail -n 1 "$logs/tidy.log"
fi
wait "$background" 2>/dev/null || true
grep '^==' "$logs/background.log" || true
stamp "all tests passed"
