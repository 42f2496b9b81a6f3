"""A wide network against PyTorch (issue 13's goal: at least as fast at 1 and 2 threads).

[784, 1024, 1024, 10], batch 256, float64, sigmoid and quadratic cost, manual SGD in
both: cymlp in this process, PyTorch in a process of its own (benchmarks/peers/
torch_sgd.py, kept running), their epochs over the first --rows MNIST images
interleaved; medians of --repeats epochs, ratios within this run.

python benchmarks/bench_wide.py [--threads 1,2] [--rows 20000] [--repeats 5]
"""

import argparse
import os

import numpy as np

from contenders import Cymlp
from cymlp.datasets import load_mnist
from harness import Peer, installed, interleave, machine, median

parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("--layers", default="784,1024,1024,10")
parser.add_argument("--batch-size", type=int, default=256)
parser.add_argument("--threads", default="1,2")
parser.add_argument("--rows", type=int, default=20000)
parser.add_argument("--repeats", type=int, default=5)
parser.add_argument("--data", default=os.environ.get("CYMLP_DATA"))
args = parser.parse_args()
sizes = [int(n) for n in args.layers.split(",")]
(X8, y), _ = load_mnist(args.data, raw=True)
X, y = (X8[:args.rows] * (1 / 255)).astype(np.float64), y[:args.rows]
print(machine())
print(f"net {sizes}, batch {args.batch_size}, float64, {len(y)} rows per epoch, "
      f"median of {args.repeats} interleaved epochs")
for t in (int(t) for t in args.threads.split(",")):
    contenders = {f"cymlp, {t} thread(s)": Cymlp(sizes, X, y, args.batch_size, t).epoch}
    torch = None
    if installed("torch"):
        torch = Peer("torch_sgd.py", layers=args.layers, batch_size=args.batch_size, threads=t,
                     rows=args.rows, learning_rate=0.2, data=args.data or "")
        contenders[f"PyTorch, {t} thread(s)"] = torch.epoch
    times = {k: median(v) for k, v in interleave(contenders, args.repeats, pause=0.2).items()}
    for name, seconds in times.items():
        print(f"  {name:<24} {seconds:7.3f} s per {len(y)} rows")
    if torch is not None:
        torch.close()
        print(f"  cymlp over PyTorch at {t} thread(s): "
              f"{times[f'PyTorch, {t} thread(s)'] / times[f'cymlp, {t} thread(s)']:.2f}x  (goal >= 1)")
