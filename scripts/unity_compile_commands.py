#!/usr/bin/env python3
"""A compile database with one entry per source from a unity build's database.

usage: scripts/unity_compile_commands.py BUILD/compile_commands.json > OUT/compile_commands.json

CMake's unity build (CMAKE_UNITY_BUILD) compiles generated files .../Unity/unity_N_cxx.cxx that
#include a batch of sources; its database names those files, not the sources. Each source of a
batch gets the batch's command with the batch file replaced by the source (and no output file):
what clang-tidy, which checks each source alone, needs (scripts/tidy.sh). Entries that are not
unity batches are kept as they are.
"""
import json
import re
import shlex
import sys


def main(path: str) -> None:
    with open(path, encoding="utf-8") as f:
        entries = json.load(f)
    out = []
    for e in entries:
        batch = e["file"]
        if "/Unity/unity_" not in batch:
            out.append(e)
            continue
        with open(batch, encoding="utf-8") as f:
            sources = re.findall(r'^#include "([^"]+)"', f.read(), re.MULTILINE)
        args = shlex.split(e["command"]) if "command" in e else list(e["arguments"])
        for source in sources:
            a = [source if x == batch else x for x in args]
            if "-o" in a:  # no object file: clang-tidy only parses
                i = a.index("-o")
                del a[i:i + 2]
            out.append({"directory": e["directory"], "file": source, "arguments": a})
    json.dump(out, sys.stdout, indent=1)


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: unity_compile_commands.py BUILD/compile_commands.json")
    main(sys.argv[1])
