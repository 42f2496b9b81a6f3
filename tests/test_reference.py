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


# ------------------------------------------------ beyond the paper: scikit-learn's semantics

def _options(output, cost, hidden="tanh", n_layers=2):
    return ref.Options(n_layers, hidden, output, cost)


def _targets(output, n, n_out, rng):
    if output == "identity":
        return rng.normal(size=(n, n_out))
    if output == "softmax":
        return ref.one_hot(rng.integers(0, n_out, n), n_out)
    return (rng.random((n, n_out)) < 0.5).astype(float)  # logistic: any 0/1 rows


@pytest.mark.parametrize("output, cost", [("identity", "quadratic"), ("softmax", "cross_entropy"),
                                          ("sigmoid", "cross_entropy"), ("softmax", "quadratic")])
def test_identity_and_log_loss_gradients_match_finite_differences(output, cost):
    rng = np.random.default_rng(0)
    sizes = [5, 4, 3]
    weights = [rng.normal(size=(4, 5)), rng.normal(size=(3, 4))]
    biases = [rng.normal(size=4), rng.normal(size=3)]
    X, Y = rng.random((7, 5)), _targets(output, 7, sizes[-1], rng)
    options = _options(output, cost)
    grad_b, grad_W = ref.backprop(weights, biases, X, Y, options)
    for P, G in zip(weights + biases, grad_W + grad_b):
        numeric = numeric_gradient(
            P, lambda: ref.cost(ref.feed_forward(weights, biases, X, options)[0][-1], Y, options))
        np.testing.assert_allclose(G, numeric, rtol=1e-6, atol=1e-9)


def test_scikit_learns_l2_is_the_gradient_of_its_penalty():
    """alpha W added to the summed gradient, divided by S: the gradient of
    cost_sum / S + alpha / (2 S) ||W||^2 (scikit-learn's batch loss)."""
    rng = np.random.default_rng(1)
    weights = [rng.normal(size=(4, 5)), rng.normal(size=(2, 4))]
    biases = [rng.normal(size=4), rng.normal(size=2)]
    X, Y = rng.random((6, 5)), rng.normal(size=(6, 2))
    options, alpha, S = _options("identity", "quadratic", "relu"), 0.3, 6
    model = ref.ReferenceMLP(weights, biases, S, options)
    model._forward_backward(X, Y)

    def loss():
        A = ref.feed_forward(weights, biases, X, options)[0][-1]
        return (ref.cost_sum(A, Y, options) + 0.5 * alpha * model.squared_norm()) / S

    for l, W in enumerate(weights):
        analytic = (model.D[l][:S].T @ (X if l == 0 else model.A[l - 1][:S]) + alpha * W) / S
        np.testing.assert_allclose(analytic, numeric_gradient(W, loss), rtol=1e-6, atol=1e-9)


def test_log_loss_clips_as_scikit_learn():
    A = np.array([[1.0, 0.0], [0.3, 0.7]])
    Y = np.array([[0.0, 1.0], [0.0, 1.0]])
    options = _options("sigmoid", "cross_entropy")
    eps = np.finfo(float).eps
    want = -(np.log(eps) + np.log(eps) + np.log(0.7) + np.log(0.7))
    assert ref.cost_sum(A, Y, options) == pytest.approx(want, rel=1e-14)




@pytest.mark.filterwarnings("ignore:Stochastic Optimizer")  # (no import: sklearn is optional)
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("solver, nesterov, momentum", [("sgd", False, 0.0), ("sgd", False, 0.9),
                                                        ("sgd", True, 0.9), ("adam", False, 0.0)])
def test_optimizers_equal_scikit_learns(solver, nesterov, momentum, weighted):
    """Three epochs of the reference against scikit-learn's own optimizer classes fed by its own
    _backprop, from the same weights, on the same batches (with and without sample weights)."""
    pytest.importorskip("sklearn")
    from sklearn.neural_network import MLPRegressor
    from sklearn.neural_network._stochastic_optimizers import AdamOptimizer, SGDOptimizer

    rng = np.random.default_rng(2)
    X, Y = rng.random((23, 5)), rng.normal(size=(23, 2))
    est = MLPRegressor(hidden_layer_sizes=(4,), activation="tanh", alpha=0.01, random_state=0,
                       max_iter=1, solver="sgd")
    est.fit(X, Y)  # (for its fitted structure; the weights are set below)
    coefs = [rng.normal(size=(5, 4)), rng.normal(size=(4, 2))]
    intercepts = [rng.normal(size=4), rng.normal(size=2)]
    est.coefs_, est.intercepts_ = [c.copy() for c in coefs], [b.copy() for b in intercepts]
    params = est.coefs_ + est.intercepts_
    optimizer = (AdamOptimizer(params, 0.01) if solver == "adam"
                 else SGDOptimizer(params, 0.05, momentum=momentum, nesterov=nesterov))
    weights = [np.ascontiguousarray(c.T) for c in coefs]
    biases = [b.copy() for b in intercepts]
    model = ref.ReferenceMLP(weights, biases, 5, _options("identity", "quadratic"))
    orders = [rng.permutation(23) for _ in range(3)]
    sample_weight = rng.uniform(0, 2, 23) if weighted else None
    for order in orders:
        total = 0.0
        for start in range(0, 23, 5):
            rows = order[start:start + 5]
            activations = [X[rows]] + [None] * 2
            loss, coef_grads, intercept_grads = est._backprop(
                X[rows], Y[rows], None if sample_weight is None else sample_weight[rows],
                activations, [None] * 2,
                [np.empty_like(c) for c in coefs], [np.empty_like(b) for b in intercepts])
            total += loss * len(rows)
            optimizer.update_params(params, coef_grads + intercept_grads)
        cost, penalty = model.train_epoch(X, Y, order, 5, 0.01 if solver == "adam" else 0.05,
                                          momentum=momentum, nesterov=nesterov, alpha=0.01,
                                          solver=solver, sample_weight=sample_weight)
        # scikit-learn's squared_loss is the mean over the outputs as well
        assert cost / 2 + penalty == pytest.approx(total / 23, rel=1e-12)
    for mine, theirs in zip([W.T for W in weights] + biases, params):
        np.testing.assert_allclose(mine, theirs, rtol=0, atol=1e-13)
