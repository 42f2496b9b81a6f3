"""Figures of the paper's experiments (needs matplotlib: ``pip install cymlp[plot]``).

Figures are drawn on ``matplotlib.figure.Figure`` objects with the Agg
canvas, never through pyplot's global state, so they work without a screen
and from several threads.
"""

from __future__ import annotations


def _figure(**kwargs):
    try:
        from matplotlib.figure import Figure
    except ImportError:
        raise ImportError(
            "plotting needs matplotlib: install it with  pip install 'cymlp[plot]'"
        ) from None
    return Figure(**kwargs)


def plot_cost_and_accuracy(rows, path, title=None):
    """Test cost (MSE) and accuracy against epochs on two axes (the paper's Figure 6).

    ``rows`` are ``(epoch, mse, correct, total)`` tuples.
    """
    fig = _figure(figsize=(7, 4.2), layout="constrained")
    ax = fig.subplots()
    epochs = [r[0] for r in rows]
    ax.plot(epochs, [r[1] for r in rows], color="tab:red", label="test MSE")
    ax.set_xlabel("epoch")
    ax.set_ylabel("mean squared error", color="tab:red")
    ax2 = ax.twinx()
    ax2.plot(epochs, [100 * r[2] / r[3] for r in rows], color="tab:blue", label="test accuracy")
    ax2.set_ylabel("accuracy (%)", color="tab:blue")
    ax.set_title(title or "Cost and accuracy during training")
    fig.savefig(path, dpi=110)
    return path


def plot_accuracy_by_fraction(results, path, title=None):
    """Accuracy per epoch, one line per fraction of the training set (the paper's Figure 7).

    ``results`` maps a fraction to its ``(epoch, mse, correct, total)`` rows.
    """
    fig = _figure(figsize=(7, 4.2), layout="constrained")
    ax = fig.subplots()
    for fraction, rows in sorted(results.items()):
        ax.plot([r[0] for r in rows], [100 * r[2] / r[3] for r in rows], label=f"{fraction:.0%}")
    ax.set_xlabel("epoch")
    ax.set_ylabel("test accuracy (%)")
    ax.legend(title="training data")
    ax.set_title(title or "Accuracy by size of the training set")
    fig.savefig(path, dpi=110)
    return path


def plot_accuracy_by_size(results, path, title=None):
    """Final test accuracy against parameter count (the paper's Figure 8).

    ``results`` are ``(layer_sizes, n_parameters, accuracy)`` tuples.
    """
    fig = _figure(figsize=(7, 4.2), layout="constrained")
    ax = fig.subplots()
    params = [r[1] for r in results]
    accuracy = [100 * r[2] for r in results]
    ax.plot(params, accuracy, "o-")
    for sizes, n, acc in results:
        ax.annotate(",".join(map(str, sizes[1:-1])) or "none", (n, 100 * acc),
                    textcoords="offset points", xytext=(4, -10), fontsize=8)
    ax.set_xscale("log")
    ax.set_xlabel("parameters")
    ax.set_ylabel("test accuracy (%)")
    ax.set_title(title or "Accuracy by network size (hidden layers annotated)")
    fig.savefig(path, dpi=110)
    return path
