"""scipy.sparse X: the core trains on its CSR rows, bit for bit as on the dense array."""

import numpy as np
import pytest
import scipy.sparse as sp

from cymlp import MLP, _core
from cymlp._validation import core_rows


def sparse_problem(n=240, n_in=50, n_out=4, seed=0):
    """Mostly-zero rows (some all zero, some with -0.0), a run of dense rows, labels."""
    rng = np.random.default_rng(seed)
    X = rng.random((n, n_in))
    X[rng.random(X.shape) < 0.8] = 0
    X[5] = 0
    X[7][X[7] == 0] = -0.0
    X[40:60] = rng.random((20, n_in))
    return X, rng.integers(0, n_out, n)


def parameters(net):
    return net.weights + net.biases


def assert_same(a, b):
    for p, q in zip(a, b):
        np.testing.assert_array_equal(p, q)


@pytest.mark.parametrize("fmt", ["csr", "csc", "coo", "lil"])
@pytest.mark.parametrize("n_threads", [1, 2])
def test_sparse_input_trains_bitwise_like_the_dense_array(fmt, n_threads):
    X, y = sparse_problem()
    dense, sparse = MLP([50, 20, 4], seed=1), MLP([50, 20, 4], seed=1)
    for net, data in [(dense, X), (sparse, sp.csr_matrix(X).asformat(fmt))]:
        net.train((data, y), batch_size=16, learning_rate=0.5, epochs=2, verbose=False,
                  n_threads=n_threads, optimizer="adam")
    assert_same(parameters(dense), parameters(sparse))


def test_stored_zeros_duplicates_and_unsorted_columns_are_the_dense_matrix():
    X, y = sparse_problem()
    coo = sp.coo_matrix(X)
    half = coo.data / 2  # each entry as two halves (duplicates), plus stored zeros, reversed
    rows = np.concatenate([coo.row, coo.row, [3, 9]])[::-1]
    cols = np.concatenate([coo.col, coo.col, [0, 1]])[::-1]
    data = np.concatenate([half, coo.data - half, [0.0, -0.0]])[::-1]
    messy = sp.coo_matrix((data, (rows, cols)), shape=X.shape)
    assert np.array_equal(messy.toarray(), X)
    a, b = MLP([50, 20, 4], seed=2), MLP([50, 20, 4], seed=2)
    a.train((X, y), batch_size=10, epochs=1, verbose=False)
    b.train((messy, y), batch_size=10, epochs=1, verbose=False)
    assert_same(parameters(a), parameters(b))


@pytest.mark.parametrize("sizes", [[50, 20, 4], [520, 512, 5]])  # row blocks; a layer at a time
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_dense_and_sparse_chunks_from_csr_rows_match_the_dense_rows(sizes, dtype):
    """In the epoch's own order (no shuffle) the first batch is dense rows: the core spreads
    the CSR entries back into whole rows for gemm; later batches run sparse."""
    rng = np.random.default_rng(3)
    X = rng.random((130, sizes[0])).astype(dtype)
    X[rng.random(X.shape) < 0.9] = 0
    X[:32] = rng.random((32, sizes[0]))
    y = rng.integers(0, sizes[-1], 130)
    results = []
    for rows in (X, core_rows(sp.csr_matrix(X))):
        for n_threads in (1, 3):
            net = MLP(sizes, seed=4, dtype=dtype)
            core = net._network(32, momentum=True)
            core.train_epoch(rows, y, None, batch_size=32, learning_rate=0.3, momentum=0.5,
                             n_threads=n_threads)
            results.append(parameters(net))
    for other in results[1:]:
        assert_same(results[0], other)


def test_uint8_sparse_pixels_are_scaled_as_dense_ones():
    rng = np.random.default_rng(5)
    X8 = rng.integers(0, 256, (120, 30)).astype(np.uint8)
    X8[rng.random(X8.shape) < 0.8] = 0
    y = rng.integers(0, 3, 120)
    a, b = MLP([30, 8, 3], seed=0), MLP([30, 8, 3], seed=0)
    a.train((X8, y), batch_size=8, epochs=1, verbose=False)
    b.train((sp.csr_matrix(X8), y), batch_size=8, epochs=1, verbose=False)
    assert_same(parameters(a), parameters(b))


def test_inference_validation_and_gradients_take_sparse_input():
    X, y = sparse_problem(seed=6)
    S = sp.csr_matrix(X)
    a, b = MLP([50, 20, 4], seed=7), MLP([50, 20, 4], seed=7)
    ha = a.train((X, y), batch_size=16, epochs=2, verbose=False, validation_fraction=0.2,
                 test_data=(X[:50], y[:50]))
    hb = b.train((S, y), batch_size=16, epochs=2, verbose=False, validation_fraction=0.2,
                 test_data=(S[:50], y[:50]))
    assert_same(parameters(a), parameters(b))
    assert [r.val_correct for r in ha] == [r.val_correct for r in hb]
    np.testing.assert_array_equal(a.predict(X), b.predict(S))
    np.testing.assert_array_equal(a.feed_forward(X), b.feed_forward(S))
    assert a.evaluate((X, y)) == b.evaluate((S, y))
    for p, q in zip(a.backprop(X[:9], y[:9]), b.backprop(S[:9], y[:9])):
        assert_same(p, q)


