"""cymlp command line: train an MLP on MNIST or another data set, reproduce the paper's experiments, benchmark."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from . import MLP, __version__, experiments
from ._mlp import ACTIVATIONS, COSTS, HIDDEN_ACTIVATIONS, INITS
from ._validation import GD_MODES
from .datasets import DATASETS, check_dataset_name, emnist_folder, load_dataset


class CommandError(Exception):
    """A problem the user can fix; printed as one line, no traceback."""


def _layers(text):
    try:
        return [int(part) for part in text.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected comma-separated integers like 784,64,32,10, got {text!r}") from None


def _positive(kind):
    def parse(text):
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
        if value <= 0:
            raise argparse.ArgumentTypeError(f"must be > 0, got {text}")
        return value
    return parse


def _load(args, name="mnist"):
    # uint8 pixels: the core scales them by 1/255 as it gathers each batch, exactly
    # as load_mnist's floats are scaled, with an eighth of the memory
    try:
        return load_dataset(name, args.data, download=not args.no_download, raw=True)
    except (OSError, ValueError) as error:  # missing, corrupt, or the download failed
        raise CommandError(str(error)) from None


def _plots():
    try:
        from . import plots
    except ImportError as error:
        raise CommandError(str(error)) from None
    return plots


def cmd_train(args):
    model_options = dict(activation=args.activation, output_activation=args.output_activation,
                         cost=args.cost, init=args.init)
    try:
        check_dataset_name(args.dataset)
        MLP(args.layers or experiments.NET53K, **model_options)  # check before loading anything big
    except (TypeError, ValueError) as error:
        raise CommandError(str(error)) from None
    plots = _plots() if args.plot else None
    data = _load(args, args.dataset)
    train, test = data.train, data.test
    try:
        layers = experiments.layers_for(data, args.layers)  # output layer sized from the data
    except ValueError as error:
        raise CommandError(f"--layers: {error} ({args.dataset})") from None
    try:
        start = time.perf_counter()
        net, rows = experiments.training_run(
            layers, train, test, args.lr, args.epochs, gd=args.gd,
            batch_size=args.batch_size, seed=args.seed, interval=args.interval, verbose=True,
            model_options=model_options, l2=args.l2, momentum=args.momentum,
            patience=args.patience)
    except (TypeError, ValueError, FloatingPointError) as error:
        raise CommandError(str(error)) from None
    print()
    print(experiments.format_table(rows))
    print(f"\n{net!r}, {net.n_parameters} parameters: {args.epochs} epochs in "
          f"{time.perf_counter() - start:.1f} s")
    if plots:
        plots.plot_cost_and_accuracy(rows, args.plot, title=f"{layers}, eta = {args.lr}")
        print(f"wrote {args.plot}")
    if args.save:
        try:
            net.save(args.save)
        except OSError as error:
            raise CommandError(f"could not save the model: {error}") from None
        print(f"saved the model to {args.save}")


def cmd_reproduce(args):
    names = [args.experiment]
    if args.experiment == "all":
        names = ["fig3", "fig4", "table1", "fig6", "fig7", "fig8"]
        if emnist_folder("balanced", args.data):
            names.append("fig9")
        else:
            print("fig9 skipped: no EMNIST Balanced files in --data or $CYMLP_DATA", flush=True)
    # fig3 needs no data, fig9 EMNIST's
    train, test, _ = _load(args) if set(names) - {"fig3", "fig9"} else (None, None, None)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    plots = _plots() if any(n.startswith("fig") for n in names) else None
    epochs = {} if args.epochs is None else {"epochs": args.epochs}
    for name in names:
        start = time.perf_counter()
        if name in ("fig3", "fig4", "fig9"):
            _draw_data_figure(name, args, out, plots, train)
        elif name == "table1":
            print("Table 1: net53k [784, 64, 32, 10], eta = 0.2, batch size 32\n", flush=True)
            rows = experiments.table1(train, test, seed=args.seed, **epochs)
            text = experiments.format_table(rows, compare_with_paper=True)
            print("\n" + text)
            (out / "table1.txt").write_text(text + "\n")
        elif name == "fig6":
            rows = experiments.fig6(train, test, seed=args.seed, verbose=False, **epochs)
            plots.plot_cost_and_accuracy(rows, out / "fig6.png",
                                         title="net53k, eta = 0.2: test cost and accuracy")
            (out / "fig6.txt").write_text(experiments.format_table(rows) + "\n")
        elif name == "fig7":
            results = experiments.fig7(train, test, seed=args.seed, jobs=args.jobs, **epochs)
            plots.plot_accuracy_by_fraction(results, out / "fig7.png",
                                            title="net13k, eta = 3, on parts of the training set")
            text = "\n".join(f"{f:>5.0%}  {rows[-1][2]}/{rows[-1][3]}" for f, rows in results.items())
            (out / "fig7.txt").write_text("fraction  final accuracy\n" + text + "\n")
        else:
            results = experiments.fig8(train, test, seed=args.seed, jobs=args.jobs, **epochs)
            plots.plot_accuracy_by_size(results, out / "fig8.png")
            text = "\n".join(f"| {sizes} | {n} | {100 * acc:.2f}% |" for sizes, n, acc in results)
            (out / "fig8.md").write_text("| layers | parameters | test accuracy |\n|---|---:|---:|\n"
                                         + text + "\n")
        print(f"{name}: done in {time.perf_counter() - start:.1f} s (output in {out})", flush=True)


def _draw_data_figure(name, args, out, plots, train):
    """Figures 3, 4 and 9: the activations, an MNIST image, EMNIST images (nothing trained)."""
    if name == "fig3":
        plots.plot_activations(experiments.fig3(leaky_slope=0.1), out / "fig3.png", leaky_slope=0.1)
    elif name == "fig4":
        image, label, index = experiments.fig4(train)
        plots.plot_digit(image, label, out / "fig4.png",
                         title=f"MNIST training image {index} (label {label}), scaled to [0, 1]")
    else:
        emnist = _load(args, "emnist-balanced")
        chosen = experiments.fig9(emnist.train, emnist.classes, seed=args.seed)
        plots.plot_image_grid([c[0] for c in chosen], [c[1] for c in chosen], out / "fig9.png",
                              title="Randomly selected EMNIST Balanced training images")


def cmd_bench(args):
    from .bench import main as bench_main

    bench_main(["--repeats", str(args.repeats)] + (["--data", args.data] if args.data else [])
               + (["--quick"] if args.quick else []) + (["--out", args.out] if args.out else []))


def build_parser():
    parser = argparse.ArgumentParser(prog="cymlp", description=__doc__)
    parser.add_argument("--version", action="version", version=f"cymlp {__version__}")
    commands = parser.add_subparsers(dest="command", required=True)

    def data_options(p):
        p.add_argument("--data", default=None,
                       help="folder with the data set's IDX files (default: $CYMLP_DATA, then "
                            "for MNIST the cache)")
        p.add_argument("--no-download", action="store_true",
                       help="fail instead of downloading MNIST when the files are missing")

    train = commands.add_parser("train", help="train an MLP on MNIST (or --dataset) and print the paper's table")
    train.add_argument("--dataset", default="mnist", metavar="NAME",
                       help=f"one of {', '.join(DATASETS)} (default mnist); emnist-<split> reads "
                            f"the EMNIST files in --data, idx any folder (--data) holding four "
                            f"files named as MNIST's")
    train.add_argument("--layers", type=_layers, default=None,
                       help="layer sizes (default: the data's inputs,64,32,its classes: "
                            "784,64,32,10 for MNIST, 784,64,32,47 for emnist-balanced)")
    train.add_argument("--lr", type=_positive(float), default=0.2, help="learning rate (default 0.2)")
    train.add_argument("--batch-size", type=_positive(int), default=32, help="mini-batch size (default 32)")
    train.add_argument("--epochs", type=_positive(int), default=160, help="epochs (default 160)")
    train.add_argument("--gd", choices=GD_MODES, default="mini-batch")
    train.add_argument("--interval", type=_positive(int), default=10, help="report every N epochs (default 10)")
    train.add_argument("--activation", choices=HIDDEN_ACTIVATIONS,
                       default="sigmoid", help="hidden-layer activation (default sigmoid)")
    train.add_argument("--output-activation", default="sigmoid",
                       choices=list(ACTIVATIONS))
    train.add_argument("--cost", choices=list(COSTS), default="quadratic")
    train.add_argument("--init", choices=INITS, default="normal")
    train.add_argument("--l2", type=float, default=0.0, help="L2 weight decay lambda (default 0)")
    train.add_argument("--momentum", type=float, default=0.0, help="momentum mu (default 0)")
    train.add_argument("--patience", type=_positive(int), default=None,
                       help="stop after N reports without improvement, keep the best weights")
    train.add_argument("--seed", type=int, default=None, help="random seed (default: fresh)")
    train.add_argument("--save", default=None, help="save the trained model to this .npz file")
    train.add_argument("--plot", default=None, help="also draw cost and accuracy to this PNG")
    data_options(train)

    reproduce = commands.add_parser("reproduce", help="reproduce the paper's experiments")
    reproduce.add_argument("experiment",
                           choices=["table1", "fig3", "fig4", "fig6", "fig7", "fig8", "fig9", "all"],
                           help="fig9 needs the EMNIST Balanced files in --data or $CYMLP_DATA")
    reproduce.add_argument("--out", default=".", help="folder for tables and PNGs (default .)")
    reproduce.add_argument("--epochs", type=_positive(int), default=None,
                           help="override the paper's epochs (160, 80, 30, 30)")
    reproduce.add_argument("--jobs", type=int, default=1, help="parallel runs in a sweep (joblib)")
    reproduce.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    data_options(reproduce)

    bench = commands.add_parser("bench", help="seconds per epoch of net53k: cymlp vs NumPy")
    bench.add_argument("--repeats", type=_positive(int), default=5)
    bench.add_argument("--quick", action="store_true", help="batch 32 only, 3 repeats")
    bench.add_argument("--out", default=None, help="write bench.json/.md/.png to this folder")
    data_options(bench)
    return parser


def main(argv=None):
    args = build_parser().parse_args(argv)
    try:
        {"train": cmd_train, "reproduce": cmd_reproduce, "bench": cmd_bench}[args.command](args)
    except CommandError as error:
        print(f"cymlp: error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("cymlp: interrupted", file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
