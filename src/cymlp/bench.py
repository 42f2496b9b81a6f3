"""Seconds per epoch of net53k on the 60,000 MNIST training images: cymlp and its peers.

Every contender trains net53k [784, 64, 32, 10] (sigmoid, quadratic cost, the
paper's Algorithm 2) from the same initial weights, on the same shuffled
order, in this process, interleaved epoch by epoch so that machine noise hits
all alike; the figure is the median over ``--repeats`` epochs (a contender
slower than 3 s per epoch runs one epoch). Thread counts are set with
threadpoolctl (BLAS), cymlp's ``n_threads`` and ``torch.set_num_threads``.

Contenders: cymlp (float64 and float32, input as float or as uint8 pixels);
the NumPy reference ``cymlp.reference.ReferenceMLP`` (vectorized, buffers
allocated once: NumPy at its best); a per-example loop written the way the
paper's section 4.2 does it (with the gradient accumulators reset per batch);
and, when installed, PyTorch (float64, manual SGD) and JAX (jit of a whole
epoch with lax.scan). The two frameworks run in a process of their own per
thread count: XLA reads its thread settings at start-up, and a framework's
spinning thread pool would otherwise slow the contenders timed after it.

Usage: cymlp bench [--quick], or python benchmarks/bench_epoch.py [options].
"""

from __future__ import annotations

import argparse
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
        # as MLP.train does once per call (about 0.05 s for MNIST; not in the epoch times)
        self.bitmap = _core.column_bitmap(X) if batch_size <= _core.CHUNK else None

    def epoch(self, order):
        # as MLP.train does: cymlp's own threads share the batch, BLAS stays at one
        with threadpool_limits(limits=1, user_api="blas"):
            self.core.train_epoch(self.X, self.y, order, batch_size=self.S,
                                  learning_rate=LEARNING_RATE, check_every=1 << 40,
                                  n_threads=self.threads, bitmap=self.bitmap)


class NumPyReference:
    def __init__(self, X, y, batch_size):
        net = MLP(SIZES, seed=0)
        self.model = ref.ReferenceMLP(net.weights, net.biases, batch_size)
        self.X, self.Y, self.S = X, ref.one_hot(y, 10), batch_size

    def epoch(self, order):
        self.model.train_epoch(self.X, self.Y, order, self.S, LEARNING_RATE)


class PaperLoop:
    """Section 4.2's mini-batch code: backprop one (784, 1) column at a time, summed per batch."""

    def __init__(self, X, y, batch_size):
        net = MLP(SIZES, seed=0)
        self.weights = net.weights
        self.biases = [b.reshape(-1, 1).copy() for b in net.biases]
        self.data = [(x.reshape(-1, 1), ref.one_hot(label, 10).reshape(-1, 1)) for x, label in zip(X, y)]
        self.S = batch_size

    def backprop(self, x, y):
        activations, zs = [x], []
        for W, b in zip(self.weights, self.biases):
            zs.append(W @ activations[-1] + b)
            activations.append(ref.sigmoid(zs[-1]))
        delta = (activations[-1] - y) * ref.sigmoid_prime_from_output(activations[-1])
        grad_b, grad_W = [None] * len(self.weights), [None] * len(self.weights)
        for l in range(len(self.weights) - 1, -1, -1):
            grad_b[l], grad_W[l] = delta, delta @ activations[l].T
            if l > 0:
                delta = (self.weights[l].T @ delta) * ref.sigmoid_prime_from_output(activations[l])
        return grad_b, grad_W

    def epoch(self, order):
        for start in range(0, len(order), self.S):
            batch = order[start:start + self.S]
            sum_b = [np.zeros_like(b) for b in self.biases]
            sum_W = [np.zeros_like(W) for W in self.weights]
            for i in batch:
                grad_b, grad_W = self.backprop(*self.data[i])
                for l in range(len(self.weights)):
                    sum_b[l] += grad_b[l]
                    sum_W[l] += grad_W[l]
            for l in range(len(self.weights)):
                self.weights[l] -= LEARNING_RATE / len(batch) * sum_W[l]
                self.biases[l] -= LEARNING_RATE / len(batch) * sum_b[l]


TORCH_SCRIPT = r"""
import json, os, statistics, sys, time
import numpy as np
import torch
from cymlp import MLP
from cymlp.datasets import load_mnist
(X, y), _ = load_mnist(os.environ.get("CYMLP_BENCH_DATA") or None)
S, repeats, lr, threads = int(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3]), int(sys.argv[4])
torch.set_num_threads(threads)
net = MLP([784, 64, 32, 10], seed=0)
W = [torch.from_numpy(w.copy()) for w in net.weights]
b = [torch.from_numpy(v.copy()) for v in net.biases]
Xt, Yt = torch.from_numpy(X), torch.from_numpy(np.eye(10)[y])
rng = np.random.default_rng(1)
times = []
with torch.no_grad():
    for _ in range(repeats):
        order = torch.from_numpy(rng.permutation(len(X)))
        start = time.perf_counter()
        for s in range(0, len(order), S):
            rows = order[s:s + S]
            acts = [Xt.index_select(0, rows)]
            t = Yt.index_select(0, rows)
            for Wl, bl in zip(W, b):
                acts.append(torch.sigmoid(torch.addmm(bl, acts[-1], Wl.T)))
            a = acts[-1]
            delta = (a - t) * a * (1 - a)
            step = lr / len(rows)
            for l in range(len(W) - 1, -1, -1):
                gW, gb = delta.T @ acts[l], delta.sum(0)
                if l > 0:
                    delta = (delta @ W[l]) * acts[l] * (1 - acts[l])
                W[l].sub_(gW, alpha=step)
                b[l].sub_(gb, alpha=step)
        times.append(time.perf_counter() - start)
print(json.dumps(statistics.median(times)))
"""


