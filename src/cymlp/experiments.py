"""The paper's experiments (section 2): Table 1, Figures 3, 4 and 6-9, other data sets.

Each training experiment trains from a seed and returns plain rows of
``(epoch, mse, correct, total)`` that include the untrained network as
epoch 0. Independent runs of a sweep go through joblib (threads are enough:
the compiled core releases the GIL), so ``jobs`` runs them in parallel and
joblib's other backends (dask, ...) can scale a sweep out. Figures 3, 4
and 9 train nothing: their functions return what the figures draw.
"""

from __future__ import annotations

import numpy as np

from . import MLP
from ._validation import as_dataset, scale_pixels
from .datasets import subset

NET53K = [784, 64, 32, 10]
NET13K = [784, 16, 10, 10]
FIG7_FRACTIONS = (0.01, 0.10, 0.25, 0.50, 0.75, 1.00)
FIG8_SIZES = ([784, 10], [784, 16, 10], [784, 16, 10, 10], [784, 32, 16, 10],
              [784, 64, 32, 10], [784, 128, 64, 10], [784, 256, 128, 10])

# The paper's Table 1: net53k, eta = 0.2, batch 32 (epoch: (MSE, correct of 10,000)).
PAPER_TABLE1 = {
    0: (0.2794, 1049), 20: (0.0187, 8849), 30: (0.0143, 9080), 40: (0.0125, 9202),
    50: (0.0114, 9284), 60: (0.0107, 9320), 70: (0.0103, 9342), 80: (0.0099, 9360),
    90: (0.0096, 9379), 100: (0.0093, 9396), 110: (0.0091, 9418), 120: (0.0090, 9425),
    130: (0.0088, 9428), 140: (0.0088, 9441), 150: (0.0087, 9446), 160: (0.0086, 9446),
}


def training_run(layers, train, test, learning_rate, epochs, gd="mini-batch", batch_size=32,
                 seed=0, interval=1, verbose=False, model_options=None, **train_options):
    """Train one network; returns ``(net, rows)`` with rows from epoch 0 on.

    ``model_options`` go to :class:`MLP` (activation, cost, ...), the other
    keywords to :meth:`MLP.train` (l2, momentum, patience).
    """
    net = MLP(layers, seed=seed, **(model_options or {}))
    # epoch 0 scored as train reports the others: one forward pass for accuracy and MSE
    untrained = net._report(0, 0.0, as_dataset("test_data", test, layers[0], layers[-1], net.dtype),
                            verbose)
    history = net.train(train, gd=gd, batch_size=batch_size, learning_rate=learning_rate, epochs=epochs,
                        test_data=test, interval=interval, verbose=verbose, **train_options)
    return net, [(r.epoch, r.mse, r.correct, r.total) for r in [untrained, *history]]


def table1(train, test, epochs=160, seed=0, verbose=True):
    """net53k, eta 0.2, batch 32, a row every 10 epochs (the paper's Table 1)."""
    return training_run(NET53K, train, test, 0.2, epochs, seed=seed, interval=10, verbose=verbose)[1]


def fig6(train, test, epochs=80, seed=0, verbose=True):
    """net53k, eta 0.2, batch 32, test cost and accuracy after every epoch (Figure 6)."""
    return training_run(NET53K, train, test, 0.2, epochs, seed=seed, interval=1, verbose=verbose)[1]


def _parallel(jobs, tasks):
    from joblib import Parallel, delayed

    return Parallel(n_jobs=jobs, prefer="threads")(delayed(f)(*args) for f, *args in tasks)


def fig7(train, test, epochs=30, fractions=FIG7_FRACTIONS, seed=0, jobs=1):
    """net13k, eta 3, batch 32, trained on fractions of the training set (Figure 7).

    Returns ``{fraction: rows}``; each subset is drawn reproducibly from ``seed``.
    """
    def run(fraction):
        part = subset(*train, fraction, seed=seed)
        rows = training_run(NET13K, part, test, 3.0, epochs, seed=seed)[1]
        print(f"fig7: {fraction:.0%} of the training set ({len(part[0])} images): "
              f"{rows[-1][2]}/{rows[-1][3]}", flush=True)
        return rows

    return dict(zip(fractions, _parallel(jobs, [(run, f) for f in fractions])))


def fig8(train, test, epochs=30, sizes=FIG8_SIZES, learning_rate=3.0, seed=0, jobs=1):
    """Final test accuracy of networks of several sizes (Figure 8).

    Returns ``[(layer_sizes, n_parameters, accuracy)]``; every network is
    trained with eta 3 and batch 32 for ``epochs`` epochs.
    """
    def run(layers):
        net, rows = training_run(layers, train, test, learning_rate, epochs, seed=seed,
                                 interval=epochs)
        print(f"fig8: {layers}: {net.n_parameters} parameters, {rows[-1][2]}/{rows[-1][3]}", flush=True)
        return list(layers), net.n_parameters, rows[-1][2] / rows[-1][3]

    return _parallel(jobs, [(run, s) for s in sizes])


