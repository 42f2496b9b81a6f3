import os
from pathlib import Path

import numpy as np
import pytest


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
        from cymlp.datasets import cache_folder, load_mnist

        load_mnist(download=True)
        return cache_folder()
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
