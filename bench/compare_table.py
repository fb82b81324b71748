#!/usr/bin/python3
"""Summarize build/bench/compare.log (RESULT key=value lines from bench/compare.sh) as tables of
medians: training samples/s and peak RSS per configuration, optlab against PyTorch's fastest
configuration at each thread count; optimizer ns/param; start-up time."""
import statistics
import sys
from collections import defaultdict


def parse(path):
    rows, notes = [], []
    with open(path) as f:
        for line in f:
            if line.startswith("RESULT "):
                rows.append(dict(kv.split("=", 1) for kv in line.split()[1:]))
            elif line.strip():
                notes.append(line.strip())
    return rows, notes


def med(xs):
    return statistics.median(xs) if xs else float("nan")


def main(path):
    rows, notes = parse(path)
    train = defaultdict(lambda: {"sps": [], "rss": [], "cpu": []})
    optim = defaultdict(list)
    startup = defaultdict(list)
    triad = defaultdict(list)
    ceiling = defaultdict(list)
    evals = defaultdict(list)
    protocol = []
    for r in rows:
        if r["mode"] == "train":
            k = (int(r["threads"]), r["config"])
            train[k]["sps"].append(float(r["samples_per_s"]))
            train[k]["rss"].append(float(r["peak_rss_mib"]))
            train[k]["cpu"].append(float(r.get("samples_per_cpu_s", "nan")))
        elif r["mode"] == "optim":
            optim[(int(r["threads"]), r["opt"], r["config"])].append(float(r["ns_per_param"]))
        elif r["mode"] == "bandwidth":
            triad[int(r["threads"])].append(float(r["triad_gbs"]))
        elif r["mode"] == "ceiling":
            ceiling[int(r["threads"])].append(float(r["samples_per_s"]))
        elif r["mode"] == "eval":
            evals[int(r["threads"])].append(float(r["samples_per_s"]))
        elif r["mode"] == "protocol":
            protocol.append(r)
        elif r["mode"] == "startup":
            startup[r["impl"]].append(float(r["us"]) / 1e3)

    for n in notes:
        print(n)
    print()
    print("Training, Keras example CNN (batch 64, Adam, Fashion-MNIST), median of runs")
    print(f"{'thr':>3}  {'configuration':<24} {'samples/s':>10} {'runs (samples/s)':<28} {'per CPU-s':>10} {'peak RSS MiB':>12}")
    threads = sorted({t for t, _ in train})
    summary = []
    for t in threads:
        cfgs = sorted(c for tt, c in train if tt == t)
        for c in cfgs:
            d = train[(t, c)]
            runs = " ".join(f"{x:.0f}" for x in d["sps"])
            print(f"{t:>3}  {c:<24} {med(d['sps']):>10.0f} {runs:<28} {med(d['cpu']):>10.0f} {med(d['rss']):>12.0f}")
        torch_cfgs = [c for c in cfgs if c.startswith("torch")]
        if "optlab" in cfgs and torch_cfgs:
            best = max(torch_cfgs, key=lambda c: med(train[(t, c)]["sps"]))
            o, p = train[(t, "optlab")], train[(t, best)]
            bestc = max(torch_cfgs, key=lambda c: med(train[(t, c)]["cpu"]))
            summary.append((t, best, med(o["sps"]) / med(p["sps"]), med(o["rss"]) / med(p["rss"]),
                            bestc, med(o["cpu"]) / med(train[(t, bestc)]["cpu"])))
    for t, best, ratio, rss, bestc, rc in summary:
        print(f"  {t} thread(s): optlab / PyTorch's fastest ({best}) = {ratio:.2f}x samples/s; "
              f"peak RSS {rss:.2f}x; per CPU-second vs {bestc}: {rc:.2f}x")

    print()
    print("Issue 19: scaling, ceiling, a busy core, sustained runs, the protocol")

    def sps(t, c):
        return med(train[(t, c)]["sps"]) if (t, c) in train else float("nan")

    if 1 in threads and 2 in threads:
        spin = (f"; spinning (optlab+active) {sps(2, 'optlab+active') / sps(1, 'optlab+active'):.2f}x"
                if (1, "optlab+active") in train and (2, "optlab+active") in train else "")
        print(f"  scaling: optlab 2 threads / 1 thread = {sps(2, 'optlab') / sps(1, 'optlab'):.2f}x (target 1.8x)" + spin)
    for c, what in (("optlab+avx2", "optlab's kernels and BLIS's in AVX2"),
                    ("optlab+blis_skx", "BLIS's AVX-512 (skx) kernels")):
        cells = [f"{t} thread(s) {sps(t, c):.0f} samples/s ({sps(t, c) / sps(t, 'optlab'):.2f}x the default)"
                 for t in threads if (t, c) in train]
        if cells:
            ratio = f"; 2 / 1 threads {sps(2, c) / sps(1, c):.2f}x" if (1, c) in train and (2, c) in train else ""
            print(f"  {what}: " + ", ".join(cells) + ratio)
    for t in sorted(ceiling):
        c = med(ceiling[t])
        print(f"  ceiling, {t} thread(s): the step's GEMMs alone at BLIS's rates {c:.0f} samples/s; "
              f"optlab reaches {100 * sps(t, 'optlab') / c:.0f}% of it (aim 85%)")
    if (1, "optlab+busy") in train and (2, "optlab+busy") in train:
        b1, b2 = sps(1, "optlab+busy"), sps(2, "optlab+busy")
        print(f"  busy core (another process spins on one core): 1 thread {b1:.0f}, 2 threads {b2:.0f} samples/s; "
              f"2 / 1 = {b2 / b1:.2f}x (target >= 1)")
    if (1, "optlab+sustained") in train:
        su, bu = sps(1, "optlab+sustained"), sps(1, "optlab")
        print(f"  sustained: a 10-epoch run at 1 thread {su:.0f} samples/s, {100 * (su / bu - 1):+.1f}% against "
              f"the {bu:.0f} of the bursts (target within 5%)")
    for r in protocol:
        cores, took = int(r["cores"]), float(r["s"])
        t1, e1 = sps(1, "optlab"), med(evals[1])
        want = int(r["images"]) / (cores * t1) + int(r["eval_images"]) / (cores * e1)
        print(f"  protocol (experiments/fashion_mnist_optimizers.lua) on {cores} cores: {took:.1f} s; "
              f"expected {want:.1f} s = {r['images']} images / ({cores} x {t1:.0f}/s) + "
              f"{r['eval_images']} evaluated / ({cores} x {e1:.0f}/s); {100 * (took / want - 1):+.1f}% (target within 10%)")

    if optim:
        print()
        print("Optimizer step alone, ns per parameter (median of per-run best; PyTorch: its faster")
        print("of libgomp's default wait policy and passive); GB/s at 28 bytes/param for Adam,")
        print("20 for the others (param r+w, grad r, one state buffer r+w... as moved by a fused pass)")
        print(f"{'thr':>3}  {'optimizer':<14} {'optlab':>8} {'GB/s':>6} {'torch':>8} {'config':<14} {'torch/optlab':>13}")
        nbytes = {"Adam": 28, "SGD_momentum": 20, "RMSprop": 20, "Adagrad": 20}
        for t in sorted({k[0] for k in optim}):
            for name in ["Adam", "SGD_momentum", "RMSprop", "Adagrad"]:
                o = med(optim[(t, name, "optlab")])
                tc = [c for (tt, nn, c) in optim if tt == t and nn == name and c.startswith("torch")]
                if not tc:
                    continue
                bc = min(tc, key=lambda c: med(optim[(t, name, c)]))
                p = med(optim[(t, name, bc)])
                print(f"{t:>3}  {name:<14} {o:>8.3f} {nbytes[name] / o:>6.1f} {p:>8.3f} {bc:<14} {p / o:>12.1f}x")
            if triad[t]:
                tb = med(triad[t])
                ao = med(optim[(t, "Adam", "optlab")])
                print(f"     triad bandwidth {tb:.1f} GB/s (STREAM count); optlab Adam moves {28 / ao:.1f} GB/s "
                      f"= {100 * 28 / ao / tb:.0f}% of it")

    if startup:
        print()
        o, p = med(startup["optlab"]), med(startup["torch"])
        print(f"Start-up (median of {len(startup['optlab'])}): optlab -e '' {o:.1f} ms; "
              f"python3 -c 'import torch' {p:.1f} ms; ratio {p / o:.0f}x")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "build/bench/compare.log")
