"""Seconds per epoch of net53k on the 60,000 MNIST training images: cymlp vs NumPy.

Both sides start from the same weights, see the same shuffled order and run
in this process, interleaved epoch by epoch, so machine noise hits both
alike. The NumPy side is ``cymlp.reference.ReferenceMLP``: vectorized, with
buffers allocated once (``out=``), i.e. NumPy at its best. BLAS threads (of
NumPy's and SciPy's OpenBLAS alike) are set with threadpoolctl.

Usage: cymlp bench, or python benchmarks/bench_epoch.py [--data DIR] [--repeats 5] [--json out.json]
(needs threadpoolctl: pip install 'cymlp[bench]').
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import time

import numpy as np
from threadpoolctl import threadpool_info, threadpool_limits

from cymlp import MLP, _core
from cymlp import reference as ref
from cymlp.datasets import load_mnist

SIZES = [784, 64, 32, 10]
# Per example: 2 flops per weight in the forward product and in the update, and in the
# backward product of every layer but the first (the input layer needs no delta).
_WEIGHTS = [a * b for a, b in zip(SIZES[:-1], SIZES[1:])]
FLOP_PER_EXAMPLE = 2 * (2 * sum(_WEIGHTS) + sum(_WEIGHTS[1:]))


def bench(X, labels, batch_size, threads, repeats, learning_rate=0.2):
    """Median seconds per epoch (cymlp, numpy) over ``repeats`` interleaved epochs."""
    n = X.shape[0]
    Y = ref.one_hot(labels, SIZES[-1])
    net = MLP(SIZES, seed=0)
    weights = [W.copy() for W in net.weights]
    biases = [b.copy() for b in net.biases]
    core = _core.Network(net.weights, net.biases, batch_size)
    reference = ref.ReferenceMLP(weights, biases, batch_size)
    rng = np.random.default_rng(1)
    times = {"cymlp": [], "numpy": []}
    with threadpool_limits(limits=threads, user_api="blas"):
        for _ in range(repeats):
            order = rng.permutation(n).astype(np.intp)
            start = time.perf_counter()
            core.train_epoch(X, labels, order, batch_size, learning_rate)
            times["cymlp"].append(time.perf_counter() - start)
            start = time.perf_counter()
            reference.train_epoch(X, Y, order, batch_size, learning_rate)
            times["numpy"].append(time.perf_counter() - start)
    return {name: statistics.median(t) for name, t in times.items()}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=None, help="MNIST folder (default $CYMLP_DATA)")
    parser.add_argument("--repeats", type=int, default=5, help="epochs per measurement (median)")
    parser.add_argument("--batch-sizes", default="1,10,32,128")
    parser.add_argument("--threads", default="1,2")
    parser.add_argument("--json", default=None, help="also write the results here")
    args = parser.parse_args(argv)

    (X, labels), _ = load_mnist(args.data)
    blas = {(i["internal_api"], i.get("version"), i.get("architecture")) for i in threadpool_info()
            if i["user_api"] == "blas"}
    print(f"# net53k {SIZES}, {X.shape[0]} MNIST images, float64, median of {args.repeats} epochs")
    print(f"# {platform.processor() or platform.machine()}, {os.cpu_count()} cores; "
          f"BLAS: {sorted(blas)}; OPENBLAS_CORETYPE={os.environ.get('OPENBLAS_CORETYPE')}")
    print()
    print("| batch | BLAS threads | cymlp s/epoch | NumPy s/epoch | speed-up | cymlp GFLOP/s |")
    print("|---:|---:|---:|---:|---:|---:|")
    results = []
    for threads in [int(t) for t in args.threads.split(",")]:
        for batch_size in [int(b) for b in args.batch_sizes.split(",")]:
            t = bench(X, labels, batch_size, threads, args.repeats)
            gflops = FLOP_PER_EXAMPLE * X.shape[0] / t["cymlp"] / 1e9
            results.append({"batch_size": batch_size, "threads": threads, **t,
                            "speedup": t["numpy"] / t["cymlp"], "gflops": gflops})
            print(f"| {batch_size} | {threads} | {t['cymlp']:.3f} | {t['numpy']:.3f} | "
                  f"{t['numpy'] / t['cymlp']:.2f}x | {gflops:.1f} |", flush=True)
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"sizes": SIZES, "repeats": args.repeats, "results": results}, f, indent=2)


if __name__ == "__main__":
    main()
