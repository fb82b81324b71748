#!/usr/bin/env bash
# optlab vs PyTorch on this machine, side by side (`make bench-compare`).
#
# Runs bench/optlab_cnn.lua and bench/torch_cnn.py alternately (the order rotates each
# repetition, so machine noise hits both alike), REPS times at each thread count, and
# prints medians. PyTorch is measured in several configurations and optlab is compared
# with the FASTEST one at each thread count:
#   blis      libblas.so.3 = BLIS (OpenMP), via LD_LIBRARY_PATH (the machine is untouched)
#   openblas  libblas.so.3 = OpenBLAS (pthreads)
#   +malloc   glibc malloc told to keep large blocks (MALLOC_MMAP_THRESHOLD_ = 32 MiB, the
#             largest glibc accepts, MALLOC_TRIM_THRESHOLD_ = 1 GiB): no mmap/munmap and
#             page faults for every activation tensor of every step.
#   +passive  OMP_WAIT_POLICY=passive: idle OpenMP threads sleep instead of spinning. On a
#             machine shared with other work the wait policy decides the 2-thread figures of
#             both programs. optlab itself sets a short spin (GOMP_SPINCOUNT=1000, vm/main.c)
#             unless the user chose; "optlab+passive" and "optlab+active" (libgomp's long
#             default spin) are optlab under the other policies, for reference.
# Then optimizer steps alone (10M parameters) and start-up time, and issue 19's columns:
#   archs     on a CPU with AVX-512: optlab's kernels built for AVX2 with BLIS's AVX2 kernels
#             (optlab+avx2), and BLIS's AVX-512 kernels (optlab+blis_skx), beside the default
#   ceiling   a step that would be only its GEMMs at BLIS's rates on their shapes (no step beats it)
#   busy      optlab at 1 and 2 threads while another process keeps one core busy
#   sustained one 10-epoch run (9,370 steps) at 1 thread, against the 100-step bursts above
#   protocol  experiments/fashion_mnist_optimizers.lua (5 optimizers x 10 epochs x 60,000 images)
#             on every core, against (images trained / (cores x 1-thread samples/s)) + evaluation
#             time (its 5 x 10 x 10,000 test images / (cores x 1-thread evaluation samples/s))
#
# Environment: REPS (3), STEPS (100 timed steps per run), WARMUP (15), THREADS ("1 2"),
# OPT_N (10000000), ARCHS (1), BUSY (1), SUSTAINED (1), PROTOCOL (1): 0 skips that section,
# TORCH_CONFIGS ("blis blis+malloc openblas+malloc blis+malloc+passive openblas+malloc+passive"),
# OPTLAB_CONFIGS ("optlab optlab+passive optlab+active"), OPTLAB (build/optlab), PY (/usr/bin/python3: Debian's python with torch).
# Raw RESULT lines go to build/bench/compare.log.
set -euo pipefail
cd "$(dirname "$0")/.."

REPS=${REPS:-3}
STEPS=${STEPS:-100}
WARMUP=${WARMUP:-15}
THREADS=${THREADS:-"1 2"}
OPT_N=${OPT_N:-10000000}
TORCH_CONFIGS=${TORCH_CONFIGS:-"blis blis+malloc openblas+malloc blis+malloc+passive openblas+malloc+passive"}
OPTLAB=${OPTLAB:-build/optlab}
OPTLAB_CONFIGS=${OPTLAB_CONFIGS:-"optlab optlab+passive optlab+active"}
PY=${PY:-/usr/bin/python3}
LIBDIR=/usr/lib/x86_64-linux-gnu
LOG=build/bench/compare.log
mkdir -p build/bench
: > "$LOG"

for d in blis-openmp openblas-pthread; do
  [ -e "$LIBDIR/$d/libblas.so.3" ] || { echo "compare.sh: $LIBDIR/$d/libblas.so.3 missing (run tools/deps_bench.sh)" >&2; exit 1; }
done
"$PY" -c 'import torch' 2>/dev/null || { echo "compare.sh: $PY cannot import torch (run tools/deps_bench.sh)" >&2; exit 1; }

