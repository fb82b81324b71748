#!/usr/bin/env bash
# The REPL driven through a real terminal: tmux runs optlab in a pane, keys
# go in with send-keys, the screen comes back with capture-pane.
# usage: tests/repl/test_repl.sh [check...]   (default: all checks)
# Each check uses its own tmux server and a temporary HOME; every wait is
# bounded, so a broken REPL fails the check instead of hanging it.
set -u
OPTLAB=$(realpath "${OPTLAB:-./optlab}")
CHECKS_ALL="complete multiline print interrupt history timing"
WAIT=${REPL_TEST_WAIT:-8}   # seconds before a wait gives up

work=""
T() { tmux -L optlab-repl-test "$@"; }
cleanup() {
  [ -n "$work" ] || return 0
  T kill-server 2>/dev/null
  rm -rf "$work"
  work=""
}
trap cleanup EXIT

fail() {
  echo "FAIL $check: $*"
  echo "---- screen ----"
  T capture-pane -p -S -100 -t repl 2>/dev/null | sed -e :a -e '/^\n*$/{$d;N;ba' -e '}'
  echo "----------------"
  exit 1
}

screen() { T capture-pane -p -S -200 -t repl; }

# wait_for TEXT: until TEXT is on the screen
wait_for() {
  local deadline=$((SECONDS + WAIT))
  while ! screen | grep -qF -- "$1"; do
    [ $SECONDS -lt $deadline ] || fail "waited ${WAIT}s for '$1'"
    sleep 0.05
  done
}

# wait_count TEXT N: until TEXT is on N lines of the screen
wait_count() {
  local deadline=$((SECONDS + WAIT))
  while [ "$(screen | grep -cF -- "$1")" -lt "$2" ]; do
    [ $SECONDS -lt $deadline ] || fail "waited ${WAIT}s for $2 lines with '$1'"
    sleep 0.05
  done
}

# wait_line REGEX: until a whole line of the screen matches REGEX (grep -E)
wait_line() {
  local deadline=$((SECONDS + WAIT))
  while ! screen | grep -qxE -- "$1"; do
    [ $SECONDS -lt $deadline ] || fail "waited ${WAIT}s for a line matching '$1'"
    sleep 0.05
  done
}

# wait_prompts N / wait_cont N: until N prompts "> " / ">> " are on the
# screen (capture-pane drops a prompt's trailing space)
wait_prompts() { wait_count_re '^>( |$)' "$1"; }
wait_cont() { wait_count_re '^>>( |$)' "$1"; }
wait_count_re() {
  local deadline=$((SECONDS + WAIT))
  while [ "$(screen | grep -cE -- "$1")" -lt "$2" ]; do
    [ $SECONDS -lt $deadline ] || fail "waited ${WAIT}s for $2 lines matching '$1'"
    sleep 0.05
  done
}

type_text() { T send-keys -t repl -l "$1"; }
key() { T send-keys -t repl "$@"; }
# line TEXT EXPECT: types a line, presses Enter, waits for EXPECT
line() { type_text "$1"; key Enter; wait_for "$2"; }

start() {
  work=$(mktemp -d)
  mkdir -p "$work/home" "$work/tmux"
  export TMUX_TMPDIR="$work/tmux"   # a private server, never the user's
  export HOME_DIR="$work/home"
  [ -n "${1:-}" ] && cp "$1" "$work/home/.optlab_history"
  T -f /dev/null new-session -d -s repl -x 110 -y 60 \
    "env HOME='$work/home' TERM=xterm-256color '$OPTLAB'; echo EXITED \$?; sleep 60"
  wait_for "help() lists the modules"
  wait_prompts 1
}

check_complete() {
  start
  line 't = tensor.ones(2, 3); t.my_field = 5; print("ready")' "ready"
  # a method of a tensor (methods come from require("optlab.core").methods)
  type_text 't:resh'; key Tab
  wait_for "> t:reshape"
  key C-u
  # a per-tensor field kept in the tensor's own table
  type_text 't.my_f'; key Tab
  wait_for "> t.my_field"
  key Enter
  wait_line "5"
  # several candidates: the second Tab lists them
  line 'opt = {Adam = 1, Adagrad = 2, Adadelta = 3, SGD = 4}; print("opt set")' "opt set"
  type_text 'opt.Ad'; key Tab; sleep 0.2; key Tab
  wait_for "opt.Adadelta"
  screen | grep -F "opt.Adadelta" | grep -F "opt.Adagrad" | grep -qF "opt.Adam" \
    || fail "the listing of opt.Ad should name Adadelta, Adagrad and Adam"
  screen | grep -qF "opt.SGD" && fail "opt.SGD does not start with Ad"
  key C-u
  # globals and fields of modules
  type_text 'tensor.lins'; key Tab
  wait_for "> tensor.linspace"
  key C-u
  type_text 'math.sq'; key Tab
  wait_for "> math.sqrt"
  return 0
}

