"""Input checks shared by the public API.

Every public entry point converts its inputs here, once, into what the
compiled core expects (C-contiguous float64 features, ``intp`` labels), and
raises a ``ValueError`` or ``TypeError`` that names the argument, what was
expected and what was given.
"""

from __future__ import annotations

import numbers
import operator
from typing import NamedTuple

import numpy as np
from scipy import sparse

GD_MODES = ("mini-batch", "batch", "sgd")


def check_int(name, value, minimum=None):
    """``value`` as a Python int (bools and floats are refused)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be an integer, got {value!r}")
    value = operator.index(value)
    if minimum is not None and value < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {value}")
    return value


def check_real(name, value):
    """``value`` as a float (bools and non-numbers are refused)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a number, got {value!r}")
    return float(value)


def check_positive_float(name, value):
    """``value`` as a finite float > 0."""
    value = check_real(name, value)
    if not np.isfinite(value) or value <= 0:
        raise ValueError(f"{name} must be a finite number > 0, got {value}")
    return value


def check_nonnegative_float(name, value):
    """``value`` as a finite float >= 0."""
    value = check_real(name, value)
    if not np.isfinite(value) or value < 0:
        raise ValueError(f"{name} must be a finite number >= 0, got {value}")
    return value


def check_fraction(name, value, below_one=False):
    """``value`` as a float in [0, 1] (or [0, 1) with below_one)."""
    value = check_real(name, value)
    upper_ok = value < 1 if below_one else value <= 1
    if not (np.isfinite(value) and value >= 0 and upper_ok):
        interval = "[0, 1)" if below_one else "[0, 1]"
        raise ValueError(f"{name} must be in {interval}, got {value}")
    return value


def check_choice(name, value, choices):
    """``value`` if it is one of ``choices``."""
    if not isinstance(value, str) or value not in choices:
        raise ValueError(f"{name} must be one of {', '.join(map(repr, choices))}; got {value!r}")
    return value


def check_layer_sizes(layer_sizes):
    """At least two positive layer widths, as a tuple of ints."""
    try:
        sizes = list(layer_sizes)
    except TypeError:
        raise TypeError(
            f"layer_sizes must be a sequence of integers such as [784, 64, 32, 10], "
            f"got {layer_sizes!r}"
        ) from None
    if len(sizes) < 2:
        raise ValueError(
            f"layer_sizes needs at least two layers (input and output), got {sizes!r}"
        )
    return tuple(check_int(f"layer_sizes[{i}]", n, minimum=1) for i, n in enumerate(sizes))


def check_gd(gd):
    return check_choice("gd", gd, GD_MODES)


def scale_pixels(pixels, dtype=np.float64):
    """uint8 pixels -> C-ordered dtype in [0, 1]: x * (1/255) in float64, rounded to dtype,
    exactly as the core scales uint8 input (so float32 pixels are load_mnist()'s, rounded)."""
    scaled = np.multiply(pixels, 1.0 / 255.0, dtype=np.float64, order="C")
    return scaled if np.dtype(dtype) == np.float64 else scaled.astype(dtype)


def one_hot(labels, n_classes=10):
    """Integer labels (n,) -> one-hot rows (n, n_classes) of float64: one_hot([2], 3) == [[0, 0, 1]]."""
    n_classes = check_int("n_classes", n_classes, minimum=1)
    labels = _numeric_array("labels", labels)
    if labels.size and (labels.min() < 0 or labels.max() >= n_classes):   # (inf included)
        raise ValueError(f"labels must be in 0..{n_classes - 1}, got {labels.min()}..{labels.max()}")
    if labels.dtype.kind == "f" and labels.size and not (labels == np.round(labels)).all():
        raise ValueError("labels must be whole numbers")
    return np.eye(n_classes)[labels.astype(np.intp)]


