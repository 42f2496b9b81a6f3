"""Peak memory of one MNIST epoch, mini-batch against full batch (issue 11's goal: the
full batch within 100 MB of the mini-batch figure).

Each figure is VmHWM from /proc/self/status of a fresh process that loads MNIST (uint8
pixels, or float64 with --float64) and trains net53k for one epoch.

python benchmarks/bench_memory.py [--float64]
"""

import argparse
import os
import subprocess
import sys

from harness import machine

CODE = """
import sys
from cymlp import MLP
from cymlp.datasets import load_mnist
(X, y), _ = load_mnist(sys.argv[1] or None, raw=sys.argv[3] == "uint8")
MLP([784, 64, 32, 10], seed=0).train((X, y), gd=sys.argv[2], batch_size=32, learning_rate=0.2,
                                     epochs=1, verbose=False)
print(next(int(l.split()[1]) for l in open("/proc/self/status") if l.startswith("VmHWM")))
"""

parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("--float64", action="store_true")
parser.add_argument("--data", default=os.environ.get("CYMLP_DATA") or "")
args = parser.parse_args()
kind = "float64" if args.float64 else "uint8"
print(machine())
peaks = {}
for gd in ("mini-batch", "batch"):
    out = subprocess.run([sys.executable, "-c", CODE, args.data, gd, kind], capture_output=True,
                         text=True, check=True)
    peaks[gd] = int(out.stdout.split()[-1]) / 1024
    print(f"  {gd:<10} from {kind}: peak RSS {peaks[gd]:.0f} MB")
print(f"  full batch - mini-batch: {peaks['batch'] - peaks['mini-batch']:+.0f} MB  (goal < 100)")
