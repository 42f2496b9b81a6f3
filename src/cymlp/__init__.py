"""cymlp: the multilayer perceptron of *An Introduction to Deep Learning* with a compiled core.

>>> from cymlp import MLP
>>> from cymlp.datasets import load_mnist
>>> train, test = load_mnist()
>>> net = MLP([784, 64, 32, 10], seed=0)
>>> history = net.train(train, learning_rate=0.2, epochs=10, test_data=test)
"""

from typing import TYPE_CHECKING

__version__ = "0.1.0"
__all__ = ["MLP", "Perceptron", "Evaluation", "EpochRecord", "History", "__version__"]

if TYPE_CHECKING:
    from ._mlp import MLP, EpochRecord, Evaluation, History
    from ._perceptron import Perceptron


def __getattr__(name):
    # The classes load NumPy and the compiled core on first use, not on `import cymlp`:
    # the command line starts its error handling (Ctrl-C included) before they load.
    if name in ("MLP", "EpochRecord", "Evaluation", "History"):
        from . import _mlp

        return getattr(_mlp, name)
    if name == "Perceptron":
        from ._perceptron import Perceptron

        return Perceptron
    raise AttributeError(f"module 'cymlp' has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(__all__))
