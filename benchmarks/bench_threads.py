"""Threads, float32 and the NumPy reference on the paper's net (issue 13's speed goals).

Goals: batch 32, float64, net53k [784, 64, 32, 10]: 2 threads >= 1.5x one thread and
>= 5x the NumPy reference at 2 threads; float32 about 2x float64; more threads than
cores no slower than as many as cores.

Every contender trains on MNIST (float input; --uint8 for pixels) from the same
weights and shuffled orders, interleaved epoch by epoch in this process; the
figures are medians over --repeats epochs, and the ratios are taken within this run.

python benchmarks/bench_threads.py [--batch-size 32] [--threads 1,2,4] [--repeats 7]
"""

import argparse
import os

import numpy as np

from contenders import Cymlp, NumPyReference
from cymlp.datasets import load_mnist
from harness import interleave, machine, median

parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("--layers", default="784,64,32,10")
parser.add_argument("--batch-size", type=int, default=32)
parser.add_argument("--threads", default=None, help="default: 1, 2 and twice the usable cores")
parser.add_argument("--repeats", type=int, default=7)
parser.add_argument("--rows", type=int, default=60000)
parser.add_argument("--uint8", action="store_true", help="uint8 pixels as input")
parser.add_argument("--data", default=os.environ.get("CYMLP_DATA"))
parser.add_argument("--narrower-kernels", action="store_true",
                    help="also cymlp float64 with the C kernels built for AVX, not AVX-512")
args = parser.parse_args()

from cymlp._threads import usable_cores  # noqa: E402

sizes = [int(n) for n in args.layers.split(",")]
threads = ([int(t) for t in args.threads.split(",")] if args.threads
           else sorted({1, 2, usable_cores(), 2 * usable_cores()}))
(X8, y), _ = load_mnist(args.data, raw=True)
X8, y = X8[:args.rows], y[:args.rows]
X64 = X8 if args.uint8 else (X8 * (1 / 255)).astype(np.float64)
X32 = X8 if args.uint8 else X64.astype(np.float32)
S = args.batch_size
print(machine())
print(f"net {sizes}, batch {S}, {len(y)} rows, input {'uint8' if args.uint8 else 'float'}, "
      f"threads {threads}, median of {args.repeats} interleaved epochs")

contenders = {}
for t in threads:
    contenders[f"cymlp float64, {t} thread(s)"] = Cymlp(sizes, X64, y, S, t).epoch
    contenders[f"cymlp float32, {t} thread(s)"] = Cymlp(sizes, X32, y, S, t, np.float32).epoch
if args.narrower_kernels:
    for t in (1, 2):
        contenders[f"cymlp float64 AVX, {t} thread(s)"] = Cymlp(sizes, X64, y, S, t, kernels=1).epoch
X_ref = (X8 * (1 / 255)).astype(np.float64)
for t in (1, 2):
    contenders[f"NumPy reference, {t} BLAS thread(s)"] = NumPyReference(sizes, X_ref, y, S, t).epoch
times = {name: median(v) for name, v in interleave(contenders, args.repeats, pause=0.2).items()}
for name, seconds in times.items():
    print(f"  {name:<36} {seconds:7.3f} s/epoch")


def ratio(a, b):
    return times[b] / times[a]


print("ratios (speed-up, within this run):")
if 2 in threads:
    print(f"  float64 2 threads over 1 thread:        {ratio('cymlp float64, 2 thread(s)', 'cymlp float64, 1 thread(s)'):.2f}x  (goal >= 1.5)")
    print(f"  float64 2 threads over NumPy, 2 threads: "
          f"{ratio('cymlp float64, 2 thread(s)', 'NumPy reference, 2 BLAS thread(s)'):.2f}x  (goal >= 5)")
for t in threads:
    print(f"  float32 over float64, {t} thread(s):       "
          f"{ratio(f'cymlp float32, {t} thread(s)', f'cymlp float64, {t} thread(s)'):.2f}x  (goal about 2)")
if args.narrower_kernels:
    for t in (1, 2):
        print(f"  float64 {t} thread(s), widest kernels over AVX's: "
              f"{ratio(f'cymlp float64, {t} thread(s)', f'cymlp float64 AVX, {t} thread(s)'):.2f}x")
cores = usable_cores()
for t in threads:
    if t > cores and cores in threads:
        print(f"  {t} threads over {cores} (the usable cores), float64: "
              f"{ratio(f'cymlp float64, {t} thread(s)', f'cymlp float64, {cores} thread(s)'):.2f}x  (goal >= ~1)")
