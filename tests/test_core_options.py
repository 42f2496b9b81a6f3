"""The compiled core's target matrices, identity outputs, Nesterov, Adam, scikit-learn's L2 and
accumulated training loss, against the NumPy reference (gradients 1e-10, epochs 1e-9)."""

import copy

import numpy as np
import pytest

from cymlp import MLP, _core
from cymlp import reference as ref
from conftest import max_relative_error, options_of

SIZES = [12, 9, 7, 4]


def _data(n=53, seed=0, zero_columns=3):
    rng = np.random.default_rng(seed)
    X = rng.random((n, SIZES[0]))
    X[:, :zero_columns] = 0  # columns the first layer may skip
    X[rng.random(X.shape) < 0.4] = 0
    return X, rng


def _targets(kind, n, rng):
    if kind == "regression":
        return rng.normal(size=(n, SIZES[-1]))
    if kind == "multilabel":
        return (rng.random((n, SIZES[-1])) < 0.5).astype(float)
    return rng.integers(0, SIZES[-1], n)  # labels


NETS = {  # (hidden, output, cost, targets)
    "identity regression": ("tanh", "identity", "quadratic", "regression"),
    "identity everywhere": ("identity", "identity", "quadratic", "regression"),
    "softmax labels": ("relu", "softmax", "cross_entropy", "labels"),
    "sigmoid multilabel": ("sigmoid", "sigmoid", "cross_entropy", "multilabel"),
    "paper": ("sigmoid", "sigmoid", "quadratic", "labels"),
}


def _net(name, seed=1, dtype=np.float64):
    hidden, output, cost, _ = NETS[name]
    net = MLP(SIZES, seed=seed, activation=hidden, output_activation=output, cost=cost,
              init="xavier", dtype=dtype)
    return net


@pytest.mark.parametrize("name", NETS)
def test_gradients_with_targets_match_the_reference(name):
    X, rng = _data(17)
    Y = _targets(NETS[name][3], 17, rng)
    net = _net(name)
    grad_b, grad_W = net.backprop(X, Y)
    target_matrix = ref.one_hot(Y, SIZES[-1]) if Y.ndim == 1 else Y
    want_b, want_W = ref.backprop(net.weights, net.biases, X, target_matrix, options_of(net))
    assert max_relative_error(grad_W + grad_b, want_W + want_b) < 1e-10
    if Y.ndim == 2 and NETS[name][1] != "identity":  # the core's target-matrix path for labels too
        core = net._network(17)
        G = [np.empty_like(W) for W in net.weights]
        g = [np.empty_like(b) for b in net.biases]
        mean_cost = core.gradients(X, None, G, g, targets=np.ascontiguousarray(Y))
        assert max_relative_error(G + g, want_W + want_b) < 1e-10
        cost = ref.cost(ref.feed_forward(net.weights, net.biases, X, options_of(net))[0][-1],
                        Y, options_of(net))
        assert mean_cost == pytest.approx(cost, rel=1e-12)


OPTIMIZERS = {  # train options, reference options
    "sgd": (dict(), dict()),
    "momentum": (dict(momentum=0.9), dict(momentum=0.9)),
    "momentum + l2": (dict(momentum=0.8, l2=3.0), dict(momentum=0.8, l2=3.0)),
    "nesterov": (dict(optimizer="nesterov", momentum=0.9), dict(momentum=0.9, nesterov=True)),
    "nesterov + l2": (dict(optimizer="nesterov", momentum=0.5, l2=2.0),
                      dict(momentum=0.5, nesterov=True, l2=2.0)),
    "adam": (dict(optimizer="adam", beta_1=0.8, beta_2=0.99, epsilon=1e-7),
             dict(solver="adam", beta_1=0.8, beta_2=0.99, epsilon=1e-7)),
}


def _train_both(name, optimizer, epochs=2, batch_size=8, n_threads=1, learning_rate=0.05,
                gd="mini-batch"):
    X, rng = _data()
    Y = _targets(NETS[name][3], X.shape[0], rng)
    net = _net(name)
    weights, biases = [w.copy() for w in net.weights], [b.copy() for b in net.biases]
    generator = copy.deepcopy(net._rng)
    train, reference = OPTIMIZERS[optimizer]
    history = net.train((X, Y), gd=gd, batch_size=batch_size, learning_rate=learning_rate,
                        epochs=epochs, verbose=False, n_threads=n_threads, **train)
    S = {"batch": X.shape[0], "sgd": 1}.get(gd, batch_size)
    model = ref.ReferenceMLP(weights, biases, S, options_of(net))
    target_matrix = ref.one_hot(Y, SIZES[-1]) if Y.ndim == 1 else Y
    losses = []
    for _ in range(epochs):
        order = None if gd == "batch" else generator.permutation(X.shape[0])
        cost, penalty = model.train_epoch(X, target_matrix, order, S, learning_rate, **reference)
        losses.append(cost + penalty)
    return net, history, weights + biases, losses


