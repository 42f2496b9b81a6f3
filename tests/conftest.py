import copy
import os
from pathlib import Path

import numpy as np
import pytest

from cymlp import reference as ref


@pytest.fixture(scope="session")
def mnist_dir():
    """The folder with the MNIST IDX files: $CYMLP_DATA (set by .ci/run).

    Where the files are not at hand (the wheel builds' test runs), the tests
    that need them download them if CYMLP_DOWNLOAD_FOR_TESTS is set, else
    they are skipped; .ci/run sets CYMLP_REQUIRE_DATA so that they never are.
    """
    folder = os.environ.get("CYMLP_DATA")
    if folder:
        return Path(folder)
    if os.environ.get("CYMLP_DOWNLOAD_FOR_TESTS"):
        from cymlp.datasets import MNIST_FILES, _find, cache_folder, download_mnist_file

        folder = cache_folder()  # (the files only: the mnist fixture parses them)
        for stem in MNIST_FILES.values():
            if _find([folder], stem) is None:
                download_mnist_file(stem, folder)
        return folder
    if os.environ.get("CYMLP_REQUIRE_DATA"):
        pytest.fail("CYMLP_DATA must point at the MNIST files")
    pytest.skip("set CYMLP_DATA to the folder with the MNIST IDX files")


@pytest.fixture(scope="session")
def mnist(mnist_dir):
    from cymlp.datasets import load_mnist

    return load_mnist(mnist_dir)


def random_problem(sizes, n, seed=0):
    """Random inputs in [0, 1) and labels for a network with these layer sizes."""
    rng = np.random.default_rng(seed)
    return rng.random((n, sizes[0])), rng.integers(0, sizes[-1], n)


def options_of(net):
    """The reference's Options for an MLP's activations, cost and leaky slope."""
    return ref.Options(len(net.weights), net.activation, net.output_activation, net.cost,
                       net.leaky_slope)


def numeric_gradient(P, cost, h=1e-6):
    """dC/dP by central differences, moving one entry of the array P at a time."""
    numeric = np.empty_like(P)
    for index in np.ndindex(P.shape):
        saved = P[index]
        P[index] = saved + h
        up = cost()
        P[index] = saved - h
        down = cost()
        P[index] = saved
        numeric[index] = (up - down) / (2 * h)
    return numeric


def max_abs_error(got, want):
    return max(np.max(np.abs(g - w)) for g, w in zip(got, want))


def max_relative_error(got, want):
    return max(np.max(np.abs(g - w)) / max(np.max(np.abs(w)), 1e-300) for g, w in zip(got, want))


def train_with_reference(net, X, y, batch_size, learning_rate, epochs=1, gd="mini-batch",
                         l2=0.0, momentum=0.0, **train_options):
    """Train ``net`` with MLP.train and the NumPy reference from the same start, on the same
    shuffled orders; returns (the net's parameters, the reference's)."""
    n = X.shape[0]
    weights, biases = [w.copy() for w in net.weights], [b.copy() for b in net.biases]
    rng = copy.deepcopy(net._rng)  # the generator that will shuffle the epochs
    net.train((X, y), gd=gd, batch_size=batch_size, learning_rate=learning_rate, epochs=epochs,
              l2=l2, momentum=momentum, verbose=False, **train_options)
    S = {"mini-batch": batch_size, "batch": n, "sgd": 1}[gd]
    reference = ref.ReferenceMLP(weights, biases, S, options_of(net))
    for _ in range(epochs):  # (the velocity carries over from epoch to epoch)
        order = None if gd == "batch" else rng.permutation(n)
        reference.train_epoch(X, ref.one_hot(y, net.layer_sizes[-1]), order, S, learning_rate,
                              l2, momentum)
    return net.weights + net.biases, weights + biases


def pytest_sessionfinish(session, exitstatus):
    """With CYMLP_NO_SKIP set (.ci/run, which has every test dependency and the MNIST files), a
    skipped test fails the run: skips are only for the wheel builds' slim test sets."""
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    if not os.environ.get("CYMLP_NO_SKIP") or reporter is None or exitstatus != pytest.ExitCode.OK:
        return
    skipped = [report.nodeid for report in reporter.stats.get("skipped", [])]
    if skipped:
        reporter.ensure_newline()
        reporter.write_line(f"CYMLP_NO_SKIP: {len(skipped)} skipped, none may be: "
                            + " ".join(skipped), red=True)
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
