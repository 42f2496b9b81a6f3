"""The paper's experiments (section 2): Table 1, Figures 3, 4 and 6-9, other data sets.

Each experiment trains from a seed and returns plain rows of
``(epoch, mse, correct, total)`` that include the untrained network as
epoch 0. ``on_report`` callbacks receive each row as it is computed.

The runs of a sweep (Figures 7 and 8) are independent: each is a call of a
module-level task, ``fig7_run`` or ``fig8_run``, that takes the data as
arguments, so a :class:`Backend` can run them in threads (the compiled core
releases the GIL), in joblib's loky processes (which receive the data once,
as a memory map) or on a dask cluster (which receives it once, scattered to
every worker). The results do not depend on the backend, bit for bit.

Figures 3, 4 and 9 train nothing: their functions return what the figures draw.
"""

from __future__ import annotations

import threading
import warnings

import numpy as np

from . import MLP
from ._threads import stopped_by
from ._validation import as_dataset, generator, scale_pixels
from .datasets import subset

NET53K = [784, 64, 32, 10]
NET13K = [784, 16, 10, 10]
FIG7_FRACTIONS = (0.01, 0.10, 0.25, 0.50, 0.75, 1.00)
FIG8_SIZES = ([784, 10], [784, 16, 10], [784, 16, 10, 10], [784, 32, 16, 10],
              [784, 64, 32, 10], [784, 128, 64, 10], [784, 256, 128, 10])
BACKENDS = ("threading", "loky", "dask")

# The paper's Table 1: net53k, eta = 0.2, batch 32 (epoch: (MSE, correct of 10,000)).
PAPER_TABLE1 = {
    0: (0.2794, 1049), 20: (0.0187, 8849), 30: (0.0143, 9080), 40: (0.0125, 9202),
    50: (0.0114, 9284), 60: (0.0107, 9320), 70: (0.0103, 9342), 80: (0.0099, 9360),
    90: (0.0096, 9379), 100: (0.0093, 9396), 110: (0.0091, 9418), 120: (0.0090, 9425),
    130: (0.0088, 9428), 140: (0.0088, 9441), 150: (0.0087, 9446), 160: (0.0086, 9446),
}


class _ReportingMLP(MLP):
    """An MLP that hands each reported epoch, as a row, to ``on_report`` when it is computed."""

    def __init__(self, *args, on_report, **kwargs):
        super().__init__(*args, **kwargs)
        self._on_report = on_report

    def _report(self, *args, **kwargs):
        record = super()._report(*args, **kwargs)
        self._on_report((record.epoch, record.mse, record.correct, record.total))
        return record


def training_run(layers, train, test, learning_rate, epochs, gd="mini-batch", batch_size=32,
                 seed=0, interval=1, on_report=None, verbose=False, model_options=None,
                 **train_options):
    """Train one network; returns ``(net, rows)`` with rows from epoch 0 on.

    ``on_report(row)`` is called with each row as soon as it is computed;
    ``verbose`` prints :meth:`MLP.train`'s line for each. ``model_options`` go
    to :class:`MLP` (activation, cost, ...), the other keywords to
    :meth:`MLP.train` (l2, momentum, patience).
    """
    rows = []

    def report(row):
        rows.append(row)
        if on_report is not None:
            on_report(row)

    net = _ReportingMLP(layers, seed=seed, on_report=report, **(model_options or {}))
    # epoch 0 scored as train reports the others: one forward pass for accuracy and MSE
    net._report(0, 0.0, as_dataset("test_data", test, layers[0], layers[-1], net.dtype), verbose)
    net.train(train, gd=gd, batch_size=batch_size, learning_rate=learning_rate, epochs=epochs,
              test_data=test, interval=interval, verbose=verbose, **train_options)
    return net, rows


def table1(train, test, epochs=160, seed=0, on_report=None):
    """net53k, eta 0.2, batch 32, a row every 10 epochs (the paper's Table 1)."""
    return training_run(NET53K, train, test, 0.2, epochs, seed=seed, interval=10,
                        on_report=on_report)[1]


def fig6(train, test, epochs=80, seed=0, on_report=None):
    """net53k, eta 0.2, batch 32, test cost and accuracy after every epoch (Figure 6)."""
    return training_run(NET53K, train, test, 0.2, epochs, seed=seed, interval=1,
                        on_report=on_report)[1]


# ---------------------------------------------------------------- sweeps (Figures 7 and 8)

def fig7_run(train, test, fraction, epochs=30, seed=0):
    """One run of Figure 7: net13k, eta 3, batch 32 on a reproducible ``fraction`` of ``train``.

    Returns its rows from epoch 0 on.
    """
    part = subset(*train, fraction, seed=seed)
    return training_run(NET13K, part, test, 3.0, epochs, seed=seed)[1]


