"""Command line: ``cymlp train ...`` and ``cymlp reproduce table1`` (also ``python -m cymlp``)."""

from __future__ import annotations

import argparse
import sys
import time

from . import MLP, __version__
from .datasets import load_mnist

# The paper's Table 1: net53k, eta = 0.2, batch 32 (epoch: (MSE, correct of 10,000)).
PAPER_TABLE1 = {
    0: (0.2794, 1049), 20: (0.0187, 8849), 30: (0.0143, 9080), 40: (0.0125, 9202),
    50: (0.0114, 9284), 60: (0.0107, 9320), 70: (0.0103, 9342), 80: (0.0099, 9360),
    90: (0.0096, 9379), 100: (0.0093, 9396), 110: (0.0091, 9418), 120: (0.0090, 9425),
    130: (0.0088, 9428), 140: (0.0088, 9441), 150: (0.0087, 9446), 160: (0.0086, 9446),
}


class CommandError(Exception):
    """A problem the user can fix; printed as one line, no traceback."""


def _layers(text):
    try:
        return [int(part) for part in text.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated integers like 784,64,32,10, got {text!r}") from None


def _load(data):
    try:
        return load_mnist(data)
    except (OSError, ValueError) as error:  # missing, corrupt, or download failed
        raise CommandError(str(error)) from None


def _initial_record(net, test):
    """Epoch 0: the untrained network, as the first row of the paper's table."""
    import numpy as np

    result = net.evaluate(test)
    return 0, float(np.mean(net.MeanSquaredError(test))), result.correct, result.total


def print_table(rows, compare_with_paper=False, out=sys.stdout):
    """Rows of (epoch, mse, correct, total) as the paper's Table 1, optionally beside it."""
    header = f"{'Epoch':>5}  {'MSE':>7}  {'Accuracy':>11}"
    if compare_with_paper:
        header += f"   | paper: {'MSE':>7}  {'Accuracy':>11}"
    print(header, file=out)
    for epoch, mse, correct, total in rows:
        line = f"{epoch:>5}  {mse:>7.4f}  {f'{correct}/{total}':>11}"
        if compare_with_paper:
            paper = PAPER_TABLE1.get(epoch)
            line += (f"   |        {paper[0]:>7.4f}  {f'{paper[1]}/10000':>11}" if paper
                     else f"   |        {'-':>7}  {'-':>11}")
        print(line, file=out)


def run_training(layers, lr, batch_size, epochs, gd, seed, data, interval, compare_with_paper):
    train, test = _load(data)
    try:
        net = MLP(layers, seed=seed)
    except (TypeError, ValueError) as error:
        raise CommandError(str(error)) from None
    rows = [_initial_record(net, test)]
    print(f"Epoch 0: {rows[0][2]}/{rows[0][3]} MSE: {rows[0][1]:.4f}", flush=True)
    start = time.perf_counter()
    try:
        history = net.train(train, gd=gd, batch_size=batch_size, learning_rate=lr,
                            epochs=epochs, test_data=test, interval=interval)
    except (TypeError, ValueError) as error:
        raise CommandError(str(error)) from None
    elapsed = time.perf_counter() - start
    rows += [(r.epoch, r.mse, r.correct, r.total) for r in history]
    print()
    print_table(rows, compare_with_paper)
    print(f"\n{net!r}, {net.n_parameters} parameters: {epochs} epochs in {elapsed:.1f} s "
          f"({history[-1].seconds / epochs:.3f} s per epoch of training)")
    return net


def main(argv=None):
    parser = argparse.ArgumentParser(prog="cymlp", description=__doc__)
    parser.add_argument("--version", action="version", version=f"cymlp {__version__}")
    commands = parser.add_subparsers(dest="command", required=True)

    train = commands.add_parser("train", help="train an MLP on MNIST and print the paper's table")
    train.add_argument("--layers", type=_layers, default=[784, 64, 32, 10], help="layer sizes (default 784,64,32,10)")
    train.add_argument("--lr", type=float, default=0.2, help="learning rate (default 0.2)")
    train.add_argument("--batch-size", type=int, default=32, help="mini-batch size (default 32)")
    train.add_argument("--epochs", type=int, default=160, help="epochs (default 160)")
    train.add_argument("--gd", choices=["mini-batch", "batch", "sgd"], default="mini-batch")
    train.add_argument("--interval", type=int, default=10, help="report every N epochs (default 10)")
    train.add_argument("--seed", type=int, default=None, help="random seed (default: fresh)")
    train.add_argument("--data", default=None, help="folder with the MNIST IDX files (default $CYMLP_DATA)")

    reproduce = commands.add_parser("reproduce", help="reproduce the paper's experiments")
    reproduce.add_argument("experiment", choices=["table1"])
    reproduce.add_argument("--epochs", type=int, default=160, help="epochs (default 160, as the paper)")
    reproduce.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    reproduce.add_argument("--data", default=None, help="folder with the MNIST IDX files (default $CYMLP_DATA)")

    args = parser.parse_args(argv)
    try:
        if args.command == "train":
            run_training(args.layers, args.lr, args.batch_size, args.epochs, args.gd, args.seed,
                         args.data, args.interval, compare_with_paper=False)
        else:
            print("Table 1: net53k [784, 64, 32, 10], eta = 0.2, batch size 32\n", flush=True)
            run_training([784, 64, 32, 10], 0.2, 32, args.epochs, "mini-batch", args.seed,
                         args.data, 10, compare_with_paper=True)
    except CommandError as error:
        print(f"cymlp: error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("cymlp: interrupted", file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
