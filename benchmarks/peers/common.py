"""What every peer program shares: its command line and the serve loop.

A peer trains one network with manual SGD (the paper's Algorithm 2, sigmoid units,
quadratic cost) from cymlp's initial weights (``MLP(layers, seed=0)``) on MNIST.
It loads everything, prints ``ready``, then for each line on stdin (a seed)
trains one epoch over ``--rows`` rows in the order that seed shuffles and prints
the seconds it took: a benchmark interleaves its epochs with other contenders'
without paying the start-up each time. End with an empty line or EOF.
"""

import argparse
import os
import sys
import time

import numpy as np


def arguments(description):
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--layers", default="784,64,32,10")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--rows", type=int, default=60000, help="rows per epoch (the first ones)")
    parser.add_argument("--learning-rate", type=float, default=0.2)
    parser.add_argument("--data", default=os.environ.get("CYMLP_DATA"))
    args = parser.parse_args()
    args.layers = [int(n) for n in args.layers.split(",")]
    return args


def mnist(args):
    """Training images as float64 in [0, 1] and labels, the first ``args.rows``."""
    from cymlp.datasets import load_mnist

    (X, y), _ = load_mnist(args.data)
    return X[:args.rows], y[:args.rows]


def serve(epoch, n):
    """Print ready; then one epoch per seed read from stdin, printing its seconds."""
    print("ready", flush=True)
    for line in sys.stdin:
        if not line.strip():
            break
        order = np.random.default_rng(int(line)).permutation(n)
        start = time.perf_counter()
        epoch(order)
        print(f"{time.perf_counter() - start:.6f}", flush=True)