def _numeric_array(name, value):
    """``value`` as a real, numeric ndarray (no object, complex, string or bool data).

    Anything NumPy can convert is accepted (lists, pandas DataFrames and Series,
    tensors with ``__array__``); an ``np.memmap`` stays a memmap (no read).
    """
    if isinstance(value, np.memmap):
        array = value
    else:
        try:
            array = np.asarray(value)
        except (ValueError, TypeError) as error:  # ragged nested lists
            raise ValueError(f"{name} could not be read as a numeric array: {error}") from None
    _check_real(name, array.dtype)
    return array


def _check_real(name, dtype):
    """TypeError unless dtype is an integer or float dtype (not bool)."""
    if dtype == bool or dtype.kind not in "iuf":
        raise TypeError(
            f"{name} must hold real numbers (integer or float dtype), got dtype {dtype}"
        )


def _check_shape(name, X, n_in):
    """ValueError unless X (dense or sparse) has shape (n, n_in) with n >= 1."""
    if X.ndim != 2:
        raise ValueError(f"{name} must have shape (n, {n_in}), got shape {X.shape}")
    if X.shape[1] != n_in:
        raise ValueError(
            f"{name} has {X.shape[1]} features per row but the network's input layer "
            f"has {n_in}: expected shape (n, {n_in}), got {X.shape}"
        )
    if X.shape[0] == 0:
        raise ValueError(f"{name} is empty: expected shape (n, {n_in}) with n >= 1")


# Rows checked for NaN at a time: bounds the temporary of np.isfinite (and reads a
# memmap a piece at a time instead of mapping a whole boolean copy).
_CHECK_ROWS = 1 << 14


def _check_finite(name, X):
    """ValueError naming the first NaN or infinity of a 2-D float array, if any."""
    for start in range(0, X.shape[0], _CHECK_ROWS):
        chunk = X[start:start + _CHECK_ROWS]
        finite = np.isfinite(chunk)
        if not finite.all():
            bad = np.argwhere(~finite)[0]
            raise ValueError(f"{name} contains NaN or infinity (first at row {start + bad[0]}, "
                             f"column {bad[1]})")


class CsrRows(NamedTuple):
    """Sparse rows as the compiled core's train_epoch reads them (see core_rows)."""
    data: np.ndarray     # (nnz,) the non-zero values, of the model's dtype
    indices: np.ndarray  # (nnz,) intc: their columns, ascending within each row
    indptr: np.ndarray   # (n + 1,) intp: where each row's entries begin
    shape: tuple


def core_rows(X):
    """A validated X as the core trains on it: an array as it is, sparse rows as CsrRows."""
    if not sparse.issparse(X):
        return X
    return CsrRows(X.data, X.indices.astype(np.intc, copy=False),
                   X.indptr.astype(np.intp, copy=False), X.shape)


def check_sparse_structure(name, X):
    """That a sparse X's stored indices lie within its shape (and a compressed format's
    pointers ascend): conversions and the core index memory by them unchecked. Anything
    else passes."""
    if not sparse.issparse(X):
        return

    def check_range(what, index, size):
        index = np.asarray(index)
        if index.size and (index.min() < 0 or index.max() >= size):
            raise ValueError(f"{name} is not a valid sparse matrix: its {what} indices run "
                             f"from {index.min()} to {index.max()}, outside 0 .. {size - 1}")

    if X.format in ("csr", "csc"):
        major, minor = X.shape if X.format == "csr" else X.shape[::-1]
        pointers = np.asarray(X.indptr)
        stored = min(len(X.indices), len(X.data))
        # (compared, not subtracted: int32 differences can wrap around)
        if (pointers.shape != (major + 1,) or pointers[0] != 0 or (pointers[1:] < pointers[:-1]).any()
                or pointers[-1] > stored):
            raise ValueError(f"{name} is not a valid sparse matrix: its indptr must ascend from 0 "
                             f"in {major + 1} entries to at most nnz ({stored})")
        check_range("column" if X.format == "csr" else "row", X.indices[:pointers[-1]], minor)
    elif X.format == "coo":
        check_range("row", X.row, X.shape[0])
        check_range("column", X.col, X.shape[1])
    elif X.format == "lil":
        if len(X.rows) != X.shape[0] or any(len(r) != len(d) for r, d in zip(X.rows, X.data)):
            raise ValueError(f"{name} is not a valid sparse matrix: its rows and data disagree")
        check_range("column", np.fromiter((j for row in X.rows for j in row), np.int64),
                    X.shape[1])
    elif X.format == "dok":
        keys = np.array(list(X.keys()), dtype=np.int64).reshape(-1, 2)
        check_range("row", keys[:, 0], X.shape[0])
        check_range("column", keys[:, 1], X.shape[1])
    elif X.format == "bsr":
        try:
            X.copy().check_format(full_check=True)   # (it may rewrite what it checks)
        except ValueError as error:
            raise ValueError(f"{name} is not a valid sparse matrix: {error}") from None
        pointers = np.asarray(X.indptr)
        if (pointers[1:] < pointers[:-1]).any():   # (check_format subtracts, which can wrap)
            raise ValueError(f"{name} is not a valid sparse matrix: its indptr must ascend")


