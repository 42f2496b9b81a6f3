"""Pure-NumPy reference implementation of cymlp's multilayer perceptron.

This is the test oracle for the compiled core and the "plain NumPy" side of
the benchmarks. It computes exactly the same math as ``cymlp._core``:

* Algorithm 1 (feedforward), one example per row: ``Z = A_prev @ W.T + b``,
  ``A = f(Z)``;
* Algorithm 3 (backprop): the output delta of the cost (quadratic
  ``(A - Y) * f'(Z)``, or cross-entropy ``A - Y``), then
  ``D_prev = (D @ W) * f'(Z_prev)``;
* Algorithm 2 (gradient descent): ``W -= eta * mean gradient over the batch``,
  i.e. ``W -= eta / S * D.T @ A_prev``, with optional L2 decay
  (``eta * lambda / n * W``, as Nielsen's network2) and classical momentum.

``ReferenceMLP.train_epoch`` allocates its buffers once and works with
``out=`` arguments, so the benchmark compares against NumPy at its best
rather than against page faults from per-step temporaries.
"""

from __future__ import annotations

import numpy as np
from scipy.special import expit

from ._validation import one_hot  # noqa: F401  (the oracle's targets: rows of the identity)


def sigmoid(z, out=None):
    """The logistic function 1 / (1 + e^-z), stable for any z (SciPy's expit)."""
    return expit(z, out=out)


def sigmoid_prime_from_output(a, out=None):
    """f'(z) = a (1 - a) where a = sigmoid(z)."""
    out = np.subtract(1.0, a, out=out)
    return np.multiply(out, a, out=out)


def tanh_prime_from_output(a, out=None):
    """f'(z) = 1 - a^2 where a = tanh(z)."""
    return np.subtract(1.0, a * a, out=out)


def relu(z, out=None):
    """max(z, 0)."""
    return np.maximum(z, 0.0, out=out)


def relu_prime_from_output(a, out=None):
    """1 where a > 0, else 0."""
    return np.heaviside(a, 0.0, out=out)


def leaky_relu(z, out=None, slope=0.01):
    """z where z > 0, else slope * z."""
    return _into(np.where(z > 0, z, slope * z), out)


def leaky_relu_prime_from_output(a, out=None, slope=0.01):
    """1 where a > 0, else slope."""
    return _into(np.where(a > 0, 1.0, slope), out)


def softmax(z, out=None):
    """e^(z - max) / sum e^(z - max), row by row (never overflows)."""
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return np.divide(e, e.sum(axis=1, keepdims=True), out=out)


def _into(values, out):
    if out is None:
        return values
    out[...] = values
    return out


# name -> (f, f' written in terms of the output a = f(z)); softmax only for outputs
ACTIVATIONS = {
    "sigmoid": (sigmoid, sigmoid_prime_from_output),
    "tanh": (np.tanh, tanh_prime_from_output),
    "relu": (relu, relu_prime_from_output),
    "leaky_relu": (leaky_relu, leaky_relu_prime_from_output),
    "softmax": (softmax, None),
}


def activation(name, slope=0.01):
    """``(f, f_prime_from_output)`` of an activation, with the leaky ReLU slope bound."""
    f, fprime = ACTIVATIONS[name]
    if name == "leaky_relu":
        return (lambda z, out=None: f(z, out, slope)), (lambda a, out=None: fprime(a, out, slope))
    return f, fprime




class Options:
    """The model's choices: activations per layer, cost, leaky slope (defaults: the paper's)."""

    def __init__(self, n_layers, activation="sigmoid", output_activation="sigmoid",
                 cost="quadratic", leaky_slope=0.01):
        self.kinds = [activation] * (n_layers - 1) + [output_activation]
        self.cost = cost
        self.slope = leaky_slope


def feed_forward(weights, biases, X, options=None):
    """Algorithm 1 for a batch X of shape (n, n_in).

    Returns ``(activations, weighted_inputs)``: activations [X, A_1, ..., A_L]
    and weighted inputs [Z_1, ..., Z_L], each with one row per example.
    """
    options = options or Options(len(weights))
    activations, weighted_inputs = [X], []
    for W, b, kind in zip(weights, biases, options.kinds):
        Z = activations[-1] @ W.T + b
        weighted_inputs.append(Z)
        activations.append(activation(kind, options.slope)[0](Z))
    return activations, weighted_inputs


def output_delta(A, Y, options):
    """dC/dZ of the output layer (per example, not averaged)."""
    kind = options.kinds[-1]
    if options.cost == "cross_entropy":  # sigmoid or softmax outputs: the closed form
        return A - Y
    if kind == "softmax":
        G = A - Y
        return A * (G - np.sum(G * A, axis=1, keepdims=True))
    return (A - Y) * activation(kind, options.slope)[1](A)


def cost(A, Y, options):
    """Mean over the rows of the cost: 1/2 ||a - y||^2 or the cross-entropy."""
    if options.cost == "quadratic":
        return 0.5 * np.sum((A - Y) ** 2) / len(A)
    if options.kinds[-1] == "softmax":
        return -np.sum(Y * np.log(A)) / len(A)
    return -np.sum(Y * np.log(A) + (1 - Y) * np.log(1 - A)) / len(A)