# torch_env CONFIG THREADS: the environment of one PyTorch configuration. The thread count is
# also given to the BLAS itself: torch.set_num_threads sets OpenMP's, but BLIS reads only
# BLIS_NUM_THREADS / OMP_NUM_THREADS (else runs GEMMs on 1 thread: measured 4,000 vs 5,000
# samples/s at 2 threads) and OpenBLAS's pthreads pool only OPENBLAS_NUM_THREADS (else it used
# both cores in a "1 thread" run).
# PyTorch on BLIS gets the kernel set optlab runs with (BLIS_ARCH_TYPE): where BLIS cannot read
# the CPU's model it falls back to AVX2 kernels, and optlab asks for its AVX-512 ones instead.
BLIS_KERNELS=$("$OPTLAB" -e 'print(sys.blis_arch())')
case "$BLIS_KERNELS" in skx) BLIS_ARCH=0 ;; haswell) BLIS_ARCH=3 ;; *) BLIS_ARCH= ;; esac
torch_env() {
  local e=(OMP_NUM_THREADS="$2" BLIS_NUM_THREADS="$2" OPENBLAS_NUM_THREADS="$2")
  case "$1" in
    blis*) e+=("LD_LIBRARY_PATH=$LIBDIR/blis-openmp")
           if [ -n "$BLIS_ARCH" ]; then e+=("BLIS_ARCH_TYPE=$BLIS_ARCH"); fi ;;
    openblas*) e+=("LD_LIBRARY_PATH=$LIBDIR/openblas-pthread") ;;
    *) echo "compare.sh: unknown torch config '$1'" >&2; exit 1 ;;
  esac
  case "$1" in
    *+malloc*) e+=(MALLOC_MMAP_THRESHOLD_=33554432 MALLOC_TRIM_THRESHOLD_=1073741824) ;;
  esac
  case "$1" in
    *+passive) e+=(OMP_WAIT_POLICY=passive) ;;
  esac
  echo "${e[@]}"
}

# run TAG CMD...: run one benchmark process, tag its RESULT lines with the configuration.
run() {
  local tag=$1; shift
  local out
  if ! out=$("$@" 2>&1); then
    echo "compare.sh: failed: $*" >&2; echo "$out" >&2; exit 1
  fi
  grep '^RESULT' <<<"$out" | sed "s#^RESULT #RESULT config=$tag #" | tee -a "$LOG" | sed 's/^RESULT /  /'
}

echo "load average at start: $(cut -d' ' -f1-3 /proc/loadavg)" | tee -a "$LOG"
echo "== training: Keras example CNN, batch 64, Adam, Fashion-MNIST; $STEPS timed steps after $WARMUP, $REPS reps"
configs=($OPTLAB_CONFIGS $TORCH_CONFIGS)
for rep in $(seq 1 "$REPS"); do
  for t in $THREADS; do
    n=${#configs[@]}
    for i in $(seq 0 $((n - 1))); do
      c=${configs[$(( (i + rep - 1) % n ))]}
      if [ "$c" = optlab ]; then
        run optlab "$OPTLAB" --threads "$t" bench/optlab_cnn.lua train "$STEPS" "$WARMUP"
      elif [ "$c" = optlab+active ] || [ "$c" = optlab+passive ]; then
        run "$c" env OMP_WAIT_POLICY="${c#optlab+}" "$OPTLAB" --threads "$t" bench/optlab_cnn.lua train "$STEPS" "$WARMUP"
      else
        # shellcheck disable=SC2046
        run "torch/$c" env $(torch_env "$c" "$t") "$PY" bench/torch_cnn.py train "$t" "$STEPS" "$WARMUP"
      fi
    done
  done
done

echo "== optimizer steps alone, $OPT_N parameters"
for rep in $(seq 1 "$REPS"); do
  for t in $THREADS; do
    # rotate: optlab (its short spin), torch (libgomp's default wait policy), torch+passive
    for i in 0 1 2; do
      case $(( (i + rep) % 3 )) in
        0) run optlab "$OPTLAB" --threads "$t" bench/optlab_cnn.lua optim "$OPT_N" 10 ;;
        1) run torch env OMP_NUM_THREADS="$t" "$PY" bench/torch_cnn.py optim "$t" "$OPT_N" 10 ;;
        2) run torch+passive env OMP_NUM_THREADS="$t" OMP_WAIT_POLICY=passive "$PY" bench/torch_cnn.py optim "$t" "$OPT_N" 10 ;;
      esac
    done
  done