def _sparse_features(name, X, n_in, dtype):
    """A scipy.sparse X (any format) as a CSR matrix of ``dtype`` of our own: each row's
    columns ascending, duplicates summed, no stored zeros (-0.0 included), uint8 pixels
    scaled by 1/255 as the core scales dense ones."""
    _check_shape(name, X, n_in)
    _check_real(name, X.dtype)
    check_sparse_structure(name, X)
    X = sparse.csr_matrix(X, copy=True)
    X.sum_duplicates()  # (also sorts each row's columns)
    X.data = scale_pixels(X.data, dtype) if X.dtype == np.uint8 else X.data.astype(dtype)
    X.eliminate_zeros()
    if not np.isfinite(X.data).all():
        row = np.searchsorted(X.indptr, np.flatnonzero(~np.isfinite(X.data))[0], side="right") - 1
        raise ValueError(f"{name} contains NaN or infinity (first in row {row})")
    return X


def as_features(name, X, n_in, dtype=np.float64, allow_uint8=False, allow_sparse=False):
    """X as a C-contiguous array of shape (n, n_in) with finite values, of ``dtype``.

    uint8 values are pixels, scaled by 1/255 (scale_pixels); with ``allow_uint8`` they
    are kept as they are (no float copy: the core scales them as it gathers each
    batch). An array that already
    has the right dtype and layout is used in place: read-only arrays and
    ``np.memmap`` included (a memmap is checked a piece at a time, not read whole).
    A scipy.sparse X becomes a CSR matrix (_sparse_features) with ``allow_sparse``,
    else a dense array.
    """
    if sparse.issparse(X):
        X = _sparse_features(name, X, n_in, dtype)
        if allow_sparse:
            return X
        X = X.toarray()
    X = _numeric_array(name, X)
    _check_shape(name, X, n_in)
    if X.dtype == np.uint8:
        if allow_uint8:
            return X if X.flags.c_contiguous else np.ascontiguousarray(X)
        return scale_pixels(X, dtype)    # (as a sparse uint8 X is, above)
    if not (X.dtype == dtype and X.flags.c_contiguous):
        X = np.ascontiguousarray(X, dtype=dtype)
    _check_finite(name, X)
    return X


