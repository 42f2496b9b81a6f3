"""Two trainings at once against one after the other (issue 13's goal: at most 0.75x).

Two net53k trainings (MLP.train, uint8 MNIST, batch 32, default threads) run in two
Python threads of this process at once, and the same two one after the other; the
rounds alternate, medians of --repeats rounds, the ratio within this run. On N cores
each training alone takes all N; side by side they share them, each on CPUs of its own.

python benchmarks/bench_side_by_side.py [--epochs 3] [--repeats 5]
"""

import argparse
import os
import threading
import time

from cymlp import MLP
from cymlp.datasets import load_mnist
from harness import machine, median

parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("--epochs", type=int, default=3)
parser.add_argument("--repeats", type=int, default=5)
parser.add_argument("--n-threads", type=int, default=None, help="each training's (default: cymlp's)")
parser.add_argument("--data", default=os.environ.get("CYMLP_DATA"))
args = parser.parse_args()
(X, y), _ = load_mnist(args.data, raw=True)
print(machine())
print(f"net53k, batch 32, uint8 input, {args.epochs} epochs per training, n_threads="
      f"{args.n_threads or 'default'}, median of {args.repeats} rounds")


def train(seed):
    MLP([784, 64, 32, 10], seed=seed).train((X, y), batch_size=32, learning_rate=0.2,
                                            epochs=args.epochs, verbose=False,
                                            n_threads=args.n_threads)


def serial():
    start = time.perf_counter()
    train(0)
    train(1)
    return time.perf_counter() - start


def side_by_side():
    start = time.perf_counter()
    workers = [threading.Thread(target=train, args=(s,)) for s in (0, 1)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    return time.perf_counter() - start


times = {"one after the other": [], "side by side": []}
for _ in range(args.repeats):
    times["one after the other"].append(serial())
    times["side by side"].append(side_by_side())
for name, values in times.items():
    print(f"  {name:<20} {median(values):7.3f} s")
print(f"  side by side / one after the other: "
      f"{median(times['side by side']) / median(times['one after the other']):.2f}  (goal <= 0.75)")
