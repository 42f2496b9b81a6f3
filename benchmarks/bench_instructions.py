"""Instructions per batch under valgrind's callgrind: counts that do not swing as seconds do.

cymlp (benchmarks/peers/cymlp_sgd.py) and PyTorch (peers/torch_sgd.py), the same manual SGD
on the first --batches x --batch-size MNIST images, one thread each. Each program runs
twice under callgrind, with no epoch and with one; the difference, divided by the batches,
is one batch's instructions (the start-up and data loading cancel out). Slow: valgrind
runs each program about 50 times slower than natively (minutes for the wide net).

python benchmarks/bench_instructions.py [--layers 784,1024,1024,10] [--batch-size 256]
    [--batches 4]
"""

import argparse
import os
import re
import shutil
import subprocess
import sys

from harness import PEERS, installed, machine

parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("--layers", default="784,1024,1024,10")
parser.add_argument("--batch-size", type=int, default=256)
parser.add_argument("--batches", type=int, default=4)
parser.add_argument("--data", default=os.environ.get("CYMLP_DATA"))
args = parser.parse_args()
if shutil.which("valgrind") is None:
    sys.exit("bench_instructions.py needs valgrind (apt install valgrind)")


def instructions(program, epochs):
    """Instructions callgrind counts in a whole run of the peer program training `epochs`."""
    command = ["valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null", sys.executable,
               str(PEERS / program), "--layers", args.layers, "--threads", "1",
               "--batch-size", str(args.batch_size), "--rows", str(args.batches * args.batch_size),
               "--data", args.data or ""]
    env = dict(os.environ, OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1")
    run = subprocess.run(command, input="1\n" * epochs + "\n", capture_output=True, text=True,
                         env=env, check=True)
    return int(re.search(r"Collected : (\d+)", run.stderr).group(1))


print(machine())
print(f"net {args.layers}, batch {args.batch_size}, float64, one thread, "
      f"{args.batches} batches, instructions per batch (callgrind)")
counts = {}
for name, program in (("cymlp", "cymlp_sgd.py"), ("PyTorch", "torch_sgd.py")):
    if name == "PyTorch" and not installed("torch"):
        continue
    counts[name] = (instructions(program, 1) - instructions(program, 0)) / args.batches
    print(f"  {name:<8} {counts[name] / 1e6:9.1f} M instructions per batch")
if len(counts) == 2:
    print(f"  cymlp / PyTorch: {counts['cymlp'] / counts['PyTorch']:.2f}x the instructions")
