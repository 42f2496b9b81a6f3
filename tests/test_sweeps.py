"""Sweeps (Figures 7 and 8) on every backend: threads, loky processes, a dask cluster."""

import os
import pickle
import sys
import threading
import warnings

import numpy as np
import pytest

from cymlp import experiments
from cymlp.experiments import Backend, fig7, fig7_run, fig8, fig8_run, sweep

FRACTIONS = (0.1, 0.5, 1.0)
SIZES = ([784, 10], [784, 16, 10], [784, 32, 16, 10])


@pytest.fixture(scope="module")
def data():
    """Small uint8 images (1.2 MB: above joblib's 1 MB memory-mapping threshold) and labels."""
    rng = np.random.default_rng(0)
    train = rng.integers(0, 256, (1500, 784), dtype=np.uint8), rng.integers(0, 10, 1500)
    test = rng.integers(0, 256, (200, 784), dtype=np.uint8), rng.integers(0, 10, 200)
    return train, test


@pytest.fixture(scope="module")
def cluster():
    pytest.importorskip("dask.distributed")  # (the musllinux wheel tests have none)
    from dask.distributed import LocalCluster

    with LocalCluster(n_workers=2, processes=True, threads_per_worker=1,
                      dashboard_address=":0") as cluster:
        yield cluster


def sweeps(data, backend, jobs=1):
    return (fig7(*data, epochs=2, fractions=FRACTIONS, backend=backend, jobs=jobs),
            fig8(*data, epochs=2, sizes=SIZES, backend=backend, jobs=jobs))


@pytest.fixture(scope="module")
def one_after_another(data):
    return sweeps(data, "threading", jobs=1)


@pytest.mark.parametrize("backend", ["threading", "loky"])
def test_joblib_backends_give_bitwise_the_results_of_one_run_after_another(data, one_after_another,
                                                                           backend):
    assert sweeps(data, backend, jobs=2) == one_after_another


def where_the_data_is(train, test, index):
    """A sweep task that reports what it was given in place of each array of the data."""
    return tuple((type(a).__name__, getattr(a, "filename", None)) for a in (*train, *test))


def test_loky_workers_share_one_memory_mapped_copy_of_the_data(data):
    try:  # the copy of cloudpickle that loky uses: joblib's own, or the one installed
        from joblib.externals import cloudpickle
    except ImportError:
        import cloudpickle

    cloudpickle.register_pickle_by_value(sys.modules[__name__])  # the workers cannot import tests
    try:
        seen = sweep(where_the_data_is, *data, [{"index": i} for i in range(4)], "loky", jobs=2)
    finally:
        cloudpickle.unregister_pickle_by_value(sys.modules[__name__])
    for array in range(4):   # images and labels, training and test: each sent once
        assert {seen[i][array][0] for i in range(4)} == {"memmap"}
        assert len({seen[i][array][1] for i in range(4)}) == 1


def test_a_dask_cluster_gives_bitwise_the_same_results(data, one_after_another, cluster):
    assert sweeps(data, f"dask={cluster.scheduler_address}") == one_after_another


def test_a_local_dask_cluster_of_jobs_workers(data, one_after_another):
    pytest.importorskip("dask.distributed")
    with Backend("dask", jobs=2) as backend:
        assert len(backend._client.scheduler_info()["workers"]) == 2
        assert sweeps(data, backend) == one_after_another


def test_each_result_reaches_the_caller_as_it_arrives(data, one_after_another, cluster):
    arrived = []

    def on_result(result):
        arrived.append((result, os.getpid(), threading.current_thread() is threading.main_thread()))

    results = fig8(*data, epochs=2, sizes=SIZES, backend=f"dask={cluster.scheduler_address}",
                   on_result=on_result)
    assert results == one_after_another[1]
    assert sorted(arrived) == sorted((result, os.getpid(), True) for result in results)


def test_dask_receives_the_data_once_not_in_every_task(data, cluster):
    import dask
    from dask.distributed import Client

    def large_graph_warnings(run):
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            run()
        return [w for w in caught if "Sending large graph" in str(w.message)]

    with dask.config.set({"distributed.admin.large-graph-warning-threshold": "500kB"}):
        with Backend("dask", address=cluster.scheduler_address) as backend:
            assert large_graph_warnings(lambda: fig8(*data, epochs=1, sizes=SIZES, backend=backend)) == []
        with Client(cluster) as client:  # the data inside each task instead: dask warns
            task = lambda: client.submit(fig8_run, *data, layers=[784, 10], epochs=1).result()  # noqa: E731
            assert large_graph_warnings(task)


def test_tasks_are_module_level_functions_pickled_by_reference():
    for task in (fig7_run, fig8_run, experiments._indexed_call):
        payload = pickle.dumps(task)
        assert len(payload) < 100 and pickle.loads(payload) is task


def test_fig7_run_and_fig8_run_are_one_run_of_the_sweep(data, one_after_another):
    assert fig7_run(*data, fraction=0.5, epochs=2) == one_after_another[0][0.5]
    assert fig8_run(*data, layers=[784, 16, 10], epochs=2) == one_after_another[1][1]


@pytest.mark.parametrize("args,message", [
    (("spark",), "backend must be one of threading, loky, dask; got 'spark'"),
    (("loky", 2, "tcp://host:8786"), "only the dask backend takes a scheduler address"),
    (("threading", 0), "jobs must be an integer >= 1, got 0"),
])
def test_bad_backends_are_refused(args, message):
    with pytest.raises(ValueError, match=message):
        Backend(*args)
    with pytest.raises(ValueError, match="expected dask=SCHEDULER_ADDRESS"):
        Backend.parse("dask=")


# A sweep whose runs (in threads) outlive the main thread: the first run fails, or the
# interpreter exits while a daemon thread trains. Its trainings must stop at their next
# slice and let the process end normally (they aborted it: "free(): invalid pointer").
SWEEP_THAT_FAILS = """
import numpy as np
from cymlp.experiments import fig8
rng = np.random.default_rng(0)
data = [(rng.integers(0, 256, (n, 784), dtype=np.uint8), rng.integers(0, 10, n)) for n in (6000, 200)]
fig8(*data, epochs=1000, sizes=([784, 64, 10], [784, 0, 10], [784, 32, 10]), jobs=2)
"""
TRAINING_AT_EXIT = """
import threading, time
import numpy as np
from cymlp import MLP
rng = np.random.default_rng(0)
X, y = rng.random((6000, 784)), rng.integers(0, 10, 6000)
training = threading.Thread(target=MLP([784, 64, 32, 10], seed=0).train, args=((X, y),),
                            kwargs=dict(epochs=1000, verbose=False, n_threads=1), daemon=True)
training.start()
time.sleep(1)
"""


@pytest.mark.parametrize("script, status, last", [
    (SWEEP_THAT_FAILS, 1, "ValueError: layer_sizes[1] must be >= 1, got 0"),
    (TRAINING_AT_EXIT, 0, None)], ids=["a run fails", "exit while a thread trains"])
def test_trainings_in_threads_stop_when_the_process_ends(script, status, last):
    import subprocess
    import time

    start = time.perf_counter()
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                            timeout=300)
    lines = result.stderr.strip().splitlines()
    assert result.returncode == status, result.stderr[-2000:]
    assert (lines[-1] if lines else None) == last
    assert time.perf_counter() - start < 60   # (the other runs stopped, not finished)
