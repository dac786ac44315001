#!/usr/bin/env bash
# Installs the Debian packages orbit needs, only those missing.
#   scripts/deps.sh build   compilers and libraries to build and test
#   scripts/deps.sh bench   also the peer tools the benchmarks compare against
#   scripts/deps.sh fuzz    also clang and libFuzzer, for `make fuzz`
#   scripts/deps.sh fuzz --check   exit 0 when the fuzz set is installed, 1 if not (installs nothing)
set -euo pipefail
set_name=${1:-build}
build_pkgs=(build-essential cmake pkg-config libeigen3-dev libhdf5-dev libcli11-dev nlohmann-json3-dev
            catch2 libnanoflann-dev libcairo2-dev fonts-dejavu-core zlib1g-dev libassimp-dev libopenmpi-dev openmpi-bin python3 python3-numpy python3-h5py hdf5-tools)
bench_pkgs=(python3-pot python3-open3d python3-torch python3-sklearn python3-scipy python3-matplotlib hyperfine)
fuzz_pkgs=(clang libclang-rt-dev libomp-dev)
pkgs=("${build_pkgs[@]}")
[[ $set_name == bench ]] && pkgs+=("${bench_pkgs[@]}")
[[ $set_name == fuzz ]] && pkgs+=("${fuzz_pkgs[@]}")
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
((${#missing[@]} == 0)) && exit 0
[[ ${2:-} == --check ]] && exit 1
echo "orbit: installing missing Debian packages: ${missing[*]}"
sudo=""
if [[ $(id -u) -ne 0 ]]; then
  command -v sudo >/dev/null || { echo "orbit: need root or sudo to install: ${missing[*]}" >&2; exit 1; }
  sudo=sudo
fi
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
