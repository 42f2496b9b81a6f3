"""cymlp: the multilayer perceptron of *An Introduction to Deep Learning* with a compiled core.

>>> from cymlp import MLP
>>> from cymlp.datasets import load_mnist
>>> train, test = load_mnist()
>>> net = MLP([784, 64, 32, 10], seed=0)
>>> history = net.train(train, learning_rate=0.2, epochs=10, test_data=test)
"""

from ._mlp import MLP, EpochRecord, Evaluation, History
from ._perceptron import Perceptron

__version__ = "0.1.0"
__all__ = ["MLP", "Perceptron", "Evaluation", "EpochRecord", "History", "__version__"]
