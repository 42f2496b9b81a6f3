"""Model options (activations, costs, inits, L2, momentum, early stopping), save/load, Perceptron."""

import subprocess
import sys

import numpy as np
import pytest

from cymlp import MLP, Perceptron
from cymlp import reference as ref
from conftest import (max_abs_error, max_relative_error, numeric_gradient, options_of, random_problem,
                      train_with_reference)

HIDDEN = ["sigmoid", "tanh", "relu", "leaky_relu"]
OUTPUT_COST = [("sigmoid", "quadratic"), ("tanh", "quadratic"), ("relu", "quadratic"),
               ("leaky_relu", "quadratic"), ("softmax", "quadratic"),
               ("sigmoid", "cross_entropy"), ("softmax", "cross_entropy")]
INITS = ["normal", "xavier", "he", "scaled_normal"]


def make(hidden, output, cost, init, sizes=(9, 7, 5, 4), seed=0):
    return MLP(list(sizes), seed=seed, activation=hidden, output_activation=output, cost=cost,
               init=init, leaky_slope=0.05)


@pytest.mark.parametrize("init", INITS)
@pytest.mark.parametrize("output,cost", OUTPUT_COST)
@pytest.mark.parametrize("hidden", HIDDEN)
def test_gradients_and_one_epoch_match_reference(hidden, output, cost, init):
    net = make(hidden, output, cost, init)
    X, y = random_problem(net.layer_sizes, 45, seed=1)
    X -= 0.3  # negative inputs too, so ReLU units switch on and off
    Y = ref.one_hot(y, 4)
    grad_b, grad_W = net.backprop(X[:16], y[:16])
    want_b, want_W = ref.backprop(net.weights, net.biases, X[:16], Y[:16], options_of(net))
    assert max_relative_error(grad_W + grad_b, want_W + want_b) < 1e-10

    assert max_abs_error(*train_with_reference(net, X, y, 8, 0.3)) < 1e-9


@pytest.mark.parametrize("output,cost", OUTPUT_COST)
@pytest.mark.parametrize("hidden", HIDDEN)
def test_reference_gradients_match_finite_differences(hidden, output, cost):
    net = make(hidden, output, cost, "xavier", sizes=(5, 4, 3), seed=3)
    options = options_of(net)
    X, y = random_problem(net.layer_sizes, 6, seed=2)
    X -= 0.3
    Y = ref.one_hot(y, 3)
    grad_b, grad_W = ref.backprop(net.weights, net.biases, X, Y, options)
    def cost():
        return ref.cost(ref.feed_forward(net.weights, net.biases, X, options)[0][-1], Y, options)

    for P, G in zip(net.weights + net.biases, grad_W + grad_b):
        assert G == pytest.approx(numeric_gradient(P, cost), rel=1e-5, abs=1e-8)


@pytest.mark.parametrize("l2,momentum", [(0.5, 0.0), (0.0, 0.9), (2.0, 0.5)])
@pytest.mark.parametrize("density", [1.0, 0.1])
def test_l2_and_momentum_match_reference_over_two_epochs(l2, momentum, density):
    net = MLP([30, 8, 5], seed=4, activation="relu", output_activation="softmax",
              cost="cross_entropy", init="he")
    X, y = random_problem(net.layer_sizes, 50, seed=5)
    X[np.random.default_rng(0).random(X.shape) > density] = 0.0
    got, want = train_with_reference(net, X, y, 7, 0.2, epochs=2, l2=l2, momentum=momentum)
    assert max_abs_error(got, want) < 1e-9


def test_inits_have_the_documented_scales():
    n_in, n_out = 400, 300
    for init, w_std, b_std in [("normal", 1.0, 1.0), ("scaled_normal", 1 / np.sqrt(n_in), 1.0),
                               ("xavier", np.sqrt(6 / (n_in + n_out)) / np.sqrt(3), 0.0),
                               ("he", np.sqrt(2 / n_in), 0.0)]:
        net = MLP([n_in, n_out], seed=0, init=init)
        assert net.weights[0].std() == pytest.approx(w_std, rel=0.02), init
        assert net.biases[0].std() == pytest.approx(b_std, abs=0.1), init