check_multiline() {
  start
  type_text 'function sq(x)'; key Enter
  wait_cont 1
  type_text 'local y = x * x'; key Enter
  wait_cont 2
  type_text 'return y'; key Enter
  wait_cont 3
  type_text 'end'; key Enter
  line 'sq(12)' "144"
  screen | grep -qF ">> local y = x * x" || fail "no continuation prompt '>> '"
  # a table constructor over lines, then an error inside a multi-line chunk
  type_text 'cfg = {'; key Enter
  type_text '  lr = 0.5,'; key Enter
  type_text '}'; key Enter
  line 'cfg.lr * 2' "1.0"
  return 0
}

check_print() {
  start
  line 'tensor.from{{1, 2}, {3, 4}}' "shape=[2, 2], dtype=float32)"
  screen | grep -qF "tensor([[1., 2.]," || fail "tensor values not printed"
  # a large tensor is summarized, not dumped
  line 'tensor.zeros(200, 300)' "shape=[200, 300]"
  screen | grep -qF "..." || fail "a 200x300 tensor should print summarized"
  # a cyclic table prints once, with the cycle marked
  line 'c = {1, 2, name = "c"}; c.self = c; print("made c")' "made c"
  line 'c' "<cycle: table: "
  screen | grep -F "<cycle: table: " | grep -qF '{1, 2, name = "c", self = <cycle: table: ' \
    || fail "cyclic table printed wrongly"
  # nil prints nothing; _ holds the last result
  line '6 * 7' "42"
  line 'nil' "> nil"
  line '_ + 1' "43"
  screen | grep -qxF "nil" && fail "nil was printed"
  # no '=' or 'return' needed, several values on one line
  type_text '1, "two", {3}'; key Enter
  wait_line '1[[:space:]]+two[[:space:]]+\{3\}'
  return 0
}

check_interrupt() {
  start
  line 'keep = 123; print("kept")' "kept"
  type_text 'while true do end'; key Enter
  sleep 0.5
  key C-c
  wait_for "interrupted!"
  wait_prompts 3
  line 'keep + 1' "124"
  # a second interrupt works as well (the handler is re-armed)
  type_text 'for i = 1, math.huge do keep = keep end'; key Enter
  sleep 0.3
  key C-c
  wait_count "interrupted!" 2
  line 'keep * 2' "246"
  # Ctrl-C at the prompt drops the line typed so far
  # (wait for the echo first: the terminal driver drops unread input on ^C)
  type_text 'this is not lua'; wait_for "> this is not lua"; key C-c
  wait_for "this is not lua^C"
  line 'print("clean" .. "line")' "cleanline"
  screen | grep -qF "syntax error" && fail "the cleared line was run"
  # os.exit() quits with its status
  line 'os.exit(3)' "EXITED 3"
  return 0
}

check_history() {
  # a full history file: the oldest entries go, at most 1000 stay
  local old
  old=$(mktemp)
  { echo "_HiStOrY_V2_"; for i in $(seq 1 1200); do echo "old_entry_$i"; done; } > "$old"
  start "$old"
  rm -f "$old"
  line 'hist_marker_1 = 7; print("m1")' "m1"
  line 'print("m" .. 2)' "m2"
  # the history is there: Up recalls the previous line
  key Up
  wait_count '> print("m" .. 2)' 2
  key C-u
  key C-d
  wait_for "EXITED 0"
  local h="$HOME_DIR/.optlab_history"
  [ -f "$h" ] || fail "no history file at \$HOME/.optlab_history"
  grep -qF "hist_marker_1" "$h" || fail "history lacks the first command"
  tail -n 1 "$h" | grep -qF 'print("m"' || fail "history's last entry is not the last command"
  local n=$(($(wc -l < "$h") - 1))
  [ "$n" -le 1000 ] || fail "history holds $n entries, more than 1000"
  grep -qxF "old_entry_1" "$h" && fail "the oldest entry should have been dropped"
  grep -qxF "old_entry_1200" "$h" || fail "recent old entries should stay"
  return 0
}

check_timing() {
  start
  line 'local s = sys.clock(); while sys.clock() - s < 0.7 do end' "s)"
  screen | grep -qE '^\(0\.[7-9][0-9] s\)|^\(1\.[0-9]+ s\)' || fail "no wall time reported for a 0.7 s command"
  line 'print("quick")' "quick"
  [ "$(screen | grep -cE '^\([0-9.]+ s\)$')" -eq 1 ] || fail "a quick command reported its time"
  return 0
}

command -v tmux >/dev/null || { echo "FAIL: tmux is not installed (tools/deps.sh installs it)"; exit 1; }
[ -x "$OPTLAB" ] || { echo "FAIL: no optlab binary at $OPTLAB"; exit 1; }
status=0
for check in ${@:-$CHECKS_ALL}; do
  if ( trap cleanup EXIT; "check_$check" ); then echo "ok   repl.$check"; else status=1; fi
  cleanup
done
exit $status
