"""Seconds per epoch of net53k on MNIST: cymlp and NumPy (cymlp.bench), then the peers.

cymlp and the NumPy reference run as ``cymlp bench`` runs them (interleaved in this
process); at batch 32 the peers of benchmarks/peers/ follow, each in a process of
its own kept running for its --repeats epochs: PyTorch (float64, manual SGD) and JAX
(jit + lax.scan) where installed, at each thread count, and the paper's per-example
loop on one thread. Their speed-up over NumPy uses the NumPy figure of this run.

python benchmarks/bench_epoch.py [--repeats 5] [--threads 1,2] [--batch-sizes 1,10,32,128,60000]
    [--out DIR]
"""

import argparse
import json
import os

from cymlp import bench
from harness import Peer, installed, interleave, machine, median

parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("--data", default=os.environ.get("CYMLP_DATA"))
parser.add_argument("--repeats", type=int, default=5)
parser.add_argument("--batch-sizes", default="1,10,32,128,60000")
parser.add_argument("--threads", default="1,2")
parser.add_argument("--out", default=None, help="write bench.json, bench.md, bench.png here")
args = parser.parse_args()
print(machine())
threads = [int(t) for t in args.threads.split(",")]
rows, memory = bench.run(args.data, args.repeats, tuple(int(b) for b in args.batch_sizes.split(",")),
                         tuple(threads))
peers = [("PyTorch float64", "torch_sgd.py", threads, "torch"),
         ("JAX float64 (jit + lax.scan)", "jax_scan.py", threads, "jax"),
         ("paper's per-example loop", "paper_loop.py", [1], None)]
for name, script, counts, module in peers:
    if module and not installed(module):
        continue
    for t in counts:
        peer = Peer(script, threads=t, batch_size=32, data=args.data or "")
        repeats = 1 if module is None else args.repeats   # (the loop takes seconds an epoch)
        seconds = median(interleave({name: peer.epoch}, repeats)[name])
        peer.close()
        numpy = next(r["seconds"] for r in rows if r["contender"] == "NumPy reference"
                     and r["threads"] == t and r["batch_size"] == 32)
        rows.append({"batch_size": 32, "threads": t, "contender": name, "seconds": seconds,
                     "gflops": bench.FLOP_PER_EXAMPLE * 60000 / seconds / 1e9,
                     "vs_numpy": numpy / seconds})
        print(f"batch    32, {t} thread(s): {name:<32} {seconds:7.3f} s/epoch "
              f"({rows[-1]['vs_numpy']:.2f}x NumPy)", flush=True)
info = bench.machine()
text = bench.markdown(rows, memory, info)
print("\n" + text)
if args.out:
    os.makedirs(args.out, exist_ok=True)
    with open(os.path.join(args.out, "bench.json"), "w") as f:
        json.dump({"machine": info, "net": bench.SIZES, "rows": rows, "peak_rss_mb": memory}, f, indent=2)
    with open(os.path.join(args.out, "bench.md"), "w") as f:
        f.write(text + "\n")
    try:
        bench.chart(rows, os.path.join(args.out, "bench.png"))
    except ImportError:
        pass
