"""float32, uint8 input, memmap input, any thread count, batches in chunks: same math, same results."""

import copy
import gzip
import os
import platform
import sys
import threading
import time

import joblib
import numpy as np
import pytest
import scipy.sparse as sp

from cymlp import MLP, _core
from cymlp import reference as ref
from cymlp.datasets import load_idx, scale
from conftest import max_abs_error, options_of, random_problem, train_with_reference


def trained(sizes, data, n_threads, dtype=np.float64):
    net = MLP(sizes, seed=3, dtype=dtype)
    net.train(data, batch_size=16, learning_rate=0.3, epochs=2, n_threads=n_threads, verbose=False)
    return net


def pixel_problem(sizes, n, seed=0):
    """uint8 'images' that are mostly zero, like MNIST."""
    rng = np.random.default_rng(seed)
    X8 = rng.integers(0, 256, (n, sizes[0])).astype(np.uint8)
    X8[rng.random(X8.shape) < 0.8] = 0
    return X8, rng.integers(0, sizes[-1], n)


@pytest.mark.parametrize("sizes", [[40, 10], [40, 64, 10], [50, 33, 7, 5], [30, 200, 20, 4]])
@pytest.mark.parametrize("sparse", [True, False])
def test_one_and_two_threads_give_bitwise_the_same_weights(sizes, sparse):
    X8, y = pixel_problem(sizes, 150)
    X = scale(X8) if sparse else np.random.default_rng(1).random(X8.shape)
    one, two = trained(sizes, (X, y), 1), trained(sizes, (X, y), 2)
    for a, b in zip(one.weights + one.biases, two.weights + two.biases):
        np.testing.assert_array_equal(a, b)


def test_two_threads_with_every_option_match_reference():
    sizes = [30, 20, 6, 4]
    X8, y = pixel_problem(sizes, 120)
    X = scale(X8)
    for kwargs in [dict(), dict(l2=1.0, momentum=0.8)]:
        net = MLP(sizes, seed=5, activation="tanh", output_activation="softmax",
                  cost="cross_entropy", init="xavier")
        got, want = train_with_reference(net, X, y, 9, 0.2, n_threads=2, **kwargs)
        assert max_abs_error(got, want) < 1e-9


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_uint8_input_trains_exactly_like_its_scaled_floats(dtype):
    """uint8 pixels are x * (1/255) in float64, rounded to the model's dtype: what the
    model makes of load_mnist()'s float64 pixels (in float32 too: 126 of the 256 pixel
    values would differ by an ulp if scaled in float32)."""
    sizes = [40, 16, 5]
    X8, y = pixel_problem(sizes, 100)
    X8[1:9, :32] = np.arange(256, dtype=np.uint8).reshape(8, 32)   # every pixel value
    floats = X8 * (1.0 / 255.0)                                      # (float64, as load_mnist)
    for n_threads in (1, 2):
        a = trained(sizes, (X8, y), n_threads, dtype)
        b = trained(sizes, (floats, y), n_threads, dtype)
        for p, q in zip(a.weights + a.biases, b.weights + b.biases):
            np.testing.assert_array_equal(p, q)
    np.testing.assert_array_equal(a.predict(X8), a.predict(floats))
    assert a.evaluate((X8, y)) == a.evaluate((floats, y))
    np.testing.assert_array_equal(a.feed_forward(X8[1]), a.feed_forward(floats[1]))
    np.testing.assert_array_equal(a.feed_forward(sp.csr_matrix(X8)), a.feed_forward(floats))


def test_a_memmap_of_an_uncompressed_idx_file_trains_in_place(mnist_dir, tmp_path):
    raw = tmp_path / "t10k-images-idx3-ubyte"
    raw.write_bytes(gzip.decompress((mnist_dir / "t10k-images-idx3-ubyte.gz").read_bytes()))
    images = np.memmap(raw, dtype=np.uint8, mode="r", offset=16, shape=(10000, 784))
    labels = load_idx(mnist_dir / "t10k-labels-idx1-ubyte.gz").astype(np.intp)
    a = MLP([784, 16, 10], seed=0)
    a.train((images, labels), batch_size=32, learning_rate=3.0, epochs=1, verbose=False)
    b = MLP([784, 16, 10], seed=0)
    b.train((np.array(images), labels), batch_size=32, learning_rate=3.0, epochs=1, verbose=False)
    for p, q in zip(a.weights, b.weights):
        np.testing.assert_array_equal(p, q)
    assert a.evaluate((images, labels)).accuracy > 0.3  # learned something (chance: 0.1)


