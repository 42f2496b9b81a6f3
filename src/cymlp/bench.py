"""Seconds per epoch of net53k on the 60,000 MNIST training images: cymlp against NumPy.

cymlp (float64 and float32, input as float or as uint8 pixels) and the NumPy
reference ``cymlp.reference.ReferenceMLP`` (vectorized, buffers allocated once,
``out=`` everywhere: NumPy at its best) train net53k [784, 64, 32, 10]
(sigmoid, quadratic cost, the paper's Algorithm 2) from the same initial
weights, on the same shuffled orders, in this process, interleaved epoch by
epoch so that machine noise hits all alike; the figure is the median over
``--repeats`` epochs (a contender slower than 3 s per epoch runs one epoch).
Thread counts: BLAS threads via threadpoolctl for NumPy, ``n_threads`` for
cymlp (BLAS at one).

The peers (PyTorch, JAX, the paper's per-example loop) are programs of their own
in the repository's ``benchmarks/peers/``; ``benchmarks/bench_epoch.py`` runs
them beside this.

Usage: cymlp bench [--quick], or python -m cymlp.bench [options].
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import platform
import statistics
import subprocess
import sys
import time

import numpy as np
from threadpoolctl import threadpool_info, threadpool_limits

from . import MLP, _core
from . import reference as ref
from .datasets import load_mnist, scale

SIZES = [784, 64, 32, 10]
LEARNING_RATE = 0.2
# Per example: 2 flops per weight in the forward product and in the update, and in the
# backward product of every layer but the first (the input layer needs no delta).
_WEIGHTS = [a * b for a, b in zip(SIZES[:-1], SIZES[1:])]
FLOP_PER_EXAMPLE = 2 * (2 * sum(_WEIGHTS) + sum(_WEIGHTS[1:]))
SLOW = 3.0  # seconds: a contender this slow runs a single epoch


# ------------------------------------------------------------------ contenders

class Cymlp:
    def __init__(self, X, y, batch_size, threads, dtype=np.float64):
        self.net = MLP(SIZES, seed=0, dtype=dtype)
        self.core = self.net._network(min(batch_size, _core.CHUNK))
        self.X, self.y, self.S, self.threads = X, y, batch_size, threads

    def epoch(self, order):
        # as MLP.train does: cymlp's own threads share the batch, BLAS stays at one
        with threadpool_limits(limits=1, user_api="blas"):
            self.core.train_epoch(self.X, self.y, order, batch_size=self.S,
                                  learning_rate=LEARNING_RATE, check_every=1 << 40,
                                  n_threads=self.threads)


class NumPyReference:
    def __init__(self, X, y, batch_size):
        net = MLP(SIZES, seed=0)
        self.model = ref.ReferenceMLP(net.weights, net.biases, batch_size)
        self.X, self.Y, self.S = X, ref.one_hot(y, 10), batch_size

    def epoch(self, order):
        self.model.train_epoch(self.X, self.Y, order, self.S, LEARNING_RATE)


# ------------------------------------------------------------------ measuring

def median_epochs(contenders, n, repeats, threads):
    """Interleave epochs of the contenders on shared shuffled orders; median seconds each."""
    times = {name: [] for name in contenders}
    rng = np.random.default_rng(1)
    for _ in range(repeats):
        order = rng.permutation(n).astype(np.intp)
        for name, contender in contenders.items():
            if times[name] and times[name][0] > SLOW:
                continue
            if threads > 1:
                # Thread pools (OpenBLAS's, PyTorch's and cymlp's OpenMP) spin for a while
                # after their work ends; let the last contender's go quiet first.
                time.sleep(0.3)
            start = time.perf_counter()
            contender.epoch(order)
            times[name].append(time.perf_counter() - start)
    return {name: statistics.median(t) for name, t in times.items()}


def peak_rss_mb(raw, data):
    """Peak RSS (MB) of a process that loads MNIST (uint8 or float64) and trains one epoch."""
    code = (
        "import resource, sys\n"
        "from cymlp import MLP\nfrom cymlp.datasets import load_mnist\n"
        f"train, test = load_mnist({data!r}, raw={raw})\n"
        "MLP([784, 64, 32, 10], seed=0).train(train, learning_rate=0.2, epochs=1, "
        "test_data=test, verbose=False)\n"
        # VmHWM, not ru_maxrss: on Linux ru_maxrss carries the forking parent's peak over exec
        "try:\n"
        "    print(next(int(l.split()[1]) for l in open('/proc/self/status') if l.startswith('VmHWM')) / 1024)\n"
        "except OSError:\n"
        "    print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)\n")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return float(result.stdout.strip())


def run(data=None, repeats=5, batch_sizes=(1, 10, 32, 128, 60000), threads=(1, 2)):
    (X8, y), _ = load_mnist(data, raw=True)
    X = scale(X8)                 # as load_mnist(data) makes its floats
    X32 = X.astype(np.float32)
    n = X.shape[0]
    rows = []
    for t in threads:
        for S in batch_sizes:
            contenders = {
                "cymlp float64": Cymlp(X, y, S, t),
                "cymlp float64, uint8 input": Cymlp(X8, y, S, t),
                "cymlp float32": Cymlp(X32, y, S, t, np.float32),
                "cymlp float32, uint8 input": Cymlp(X8, y, S, t, np.float32),
                "NumPy reference": NumPyReference(X, y, S),
            }
            with threadpool_limits(limits=t, user_api="blas"):
                result = median_epochs(contenders, n, repeats, t)
            for name, seconds in result.items():
                rows.append({"batch_size": S, "threads": t, "contender": name, "seconds": seconds,
                             "gflops": FLOP_PER_EXAMPLE * n / seconds / 1e9,
                             "vs_numpy": result["NumPy reference"] / seconds})
                print(f"batch {S:>5}, {t} thread(s): {name:<32} {seconds:7.3f} s/epoch "
                      f"({rows[-1]['vs_numpy']:.2f}x NumPy)", flush=True)
    memory = {"uint8 input": peak_rss_mb(True, data), "float64 input": peak_rss_mb(False, data)}
    return rows, memory


def machine():
    blas = sorted({f"{i['internal_api']} {i.get('version')} ({i.get('architecture')})"
                   for i in threadpool_info() if i["user_api"] == "blas"})
    return {"cpu": platform.processor() or platform.machine(), "cores": os.cpu_count(),
            "blas": blas, "OPENBLAS_CORETYPE": os.environ.get("OPENBLAS_CORETYPE"),
            "python": platform.python_version(), "numpy": np.__version__}


def markdown(rows, memory, info):
    batch_sizes = sorted({r["batch_size"] for r in rows})
    lines = [f"Machine: {info['cpu']}, {info['cores']} cores; BLAS {', '.join(info['blas'])}; "
             f"OPENBLAS_CORETYPE={info['OPENBLAS_CORETYPE']}. Seconds per epoch (60,000 images), "
             "median; in brackets the speed-up over the NumPy reference at the same thread count.",
             "", "| contender | threads | " + " | ".join(
                 "full batch" if S >= 60000 else f"batch {S}" for S in batch_sizes) + " |",
             "|---|---:|" + "---:|" * len(batch_sizes)]
    for name in dict.fromkeys(r["contender"] for r in rows):
        for t in sorted({r["threads"] for r in rows}):
            cells = []
            for S in batch_sizes:
                match = [r for r in rows if r["contender"] == name and r["threads"] == t
                         and r["batch_size"] == S]
                cells.append(f"{match[0]['seconds']:.3f} ({match[0]['vs_numpy']:.2f}x)" if match else "")
            if any(cells):
                lines.append(f"| {name} | {t} | " + " | ".join(cells) + " |")
    S = 32 if 32 in batch_sizes else batch_sizes[0]
    flop = FLOP_PER_EXAMPLE * 60000 / 1e9
    lines += ["", f"GFLOP/s at batch {S}, nominal (the network's {flop:.2f} GFLOP per epoch over the "
              "seconds; cymlp skips zero inputs, so it does fewer): " + ", ".join(
        f"{r['contender']} {r['threads']}t {r['gflops']:.1f}" for r in rows if r["batch_size"] == S) + "."]
    lines += ["", f"Peak RSS of a whole MNIST training process: from uint8 pixels "
              f"{memory['uint8 input']:.0f} MB, from float64 {memory['float64 input']:.0f} MB."]
    return "\n".join(lines)


def chart(rows, path):
    from .plots import _figure, _save

    fig = _figure(figsize=(8, 4.5), layout="constrained")
    ax = fig.subplots()
    at32 = [r for r in rows if r["batch_size"] == 32]
    names = list(dict.fromkeys(r["contender"] for r in at32))
    threads = sorted({r["threads"] for r in at32})
    width = 0.8 / len(threads)
    for k, t in enumerate(threads):
        values = [next((r["seconds"] for r in at32 if r["contender"] == n and r["threads"] == t), 0)
                  for n in names]
        ax.barh([i + k * width for i in range(len(names))], values, height=width,
                label=f"{t} thread{'s' if t > 1 else ''}")
    ax.set_yticks([i + width * (len(threads) - 1) / 2 for i in range(len(names))], names)
    ax.invert_yaxis()
    ax.set_xscale("log")
    ticks = [0.1, 0.2, 0.5, 1, 2, 5, 10]
    ax.set_xticks(ticks, [f"{t:g}" for t in ticks])
    ax.set_xticks([], minor=True)
    ax.set_xlabel("seconds per epoch (log scale), net53k, batch 32")
    ax.legend()
    _save(fig, path)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=None, help="MNIST folder (default $CYMLP_DATA)")
    parser.add_argument("--repeats", type=int, default=5, help="epochs per measurement (median)")
    parser.add_argument("--batch-sizes", default="1,10,32,128,60000")
    parser.add_argument("--threads", default="1,2")
    parser.add_argument("--quick", action="store_true", help="batch 32 only, 3 repeats")
    parser.add_argument("--out", default=None, help="write bench.json, bench.md, bench.png here")
    parser.add_argument("--quiet", action="store_true", help="print the results only, no progress")
    args = parser.parse_args(argv)
    batch_sizes = (32,) if args.quick else tuple(int(b) for b in args.batch_sizes.split(","))
    with contextlib.redirect_stdout(io.StringIO()) if args.quiet else contextlib.nullcontext():
        rows, memory = run(args.data, 3 if args.quick else args.repeats, batch_sizes,
                           tuple(int(t) for t in args.threads.split(",")))
    info = machine()
    text = markdown(rows, memory, info)
    print("\n" + text)
    if args.out:
        os.makedirs(args.out, exist_ok=True)
        with open(os.path.join(args.out, "bench.json"), "w") as f:
            json.dump({"machine": info, "net": SIZES, "rows": rows, "peak_rss_mb": memory}, f, indent=2)
        with open(os.path.join(args.out, "bench.md"), "w") as f:
            f.write(text + "\n")
        try:
            chart(rows, os.path.join(args.out, "bench.png"))
        except ImportError:
            pass


if __name__ == "__main__":
    main()