def as_labels(name, Y, n, n_out):
    """Class labels (n,) in [0, n_out) as ``intp``, from integer labels or one-hot rows."""
    Y = _numeric_array(name, Y)
    if Y.ndim == 2 and Y.shape[1] == n_out and Y.shape[0] == n:
        ones = Y == 1
        if not (((Y == 0) | ones).all() and (ones.sum(axis=1) == 1).all()):
            row = np.flatnonzero(~(((Y == 0) | ones).all(axis=1) & (ones.sum(axis=1) == 1)))[0]
            raise ValueError(
                f"{name} must be one-hot (a single 1 and zeros in each row); row {row} is {Y[row]}"
            )
        return np.ascontiguousarray(np.argmax(Y, axis=1), dtype=np.intp)
    if Y.ndim != 1 or Y.shape[0] != n:
        raise ValueError(
            f"{name} must be integer labels of shape ({n},) or one-hot of shape ({n}, {n_out}), "
            f"got shape {Y.shape}"
        )
    if Y.dtype.kind == "f":
        if not np.isfinite(Y).all() or (Y != np.round(Y)).any():
            raise ValueError(f"{name} must hold whole-number class labels, got non-integer values")
    if Y.min() < 0 or Y.max() >= n_out:
        bad = Y[(Y < 0) | (Y >= n_out)][0].item()
        raise ValueError(
            f"{name} has label {bad} out of range: the output layer has {n_out} units, "
            f"so labels must be in 0..{n_out - 1}"
        )
    return np.ascontiguousarray(Y, dtype=np.intp)


def _describe(value):
    """A short description of a value for error messages: its type and shape."""
    shape = getattr(value, "shape", None)
    if shape is None:
        try:
            shape = np.shape(value)
        except (ValueError, TypeError):  # ragged
            shape = f"ragged, {len(value)} items" if hasattr(value, "__len__") else None
    return type(value).__name__ + ("" if shape is None else f" of shape {shape}")


def _both_forms(name, n_in, n_out):
    return (f"{name} must be (X, y), X of shape (n, {n_in}) and y of n labels or targets "
            f"(or one-hot rows (n, {n_out})), or the paper's list of (x, y) pairs, x of shape "
            f"({n_in}, 1) or ({n_in},)")


def _as_matrix_pair(data):
    """(X, Y) if ``data`` is a pair whose first item is a 2-D numeric array (rows of
    features: its width and Y are checked later); None if it does not fit that form."""
    try:
        if len(data) != 2:
            return None
        X, Y = data
    except TypeError:
        return None
    if sparse.issparse(X):
        return X, Y
    if isinstance(X, np.memmap):
        candidate = X
    else:
        try:
            candidate = np.asarray(X)
        except (ValueError, TypeError):  # ragged: the paper's (x, y) pair, for instance
            return None
    if candidate.ndim != 2:   # (any dtype: a 2-D X of strings or complex numbers is this
        return None           # form, and its dtype is reported as such later)
    return candidate, Y


def _pair_parts(name, data, n_in, n_out):
    """Stack the paper's list of (x, y) pairs into (X, Y) arrays."""
    xs, ys = [], []
    for i, pair in enumerate(data):
        try:
            x, y = pair
        except (TypeError, ValueError):
            raise ValueError(
                f"{_both_forms(name, n_in, n_out)}; {name}[{i}] is not an (x, y) pair but a "
                f"{_describe(pair)}"
            ) from None
        x = _numeric_array(f"{name}[{i}][0]", x)
        if x.shape not in ((n_in,), (n_in, 1)):
            raise ValueError(
                f"{name}[{i}][0] must have shape ({n_in}, 1) or ({n_in},), got {x.shape} "
                f"({_both_forms(name, n_in, n_out)})"
            )
        y = _numeric_array(f"{name}[{i}][1]", y)
        if y.shape in ((n_out,), (n_out, 1)):
            y = y.reshape(n_out)
        elif y.shape != ():
            raise ValueError(
                f"{name}[{i}][1] must be one-hot of shape ({n_out}, 1) or ({n_out},), "
                f"or an integer label; got shape {y.shape}"
            )
        xs.append(x.reshape(n_in))
        ys.append(y)
    if not xs:
        raise ValueError(f"{name} is empty")
    kinds = {y.shape for y in ys}
    if len(kinds) > 1:
        raise ValueError(f"{name} mixes one-hot vectors and integer labels")
    return np.stack(xs), np.stack(ys)


