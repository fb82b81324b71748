#!/usr/bin/env bash
# One closing line over both suites: "tests: N passed, M failed".
# Criterion ends with "Synthesis: Tested: T | Passing: P | Failing: F | Crashing: C";
# tests/lua/run.lua ends with "lua: P passed, F failed, S skipped".
c_line=$(grep -a 'Synthesis:' "$1" | tail -n 1)
cp=$(sed -n 's/.*Passing: \([0-9]*\).*/\1/p' <<<"$c_line"); cp=${cp:-0}
cf=$(sed -n 's/.*Failing: \([0-9]*\).*/\1/p' <<<"$c_line"); cf=${cf:-0}
cc=$(sed -n 's/.*Crashing: \([0-9]*\).*/\1/p' <<<"$c_line"); cc=${cc:-0}
[ -n "$c_line" ] || cf=$((cf + 1))   # no synthesis line: the C suite did not finish
l_line=$(grep -a -E '^lua: [0-9]+ passed, [0-9]+ failed' "$2" | tail -n 1)
lp=$(sed -n 's/^lua: \([0-9]*\) passed.*/\1/p' <<<"$l_line"); lp=${lp:-0}
lf=$(sed -n 's/.*passed, \([0-9]*\) failed.*/\1/p' <<<"$l_line"); lf=${lf:-0}
ls=$(sed -n 's/.*failed, \([0-9]*\) skipped.*/\1/p' <<<"$l_line"); ls=${ls:-0}
[ -n "$l_line" ] || lf=$((lf + 1))
echo "C: $cp passed, $((cf + cc)) failed; Lua: $lp passed, $lf failed, $ls skipped"
echo "tests: $((cp + lp)) passed, $((cf + cc + lf)) failed, $ls skipped"