@pytest.mark.parametrize("kwargs", [dict(), dict(activation="relu", output_activation="softmax",
                                                 cost="cross_entropy", init="he")])
def test_float32_stays_within_1e_4_of_float64_after_one_epoch(mnist, kwargs):
    (X, y), _ = mnist
    X, y = X[:5000], y[:5000]
    nets = {}
    for dtype in (np.float64, np.float32):
        net = MLP([784, 64, 32, 10], seed=0, dtype=dtype, **kwargs)
        net.train((X, y), batch_size=32, learning_rate=0.05, epochs=1, verbose=False)
        nets[dtype] = net
    assert all(W.dtype == np.float32 for W in nets[np.float32].weights)
    for a, b in zip(nets[np.float64].weights + nets[np.float64].biases,
                    nets[np.float32].weights + nets[np.float32].biases):
        assert np.max(np.abs(a - b)) < 1e-4


def test_float32_gradients_and_save_load(tmp_path):
    sizes = [12, 8, 3]
    X, y = random_problem(sizes, 20)
    net = MLP(sizes, seed=0, dtype=np.float32)
    grad_b, grad_W = net.backprop(X, y)
    want_b, want_W = ref.backprop([W.astype(float) for W in net.weights],
                                  [b.astype(float) for b in net.biases], X, ref.one_hot(y, 3))
    assert grad_W[0].dtype == np.float32
    for g, w in zip(grad_W + grad_b, want_W + want_b):
        np.testing.assert_allclose(g, w, rtol=1e-4, atol=1e-6)
    net.save(tmp_path / "m.npz")
    loaded = MLP.load(tmp_path / "m.npz")
    assert loaded.dtype == np.float32
    np.testing.assert_array_equal(loaded.feed_forward(X), net.feed_forward(X))
    with pytest.raises(ValueError, match="dtype"):
        MLP(sizes, dtype=np.int32)


@pytest.mark.skipif(not sys.platform.startswith("linux"),
                    reason="macOS wheels use the serial fallback (Apple clang has no OpenMP)")
def test_openmp_is_built_on_linux():
    """Linux builds use gcc: the two-thread path must really be compiled in."""
    assert _core.OPENMP


@pytest.mark.parametrize("n_threads", [1, 2])
def test_sparse_and_dense_batches_in_one_epoch_match_the_reference(n_threads):
    """Rows of very different density (some all zero, negative zeros among them): each
    batch takes the sparse or the dense first layer, and the epoch is the reference's."""
    sizes = [70, 24, 5]
    X8, y = pixel_problem(sizes, 96, seed=4)
    X = scale(X8)
    X[40:56] = np.random.default_rng(2).random((16, 70))  # a dense batch
    X[56:64] = 0.0
    X[64:72][X[64:72] == 0] = -0.0
    net = MLP(sizes, seed=2, activation="tanh", cost="cross_entropy", output_activation="softmax")
    for kwargs in [dict(), dict(l2=0.5, momentum=0.7)]:
        got, want = train_with_reference(net, X, y, 8, 0.3, n_threads=n_threads, **kwargs)
        assert max_abs_error(got, want) < 1e-9


def core_epochs(sizes, X, y, n_threads, batch_size, epochs=2, dtype=np.float64, **options):
    """Weights after epochs of the compiled core run with exactly n_threads threads
    (MLP.train would use at most the cores of this machine)."""
    net = MLP(sizes, seed=3, dtype=dtype)
    core = net._network(min(batch_size, _core.CHUNK), momentum=options.get("momentum", 0) > 0)
    rng = np.random.default_rng(0)
    for _ in range(epochs):
        core.train_epoch(X, y, rng.permutation(X.shape[0]).astype(np.intp), batch_size=batch_size,
                         learning_rate=0.3, n_threads=n_threads, **options)
    return net.weights + net.biases


@pytest.mark.parametrize("sizes,batch_size", [([40, 64, 10], 37), ([50, 33, 7, 5], 100),
                                              ([784, 64, 32, 10], 32), ([30, 200, 20, 4], 250),
                                              ([20, 300, 3], 1500)])
