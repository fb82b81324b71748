#!/usr/bin/env bash
# Runs one libFuzzer harness (make fuzz) for a set time from its committed seed corpus,
# growing a working corpus beside the binary; prints executions and coverage, and exits
# non-zero on any crash, timeout, leak or sanitizer report (the log's tail says which).
#   tools/fuzz_run.sh build/fuzz/fuzz_idx tests/fuzz/corpus/idx 60
set -euo pipefail
bin=$1 seeds=$2 secs=$3
dir=$(dirname "$bin") name=$(basename "$bin")
work="$dir/corpus-${name#fuzz_}"
log="$dir/$name.log"
mkdir -p "$work"
status=0
dict=()
[ -f "tests/fuzz/${name#fuzz_}.dict" ] && dict=(-dict="tests/fuzz/${name#fuzz_}.dict")
OMP_NUM_THREADS=1 "$bin" "${dict[@]}" -max_total_time="$secs" -print_final_stats=1 -rss_limit_mb=2048 -timeout=20 \
  -artifact_prefix="$dir/$name-" "$work" "$seeds" >"$log" 2>&1 || status=$?
execs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' || true)
cov=$(grep -o 'cov: [0-9]* ft: [0-9]*' "$log" | tail -n 1 || true)
echo "fuzz: ${name#fuzz_}: ${secs} s, ${execs:-?} executions, ${cov:-no coverage line}, corpus $(ls "$work" | wc -l) inputs"
if [ "$status" -ne 0 ]; then
  tail -n 60 "$log"
  echo "fuzz: ${name#fuzz_} FAILED (exit $status); log: $log"
  exit 1
fi