def backprop(weights, biases, X, Y, options=None):
    """Mean gradients over the rows of X of the cost (Algorithms 2 and 3).

    Y is one-hot, shape (n, n_out). Returns ``(bias_gradients, weight_gradients)``
    with the shapes of ``biases`` and ``weights``.
    """
    options = options or Options(len(weights))
    activations, _ = feed_forward(weights, biases, X, options)
    S = X.shape[0]
    grad_b, grad_W = [None] * len(weights), [None] * len(weights)
    D = output_delta(activations[-1], Y, options)
    for l in range(len(weights) - 1, -1, -1):
        grad_W[l] = D.T @ activations[l] / S
        grad_b[l] = D.sum(axis=0) / S
        if l > 0:
            fprime = activation(options.kinds[l - 1], options.slope)[1]
            D = (D @ weights[l]) * fprime(activations[l])
    return grad_b, grad_W


class ReferenceMLP:
    """Mini-batch training in vectorized NumPy, with buffers allocated once.

    Works in place on the given ``weights`` and ``biases`` lists, like the
    compiled core, so both can start from copies of the same parameters.
    """

    def __init__(self, weights, biases, batch_size, options=None):
        self.weights, self.biases = weights, biases
        self.options = options or Options(len(weights))
        self.functions = [activation(k, self.options.slope) for k in self.options.kinds]
        S = batch_size
        sizes = [W.shape[0] for W in weights]
        self.X = np.empty((S, weights[0].shape[1]))
        self.Y = np.empty((S, sizes[-1]))
        self.A = [np.empty((S, n)) for n in sizes]
        self.D = [np.empty((S, n)) for n in sizes]
        self.fprime = [np.empty((S, n)) for n in sizes]
        self.grad_W = [np.empty_like(W) for W in weights]
        self.grad_b = [np.empty_like(b) for b in biases]
        self.velocity_W = [np.zeros_like(W) for W in weights]
        self.velocity_b = [np.zeros_like(b) for b in biases]

    def _step(self, X, Y, learning_rate, decay, momentum):
        """Forward, backward and update on one batch (views into the buffers)."""
        S = X.shape[0]
        A_prev = X
        for W, b, A, (f, _) in zip(self.weights, self.biases, self.A, self.functions):
            A = A[:S]
            np.matmul(A_prev, W.T, out=A)
            A += b
            f(A, out=A)
            A_prev = A

        last = len(self.weights) - 1
        if self.options.kinds[-1] == "softmax" or self.options.cost == "cross_entropy":
            self.D[last][:S] = output_delta(self.A[last][:S], Y, self.options)
        else:
            D = self.D[last][:S]
            np.subtract(self.A[last][:S], Y, out=D)
            D *= self.functions[last][1](self.A[last][:S], out=self.fprime[last][:S])
        for l in range(last, 0, -1):  # every delta with the old weights, then update
            D_prev = self.D[l - 1][:S]
            np.matmul(self.D[l][:S], self.weights[l], out=D_prev)
            D_prev *= self.functions[l - 1][1](self.A[l - 1][:S], out=self.fprime[l - 1][:S])
        for l in range(last, -1, -1):
            A_prev = X if l == 0 else self.A[l - 1][:S]
            np.matmul(self.D[l][:S].T, A_prev, out=self.grad_W[l])
            np.sum(self.D[l][:S], axis=0, out=self.grad_b[l])
            step = learning_rate / S
            if momentum:
                V, v = self.velocity_W[l], self.velocity_b[l]
                V *= momentum
                V -= decay * self.weights[l]
                V -= step * self.grad_W[l]
                v *= momentum
                v -= step * self.grad_b[l]
                self.weights[l] += V
                self.biases[l] += v
            else:
                if decay:
                    self.weights[l] *= 1.0 - decay
                self.grad_W[l] *= step
                self.grad_b[l] *= step
                self.weights[l] -= self.grad_W[l]
                self.biases[l] -= self.grad_b[l]

    def train_epoch(self, X, Y, order, batch_size, learning_rate, l2=0.0, momentum=0.0):
        """One epoch of Algorithm 2 over the rows of X in the given order.

        Y is one-hot (n, n_out); ``order=None`` takes the rows as they are.
        ``l2`` is lambda (decay eta * lambda / n per step), ``momentum`` mu.
        """
        n = X.shape[0]
        decay = learning_rate * l2 / n
        for start in range(0, n, batch_size):
            stop = min(start + batch_size, n)
            if order is None:
                Xb, Yb = X[start:stop], Y[start:stop]
            else:
                Xb, Yb = self.X[: stop - start], self.Y[: stop - start]
                np.take(X, order[start:stop], axis=0, out=Xb)
                np.take(Y, order[start:stop], axis=0, out=Yb)
            self._step(Xb, Yb, learning_rate, decay, momentum)