def peer_epoch(script, batch_size, threads, repeats, data):
    """Median seconds per epoch of a peer framework in a fresh process with ``threads`` threads
    (its own process: its thread pool neither disturbs nor is disturbed by the others')."""
    env = dict(os.environ, CYMLP_BENCH_DATA=data or "",
               XLA_FLAGS=f"--xla_cpu_multi_thread_eigen={'true' if threads > 1 else 'false'} "
                         f"intra_op_parallelism_threads={threads}",
               OMP_NUM_THREADS=str(threads), OPENBLAS_NUM_THREADS=str(threads))
    result = subprocess.run([sys.executable, "-c", script, str(batch_size), str(repeats),
                             str(LEARNING_RATE), str(threads)], capture_output=True, text=True,
                            env=env)
    if result.returncode != 0:
        raise RuntimeError(result.stderr.strip().splitlines()[-1])
    return json.loads(result.stdout.strip().splitlines()[-1])


JAX_SCRIPT = r"""
import json, os, statistics, sys, time
import numpy as np
import jax, jax.numpy as jnp
jax.config.update("jax_enable_x64", True)
from cymlp import MLP
from cymlp.datasets import load_mnist
(X, y), _ = load_mnist(os.environ.get("CYMLP_BENCH_DATA") or None)
S, repeats, lr = int(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3])
net = MLP([784, 64, 32, 10], seed=0)
params = [(jnp.asarray(W), jnp.asarray(b)) for W, b in zip(net.weights, net.biases)]
Y = np.eye(10)[y]
n = (len(X) // S) * S

def step(params, batch):
    x, t = batch
    acts = [x]
    for W, b in params:
        acts.append(jax.nn.sigmoid(acts[-1] @ W.T + b))
    a = acts[-1]
    delta = (a - t) * a * (1 - a)
    new = list(params)
    for l in range(len(params) - 1, -1, -1):
        W, b = params[l]
        gW, gb = delta.T @ acts[l], delta.sum(0)
        if l > 0:
            delta = (delta @ W) * acts[l] * (1 - acts[l])
        new[l] = (W - lr / S * gW, b - lr / S * gb)
    return new, None

@jax.jit
def epoch(params, X, Y, order):
    xs = X[order].reshape(-1, S, X.shape[1])
    ts = Y[order].reshape(-1, S, Y.shape[1])
    params, _ = jax.lax.scan(step, params, (xs, ts))
    return params

Xj, Yj = jnp.asarray(X), jnp.asarray(Y)
rng = np.random.default_rng(1)
jax.block_until_ready(epoch(params, Xj, Yj, jnp.asarray(rng.permutation(len(X))[:n])))  # compile
times = []
for _ in range(repeats):
    order = jnp.asarray(rng.permutation(len(X))[:n])
    start = time.perf_counter()
    params = jax.block_until_ready(epoch(params, Xj, Yj, order))
    times.append(time.perf_counter() - start)
print(json.dumps(statistics.median(times) * len(X) / n))
"""


def installed(module):
    try:
        __import__(module)
        return True
    except ImportError:
        return False


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


def run(data=None, repeats=5, batch_sizes=(1, 10, 32, 128, 60000), threads=(1, 2),
        peers=True, quick=False):
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
            if peers and S == 32:
                if not quick and t == 1:  # plain Python: no threads to give it
                    contenders["paper's per-example loop"] = PaperLoop(X, y, S)
            with threadpool_limits(limits=t, user_api="blas"):
                result = median_epochs(contenders, n, repeats, t)
            if peers and S == 32 and installed("torch"):
                result["PyTorch float64"] = peer_epoch(TORCH_SCRIPT, S, t, repeats, data)
            if peers and S == 32 and installed("jax"):
                result["JAX float64 (jit + lax.scan)"] = peer_epoch(JAX_SCRIPT, S, t, repeats, data)
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
              "seconds; cymlp skips all-zero input columns, so it does fewer): " + ", ".join(
        f"{r['contender']} {r['threads']}t {r['gflops']:.1f}" for r in rows if r["batch_size"] == S) + "."]
    lines += ["", f"Peak RSS of a whole MNIST training process: from uint8 pixels "
              f"{memory['uint8 input']:.0f} MB, from float64 {memory['float64 input']:.0f} MB."]
    return "\n".join(lines)


def chart(rows, path):
    from .plots import _figure

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
    fig.savefig(path, dpi=110)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=None, help="MNIST folder (default $CYMLP_DATA)")
    parser.add_argument("--repeats", type=int, default=5, help="epochs per measurement (median)")
    parser.add_argument("--batch-sizes", default="1,10,32,128,60000")
    parser.add_argument("--threads", default="1,2")
    parser.add_argument("--no-peers", action="store_true", help="cymlp and NumPy only")
    parser.add_argument("--quick", action="store_true", help="batch 32 only, 3 repeats, no paper loop")
    parser.add_argument("--out", default=None, help="write bench.json, bench.md, bench.png here")
    args = parser.parse_args(argv)
    batch_sizes = (32,) if args.quick else tuple(int(b) for b in args.batch_sizes.split(","))
    rows, memory = run(args.data, 3 if args.quick else args.repeats, batch_sizes,
                       tuple(int(t) for t in args.threads.split(",")), not args.no_peers, args.quick)
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
