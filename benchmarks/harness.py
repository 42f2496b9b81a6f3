"""Shared by the benchmarks: the machine's description, interleaved medians, peer processes."""

import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
from threadpoolctl import threadpool_info

PEERS = Path(__file__).parent / "peers"


def machine():
    """One line naming the machine, the CPUs this process may use, BLAS and the load."""
    from cymlp._threads import allowed_cpus, usable_cores

    blas = sorted({f"{i['internal_api']} {i.get('version')} ({i.get('architecture')})"
                   for i in threadpool_info() if i["user_api"] == "blas"})
    load = os.getloadavg() if hasattr(os, "getloadavg") else ("?",)
    return (f"{platform.machine()} {platform.processor() or ''}, {os.cpu_count()} CPUs, "
            f"{len(allowed_cpus())} allowed, {usable_cores()} usable (affinity and quota); "
            f"BLAS {', '.join(blas)}; Python {platform.python_version()}, NumPy {np.__version__}; "
            f"load average {load[0]:.2f} at the start")


def interleave(contenders, repeats, pause=0.0):
    """Run each contender's epoch(seed) once per round, in turn, for ``repeats`` rounds;
    returns {name: [seconds, ...]} (an epoch returns its seconds, or None to be timed here)."""
    times = {name: [] for name in contenders}
    for r in range(repeats):
        for name, epoch in contenders.items():
            time.sleep(pause)   # thread pools that spin after their work go quiet first
            start = time.perf_counter()
            took = epoch(1000 + r)
            times[name].append(took if took is not None else time.perf_counter() - start)
    return times


def median(values):
    return statistics.median(values)


class Peer:
    """A peer program of benchmarks/peers/ kept running: epoch(seed) -> seconds."""

    def __init__(self, script, **options):
        args = [sys.executable, str(PEERS / script)]
        for key, value in options.items():
            args += [f"--{key.replace('_', '-')}", str(value)]
        env = dict(os.environ, OMP_NUM_THREADS=str(options.get("threads", 1)),
                   OPENBLAS_NUM_THREADS=str(options.get("threads", 1)))
        self.process = subprocess.Popen(args, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                        text=True, env=env, cwd=str(PEERS))
        line = self.process.stdout.readline().strip()
        if line != "ready":
            self.process.kill()
            raise RuntimeError(f"{script} did not start (said {line!r})")

    def epoch(self, seed):
        self.process.stdin.write(f"{seed}\n")
        self.process.stdin.flush()
        return float(self.process.stdout.readline())

    def close(self):
        self.process.stdin.write("\n")
        self.process.stdin.flush()
        self.process.wait(timeout=60)


def installed(module):
    try:
        __import__(module)
        return True
    except ImportError:
        return False