def fig8_run(train, test, layers, epochs=30, learning_rate=3.0, seed=0):
    """One run of Figure 8: ``(layers, n_parameters, final test accuracy)`` after ``epochs``."""
    net, rows = training_run(layers, train, test, learning_rate, epochs, seed=seed, interval=epochs)
    return list(layers), net.n_parameters, rows[-1][2] / rows[-1][3]


def fig7(train, test, epochs=30, fractions=FIG7_FRACTIONS, seed=0, backend="threading", jobs=1,
         on_result=None):
    """net13k, eta 3, batch 32, trained on fractions of the training set (Figure 7).

    Returns ``{fraction: rows}``; each subset is drawn reproducibly from
    ``seed``. ``backend``, ``jobs`` and ``on_result(fraction, rows)``: see :func:`sweep`.
    """
    def pass_on(setting, rows):
        on_result(setting["fraction"], rows)

    settings = [{"fraction": f, "epochs": epochs, "seed": seed} for f in fractions]
    results = sweep(fig7_run, train, test, settings, backend, jobs, pass_on if on_result else None)
    return dict(zip(fractions, results))


def fig8(train, test, epochs=30, sizes=FIG8_SIZES, learning_rate=3.0, seed=0, backend="threading",
         jobs=1, on_result=None):
    """Final test accuracy of networks of several sizes (Figure 8).

    Returns ``[(layer_sizes, n_parameters, accuracy)]`` in the order of
    ``sizes``; every network is trained with eta 3 and batch 32 for ``epochs``
    epochs. ``backend``, ``jobs`` and ``on_result(result)``: see :func:`sweep`.
    """
    def pass_on(setting, result):
        on_result(result)

    settings = [{"layers": list(s), "epochs": epochs, "learning_rate": learning_rate, "seed": seed}
                for s in sizes]
    return sweep(fig8_run, train, test, settings, backend, jobs, pass_on if on_result else None)


def sweep(task, train, test, settings, backend="threading", jobs=1, on_result=None):
    """``[task(train, test, **setting) for setting in settings]``, the calls run in parallel.

    ``backend`` is a :class:`Backend`, already open, or its name (``"threading"``,
    ``"loky"``, ``"dask"`` for a local dask cluster of ``jobs`` workers, or
    ``"dask=SCHEDULER_ADDRESS"``); ``jobs`` is the number of runs at once
    (for a named backend). ``on_result(setting, result)`` is called in this
    process as each result arrives, in the order they finish. ``task`` must be
    a module-level function, so that process backends pickle it by reference.
    """
    if isinstance(backend, str):
        with Backend.parse(backend, jobs) as opened:
            return sweep(task, train, test, settings, opened, on_result=on_result)
    results = [None] * len(settings)
    for index, result in backend.run_unordered(task, train, test, settings):
        results[index] = result
        if on_result is not None:
            on_result(settings[index], result)
    return results


def _indexed_call(index, task, train, test, setting):
    """``(index, task(train, test, **setting))``: a sweep's unit of work, picklable by reference."""
    return index, task(train, test, **setting)


def _stoppable_call(stop, index, task, train, test, setting):
    """_indexed_call in a thread whose trainings stop once ``stop`` is set."""
    with stopped_by(stop):
        return _indexed_call(index, task, train, test, setting)


