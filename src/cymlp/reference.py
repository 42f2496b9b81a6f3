"""Pure-NumPy reference implementation of the paper's multilayer perceptron.

This is the test oracle for the compiled core and the "plain NumPy" side of
the benchmarks. It computes exactly the same math as ``cymlp._core``:

* Algorithm 1 (feedforward), one example per row: ``Z = A_prev @ W.T + b``,
  ``A = sigmoid(Z)``;
* Algorithm 3 (backprop) for the quadratic cost C = 1/2 ||a - y||^2:
  ``D_last = (A - Y) * f'(Z)``, ``D_prev = (D @ W) * f'(Z_prev)``;
* Algorithm 2 (gradient descent): ``W -= eta * mean over the batch of the
  per-example gradients``, i.e. ``W -= eta / S * D.T @ A_prev``.

``ReferenceMLP.train_epoch`` allocates its buffers once and works with
``out=`` arguments, so the benchmark compares against NumPy at its best
rather than against page faults from per-step temporaries.
"""

from __future__ import annotations

import numpy as np
from scipy.special import expit


def sigmoid(z, out=None):
    """The logistic function 1 / (1 + e^-z), stable for any z (SciPy's expit)."""
    return expit(z, out=out)


def sigmoid_prime_from_output(a, out=None):
    """f'(z) = a (1 - a) where a = sigmoid(z)."""
    out = np.subtract(1.0, a, out=out)
    return np.multiply(out, a, out=out)


def one_hot(labels, n_classes):
    """Rows of the identity matrix: one_hot([2], 3) == [[0, 0, 1]]."""
    return np.eye(n_classes)[labels]


def feed_forward(weights, biases, X):
    """Algorithm 1 for a batch X of shape (n, n_in).

    Returns ``(activations, weighted_inputs)``: activations [X, A_1, ..., A_L]
    and weighted inputs [Z_1, ..., Z_L], each with one row per example.
    """
    activations, weighted_inputs = [X], []
    for W, b in zip(weights, biases):
        Z = activations[-1] @ W.T + b
        weighted_inputs.append(Z)
        activations.append(sigmoid(Z))
    return activations, weighted_inputs


def backprop(weights, biases, X, Y):
    """Mean gradients over the rows of X of C = 1/2 ||a - y||^2 (Algorithms 2 and 3).

    Y is one-hot, shape (n, n_out). Returns ``(bias_gradients, weight_gradients)``
    with the shapes of ``biases`` and ``weights``.
    """
    activations, _ = feed_forward(weights, biases, X)
    S = X.shape[0]
    grad_b, grad_W = [None] * len(weights), [None] * len(weights)
    D = (activations[-1] - Y) * sigmoid_prime_from_output(activations[-1])
    for l in range(len(weights) - 1, -1, -1):
        grad_W[l] = D.T @ activations[l] / S
        grad_b[l] = D.sum(axis=0) / S
        if l > 0:
            D = (D @ weights[l]) * sigmoid_prime_from_output(activations[l])
    return grad_b, grad_W


class ReferenceMLP:
    """Mini-batch training in vectorized NumPy, with buffers allocated once.

    Works in place on the given ``weights`` and ``biases`` lists, like the
    compiled core, so both can start from copies of the same parameters.
    """

    def __init__(self, weights, biases, batch_size):
        self.weights, self.biases = weights, biases
        S = batch_size
        sizes = [W.shape[0] for W in weights]
        self.X = np.empty((S, weights[0].shape[1]))
        self.Y = np.empty((S, sizes[-1]))
        self.A = [np.empty((S, n)) for n in sizes]
        self.D = [np.empty((S, n)) for n in sizes]
        self.fprime = [np.empty((S, n)) for n in sizes]
        self.grad_W = [np.empty_like(W) for W in weights]
        self.grad_b = [np.empty_like(b) for b in biases]

    def _step(self, X, Y, learning_rate):
        """Forward, backward and update on one batch (views into the buffers)."""
        S = X.shape[0]
        A_prev = X
        for W, b, A in zip(self.weights, self.biases, self.A):
            A = A[:S]
            np.matmul(A_prev, W.T, out=A)
            A += b
            sigmoid(A, out=A)
            A_prev = A

        last = len(self.weights) - 1
        D = self.D[last][:S]
        np.subtract(self.A[last][:S], Y, out=D)
        D *= sigmoid_prime_from_output(self.A[last][:S], out=self.fprime[last][:S])
        for l in range(last, -1, -1):
            A_prev = X if l == 0 else self.A[l - 1][:S]
            np.matmul(D.T, A_prev, out=self.grad_W[l])
            np.sum(D, axis=0, out=self.grad_b[l])
            if l > 0:  # the previous layer's delta uses W[l] before its update
                D_prev = self.D[l - 1][:S]
                np.matmul(D, self.weights[l], out=D_prev)
                D_prev *= sigmoid_prime_from_output(A_prev, out=self.fprime[l - 1][:S])
            step = learning_rate / S
            self.grad_W[l] *= step
            self.grad_b[l] *= step
            self.weights[l] -= self.grad_W[l]
            self.biases[l] -= self.grad_b[l]
            if l > 0:
                D = D_prev

    def train_epoch(self, X, Y, order, batch_size, learning_rate):
        """One epoch of Algorithm 2 over the rows of X in the given order.

        Y is one-hot (n, n_out); ``order=None`` takes the rows as they are.
        """
        n = X.shape[0]
        for start in range(0, n, batch_size):
            stop = min(start + batch_size, n)
            if order is None:
                Xb, Yb = X[start:stop], Y[start:stop]
            else:
                Xb, Yb = self.X[: stop - start], self.Y[: stop - start]
                np.take(X, order[start:stop], axis=0, out=Xb)
                np.take(Y, order[start:stop], axis=0, out=Yb)
            self._step(Xb, Yb, learning_rate)
