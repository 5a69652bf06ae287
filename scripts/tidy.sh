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
# clang-tidy checks each source alone (the path-sensitive analyzer skips the functions of an
# included file), so a unity build's database (one entry per batch of sources, the ci and asan
# presets: docs/PERFORMANCE.md §25) is expanded into one entry per source it includes, with the
# batch's command: the same flags as the build, which also checks that every source compiles
# alone (includes what it uses).
db=$build
if grep -q '/Unity/unity_' "$build/compile_commands.json"; then
    db=$build/tidy-db
    mkdir -p "$db"
    python3 "$root/scripts/unity_compile_commands.py" "$build/compile_commands.json" \
        > "$db/compile_commands.json"
fi
run-clang-tidy -quiet -p "$db" -j "$(nproc)" -extra-arg=-Wno-unknown-warning-option \
    -extra-arg=-Xclang -extra-arg=-analyzer-config -extra-arg=-Xclang -extra-arg=mode=shallow \
    "$root/(engine|models|cli)/.*\.cpp$" > "$build/clang-tidy.log" 2>&1 || status=$?
if [ "${status:-0}" -ne 0 ] || grep -q "warning:\|error:" "$build/clang-tidy.log"; then
    grep -B2 -A6 "warning:\|error:" "$build/clang-tidy.log" | head -200 >&2
    echo "scripts/tidy.sh: clang-tidy found problems (full log: $build/clang-tidy.log)" >&2
    exit 1
fi
echo "clang-tidy: clean ($(grep -c '^clang-tidy' "$build/clang-tidy.log" || true) files)"