done

# AVX2 and AVX-512 on a CPU that has both: optlab's kernels built for AVX2 (build/avx2, made
# by `make bench-compare`) with BLIS's AVX2 "haswell" kernels, and the default build with
# BLIS's AVX-512 "skx" kernels, beside the default (native kernels, BLIS's own choice).
if [ "${ARCHS:-1}" = 1 ] && grep -qw avx512f /proc/cpuinfo; then
  echo "== AVX2 and AVX-512 paths"
  for rep in $(seq 1 "$REPS"); do
    for t in $THREADS; do
      if [ -x build/avx2/optlab ]; then
        run optlab+avx2 env BLIS_ARCH_TYPE=3 OPTLAB_STDLIB="$PWD/stdlib" build/avx2/optlab --threads "$t" bench/optlab_cnn.lua train "$STEPS" "$WARMUP"
      fi
      run optlab+blis_skx env BLIS_ARCH_TYPE=0 "$OPTLAB" --threads "$t" bench/optlab_cnn.lua train "$STEPS" "$WARMUP"
    done
  done
fi

echo "== ceiling: the step's GEMMs alone at BLIS's rates"
for rep in $(seq 1 "$REPS"); do
  for t in $THREADS; do run optlab "$OPTLAB" --threads "$t" bench/optlab_cnn.lua ceiling; done
done

if [ "${BUSY:-1}" = 1 ]; then
  echo "== busy core: optlab while another process spins on one core"
  sh -c 'while :; do :; done' &
  hog=$!
  trap 'kill $hog 2>/dev/null' EXIT
  for rep in $(seq 1 "$REPS"); do
    for t in $THREADS; do run optlab+busy "$OPTLAB" --threads "$t" bench/optlab_cnn.lua train "$STEPS" "$WARMUP"; done
  done
  kill $hog; trap - EXIT
fi

if [ "${SUSTAINED:-1}" = 1 ]; then
  echo "== sustained: 10 epochs (9,370 steps) at 1 thread"
  run optlab+sustained "$OPTLAB" --threads 1 bench/optlab_cnn.lua train 9370 "$WARMUP"
fi

if [ "${PROTOCOL:-1}" = 1 ]; then
  echo "== protocol: experiments/fashion_mnist_optimizers.lua on $(nproc) cores"
  run optlab "$OPTLAB" --threads 1 bench/optlab_cnn.lua eval
  rm -rf build/bench/protocol
  a=$(date +%s%N)
  "$OPTLAB" experiments/fashion_mnist_optimizers.lua --out build/bench/protocol > build/bench/protocol.log 2>&1 ||
    { echo "compare.sh: the protocol run failed (build/bench/protocol.log)" >&2; exit 1; }
  b=$(date +%s%N)
  echo "RESULT config=optlab impl=optlab mode=protocol cores=$(nproc) images=3000000 eval_images=500000 s=$(awk -v d=$((b - a)) 'BEGIN { printf "%.1f", d / 1e9 }')" | tee -a "$LOG" | sed 's/^RESULT /  /'
fi

echo "== start-up: optlab -e '' vs python3 -c 'import torch' (20 runs each, alternating)"
ns() { date +%s%N; }
for i in $(seq 1 20); do
  a=$(ns); "$OPTLAB" -e '' >/dev/null; b=$(ns)
  "$PY" -c 'import torch' >/dev/null; c=$(ns)
  echo "RESULT config=optlab impl=optlab mode=startup us=$(( (b - a) / 1000 ))" >> "$LOG"
  echo "RESULT config=torch impl=torch mode=startup us=$(( (c - b) / 1000 ))" >> "$LOG"
done
echo "load average at end: $(cut -d' ' -f1-3 /proc/loadavg)" | tee -a "$LOG"
echo
"$PY" bench/compare_table.py "$LOG"