def format_table(rows, compare_with_paper=False):
    """Rows of (epoch, mse, correct, total) as the paper's Table 1, optionally beside it."""
    lines = [f"{'Epoch':>5}  {'MSE':>7}  {'Accuracy':>11}"
             + (f"   | paper: {'MSE':>7}  {'Accuracy':>11}" if compare_with_paper else "")]
    for epoch, mse, correct, total in rows:
        line = f"{epoch:>5}  {mse:>7.4f}  {f'{correct}/{total}':>11}"
        if compare_with_paper:
            paper = PAPER_TABLE1.get(epoch)
            line += (f"   |        {paper[0]:>7.4f}  {f'{paper[1]}/10000':>11}" if paper
                     else f"   |        {'-':>7}  {'-':>11}")
        lines.append(line)
    return "\n".join(lines)


# ---------------------------------------------------------------- Figures 3, 4, 9 and other data sets

FIG3_ACTIVATIONS = {"relu": "ReLU", "leaky_relu": "LeakyReLU", "sigmoid": "logistic sigmoid",
                    "tanh": "tanh"}


def activation_curve(activation, z, leaky_slope=0.01):
    """f(z) as cymlp's compiled core computes it, for a 1-D array ``z``.

    A one-unit network MLP([1, 1]) with weight 1 and bias 0 whose output layer
    uses ``activation`` is fed ``z`` as a batch, so its output is f(1 * z + 0).
    """
    z = np.asarray(z, dtype=np.float64)
    if z.ndim != 1:
        raise ValueError(f"z must be 1-D, got shape {z.shape}")
    net = MLP([1, 1], output_activation=activation, leaky_slope=leaky_slope)
    net.weights[0][:] = 1.0
    net.biases[0][:] = 0.0
    return net.feed_forward(z.reshape(-1, 1)).ravel()


def fig3(z_max=5.0, points=401, leaky_slope=0.1):
    """The four activation functions of the paper's Figure 3, from the compiled core.

    Returns ``{name: (z, f(z))}`` over ``z`` in [-z_max, z_max]. LeakyReLU's
    slope defaults to 0.1 (the model's default is 0.01) so that its leak shows.
    """
    z = np.linspace(-z_max, z_max, points)
    return {name: (z, activation_curve(name, z, leaky_slope)) for name in FIG3_ACTIVATIONS}


def fig4(train, digit=8, index=None):
    """An MNIST training image scaled to [0, 1] as the network sees it (Figure 4).

    Returns ``(image (28, 28), label, index)``: the image at ``index``, or
    the first one of ``digit`` (the paper shows an 8). ``train`` is
    ``(X, y)`` with X uint8 pixels or floats in [0, 1].
    """
    X, y = train
    if index is None:
        matches = np.flatnonzero(np.asarray(y) == digit)
        if matches.size == 0:
            raise ValueError(f"no training image of digit {digit}")
        index = int(matches[0])
    if not 0 <= index < len(y):
        raise ValueError(f"index must be in 0..{len(y) - 1}, got {index}")
    row = X[index]
    image = scale_pixels(row) if row.dtype == np.uint8 else np.asarray(row, dtype=np.float64)
    return image.reshape(28, 28), int(y[index]), index


def fig9(train, classes, n=40, seed=0):
    """``n`` randomly selected training images with their characters (Figure 9).

    ``train`` is ``(X, y)`` from :func:`cymlp.datasets.load_emnist` (images
    already upright) and ``classes[label]`` the character of a label. Returns
    ``[(image (28, 28) in [0, 1], character, index)]``, drawn from ``seed``.
    """
    X, y = train
    if not 0 < n <= len(y):
        raise ValueError(f"n must be in 1..{len(y)}, got {n}")
    rows = np.sort(np.random.default_rng(seed).choice(len(y), size=n, replace=False))
    chosen = []
    for row in rows:
        image = scale_pixels(X[row]) if X.dtype == np.uint8 else np.asarray(X[row], np.float64)
        chosen.append((image.reshape(28, 28), classes[int(y[row])], int(row)))
    return chosen


def layers_for(data, layers=None, hidden=(64, 32)):
    """Layer sizes for a data set: ``[n_in, *hidden, n_classes]``, or ``layers`` checked.

    ``data`` is a :class:`cymlp.datasets.LoadedDataset`. Given ``layers``, its
    first size must be the data's features per image and its last the number
    of classes (47 for EMNIST Balanced): a ``ValueError`` says which does not.
    """
    n_in, n_classes = data.train[0].shape[1], len(data.classes)
    if layers is None:
        return [n_in, *hidden, n_classes]
    layers = list(layers)
    if layers[0] != n_in:
        raise ValueError(f"layers start with {layers[0]} inputs but the data has {n_in} "
                         f"features per image")
    if layers[-1] != n_classes:
        raise ValueError(f"layers end with {layers[-1]} output units but the data has "
                         f"{n_classes} classes: make the last size {n_classes}")
    return layers