@pytest.mark.parametrize("optimizer", OPTIMIZERS)
@pytest.mark.parametrize("name", NETS)
def test_epochs_and_training_loss_match_the_reference(name, optimizer):
    net, history, want, losses = _train_both(name, optimizer)
    assert max_relative_error(net.weights + net.biases, want) < 1e-9
    np.testing.assert_allclose(history.train_loss, losses, rtol=1e-9)
    assert [r.train_loss for r in history] == [history.train_loss[-1]]


@pytest.mark.parametrize("optimizer", ["adam", "nesterov + l2", "sgd"])
def test_full_batch_chunks_and_sgd_mode_match_the_reference(optimizer):
    for gd in ("batch", "sgd"):
        net, history, want, losses = _train_both("identity regression", optimizer, gd=gd,
                                                 learning_rate=0.01)
        assert max_relative_error(net.weights + net.biases, want) < 1e-9
        np.testing.assert_allclose(history.train_loss, losses, rtol=1e-9)


@pytest.mark.parametrize("optimizer", ["adam", "nesterov", "sgd"])
@pytest.mark.parametrize("name", ["identity regression", "sigmoid multilabel"])
def test_thread_count_changes_no_bit(name, optimizer):
    results = []
    for n_threads in (1, 2, 3):
        net, history, _, _ = _train_both(name, optimizer, batch_size=40, n_threads=n_threads)
        results.append((net.weights + net.biases, history.train_loss))
    for parameters, loss in results[1:]:
        assert loss == results[0][1]
        for got, want in zip(parameters, results[0][0]):
            np.testing.assert_array_equal(got, want)


def test_batches_over_a_chunk_with_adam_and_targets():
    """A batch of more rows than the core's chunk (gradients summed over the chunks)."""
    rng = np.random.default_rng(3)
    n = _core.CHUNK + 300
    X = rng.random((n, SIZES[0]))
    Y = rng.normal(size=(n, SIZES[-1]))
    runs = []
    for n_threads in (1, 2):
        net = _net("identity regression", seed=4)
        start = [p.copy() for p in net.weights + net.biases]
        generator = copy.deepcopy(net._rng)
        history = net.train((X, Y), batch_size=n - 100, learning_rate=0.01, epochs=2,
                            optimizer="adam", verbose=False, n_threads=n_threads)
        runs.append((net.weights + net.biases, history.train_loss))
    model = ref.ReferenceMLP(start[:3], start[3:], n - 100, options_of(net))
    losses = [sum(model.train_epoch(X, Y, generator.permutation(n), n - 100, 0.01,
                                    solver="adam")) for _ in range(2)]
    assert max_relative_error(runs[0][0], start) < 1e-9
    np.testing.assert_allclose(runs[0][1], losses, rtol=1e-9)
    assert runs[1][1] == runs[0][1]
    for got, want in zip(runs[1][0], runs[0][0]):
        np.testing.assert_array_equal(got, want)


WEIGHTED = {  # core train_epoch options, reference options
    "sgd": (dict(), dict()),
    "sgd + l2": (dict(l2=3.0), dict(l2=3.0)),
    "nesterov + alpha": (dict(optimizer="nesterov", momentum=0.9, alpha=0.05),
                         dict(momentum=0.9, nesterov=True, alpha=0.05)),
    "adam + alpha": (dict(optimizer="adam", alpha=0.01, beta_1=0.8),
                     dict(solver="adam", alpha=0.01, beta_1=0.8)),
}


