#!/usr/bin/env bash
# Installs what is missing (Debian packages only), then configures and builds one preset.
# usage: scripts/bootstrap.sh PRESET [cmake --build arguments, e.g. --target plateau]
#        PRESET: release, ci, debug, asan, tsan, portable
set -euo pipefail
preset=${1:-release}
shift || true
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

packages=(
    g++ cmake make git pkg-config
    libtbb-dev libeigen3-dev libhdf5-dev hdf5-tools libboost-program-options-dev catch2
    libbenchmark-dev netcdf-bin clang-tidy clang-format clang libclang-rt-dev libopenmpi-dev
    openmpi-bin
    python3 python3-numpy python3-scipy python3-h5py python3-xarray python3-h5netcdf
    python3-matplotlib python3-pytest
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

cd "$root"
cmake --preset "$preset" >/dev/null
cmake --build --preset "$preset" -j "$(nproc)" "$@"