class Backend:
    """Where the runs of a sweep go: joblib threads or loky processes, or a dask cluster.

    ``Backend("dask")`` starts a local dask cluster of ``jobs`` single-threaded
    worker processes; ``Backend("dask", address="tcp://host:8786")`` connects
    to a running scheduler (its workers need cymlp installed). Use it as a
    context manager: the cluster or connection lives as long as the block.
    """

    def __init__(self, name="threading", jobs=1, address=None):
        if name not in BACKENDS:
            raise ValueError(f"backend must be one of {', '.join(BACKENDS)}; got {name!r}")
        if address is not None and name != "dask":
            raise ValueError(f"only the dask backend takes a scheduler address; got {name}={address}")
        if isinstance(jobs, bool) or not isinstance(jobs, int) or jobs < 1:
            raise ValueError(f"jobs must be an integer >= 1, got {jobs!r}")
        self.name, self.jobs, self.address = name, jobs, address
        self._client = self._cluster = None

    @classmethod
    def parse(cls, text, jobs=1):
        """A backend from its command-line form: ``loky``, ``threading``, ``dask`` or ``dask=ADDRESS``."""
        name, has_address, address = text.partition("=")
        if has_address and not address:
            raise ValueError(f"expected dask=SCHEDULER_ADDRESS such as dask=tcp://host:8786, got {text!r}")
        return cls(name, jobs, address or None)

    def __repr__(self):
        return f"Backend({self.name!r}, jobs={self.jobs}, address={self.address!r})"

    def __enter__(self):
        if self.name == "dask":
            from dask.distributed import Client, LocalCluster

            if self.address is None:
                # one single-threaded worker process per job; its web pages on any free port
                self._cluster = LocalCluster(n_workers=self.jobs, threads_per_worker=1, processes=True,
                                             dashboard_address=":0")
            try:
                self._client = Client(self._cluster or self.address)
            except BaseException:
                if self._cluster is not None:
                    self._cluster.close()
                raise
        return self

    def __exit__(self, *exc_info):
        for resource in (self._client, self._cluster):
            if resource is not None:
                resource.close()
        self._client = self._cluster = None

    def run_unordered(self, task, train, test, settings):
        """Yield ``(index, task(train, test, **settings[index]))`` as each run finishes."""
        if self.name == "dask":
            yield from self._run_on_dask(task, train, test, settings)
            return
        from joblib import Parallel, delayed

        # loky: every array of the data (the labels too: joblib's threshold is 1 MB) travels
        # to the workers once, as a memory map, not with every task
        parallel = Parallel(n_jobs=self.jobs, backend=self.name, return_as="generator_unordered",
                            max_nbytes=0)
        stop = threading.Event()   # runs in threads see no Ctrl-C: they are told to stop
        if self.name == "threading":
            tasks = (delayed(_stoppable_call)(stop, i, task, train, test, setting)
                     for i, setting in enumerate(settings))
        else:
            tasks = (delayed(_indexed_call)(i, task, train, test, setting)
                     for i, setting in enumerate(settings))
        results = parallel(tasks)
        try:
            for result in results:
                yield result
        finally:   # all done; or an error, Ctrl-C or a closed consumer: the rest stop, quietly
            stop.set()
            with warnings.catch_warnings():
                warnings.filterwarnings("ignore", ".*tasks which were still being processed")
                results.close()

    def _run_on_dask(self, task, train, test, settings):
        from dask.distributed import as_completed

        if self._client is None:
            raise RuntimeError("open the dask backend first: with Backend('dask', ...) as backend: ...")
        # every worker holds one copy of the data; each task sends only references to it.
        # (Keys of its own, not of the content: a key shared with the last sweep's data,
        # still being released, would cancel this sweep's tasks.)
        train, test = self._client.scatter([train, test], broadcast=True, hash=False)
        futures = [self._client.submit(_indexed_call, i, task, train, test, setting, pure=False)
                   for i, setting in enumerate(settings)]
        for future in as_completed(futures):
            yield future.result()


def format_row(row, compare_with_paper=False):
    """One row of (epoch, mse, correct, total) as a line of :func:`format_table`."""
    epoch, mse, correct, total = row
    line = f"{epoch:>5}  {mse:>7.4f}  {f'{correct}/{total}':>11}"
    if compare_with_paper:
        paper = PAPER_TABLE1.get(epoch)
        line += (f"   |        {paper[0]:>7.4f}  {f'{paper[1]}/10000':>11}" if paper
                 else f"   |        {'-':>7}  {'-':>11}")
    return line


def table_header(compare_with_paper=False):
    """The header line of :func:`format_table`."""
    return (f"{'Epoch':>5}  {'MSE':>7}  {'Accuracy':>11}"
            + (f"   | paper: {'MSE':>7}  {'Accuracy':>11}" if compare_with_paper else ""))


def format_table(rows, compare_with_paper=False):
    """Rows of (epoch, mse, correct, total) as the paper's Table 1, optionally beside it."""
    return "\n".join([table_header(compare_with_paper)]
                     + [format_row(row, compare_with_paper) for row in rows])


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


FIG9_IMAGES = 40   # the paper's Figure 9 shows 40 images


def fig9(train, classes, n=FIG9_IMAGES, seed=0):
    """``n`` randomly selected training images with their characters (Figure 9).

    ``train`` is ``(X, y)`` from :func:`cymlp.datasets.load_emnist` (images
    already upright) and ``classes[label]`` the character of a label. Returns
    ``[(image (28, 28) in [0, 1], character, index)]``, drawn from ``seed``.
    """
    X, y = train
    if not 0 < n <= len(y):
        raise ValueError(f"n must be in 1..{len(y)}, got {n}")
    rows = np.sort(generator(seed).choice(len(y), size=n, replace=False))
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
        raise ValueError(f"the input layer must have {n_in} units, one per pixel of an image; "
                         f"got {layers[0]}")
    if layers[-1] != n_classes:
        raise ValueError(f"the output layer must have {n_classes} units, one per class; "
                         f"got {layers[-1]}")
    return layers
