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
missing=()
for p in "${pkgs[@]}"; do
  [ "$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null)" = "install ok installed" ] || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
echo "deps_bench: installing ${missing[*]}"
sudo=""
[ "$(id -u)" -eq 0 ] || sudo=sudo
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
