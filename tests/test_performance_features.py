"""float32, uint8 input, memmap input and the two-thread core: same math, same results."""

import gzip
import sys

import numpy as np
import pytest

from cymlp import MLP, _core
from cymlp import reference as ref
from cymlp.datasets import load_idx, scale
from conftest import max_abs_error, random_problem, train_with_reference


def trained(sizes, data, n_threads, dtype=np.float64):
    net = MLP(sizes, seed=3, dtype=dtype)
    net.train(data, batch_size=16, learning_rate=0.3, epochs=2, n_threads=n_threads, verbose=False)
    return net


def pixel_problem(sizes, n, seed=0):
    """uint8 'images' that are mostly zero, like MNIST."""
    rng = np.random.default_rng(seed)
    X8 = rng.integers(0, 256, (n, sizes[0])).astype(np.uint8)
    X8[rng.random(X8.shape) < 0.8] = 0
    return X8, rng.integers(0, sizes[-1], n)


@pytest.mark.parametrize("sizes", [[40, 10], [40, 64, 10], [50, 33, 7, 5], [30, 200, 20, 4]])
@pytest.mark.parametrize("sparse", [True, False])
def test_one_and_two_threads_give_bitwise_the_same_weights(sizes, sparse):
    X8, y = pixel_problem(sizes, 150)
    X = scale(X8) if sparse else np.random.default_rng(1).random(X8.shape)
    one, two = trained(sizes, (X, y), 1), trained(sizes, (X, y), 2)
    for a, b in zip(one.weights + one.biases, two.weights + two.biases):
        np.testing.assert_array_equal(a, b)


def test_two_threads_with_every_option_match_reference():
    sizes = [30, 20, 6, 4]
    X8, y = pixel_problem(sizes, 120)
    X = scale(X8)
    for kwargs in [dict(), dict(l2=1.0, momentum=0.8)]:
        net = MLP(sizes, seed=5, activation="tanh", output_activation="softmax",
                  cost="cross_entropy", init="xavier")
        got, want = train_with_reference(net, X, y, 9, 0.2, n_threads=2, **kwargs)
        assert max_abs_error(got, want) < 1e-9


def test_uint8_input_trains_exactly_like_its_scaled_floats():
    sizes = [40, 16, 5]
    X8, y = pixel_problem(sizes, 100)
    for n_threads in (1, 2):
        a = trained(sizes, (X8, y), n_threads)
        b = trained(sizes, (scale(X8), y), n_threads)
        for p, q in zip(a.weights + a.biases, b.weights + b.biases):
            np.testing.assert_array_equal(p, q)
    np.testing.assert_array_equal(a.predict(X8), a.predict(scale(X8)))
    assert a.evaluate((X8, y)) == a.evaluate((scale(X8), y))
    np.testing.assert_array_equal(a.feed_forward(X8[0]), a.feed_forward(scale(X8)[0]))


def test_a_memmap_of_an_uncompressed_idx_file_trains_in_place(mnist_dir, tmp_path):
    raw = tmp_path / "t10k-images-idx3-ubyte"
    raw.write_bytes(gzip.decompress((mnist_dir / "t10k-images-idx3-ubyte.gz").read_bytes()))
    images = np.memmap(raw, dtype=np.uint8, mode="r", offset=16, shape=(10000, 784))
    labels = load_idx(mnist_dir / "t10k-labels-idx1-ubyte.gz").astype(np.intp)
    a = MLP([784, 16, 10], seed=0)
    a.train((images, labels), batch_size=32, learning_rate=3.0, epochs=1, verbose=False)
    b = MLP([784, 16, 10], seed=0)
    b.train((np.array(images), labels), batch_size=32, learning_rate=3.0, epochs=1, verbose=False)
    for p, q in zip(a.weights, b.weights):
        np.testing.assert_array_equal(p, q)
    assert a.evaluate((images, labels)).accuracy > 0.3  # learned something (chance: 0.1)


@pytest.mark.parametrize("kwargs", [dict(), dict(activation="relu", output_activation="softmax",
                                                 cost="cross_entropy", init="he")])
