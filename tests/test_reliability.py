"""Reliability: fuzzed inputs (in subprocesses), Ctrl-C, threads, memory."""

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from cymlp import MLP
from conftest import random_problem

FUZZ = Path(__file__).parent / "fuzz"


def run_script(script, *args, timeout=600):
    result = subprocess.run([sys.executable, str(FUZZ / script), *map(str, args)],
                            capture_output=True, text=True, timeout=timeout)
    assert result.returncode == 0, f"crashed or raised (exit {result.returncode}):\n{result.stderr}"
    return result.stdout


def test_public_entry_points_raise_only_documented_errors():
    """Hypothesis over MLP, train, feed_forward, predict, evaluate, MeanSquaredError,
    backprop and Perceptron: only ValueError/TypeError, never a crash (subprocess)."""
    counts = dict(line.rsplit(" ", 1) for line in run_script("fuzz_entry_points.py", 150).splitlines())
    assert len(counts) == 5 and all(int(n) >= 100 for n in counts.values()), counts


def test_idx_reader_and_model_loader_survive_mutated_files():
    out = run_script("fuzz_files.py", 300)
    for line in out.splitlines():
        name, count, slowest = line.split()
        assert int(count) == 300 and float(slowest) < 1.0, line  # no hang, no giant allocation


@pytest.mark.skipif(sys.platform == "win32", reason="no SIGINT to another process on Windows")
@pytest.mark.parametrize("n_threads", [1, 2, 3])
def test_sigint_to_a_training_process_returns_within_half_a_second(n_threads):
    """(3 threads: the core itself, as MLP.train uses at most the cores; on a 2-core
    machine more threads than cores, all of which must stop.)"""
    code = f"""
import sys, time
import numpy as np
from cymlp import MLP
rng = np.random.default_rng(0)
X, y = rng.random((20000, 784)), rng.integers(0, 10, 20000)
net = MLP([784, 64, 32, 10], seed=0)
print("training", flush=True)
start = None
try:
    if {n_threads} <= 2:
        net.train((X, y), batch_size=32, epochs=10000, verbose=False, n_threads={n_threads})
    core = net._network(32)
    while True:
        core.train_epoch(X, y, None, batch_size=32, learning_rate=0.1, n_threads={n_threads})
except KeyboardInterrupt:
    ok = all(np.isfinite(p).all() for p in net.weights + net.biases)
    print("interrupted", ok, net.evaluate((X[:100], y[:100])).total, flush=True)
"""
    child = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    watchdog = threading.Timer(60, child.kill)  # a hang fails the test instead of blocking it
    watchdog.start()
    assert child.stdout.readline().strip() == "training"
    time.sleep(1.0)
    sent = time.perf_counter()
    child.send_signal(signal.SIGINT)
    line = child.stdout.readline().strip()
    elapsed = time.perf_counter() - sent
    child.wait(timeout=30)
    watchdog.cancel()
    assert line == "interrupted True 100" and child.returncode == 0
    assert elapsed < 0.5, f"took {elapsed:.3f} s"


def test_concurrent_predictions_match_serial_ones():
    X, y = random_problem([50, 40, 10], 2000)
    net = MLP([50, 40, 10], seed=0)
    net.train((X, y), epochs=2, verbose=False)
    serial = net.predict(X)
    outputs = net.feed_forward(X)
    results, errors = [None] * 8, []

    def work(i):
        try:
            for _ in range(5):
                assert np.array_equal(net.predict(X), serial)
            results[i] = net.feed_forward(X)
        except Exception as error:  # noqa: BLE001 - reported below
            errors.append(error)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert all(np.array_equal(r, outputs) for r in results)


def rss_kb():
    with open("/proc/self/status") as f:
        return next(int(line.split()[1]) for line in f if line.startswith("VmRSS"))


@pytest.mark.skipif(not os.path.exists("/proc/self/status"), reason="needs Linux /proc")
def test_a_thousand_train_predict_cycles_do_not_leak():
    X, y = random_problem([20, 10, 3], 64)
    net = MLP([20, 10, 3], seed=0)

    def cycle():
        net.train((X, y), batch_size=16, epochs=1, verbose=False)
        net.predict(X)

    for _ in range(100):  # warm up: caches, allocator pools
        cycle()
    before = rss_kb()
    for _ in range(1000):
        cycle()
    growth = rss_kb() - before
    assert growth < 1024, f"RSS grew by {growth} KiB"


@pytest.mark.skipif(sys.platform == "win32", reason="no SIGINT sent to this process on Windows")
def test_a_ctrl_c_while_threadpoolctl_searches_the_libraries_is_not_lost(monkeypatch):
    import ctypes

    from cymlp import _threads

    restored = []

    class Limits:   # stands in for threadpoolctl's, whose search runs a ctypes callback
        def __init__(self, **kwargs):
            @ctypes.CFUNCTYPE(None)
            def search():
                os.kill(os.getpid(), signal.SIGINT)
                time.sleep(0.05)   # the handler runs here, inside the callback
            search()

        def restore_original_limits(self):
            restored.append(True)

    dropped = []
    with monkeypatch.context() as m:
        m.setattr(sys, "unraisablehook", lambda u: dropped.append(u.exc_type))
        Limits()   # unheld, CPython drops the KeyboardInterrupt raised inside the callback
    assert dropped == [KeyboardInterrupt]
    monkeypatch.setattr(_threads, "threadpool_limits", Limits)
    ran = []
    with pytest.raises(KeyboardInterrupt):
        with _threads.blas_at_one_thread():
            ran.append(True)
    assert ran == [] and restored == [True]
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
    X, y = random_problem([4, 3, 2], 20)
    net = MLP([4, 3, 2], seed=0)
    before = [W.copy() for W in net.weights]
    with pytest.raises(KeyboardInterrupt):
        net.train((X, y), epochs=1, batch_size=5, verbose=False)
    assert all(np.array_equal(W, B) for W, B in zip(net.weights, before))
