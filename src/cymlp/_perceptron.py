"""The single-layer perceptron of the paper's sections 1.2 and 4.1."""

from __future__ import annotations

import numpy as np
from scipy import sparse

from . import _perceptron_core
from ._validation import as_features, check_int, check_positive_float, generator


class Perceptron:
    """One neuron with the Heaviside step activation, trained by the Perceptron Training Rule.

    Parameters
    ----------
    input_size : int
        Number of features.
    learning_rate : float
        eta > 0 in the rule ``w_i <- w_i + eta (y - o) x_i`` (equations 5 and 6).
    seed : int or None
        Seed of the generator that draws the initial weights and bias from N(0, 1).

    Features are any array-like or scipy.sparse matrix of shape (n, input_size) (one
    example: (input_size,)); uint8 features are pixels, scaled by 1/255 as MLP scales them.
    """

    def __init__(self, input_size: int, learning_rate: float = 0.01, seed: int | None = None) -> None:
        self.input_size = check_int("input_size", input_size, minimum=1)
        self.learning_rate = check_positive_float("learning_rate", learning_rate)
        rng = generator(seed)
        self.weights = rng.standard_normal(self.input_size)
        self.bias = float(rng.standard_normal())

    def __repr__(self):
        return f"Perceptron({self.input_size}, learning_rate={self.learning_rate})"

    def classify(self, x) -> int | np.ndarray:
        """H(x . w + b): 1 if the weighted sum is > 0, else 0.

        ``x`` is one example (input_size,) -> int, or a batch (n, input_size) -> array.
        """
        x_arr = x if sparse.issparse(x) else np.asarray(x)
        single = x_arr.ndim == 1
        X = as_features("x", x_arr.reshape(1, -1) if single else x_arr, self.input_size)
        w, b = self._parameters()
        out = (X @ w + b > 0).astype(np.intp)
        return int(out[0]) if single else out

    def _parameters(self):
        """The weights (input_size,) as float64 and the bias, checked: both may be set by hand."""
        w = np.asarray(self.weights)
        if w.shape != (self.input_size,) or w.dtype.kind not in "iuf":
            raise ValueError(f"weights must be real numbers of shape ({self.input_size},), got "
                             f"shape {w.shape} and dtype {w.dtype}")
        if not np.isfinite(w).all():
            raise ValueError("weights contain NaN or infinity")
        if np.ndim(self.bias) != 0 or np.asarray(self.bias).dtype.kind not in "iuf":
            raise ValueError(f"bias must be a real number, got {self.bias!r}")
        b = float(self.bias)
        if not np.isfinite(b):
            raise ValueError(f"bias must be finite, got {b}")
        return np.array(w, dtype=np.float64, order="C"), b

    def _data(self, features, labels):
        X = as_features("features", features, self.input_size)
        y = np.asarray(labels)
        if y.shape != (X.shape[0],):
            raise ValueError(f"labels must have shape ({X.shape[0]},), got {y.shape}")
        if y.dtype == bool:
            y = y.astype(np.float64)
        if y.dtype.kind not in "iuf" or not np.isin(y, (0, 1)).all():
            raise ValueError("labels must be 0 or 1")
        return X, np.ascontiguousarray(y, dtype=np.float64)

    def train(self, features, labels, epochs: int = 100, verbose: bool = True) -> list[int]:
        """Apply the Perceptron Training Rule example by example, in order (compiled loop).

        Prints the total error every 10 epochs and stops early at zero error,
        as the paper's code does. Returns the total error sum |y - o| of each
        epoch run.
        """
        X, y = self._data(features, labels)
        epochs = check_int("epochs", epochs, minimum=1)
        w, bias = self._parameters()
        b = np.array([bias])
        errors = []
        for epoch in range(epochs):
            total = _perceptron_core.perceptron_epoch(w, b, X, y, self.learning_rate)
            if not (np.isfinite(w).all() and np.isfinite(b[0])):
                raise FloatingPointError(
                    f"training diverged in epoch {epoch}: the weights became NaN or infinite "
                    f"(learning_rate={self.learning_rate} is too high for these features; try "
                    f"a lower one, or scale the features). The "
                    f"perceptron keeps the weights from before training.")
            errors.append(int(total))
            if verbose and (epoch % 10 == 0 or total == 0 or epoch == epochs - 1):
                print(f"Epoch {epoch}: Error = {int(total)}", flush=True)
            if total == 0:
                break
        self.weights, self.bias = w, float(b[0])
        return errors

    def eval(self, features, labels) -> float:
        """Accuracy on the data, a number in [0, 1] (the paper's returns a broken string)."""
        X, y = self._data(features, labels)  # (validated: no second check in classify)
        w, b = self._parameters()
        return float(np.mean((X @ w + b > 0) == y))
