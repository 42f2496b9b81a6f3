"""The MLP API: the paper's forms of data, reporting, errors, interrupts."""

import signal
import threading
import time

import numpy as np
import pytest

from cymlp import MLP, Evaluation
from cymlp import reference as ref
from conftest import random_problem


def paper_pairs(X, y, n_out):
    """The paper's training data: a list of (x, y) column-vector pairs."""
    return [(x.reshape(-1, 1), ref.one_hot(label, n_out).reshape(-1, 1)) for x, label in zip(X, y)]


def test_initial_parameters_are_standard_normal_with_paper_shapes():
    net = MLP([784, 64, 32, 10], seed=0)
    assert [W.shape for W in net.weights] == [(64, 784), (32, 64), (10, 32)]
    assert [b.shape for b in net.biases] == [(64,), (32,), (10,)]
    assert net.n_parameters == 52650
    values = np.concatenate([W.ravel() for W in net.weights])
    assert abs(values.mean()) < 0.02 and abs(values.std() - 1) < 0.02
    same = MLP([784, 64, 32, 10], seed=0)
    assert all(np.array_equal(a, b) for a, b in zip(net.weights, same.weights))


def test_pairs_and_arrays_train_identically_and_data_is_not_reordered():
    sizes = [6, 5, 3]
    X, y = random_problem(sizes, 40)
    pairs = paper_pairs(X, y, 3)
    first = [x.copy() for x, _ in pairs[:3]]
    a, b, c = MLP(sizes, seed=1), MLP(sizes, seed=1), MLP(sizes, seed=1)
    a.train(pairs, epochs=3, batch_size=8, verbose=False)
    b.train((X, y), epochs=3, batch_size=8, verbose=False)
    c.train((X, ref.one_hot(y, 3)), epochs=3, batch_size=8, verbose=False)
    for p, q, r in zip(a.weights + a.biases, b.weights + b.biases, c.weights + c.biases):
        np.testing.assert_array_equal(p, q)
        np.testing.assert_array_equal(p, r)
    assert all(np.array_equal(x, pairs[i][0]) for i, x in enumerate(first))


def test_same_seed_same_weights_different_seed_different_weights():
    sizes = [8, 6, 4]
    X, y = random_problem(sizes, 64)

    def trained(seed):
        net = MLP(sizes, seed=seed)
        net.train((X, y), epochs=4, batch_size=10, verbose=False)
        return net.weights[0]

    np.testing.assert_array_equal(trained(7), trained(7))
    assert not np.array_equal(trained(7), trained(8))


def test_progress_lines_and_history(capsys):
    sizes = [6, 5, 3]
    X, y = random_problem(sizes, 30)
    net = MLP(sizes, seed=0)
    history = net.train((X, y), epochs=12, test_data=(X[:20], y[:20]), batch_size=4)
    lines = capsys.readouterr().out.splitlines()
    # paper default interval: 5 for fewer than 100 epochs; the last epoch always prints
    assert [line.split(":")[0] for line in lines] == ["Epoch 5", "Epoch 10", "Epoch 12"]
    assert all(line.split(": ", 1)[1].split(" MSE")[0].endswith("/20") for line in lines)
    assert [r.epoch for r in history] == [5, 10, 12]
    last = history[-1]
    assert last.total == 20 and 0 <= last.correct <= 20
    assert f"MSE: {last.mse:.4f}" in lines[-1]
    assert last.mse == pytest.approx(float(np.mean(net.MeanSquaredError((X[:20], y[:20])))))
    assert history[0].seconds <= history[-1].seconds


def test_training_without_test_data_works(capsys):
    X, y = random_problem([4, 3, 2], 10)
    history = MLP([4, 3, 2], seed=0).train((X, y), epochs=2, batch_size=3, interval=1)
    assert [r.epoch for r in history] == [1, 2] and history[0].mse is None
    assert capsys.readouterr().out.startswith("Epoch 1:")


def test_evaluate_and_mse_match_the_papers_definitions():
    sizes = [6, 5, 3]
    X, y = random_problem(sizes, 25)
    net = MLP(sizes, seed=2)
    result = net.evaluate((X, y))
    outputs = ref.feed_forward(net.weights, net.biases, X)[0][-1]
    correct = int(np.sum(np.argmax(outputs, axis=1) == y))
    assert isinstance(result, Evaluation)
    assert str(result) == f"{correct}/25" and f"{result}" == f"{correct}/25"
    assert result.correct == correct and result.accuracy == correct / 25
    assert net.evaluate(paper_pairs(X, y, 3)) == result
    mse = net.MeanSquaredError(paper_pairs(X, y, 3))
    assert mse.shape == (3,)
    np.testing.assert_allclose(mse, np.mean((outputs - ref.one_hot(y, 3)) ** 2, axis=0))
    np.testing.assert_array_equal(net.predict(X), np.argmax(outputs, axis=1))
    assert net.predict(X[0]) == np.argmax(outputs[0])


