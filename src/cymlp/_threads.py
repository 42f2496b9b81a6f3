"""How many threads a training uses, and on which CPUs.

The CPUs this process may use (its affinity mask, capped by a cgroup CPU quota,
``joblib.cpu_count()``, and by OMP_NUM_THREADS) are shared among the trainings
running in the process. Each training registers for the whole of ``MLP.train`` (or
a scikit-learn fit) and leases CPUs for a slice of an epoch at a time
(``leased_epoch``: about LEASE_FLOPS of work, a fraction of a second unless a single
batch is more): its thread count is at most its fair share (the cores divided by the
trainings running), and its threads are pinned to CPUs that no other training holds,
so trainings side by side never spin on one CPU while another is free. A training
that finds every CPU held waits for the next slice boundary, in turn (first come,
first served), rather than crowd a CPU. A process that may keep fewer cores busy
than its mask holds (under a quota, or a process pool's OMP_NUM_THREADS: its sibling
workers share the mask) pins nothing and leaves its threads' placement to the
operating system. The result of a training never depends on its thread count (the
core's partition of a batch does not) nor on its slices (they are whole batches), so
this changes only its speed (and the rounding of the epoch's summed loss).
"""

from __future__ import annotations

import atexit
import os
import signal
import threading
from collections import deque
from contextlib import contextmanager

import joblib
from threadpoolctl import threadpool_limits

from . import _core

LEASE_FLOPS = 2 ** 32   # the work of one lease of CPUs (0.1 to 1 s on one core)


@contextmanager
def blas_at_one_thread():
    """BLAS held at one thread while a training runs: the core splits each batch itself.

    threadpoolctl finds the BLAS libraries through a ctypes callback, and CPython drops a
    KeyboardInterrupt raised inside one ("Exception ignored on calling ctypes callback"),
    so in the main thread a Ctrl-C that comes during that search is held until it is over.
    """
    pressed = []
    hold = (threading.current_thread() is threading.main_thread()
            and signal.getsignal(signal.SIGINT) is signal.default_int_handler)
    if hold:
        previous = signal.signal(signal.SIGINT, lambda signum, frame: pressed.append(signum))
    try:
        limits = threadpool_limits(limits=1, user_api="blas")
    finally:
        if hold:
            signal.signal(signal.SIGINT, previous)
    try:
        if pressed:
            raise KeyboardInterrupt
        yield
    finally:
        limits.restore_original_limits()


class TrainingStopped(Exception):
    """Raised in a training, between two slices of an epoch, that was asked to stop: the
    sweep it runs in ended early (an error, Ctrl-C), or the interpreter is exiting."""


# Set at exit; per thread, the stop Event of the sweep whose run the thread is training
_EXITING = threading.Event()
_SWEEP = threading.local()


@contextmanager
def stopped_by(event):
    """Trainings in this thread, within the block, stop (TrainingStopped) at their next
    slice once ``event`` is set: only the main thread sees Ctrl-C, so the runs of a sweep
    in threads are stopped through it."""
    previous = getattr(_SWEEP, "stop", None)
    _SWEEP.stop = event
    try:
        yield
    finally:
        _SWEEP.stop = previous


def _check_not_stopped():
    sweep = getattr(_SWEEP, "stop", None)
    if _EXITING.is_set() or (sweep is not None and sweep.is_set()):
        raise TrainingStopped("training stopped: " + ("the interpreter is exiting"
                                                      if _EXITING.is_set() else "its sweep ended"))


