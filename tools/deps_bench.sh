#!/usr/bin/env bash
# Packages only `make bench-compare` needs (kept out of tools/deps.sh so `make deps`
# stays lean): Debian's PyTorch and NumPy, both BLAS builds that PyTorch is measured
# with (picked per process through LD_LIBRARY_PATH; the system's libblas.so.3
# alternative is left as it is), and the Fashion-MNIST files both sides train on.
# A no-op when all are present. Given package names, installs only those
# (`make fixtures` needs python3-torch alone).
set -euo pipefail
pkgs=(
  python3-torch python3-numpy   # the reference implementation
  libblis4-openmp               # blis-openmp/libblas.so.3 (what optlab uses too)
  libopenblas0-pthread          # openblas-pthread/libblas.so.3
  dataset-fashion-mnist         # /usr/share/datasets/fashion-mnist
)
[ $# -gt 0 ] && pkgs=("$@")
. "$(dirname "$0")/apt_install.sh"
install_missing deps_bench "${pkgs[@]}"
