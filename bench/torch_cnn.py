#!/usr/bin/python3
"""PyTorch side of `make bench-compare` (bench/compare.sh); bench/optlab_cnn.lua is its twin.

This is a fair, idiomatic PyTorch program: the model is an nn.Sequential of stock layers
(the Keras example CNN), the loop is the usual eager one (zero_grad(set_to_none=True) /
forward / CrossEntropyLoss / backward / step) with torch.optim.Adam (foreach=True), batches
are contiguous float32 NCHW tensors built once per epoch from a uint8 tensor held in memory
(no DataLoader worker processes: on a 2-core machine they would only compete for the cores),
threads set with torch.set_num_threads(T) and given to the BLAS (see below), warm-up steps excluded from the timing. No
deliberately slow choice is made; no torch.compile/JIT (not in Debian's 1.13 CPU build's
usual path, and the optlab side runs eagerly too).

  /usr/bin/python3 bench/torch_cnn.py train THREADS [STEPS] [WARMUP]
  /usr/bin/python3 bench/torch_cnn.py optim THREADS [N_PARAMS] [REPS]

train prints one line:
  RESULT impl=torch mode=train threads=T steps=S samples_per_s=X samples_per_cpu_s=Y peak_rss_mib=M loss=L
(samples_per_cpu_s: per second of the process's CPU time, all threads)
optim prints one line per optimizer (Adam, SGD momentum, RMSprop, Adagrad on one tensor of
N_PARAMS parameters with a fixed gradient, best of REPS after a warm step):
  RESULT impl=torch mode=optim opt=NAME threads=T n=N ns_per_param=X
"""
import gzip
import os
import resource
import sys
import time

# The thread count goes to the BLAS too, before torch loads it: torch.set_num_threads sets
# OpenMP's, but BLIS reads BLIS_NUM_THREADS / OMP_NUM_THREADS at load (else its GEMMs run on
# 1 thread) and OpenBLAS's own pthreads pool OPENBLAS_NUM_THREADS (else it uses every core).
if len(sys.argv) > 2 and sys.argv[2].isdigit():
    for var in ("OMP_NUM_THREADS", "BLIS_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        os.environ.setdefault(var, sys.argv[2])

import numpy as np  # noqa: E402
import torch  # noqa: E402
from torch import nn  # noqa: E402

FASHION = "/usr/share/datasets/fashion-mnist"


def read_idx(path):
    """A tiny IDX reader (raw or .gz): big-endian header, then uint8 data."""
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rb") as f:
        buf = f.read()
    if buf[0] != 0 or buf[1] != 0 or buf[2] != 8:
        raise ValueError(f"{path}: not a uint8 IDX file")
    ndim = buf[3]
    dims = [int.from_bytes(buf[4 + 4 * i: 8 + 4 * i], "big") for i in range(ndim)]
    return np.frombuffer(buf, dtype=np.uint8, offset=4 + 4 * ndim).reshape(dims)


def find(base):
    d = os.environ.get("OPTLAB_DATA")
    dirs = ([d + "/fashion-mnist"] if d else []) + ["data/fashion-mnist", FASHION]
    for d in dirs:
        for name in (base, base + ".gz"):
            p = os.path.join(d, name)
            if os.path.exists(p):
                return p
    sys.exit(f"torch_cnn.py: cannot find {base}(.gz) in {dirs}")


def peak_rss_mib():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # KiB on Linux


def keras_mnist_cnn():
    # The Keras example CNN (the Keras MNIST example comparing five optimizers); PyTorch's default initializers (the optlab side uses Keras's).
    return nn.Sequential(
        nn.Conv2d(1, 32, 3), nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Dropout(0.25),
        nn.Flatten(),
        nn.Linear(5408, 256), nn.ReLU(),
        nn.Dropout(0.5),
        nn.Linear(256, 10),
    )


def train(threads, steps, warmup):
    torch.manual_seed(1)
    images = torch.from_numpy(read_idx(find("train-images-idx3-ubyte")).copy())  # [60000, 28, 28] uint8
    labels = torch.from_numpy(read_idx(find("train-labels-idx1-ubyte")).astype(np.int64))
    model = keras_mnist_cnn()
    model.train()
    opt = torch.optim.Adam(model.parameters(), lr=1e-3, foreach=True)
    loss_fn = nn.CrossEntropyLoss()
    bs = 64
    n = images.shape[0]
    g = torch.Generator().manual_seed(1)

    def batches():
        while True:
            perm = torch.randperm(n, generator=g)
            for i in range(0, n - bs + 1, bs):  # drop_last, as the optlab side
                idx = perm[i:i + bs]
                x = images[idx].unsqueeze(1).float().div_(255.0)
                yield x, labels[idx]

    it = batches()

    def step():
        x, y = next(it)
        opt.zero_grad(set_to_none=True)
        loss = loss_fn(model(x), y)
        loss.backward()
        opt.step()
        return loss

    for _ in range(warmup):
        step()
    t0, c0 = time.perf_counter(), time.process_time()
    for _ in range(steps):
        loss = step()
    dt, dc = time.perf_counter() - t0, time.process_time() - c0
    print(f"RESULT impl=torch mode=train threads={threads} steps={steps} "
          f"samples_per_s={steps * bs / dt:.1f} samples_per_cpu_s={steps * bs / dc:.1f} "
          f"peak_rss_mib={peak_rss_mib():.1f} loss={loss.item():.4f}",
          flush=True)


def optim_steps(threads, n, reps):
    g = torch.Generator().manual_seed(1)
    grad = torch.randn(n, generator=g)
    cases = [
        ("Adam", lambda p: torch.optim.Adam(p, lr=1e-3, foreach=True)),
        ("SGD_momentum", lambda p: torch.optim.SGD(p, lr=0.01, momentum=0.9, foreach=True)),
        ("RMSprop", lambda p: torch.optim.RMSprop(p, lr=1e-3, foreach=True)),
        ("Adagrad", lambda p: torch.optim.Adagrad(p, lr=0.01, foreach=True)),
    ]
    for name, make in cases:
        p = torch.randn(n, generator=g).requires_grad_()
        p.grad = grad.clone()
        opt = make([p])
        opt.step()  # allocates the state
        best = float("inf")
        for _ in range(reps):
            t0 = time.perf_counter()
            opt.step()
            best = min(best, time.perf_counter() - t0)
        print(f"RESULT impl=torch mode=optim opt={name} threads={threads} n={n} "
              f"ns_per_param={best / n * 1e9:.4f}", flush=True)


def main(argv):
    if len(argv) < 3 or argv[1] not in ("train", "optim"):
        sys.exit(__doc__)
    threads = int(argv[2])
    torch.set_num_threads(threads)
    if argv[1] == "train":
        train(threads, int(argv[3]) if len(argv) > 3 else 200, int(argv[4]) if len(argv) > 4 else 20)
    else:
        with torch.no_grad():
            optim_steps(threads, int(argv[3]) if len(argv) > 3 else 10_000_000, int(argv[4]) if len(argv) > 4 else 10)


if __name__ == "__main__":
    main(sys.argv)
