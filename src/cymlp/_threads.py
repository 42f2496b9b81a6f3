"""How many threads a training uses, and on which CPUs.

The CPUs this process may use (its affinity mask, capped by a cgroup CPU quota:
``joblib.cpu_count()``) are shared among the trainings running in the process.
Each training registers for the whole of ``MLP.train`` and leases CPUs for one
epoch at a time: its thread count is at most its fair share (the cores divided
by the trainings running), and its threads are pinned to CPUs that no other
training holds, so trainings side by side never spin on one CPU while another
is free. A training that starts while the others hold every CPU runs one
unpinned thread until their next epochs make room. The result of a training
never depends on its thread count (the core's partition of a batch does not),
so this changes only its speed.
"""

from __future__ import annotations

import os
import threading
from contextlib import contextmanager

import joblib

from . import _core


def allowed_cpus():
    """The CPU ids this process may run on, in order (all of os.cpu_count() off Linux)."""
    try:
        return sorted(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return list(range(os.cpu_count() or 1))


def usable_cores():
    """How many cores this process may keep busy: its CPUs, capped by a cgroup quota."""
    return max(1, min(len(allowed_cpus()), joblib.cpu_count()))


class CpuShare:
    """The process's CPUs, shared among the trainings running in it."""

    def __init__(self):
        self._lock = threading.Lock()
        self._running = 0          # trainings registered
        self._held = {}            # lease id -> the CPUs it holds

    @contextmanager
    def training(self):
        """Count one more training running for the duration of the block."""
        with self._lock:
            self._running += 1
        try:
            yield
        finally:
            with self._lock:
                self._running -= 1

    def fair_share(self):
        """Cores per running training (at least 1)."""
        with self._lock:
            return max(1, usable_cores() // max(1, self._running))

    @contextmanager
    def lease(self, wanted):
        """Threads for one epoch of a training that wants up to ``wanted``: yields the
        CPU ids to pin them to (one per thread), or an empty list for one unpinned
        thread when every CPU is held by other trainings."""
        cpus = allowed_cpus()
        cores = usable_cores()
        with self._lock:
            share = max(1, cores // max(1, self._running))
            threads = max(1, min(wanted, share))
            held = {cpu for lease in self._held.values() for cpu in lease}
            free = [cpu for cpu in cpus if cpu not in held]
            # Pin only when the process owns whole CPUs: under a quota smaller than its
            # mask, time is rationed but no CPU is ours to take.
            if cores < len(cpus) or not free:
                mine = []
            else:
                mine = free[:threads]
            key = object()
            self._held[key] = mine
        try:
            yield mine if mine else [-1] * (threads if cores < len(cpus) else 1)
        finally:
            with self._lock:
                del self._held[key]


CPUS = CpuShare()


def default_threads(batch_size):
    """Threads for training: the fair share of the cores this process may use (affinity
    and cgroup quota, shared with the other trainings running in it), or 1 for batches
    under 32 rows, too small for a second thread to pay for its waits, or a core built
    without OpenMP."""
    if not _core.OPENMP or batch_size < 32:
        return 1
    return CPUS.fair_share()
