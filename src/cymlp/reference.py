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
  (``eta * lambda / n * W``, as Nielsen's network2), or scikit-learn's L2
  (``alpha * W`` added to the summed gradient, then divided by the batch size),
  and an optimizer: plain SGD, classical or Nesterov momentum, or Adam, each
  written as scikit-learn's ``_stochastic_optimizers`` writes it.

Targets are matrices (n, n_out): one-hot rows for classification, real values
for regression (with the ``"identity"`` output activation). Every epoch returns
its training loss, each batch's cost taken with the weights before its step,
as scikit-learn's ``loss_curve_`` takes it.

``ReferenceMLP.train_epoch`` allocates its buffers once and works with
``out=`` arguments, so the benchmark compares against NumPy at its best
rather than against page faults from per-step temporaries.
"""

from __future__ import annotations

import numpy as np
from scipy.special import expit, xlogy

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


def identity(z, out=None):
    """z itself."""
    return _into(z, out)


def identity_prime_from_output(a, out=None):
    """1 everywhere."""
    return _into(np.ones_like(a), out)


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
    if out is not values:
        out[...] = values
    return out


# name -> (f, f' written in terms of the output a = f(z)); softmax only for outputs
ACTIVATIONS = {
    "identity": (identity, identity_prime_from_output),
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


def cost_sum(A, Y, options, weights=None):
    """Sum over the rows of the cost: 1/2 ||a - y||^2 or the cross-entropy (row i's
    weights[i] times, with weights).

    The cross-entropy clips the outputs to [eps, 1 - eps] of their dtype, as
    scikit-learn's ``log_loss`` and ``binary_log_loss`` do (so a saturated
    output costs -log(eps), not infinity).
    """
    if options.cost == "quadratic":
        costs = 0.5 * (A - Y) ** 2
    else:
        eps = np.finfo(A.dtype).eps
        P = np.clip(A, eps, 1 - eps)
        costs = -xlogy(Y, P)
        if options.kinds[-1] != "softmax":
            costs -= xlogy(1 - Y, 1 - P)
    return np.sum(costs) if weights is None else float(weights @ costs.sum(axis=1))


def cost(A, Y, options):
    """Mean over the rows of the cost (see :func:`cost_sum`)."""
    return cost_sum(A, Y, options) / len(A)


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


SOLVERS = ("sgd", "adam")


class ReferenceMLP:
    """Mini-batch training in vectorized NumPy, with buffers allocated once.

    Works in place on the given ``weights`` and ``biases`` lists, like the
    compiled core, so both can start from copies of the same parameters. The
    optimizer's state (momentum velocities, Adam's moments and step count)
    lives in this object, from epoch to epoch, as in scikit-learn's optimizers.
    """

    def __init__(self, weights, biases, batch_size, options=None):
        self.weights, self.biases = weights, biases
        self.options = options or Options(len(weights))
        self.functions = [activation(k, self.options.slope) for k in self.options.kinds]
        S = batch_size
        sizes = [W.shape[0] for W in weights]
        dtype = weights[0].dtype
        self.X = np.empty((S, weights[0].shape[1]), dtype)
        self.Y = np.empty((S, sizes[-1]), dtype)
        self.A = [np.empty((S, n), dtype) for n in sizes]
        self.D = [np.empty((S, n), dtype) for n in sizes]
        self.fprime = [np.empty((S, n), dtype) for n in sizes]
        self.grad_W = [np.empty_like(W) for W in weights]
        self.grad_b = [np.empty_like(b) for b in biases]
        # momentum's velocities, or Adam's first moments
        self.velocity_W = [np.zeros_like(W) for W in weights]
        self.velocity_b = [np.zeros_like(b) for b in biases]
        # Adam's second moments and step count
        self.second_W = [np.zeros_like(W) for W in weights]
        self.second_b = [np.zeros_like(b) for b in biases]
        self.adam_steps = 0

    def _forward_backward(self, X, Y, weights=None):
        """Forward and backward pass of one batch: fills A, D and returns the summed cost
        (with sample weights, each row's cost and output delta times its weight)."""
        S = X.shape[0]
        A_prev = X
        for W, b, A, (f, _) in zip(self.weights, self.biases, self.A, self.functions):
            A = A[:S]
            np.matmul(A_prev, W.T, out=A)
            A += b
            f(A, out=A)
            A_prev = A

        last = len(self.weights) - 1
        cost = cost_sum(self.A[last][:S], Y, self.options, weights)
        if self.options.kinds[-1] == "softmax" or self.options.cost == "cross_entropy":
            self.D[last][:S] = output_delta(self.A[last][:S], Y, self.options)
        else:
            D = self.D[last][:S]
            np.subtract(self.A[last][:S], Y, out=D)
            D *= self.functions[last][1](self.A[last][:S], out=self.fprime[last][:S])
        if weights is not None:
            self.D[last][:S] *= weights[:, None]
        for l in range(last, 0, -1):  # every delta with the old weights, then update
            D_prev = self.D[l - 1][:S]
            np.matmul(self.D[l][:S], self.weights[l], out=D_prev)
            D_prev *= self.functions[l - 1][1](self.A[l - 1][:S], out=self.fprime[l - 1][:S])
        return cost

    def _step(self, X, Y, learning_rate, decay, momentum, nesterov=False, alpha=0.0,
              solver="sgd", betas=(0.9, 0.999, 1e-8), weights=None):
        """Forward, backward and update on one batch (views into the buffers);
        returns the batch's summed cost, taken before the update.

        ``decay`` is Nielsen's per-step shrink eta * lambda / n; ``alpha`` is
        scikit-learn's L2 term, added to the summed gradient before the mean
        (over the batch's rows, or the sum of its sample ``weights``).
        """
        S = X.shape[0]
        size = S if weights is None else weights.sum()
        cost = self._forward_backward(X, Y, weights)
        if solver == "adam":
            self.adam_steps += 1
        for l in range(len(self.weights) - 1, -1, -1):
            A_prev = X if l == 0 else self.A[l - 1][:S]
            gW, gb = self.grad_W[l], self.grad_b[l]
            np.matmul(self.D[l][:S].T, A_prev, out=gW)
            np.sum(self.D[l][:S], axis=0, out=gb)
            if alpha:
                gW += alpha * self.weights[l]
            if solver == "adam":
                gW /= size  # scikit-learn's gradient: (D^T A + alpha W) / S
                gb /= size
                self._adam(l, learning_rate, *betas)
                continue
            if alpha or nesterov:
                gW /= size
                gb /= size
                step = learning_rate
            else:
                step = learning_rate / size
            if momentum:
                V, v = self.velocity_W[l], self.velocity_b[l]
                V *= momentum
                V -= decay * self.weights[l]
                V -= step * gW
                v *= momentum
                v -= step * gb
                if nesterov:  # scikit-learn: w <- w + mu v_new - eta g
                    self.weights[l] += momentum * V - step * gW - decay * self.weights[l]
                    self.biases[l] += momentum * v - step * gb
                else:
                    self.weights[l] += V
                    self.biases[l] += v
            else:
                if decay:
                    self.weights[l] *= 1.0 - decay
                gW *= step
                gb *= step
                self.weights[l] -= gW
                self.biases[l] -= gb
        return cost

    def _adam(self, l, learning_rate, beta_1, beta_2, epsilon):
        """Adam, bias-corrected as scikit-learn's AdamOptimizer:
        m <- b1 m + (1 - b1) g; v <- b2 v + (1 - b2) g^2;
        w <- w - eta sqrt(1 - b2^t) / (1 - b1^t) * m / (sqrt(v) + epsilon)."""
        t = self.adam_steps
        rate = learning_rate * np.sqrt(1 - beta_2 ** t) / (1 - beta_1 ** t)
        for P, g, m, v in ((self.weights[l], self.grad_W[l], self.velocity_W[l], self.second_W[l]),
                           (self.biases[l], self.grad_b[l], self.velocity_b[l], self.second_b[l])):
            m *= beta_1
            m += (1 - beta_1) * g
            v *= beta_2
            v += (1 - beta_2) * (g * g)
            P += -rate * m / (np.sqrt(v) + epsilon)

    def squared_norm(self):
        """sum of the squares of all weights (not biases): the L2 penalty's ||W||^2."""
        return sum(float(np.dot(W.ravel(), W.ravel())) for W in self.weights)

    def train_epoch(self, X, Y, order, batch_size, learning_rate, l2=0.0, momentum=0.0, *,
                    nesterov=False, alpha=0.0, solver="sgd", beta_1=0.9, beta_2=0.999,
                    epsilon=1e-8, sample_weight=None):
        """One epoch of Algorithm 2 over the rows of X in the given order.

        Y is the target matrix (n, n_out): one-hot rows or real values;
        ``order=None`` takes the rows as they are. ``l2`` is lambda (decay
        eta * lambda / n per step), ``momentum`` mu (``nesterov``: Nesterov's
        momentum as scikit-learn writes it), ``alpha`` scikit-learn's L2 term;
        ``solver="adam"`` uses Adam with ``learning_rate`` as its step size.
        ``sample_weight`` weighs each row's cost and output delta, and a batch's
        mean divides by its weights' sum (scikit-learn's sample weights).

        Returns ``(cost, penalty)``: the mean cost per example of the epoch,
        each batch's taken with the weights before its step, and the mean L2
        penalty (per batch 1/2 alpha ||W||^2, or S lambda / (2 n) ||W||^2;
        summed over the batches, divided by n); with sample weights each batch's
        weighted cost and alpha's penalty times its rows over its weights' sum.
        """
        n = X.shape[0]
        decay = learning_rate * l2 / n
        total_cost = total_penalty = 0.0
        for start in range(0, n, batch_size):
            stop = min(start + batch_size, n)
            rows = slice(start, stop) if order is None else order[start:stop]
            if order is None:
                Xb, Yb = X[start:stop], Y[start:stop]
            else:
                Xb, Yb = self.X[: stop - start], self.Y[: stop - start]
                np.take(X, rows, axis=0, out=Xb)
                np.take(Y, rows, axis=0, out=Yb)
            weights = None if sample_weight is None else sample_weight[rows]
            if weights is not None and weights.sum() == 0:
                raise ValueError("the sample weights of a batch sum to zero")
            share = 1.0 if weights is None else (stop - start) / weights.sum()
            if alpha or l2:   # (scikit-learn's alpha term is over the weights' sum)
                scale = 0.5 * alpha * share if alpha else 0.5 * (stop - start) * l2 / n
                total_penalty += scale * self.squared_norm()
            total_cost += share * self._step(Xb, Yb, learning_rate, decay, momentum, nesterov,
                                             alpha, solver, (beta_1, beta_2, epsilon), weights)
        return total_cost / n, total_penalty / n
