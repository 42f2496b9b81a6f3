"""The NumPy reference against finite differences and the paper's formulas."""

import numpy as np
import pytest

from cymlp import MLP
from cymlp import reference as ref
from conftest import numeric_gradient, random_problem


def mean_cost(weights, biases, X, Y):
    """C = 1/(2S) sum over the batch of ||a - y||^2 (Algorithm 2's averaged cost)."""
    activations, _ = ref.feed_forward(weights, biases, X)
    return 0.5 * np.sum((activations[-1] - Y) ** 2) / X.shape[0]


@pytest.mark.parametrize("sizes", [[4, 3], [6, 5, 3], [7, 6, 5, 4, 3]])
def test_backprop_matches_finite_differences(sizes):
    X, y = random_problem(sizes, 9, seed=1)
    Y = ref.one_hot(y, sizes[-1])
    net = MLP(sizes, seed=2)
    grad_b, grad_W = ref.backprop(net.weights, net.biases, X, Y)
    for P, G in zip(net.weights + net.biases, grad_W + grad_b):
        numeric = numeric_gradient(P, lambda: mean_cost(net.weights, net.biases, X, Y))
        np.testing.assert_allclose(G, numeric, rtol=1e-6, atol=1e-9)


def test_feed_forward_is_algorithm_1():
    net = MLP([3, 2, 2], seed=0)
    x = np.array([0.1, 0.5, 0.9])
    a = x
    for W, b in zip(net.weights, net.biases):
        a = 1 / (1 + np.exp(-(W @ a + b)))
    activations, _ = ref.feed_forward(net.weights, net.biases, x[None, :])
    np.testing.assert_allclose(activations[-1][0], a, rtol=1e-15)


def test_sigmoid_is_stable():
    z = np.array([-1000.0, -745.0, -30.0, 0.0, 30.0, 745.0, 1000.0])
    with np.errstate(all="raise"):
        s = ref.sigmoid(z)
    assert np.all(np.isfinite(s)) and s[0] == 0.0 and s[-1] == 1.0 and s[3] == 0.5


def test_reference_epoch_equals_paper_loop():
    """ReferenceMLP (buffers, out=) equals a plain per-batch backprop + update."""
    sizes, S = [8, 5, 3], 4
    X, y = random_problem(sizes, 11, seed=3)
    Y = ref.one_hot(y, 3)
    net = MLP(sizes, seed=4)
    W, b = [w.copy() for w in net.weights], [v.copy() for v in net.biases]
    order = np.random.default_rng(5).permutation(11)
    ref.ReferenceMLP(net.weights, net.biases, S).train_epoch(X, Y, order, S, 0.7)
    for start in range(0, 11, S):
        rows = order[start:start + S]
        gb, gW = ref.backprop(W, b, X[rows], Y[rows])
        for l in range(len(W)):
            W[l] -= 0.7 * gW[l]
            b[l] -= 0.7 * gb[l]
    for got, want in zip(net.weights + net.biases, W + b):
        np.testing.assert_allclose(got, want, rtol=0, atol=1e-13)
