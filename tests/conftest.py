import os
from pathlib import Path

import numpy as np
import pytest


@pytest.fixture(scope="session")
def mnist_dir():
    """The folder with the MNIST IDX files: $CYMLP_DATA (set by .ci/run)."""
    folder = os.environ.get("CYMLP_DATA")
    if not folder:
        if os.environ.get("CI"):
            pytest.fail("CYMLP_DATA must point at the MNIST files in CI")
        pytest.skip("set CYMLP_DATA to the folder with the MNIST IDX files")
    return Path(folder)


@pytest.fixture(scope="session")
def mnist(mnist_dir):
    from cymlp.datasets import load_mnist

    return load_mnist(mnist_dir)


def random_problem(sizes, n, seed=0):
    """Random inputs in [0, 1) and labels for a network with these layer sizes."""
    rng = np.random.default_rng(seed)
    return rng.random((n, sizes[0])), rng.integers(0, sizes[-1], n)
