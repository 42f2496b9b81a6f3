"""The paper's multilayer perceptron with a compiled training loop."""

from __future__ import annotations

import os
import threading
import time
import zipfile
import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Union

import numpy as np
from numpy.typing import ArrayLike, DTypeLike
from scipy import sparse

from . import _core
from ._files import write_replacing
from ._npz import NpzMembers
from ._threads import CPUS, blas_at_one_thread, default_threads, leased_epoch
from ._validation import (
    as_data,
    as_dataset,
    as_example,
    as_labels_or_targets,
    check_choice,
    check_fraction,
    check_gd,
    check_int,
    check_layer_sizes,
    check_nonnegative_float,
    check_parameters,
    check_positive_float,
    check_real,
    core_rows,
    generator,
    scale_pixels,
    stratified_split,
)

# Training or test data: a tuple (X, Y) of arrays, or a sequence of (x, y) pairs.
Dataset = Union[tuple[Any, Any], Sequence[tuple[Any, Any]]]

# Activation and cost codes of the compiled core (csrc/_core.pyx).
ACTIVATIONS = {"sigmoid": 0, "tanh": 1, "relu": 2, "leaky_relu": 3, "softmax": 4, "identity": 5}
HIDDEN_ACTIVATIONS = ("sigmoid", "tanh", "relu", "leaky_relu", "identity")
COSTS = {"quadratic": 0, "cross_entropy": 1}
INITS = ("normal", "xavier", "he", "scaled_normal")
OPTIMIZERS = ("sgd", "nesterov", "adam")
SAVE_FORMAT_VERSION = 1

@dataclass(frozen=True)
class TrainingOptions:
    """The options of one :meth:`MLP.train` call, validated once (``TrainingOptions.check``).

    ``batch_size`` is the rows per step whatever ``gd`` says (the whole set for
    "batch", 1 for "sgd"); ``n_threads`` is the most threads the core may use
    (it uses fewer while other trainings in the process hold the cores).
    """

    gd: str
    batch_size: int
    learning_rate: float
    epochs: int
    interval: int
    verbose: bool
    l2: float
    momentum: float
    patience: int | None
    n_threads: int
    optimizer: str = "sgd"
    beta_1: float = 0.9
    beta_2: float = 0.999
    epsilon: float = 1e-8

    @classmethod
    def check(cls, n, has_watch, gd="mini-batch", batch_size=32, learning_rate=0.1, epochs=250,
              interval=None, verbose=True, l2=0.0, momentum=0.0, patience=None, n_threads=None,
              optimizer="sgd", beta_1=0.9, beta_2=0.999, epsilon=1e-8):
        """Validate train's arguments for ``n`` training rows; ValueError names the bad one."""
        gd = check_gd(gd)
        learning_rate = check_positive_float("learning_rate", learning_rate)
        epochs = check_int("epochs", epochs, minimum=1)
        if gd == "mini-batch":
            batch_size = check_int("batch_size", batch_size, minimum=1)
            if batch_size > n:
                raise ValueError(
                    f"batch_size={batch_size} is larger than the {n} training examples"
                )
        else:
            batch_size = n if gd == "batch" else 1
        if interval is None:
            interval = epochs // 100 if epochs >= 100 else 5
        interval = check_int("interval", interval, minimum=1)
        l2 = check_nonnegative_float("l2", l2)
        momentum = check_fraction("momentum", momentum, below_one=True)
        if patience is not None:
            patience = check_int("patience", patience, minimum=1)
            if not has_watch:
                raise ValueError("patience (early stopping) needs test_data, validation_data "
                                 "or validation_fraction to watch")
        if n_threads is None:
            n_threads = default_threads(batch_size)
        n_threads = check_int("n_threads", n_threads, minimum=1)
        optimizer = check_choice("optimizer", optimizer, OPTIMIZERS)
        if optimizer == "nesterov" and momentum == 0:
            raise ValueError("optimizer='nesterov' needs momentum in (0, 1), got momentum=0")
        if optimizer == "adam":
            if momentum != 0 or l2 != 0:
                raise ValueError(f"optimizer='adam' takes no momentum or l2 (its moments replace "
                                 f"momentum); got momentum={momentum}, l2={l2}")
        beta_1 = check_fraction("beta_1", beta_1, below_one=True)   # (whatever the optimizer:
        beta_2 = check_fraction("beta_2", beta_2, below_one=True)   # a bad one is a mistake)
        epsilon = check_positive_float("epsilon", epsilon)
        return cls(gd, batch_size, float(learning_rate), epochs, interval, bool(verbose),
                   float(l2), float(momentum), patience, n_threads, optimizer, float(beta_1),
                   float(beta_2), float(epsilon))


