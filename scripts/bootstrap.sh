#!/usr/bin/env bash
# Installs what is missing (Debian packages only), then configures and builds one preset.
# usage: scripts/bootstrap.sh PRESET [cmake --build arguments, e.g. --target plateau]
#        PRESET: release, ci, debug, asan, tsan, portable; or `packages`: install what is
#        missing and stop (scripts/test.sh, before builds that run side by side: two apt-get
#        calls at once would fight over dpkg's lock)
set -euo pipefail
preset=${1:-release}
shift || true
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

packages=(
    g++ cmake ninja-build make git pkg-config
    libtbb-dev libeigen3-dev libhdf5-dev hdf5-tools libboost-program-options-dev catch2
    libbenchmark-dev netcdf-bin clang-tidy clang-format clang libclang-rt-dev libopenmpi-dev
    openmpi-bin
    python3 python3-numpy python3-scipy python3-h5py python3-xarray python3-h5netcdf
    python3-matplotlib python3-pytest python3-dev pybind11-dev python3-tqdm
)
missing=()
for p in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
    echo "bootstrap: installing ${missing[*]}" >&2
    sudo=""
    if [ "$(id -u)" -ne 0 ]; then sudo=sudo; fi
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
fi
if [ "$preset" = packages ]; then
    exit 0
fi

cd "$root"
# The presets use Ninja (it starts a target's sources before the libraries they link are linked:
# the ci build 317 -> 255 s on 2 cores, docs/PERFORMANCE.md §29). A build folder configured
# earlier with another generator is configured afresh (CMake refuses to switch in place).
cache="build/$preset/CMakeCache.txt"
if [ -f "$cache" ] && ! grep -q '^CMAKE_GENERATOR:INTERNAL=Ninja$' "$cache"; then
    echo "bootstrap: build/$preset was configured with another generator: configuring it afresh" >&2
    rm -rf "build/$preset/CMakeCache.txt" "build/$preset/CMakeFiles"
fi
cmake --preset "$preset" >/dev/null
cmake --build --preset "$preset" -j "$(nproc)" "$@"