def _papers_pairs(data, n_in, n_out):
    """Whether ``data`` is a list of (x, y) tuples, as zip makes them, each x of n_in
    values and each y a label or n_out values: the paper's form, even where two such
    pairs also read as (X, Y) of two rows each."""
    if not isinstance(data, list) or not data:
        return False
    try:
        return all(isinstance(item, tuple) and len(item) == 2
                   and np.asarray(item[0]).size == n_in
                   and np.asarray(item[1]).size in (1, n_out) for item in data)
    except (ValueError, TypeError, RuntimeError):  # ragged items, tensors that need grad
        return False


def split_dataset(name, data, n_in, n_out):
    """``(X, Y)`` as given, from a pair of sequences ``(X, Y)`` or the paper's list of
    ``(x, y)`` pairs, told apart by their shapes: a first item that is rows of
    numbers makes ``(X, Y)``; anything else must be pairs."""
    if data is None:
        raise ValueError(f"{name} is required")
    if sparse.issparse(data):
        raise ValueError(f"{_both_forms(name, n_in, n_out)}; got a single {_describe(data)}")
    if isinstance(data, (str, bytes)) or not hasattr(data, "__iter__"):
        raise TypeError(f"{_both_forms(name, n_in, n_out)}; got {_describe(data)}")
    pair = None if _papers_pairs(data, n_in, n_out) else _as_matrix_pair(data)
    if pair is not None:
        return pair
    if isinstance(data, np.ndarray) or hasattr(data, "columns"):  # one array, a DataFrame
        raise ValueError(f"{_both_forms(name, n_in, n_out)}; got a single {_describe(data)}")
    return _pair_parts(name, list(data), n_in, n_out)


def as_dataset(name, data, n_in, n_out, dtype=np.float64):
    """``(X, labels)`` from ``(X, Y)`` or a sequence of ``(x, y)`` pairs (see split_dataset).

    X: ``dtype`` (or uint8 pixels, kept as they are), shape (n, n_in),
    C-contiguous; labels: intp, shape (n,).
    """
    X, Y = split_dataset(name, data, n_in, n_out)
    X = as_features(f"{name} X", X, n_in, dtype, allow_uint8=True, allow_sparse=True)
    labels = as_labels(f"{name} Y", Y, X.shape[0], n_out)
    return X, labels


def stratified_split(labels, fraction, rng):
    """``(train, held_out)`` row indices (sorted): ``round(fraction * n_c)`` rows of each
    class c held out, drawn with ``rng`` (a numpy Generator); at least one row in all."""
    order = rng.permutation(labels.shape[0])
    order = order[np.argsort(labels[order], kind="stable")]  # classes in turn, shuffled within
    classes, starts, counts = np.unique(labels[order], return_index=True, return_counts=True)
    take = np.rint(fraction * counts).astype(np.intp)
    if take.sum() == 0:
        take[np.argmax(counts)] = 1
    rank = np.arange(order.shape[0]) - np.repeat(starts, counts)
    held = rank < np.repeat(take, counts)
    return np.sort(order[~held]), np.sort(order[held])


def as_targets(name, Y, n, n_out, dtype=np.float64):
    """Real-valued targets as a C-contiguous (n, n_out) matrix of ``dtype`` with finite
    values; (n,) is accepted for a single output."""
    Y = _numeric_array(name, Y)
    if Y.ndim == 1 and n_out == 1:
        Y = Y.reshape(-1, 1)
    if Y.shape != (n, n_out):
        raise ValueError(f"{name} must be targets of shape ({n}, {n_out})"
                         + (f" or ({n},)" if n_out == 1 else "") + f", got shape {Y.shape}")
    Y = np.ascontiguousarray(Y, dtype=dtype)
    _check_finite(name, Y)
    return Y


def _is_one_hot(Y):
    ones = Y == 1
    return bool(((Y == 0) | ones).all() and (ones.sum(axis=1) == 1).all())