# Rows fed forward at once by predict/evaluate: bounds memory for large sets
# (a chunk of uint8 input becomes floats only chunk by chunk).
_FORWARD_CHUNK = 1024
# Floating-point operations between two looks for Ctrl-C (tens of milliseconds).
_FLOPS_PER_SIGNAL_CHECK = 5e8


def _training_work(weights, chunk_rows):
    """(floating-point operations per row of an epoch: 6 per weight, forward, backward
    and gradient; chunks of chunk_rows rows between two looks for Ctrl-C)."""
    flops_per_row = 6 * sum(W.size for W in weights)
    return flops_per_row, max(1, int(_FLOPS_PER_SIGNAL_CHECK // (chunk_rows * flops_per_row)))


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
    the training time since ``train`` started, evaluation excluded;
    ``val_mse``, ``val_correct`` and ``val_total`` describe the validation data
    (None without it); ``train_loss`` is the epoch's training loss (see
    ``History.train_loss``). A regression model (identity outputs) has no
    ``correct``/``total``: its ``mse`` is against the targets.
    """

    epoch: int
    mse: float | None
    correct: int | None
    total: int | None
    seconds: float
    val_mse: float | None = None
    val_correct: int | None = None
    val_total: int | None = None
    train_loss: float | None = None

    @property
    def accuracy(self) -> float | None:
        """Test accuracy in [0, 1] (None without test data)."""
        return None if self.total is None else self.correct / self.total

    @property
    def val_accuracy(self) -> float | None:
        """Validation accuracy in [0, 1] (None without validation data)."""
        return None if self.val_total is None else self.val_correct / self.val_total


class History(list):
    """The list of :class:`EpochRecord` returned by :meth:`MLP.train`.

    ``best_epoch`` is the reported epoch with the highest validation accuracy,
    or test accuracy without validation data (None with neither); with
    ``patience``, the model keeps that epoch's weights. ``watched`` says which
    ("validation", "test" or None). ``train_loss`` holds every epoch's training
    loss, reported or not: the mean cost per example (the model's cost), each
    batch's taken as the core fed it forward, before its step, plus the mean L2
    penalty (lambda / 2n ||W||^2), accumulated by the core as it trains.
    """

    best_epoch = None
    watched = None

    def __init__(self, *args):
        super().__init__(*args)
        self.train_loss = []

    def plot(self, path: str | os.PathLike, title: str | None = None):
        """Draw test cost (MSE) and accuracy against epochs, as the paper's Figure 6
        (a regression's history: its cost alone).

        Needs matplotlib (``pip install 'cymlp[plot]'``) and a history with test data.
        """
        from .plots import plot_cost_and_accuracy

        rows = [(r.epoch, r.mse, r.correct, r.total) for r in self if r.mse is not None]
        if not rows:
            raise ValueError("this history has no test results to plot: train with test_data")
        return plot_cost_and_accuracy(rows, path, title)


class MLP:
    """A fully connected feed-forward network trained by gradient descent.

    The defaults are the paper's: sigmoid units everywhere, the quadratic
    cost C = 1/2 ||a - y||^2, weights and biases drawn from N(0, 1).

    Parameters
    ----------
    layer_sizes : sequence of int
        Units per layer, input first: ``[784, 64, 32, 10]`` is the paper's net53k.
    seed : int or None
        Seed of the model's random generator (``numpy.random.default_rng``),
        which draws the initial parameters and shuffles every epoch: the same
        seed, data and options give bitwise the same trained weights.
    activation : {"sigmoid", "tanh", "relu", "leaky_relu"}
        Activation of the hidden layers (the four of the paper's Figure 3).
    output_activation : {"sigmoid", "tanh", "relu", "leaky_relu", "softmax"}
        Activation of the output layer.
    cost : {"quadratic", "cross_entropy"}
        The paper's quadratic cost, or the cross-entropy: binary (Nielsen's
        network2) with sigmoid outputs, categorical with softmax outputs.
        Cross-entropy needs sigmoid or softmax outputs.
    init : {"normal", "xavier", "he", "scaled_normal"}
        "normal": weights and biases ~ N(0, 1) (the paper); "scaled_normal":
        weights ~ N(0, 1/sqrt(n_in)), biases ~ N(0, 1) (Nielsen's default);
        "xavier": weights ~ U(+-sqrt(6 / (n_in + n_out))) (Glorot uniform),
        biases 0; "he": weights ~ N(0, sqrt(2 / n_in)), biases 0.
    leaky_slope : float
        Slope of leaky ReLU for z <= 0.
    dtype : np.float64 or np.float32
        Precision of the parameters and of all computation (float64 as in the
        paper; float32 runs the same kernels in single precision, about twice
        as fast).

    Attributes
    ----------
    weights : list of ndarray
        ``weights[l]`` has shape (layer_sizes[l+1], layer_sizes[l]).
    biases : list of ndarray
        ``biases[l]`` has shape (layer_sizes[l+1],).
    """

    def __init__(self, layer_sizes: Sequence[int], seed: int | None = None,
                 activation: str = "sigmoid", output_activation: str = "sigmoid",
                 cost: str = "quadratic", init: str = "normal", leaky_slope: float = 0.01,
                 dtype: DTypeLike = np.float64) -> None:
        self.layer_sizes = check_layer_sizes(layer_sizes)
        self.activation = check_choice("activation", activation, HIDDEN_ACTIVATIONS)
        self.output_activation = check_choice("output_activation", output_activation, ACTIVATIONS)
        self.cost = check_choice("cost", cost, COSTS)
        self.init = check_choice("init", init, INITS)
        self.leaky_slope = check_fraction("leaky_slope", leaky_slope)
        if self.cost == "cross_entropy" and self.output_activation not in ("sigmoid", "softmax"):
            raise ValueError(
                f"cost='cross_entropy' needs output_activation 'sigmoid' or 'softmax', "
                f"got {self.output_activation!r}"
            )
        self.dtype = np.dtype(dtype)
        if self.dtype not in _core.NETWORKS:
            raise ValueError(f"dtype must be float64 or float32, got {self.dtype}")
        self._rng = generator(seed)
        self.biases, self.weights = _initial_parameters(self.layer_sizes, self.init, self._rng,
                                                        self.dtype)
        self._training = threading.Lock()

    def __getstate__(self):
        state = self.__dict__.copy()
        del state["_training"]  # a lock does not pickle; a copy is not training anyway
        return state

    def __setstate__(self, state):
        self.__dict__.update(state)
        self._training = threading.Lock()

    def __repr__(self):
        options = [f"{name}={getattr(self, name)!r}" for name, default in
                   (("activation", "sigmoid"), ("output_activation", "sigmoid"),
                    ("cost", "quadratic"), ("init", "normal")) if getattr(self, name) != default]
        if self.dtype != np.float64:
            options.append(f"dtype=np.{self.dtype}")
        return f"MLP({', '.join([str(list(self.layer_sizes))] + options)})"

    def _network(self, max_rows, keep_z=False, momentum=False, adam=False):
        """The compiled workspace for up to ``max_rows`` rows at once (for training:
        batches of up to ``max_rows`` rows, larger ones in chunks of ``_core.CHUNK``)."""
        kinds = [ACTIVATIONS[self.activation]] * (len(self.weights) - 1)
        kinds.append(ACTIVATIONS[self.output_activation])
        return _core.NETWORKS[self.dtype](self.weights, self.biases, kinds,
                                          slope=self.leaky_slope, cost=COSTS[self.cost],
                                          max_rows=max_rows, keep_z=keep_z, momentum=momentum,
                                          adam=adam)

    def _check(self):
        for name in ("weights", "biases"):   # (set by hand: a tuple or other sequence will do)
            value = getattr(self, name)
            if isinstance(value, (str, bytes, np.ndarray)) or not hasattr(value, "__len__"):
                raise TypeError(f"{name} must be a list of arrays, one per layer, got "
                                f"{type(value).__name__}")
            if not isinstance(value, list):
                setattr(self, name, list(value))
        check_parameters(self.weights, self.biases, self.layer_sizes, self.dtype)

    @property
    def n_parameters(self) -> int:
        """Number of weights and biases (52,650 for net53k)."""
        return sum(W.size + b.size for W, b in zip(self.weights, self.biases))

    # ------------------------------------------------------------------ training

    def train(self, training_data: Dataset, gd: str = "mini-batch", batch_size: int = 32,
              learning_rate: float = 0.1, epochs: int = 250, test_data: Dataset | None = None,
              interval: int | None = None, verbose: bool = True, l2: float = 0.0,
              momentum: float = 0.0, patience: int | None = None,
              n_threads: int | None = None, validation_data: Dataset | None = None,
              validation_fraction: float | None = None, optimizer: str = "sgd",
              beta_1: float = 0.9, beta_2: float = 0.999, epsilon: float = 1e-8) -> History:
        """Train with gradient descent (the paper's Algorithm 2), in place.

        Parameters
        ----------
        training_data : tuple (X, Y) of arrays, or list of (x, y) pairs
            X of shape (n, n_in); Y integer labels (n,) or one-hot (n, n_out),
            or real-valued targets (n, n_out) (a float matrix that is not
            one-hot, or any targets when the outputs are "identity": regression).
            Any array-like: lists, pandas DataFrames and Series, read-only arrays.
            X may be uint8 pixels (also an ``np.memmap`` of an IDX file): they are
            scaled by 1/255 as each batch is gathered, never copied to floats.
            X may be a scipy.sparse matrix (any format): trained on as CSR rows,
            with the same result as its dense array, bit for bit.
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
        l2 : float
            L2 weight decay lambda >= 0, scaled by 1/n as in Nielsen's network2:
            every step also does ``w <- w - eta * lambda / n * w`` (biases are not decayed).
        momentum : float
            Classical momentum mu in [0, 1): ``v <- mu v - eta * gradient; w <- w + v``.
        patience : int, optional
            Early stopping (the paper's "until the network's performance stops
            improving"): stop once the validation accuracy (the test accuracy
            when there is no validation data) has not improved for ``patience``
            reported epochs, and keep the best weights seen.
        n_threads : int, optional
            The most threads sharing each batch, any number (default: the
            cores this process may use, by affinity and cgroup quota, shared
            fairly with the other trainings running in the process; 1 for
            batches under 32 examples, which are faster on one thread). The
            core uses at most the cores it may use and its fair share of
            them. The result does not depend on it, bit for bit.
        validation_data : same forms as training_data, optional
            Held-out data evaluated after every reported epoch (``val_*`` in
            the history); ``patience`` watches it instead of the test data.
        optimizer : {"sgd", "nesterov", "adam"}
            "sgd" (classical momentum with ``momentum``), "nesterov" (Nesterov's
            momentum, as scikit-learn: ``v <- mu v - eta g; w <- w + mu v - eta g``)
            or "adam" (``learning_rate`` is its step size; bias-corrected as
            scikit-learn's AdamOptimizer; no ``momentum`` or ``l2``).
        beta_1, beta_2, epsilon : float
            Adam's decay rates of its first and second moments and its epsilon.
        validation_fraction : float in (0, 1), optional
            Hold out this fraction of the training data as validation data
            instead: ``round(fraction * n_c)`` examples of each class c, drawn
            by the model's generator (reproducible with the seed). The held-out
            rows are not trained on; the kept rows are copied once.

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
        completed batch. If the weights stop being finite (the learning rate
        is too high), training stops with a ``FloatingPointError`` naming the
        epoch, and the model keeps the weights from before that epoch.
        """
        n_in, n_out = self.layer_sizes[0], self.layer_sizes[-1]
        regression = self.output_activation == "identity"
        X, labels = as_data("training_data", training_data, n_in, n_out, self.dtype, regression)
        validation = None
        if validation_data is not None and validation_fraction is not None:
            raise ValueError("give validation_data or validation_fraction, not both")
        if validation_data is not None:
            validation = as_data("validation_data", validation_data, n_in, n_out, self.dtype,
                                 regression or labels.ndim == 2)
        elif validation_fraction is not None:
            fraction = check_real("validation_fraction", validation_fraction)
            if not 0 < fraction < 1:
                raise ValueError(f"validation_fraction must be in (0, 1), got {fraction}")
        test = (None if test_data is None
                else as_data("test_data", test_data, n_in, n_out, self.dtype,
                             regression or labels.ndim == 2))
        options = dict(gd=gd, batch_size=batch_size, learning_rate=learning_rate, epochs=epochs,
                       interval=interval, verbose=verbose, l2=l2, momentum=momentum,
                       patience=patience, n_threads=n_threads, optimizer=optimizer,
                       beta_1=beta_1, beta_2=beta_2, epsilon=epsilon)
        has_watch = test is not None or validation_data is not None or validation_fraction is not None
        TrainingOptions.check(X.shape[0], has_watch, **options)   # (before the split, too)

        if not self._training.acquire(blocking=False):
            raise RuntimeError("this MLP is already training (train was called from another thread)")
        try:
            # Only now is the generator drawn from: a refused call leaves it as it was, so
            # the same seed, data and options still give the same weights.
            generator_state = self._rng.bit_generator.state
            try:
                if validation_fraction is not None:
                    classes = labels if labels.ndim == 1 else np.zeros(labels.shape[0], np.intp)
                    kept, held = stratified_split(classes, fraction, self._rng)
                    if kept.size == 0:
                        raise ValueError(f"validation_fraction={fraction} leaves no training "
                                         f"data out of {X.shape[0]} examples")
                    validation = (X[held], labels[held])
                    X, labels = X[kept], labels[kept]
                checked = TrainingOptions.check(X.shape[0], has_watch, **options)
                self._check()
            except BaseException:
                self._rng.bit_generator.state = generator_state
                raise
            with blas_at_one_thread(), CPUS.training():
                return self._train_loop(X, labels, test, checked, validation)
        finally:
            self._training.release()

    def _train_loop(self, X, labels, test, options, validation=None):
        n = X.shape[0]
        o = options
        chunk_rows = min(o.batch_size, _core.CHUNK)  # the core runs larger batches in chunks
        core = self._network(chunk_rows, momentum=o.momentum > 0, adam=o.optimizer == "adam")
        rows = core_rows(X)
        flops_per_row, check_every = _training_work(self.weights, chunk_rows)
        history = History()
        history.watched = ("validation" if validation is not None
                           else "test" if test is not None else None)
        seconds = 0.0
        best = None  # (correct, epoch, parameters) of the best reported epoch
        for epoch in range(1, o.epochs + 1):
            # The paper shuffles in mini-batch and sgd modes, not in batch mode
            # (where the order only changes rounding).
            order = None if o.gd == "batch" else self._rng.permutation(n).astype(np.intp)
            before = self._parameters()
            start = time.perf_counter()
            cost, penalty = leased_epoch(
                core, rows, o.batch_size, o.n_threads, flops_per_row,
                labels=labels if labels.ndim == 1 else None, order=order,
                learning_rate=o.learning_rate, l2=o.l2, momentum=o.momentum,
                check_every=check_every, targets=labels if labels.ndim == 2 else None,
                optimizer=o.optimizer, beta_1=o.beta_1, beta_2=o.beta_2, epsilon=o.epsilon)
            seconds += time.perf_counter() - start
            if not all(np.isfinite(p).all() for p in self.weights + self.biases):
                self._set_parameters(before)
                raise FloatingPointError(
                    f"training diverged in epoch {epoch}: the weights became NaN or infinite "
                    f"(learning_rate={o.learning_rate}{f' or l2={o.l2}' if o.l2 else ''} is "
                    f"too high; try a lower one). The model "
                    f"keeps the weights from before epoch {epoch}."
                )
            history.train_loss.append((cost + penalty) / n)
            if epoch % o.interval == 0 or epoch == o.epochs:
                record = self._report(epoch, seconds, test, o.verbose, validation,
                                      history.train_loss[-1])
                history.append(record)
                score = _score(record, validation is not None)
                if score is not None and (best is None or score > best[0]):
                    best = (score, epoch, self._parameters() if o.patience else None)
                if o.patience and epoch - best[1] >= o.patience * o.interval:
                    if o.verbose:
                        print(f"No improvement for {o.patience} reports: stopping, keeping the "
                              f"weights of epoch {best[1]}", flush=True)
                    break
        if best is not None:
            history.best_epoch = best[1]
            if o.patience:
                self._set_parameters(best[2])
        return history

    def _parameters(self):
        return [p.copy() for p in self.weights + self.biases]

    def _set_parameters(self, parameters):
        for mine, saved in zip(self.weights + self.biases, parameters):
            mine[...] = saved

    def _scores(self, data):
        """(Evaluation, mean squared error) of the model on validated (X, Y); the
        Evaluation is None for targets (regression)."""
        X, Y = data
        outputs = self._forward(X)
        result = None if Y.ndim == 2 else self._evaluation(outputs, Y)
        return result, float(np.mean(self._mse(outputs, Y)))

    def _report(self, epoch, seconds, test, verbose, validation=None, train_loss=None):
        line, fields = f"Epoch {epoch}:", {}
        if test is None:
            line += f" {seconds:.2f} s"
            fields.update(mse=None, correct=None, total=None)
        else:
            result, mse = self._scores(test)
            line += f" {'' if result is None else f'{result} '}MSE: {mse:.4f}"
            fields.update(mse=mse, correct=result and result.correct,
                          total=result and result.total)
        if validation is not None:
            result, mse = self._scores(validation)
            line += f" | validation {'' if result is None else f'{result} '}MSE: {mse:.4f}"
            fields.update(val_mse=mse, val_correct=result and result.correct,
                          val_total=result and result.total)
        if verbose:
            print(line, flush=True)
        return EpochRecord(epoch, seconds=seconds, train_loss=train_loss, **fields)

    # ------------------------------------------------------------------ inference

    def _forward(self, X):
        """Output activations for the rows of a validated X, fed forward in chunks."""
        out = np.empty((X.shape[0], self.layer_sizes[-1]), dtype=self.dtype)
        core = self._network(min(X.shape[0], _FORWARD_CHUNK))
        for start in range(0, X.shape[0], _FORWARD_CHUNK):
            chunk = self._floats(X[start:start + _FORWARD_CHUNK])
            out[start:start + chunk.shape[0]] = core.forward(chunk)
        return out

    def _floats(self, X):
        """Validated rows as a dense array of the model's dtype: uint8 pixels x * (1/255)
        exactly as the core gathers them, sparse rows spread out."""
        if sparse.issparse(X):
            return X.toarray()
        return scale_pixels(X, self.dtype) if X.dtype == np.uint8 else X

    def feed_forward(self, a: ArrayLike, cache: bool = False):
        """Algorithm 1: the network's output for ``a``.

        ``a`` is one example as a vector (n_in,) or the paper's column
        (n_in, 1), or a batch (n, n_in); the output has the same form.
        With ``cache=True`` returns ``(output, activations, weighted_inputs)``
        where activations = [a_0 = x, a_1, ..., a_L] and weighted_inputs =
        [z_1, ..., z_L], as in the paper.
        """
        self._check()
        X, form = as_example("a", a, self.layer_sizes[0], self.dtype)
        if not cache:
            return _reshape(self._forward(X), form)
        X = self._floats(X)
        core = self._network(X.shape[0], keep_z=True)
        core.forward(X)
        n_layers = len(self.weights)
        activations = [X] + [core._buffer(l, "A", X.shape[0]).copy() for l in range(n_layers)]
        weighted = [core._buffer(l, "Z", X.shape[0]).copy() for l in range(n_layers)]
        activations = [_reshape(A, form) for A in activations]
        weighted = [_reshape(Z, form) for Z in weighted]
        return activations[-1], activations, weighted

    def predict(self, X: ArrayLike) -> np.ndarray | int:
        """Class indices (argmax of the outputs) for a batch (n, n_in), or one int for one
        example; a regression model (identity outputs) predicts its outputs (n, n_out)."""
        self._check()
        X, form = as_example("X", X, self.layer_sizes[0], self.dtype)
        if self.output_activation == "identity":
            return _reshape(self._forward(X), "vector" if form != "batch" else form)
        classes = np.argmax(self._forward(X), axis=1)
        return int(classes[0]) if form != "batch" else classes

    def evaluate(self, test_data: Dataset) -> Evaluation:
        """Correctly classified examples of ``test_data``; prints as ``9446/10000``.

        ``test_data`` takes the same forms as ``training_data`` in :meth:`train`.
        """
        self._check()
        if self.output_activation == "identity":
            raise ValueError("evaluate counts correct classifications, but this model has "
                             "identity outputs (regression): use MeanSquaredError(test_data) "
                             "or predict(X)")
        try:
            X, labels = as_dataset("test_data", test_data, self.layer_sizes[0],
                                   self.layer_sizes[-1], self.dtype)
        except ValueError as error:
            if not str(error).startswith("test_data Y"):
                raise
            raise ValueError(f"{error}. evaluate counts correct classifications, so it takes "
                             "class labels; for real-valued targets use "
                             "MeanSquaredError(test_data) or predict(X)") from None
        return self._evaluation(self._forward(X), labels)

    def MeanSquaredError(self, test_data: Dataset) -> np.ndarray:  # noqa: N802 - the paper's name
        """Per-output mean over the examples of (a - y)^2, shape (n_out,).

        ``np.mean(net.MeanSquaredError(test))`` is the MSE the paper prints. The
        targets are one-hot rows of the labels, or real-valued targets (n, n_out).
        """
        self._check()
        X, Y = as_data("test_data", test_data, self.layer_sizes[0], self.layer_sizes[-1],
                       self.dtype, self.output_activation == "identity")
        return self._mse(self._forward(X), Y)

    @staticmethod
    def _evaluation(outputs, labels):
        return Evaluation(int(np.count_nonzero(np.argmax(outputs, axis=1) == labels)),
                          int(labels.shape[0]))

    @staticmethod
    def _mse(outputs, labels):
        """Per-output mean squared error against labels' one-hot rows, or targets (n, n_out)."""
        if labels.ndim == 2:
            return np.mean((outputs - labels) ** 2, axis=0)
        errors = outputs.copy()
        errors[np.arange(labels.shape[0]), labels] -= 1.0
        return np.mean(errors * errors, axis=0)

    # ------------------------------------------------------------------ gradients

    def backprop(self, x: ArrayLike, y: ArrayLike | int) -> tuple[list[np.ndarray], list[np.ndarray]]:
        """Algorithm 3: ``(bias_gradients, weight_gradients)`` of the cost (the paper's 1/2 ||a - y||^2).

        ``x`` is one example, (n_in,) or (n_in, 1), and ``y`` its one-hot
        target (n_out,), (n_out, 1) or (1, n_out), or integer label (or real-valued targets,
        as in :meth:`train`). A batch x (n, n_in)
        with labels (n,) or one-hot (n, n_out) gives the mean gradients over
        the batch, as Algorithm 2 uses them. The gradients have the shapes of
        ``biases`` and ``weights``.
        """
        self._check()
        n_out = self.layer_sizes[-1]
        X, form = as_example("x", x, self.layer_sizes[0], self.dtype)
        X = self._floats(X)
        if form != "batch":
            y_arr = np.asarray(y)
            if y_arr.shape in ((n_out,), (n_out, 1), (1, n_out)):
                y = y_arr.reshape(1, n_out)
            elif y_arr.ndim == 0:   # a label
                y = y_arr.reshape(1)
        grad_W = [np.empty_like(W) for W in self.weights]  # the model's dtype
        grad_b = [np.empty_like(b) for b in self.biases]
        core = self._network(X.shape[0])
        Y = as_labels_or_targets("y", y, X.shape[0], n_out, self.dtype,
                                 self.output_activation == "identity")
        if Y.ndim == 2:
            core.gradients(X, None, grad_W, grad_b, targets=Y)
        else:
            core.gradients(X, Y, grad_W, grad_b)
        return grad_b, grad_W


    def to_torch(self):
        """The network as a ``torch.nn.Sequential`` (needs PyTorch): Linear layers with
        copies of ``weights[l]`` and ``biases[l]`` in the model's dtype, each followed by
        its activation (``nn.Sigmoid``, ``nn.Softmax(dim=-1)``, ...): it computes what
        :meth:`feed_forward` computes. Its ``state_dict()`` has keys "0.weight",
        "0.bias", "2.weight", ... (the activations hold no parameters)."""
        from ._export import torch_sequential

        kinds = [self.activation] * (len(self.weights) - 1) + [self.output_activation]
        return torch_sequential(self.weights, self.biases, kinds, self.leaky_slope)

    # ------------------------------------------------------------------ save / load

    def save(self, path: str | os.PathLike) -> None:
        """Write the model as an ``.npz`` archive (no pickles): format version, layer sizes,
        options and every weight and bias. :meth:`load` reads it back.

        ``path`` is a file name, written exactly there (no suffix is added), or a binary
        file object. An existing file is replaced whole: the new one is written beside it
        and renamed over it (keeping its permissions), so an interrupted save leaves it as
        it was. Weights and biases set by hand are checked (and converted) first, as
        :meth:`train` checks them, so that every saved file loads."""
        self._check()
        arrays = {f"weights_{l}": W for l, W in enumerate(self.weights)}
        arrays.update({f"biases_{l}": b for l, b in enumerate(self.biases)})
        if hasattr(path, "write"):
            self._write_npz(path, arrays)
        else:
            write_replacing(path, lambda file: self._write_npz(file, arrays), taker="save")

    def _write_npz(self, file, arrays):
        np.savez(file, format_version=np.int64(SAVE_FORMAT_VERSION),
                 layer_sizes=np.array(self.layer_sizes, dtype=np.int64),
                 activation=np.str_(self.activation),
                 output_activation=np.str_(self.output_activation),
                 cost=np.str_(self.cost), init=np.str_(self.init),
                 leaky_slope=np.float64(self.leaky_slope), dtype=np.str_(self.dtype.name), **arrays)

    @classmethod
    def load(cls, path: str | os.PathLike, seed: int | None = None) -> MLP:
        """Read a model written by :meth:`save`; it predicts bit for bit like the saved one.

        Nothing in the file is executed (no pickles), and nothing is allocated on
        its word alone: every array's ``.npy`` header (shape, dtype) is checked
        against the file's ``layer_sizes`` before its data is read, so a file
        cannot make ``load`` allocate much more than the model it declares.
        Format version, options, every array's shape, dtype and finiteness are
        checked; anything else is a ``ValueError`` naming the problem.
        ``seed`` seeds the loaded model's generator (for further training).
        """
        try:
            with zipfile.ZipFile(path) as archive:
                return cls._from_contents(NpzMembers(archive, path), path, seed)
        except FileNotFoundError:
            raise
        except (zipfile.BadZipFile, zlib.error, OSError, EOFError, RuntimeError,
                NotImplementedError) as error:  # a damaged zip fails in many ways
            raise ValueError(f"{path}: not a readable .npz file "
                             f"({type(error).__name__}: {error})") from None

    @classmethod
    def _from_contents(cls, members, path, seed):
        """The model in ``members`` (an ``NpzMembers``): the small fields first, then every
        array's header against ``layer_sizes``, and only then the arrays' data."""
        def check_not_pickled(key, dtype):
            if dtype.hasobject:
                raise ValueError(f"{path}: not a cymlp model file: {key!r} holds Python "
                                 f"objects (dtype {dtype}), which would need pickle")

        def field(key, kinds, max_length=None):
            """A scalar (or, with ``max_length``, a short 1-D array) of one of the dtype kinds."""
            if key not in members:
                raise ValueError(f"{path}: missing {key!r}")
            shape, _, dtype = members.header(key)
            check_not_pickled(key, dtype)
            if dtype.kind not in kinds or dtype.itemsize > 256:  # options: short strings, numbers
                raise ValueError(f"{path}: {key!r} has dtype {dtype}")
            if max_length is None and shape != ():
                raise ValueError(f"{path}: {key!r} must be a single value, got shape {shape}")
            if max_length is not None and (len(shape) != 1 or shape[0] > max_length):
                raise ValueError(f"{path}: {key!r} must be a 1-D list of at most {max_length} "
                                 f"values, got shape {shape}")
            return members.read(key)

        version = field("format_version", "iu")
        if int(version) != SAVE_FORMAT_VERSION:
            raise ValueError(f"{path}: format version {version} is not {SAVE_FORMAT_VERSION}")
        sizes = field("layer_sizes", "iu", max_length=1000)
        if sizes.size and (sizes.max() > 10**7 or sizes.min() < 1):
            raise ValueError(f"{path}: layer_sizes must be a short 1-D list of sizes from 1 to "
                             f"10**7, got {sizes.tolist()}")
        options = {key: str(field(key, "U")) for key in ("activation", "output_activation", "cost", "init")}
        slope = field("leaky_slope", "f")
        dtype = str(field("dtype", "U"))
        if dtype not in ("float64", "float32"):
            raise ValueError(f"{path}: dtype must be float64 or float32, got {dtype!r}")
        dtype = np.dtype(dtype)
        # every array's header is checked against the declared sizes before anything is allocated
        sizes = sizes.tolist()
        n_layers = len(sizes) - 1
        shapes = {}
        for l in range(max(n_layers, 0)):
            shapes[f"weights_{l}"] = (sizes[l + 1], sizes[l])
            shapes[f"biases_{l}"] = (sizes[l + 1],)
        found = set(members.keys()) - {"format_version", "layer_sizes", "leaky_slope", "dtype", *options}
        if found != set(shapes):
            raise ValueError(f"{path}: expected arrays {sorted(shapes)}, found {sorted(found)}")
        for key, shape in shapes.items():
            got_shape, _, got = members.header(key)
            check_not_pickled(key, got)
            if got_shape != shape or got.kind != "f" or got.itemsize != dtype.itemsize:
                raise ValueError(f"{path}: {key} must be {dtype} of shape {shape}, "
                                 f"got {got} {got_shape}")
        try:
            net = cls(sizes, seed=seed, leaky_slope=float(slope), dtype=dtype, **options)
        except ValueError as error:
            raise ValueError(f"{path}: {error}") from None
        for l in range(n_layers):  # one array at a time: at most the model plus one layer
            for kind, target in (("weights", net.weights[l]), ("biases", net.biases[l])):
                array = members.read(f"{kind}_{l}")
                if not np.isfinite(array).all():
                    raise ValueError(f"{path}: {kind}_{l} contains NaN or infinity")
                target[...] = array
        return net


def _score(record, validation):
    """What early stopping maximizes: correct classifications, or -MSE for regression."""
    if validation:
        return record.val_correct if record.val_total is not None else -record.val_mse
    if record.mse is None:
        return None
    return record.correct if record.total is not None else -record.mse


def _initial_parameters(layer_sizes, init, rng, dtype):
    """``(biases, weights)`` of ``dtype`` for the init scheme, drawn in float64; all biases
    are drawn first, as in the paper. (A layer at a time, scaled in place: the peak is the
    model and one float64 layer.)"""
    pairs = list(zip(layer_sizes[:-1], layer_sizes[1:]))
    if init in ("normal", "scaled_normal"):
        biases = [rng.standard_normal(n_out).astype(dtype, copy=False) for _, n_out in pairs]
    else:
        biases = [np.zeros(n_out, dtype) for _, n_out in pairs]
    weights = []
    for n_in, n_out in pairs:
        if init == "xavier":
            limit = np.sqrt(6.0 / (n_in + n_out))
            W = rng.uniform(-limit, limit, (n_out, n_in))
        else:
            W = rng.standard_normal((n_out, n_in))
            if init != "normal":   # (the paper's N(0, 1) needs no pass over the weights)
                W *= 1.0 / np.sqrt(n_in) if init == "scaled_normal" else np.sqrt(2.0 / n_in)
        weights.append(W.astype(dtype, copy=False))
    return biases, weights


def _reshape(A, form):
    """Rows of A back into the caller's form: vector (n,), column (n, 1) or batch."""
    if form == "vector":
        return A[0]
    if form == "column":
        return A[0].reshape(-1, 1)
    return A
