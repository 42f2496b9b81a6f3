"""Any array-like in every entry point; validation data and validation_fraction in train."""

import numpy as np
import pytest

from cymlp import MLP
from cymlp._validation import as_dataset, stratified_split
from conftest import random_problem

SIZES = [6, 5, 3]


def _problem(n=40, seed=0):
    X, y = random_problem(SIZES, n, seed)
    return X, y


def _trained(data, **options):
    net = MLP(SIZES, seed=1)
    net.train(data, batch_size=8, learning_rate=0.5, epochs=2, verbose=False, **options)
    return net


def _same(a, b):
    for p, q in zip(a.weights + a.biases, b.weights + b.biases):
        np.testing.assert_array_equal(p, q)


def test_lists_dataframes_and_read_only_arrays_train_the_same(tmp_path):
    pd = pytest.importorskip("pandas")  # in the [test] extra
    X, y = _problem()
    want = _trained((X, y))
    frozen = X.copy()
    frozen.flags.writeable = False
    path = tmp_path / "X.npy"
    np.save(path, X)
    mapped = np.load(path, mmap_mode="r")
    for data in ((X.tolist(), y.tolist()), [X.tolist(), list(y)],
                 (pd.DataFrame(X), pd.Series(y)), (frozen, y), (mapped, y),
                 list(zip(X, y)), [(x.reshape(-1, 1), int(label)) for x, label in zip(X, y)]):
        _same(_trained(data), want)
    net = want
    expected = net.feed_forward(X)
    np.testing.assert_array_equal(net.feed_forward(pd.DataFrame(X)), expected)
    np.testing.assert_array_equal(net.feed_forward(X.tolist()), expected)
    np.testing.assert_array_equal(net.feed_forward(mapped), expected)
    np.testing.assert_array_equal(net.predict(frozen), net.predict(X))
    assert net.evaluate((pd.DataFrame(X), pd.Series(y))) == net.evaluate((X, y))
    np.testing.assert_array_equal(net.MeanSquaredError((X.tolist(), y.tolist())),
                                  net.MeanSquaredError((X, y)))
    for got, want_ in zip(net.backprop(X.tolist(), y.tolist()), net.backprop(X, y)):
        for g, w in zip(got, want_):
            np.testing.assert_array_equal(g, w)


@pytest.mark.parametrize("dtype", [np.uint8, np.float64])
def test_a_memmap_stays_a_memmap(tmp_path, dtype):
    path = tmp_path / "pixels.bin"
    array = np.lib.format.open_memmap(path, mode="w+", dtype=dtype, shape=(50, 6))
    array[:] = np.arange(300).reshape(50, 6) % 7
    array.flush()
    mapped = np.load(path, mmap_mode="r")
    X, labels = as_dataset("training_data", (mapped, np.zeros(50, int)), 6, 3)
    assert isinstance(X, np.memmap) and np.shares_memory(X, mapped)
    net = MLP(SIZES, seed=0)
    net.train((mapped, np.zeros(50, int)), batch_size=10, epochs=1, verbose=False)
    assert np.isfinite(net.weights[0]).all()


def test_pairs_and_sequences_are_told_apart_with_a_message_naming_both():
    X, y = _problem()
    with pytest.raises(ValueError, match=r"\(X, y\), X of shape \(n, 6\).*list of \(x, y\) pairs"):
        MLP(SIZES).train([X[0], X[1], X[2]])
    with pytest.raises(ValueError, match="3 features per row"):
        MLP(SIZES).train((X[:, :3].tolist(), y.tolist()))
    with pytest.raises(ValueError, match=r"list of \(x, y\) pairs.*single ndarray"):
        MLP(SIZES).train(X)
    with pytest.raises(TypeError, match=r"\(X, y\).*got int"):
        MLP(SIZES).train(3)
    with pytest.raises(ValueError, match=r"training_data Y must be integer labels of shape \(40,\)"):
        MLP(SIZES).train((X, y[:-1]))
    for odd in (X + 0j, X > 0.5, X.astype(str)):   # (X, y) still, with X of the wrong dtype
        with pytest.raises(TypeError, match=f"training_data X must hold real numbers.*{odd.dtype}"):
            MLP(SIZES).train((odd, y))
        with pytest.raises(TypeError, match=f"test_data X must hold real numbers.*{odd.dtype}"):
            MLP(SIZES).evaluate((odd, y))


class _Tensor:
    """A NumPy-convertible array type whose size is a method, as torch.Tensor's is."""

    def __init__(self, values):
        self.values = np.asarray(values)

    def __array__(self, dtype=None, copy=None):
        return self.values if dtype is None else self.values.astype(dtype)

    def size(self):
        return self.values.shape