def test_feed_forward_keeps_the_callers_shape():
    net = MLP([4, 3, 2], seed=0)
    x = np.linspace(0, 1, 4)
    assert net.feed_forward(x).shape == (2,)
    assert net.feed_forward(x.reshape(4, 1)).shape == (2, 1)
    assert net.feed_forward(np.stack([x, x, x])).shape == (3, 2)
    out, acts, zs = net.feed_forward(x.reshape(4, 1), cache=True)
    assert [a.shape for a in acts] == [(4, 1), (3, 1), (2, 1)]
    assert [z.shape for z in zs] == [(3, 1), (2, 1)]
    np.testing.assert_array_equal(out, acts[-1])


@pytest.mark.parametrize("call,message", [
    (lambda: MLP([784]), "at least two layers"),
    (lambda: MLP([784, 0, 10]), r"layer_sizes\[1\] must be >= 1"),
    (lambda: MLP([4, 2]).train((np.ones((5, 3)), np.zeros(5, int))), "3 features per row"),
    (lambda: MLP([4, 2]).train((np.ones((5, 4)), np.array([0, 1, 2, 0, 1]))), "label 2 out of range"),
    (lambda: MLP([4, 2]).train((np.full((5, 4), np.nan), np.zeros(5, int))), "NaN"),
    (lambda: MLP([4, 2]).train((np.ones((5, 4)), np.zeros(5, int)), batch_size=0), "batch_size must be >= 1"),
    (lambda: MLP([4, 2]).train((np.ones((5, 4)), np.zeros(5, int)), batch_size=6), "larger than the 5"),
    (lambda: MLP([4, 2]).train((np.ones((5, 4)), np.zeros(5, int)), learning_rate=0), "learning_rate"),
    (lambda: MLP([4, 2]).train((np.ones((5, 4)), np.zeros(5, int)), learning_rate=-1), "learning_rate"),
    (lambda: MLP([4, 2]).train((np.ones((5, 4)), np.zeros(5, int)), gd="adam"), "gd must be one of"),
    (lambda: MLP([4, 2]).train((np.ones((5, 4)), np.zeros(5, int)), epochs=0), "epochs must be >= 1"),
    (lambda: MLP([4, 2]).train((np.ones((2, 4)), np.array([[1, 1], [0, 1]]))), "one-hot"),
    (lambda: MLP([4, 2]).train((np.ones((2, 4)), np.array([0.5, 1.0]))), "whole-number"),
    (lambda: MLP([4, 2]).train([(np.ones(4), 1), (np.ones(3), 0)]), r"training_data\[1\]\[0\] must have shape"),
    (lambda: MLP([4, 2]).train((np.ones((0, 4)), np.zeros(0, int))), "empty"),
    (lambda: MLP([4, 2]).feed_forward(np.ones(5)), "shape"),
    (lambda: MLP([4, 2]).evaluate((np.ones((3, 4)), np.zeros(2, int))), r"shape \(3,\)"),
])
def test_bad_input_gets_a_value_error_naming_the_problem(call, message):
    with pytest.raises(ValueError, match=message):
        call()


@pytest.mark.parametrize("call", [
    lambda: MLP([4, 2.5]),
    lambda: MLP([4, 2]).train((np.ones((5, 4)), np.zeros(5, int)), batch_size=2.0),
    lambda: MLP([4, 2]).train((np.ones((2, 4), dtype=complex), np.zeros(2, int))),
    lambda: MLP([4, 2]).train((np.array([["a"] * 4] * 2), np.zeros(2, int))),
])
def test_wrong_types_get_a_type_error(call):
    with pytest.raises(TypeError):
        call()


def test_replaced_parameters_are_checked_and_converted():
    net = MLP([4, 3, 2], seed=0)
    net.weights[0] = np.asfortranarray(net.weights[0])  # accepted: copied once
    X, y = random_problem([4, 3, 2], 10)
    net.train((X, y), epochs=1, batch_size=5, verbose=False)
    assert net.weights[0].flags.c_contiguous
    net.weights[1] = np.ones((3, 2))
    with pytest.raises(ValueError, match=r"weights\[1\] must have shape \(2, 3\)"):
        net.predict(X)


