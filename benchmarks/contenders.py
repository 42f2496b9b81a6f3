"""cymlp and the NumPy reference as benchmark contenders: epoch(seed) trains one epoch."""

import numpy as np
from threadpoolctl import threadpool_limits

from cymlp import MLP, _core
from cymlp import reference as ref
from cymlp._threads import CPUS


class Cymlp:
    """The compiled core as MLP.train drives it (BLAS at one thread, CPUs leased,
    here for a whole epoch at a time), with at most ``threads`` threads; its C kernels
    built for vectors up to ``kernels`` (_core._kernel_level: 2 the widest the CPU has)."""

    def __init__(self, sizes, X, y, batch_size, threads, dtype=np.float64, learning_rate=0.2,
                 kernels=2):
        self.net = MLP(sizes, seed=0, dtype=dtype)
        self.core = self.net._network(min(batch_size, _core.CHUNK))
        self.X, self.y, self.S, self.threads, self.lr = X, y, batch_size, threads, learning_rate
        self.kernels = kernels

    def epoch(self, seed):
        self.train(np.random.default_rng(seed).permutation(self.X.shape[0]))

    def train(self, order):
        """One epoch over the rows of X in this order."""
        order = np.asarray(order, dtype=np.intp)
        _core._kernel_level(self.kernels)
        with threadpool_limits(limits=1, user_api="blas"), CPUS.training(), \
                CPUS.lease(self.threads) as cpus:
            self.core.train_epoch(self.X, self.y, order, batch_size=self.S,
                                  learning_rate=self.lr, check_every=1 << 40,
                                  n_threads=len(cpus), cpus=cpus)


class NumPyReference:
    """cymlp.reference.ReferenceMLP (buffers allocated once, out= everywhere) with
    ``threads`` BLAS threads."""

    def __init__(self, sizes, X, y, batch_size, threads, learning_rate=0.2):
        net = MLP(sizes, seed=0)
        self.model = ref.ReferenceMLP(net.weights, net.biases, batch_size)
        self.X, self.Y, self.S, self.threads = X, ref.one_hot(y, sizes[-1]), batch_size, threads
        self.lr = learning_rate

    def epoch(self, seed):
        order = np.random.default_rng(seed).permutation(self.X.shape[0])
        with threadpool_limits(limits=self.threads, user_api="blas"):
            self.model.train_epoch(self.X, self.Y, order, self.S, self.lr)