@pytest.mark.parametrize("kwargs,message", [
    (dict(activation="softmax"), "activation must be one of"),
    (dict(output_activation="swish"), "output_activation must be one of"),
    (dict(cost="hinge"), "cost must be one of"),
    (dict(init="zeros"), "init must be one of"),
    (dict(cost="cross_entropy", output_activation="relu"), "needs output_activation"),
    (dict(leaky_slope=-0.1), "leaky_slope"),
])
def test_bad_options(kwargs, message):
    with pytest.raises(ValueError, match=message):
        MLP([4, 3], **kwargs)


@pytest.mark.parametrize("kwargs,message", [
    (dict(momentum=1.0), "momentum"), (dict(l2=-1.0), "l2"), (dict(patience=2), "needs test_data"),
    (dict(patience=0, test_data="x"), "patience"),
])
def test_bad_training_options(kwargs, message):
    X, y = random_problem([4, 3], 10)
    if kwargs.get("test_data") == "x":
        kwargs["test_data"] = (X, y)
    with pytest.raises(ValueError, match=message):
        MLP([4, 3]).train((X, y), batch_size=5, **kwargs)


def test_early_stopping_keeps_the_best_weights(capsys):
    X, y = random_problem([10, 6, 3], 60, seed=1)
    Xt, yt = random_problem([10, 6, 3], 40, seed=2)  # unrelated labels: no real progress
    net = MLP([10, 6, 3], seed=0)
    history = net.train((X, y), batch_size=5, learning_rate=2.0, epochs=200, test_data=(Xt, yt),
                        interval=1, patience=3)
    assert len(history) < 200 and "stopping" in capsys.readouterr().out
    best = max(history, key=lambda r: r.correct)
    assert history.best_epoch == best.epoch
    assert history[-1].epoch - best.epoch == 3
    assert net.evaluate((Xt, yt)).correct == best.correct


def test_history_plot(tmp_path, monkeypatch):
    pytest.importorskip("matplotlib")  # (the musllinux wheel tests have none)
    X, y = random_problem([6, 4, 3], 30)
    history = MLP([6, 4, 3], seed=0).train((X, y), epochs=3, interval=1, test_data=(X, y),
                                           batch_size=5, verbose=False)
    path = history.plot(tmp_path / "curve.png")
    assert (tmp_path / "curve.png").read_bytes()[:4] == b"\x89PNG"
    monkeypatch.setitem(sys.modules, "matplotlib.figure", None)  # as if not installed
    with pytest.raises(ImportError, match=r"cymlp\[plot\]"):
        history.plot(path)


def test_a_regression_history_plots_its_cost(tmp_path):
    pytest.importorskip("matplotlib")  # (the musllinux wheel tests have none)
    rng = np.random.default_rng(0)
    X, Y = rng.standard_normal((12, 2)), rng.standard_normal((12, 1))
    history = MLP([2, 3, 1], output_activation="identity", seed=0).train(
        (X, Y), epochs=2, batch_size=4, test_data=(X, Y), verbose=False)
    assert history[-1].total is None and history[-1].mse is not None
    history.plot(tmp_path / "cost.png")
    assert (tmp_path / "cost.png").read_bytes()[:4] == b"\x89PNG"


def test_the_plots_refuse_empty_input_and_draw_one_curve(tmp_path):
    pytest.importorskip("matplotlib")
    from cymlp import plots

    z = np.linspace(-2, 2, 5)
    plots.plot_activations({"relu": (z, np.maximum(z, 0))}, tmp_path / "one.png")
    assert (tmp_path / "one.png").read_bytes()[:4] == b"\x89PNG"
    with pytest.raises(ValueError, match="at least one curve"):
        plots.plot_activations({}, tmp_path / "none.png")
    with pytest.raises(ValueError, match="at least one"):
        plots.plot_cost_and_accuracy([], tmp_path / "none.png")
    plots.plot_cost_and_accuracy([(1, 0.1, 0, 0), (2, 0.2, None, None)], tmp_path / "c.png")
    with pytest.raises(ValueError, match="0 images and 0 labels"):
        plots.plot_image_grid([], [], tmp_path / "none.png")
    with pytest.raises(ValueError, match="1 images and 2 labels"):
        plots.plot_image_grid([np.zeros((28, 28))], [1, 2], tmp_path / "none.png")


