"""Scaling from one thread to every core, beside PyTorch (issue 13's many-core report).

Workloads: the paper's net [784, 64, 32, 10] at batch 32 and 128 over the 60,000 MNIST
images, and the wide net [784, 1024, 1024, 10] at batch 256 over the first --wide-rows.
For each workload and thread count, cymlp (float64, in this process) and PyTorch's
manual SGD (float64, benchmarks/peers/torch_sgd.py in a process of its own at the same
thread count) train interleaved epochs from the same weights and orders. Medians of
--repeats epochs; each contender's speedup is over its own one-thread time, and the
cymlp/PyTorch ratio is taken within this run.

python benchmarks/bench_scaling.py [--threads 1,2,4,8,16] [--repeats 3] [--no-torch]
"""

import argparse
import os

import numpy as np

from contenders import Cymlp
from cymlp._threads import usable_cores
from cymlp.datasets import load_mnist
from harness import Peer, installed, interleave, machine, median

parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("--threads", default=None, help="default: 1, 2, 4, ... and every usable core")
parser.add_argument("--repeats", type=int, default=3)
parser.add_argument("--wide-rows", type=int, default=10000)
parser.add_argument("--workloads", default="paper32,paper128,wide256")
parser.add_argument("--no-torch", action="store_true", help="cymlp alone")
parser.add_argument("--data", default=os.environ.get("CYMLP_DATA"))
args = parser.parse_args()

cores = usable_cores()
threads = ([int(t) for t in args.threads.split(",")] if args.threads
           else sorted({t for t in (1, 2, 4, 8, 16, 32, 64, 128) if t < cores} | {cores}))
WORKLOADS = {
    "paper32": ("paper net, batch 32", [784, 64, 32, 10], 32, 60000),
    "paper128": ("paper net, batch 128", [784, 64, 32, 10], 128, 60000),
    "wide256": ("wide net, batch 256", [784, 1024, 1024, 10], 256, args.wide_rows),
}
(X8, y_all), _ = load_mnist(args.data, raw=True)
X_all = (X8 * (1 / 255)).astype(np.float64)
with_torch = installed("torch") and not args.no_torch
print(machine())
print(f"threads {threads}; median of {args.repeats} interleaved epochs; float64; "
      f"PyTorch {'beside' if with_torch else 'not run'}")

table = []
for key in args.workloads.split(","):
    title, sizes, batch, rows = WORKLOADS[key]
    X, y = X_all[:rows], y_all[:rows]
    print(f"\n{title}, {sizes}, {rows} rows per epoch")
    print(f"  {'threads':>7} {'cymlp s':>9} {'speedup':>8} {'PyTorch s':>10} {'speedup':>8}"
          f" {'cymlp/PyTorch':>14}")
    base = {}
    for t in threads:
        contenders = {"cymlp": Cymlp(sizes, X, y, batch, t).epoch}
        peer = None
        if with_torch:
            peer = Peer("torch_sgd.py", layers=",".join(map(str, sizes)), batch_size=batch,
                        threads=t, rows=rows, learning_rate=0.2, data=args.data or "")
            contenders["PyTorch"] = peer.epoch
        try:
            times = {k: median(v) for k, v in interleave(contenders, args.repeats, 0.2).items()}
        finally:
            if peer is not None:
                peer.close()
        for name, seconds in times.items():
            base.setdefault(name, seconds)
        line = f"  {t:>7} {times['cymlp']:9.3f} {base['cymlp'] / times['cymlp']:7.2f}x"
        row = [title, t, times["cymlp"], base["cymlp"] / times["cymlp"]]
        if peer is not None:
            ratio = times["PyTorch"] / times["cymlp"]
            line += (f" {times['PyTorch']:10.3f} {base['PyTorch'] / times['PyTorch']:7.2f}x"
                     f" {ratio:13.2f}x")
            row += [times["PyTorch"], base["PyTorch"] / times["PyTorch"], ratio]
        print(line, flush=True)
        table.append(row)

print("\n| workload | threads | cymlp s/epoch | speedup | PyTorch s/epoch | speedup | cymlp over PyTorch |")
print("|---|---:|---:|---:|---:|---:|---:|")
for row in table:
    cells = [row[0], str(row[1]), f"{row[2]:.3f}", f"{row[3]:.2f}x"]
    cells += ([f"{row[4]:.3f}", f"{row[5]:.2f}x", f"{row[6]:.2f}x"] if len(row) > 4 else ["", "", ""])
    print("| " + " | ".join(cells) + " |")
