"""The paper's multilayer perceptron with a compiled training loop."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass

import numpy as np

from . import _core
from ._validation import (
    as_dataset,
    as_example,
    as_labels,
    check_gd,
    check_int,
    check_layer_sizes,
    check_parameters,
    check_positive_float,
)

# Rows fed forward at once by predict/evaluate: bounds memory for large sets.
_FORWARD_CHUNK = 8192
# Floating-point operations between two looks for Ctrl-C (tens of milliseconds).
_FLOPS_PER_SIGNAL_CHECK = 5e8


@dataclass(frozen=True)
class Evaluation:
    """Result of :meth:`MLP.evaluate`; prints as the paper does: ``9446/10000``."""

    correct: int
    total: int

    @property
    def accuracy(self) -> float:
        """Fraction of correctly classified examples, in [0, 1]."""
        return self.correct / self.total

    def __str__(self) -> str:
        return f"{self.correct}/{self.total}"


@dataclass(frozen=True)
class EpochRecord:
    """One reported epoch of :meth:`MLP.train`.

    ``epoch`` counts completed epochs (1-based); ``mse``, ``correct`` and
    ``total`` describe the test data (None without test data); ``seconds`` is
    the training time since ``train`` started, evaluation excluded.
    """

    epoch: int
    mse: float | None
    correct: int | None
    total: int | None
    seconds: float

    @property
    def accuracy(self) -> float | None:
        return None if self.total is None else self.correct / self.total


class History(list):
    """The list of :class:`EpochRecord` returned by :meth:`MLP.train`."""


class MLP:
    """A fully connected network with sigmoid units trained on the quadratic cost.

    Parameters
    ----------
    layer_sizes : sequence of int
        Units per layer, input first: ``[784, 64, 32, 10]`` is the paper's net53k.
    seed : int or None
        Seed of the model's random generator (``numpy.random.default_rng``),
        which draws the initial parameters and shuffles every epoch: the same
        seed and data give the same trained weights.

    Attributes
    ----------
    weights : list of ndarray
        ``weights[l]`` has shape (layer_sizes[l+1], layer_sizes[l]), drawn from N(0, 1).
    biases : list of ndarray
        ``biases[l]`` has shape (layer_sizes[l+1],), drawn from N(0, 1).
    """

    def __init__(self, layer_sizes, seed=None):
        self.layer_sizes = check_layer_sizes(layer_sizes)
        self._rng = np.random.default_rng(seed)
        pairs = list(zip(self.layer_sizes[:-1], self.layer_sizes[1:]))
        # As in the paper: all biases first, then all weights.
        self.biases = [self._rng.standard_normal(n_out) for _, n_out in pairs]
        self.weights = [self._rng.standard_normal((n_out, n_in)) for n_in, n_out in pairs]
        self._training = threading.Lock()

    def __repr__(self):
        return f"MLP({list(self.layer_sizes)})"

    @property
    def n_parameters(self) -> int:
        """Number of weights and biases (52,650 for net53k)."""
        return sum(W.size + b.size for W, b in zip(self.weights, self.biases))

    # ------------------------------------------------------------------ training

    def train(self, training_data, gd="mini-batch", batch_size=32, learning_rate=0.1,
              epochs=250, test_data=None, interval=None, verbose=True):
        """Train with gradient descent (the paper's Algorithm 2), in place.

        Parameters
        ----------
        training_data : tuple (X, Y) of arrays, or list of (x, y) pairs
            X of shape (n, n_in); Y integer labels (n,) or one-hot (n, n_out).
            Pairs are the paper's column vectors: x (n_in, 1), y (n_out, 1)
            one-hot (or an integer label).
        gd : {"mini-batch", "batch", "sgd"}
            Batches of ``batch_size`` shuffled examples, the whole set at once
            (unshuffled, as in the paper), or one shuffled example at a time.
        batch_size : int
            Examples per batch in "mini-batch" mode (the last batch of an
            epoch may be smaller); ignored by the other modes.
        learning_rate : float
            Step size eta > 0; each step is ``w <- w - eta * mean gradient``.
        epochs : int
            Passes over the training data.
        test_data : same forms as training_data, optional
            Evaluated after reported epochs: accuracy and mean squared error.
        interval : int, optional
            Report every ``interval`` epochs (and always after the last one);
            default as in the paper, ``epochs // 100`` if epochs >= 100, else 5.
        verbose : bool
            Print a line per reported epoch, e.g. ``Epoch 10: 8788/10000 MSE: 0.0193``.

        Returns
        -------
        History
            One :class:`EpochRecord` per reported epoch.

        Notes
        -----
        The paper's section 4.2 code never resets its gradient accumulators
        between mini-batches, so every step also re-applies all earlier
        batches' gradients. That is a bug; this method follows Algorithm 2
        (mean gradient of the current batch only).

        Ctrl-C stops training within a fraction of a second with a
        ``KeyboardInterrupt``; the model keeps the weights of the last
        completed batch.
        """
        n_in, n_out = self.layer_sizes[0], self.layer_sizes[-1]
        gd = check_gd(gd)
        learning_rate = check_positive_float("learning_rate", learning_rate)
        epochs = check_int("epochs", epochs, minimum=1)
        X, labels = as_dataset("training_data", training_data, n_in, n_out)
        n = X.shape[0]
        if gd == "mini-batch":
            batch_size = check_int("batch_size", batch_size, minimum=1)
            if batch_size > n:
                raise ValueError(
                    f"batch_size={batch_size} is larger than the {n} training examples"
                )
        else:
            batch_size = n if gd == "batch" else 1
        test = None if test_data is None else as_dataset("test_data", test_data, n_in, n_out)
        if interval is None:
            interval = epochs // 100 if epochs >= 100 else 5
        interval = check_int("interval", interval, minimum=1)

        if not self._training.acquire(blocking=False):
            raise RuntimeError("this MLP is already training (train was called from another thread)")
        try:
            check_parameters(self.weights, self.biases, self.layer_sizes)
            return self._train_loop(X, labels, gd, batch_size, learning_rate, epochs,
                                    test, interval, verbose)
        finally:
            self._training.release()

    def _train_loop(self, X, labels, gd, batch_size, learning_rate, epochs, test,
                    interval, verbose):
        n = X.shape[0]
        core = _core.Network(self.weights, self.biases, batch_size)
        flops_per_batch = 6 * batch_size * sum(W.size for W in self.weights)
        check_every = max(1, int(_FLOPS_PER_SIGNAL_CHECK // flops_per_batch))
        history = History()
        seconds = 0.0
        for epoch in range(1, epochs + 1):
            # The paper shuffles in mini-batch and sgd modes, not in batch mode
            # (where the order only changes rounding).
            order = None if gd == "batch" else self._rng.permutation(n).astype(np.intp)
            start = time.perf_counter()
            core.train_epoch(X, labels, order, batch_size, learning_rate, check_every)
            seconds += time.perf_counter() - start
            if epoch % interval == 0 or epoch == epochs:
                history.append(self._report(epoch, seconds, test, verbose))
        return history

    def _report(self, epoch, seconds, test, verbose):
        if test is None:
            if verbose:
                print(f"Epoch {epoch}: {seconds:.2f} s", flush=True)
            return EpochRecord(epoch, None, None, None, seconds)
        X, labels = test
        outputs = self._forward(X)
        result = self._evaluation(outputs, labels)
        mse = float(np.mean(self._mse(outputs, labels)))
        if verbose:
            print(f"Epoch {epoch}: {result} MSE: {mse:.4f}", flush=True)
        return EpochRecord(epoch, mse, result.correct, result.total, seconds)

    # ------------------------------------------------------------------ inference

    def _forward(self, X):
        """Output activations for the rows of a validated X, fed forward in chunks."""
        out = np.empty((X.shape[0], self.layer_sizes[-1]))
        core = _core.Network(self.weights, self.biases, min(X.shape[0], _FORWARD_CHUNK))
        for start in range(0, X.shape[0], _FORWARD_CHUNK):
            chunk = X[start:start + _FORWARD_CHUNK]
            out[start:start + chunk.shape[0]] = core.forward(chunk)
        return out

    def feed_forward(self, a, cache=False):
        """Algorithm 1: the network's output for ``a``.

        ``a`` is one example as a vector (n_in,) or the paper's column
        (n_in, 1), or a batch (n, n_in); the output has the same form.
        With ``cache=True`` returns ``(output, activations, weighted_inputs)``
        where activations = [a_0 = x, a_1, ..., a_L] and weighted_inputs =
        [z_1, ..., z_L], as in the paper.
        """
        check_parameters(self.weights, self.biases, self.layer_sizes)
        X, form = as_example("a", a, self.layer_sizes[0])
        if not cache:
            return _reshape(self._forward(X), form)
        core = _core.Network(self.weights, self.biases, X.shape[0], keep_z=True)
        core.forward(X)
        n_layers = len(self.weights)
        activations = [X] + [core._buffer(l, "A", X.shape[0]).copy() for l in range(n_layers)]
        weighted = [core._buffer(l, "Z", X.shape[0]).copy() for l in range(n_layers)]
        activations = [_reshape(A, form) for A in activations]
        weighted = [_reshape(Z, form) for Z in weighted]
        return activations[-1], activations, weighted

    def predict(self, X):
        """Class indices (argmax of the outputs) for a batch (n, n_in), or one int for one example."""
        check_parameters(self.weights, self.biases, self.layer_sizes)
        X, form = as_example("X", X, self.layer_sizes[0])
        classes = np.argmax(self._forward(X), axis=1)
        return int(classes[0]) if form != "batch" else classes

    def evaluate(self, test_data):
        """Correctly classified examples of ``test_data``; prints as ``9446/10000``.

        ``test_data`` takes the same forms as ``training_data`` in :meth:`train`.
        """
        check_parameters(self.weights, self.biases, self.layer_sizes)
        X, labels = as_dataset("test_data", test_data, self.layer_sizes[0], self.layer_sizes[-1])
        return self._evaluation(self._forward(X), labels)

    def MeanSquaredError(self, test_data):  # noqa: N802 - the paper's name
        """Per-output mean over the examples of (a - y)^2, shape (n_out,).

        ``np.mean(net.MeanSquaredError(test))`` is the MSE the paper prints.
        """
        check_parameters(self.weights, self.biases, self.layer_sizes)
        X, labels = as_dataset("test_data", test_data, self.layer_sizes[0], self.layer_sizes[-1])
        return self._mse(self._forward(X), labels)

    @staticmethod
    def _evaluation(outputs, labels):
        return Evaluation(int(np.count_nonzero(np.argmax(outputs, axis=1) == labels)),
                          int(labels.shape[0]))

    @staticmethod
    def _mse(outputs, labels):
        errors = outputs.copy()
        errors[np.arange(labels.shape[0]), labels] -= 1.0
        return np.mean(errors * errors, axis=0)

    # ------------------------------------------------------------------ gradients

    def backprop(self, x, y):
        """Algorithm 3: ``(bias_gradients, weight_gradients)`` of C = 1/2 ||a - y||^2.

        ``x`` is one example, (n_in,) or (n_in, 1), and ``y`` its one-hot
        target (n_out,) or (n_out, 1) or integer label. A batch x (n, n_in)
        with labels (n,) or one-hot (n, n_out) gives the mean gradients over
        the batch, as Algorithm 2 uses them. The gradients have the shapes of
        ``biases`` and ``weights``.
        """
        check_parameters(self.weights, self.biases, self.layer_sizes)
        n_out = self.layer_sizes[-1]
        X, form = as_example("x", x, self.layer_sizes[0])
        if form != "batch":
            y_arr = np.asarray(y)
            y = y_arr.reshape(1, n_out) if y_arr.shape in ((n_out,), (n_out, 1)) else y_arr.reshape(-1)
        labels = as_labels("y", y, X.shape[0], n_out)
        grad_W = [np.empty_like(W) for W in self.weights]
        grad_b = [np.empty_like(b) for b in self.biases]
        core = _core.Network(self.weights, self.biases, X.shape[0])
        core.gradients(X, labels, grad_W, grad_b)
        return grad_b, grad_W


def _reshape(A, form):
    """Rows of A back into the caller's form: vector (n,), column (n, 1) or batch."""
    if form == "vector":
        return A[0]
    if form == "column":
        return A[0].reshape(-1, 1)
    return A