@pytest.mark.parametrize("optimizer", WEIGHTED)
@pytest.mark.parametrize("name", ["softmax labels", "identity regression", "paper"])
@pytest.mark.parametrize("batch_size", [8, _core.CHUNK + 100])
def test_sample_weights_match_the_reference(name, optimizer, batch_size):
    """scikit-learn's sample weights: each row's cost and output delta times its weight,
    each batch's mean over its weights' sum; bit for bit at any thread count."""
    n = 53 if batch_size == 8 else _core.CHUNK + 300
    X, rng = _data(n)
    Y = _targets(NETS[name][3], n, rng)
    sample_weight = rng.uniform(0, 3, n)
    sample_weight[:5] = 0
    orders = [rng.permutation(n).astype(np.intp) for _ in range(2)]
    train, reference = WEIGHTED[optimizer]
    labels, targets = (Y.astype(np.intp), None) if Y.ndim == 1 else (None, Y)
    runs = []
    for n_threads in (1, 3):
        net = _net(name)
        start = [p.copy() for p in net.weights + net.biases]
        core = net._network(min(batch_size, _core.CHUNK), momentum="momentum" in train,
                            adam=train.get("optimizer") == "adam")
        losses = [sum(core.train_epoch(X, labels, order, batch_size=batch_size,
                                       learning_rate=0.02, targets=targets, n_threads=n_threads,
                                       sample_weight=sample_weight, **train)) / n
                  for order in orders]
        runs.append((net.weights + net.biases, losses))
    model = ref.ReferenceMLP(start[:3], start[3:], batch_size, options_of(net))
    target_matrix = ref.one_hot(Y, SIZES[-1]) if Y.ndim == 1 else Y
    want = [sum(model.train_epoch(X, target_matrix, order, batch_size, 0.02,
                                  sample_weight=sample_weight, **reference)) for order in orders]
    assert max_relative_error(runs[0][0], start) < 1e-9
    np.testing.assert_allclose(runs[0][1], want, rtol=1e-9)
    assert runs[1][1] == runs[0][1]
    for got, same in zip(*(run[0] for run in runs)):
        np.testing.assert_array_equal(got, same)
    with pytest.raises(ValueError, match=f"sample_weight has 3 values: expected one per row of X \\({n}\\)"):
        core.train_epoch(X, labels, None, batch_size=8, learning_rate=0.1, targets=targets,
                         sample_weight=sample_weight[:3], **train)


def test_float32_targets_and_adam_stay_close_to_float64():
    X, rng = _data()
    Y = _targets("regression", X.shape[0], rng)
    results = []
    for dtype in (np.float64, np.float32):
        net = _net("identity regression", dtype=dtype)
        net.train((X, Y), batch_size=8, learning_rate=0.01, epochs=2, optimizer="adam",
                  verbose=False)
        results.append(net.weights + net.biases)
    assert max(np.max(np.abs(a - b)) for a, b in zip(*results)) < 1e-4


def test_regression_with_mlp():
    X, rng = _data(200, seed=5, zero_columns=0)
    Y = np.c_[X[:, :2].sum(axis=1), X[:, 2] - X[:, 3], X[:, 4], -X[:, 5]]
    net = MLP(SIZES, seed=0, activation="tanh", output_activation="identity", init="xavier")
    history = net.train((X.tolist(), Y.tolist()), batch_size=10, learning_rate=0.02, epochs=30,
                        test_data=(X, Y), validation_fraction=0.2, interval=10, verbose=False,
                        optimizer="adam")
    assert len(history.train_loss) == 30 and history.train_loss[-1] < history.train_loss[0] / 5
    assert history[-1].correct is None and history[-1].val_mse < history[0].val_mse
    assert history[-1].mse == pytest.approx(float(np.mean(net.MeanSquaredError((X, Y)))))
    np.testing.assert_allclose(net.predict(X), net.feed_forward(X))
    assert net.predict(X[0]).shape == (4,)
    with pytest.raises(ValueError, match="identity outputs.*MeanSquaredError.*predict"):
        net.evaluate((X, Y))
    with pytest.raises(ValueError, match="targets of shape"):
        net.train((X, Y[:, :3]), epochs=1)
    # a float matrix that is not one-hot trains as targets with sigmoid outputs too
    soft = np.full((200, 4), 0.25)
    MLP(SIZES, seed=0).train((X, soft), epochs=1, verbose=False)


@pytest.mark.parametrize("options, message", [
    (dict(optimizer="adam", momentum=0.9), "adam.*no momentum"),
    (dict(optimizer="adam", l2=1.0), "adam.*l2"),
    (dict(optimizer="nesterov"), "nesterov.*momentum"),
    (dict(optimizer="rmsprop"), "optimizer must be one of"),
    (dict(optimizer="adam", beta_1=1.0), "beta_1"),
    (dict(optimizer="adam", epsilon=0), "epsilon"),
])
def test_bad_optimizer_options(options, message):
    X, rng = _data()
    with pytest.raises(ValueError, match=message):
        MLP(SIZES).train((X, rng.integers(0, 4, X.shape[0])), **options)