@pytest.mark.parametrize("bad,error,message", [
    (sp.csr_matrix(np.ones((4, 49))), ValueError, r"shape \(n, 50\)"),
    (sp.csr_matrix((0, 50)), ValueError, "empty"),
    (sp.csr_matrix(np.full((4, 50), np.nan)), ValueError, "NaN or infinity"),
    (sp.csr_matrix(np.ones((4, 50), dtype=complex)), TypeError, "real numbers"),
])
def test_bad_sparse_input_is_a_clear_error(bad, error, message):
    with pytest.raises(error, match=message):
        MLP([50, 20, 4]).train((bad, np.zeros(bad.shape[0], int)), epochs=1, verbose=False)


def _broken(fmt, where, value, position=1):
    """A 3 x 50 sparse matrix (10 entries a row) whose `where` array has `value` at `position`."""
    S = sp.csr_matrix(np.tile(np.arange(1.0, 51.0) % 5 == 0, (3, 1)) * 1.0).asformat(fmt)
    getattr(S, where)[position] = value
    return S


def _overflowing_pointers(fmt):
    """int32 pointers 0, 2.1e9, -2.1e9, 5, whose differences wrap around to positive ones."""
    S = sp.csr_matrix(np.ones((3, 50))).asformat(fmt)
    S.indptr = np.array([0, 2_100_000_000, -2_100_000_000] + [5] * (len(S.indptr) - 3), np.int32)
    return S


def _lil_with_column(column):
    S = sp.lil_matrix(np.ones((3, 50)))
    S.rows[0].append(column)
    S.data[0].append(1.0)
    return S


@pytest.mark.parametrize("S,message", [
    (_broken("csr", "indices", 50), "column indices run from .* to 50, outside 0 .. 49"),
    (_broken("csr", "indices", -3), "column indices run from -3"),
    (_broken("csr", "indptr", 10**9), "indptr must ascend"),
    (_broken("csr", "indptr", 5, position=2), "indptr must ascend"),   # 0, 10, 5, 30
    (_broken("csc", "indices", 7), "row indices run from .* to 7, outside 0 .. 2"),
    (_broken("coo", "col", 99), "column indices run from .* to 99"),
    (_broken("coo", "row", -1), "row indices run from -1"),
    (_overflowing_pointers("csr"), "indptr must ascend"),
    (_overflowing_pointers("csc"), "indptr must ascend"),
    (_lil_with_column(10**6), "column indices run from .* to 1000000"),
    (_lil_with_column(-7), "column indices run from -7"),
])
def test_a_sparse_matrix_with_indices_outside_its_shape_is_refused_everywhere(S, message):
    from cymlp.sklearn import MLPClassifier
    y = np.array([0, 1, 0])
    message = "is not a valid sparse matrix: its " + message
    fitted = MLPClassifier(hidden_layer_sizes=(4,), max_iter=1).fit(np.ones((3, 50)), y)
    for call in (lambda: MLP([50, 20, 2]).train((S, y), epochs=1, batch_size=1, verbose=False),
                 lambda: MLP([50, 20, 2]).feed_forward(S),
                 lambda: MLP([50, 20, 2]).predict(S),
                 lambda: MLPClassifier(hidden_layer_sizes=(4,), max_iter=1).fit(S, y),
                 lambda: MLPClassifier(hidden_layer_sizes=(4,), max_iter=1, early_stopping=True,
                                       validation_fraction=0.34).fit(S, y),
                 lambda: fitted.predict(S), lambda: fitted.predict_proba(S)):
        with pytest.raises(ValueError, match=message):
            call()


def test_a_sparse_matrix_alone_is_not_a_dataset():
    with pytest.raises(ValueError, match="got a single csr_matrix"):
        MLP([50, 20, 4]).train(sp.csr_matrix(np.ones((4, 50))), epochs=1, verbose=False)


def test_the_core_checks_that_csr_arrays_fit_together():
    X, y = sparse_problem(n=80)
    rows = core_rows(sp.csr_matrix(X))
    net = MLP([50, 20, 4])
    with pytest.raises(ValueError, match="CSR"):
        net._network(_core.CHUNK).train_epoch(rows._replace(indptr=rows.indptr[:-1]), y, None,
                                              batch_size=8, learning_rate=0.1)