def test_float32_stays_within_1e_4_of_float64_after_one_epoch(mnist, kwargs):
    (X, y), _ = mnist
    X, y = X[:5000], y[:5000]
    nets = {}
    for dtype in (np.float64, np.float32):
        net = MLP([784, 64, 32, 10], seed=0, dtype=dtype, **kwargs)
        net.train((X, y), batch_size=32, learning_rate=0.05, epochs=1, verbose=False)
        nets[dtype] = net
    assert all(W.dtype == np.float32 for W in nets[np.float32].weights)
    for a, b in zip(nets[np.float64].weights + nets[np.float64].biases,
                    nets[np.float32].weights + nets[np.float32].biases):
        assert np.max(np.abs(a - b)) < 1e-4


def test_float32_gradients_and_save_load(tmp_path):
    sizes = [12, 8, 3]
    X, y = random_problem(sizes, 20)
    net = MLP(sizes, seed=0, dtype=np.float32)
    grad_b, grad_W = net.backprop(X, y)
    want_b, want_W = ref.backprop([W.astype(float) for W in net.weights],
                                  [b.astype(float) for b in net.biases], X, ref.one_hot(y, 3))
    assert grad_W[0].dtype == np.float32
    for g, w in zip(grad_W + grad_b, want_W + want_b):
        np.testing.assert_allclose(g, w, rtol=1e-4, atol=1e-6)
    net.save(tmp_path / "m.npz")
    loaded = MLP.load(tmp_path / "m.npz")
    assert loaded.dtype == np.float32
    np.testing.assert_array_equal(loaded.feed_forward(X), net.feed_forward(X))
    with pytest.raises(ValueError, match="dtype"):
        MLP(sizes, dtype=np.int32)


@pytest.mark.skipif(not sys.platform.startswith("linux"),
                    reason="macOS wheels use the serial fallback (Apple clang has no OpenMP)")
def test_openmp_is_built_on_linux():
    """Linux builds use gcc: the two-thread path must really be compiled in."""
    assert _core.OPENMP


@pytest.mark.parametrize("dtype", [np.uint8, np.float32, np.float64])
@pytest.mark.parametrize("n_in", [1, 64, 100, 784])
def test_column_bitmap_marks_the_nonzero_entries(dtype, n_in):
    X8, _ = pixel_problem([n_in, 3], 70, seed=n_in)
    X = X8.astype(dtype)
    if dtype is not np.uint8:
        X[X8 == 1] = -0.0  # a negative zero is zero
    bits = _core.column_bitmap(X)
    assert bits.shape == (70, (n_in + 63) // 64) and bits.dtype == np.uint64
    unpacked = np.unpackbits(bits.view(np.uint8), axis=1, bitorder="little")[:, :n_in]
    np.testing.assert_array_equal(unpacked.astype(bool), X != 0)
    assert _core.column_bitmap(X[:0]).shape == (0, (n_in + 63) // 64)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("n_threads", [1, 2])
@pytest.mark.parametrize("raw", [True, False])
def test_epoch_with_the_bitmap_is_bitwise_the_epoch_without(dtype, n_threads, raw):
    """The bitmap only says which columns are active: the same columns, the same result."""
    sizes = [100, 20, 5]   # two words a row, the second partly used
    X8, y = pixel_problem(sizes, 300, seed=2)
    X = X8 if raw else scale(X8).astype(dtype)
    order = np.random.default_rng(0).permutation(300).astype(np.intp)
    results = []
    for bitmap in (None, _core.column_bitmap(X)):
        net = MLP(sizes, seed=1, dtype=dtype)
        net._network(16).train_epoch(X, y, order, 16, 0.5, 0.0, 0.0, 1 << 40, n_threads, bitmap)
        results.append(net.weights + net.biases)
    for a, b in zip(*results):
        np.testing.assert_array_equal(a, b)


def test_a_bitmap_of_the_wrong_shape_is_refused():
    X8, y = pixel_problem([100, 5], 40)
    core = MLP([100, 5], seed=0)._network(8)
    with pytest.raises(ValueError, match=r"expected \(40, 2\)"):
        core.train_epoch(X8, y, None, 8, 0.1, bitmap=_core.column_bitmap(X8[:39]))
