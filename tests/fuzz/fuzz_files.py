"""Fuzz the IDX reader and the model loader with mutated files (run in a subprocess).

Prints "<reader> <files tried> <slowest seconds>"; any exception but ValueError fails.
"""

import gzip
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from cymlp import MLP
from cymlp.datasets import load_idx

N = int(sys.argv[1]) if len(sys.argv) > 1 else 300
rng = np.random.default_rng(0)
folder = Path(tempfile.mkdtemp())

idx = bytes([0, 0, 8, 3]) + np.array([5, 4, 3], ">u4").tobytes() + bytes(range(60))
MLP([4, 3, 2], seed=0).save(folder / "model.npz")
model = (folder / "model.npz").read_bytes()


def mutate(data):
    data = bytearray(data)
    kind = rng.integers(4)
    if kind == 0 and len(data):                          # truncate
        return bytes(data[: rng.integers(len(data))])
    if kind == 1:                                        # flip random bytes
        for _ in range(rng.integers(1, 8)):
            if data:
                data[rng.integers(len(data))] = rng.integers(256)
        return bytes(data)
    if kind == 2:                                        # lying header: huge dimensions
        data[4:8] = rng.integers(2**32 - 1, dtype=np.uint64).astype(">u4").tobytes()
        return bytes(data)
    return bytes(data) + bytes(rng.integers(0, 256, rng.integers(1, 50), dtype=np.uint8))


def fuzz(name, seed_bytes, read, compress):
    slowest = 0.0
    for i in range(N):
        if compress and i % 4 == 3:                      # a damaged gzip stream
            data = mutate(gzip.compress(seed_bytes))
        else:
            data = mutate(seed_bytes)
            if compress and i % 2:
                data = gzip.compress(data)
        path = folder / f"{name}-{i}"
        path.write_bytes(data)
        start = time.perf_counter()
        try:
            read(path)
        except ValueError:
            pass
        slowest = max(slowest, time.perf_counter() - start)
    print(name, N, f"{slowest:.3f}")


fuzz("idx", idx, load_idx, compress=True)
fuzz("model", model, MLP.load, compress=False)