def test_a_failed_draw_leaves_no_partial_file_and_keeps_the_old_one(tmp_path, monkeypatch):
    pytest.importorskip("matplotlib")
    from matplotlib.axes import Axes

    from cymlp import plots

    z = np.linspace(-2, 2, 5)
    curves = {"relu": (z, np.maximum(z, 0))}
    kept = plots.plot_activations(curves, tmp_path / "kept.svg")
    assert b"<svg" in kept.read_bytes()
    before = kept.read_bytes()

    draw, calls = Axes.draw, []

    def fail_when_drawn_into_the_file(self, renderer):
        calls.append(renderer)   # (the first draw lays the figure out, before the file is opened)
        if len(calls) == 2:
            raise RuntimeError("drawing failed")
        draw(self, renderer)

    monkeypatch.setattr(Axes, "draw", fail_when_drawn_into_the_file)
    for name in ("new.svg", "new.pdf", "kept.svg"):  # svg and pdf write as they draw
        calls.clear()
        with pytest.raises(RuntimeError, match="drawing failed"):
            plots.plot_activations(curves, tmp_path / name)
    assert kept.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["kept.svg"]
    monkeypatch.undo()
    with pytest.raises(IsADirectoryError, match="a plot takes a file name"):
        plots.plot_activations(curves, tmp_path)
    plots.plot_activations(curves, tmp_path / "kept.svg")  # replaced whole when drawing works
    assert b"<svg" in kept.read_bytes()
    plots.plot_activations(curves, tmp_path / "plain")  # no suffix: .png added, as matplotlib does
    assert (tmp_path / "plain.png").read_bytes()[:4] == b"\x89PNG"
    assert not (tmp_path / "plain").exists()


@pytest.mark.parametrize("seed, error", [(True, TypeError), (1.5, TypeError), (-1, ValueError)])
def test_the_perceptron_checks_its_seed_as_mlp_does(seed, error):
    with pytest.raises(error, match="seed must be None or an integer >= 0"):
        Perceptron(3, seed=seed)
    with pytest.raises(error, match="seed must be None or an integer >= 0"):
        MLP([3, 1], seed=seed)


def test_divergence_stops_with_the_epoch_and_keeps_finite_weights():
    X, y = random_problem([6, 16, 3], 40)
    net = MLP([6, 16, 3], seed=0, activation="tanh", output_activation="leaky_relu", init="he")
    with pytest.raises(FloatingPointError, match=r"diverged in epoch \d+.*lower"):
        net.train((X * 1e3, y), learning_rate=1e6, batch_size=4, epochs=50, verbose=False)
    assert all(np.isfinite(W).all() for W in net.weights + net.biases)


def test_save_and_load_round_trip(tmp_path):
    net = MLP([8, 5, 3], seed=1, activation="tanh", output_activation="softmax",
              cost="cross_entropy", init="xavier", leaky_slope=0.2)
    X, y = random_problem([8, 5, 3], 20)
    net.train((X, y), epochs=2, batch_size=4, verbose=False)
    net.save(tmp_path / "model.npz")
    loaded = MLP.load(tmp_path / "model.npz")
    assert repr(loaded) == repr(net) and loaded.leaky_slope == 0.2
    np.testing.assert_array_equal(loaded.feed_forward(X), net.feed_forward(X))


def corrupt(tmp_path, **changes):
    net = MLP([4, 3, 2], seed=0)
    net.save(tmp_path / "good.npz")
    with np.load(tmp_path / "good.npz") as data:
        contents = {k: data[k] for k in data.files}
    for key, value in changes.items():
        if value is None:
            del contents[key]
        else:
            contents[key] = value
    np.savez(tmp_path / "bad.npz", **contents)
    return tmp_path / "bad.npz"


