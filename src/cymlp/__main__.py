"""cymlp command line: train an MLP on MNIST or another data set, reproduce the paper's experiments,
benchmark.

Every option is checked before any data is loaded or any epoch runs; a problem
the user can fix ends the command with one line on stderr and exit status 2,
Ctrl-C with one line and status 130; a figure that cannot be drawn once training is over, with
one line and status 1 (the model is saved first). Progress goes to stdout as the work
advances (``--quiet``: only the results, at the end); every result is printed once.
"""

# Only the standard library is imported here: NumPy and the compiled core load
# inside main(), where a Ctrl-C during start-up is caught like any other.
from __future__ import annotations

import argparse
import contextlib
import math
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

from . import __version__


class CommandError(Exception):
    """A problem the user can fix; printed as one line, no traceback. ``status`` is the exit
    status: 2 for a bad command line, 1 for work that failed after every check passed."""

    def __init__(self, message, status=2):
        super().__init__(message)
        self.status = status


class ArgumentParser(argparse.ArgumentParser):
    """argparse that reports a bad command line in one line (no usage block) and exits 2."""

    def error(self, message):
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


class CommandParser(ArgumentParser):
    """A subcommand's parser: argparse hands what it does not know to the main parser, which
    would report it as "cymlp: error"; it is reported here, under the subcommand's name."""

    def parse_known_args(self, args=None, namespace=None):
        namespace, unknown = super().parse_known_args(args, namespace)
        if unknown:
            self.error(f"unrecognized arguments: {' '.join(unknown)}")
        return namespace, unknown


# ---------------------------------------------------------------- checks of the options

