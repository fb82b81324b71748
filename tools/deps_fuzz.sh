#!/usr/bin/env bash
# The extra Debian packages of `make fuzz`, apart from `make deps` so that it stays lean.
set -euo pipefail
pkgs=(
  clang              # libFuzzer needs clang's -fsanitize=fuzzer (GCC has no equivalent)
  libclang-rt-14-dev # libFuzzer itself and clang's sanitizer runtimes (clang 14 is bookworm's)
  libomp-dev         # OpenMP for clang (the kernels' #pragma omp)
)
missing=()
for p in "${pkgs[@]}"; do
  [ "$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null)" = "install ok installed" ] || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
echo "deps_fuzz: installing ${missing[*]}"
sudo=""
[ "$(id -u)" -eq 0 ] || sudo=sudo
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
