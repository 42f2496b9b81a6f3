"""Two trainings at once against one after the other (issue 13's goal: at most 0.75x).

Two net53k trainings (MLP.train, uint8 MNIST, batch 32, default threads) run in two
Python threads of this process at once, and the same two one after the other; the
rounds alternate, medians of --repeats rounds, the ratio within this run. On N cores
each training alone takes all N; side by side they share them, each on CPUs of its own.
With --processes the two side by side run in a pool of two joblib loky worker processes
instead (as `cymlp reproduce --backend loky --jobs 2` runs a sweep; the data passed as a
memory map), which tell each other nothing: each worker gets N / 2 as OMP_NUM_THREADS.

python benchmarks/bench_side_by_side.py [--epochs 3] [--repeats 5] [--processes]
"""

import argparse
import os
import tempfile
import threading
import time

import joblib
import numpy as np

from cymlp import MLP
from cymlp.datasets import load_mnist
from harness import machine, median

parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("--epochs", type=int, default=3)
parser.add_argument("--repeats", type=int, default=5)
parser.add_argument("--n-threads", type=int, default=None, help="each training's (default: cymlp's)")
parser.add_argument("--processes", action="store_true",
                    help="side by side in two loky worker processes, not two threads")
parser.add_argument("--data", default=os.environ.get("CYMLP_DATA"))
args = parser.parse_args()
(X, y), _ = load_mnist(args.data, raw=True)
print(machine())
print(f"net53k, batch 32, uint8 input, {args.epochs} epochs per training, n_threads="
      f"{args.n_threads or 'default'}, side by side in two "
      f"{'loky processes' if args.processes else 'threads'}, median of {args.repeats} rounds")


def train(X, y, seed, epochs, n_threads):
    MLP([784, 64, 32, 10], seed=seed).train((X, y), batch_size=32, learning_rate=0.2,
                                            epochs=epochs, verbose=False, n_threads=n_threads)


def serial():
    start = time.perf_counter()
    for seed in (0, 1):
        train(X, y, seed, args.epochs, args.n_threads)
    return time.perf_counter() - start


def side_by_side():
    start = time.perf_counter()
    if args.processes:
        pool(joblib.delayed(train)(X_mapped, y, seed, args.epochs, args.n_threads)
             for seed in (0, 1))
        return time.perf_counter() - start
    workers = [threading.Thread(target=train, args=(X, y, s, args.epochs, args.n_threads))
               for s in (0, 1)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    return time.perf_counter() - start


times = {"one after the other": [], "side by side": []}
with tempfile.TemporaryDirectory() as folder, joblib.Parallel(n_jobs=2, backend="loky") as pool:
    np.save(os.path.join(folder, "X.npy"), X)
    X_mapped = np.load(os.path.join(folder, "X.npy"), mmap_mode="r")
    if args.processes:   # (the workers started and cymlp imported before the first round)
        pool(joblib.delayed(train)(X_mapped[:64], y[:64], seed, 1, None) for seed in (0, 1))
    for _ in range(args.repeats):
        times["one after the other"].append(serial())
        times["side by side"].append(side_by_side())
for name, values in times.items():
    print(f"  {name:<20} {median(values):7.3f} s")
print(f"  side by side / one after the other: "
      f"{median(times['side by side']) / median(times['one after the other']):.2f}  (goal <= 0.75)")