def allowed_cpus():
    """The CPU ids this process may run on, in order (all of os.cpu_count() off Linux)."""
    try:
        return sorted(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return list(range(os.cpu_count() or 1))


def thread_budget():
    """OMP_NUM_THREADS (its first number), or None when it is not set to a positive integer.
    Process pools set it to each worker's share of the CPUs (joblib's loky: the CPUs divided
    by the workers; dask's workers: 1)."""
    value = os.environ.get("OMP_NUM_THREADS", "").split(",")[0].strip()
    return int(value) if value.isdigit() and int(value) > 0 else None


def usable_cores():
    """How many cores this process may keep busy: its CPUs, capped by a cgroup quota and by
    OMP_NUM_THREADS."""
    budget = thread_budget()
    cores = min(len(allowed_cpus()), joblib.cpu_count())
    return max(1, cores if budget is None else min(cores, budget))


class CpuShare:
    """The process's CPUs, shared among the trainings running in it."""

    def __init__(self):
        self._lock = threading.Condition()  # (notified when a lease is taken or given back)
        self._running = 0          # trainings registered
        self._held = {}            # lease id -> the CPUs it holds
        self._queue = deque()      # the leases waiting, first come first

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
                self._lock.notify_all()

    def wait_until_idle(self, timeout):
        """Wait (up to ``timeout`` seconds) until no training is running; True if none is."""
        with self._lock:
            return self._lock.wait_for(lambda: self._running == 0, timeout)

    @contextmanager
    def lease(self, wanted):
        """Threads for a slice of a training that wants up to ``wanted``: yields the CPU
        ids to pin them to (one per thread; -1: unpinned). Waits, in turn, while other
        trainings hold every CPU (so a thread holding a lease must not ask for another).
        An exception while waiting (Ctrl-C) leaves the queue as it was."""
        cpus = allowed_cpus()
        cores = usable_cores()
        key = object()
        try:
            with self._lock:
                self._queue.append(key)
                try:
                    while True:
                        share = max(1, cores // max(1, self._running))
                        threads = max(1, min(wanted, share))
                        held = {cpu for lease in self._held.values() for cpu in lease}
                        free = [cpu for cpu in cpus if cpu not in held]
                        # Pin only when the process owns whole CPUs: under a quota (or a
                        # pool's OMP_NUM_THREADS) smaller than its mask, no CPU is ours.
                        if self._queue[0] is key and (cores < len(cpus) or free):
                            break
                        # (with a timeout, so that Ctrl-C is seen on every platform)
                        self._lock.wait(0.5)
                    mine = free[:threads] if cores == len(cpus) else [-1] * threads
                    self._held[key] = [cpu for cpu in mine if cpu >= 0]
                finally:
                    self._queue.remove(key)
                    self._lock.notify_all()   # (the next in the queue may go on now)
            yield mine
        finally:
            with self._lock:
                if self._held.pop(key, None) is not None:
                    self._lock.notify_all()


CPUS = CpuShare()


def _forget_after_fork():
    """A forked child has none of its parent's other threads: none of their trainings."""
    CPUS.__init__()
    _EXITING.clear()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_after_fork)


@atexit.register
def _stop_trainings_at_exit():
    """Trainings still running in other threads (a sweep's, a daemon thread's) stop at
    their next slice, and exit waits for them: a thread that the interpreter's shutdown
    stops inside the core's parallel region would abort the process."""
    previous_hook = threading.excepthook

    def quiet_hook(args):   # (a thread's training stopped by the exit is no error to print)
        if not issubclass(args.exc_type, TrainingStopped):
            previous_hook(args)

    threading.excepthook = quiet_hook
    _EXITING.set()
    CPUS.wait_until_idle(timeout=60)


def default_threads(batch_size):
    """Threads a training wants by default: the cores this process may use (affinity and
    cgroup quota), each lease capping them to the fair share as it is then (so a training
    that started beside others grows back once they end); or 1 for batches under 32
    rows, too small for a second thread to pay for its waits, or a core built without
    OpenMP."""
    if not _core.OPENMP or batch_size < 32:
        return 1
    return usable_cores()


def leased_epoch(core, X, batch_size, n_threads, flops_per_row, **options):
    """One epoch of ``core.train_epoch(X, ..., **options)`` in slices of whole batches
    of about LEASE_FLOPS each, with CPUs leased for each slice: a training that starts
    beside this one gets its share at the next slice, not the next epoch. The batches,
    and so the weights, are those of one call. Returns the summed (cost, penalty)."""
    n = X.shape[0]
    step = batch_size * max(1, int(LEASE_FLOPS // (flops_per_row * batch_size)))
    wanted = n_threads if _core.OPENMP else 1   # (a core without OpenMP runs one thread)
    cost = penalty = 0.0
    for start in range(0, n, step):
        _check_not_stopped()
        with CPUS.lease(wanted) as cpus:
            part = core.train_epoch(X, batch_size=batch_size, n_threads=len(cpus), cpus=cpus,
                                    start=start, stop=min(n, start + step), **options)
        cost += part[0]
        penalty += part[1]
    return cost, penalty