@pytest.mark.parametrize("raw", [True, False])
def test_any_thread_count_gives_bitwise_the_same_weights(sizes, batch_size, raw):
    """1, 2, 3, 4 and 7 threads on batches that do not divide evenly (and, at 1500 rows,
    a batch of two chunks): the partition of a batch never depends on the threads."""
    X8, y = pixel_problem(sizes, 1777 if batch_size > 1000 else 407, seed=len(sizes))
    X = X8 if raw else scale(X8)
    results = [core_epochs(sizes, X, y, n, batch_size) for n in (1, 2, 3, 4, 7)]
    for other in results[1:]:
        for a, b in zip(results[0], other):
            np.testing.assert_array_equal(a, b)


def test_any_thread_count_with_momentum_l2_and_float32():
    sizes = [30, 20, 6, 4]
    X8, y = pixel_problem(sizes, 203)
    for dtype, options in [(np.float64, dict(l2=1.0, momentum=0.8)), (np.float32, {})]:
        X = scale(X8).astype(dtype)
        results = [core_epochs(sizes, X, y, n, 9, dtype=dtype, **options) for n in (1, 3, 5)]
        for other in results[1:]:
            for a, b in zip(results[0], other):
                np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("n", [_core.CHUNK + 1, 2 * _core.CHUNK + 500])
@pytest.mark.parametrize("kwargs", [dict(), dict(l2=2.0, momentum=0.5)])
def test_a_batch_larger_than_a_chunk_matches_reference(n, kwargs):
    """gd="batch" on more rows than a chunk: the chunks' gradients are summed, then one update."""
    sizes = [60, 12, 5]
    X8, y = pixel_problem(sizes, n, seed=7)
    got, want = train_with_reference(MLP(sizes, seed=2), scale(X8), y, n, 0.5, epochs=2,
                                     gd="batch", **kwargs)
    assert max_abs_error(got, want) < 1e-9
    got, want = train_with_reference(MLP(sizes, seed=2), scale(X8), y, n - 7, 0.5, **kwargs)
    assert max_abs_error(got, want) < 1e-9


def test_trainings_side_by_side_get_their_own_cpus_and_the_serial_results():
    """Two trainings in threads of one process: each gets its fair share of the CPUs, no
    CPU is leased to both at once, and each ends with the weights it gets alone."""
    from cymlp import _threads

    sizes = [784, 32, 10]
    X8, y = pixel_problem(sizes, 3000, seed=4)
    alone = [MLP(sizes, seed=s) for s in (0, 1)]
    for net in alone:
        net.train((X8, y), batch_size=32, learning_rate=0.5, epochs=3, verbose=False)
    leases, lock = [], threading.Lock()
    real_lease = _threads.CPUS.lease

    def recording_lease(wanted):
        manager = real_lease(wanted)
        cpus = manager.__enter__()
        with lock:
            held = [c for c in cpus if c >= 0]
            leases.append(("take", threading.get_ident(), held))

        class Lease:
            def __enter__(self):
                return cpus

            def __exit__(self, *exc):
                with lock:
                    leases.append(("give", threading.get_ident(), held))
                return manager.__exit__(*exc)
        return Lease()

    together = [MLP(sizes, seed=s) for s in (0, 1)]
    _threads.CPUS.lease = recording_lease
    try:
        workers = [threading.Thread(target=net.train, args=((X8, y),),
                                    kwargs=dict(batch_size=32, learning_rate=0.5, epochs=3,
                                                verbose=False, n_threads=8))
                   for net in together]
        for w in workers:
            w.start()
        for w in workers:
            w.join()
    finally:
        del _threads.CPUS.lease
    for a, b in zip(alone, together):
        for p, q in zip(a.weights + a.biases, b.weights + b.biases):
            np.testing.assert_array_equal(p, q)
    assert len(leases) == 2 * 2 * 3  # a lease taken and given back per slice (here an epoch)
    holding = {}
    for event, who, cpus in leases:
        if event == "take":
            others = {c for k, v in holding.items() if k != who for c in v}
            assert not others & set(cpus), (cpus, holding)
            assert len(cpus) <= _threads.usable_cores()
            holding[who] = cpus
        else:
            holding[who] = []


