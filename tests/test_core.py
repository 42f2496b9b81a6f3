"""The compiled core against the NumPy reference."""

import math

import numpy as np
import pytest

from cymlp import MLP
from cymlp import reference as ref
from conftest import max_abs_error, max_relative_error, random_problem, train_with_reference

SHAPES = [[5, 3], [12, 7, 4], [30, 16, 10, 10], [20, 9, 8, 6, 3]]


@pytest.mark.parametrize("sizes", SHAPES + [[784, 64, 32, 10]])
@pytest.mark.parametrize("batch", [1, 7, 32])
def test_batch_gradients_match_reference(sizes, batch):
    X, y = random_problem(sizes, batch, seed=batch)
    net = MLP(sizes, seed=1)
    grad_b, grad_W = net.backprop(X, y)
    want_b, want_W = ref.backprop(net.weights, net.biases, X, ref.one_hot(y, sizes[-1]))
    assert max_relative_error(grad_W + grad_b, want_W + want_b) < 1e-10


def test_single_example_backprop_takes_the_papers_columns():
    sizes = [6, 4, 3]
    X, y = random_problem(sizes, 1, seed=4)
    net = MLP(sizes, seed=2)
    y_column = ref.one_hot(y, 3).reshape(3, 1)
    grad_b, grad_W = net.backprop(X[0].reshape(6, 1), y_column)
    want_b, want_W = ref.backprop(net.weights, net.biases, X, y_column.T)
    assert [g.shape for g in grad_W] == [(4, 6), (3, 4)]
    assert [g.shape for g in grad_b] == [(4,), (3,)]
    assert max_relative_error(grad_W + grad_b, want_W + want_b) < 1e-10
    # an integer label is the same target
    grad_b2, grad_W2 = net.backprop(X[0], int(y[0]))
    for a, b in zip(grad_W + grad_b, grad_W2 + grad_b2):
        np.testing.assert_array_equal(a, b)


def sparse_problem(sizes, n, density, seed=0):
    """Inputs that are mostly exactly zero (as MNIST pixels), some columns always zero."""
    X, y = random_problem(sizes, n, seed=seed)
    rng = np.random.default_rng(seed + 100)
    X[rng.random(X.shape) > density] = 0.0
    X[:, : sizes[0] // 4] = 0.0
    return X, y


def train_both(sizes, n, gd, batch_size, learning_rate=0.5, seed=0, density=1.0):
    """One epoch through MLP.train and through the reference from the same start."""
    X, y = sparse_problem(sizes, n, density, seed=seed)
    return train_with_reference(MLP(sizes, seed=seed + 1), X, y, batch_size, learning_rate, gd=gd)


@pytest.mark.parametrize("sizes", SHAPES)
@pytest.mark.parametrize("gd,batch_size", [("mini-batch", 7), ("mini-batch", 32),
                                           ("batch", None), ("sgd", None)])
def test_one_epoch_matches_reference(sizes, gd, batch_size):
    got, want = train_both(sizes, 101, gd, batch_size or 32)
    assert max_abs_error(got, want) < 1e-9
    assert max_relative_error(got, want) < 1e-9


@pytest.mark.parametrize("density", [0.0, 0.02, 0.2, 0.6])
@pytest.mark.parametrize("gd,batch_size", [("mini-batch", 10), ("sgd", None), ("batch", None)])
def test_one_epoch_on_sparse_inputs_matches_reference(density, gd, batch_size):
    """The input layer skips columns that are zero in the whole batch: same result
    (density 0: every input is zero, no active column at all)."""
    got, want = train_both([40, 12, 6, 4], 97, gd, batch_size or 32, density=density)
    assert max_abs_error(got, want) < 1e-9


def test_net53k_epoch_on_mnist_matches_reference(mnist):
    (X, y), _ = mnist
    X, y = X[:3000], y[:3000]
    got, want = train_with_reference(MLP([784, 64, 32, 10], seed=0), X, y, 32, 0.2)
    assert max_abs_error(got, want) < 1e-9


def test_net53k_epoch_on_random_data_matches_reference():
    got, want = train_both([784, 64, 32, 10], 1000, "mini-batch", 32, learning_rate=0.2)
    assert max_abs_error(got, want) < 1e-9


def test_forward_matches_reference_and_is_stable():
    sizes = [10, 8, 4]
    X, _ = random_problem(sizes, 50)
    net = MLP(sizes, seed=3)
    activations, zs = ref.feed_forward(net.weights, net.biases, X)
    output, acts, weighted = net.feed_forward(X, cache=True)
    np.testing.assert_allclose(output, activations[-1], rtol=1e-12)
    for got, want in zip(acts + weighted, activations + zs):
        np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-14)
    # |z| far beyond 700: no overflow; the same saturated values as the reference
    net.weights[0] *= 1e4
    net.weights[1] *= 1e4
    out = net.feed_forward(X)
    with np.errstate(all="raise"):
        want = ref.feed_forward(net.weights, net.biases, X)[0][-1]
    assert np.all((out >= 0) & (out <= 1)) and np.isin([0.0, 1.0], out).all()
    np.testing.assert_allclose(out, want, rtol=1e-12, atol=1e-300)