def test_a_refused_train_leaves_the_generator_as_it_was():
    """Same seed, data and options, same weights: also after calls that were refused, which
    must not have drawn the validation split (or anything else) from the generator."""
    X, y = random_problem([5, 4, 3], 40, seed=1)
    kwargs = dict(epochs=2, batch_size=4, verbose=False, validation_fraction=0.2)
    want = MLP([5, 4, 3], seed=0)
    want.train((X, y), **kwargs)
    net = MLP([5, 4, 3], seed=0)
    for bad in (dict(learning_rate=-1), dict(batch_size=36), dict(beta_1=2.0),
                dict(test_data=(X[:, :4], y))):
        with pytest.raises(ValueError):
            net.train((X, y), **(kwargs | bad))
    net._training.acquire()   # (as while another thread trains it)
    with pytest.raises(RuntimeError, match="already training"):
        net.train((X, y), **kwargs)
    net._training.release()
    net.train((X, y), **kwargs)
    for a, b in zip(net.weights + net.biases, want.weights + want.biases):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("kwargs, error, message", [
    (dict(beta_1=None), TypeError, "beta_1 must be a number"),        # (sgd: checked anyway)
    (dict(beta_2=2.0), ValueError, r"beta_2 must be in \[0, 1\)"),
    (dict(epsilon="x"), TypeError, "epsilon must be a number"),
    (dict(l2=False), TypeError, "l2 must be a number"),
    (dict(l2=np.array([0.0, 0.0])), TypeError, "l2 must be a number"),
    (dict(l2=-1), ValueError, "l2 must be a finite number >= 0, got -1.0"),
    (dict(validation_fraction=1.0), ValueError, r"validation_fraction must be in \(0, 1\), got 1.0"),
])
def test_every_training_option_is_checked_by_name(kwargs, error, message):
    X, y = random_problem([5, 4, 3], 20)
    with pytest.raises(error, match=message):
        MLP([5, 4, 3]).train((X, y), epochs=1, batch_size=4, verbose=False, **kwargs)


def test_seeds_parameters_by_hand_and_single_examples():
    for seed, error in ((-1, ValueError), (1.5, TypeError), (True, TypeError)):
        with pytest.raises(error, match="seed must be None or an integer >= 0"):
            MLP([3, 2], seed=seed)
    net = MLP([5, 4, 3], seed=0)
    X, y = random_problem([5, 4, 3], 20)
    net.weights, net.biases = tuple(net.weights), tuple(net.biases)   # any sequence will do
    net.train((X, y), epochs=1, batch_size=4, verbose=False)
    assert isinstance(net.weights, list)
    one_hot = np.eye(3)[[1]]
    for target in (one_hot, one_hot[0], one_hot.T, 1):   # (1, n_out), (n_out,), (n_out, 1), label
        got, want = net.backprop(X[0], target), net.backprop(X[:1], [1])
        for a, b in zip(got[0] + got[1], want[0] + want[1]):
            np.testing.assert_array_equal(a, b)
    with pytest.raises(ValueError, match=r"got shape \(2, 3\)"):
        net.backprop(X[0], np.eye(3)[:2])


def test_save_checks_parameters_set_by_hand(tmp_path):
    net = MLP([5, 4, 3], seed=0)
    net.weights[0] = net.weights[0].astype(np.float32)   # converted, as train converts it
    net.save(tmp_path / "m.npz")
    np.testing.assert_array_equal(MLP.load(tmp_path / "m.npz").weights[0], net.weights[0])
    net.biases[1] = np.array([0.0, np.nan, 1.0])
    with pytest.raises(ValueError, match=r"biases\[1\] contains NaN"):
        net.save(tmp_path / "bad.npz")
    assert not (tmp_path / "bad.npz").exists()


def big_problem():
    sizes = [784, 64, 32, 10]
    X, y = random_problem(sizes, 6000, seed=0)
    return MLP(sizes, seed=0), (X, y)


def test_keyboard_interrupt_stops_training_quickly_and_leaves_a_usable_model():
    net, data = big_problem()
    before = net.weights[0].copy()
    timer = threading.Timer(0.5, signal.raise_signal, args=(signal.SIGINT,))
    timer.start()
    start = time.perf_counter()
    with pytest.raises(KeyboardInterrupt):
        net.train(data, gd="sgd", learning_rate=0.1, epochs=1000, verbose=False)
    elapsed = time.perf_counter() - start
    timer.join()
    assert elapsed < 0.5 + 1.0
    assert not np.array_equal(before, net.weights[0])  # some batches were applied
    assert all(np.isfinite(W).all() for W in net.weights)
    assert net.evaluate(data).total == 6000
    net.train(data, epochs=1, verbose=False)  # and it trains again


def test_training_releases_the_gil_and_refuses_a_second_concurrent_train():
    net, data = big_problem()
    ticks, errors = [], []

    def other():
        while not net._training.locked():  # (wait for the main thread's train to start)
            time.sleep(0.001)
        try:
            net.train(data, epochs=1, verbose=False)
        except RuntimeError as error:
            errors.append(str(error))
        while net._training.locked():      # this thread runs while the core trains
            ticks.append(1)

    thread = threading.Thread(target=other)
    thread.start()
    net.train(data, batch_size=32, epochs=10, verbose=False)
    thread.join()
    assert errors and "already training" in errors[0]
    assert len(ticks) > 1000


def test_mnist_end_to_end_reaches_90_percent(mnist):
    train, test = mnist
    net = MLP([784, 30, 10], seed=0)
    history = net.train(train, batch_size=10, learning_rate=3.0, epochs=2, test_data=test,
                        verbose=False)
    assert history[-1].accuracy >= 0.90
    assert net.evaluate(test).correct == history[-1].correct
