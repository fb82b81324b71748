#!/usr/bin/env bash
# The extra Debian packages of `make fuzz`, apart from `make deps` so that it stays lean.
set -euo pipefail
pkgs=(
  clang              # libFuzzer needs clang's -fsanitize=fuzzer (GCC has no equivalent)
  libclang-rt-14-dev # libFuzzer itself and clang's sanitizer runtimes (clang 14 is bookworm's)
  libomp-dev         # OpenMP for clang (the kernels' #pragma omp)
)
. "$(dirname "$0")/apt_install.sh"
install_missing deps_fuzz "${pkgs[@]}"