# The compiled sigmoid (csrc/_core.pyx.tp, cymlp_exp_neg_*) transcribed operation by
# operation into NumPy: IEEE arithmetic gives the same bits whatever vector width the
# CPU's build of the kernel uses (AVX-512, AVX2 or plain x86-64).
def _exp_neg(x, dtype):
    one = dtype(1)
    if dtype is np.float64:
        lo, shift, bits_type, bias, width = -708.3964185322641, 6755399441055744.0, np.uint64, 1023, 52
        ln2_hi, ln2_lo = 6.93147180369123816490e-01, 1.90821492927058770002e-10
        log2e = 1.44269504088896338700
        coefficients = [1.0 / math.factorial(k) for k in range(13, -1, -1)]
    else:
        lo, shift, bits_type, bias, width = -87.33654, 12582912.0, np.uint32, 127, 23
        ln2_hi, ln2_lo, log2e = 0.693359375, -2.12194440e-4, 1.44269504088896341
        coefficients = [1.9875691500e-4, 1.3981999507e-3, 8.3334519073e-3, 4.1665795894e-2,
                        1.6666665459e-1, 5.0000001201e-1]
    lo, shift, ln2_hi, ln2_lo, log2e = map(dtype, (lo, shift, ln2_hi, ln2_lo, log2e))
    x0 = x
    x = np.where(x < lo, lo, x)
    kd = x * log2e + shift
    n = kd - shift
    r = (x - n * ln2_hi) - n * ln2_lo
    p = dtype(coefficients[0])
    for c in coefficients[1:]:
        p = p * r + dtype(c)
    if dtype is np.float32:
        p = (p * r) * r + r + one
    bits = (kd.view(bits_type) + bits_type(bias)) << bits_type(width)
    return np.where(x0 < lo, dtype(0), p * bits.view(dtype))


def _sigmoid(z, dtype):
    e = _exp_neg(-np.abs(z), dtype)
    s = dtype(1) / (dtype(1) + e)
    return np.where(z >= 0, s, e * s)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_sigmoid_kernel_is_exact_transcription_and_accurate(dtype):
    rng = np.random.default_rng(5)
    z = np.concatenate([rng.normal(0, 4, 5000), rng.uniform(-800, 800, 2000),
                        [0.0, -0.0, 1e-300, -1e-300, 708.5, -708.5, -708.3964185322641, 87.4, -87.4, -87.33654, 1e30, -1e30]]).astype(dtype)
    net = MLP([2, 1], seed=0, dtype=dtype)
    net.weights[0][...] = [[1, 0]]    # z = x . w + b exactly
    net.biases[0][...] = 0
    X = np.zeros((z.size, 2), dtype=dtype)
    X[:, 0] = z
    with np.errstate(all="ignore"):
        got = net.feed_forward(X)[:, 0]
        want = _sigmoid(z, dtype)
        exact = 1 / (1 + np.exp(-z.astype(np.longdouble)))
    np.testing.assert_array_equal(got, want)
    ulp = np.spacing(exact.astype(dtype)).astype(np.longdouble)
    tiny = np.finfo(dtype).tiny
    close = np.abs(got - exact) <= 3 * ulp  # libm's exp in this formula: 2.7 and 3.4 ulp
    assert np.all(close | (exact < tiny)), z[~close & (exact >= tiny)][:5]
    assert np.all((got >= 0) & (got <= 1))
    assert got[z == dtype(1e30)][0] == 1 and got[z == dtype(-1e30)][0] == 0


@pytest.mark.parametrize("change,message", [
    (dict(labels=np.zeros(19, dtype=np.intp)), "labels has 19 entries"),
    (dict(order=np.arange(19, dtype=np.intp)), "order has 19 positions"),
    (dict(stop=15), "stop=15"),
    (dict(start=5), "start=5"),
    (dict(start=10, stop=30), "stop=30"),
    (dict(batch_size=0), "batch_size=0"),
])
def test_train_epoch_rejects_inputs_that_do_not_fit(change, message):
    """The compiled core checks what it indexes with: a ValueError, never a crash."""
    net = MLP([5, 4, 3], seed=0)
    core = net._network(10)
    X = np.random.default_rng(0).random((20, 5))
    args = dict(labels=np.zeros(20, dtype=np.intp), order=None, batch_size=10,
                learning_rate=0.1)
    args.update(change)
    before = [w.copy() for w in net.weights]
    with pytest.raises(ValueError, match=message):
        core.train_epoch(X, **args)
    for a, b in zip(before, net.weights):
        np.testing.assert_array_equal(a, b)