def as_labels_or_targets(name, Y, n, n_out, dtype=np.float64, regression=False):
    """Y as class labels (n,) of ``intp``, or as a target matrix (n, n_out) of ``dtype`` when
    ``regression`` (identity outputs) or when it is a float matrix (n, n_out) whose rows are
    not one-hot (real-valued targets)."""
    Y = _numeric_array(name, Y)
    if regression or (Y.dtype.kind == "f" and Y.shape == (n, n_out) and not _is_one_hot(Y)):
        return as_targets(name, Y, n, n_out, dtype)
    return as_labels(name, Y, n, n_out)


def as_data(name, data, n_in, n_out, dtype=np.float64, regression=False):
    """``(X, Y)`` from the forms of split_dataset, Y as as_labels_or_targets gives it."""
    X, Y = split_dataset(name, data, n_in, n_out)
    X = as_features(f"{name} X", X, n_in, dtype, allow_uint8=True, allow_sparse=True)
    return X, as_labels_or_targets(f"{name} Y", Y, X.shape[0], n_out, dtype, regression)


def as_example(name, x, n_in, dtype=np.float64):
    """One example (n_in,) or (n_in, 1), or a batch (n, n_in) (uint8 pixels kept as they are).

    Returns ``(X, shape)`` where X is (n, n_in) and shape is "vector", "column" or "batch".
    A scipy.sparse X is a batch, kept sparse (as_features).
    """
    if sparse.issparse(x):
        return as_features(name, x, n_in, dtype, True, allow_sparse=True), "batch"
    arr = _numeric_array(name, x)
    if arr.shape == (n_in,):
        return as_features(name, arr.reshape(1, n_in), n_in, dtype, True), "vector"
    if arr.ndim == 2 and arr.shape == (n_in, 1) and n_in != 1:
        return as_features(name, arr.reshape(1, n_in), n_in, dtype, True), "column"
    if arr.ndim == 2:
        return as_features(name, arr, n_in, dtype, True), "batch"
    raise ValueError(
        f"{name} must have shape ({n_in},), ({n_in}, 1) or (n, {n_in}), got {arr.shape}"
    )


def check_parameters(weights, biases, layer_sizes, dtype=np.float64):
    """The model's weights and biases: right shapes, ``dtype``, C-contiguous, finite.

    Arrays that are not C-contiguous ``dtype`` are replaced in the lists by a copy.
    """
    n_layers = len(layer_sizes) - 1
    if len(weights) != n_layers or len(biases) != n_layers:
        raise ValueError(
            f"the network has {n_layers} weight layers but weights has {len(weights)} "
            f"and biases {len(biases)} entries"
        )
    for l in range(n_layers):
        shape_W = (layer_sizes[l + 1], layer_sizes[l])
        for kind, params, shape in (("weights", weights, shape_W), ("biases", biases, shape_W[:1])):
            arr = _numeric_array(f"{kind}[{l}]", params[l])
            if arr.shape != shape:
                raise ValueError(f"{kind}[{l}] must have shape {shape}, got {arr.shape}")
            if not np.isfinite(arr).all():
                raise ValueError(f"{kind}[{l}] contains NaN or infinity")
            if not (isinstance(params[l], np.ndarray) and params[l].dtype == dtype
                    and params[l].flags.c_contiguous and params[l].flags.writeable):
                params[l] = np.array(arr, dtype=dtype, order="C")


def generator(seed):
    """numpy's default_rng(seed), with a seed error that names the seed."""
    if isinstance(seed, (bool, np.bool_, float, np.floating)):
        raise TypeError(f"seed must be None or an integer >= 0, got {seed!r}")
    try:
        return np.random.default_rng(seed)
    except (TypeError, ValueError) as error:
        raise type(error)(f"seed must be None or an integer >= 0 (or a numpy SeedSequence or "
                          f"Generator), got {seed!r}: {error}") from None