def test_leases_divide_the_cores_among_running_trainings():
    from cymlp._threads import CpuShare, usable_cores

    share = CpuShare()
    cores = usable_cores()
    with share.training():
        with share.lease(10 ** 6) as cpus:
            assert len(cpus) == cores
        with share.training():
            if cores >= 2:
                with share.lease(10 ** 6) as first, share.lease(10 ** 6) as second:
                    assert len(first) == len(second) == cores // 2
                    pinned = [c for c in first if c >= 0], [c for c in second if c >= 0]
                    assert not set(pinned[0]) & set(pinned[1])


def test_a_forked_child_forgets_its_parents_trainings():
    import os
    import subprocess

    script = """
import os, threading, time
from cymlp._threads import CPUS
ready = threading.Event()
def train():
    with CPUS.training():
        ready.set(); time.sleep(3)
threading.Thread(target=train, daemon=True).start()
ready.wait()
if os.fork() == 0:      # exits at once (its atexit waits for no training)
    raise SystemExit(0)
start = time.time(); os.wait(); print(round(time.time() - start, 1))
"""
    if not hasattr(os, "fork"):
        pytest.skip("no fork here")
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 0 and float(result.stdout) < 2, (result.stdout, result.stderr)


def test_a_default_training_grows_back_to_every_core_once_it_is_alone():
    """Its threads are capped to the fair share at each slice, not fixed when it starts."""
    from contextlib import ExitStack

    from cymlp._threads import CPUS, LEASE_FLOPS, default_threads, leased_epoch, usable_cores

    cores, others = usable_cores(), ExitStack()

    class Core:   # records each slice's threads; the other training ends after the first
        threads = []

        def train_epoch(self, X, n_threads, **options):
            self.threads.append(n_threads)
            others.close()
            return 0.0, 0.0

    with CPUS.training():
        others.enter_context(CPUS.training())
        core = Core()
        leased_epoch(core, np.zeros((64, 4)), 32, default_threads(32), LEASE_FLOPS)
    assert core.threads == ([max(1, cores // 2), cores] if _core.OPENMP else [1, 1])


def test_omp_num_threads_caps_the_cores_and_then_nothing_is_pinned(monkeypatch):
    """A process pool's worker (OMP_NUM_THREADS: its share of the mask it shares with its
    siblings) uses at most that many threads and pins none of them."""
    from cymlp import _threads

    cpus = _threads.allowed_cpus()
    cores = min(len(cpus), joblib.cpu_count())
    for value, budget in [("", cores), ("0", cores), ("two", cores), ("1", 1), ("2,1", 2)]:
        monkeypatch.setenv("OMP_NUM_THREADS", value)
        assert _threads.usable_cores() == min(cores, budget), value
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    share = _threads.CpuShare()
    with share.training():
        with share.lease(8) as first, share.lease(8) as second:   # (neither waits)
            assert first == second == ([-1] if len(cpus) > 1 else cpus)


def _worker_threads():
    from cymlp import _threads
    with _threads.CPUS.training(), _threads.CPUS.lease(64) as cpus:
        return _threads.usable_cores(), cpus


def test_trainings_in_process_pool_workers_do_not_pin_to_the_same_cpus():
    from cymlp import _threads

    cpus = _threads.allowed_cpus()
    results = joblib.Parallel(n_jobs=2, backend="loky")(
        joblib.delayed(_worker_threads)() for _ in range(2))
    for cores, leased in results:
        assert cores == max(1, joblib.cpu_count() // 2)
        if len(cpus) > 1:
            assert leased == [-1] * cores


def _lease_in_thread(share, name, taken, release):
    """Start a thread that leases CPUs from share, appends its name to taken once it
    holds them, and gives them back when release is set."""
    def hold():
        with share.lease(10 ** 6):
            taken.append(threading.current_thread().name)
            release.wait(10)
    worker = threading.Thread(target=hold, name=name)
    worker.start()
    return worker


def test_a_lease_waits_in_turn_while_every_cpu_is_held():
    """With every CPU held, later leases queue (no CPU leased twice), first come first
    served, and each gets its CPUs once the holder gives them back."""
    from cymlp._threads import CpuShare, allowed_cpus, usable_cores

    if usable_cores() < len(allowed_cpus()):
        pytest.skip("under a CPU quota leases are never pinned, so never wait")
    share = CpuShare()
    taken = []
    with share.training():
        with share.lease(10 ** 6) as cpus:   # every CPU (the only training)
            assert len(cpus) == usable_cores()
            second, third = threading.Event(), threading.Event()
            workers = [_lease_in_thread(share, "second", taken, second)]
            while len(share._queue) < 1:
                time.sleep(0.01)
            workers.append(_lease_in_thread(share, "third", taken, third))
            while len(share._queue) < 2:
                time.sleep(0.01)
            time.sleep(0.1)
            assert taken == []                 # both wait while the CPUs are held
        deadline = time.monotonic() + 10
        while not taken and time.monotonic() < deadline:
            time.sleep(0.01)
        time.sleep(0.1)
        assert taken == ["second"]             # the first in the queue, alone
        second.set()
        workers[0].join(10)
        while len(taken) < 2 and time.monotonic() < deadline:
            time.sleep(0.01)
        assert taken == ["second", "third"]
        third.set()
        workers[1].join(10)
    assert not share._held and not share._queue


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="signals sent to itself")
def test_an_interrupted_wait_for_a_lease_leaves_no_trace():
    """Ctrl-C (here SIGUSR1's handler raising) while a lease waits for a CPU: the wait ends
    with the exception, and once the holder gives its CPUs back a new lease gets them."""
    import os
    import signal

    from cymlp._threads import CpuShare, allowed_cpus, usable_cores

    if usable_cores() < len(allowed_cpus()):
        pytest.skip("under a CPU quota leases are never pinned, so never wait")

    class Interrupted(Exception):
        pass

    def interrupt(signum, frame):
        raise Interrupted

    share = CpuShare()
    release, taken = threading.Event(), []
    previous = signal.signal(signal.SIGUSR1, interrupt)
    try:
        with share.training():
            holder = _lease_in_thread(share, "holder", taken, release)
            while not taken:
                time.sleep(0.01)
            threading.Timer(0.2, os.kill, (os.getpid(), signal.SIGUSR1)).start()
            with pytest.raises(Interrupted):
                with share.lease(1):
                    pytest.fail("leased a CPU that another lease holds")
            assert len(share._queue) == 0 and len(share._held) == 1
            release.set()
            holder.join(10)
            with share.lease(10 ** 6) as cpus:
                assert len(cpus) == usable_cores()
    finally:
        signal.signal(signal.SIGUSR1, previous)
    assert not share._held and not share._queue


@pytest.fixture
def lease_requests(monkeypatch):
    """The thread counts asked of CPUS.lease, one per lease, while the test runs."""
    from cymlp import _threads

    wanted = []
    real_lease = _threads.CPUS.lease

    def recording_lease(n):
        wanted.append(n)
        return real_lease(n)

    monkeypatch.setattr(_threads.CPUS, "lease", recording_lease)
    return wanted


def test_a_core_without_openmp_leases_one_cpu(monkeypatch, lease_requests):
    """A core built without OpenMP runs one thread, so it holds one CPU, whatever
    n_threads asks for (the other CPUs stay free for the other trainings)."""
    from cymlp import _threads

    wanted = lease_requests
    X8, y = pixel_problem([30, 8, 3], 100)
    for openmp, expected in ((True, 4), (False, 1)):
        monkeypatch.setattr(_threads._core, "OPENMP", openmp)
        wanted.clear()
        MLP([30, 8, 3], seed=0).train((X8, y), batch_size=32, epochs=1, verbose=False,
                                      n_threads=4)
        assert wanted == [expected]


def test_an_epoch_in_several_leases_gives_the_bits_of_one(monkeypatch, lease_requests):
    """leased_epoch cuts an epoch into slices of whole batches (here about 3 batches),
    each a call of the core with its own lease: the same weights, bit for bit, and the
    same training loss up to the rounding of its sum, for sgd and Adam."""
    from cymlp import _threads

    sizes = [60, 20, 5]
    X8, y = pixel_problem(sizes, 1000, seed=9)
    calls = lease_requests
    for optimizer in ("sgd", "adam"):
        runs = []
        for flops in (2 ** 40, 6 * 1300 * 3 * 25):
            monkeypatch.setattr(_threads, "LEASE_FLOPS", flops)
            calls.clear()
            net = MLP(sizes, seed=1)
            history = net.train((X8, y), batch_size=25, learning_rate=0.1, epochs=2,
                                optimizer=optimizer, verbose=False, n_threads=2)
            runs.append((net.weights + net.biases, history.train_loss, len(calls)))
        (one, loss_one, leases_one), (sliced, loss_sliced, leases_sliced) = runs
        assert leases_one == 2 and leases_sliced == 2 * 14   # 40 batches in 14 slices
        for a, b in zip(one, sliced):
            np.testing.assert_array_equal(a, b)
        np.testing.assert_allclose(loss_sliced, loss_one, rtol=1e-13)


FULL_BATCH_SCRIPT = """
import sys
from cymlp import MLP
from cymlp.datasets import load_mnist
(X, y), _ = load_mnist(sys.argv[1], raw=True)
gd = sys.argv[2]
MLP([784, 64, 32, 10], seed=0).train((X, y), gd=gd, batch_size=32, learning_rate=0.2, epochs=1,
                                     verbose=False)
with open("/proc/self/status") as f:
    print(next(int(line.split()[1]) for line in f if line.startswith("VmHWM")))
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="needs Linux /proc")
def test_a_full_batch_step_on_mnist_peaks_near_the_mini_batch_memory(mnist_dir):
    """gd="batch" runs in chunks: its peak RSS (VmHWM of a fresh process, uint8 input)
    stays within 100 MB of a mini-batch epoch's."""
    import subprocess

    peaks = {}
    for gd in ("mini-batch", "batch"):
        out = subprocess.run([sys.executable, "-c", FULL_BATCH_SCRIPT, str(mnist_dir), gd],
                             capture_output=True, text=True, timeout=300, check=True)
        peaks[gd] = int(out.stdout.split()[-1]) / 1024
    assert peaks["batch"] < peaks["mini-batch"] + 100, peaks


@pytest.mark.parametrize("kwargs", [dict(), dict(l2=0.5, momentum=0.7)])
def test_a_batch_of_two_chunks_with_columns_zero_in_one_of_them_matches_the_reference(kwargs):
    """A batch of 1,500 rows runs as chunks of 1,024 and 476: column 5 is zero in the
    first chunk only, column 6 in the second only, column 7 everywhere; two epochs, so
    a gradient left over from the last batch would show."""
    sizes = [20, 12, 3]
    X8, y = pixel_problem(sizes, 1500, seed=6)
    X = scale(X8)
    X[:1024, 5] = 0.0
    X[1024:, 5] = 0.5
    X[1024:, 6] = 0.0
    X[:1024, 6] = 0.25
    X[:, 7] = 0.0
    net = MLP(sizes, seed=4)
    got, want = train_with_reference(net, X, y, 1500, 0.5, epochs=2, gd="batch", **kwargs)
    assert max_abs_error(got, want) < 1e-9



@pytest.mark.parametrize("batch_size", [32, 128, 1500])
@pytest.mark.parametrize("n_threads", [1, 2])
def test_the_sparse_gradient_over_groups_of_row_blocks_matches_the_reference(batch_size,
                                                                             n_threads):
    """The sparse gradient takes a column's entries in several row blocks in one call of
    the kernel: every block of the chunk (batch 32: 2 blocks of 16 rows), groups of 3
    and 1 (128: 4 blocks of 32 rows of 40 units, 10 KB of D each), one block at a time
    (the chunks of 1,024 and 476 rows of a batch of 1,500)."""
    sizes = [60, 40, 5]
    X8, y = pixel_problem(sizes, 1500, seed=7)
    net = MLP(sizes, seed=2)
    got, want = train_with_reference(net, scale(X8), y, batch_size, 0.3, epochs=2, l2=0.5,
                                     momentum=0.6, n_threads=n_threads)
    assert max_abs_error(got, want) < 1e-9


KERNEL_OPTIMIZERS = {"sgd": {}, "nesterov": dict(momentum=0.9, alpha=1e-3), "adam": dict(alpha=1e-3)}


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("width", [7, 45, 64, 100, 105, 230, 400])
def test_every_build_of_the_kernels_gives_the_same_bits(dtype, width):
    """csrc/cymlp_kernels.h is built for SSE2, for AVX and for AVX-512, with the same
    operations in the same order: an epoch of the sparse first layer, with plain SGD,
    Nesterov's momentum with L2, and Adam, is bitwise the same on each build this CPU
    runs, for first layers of
    `width` units: the AVX build's passes of 1 to 13 vectors and remainders (230 doubles:
    12 + 12 + 11 + 11 + 11 vectors and 2 values; 105 floats: 13 vectors and 1 value), the
    AVX-512 build's passes of 1 to 24 vectors with a masked last one (400 doubles: a
    gradient of 17 + 17 + 16 vectors, forward tiles of 24 and 13 + 13 vectors; 105
    floats: 7 vectors, 9 lanes of the last)."""
    sizes = [90, width, 7, 3]
    X8, y = pixel_problem(sizes, 300, seed=8)
    X = scale(X8).astype(dtype)
    results = {}
    try:
        for level in (0, 1, 2):
            used = _core._kernel_level(level)
            if sys.platform.startswith("linux") and platform.machine() == "x86_64":
                assert used == min(level, _widest_vectors())
            if used != level:
                continue
            for optimizer in KERNEL_OPTIMIZERS:
                net = MLP(sizes, seed=2, dtype=dtype, activation="relu", cost="cross_entropy",
                          output_activation="softmax")
                core = net._network(20, momentum=optimizer == "nesterov",
                                    adam=optimizer == "adam")
                order = np.random.default_rng(1).permutation(300).astype(np.intp)
                core.train_epoch(X, y, order, batch_size=20, learning_rate=0.05,
                                 optimizer=optimizer, n_threads=2, **KERNEL_OPTIMIZERS[optimizer])
                results[level, optimizer] = net.weights + net.biases
    finally:
        _core._kernel_level(2)
    levels = sorted({level for level, _ in results})
    for optimizer in KERNEL_OPTIMIZERS:
        for level in levels[1:]:
            for a, b in zip(results[0, optimizer], results[level, optimizer]):
                np.testing.assert_array_equal(a, b)


def _widest_vectors():
    """2 if this CPU has AVX-512 (with AVX2), 1 if AVX, else 0 (Linux: /proc/cpuinfo's
    flags)."""
    with open("/proc/cpuinfo") as f:
        flags = next(line for line in f if line.startswith("flags")).split()
    if "avx512f" in flags and "avx2" in flags:
        return 2
    return int("avx" in flags)


# each with a layer of >= _core.WIDE weights; the last one's first layer is not a whole number
# of cache lines wide (its transposed rows are padded)
WIDE_NETS = [[520, 512, 24, 5], [40, 520, 512, 3], [600, 442, 6]]
WIDE_OPTIONS = {  # MLP.train options, ReferenceMLP.train_epoch options
    "sgd": (dict(), dict()),
    "momentum + l2": (dict(momentum=0.8, l2=3.0), dict(momentum=0.8, l2=3.0)),
    "adam": (dict(optimizer="adam", beta_1=0.8, beta_2=0.99, epsilon=1e-7),
             dict(solver="adam", beta_1=0.8, beta_2=0.99, epsilon=1e-7)),
}


def wide_problem(sizes, n, seed=0):
    """Mostly-zero rows with a dense batch's worth among them, and labels."""
    X8, y = pixel_problem(sizes, n, seed)
    X = scale(X8)
    X[40:90] = np.random.default_rng(seed + 1).random((50, sizes[0]))
    return X, y


@pytest.mark.parametrize("sizes", WIDE_NETS)
@pytest.mark.parametrize("optimizer", WIDE_OPTIONS)
def test_a_wide_network_trained_a_layer_at_a_time_matches_the_reference(sizes, optimizer):
    """Phase 2 by blocks of units (sparse and dense first layers, hidden layers, the
    output by rows, the deltas back), on 2 threads: two epochs are the reference's."""
    assert max(a * b for a, b in zip(sizes, sizes[1:])) >= _core.WIDE
    X, y = wide_problem(sizes, 230)
    for hidden, output, cost in [("sigmoid", "sigmoid", "quadratic"),
                                 ("relu", "softmax", "cross_entropy")]:
        net = MLP(sizes, seed=4, activation=hidden, output_activation=output, cost=cost,
                  init="xavier")
        start = [w.copy() for w in net.weights], [b.copy() for b in net.biases]
        generator = copy.deepcopy(net._rng)
        train, reference = WIDE_OPTIONS[optimizer]
        history = net.train((X, y), batch_size=37, learning_rate=0.05, epochs=2, verbose=False,
                            n_threads=2, **train)
        model = ref.ReferenceMLP(*start, 37, options_of(net))
        losses = [sum(model.train_epoch(X, ref.one_hot(y, sizes[-1]), generator.permutation(len(y)),
                                        37, 0.05, **reference)) for _ in range(2)]
        assert max_abs_error(net.weights + net.biases, start[0] + start[1]) < 1e-9
        np.testing.assert_allclose(history.train_loss, losses, rtol=1e-9)



@pytest.mark.parametrize("sizes", [[600, 442, 6], [600, 442, 300, 6]])
@pytest.mark.parametrize("optimizer", WIDE_OPTIONS)
def test_a_wide_sparse_first_layer_of_padded_rows_matches_the_reference(sizes, optimizer):
    """Sparse batches only, a layer at a time on 2 threads, and a first layer of 442 units,
    whose transposed rows (and copied deltas) are padded to 448: the reference's epoch.
    Behind a second layer of 300 units the first layer's deltas come back (and are
    copied) in 8 blocks of units, shared by the threads; behind the output layer in one."""
    X8, y = pixel_problem(sizes, 120, seed=3)
    X = scale(X8)
    net = MLP(sizes, seed=5, init="xavier")
    start = [w.copy() for w in net.weights], [b.copy() for b in net.biases]
    generator = copy.deepcopy(net._rng)
    train, reference = WIDE_OPTIONS[optimizer]
    net.train((X, y), batch_size=30, learning_rate=0.1, epochs=1, verbose=False, n_threads=2,
              **train)
    model = ref.ReferenceMLP(*start, 30, options_of(net))
    model.train_epoch(X, ref.one_hot(y, sizes[-1]), generator.permutation(len(y)), 30, 0.1,
                      **reference)
    assert max_abs_error(net.weights + net.biases, start[0] + start[1]) < 1e-9


def test_a_wide_regression_with_adam_over_two_chunks_matches_the_reference():
    sizes = [40, 520, 512, 3]
    X, _ = wide_problem(sizes, _core.CHUNK + 300, seed=5)
    Y = np.random.default_rng(6).normal(size=(X.shape[0], 3))
    net = MLP(sizes, seed=1, activation="tanh", output_activation="identity", init="xavier")
    start = [w.copy() for w in net.weights], [b.copy() for b in net.biases]
    net.train((X, Y), gd="batch", learning_rate=0.01, epochs=2, optimizer="adam", verbose=False,
              n_threads=2)
    model = ref.ReferenceMLP(*start, X.shape[0], options_of(net))
    for _ in range(2):
        model.train_epoch(X, Y, None, X.shape[0], 0.01, solver="adam")
    assert max_abs_error(net.weights + net.biases, start[0] + start[1]) < 1e-9


@pytest.mark.parametrize("batch_size", [37, 1500])
@pytest.mark.parametrize("raw", [True, False])
def test_a_wide_network_gives_bitwise_the_same_weights_on_any_thread_count(batch_size, raw):
    sizes = [520, 512, 24, 5]
    X8, y = pixel_problem(sizes, 1700 if batch_size > 1000 else 300, seed=2)
    X = X8 if raw else scale(X8)
    results = [core_epochs(sizes, X, y, n, batch_size) for n in (1, 2, 3, 4, 7)]
    for other in results[1:]:
        for a, b in zip(results[0], other):
            np.testing.assert_array_equal(a, b)


@pytest.mark.skipif(not _core.OPENMP, reason="a core without OpenMP runs one thread")
@pytest.mark.parametrize("setting", ["OMP_THREAD_LIMIT=1", "OMP_DYNAMIC=true"])
def test_a_smaller_openmp_team_than_asked_for_trains_the_same(setting):
    """OpenMP may start fewer threads than a training asks for: the core's barriers wait for
    the threads it has (they waited forever for the missing ones), with the same result."""
    import subprocess

    script = """
import numpy as np
from cymlp import MLP
rng = np.random.default_rng(0)
X, y = rng.random((256, 20)), rng.integers(0, 3, 256)
weights = []
for n_threads in (1, 2, 4):
    net = MLP([20, 16, 3], seed=0)
    net.train((X, y), epochs=2, verbose=False, n_threads=n_threads)
    weights.append(np.concatenate([W.ravel() for W in net.weights]))
print(all(np.array_equal(w, weights[0]) for w in weights))
"""
    name, value = setting.split("=")
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                            timeout=120, env={**os.environ, name: value})
    assert result.returncode == 0 and result.stdout.strip() == "True", result.stderr