def _layers(text):
    try:
        return [int(part) for part in text.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected comma-separated integers like 784,64,32,10, got {text!r}") from None


def _path(text):
    """A file or folder option's value: an empty one would be taken for the option left out."""
    if not text:
        raise argparse.ArgumentTypeError("expected a path, got ''")
    return text


# Ranges of the numeric options, checked after parsing and before anything is loaded:
# destination -> (test, what the value must be).
RANGES = {
    "lr": (lambda v: math.isfinite(v) and v > 0, "must be a finite number > 0"),
    "l2": (lambda v: math.isfinite(v) and v >= 0, "must be a finite number >= 0 (0: no weight decay)"),
    "momentum": (lambda v: 0 <= v < 1, "must be in [0, 1) (0: no momentum)"),
    "batch_size": (lambda v: v >= 1, "must be an integer >= 1"),
    "epochs": (lambda v: v >= 1, "must be an integer >= 1"),
    "interval": (lambda v: v >= 1, "must be an integer >= 1"),
    "patience": (lambda v: v >= 1, "must be an integer >= 1"),
    "seed": (lambda v: v >= 0, "must be an integer >= 0"),
    "jobs": (lambda v: v >= 1, "must be an integer >= 1"),
    "repeats": (lambda v: v >= 1, "must be an integer >= 1"),
}


def _option(dest):
    return "--" + dest.replace("_", "-")


def _check_ranges(args):
    for dest, (valid, requirement) in RANGES.items():
        value = getattr(args, dest, None)
        if value is not None and not valid(value):
            raise CommandError(f"{_option(dest)} {value:{'g' if isinstance(value, float) else ''}}: "
                               f"{requirement}")


def _check_layers(args):
    if args.layers is None:  # sized from the data
        return
    text = ",".join(map(str, args.layers))
    if len(args.layers) < 2:
        raise CommandError(f"--layers {text}: needs at least an input and an output layer, "
                           f"like 784,10")
    if min(args.layers) < 1:
        raise CommandError(f"--layers {text}: every layer needs at least one unit")


def _memory_bytes():
    """The machine's memory (where the OS says; else no bound): a larger network is refused
    before numpy is asked for it, which an overcommitting OS might grant."""
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (AttributeError, ValueError, OSError):
        return float("inf")


def _check_model(args):
    """The network's options, before anything is loaded."""
    from ._mlp import MLP

    _check_layers(args)
    if args.cost == "cross_entropy" and args.output_activation not in ("sigmoid", "softmax"):
        raise CommandError(f"--cost cross_entropy needs --output-activation sigmoid or softmax, "
                           f"got {args.output_activation}")
    layers = args.layers or [1, 1]
    weights = sum(a * b + b for a, b in zip(layers, layers[1:]))
    too_large = f"--layers {','.join(map(str, layers))}: the network's {{}}weights do not fit " \
                f"in this machine's memory"
    if weights * 8 > _memory_bytes():
        raise CommandError(too_large.format(f"{weights:,} "))
    try:
        MLP(layers, **_model_options(args))  # anything the model itself refuses
    except (TypeError, ValueError) as error:
        raise CommandError(str(error)) from None
    except MemoryError:   # (where the OS does not say how much memory it has)
        raise CommandError(too_large.format("")) from None


def _check_against_data(args, data):
    """What needs the data's shape: the input and output widths, the batch size. Returns the
    layer sizes: --layers, or the data's inputs, 64, 32 and its classes."""
    from .experiments import layers_for

    try:
        layers = layers_for(data, args.layers)
    except ValueError as error:
        raise CommandError(f"--layers {','.join(map(str, args.layers))}: {error} "
                           f"({args.dataset})") from None
    n = len(data.train[0])
    if args.gd == "mini-batch" and args.batch_size > n:
        raise CommandError(f"--batch-size {args.batch_size}: larger than the {n} training images")
    return layers


def _writable_folder(option, value, folder):
    """Refuse a folder that is missing or that cannot be written."""
    if not folder.exists():
        raise CommandError(f"{option} {value}: folder {folder} does not exist")
    if not folder.is_dir():
        raise CommandError(f"{option} {value}: {folder} is not a folder")
    try:
        with tempfile.TemporaryFile(dir=folder):
            pass
    except OSError as error:
        raise CommandError(f"{option} {value}: cannot write in {folder} ({error.strerror})") from None


def _output_file(option, value, path):
    """``path``, the file that ``option value`` will write, if its folder can be written."""
    if path.is_dir():
        raise CommandError(f"{option} {value}: {path} is a folder; give a file name")
    _writable_folder(option, value, path.parent)
    return path


def _save_target(value):
    if Path(value).is_dir():
        raise CommandError(f"--save {value}: is a folder; give a file name such as "
                           f"{Path(value) / 'model.npz'}")
    # a name without .npz gets it (as numpy's savez would add it), as --help says
    return _output_file("--save", value, Path(value if value.endswith(".npz") else value + ".npz"))


def _require_matplotlib(option):
    """The image formats matplotlib can write, or a CommandError if it is not installed."""
    try:
        from matplotlib.backend_bases import FigureCanvasBase
    except ImportError:
        raise CommandError(f"{option} draws figures, which needs matplotlib: "
                           f"pip install 'cymlp[plot]'") from None
    return FigureCanvasBase.get_supported_filetypes()


def _plot_target(value):
    formats = _require_matplotlib("--plot")
    from matplotlib import rcParams

    path = Path(value)
    if not path.suffix:  # as matplotlib would: its default format, png
        path = path.with_name(path.name + ".png")
    # matplotlib lays out a .pgf file's text with this LaTeX program, which it runs once
    # training is over: without it, .pgf is refused now, and not suggested
    texsystem = rcParams["pgf.texsystem"]
    latex = shutil.which(texsystem) is not None
    suffix = path.suffix[1:].lower()
    if suffix == "pgf" and not latex:
        raise CommandError(f"--plot {value}: matplotlib writes .pgf files with {texsystem}, which "
                           f"is not installed (not found on PATH); use .pdf or .svg")
    if suffix not in formats:
        usable = sorted(f for f in formats if f != "pgf" or latex)
        raise CommandError(f"--plot {value}: matplotlib cannot write {path.suffix} files; "
                           f"use one of {', '.join('.' + f for f in usable)}")
    return _output_file("--plot", value, path)


def _out_folder(value):
    """``--out``: created if missing, and writable."""
    folder = Path(value)
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise CommandError(f"--out {value}: cannot create the folder ({error.strerror})") from None
    _writable_folder("--out", value, folder)
    return folder


def _backend(text):
    """``--backend``: a backend name, or dask=SCHEDULER_ADDRESS (the text, once checked)."""
    from .experiments import Backend

    try:
        backend = Backend.parse(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None
    if backend.name == "dask":
        try:
            import dask.distributed  # noqa: F401
        except ImportError:
            raise argparse.ArgumentTypeError(
                "the dask backend needs dask.distributed: pip install 'dask[distributed]'") from None
    return text


# ---------------------------------------------------------------- data

def _mnist_folders(args):
    """Where load_mnist looks, in order: --data, $CYMLP_DATA, the download cache."""
    from .datasets import cache_folder

    return [Path(p) for p in (args.data, os.environ.get("CYMLP_DATA")) if p] + [cache_folder()]


def _check_data(args, dataset="mnist"):
    """Before loading: --data exists; with --no-download, every MNIST file is somewhere
    (``dataset`` None: --data only)."""
    from .datasets import MNIST_FILES

    if args.data is not None and not Path(args.data).is_dir():
        raise CommandError(f"--data {args.data}: no such folder")
    if dataset == "idx" and args.data is None:
        raise CommandError("--dataset idx: needs the folder holding its four IDX files: pass --data FOLDER")
    if dataset == "mnist" and args.no_download:
        folders = _mnist_folders(args)
        missing = [stem for stem in MNIST_FILES.values()
                   if not any((f / name).is_file() for f in folders for name in (stem + ".gz", stem))]
        if missing:
            raise CommandError(
                f"--no-download: MNIST file {missing[0]}(.gz) not found in "
                f"{', '.join(map(str, folders))}; put the four IDX files in a folder and pass "
                f"--data FOLDER (or set CYMLP_DATA=FOLDER), or drop --no-download")


def _load(args, dataset="mnist"):
    """A data set (datasets.load_dataset: train, test, classes) as uint8 pixels: the core scales
    them by 1/255 as it gathers each batch, exactly as the loaders' floats are scaled, with an
    eighth of the memory."""
    from .datasets import load_dataset

    try:
        return load_dataset(dataset, args.data, download=not args.no_download, raw=True,
                            progress=not getattr(args, "quiet", False))
    except (OSError, ValueError) as error:  # missing or corrupt files, or the download failed
        raise CommandError(f"{dataset}: {error}") from None


# ---------------------------------------------------------------- output

def _printer(quiet):
    """``(progress, result)``: progress lines are left out by --quiet; results never are."""
    def result(line=""):
        print(line, flush=True)

    return (lambda line="": None) if quiet else result, result


def _epochs(n):
    return f"{n} epoch{'s' if n != 1 else ''}"


def _epoch_line(row):
    epoch, mse, correct, total = row
    return f"Epoch {epoch}: {correct}/{total} MSE: {mse:.4f}"


# ---------------------------------------------------------------- train

def _model_options(args):
    return dict(activation=args.activation, output_activation=args.output_activation,
                cost=args.cost, init=args.init)


def cmd_train(args):
    from . import experiments

    from .datasets import check_dataset_name

    progress, result = _printer(args.quiet)
    try:
        check_dataset_name(args.dataset)
    except ValueError as error:
        raise CommandError(f"--dataset {args.dataset}: {error}") from None
    _check_model(args)
    save = _save_target(args.save) if args.save else None
    plot = _plot_target(args.plot) if args.plot else None
    _check_data(args, args.dataset)
    data = _load(args, args.dataset)
    layers = _check_against_data(args, data)

    start = time.perf_counter()
    try:
        net, rows = experiments.training_run(
            layers, data.train, data.test, args.lr, args.epochs, gd=args.gd,
            batch_size=args.batch_size, seed=args.seed, interval=args.interval,
            on_report=lambda row: progress(_epoch_line(row)), model_options=_model_options(args),
            l2=args.l2, momentum=args.momentum, patience=args.patience)
    except FloatingPointError:
        raise CommandError(f"training diverged (the weights became NaN or infinite): "
                           f"--lr {args.lr:g}{f' or --l2 {args.l2:g}' if args.l2 else ''} is "
                           f"too high, try a lower one") from None
    seconds = time.perf_counter() - start
    final = rows[-1]
    if args.patience:  # train keeps the weights of the best reported epoch (the first of equals)
        final = max(rows[1:], key=lambda row: row[2])
        stopped = (f"No improvement for {args.patience} reports: stopped after epoch {rows[-1][0]}; "
                   if rows[-1][0] < args.epochs else "")
        progress(f"{stopped}kept the weights of epoch {final[0]}")
    if args.quiet:
        result(_epoch_line(final))
    progress(f"{net!r}, {net.n_parameters} parameters: {_epochs(rows[-1][0])} in {seconds:.1f} s")
    if save:  # before the plot, which may yet fail
        net.save(save)
        progress(f"saved the model to {save}")
    if plot:
        from .plots import plot_cost_and_accuracy

        try:
            plot_cost_and_accuracy(rows, plot, title=f"{layers}, eta = {args.lr:g}")
        except Exception as error:  # any of matplotlib's: its LaTeX errors are bare Exceptions
            saved = f"; the model was saved to {save}" if save else ""
            reason = str(error).partition("\n")[0] or type(error).__name__
            raise CommandError(f"--plot {args.plot}: drawing the plot failed ({reason}){saved}",
                               status=1) from None
        progress(f"wrote {plot}")


# ---------------------------------------------------------------- reproduce

class Reproduction:
    """What each experiment of ``cymlp reproduce`` gets: the options, the data (loaded on
    first use, once), the sweep backend, and where its results go."""

    def __init__(self, args, out, backend):
        self.args, self.out, self.backend = args, out, backend
        self.progress, self.result = _printer(args.quiet)
        self._data = None

    def data(self):
        """MNIST's (train, test)."""
        if self._data is None:
            self._data = _load(self.args)[:2]
        return self._data

    def epochs(self, default):
        return default if self.args.epochs is None else self.args.epochs

    def write(self, name, draw=None, text=None):
        """With --out, write ``name`` (a figure drawn by ``draw(path)``, or ``text``)."""
        if self.out is None:
            return None
        path = self.out / name
        if draw is not None:
            draw(path)
        else:
            path.write_text(text + "\n")
        return path


def reproduce_table1(run):
    from . import experiments

    epochs = run.epochs(160)
    run.result(f"Table 1: net53k {experiments.NET53K}, eta = 0.2, batch size 32, {_epochs(epochs)}, "
               f"seed {run.args.seed}")
    run.progress(experiments.table_header(compare_with_paper=True))
    rows = experiments.table1(*run.data(), epochs=epochs, seed=run.args.seed,
                              on_report=lambda row: run.progress(
                                  experiments.format_row(row, compare_with_paper=True)))
    text = experiments.format_table(rows, compare_with_paper=True)
    if run.args.quiet:
        run.result(text)
    return [run.write("table1.txt", text=text)]


def reproduce_fig6(run):
    from . import experiments, plots

    epochs = run.epochs(80)
    run.result(f"Figure 6: net53k {experiments.NET53K}, eta = 0.2, batch size 32: test cost and "
               f"accuracy after each of {_epochs(epochs)}, seed {run.args.seed}")
    run.progress(experiments.table_header())
    rows = experiments.fig6(*run.data(), epochs=epochs, seed=run.args.seed,
                            on_report=lambda row: run.progress(experiments.format_row(row)))
    text = experiments.format_table(rows)
    if run.args.quiet:
        run.result(text)
    def draw(path):
        plots.plot_cost_and_accuracy(rows, path, title="net53k, eta = 0.2: test cost and accuracy")

    return [run.write("fig6.png", draw), run.write("fig6.txt", text=text)]


def _sweep_title(run, count):
    backend = run.backend
    where = (f"dask scheduler {backend.address}" if backend.address
             else f"{backend.jobs} {backend.name} worker{'s' if backend.jobs > 1 else ''}")
    return f"{count} runs on {where}"


def reproduce_fig7(run):
    from . import experiments, plots

    epochs = run.epochs(30)
    fractions = experiments.FIG7_FRACTIONS
    run.result(f"Figure 7: net13k {experiments.NET13K}, eta = 3, batch size 32, {_epochs(epochs)}, "
               f"seed {run.args.seed}, on parts of the training set ({_sweep_title(run, len(fractions))})")

    def line(fraction, rows):
        epoch, _, correct, total = rows[-1]
        return f"{fraction:>5.0%} of the training set: {correct}/{total} after epoch {epoch}"

    results = experiments.fig7(*run.data(), epochs=epochs, seed=run.args.seed, backend=run.backend,
                               on_result=lambda fraction, rows: run.progress(line(fraction, rows)))
    if run.args.quiet:
        for fraction, rows in results.items():
            run.result(line(fraction, rows))
    text = "\n".join(f"{f:>5.0%}  {rows[-1][2]}/{rows[-1][3]}" for f, rows in results.items())

    def draw(path):
        plots.plot_accuracy_by_fraction(results, path,
                                        title="net13k, eta = 3, on parts of the training set")

    return [run.write("fig7.png", draw), run.write("fig7.txt", text="fraction  final accuracy\n" + text)]


def reproduce_fig8(run):
    from . import experiments, plots

    epochs = run.epochs(30)
    sizes = experiments.FIG8_SIZES
    run.result(f"Figure 8: final test accuracy by network size, eta = 3, batch size 32, "
               f"{_epochs(epochs)} each, seed {run.args.seed} ({_sweep_title(run, len(sizes))})")

    def line(result):
        layers, n_parameters, accuracy = result
        return f"{str(layers):<20} {n_parameters:>7} parameters: {100 * accuracy:.2f}%"

    results = experiments.fig8(*run.data(), epochs=epochs, seed=run.args.seed, backend=run.backend,
                               on_result=lambda result: run.progress(line(result)))
    if run.args.quiet:
        for result in results:
            run.result(line(result))
    table = "\n".join(f"| {sizes} | {n} | {100 * acc:.2f}% |" for sizes, n, acc in results)
    return [run.write("fig8.png", lambda path: plots.plot_accuracy_by_size(results, path)),
            run.write("fig8.md", text="| layers | parameters | test accuracy |\n|---|---:|---:|\n"
                      + table)]


def reproduce_fig3(run):
    from . import experiments, plots

    run.result("Figure 3: ReLU, LeakyReLU (slope 0.1), logistic sigmoid and tanh, as the compiled "
               "core computes them")
    curves = experiments.fig3(leaky_slope=0.1)
    return [run.write("fig3.png", lambda path: plots.plot_activations(curves, path, leaky_slope=0.1))]


def reproduce_fig4(run):
    from . import experiments, plots

    image, label, index = experiments.fig4(run.data()[0])
    title = f"MNIST training image {index} (label {label}), scaled to [0, 1]"
    run.result(f"Figure 4: {title}")
    return [run.write("fig4.png", lambda path: plots.plot_digit(image, label, path, title=title))]


def reproduce_fig9(run):
    from . import experiments, plots

    emnist = _load(run.args, "emnist-balanced")
    if len(emnist.train[1]) < experiments.FIG9_IMAGES:
        raise CommandError(f"fig9 draws {experiments.FIG9_IMAGES} EMNIST Balanced training "
                           f"images; the files in "
                           f"{run.args.data or '$CYMLP_DATA'} hold {len(emnist.train[1])}")
    chosen = experiments.fig9(emnist.train, emnist.classes, seed=run.args.seed)
    run.result(f"Figure 9: {len(chosen)} randomly selected EMNIST Balanced training images, seed "
               f"{run.args.seed}: {''.join(character for _, character, _ in chosen)}")
    return [run.write("fig9.png", lambda path: plots.plot_image_grid(
        [c[0] for c in chosen], [c[1] for c in chosen], path,
        title="Randomly selected EMNIST Balanced training images"))]


# name -> function of a Reproduction that prints its results and returns the paths it wrote;
# `reproduce all` runs them in this order (fig9 only when the EMNIST files are found).
EXPERIMENTS = {"fig3": reproduce_fig3, "fig4": reproduce_fig4, "table1": reproduce_table1,
               "fig6": reproduce_fig6, "fig7": reproduce_fig7, "fig8": reproduce_fig8,
               "fig9": reproduce_fig9}
FIGURES = {"fig3", "fig4", "fig6", "fig7", "fig8", "fig9"}  # experiments that draw with --out
SWEEPS = {"fig7", "fig8"}           # experiments whose runs go to --backend


def cmd_reproduce(args):
    from .datasets import emnist_folder
    from .experiments import Backend

    names = list(EXPERIMENTS) if args.experiment == "all" else [args.experiment]
    skipped = None
    if args.experiment == "all" and not emnist_folder("balanced", args.data):
        names.remove("fig9")
        skipped = "fig9 skipped: no EMNIST Balanced files in --data or $CYMLP_DATA"
    # --data whatever the experiments; the MNIST files where one reads them (fig3 needs no
    # data, fig9 EMNIST's)
    _check_data(args, "mnist" if set(names) - {"fig3", "fig9"} else None)
    if args.out and FIGURES.intersection(names):
        _require_matplotlib("--out")
    backend = Backend.parse(args.backend, args.jobs)
    out = _out_folder(args.out) if args.out else None  # last: nothing is created before then
    run = Reproduction(args, out, backend)
    if skipped:
        run.progress(skipped)
    with contextlib.ExitStack() as stack:
        if SWEEPS.intersection(names):
            # a dask cluster is started, or its scheduler reached, before any data is loaded
            try:
                stack.enter_context(backend)
            except (OSError, ValueError) as error:  # no such scheduler, a malformed address
                raise CommandError(f"--backend {args.backend}: {error}") from None
        for name in names:
            start = time.perf_counter()
            written = [str(path) for path in EXPERIMENTS[name](run) if path is not None]
            run.progress(f"{name}: done in {time.perf_counter() - start:.1f} s"
                         + (f"; wrote {', '.join(written)}" if written else ""))
            run.progress()
    if out is None:
        run.progress("Nothing was written: pass --out FOLDER to write the tables and figures.")


# ---------------------------------------------------------------- bench

def cmd_bench(args):
    from .bench import main as bench_main

    _check_data(args)
    if args.out:  # nothing is created before every check of the options has passed
        _out_folder(args.out)
    _load(args)   # (found or downloaded and checked here: a problem is one line, not bench's)
    bench_main(["--repeats", str(args.repeats)] + (["--data", args.data] if args.data else [])
               + (["--quick"] if args.quick else []) + (["--out", args.out] if args.out else [])
               + (["--quiet"] if args.quiet else []))


# ---------------------------------------------------------------- the parser

def build_parser():
    from ._mlp import ACTIVATIONS, COSTS, HIDDEN_ACTIVATIONS, INITS
    from ._validation import GD_MODES
    from .datasets import DATASETS
    from .experiments import BACKENDS

    parser = ArgumentParser(prog="cymlp", description=__doc__.splitlines()[0])
    parser.add_argument("--version", action="version", version=f"cymlp {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, parser_class=CommandParser)

    def common_options(p):
        p.add_argument("--data", type=_path, default=None,
                       help="folder with the data set's IDX files (default: $CYMLP_DATA, then for "
                            "MNIST the download cache)")
        p.add_argument("--no-download", action="store_true",
                       help="fail instead of downloading MNIST when the files are missing")
        p.add_argument("-q", "--quiet", action="store_true",
                       help="print only the results, at the end (no progress)")

    train = commands.add_parser("train", help="train an MLP on MNIST (or --dataset), printing each "
                                              "reported epoch")
    train.add_argument("--dataset", default="mnist", metavar="NAME",
                       help=f"one of {', '.join(DATASETS)} (default mnist); emnist-<split> reads "
                            f"the EMNIST files in --data, idx any folder (--data) holding four "
                            f"files named as MNIST's")
    train.add_argument("--layers", type=_layers, default=None,
                       help="layer sizes (default: the data's inputs,64,32,its classes: "
                            "784,64,32,10 for MNIST, 784,64,32,47 for emnist-balanced)")
    train.add_argument("--lr", type=float, default=0.2, help="learning rate (default 0.2)")
    train.add_argument("--batch-size", type=int, default=32, help="mini-batch size (default 32)")
    train.add_argument("--epochs", type=int, default=160, help="epochs (default 160)")
    train.add_argument("--gd", choices=GD_MODES, default="mini-batch")
    train.add_argument("--interval", type=int, default=10, help="report every N epochs (default 10)")
    train.add_argument("--activation", choices=HIDDEN_ACTIVATIONS,
                       default="sigmoid", help="hidden-layer activation (default sigmoid)")
    train.add_argument("--output-activation", default="sigmoid",
                       choices=[a for a in ACTIVATIONS if a != "identity"],
                       help="output activation (default sigmoid; identity outputs are for "
                            "regression, and these data sets are classes)")
    train.add_argument("--cost", choices=list(COSTS), default="quadratic")
    train.add_argument("--init", choices=INITS, default="normal")
    train.add_argument("--l2", type=float, default=0.0, help="L2 weight decay lambda >= 0 (default 0)")
    train.add_argument("--momentum", type=float, default=0.0, help="momentum mu in [0, 1) (default 0)")
    train.add_argument("--patience", type=int, default=None,
                       help="stop after N reports without improvement, keep the best weights")
    train.add_argument("--seed", type=int, default=None, help="random seed (default: fresh)")
    train.add_argument("--save", type=_path, default=None,
                       help="save the trained model to this file (.npz is appended if missing)")
    train.add_argument("--plot", type=_path, default=None,
                       help="draw test cost and accuracy to this image (.png, .pdf, .svg, ...)")
    common_options(train)

    reproduce = commands.add_parser("reproduce", help="reproduce the paper's experiments")
    reproduce.add_argument("experiment", choices=[*EXPERIMENTS, "all"],
                           help="fig9 needs the EMNIST Balanced files in --data or $CYMLP_DATA")
    reproduce.add_argument("--out", type=_path, default=None,
                           help="write tables and figures to this folder (default: print only)")
    reproduce.add_argument("--epochs", type=int, default=None,
                           help="override the paper's epochs (160, 80, 30, 30)")
    reproduce.add_argument("--jobs", type=int, default=1,
                           help="runs of a sweep at once (fig7, fig8; default 1)")
    reproduce.add_argument("--backend", type=_backend, default="threading",
                           help=f"where a sweep's runs go: {', '.join(BACKENDS)} (a local cluster of "
                                f"--jobs workers) or dask=SCHEDULER_ADDRESS (default threading)")
    reproduce.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    common_options(reproduce)

    bench = commands.add_parser("bench", help="seconds per epoch of net53k: cymlp vs NumPy")
    bench.add_argument("--repeats", type=int, default=5)
    bench.add_argument("--quick", action="store_true", help="batch 32 only, 3 repeats")
    bench.add_argument("--out", type=_path, default=None,
                       help="write bench.json/.md/.png to this folder")
    common_options(bench)
    return parser


COMMANDS = {"train": cmd_train, "reproduce": cmd_reproduce, "bench": cmd_bench}


def main(argv=None):
    """Run the command line; returns the exit status (0, 2 for a user error, 1 for a figure
    that could not be drawn after training, 130 for Ctrl-C)."""
    prog = "cymlp"
    try:
        args = build_parser().parse_args(argv)
        prog = f"cymlp {args.command}"
        _check_ranges(args)
        COMMANDS[args.command](args)
    except CommandError as error:
        print(f"{prog}: error: {error}", file=sys.stderr)
        return error.status
    except KeyboardInterrupt:
        print("cymlp: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # `cymlp ... | head`: the reader has gone, nothing more to say
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # (for the exit's flush)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