def test_two_pairs_of_equal_widths_are_the_papers_pairs():
    # [(x0, y0), (x1, y1)] with x and y of one width also reads as (X, Y) of two rows
    # each: the paper's list of tuples (as zip makes them) is taken as pairs
    sizes = [3, 4, 3]
    X = np.array([[0.1, 0.9, 0.2], [0.8, 0.3, 0.5]])
    Y = np.eye(3)[[2, 0]]
    pairs = [(X[0], Y[0]), (X[1], Y[1])]
    nets = [MLP(sizes, seed=0), MLP(sizes, seed=0)]
    nets[0].train(pairs, batch_size=2, learning_rate=1.0, epochs=3, verbose=False)
    nets[1].train((X, Y), batch_size=2, learning_rate=1.0, epochs=3, verbose=False)
    _same(*nets)
    assert nets[0].evaluate(pairs).correct == nets[1].evaluate((X, Y)).correct
    tensors = [(_Tensor(x), _Tensor(y)) for x, y in pairs]   # (as torch's, size is a method)
    assert nets[0].evaluate(tensors).correct == nets[0].evaluate(pairs).correct
    tensor_net = MLP(sizes, seed=0)
    tensor_net.train(tensors, batch_size=2, learning_rate=1.0, epochs=3, verbose=False)
    _same(tensor_net, nets[1])
    rows = tuple(map(tuple, X))   # (X, y) as a list of two tuples that are not (x, y) pairs
    assert nets[0].evaluate([rows, (2, 0)]).correct == nets[0].evaluate((X, [2, 0])).correct


def test_evaluate_with_real_valued_targets_points_to_mean_squared_error():
    X, _ = _problem()
    net = _trained((X, np.full((X.shape[0], 3), 0.25)))   # sigmoid outputs, real targets
    with pytest.raises(ValueError, match="one-hot.*MeanSquaredError"):
        net.evaluate((X, np.full((X.shape[0], 3), 0.25)))
    assert net.MeanSquaredError((X, np.full((X.shape[0], 3), 0.25))).shape == (3,)


def test_validation_data_is_reported_and_watched_by_patience(capsys):
    X, y = _problem(120, seed=3)
    Xv, yv = _problem(30, seed=4)
    net = MLP(SIZES, seed=0)
    history = net.train((X, y), batch_size=8, learning_rate=0.5, epochs=6, interval=1,
                        test_data=(X, y), validation_data=(Xv.tolist(), yv.tolist()))
    assert "| validation " in capsys.readouterr().out
    assert history.watched == "validation"
    for record in history:
        assert record.val_total == 30 and 0 <= record.val_correct <= 30
        assert record.val_accuracy == record.val_correct / 30 and record.val_mse > 0
    best = max(history, key=lambda r: (r.val_correct, -r.epoch))
    assert history.best_epoch == best.epoch

    # patience follows the validation score, not the test score: validation labels the
    # net cannot learn (the opposite of the training labels' argmax) stop training early
    net = MLP(SIZES, seed=0)
    wrong = (yv + 1) % 3
    history = net.train((X, y), batch_size=8, learning_rate=0.5, epochs=40, interval=1,
                        test_data=(X, y), validation_data=(Xv, wrong), patience=2,
                        verbose=False)
    assert len(history) < 40 and history[-1].epoch - history.best_epoch == 2
    with pytest.raises(ValueError, match="not both"):
        net.train((X, y), validation_data=(Xv, yv), validation_fraction=0.1)


def test_validation_fraction_is_a_stratified_seeded_hold_out():
    labels = np.repeat([0, 1, 2], [50, 30, 20])
    train, held = stratified_split(labels, 0.2, np.random.default_rng(0))
    assert np.bincount(labels[held]).tolist() == [10, 6, 4]
    assert sorted(np.r_[train, held].tolist()) == list(range(100))
    again = stratified_split(labels, 0.2, np.random.default_rng(0))
    np.testing.assert_array_equal(again[1], held)
    assert not np.array_equal(stratified_split(labels, 0.2, np.random.default_rng(1))[1], held)

    X, y = _problem(100, seed=5)
    histories = []
    for _ in range(2):
        net = MLP(SIZES, seed=7)
        histories.append(net.train((X, y), batch_size=8, epochs=3, interval=1,
                                   validation_fraction=0.25, verbose=False))
    assert [r.val_correct for r in histories[0]] == [r.val_correct for r in histories[1]]
    assert histories[0][0].val_total == sum(round(0.25 * c) for c in np.bincount(y))
    for bad in (0, 1, -0.5):
        with pytest.raises(ValueError, match="validation_fraction"):
            MLP(SIZES).train((X, y), validation_fraction=bad)


def test_to_torch_computes_the_same():
    X, y = _problem()
    try:
        import torch
    except ImportError:  # optional: without it, to_torch says how to get it
        with pytest.raises(ImportError, match="to_torch needs PyTorch: pip install torch"):
            MLP(SIZES).to_torch()
        return
    for options in (dict(), dict(activation="leaky_relu", output_activation="softmax",
                                 cost="cross_entropy"),
                    dict(activation="tanh", output_activation="identity")):
        net = MLP(SIZES, seed=1, **options)
        model = net.to_torch()
        assert model[0].weight.dtype == torch.float64
        assert list(model.state_dict()) == ["0.weight", "0.bias", "2.weight", "2.bias"]
        with torch.no_grad():
            out = model(torch.from_numpy(X)).numpy()
        np.testing.assert_allclose(out, net.feed_forward(X), rtol=1e-12, atol=1e-14)
    pytest.importorskip("sklearn")
    from cymlp.sklearn import MLPClassifier

    clf = MLPClassifier(hidden_layer_sizes=(5,), max_iter=3, random_state=0).fit(X, y)
    with torch.no_grad():
        out = clf.to_torch()(torch.from_numpy(X)).numpy()
    np.testing.assert_allclose(out, clf.predict_proba(X), rtol=1e-12)