@pytest.mark.parametrize("changes,message", [
    (dict(weights_1=None), r"expected arrays"),
    (dict(format_version=np.int64(99)), "format version"),
    (dict(weights_0=np.zeros((3, 5))), r"weights_0 must be float64 of shape \(3, 4\)"),
    (dict(biases_1=np.array([np.nan, 0.0])), "NaN"),
    (dict(weights_0=np.zeros((3, 4), dtype=np.float32)), "float64"),
    (dict(cost=np.str_("hinge")), "cost must be one of"),
    (dict(layer_sizes=None), "missing 'layer_sizes'"),
    (dict(extra=np.zeros(2)), "expected arrays"),
    (dict(layer_sizes=np.array([10**6, 10**6, 10**6])), "expected arrays|shape"),  # no giant allocation
    (dict(layer_sizes=np.array([4, -3, 2])), r"layer_sizes must be .* from 1 to 10\*\*7, got \[4, -3, 2\]"),
])
def test_load_rejects_bad_contents(tmp_path, changes, message):
    with pytest.raises(ValueError, match=message):
        MLP.load(corrupt(tmp_path, **changes))


def test_load_rejects_pickles_truncation_and_junk(tmp_path):
    good = corrupt(tmp_path)
    np.savez(tmp_path / "pickled.npz", **{**dict(np.load(good)), "weights_0": np.array([{"x": 1}], dtype=object)})
    with pytest.raises(ValueError, match="not a cymlp model"):
        MLP.load(tmp_path / "pickled.npz")
    data = good.read_bytes()
    (tmp_path / "cut.npz").write_bytes(data[: len(data) // 2])
    with pytest.raises(ValueError, match="not a readable"):
        MLP.load(tmp_path / "cut.npz")
    (tmp_path / "junk.npz").write_bytes(b"hello")
    with pytest.raises(ValueError):
        MLP.load(tmp_path / "junk.npz")


TRAIN_AND_HASH = """
import hashlib, numpy as np
from cymlp import MLP
rng = np.random.default_rng(0)
X, y = rng.random((300, 20)), rng.integers(0, 4, 300)
net = MLP([20, 12, 4], seed=42, activation="relu", output_activation="softmax", cost="cross_entropy", init="he")
net.train((X, y), epochs=3, batch_size=16, learning_rate=0.1, momentum=0.9, l2=1.0, verbose=False)
print(hashlib.sha256(b"".join(p.tobytes() for p in net.weights + net.biases)).hexdigest())
"""


def test_same_seed_gives_bitwise_identical_weights_across_processes():
    runs = [subprocess.run([sys.executable, "-c", TRAIN_AND_HASH], capture_output=True, text=True,
                           check=True).stdout for _ in range(2)]
    assert runs[0] == runs[1] and len(runs[0].strip()) == 64


def paper_perceptron_loop(w, b, X, y, eta, epochs):
    """The paper's per-example rule in plain NumPy (the oracle)."""
    errors = []
    for _ in range(epochs):
        total = 0
        for x, label in zip(X, y):
            error = label - (1 if np.dot(x, w) + b > 0 else 0)
            b += eta * error
            w += eta * error * x
            total += abs(error)
        errors.append(total)
        if total == 0:
            break
    return w, b, errors


def test_perceptron_agrees_exactly_with_the_numpy_loop():
    rng = np.random.default_rng(0)
    # dyadic features and eta: every sum is exact, so any summation order agrees bit for bit
    X = rng.integers(-8, 9, (200, 12)) / 16.0
    y = (X @ rng.integers(-4, 5, 12) / 4.0 + 0.25 > 0).astype(float)
    p = Perceptron(12, learning_rate=0.25, seed=1)
    p.weights = np.round(p.weights * 8) / 8
    p.bias = 0.5
    w, b, want = paper_perceptron_loop(p.weights.copy(), p.bias, X, y, 0.25, 100)
    got = p.train(X, y, epochs=100, verbose=False)
    assert got == want and got[-1] == 0
    np.testing.assert_array_equal(p.weights, w)
    assert p.bias == b and p.eval(X, y) == 1.0


def test_perceptron_separates_mnist_zeros_from_ones(mnist, capsys):
    (X, y), (Xt, yt) = mnist
    keep, keep_t = y <= 1, yt <= 1
    p = Perceptron(784, seed=0)
    errors = p.train(X[keep], y[keep], epochs=100)
    out = capsys.readouterr().out
    assert out.startswith("Epoch 0: Error = ")
    assert errors[-1] == 0 and p.eval(X[keep], y[keep]) == 1.0
    assert f"Epoch {len(errors) - 1}: Error = 0" in out
    assert p.eval(Xt[keep_t], yt[keep_t]) > 0.99
    assert p.classify(Xt[keep_t][0]) in (0, 1) and p.classify(Xt[keep_t][:5]).shape == (5,)


@pytest.mark.parametrize("call,error", [
    (lambda p: p.train(np.ones((3, 4)), [0, 1, 0]), ValueError),
    (lambda p: p.train(np.ones((3, 5)), [0, 2, 0]), ValueError),
    (lambda p: p.train(np.ones((3, 5)), [0, 1]), ValueError),
    (lambda p: p.classify(np.ones(4)), ValueError),
    (lambda p: p.train(np.ones((3, 5)), [0, 1, 0], epochs=0), ValueError),
])
def test_perceptron_bad_input(call, error):
    with pytest.raises(error):
        call(Perceptron(5))


def test_perceptron_checks_weights_set_by_hand_and_stops_when_they_diverge():
    X, y = np.random.default_rng(0).random((20, 3)) * 10, np.arange(20) % 2
    p = Perceptron(3)
    for weights in (np.zeros(1), np.zeros(4), np.zeros((3, 1)), np.array(["a", "b", "c"])):
        p.weights = weights
        for call in (lambda: p.train(X, y, verbose=False), lambda: p.classify(X), lambda: p.eval(X, y)):
            with pytest.raises(ValueError, match=r"weights must be real numbers of shape \(3,\)"):
                call()
    p.weights = np.array([1.0, np.nan, 0.0])
    with pytest.raises(ValueError, match="weights contain NaN"):
        p.classify(X)
    p.weights = np.zeros(3)
    for bias in ("1.5", [1.0], np.inf):
        p.bias = bias
        with pytest.raises(ValueError, match="bias must be"):
            p.classify(X)
    p = Perceptron(3, seed=0, learning_rate=1e308)
    before = p.weights.copy()
    with pytest.raises(FloatingPointError, match="learning_rate=1e[+]308 is too high"):
        p.train(X, y, epochs=3, verbose=False)
    np.testing.assert_array_equal(p.weights, before)


def test_perceptron_classifies_the_sparse_input_it_trains_on():
    from scipy import sparse
    X, y = np.random.default_rng(0).random((20, 3)), np.arange(20) % 2
    p = Perceptron(3, seed=0)
    p.train(sparse.csr_matrix(X), y, epochs=5, verbose=False)
    np.testing.assert_array_equal(p.classify(sparse.csr_matrix(X)), p.classify(X))
    assert p.eval(sparse.csr_matrix(X), y) == p.eval(X, y)


def test_perceptron_takes_uint8_pixels_as_mlp_does(mnist):
    """uint8 features are pixels, scaled by 1/255, dense or sparse: the same training as on
    load_mnist()'s floats."""
    from scipy import sparse
    (X, y), _ = mnist
    keep = np.flatnonzero(y <= 1)[:300]
    floats, labels = X[keep], y[keep]
    pixels = np.rint(floats * 255).astype(np.uint8)
    runs = []
    for features in (floats, pixels, sparse.csr_matrix(pixels), np.asfortranarray(pixels)):
        p = Perceptron(784, seed=0)
        runs.append((p.train(features, labels, epochs=5, verbose=False), p.weights))
        assert p.eval(features, labels) == p.eval(floats, labels)
    for errors, weights in runs[1:]:
        assert errors == runs[0][0]
        np.testing.assert_array_equal(weights, runs[0][1])
