#!/usr/bin/env bash
# clang-tidy with the repository's .clang-tidy over the engine, the models and the program
# (every warning is an error). Needs a configured build with compile_commands.json (default:
# build/ci). usage: scripts/tidy.sh [BUILD_DIR]
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build=${1:-$root/build/ci}
cd "$root"
if ! command -v run-clang-tidy >/dev/null; then
    echo "scripts/tidy.sh: run-clang-tidy not found (Debian package clang-tidy)" >&2
    exit 2
fi
# -Wno-unknown-warning-option: the build's GCC-only warning flags mean nothing to clang.
# The static analyzer (clang-analyzer-*) in its shallow mode: it inlines less across calls and
# takes 40-60 % of the deep mode's time per file (engine/io/writer.cpp 23 -> 9 s, escape.cpp
# 23 -> 13 s), most of clang-tidy's time (docs/PERFORMANCE.md §21).
# Two passes over a unity build's database (the ci and asan presets: docs/PERFORMANCE.md §25),
# which together run every check of .clang-tidy once on every source:
#  1. the checks' AST matchers on the unity batches themselves: a batch parses and instantiates
#     the headers its eight sources share once, and the matchers walk those instantiations once
#     (the theory batch: 34 s against 136 s source by source, docs/PERFORMANCE.md §29). The
#     batch's sources count as included files there, so the header filter also names .cpp.
#     Not here: the static analyzer (path-sensitive, it skips the functions of included files),
#     and the checks that look at the main file only: misc-unused-using-decls (its matcher is
#     isExpansionInMainFile) and bugprone-suspicious-include (a batch includes .cpp files);
#  2. those, source by source: the unity database expanded into one entry per source with its
#     batch's command (scripts/unity_compile_commands.py; also a check that each source
#     includes what it uses).
# A database without unity batches gets one pass with every check, source by source.
main_file_checks=misc-unused-using-decls,bugprone-suspicious-include
common=(-quiet -j "$(nproc)" -extra-arg=-Wno-unknown-warning-option
    -extra-arg=-Xclang -extra-arg=-analyzer-config -extra-arg=-Xclang -extra-arg=mode=shallow)
: > "$build/clang-tidy.log"
if grep -q '/Unity/unity_' "$build/compile_commands.json"; then
    db=$build/tidy-db
    mkdir -p "$db"
    python3 "$root/scripts/unity_compile_commands.py" "$build/compile_commands.json" \
        > "$db/compile_commands.json"
    # The analyzer checks .clang-tidy enables, by name (a glob here would enable them all).
    analyzer=$(cd "$root" && clang-tidy --list-checks | grep -o 'clang-analyzer-[^ ]*' | paste -sd,)
    run-clang-tidy "${common[@]}" -p "$build" \
        -checks="-clang-analyzer-*,-${main_file_checks//,/,-}" \
        -header-filter='(engine|models|cli)/.*\.(hpp|cpp)$' \
        "$build/(engine|models|cli|python)/CMakeFiles/.*/Unity/unity_.*\.cxx$|$root/(engine|models|cli|python)/.*\.cpp$" \
        >> "$build/clang-tidy.log" 2>&1 || status=$?
    run-clang-tidy "${common[@]}" -p "$db" -checks="-*,$analyzer,$main_file_checks" \
        "$root/(engine|models|cli|python)/.*\.cpp$" >> "$build/clang-tidy.log" 2>&1 || status=$?
else
    run-clang-tidy "${common[@]}" -p "$build" "$root/(engine|models|cli|python)/.*\.cpp$" \
        >> "$build/clang-tidy.log" 2>&1 || status=$?
fi
if [ "${status:-0}" -ne 0 ] || grep -q "warning:\|error:" "$build/clang-tidy.log"; then
    grep -B2 -A6 "warning:\|error:" "$build/clang-tidy.log" | head -200 >&2
    echo "scripts/tidy.sh: clang-tidy found problems (full log: $build/clang-tidy.log)" >&2
    exit 1
fi
echo "clang-tidy: clean ($(grep -c '^clang-tidy' "$build/clang-tidy.log" || true) files)"
