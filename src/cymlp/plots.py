"""The paper's figures (needs matplotlib: ``pip install cymlp[plot]``).

Figures are drawn on ``matplotlib.figure.Figure`` objects with the Agg
canvas, never through pyplot's global state, so they work without a screen
and from several threads.
"""

from __future__ import annotations

import os

from ._files import write_replacing


def _figure(**kwargs):
    try:
        from matplotlib.figure import Figure
    except ImportError:
        raise ImportError(
            "plotting needs matplotlib: install it with  pip install 'cymlp[plot]'"
        ) from None
    return Figure(**kwargs)


def _save(fig, path):
    """Write ``fig`` to ``path`` in the format its suffix names (none: ``path + ".png"``, as
    matplotlib names it), never leaving a partial file."""
    if hasattr(path, "write"):
        fig.savefig(path, dpi=110)
        return path
    name = os.fsdecode(path)
    suffix = os.path.splitext(name)[1][1:].lower()
    if not suffix and not os.path.isdir(name):
        name, suffix = name + ".png", "png"
    write_replacing(name, lambda file: fig.savefig(file, format=suffix, dpi=110), taker="a plot")
    return path


def plot_cost_and_accuracy(rows, path, title=None):
    """Test cost (MSE) and accuracy against epochs on two axes (the paper's Figure 6).

    ``rows`` are ``(epoch, mse, correct, total)`` tuples; the accuracy is drawn from the
    rows with a total (a regression's rows have None: only its cost is drawn).
    """
    rows = list(rows)
    if not rows:
        raise ValueError("plot_cost_and_accuracy needs at least one (epoch, mse, correct, total) "
                         "row, got none")
    fig = _figure(figsize=(7, 4.2), layout="constrained")
    ax = fig.subplots()
    ax.plot([r[0] for r in rows], [r[1] for r in rows], color="tab:red", label="test MSE")
    ax.set_xlabel("epoch")
    ax.set_ylabel("mean squared error", color="tab:red")
    scored = [r for r in rows if r[3]]
    if scored:
        ax2 = ax.twinx()
        ax2.plot([r[0] for r in scored], [100 * r[2] / r[3] for r in scored], color="tab:blue",
                 label="test accuracy")
        ax2.set_ylabel("accuracy (%)", color="tab:blue")
    ax.set_title(title or ("Cost and accuracy during training" if scored
                           else "Cost during training"))
    return _save(fig, path)


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
    return _save(fig, path)


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
    return _save(fig, path)


def plot_activations(curves, path, leaky_slope=None, title=None):
    """The activation functions side by side (the paper's Figure 3).

    ``curves`` maps a name ("relu", "leaky_relu", "sigmoid", "tanh" or any
    label) to ``(z, f(z))``, as :func:`cymlp.experiments.fig3` returns;
    ``leaky_slope``, if given, is shown in LeakyReLU's title.
    """
    from .experiments import FIG3_ACTIVATIONS

    if not curves:
        raise ValueError("plot_activations needs at least one curve, got none")
    fig = _figure(figsize=(10, 2.9), layout="constrained")
    axes = fig.subplots(1, len(curves), sharex=True, squeeze=False)[0]
    for ax, (name, (z, f)) in zip(axes, curves.items()):
        ax.axhline(0, color="0.75", linewidth=0.8)
        ax.axvline(0, color="0.75", linewidth=0.8)
        ax.plot(z, f, color="tab:blue")
        label = FIG3_ACTIVATIONS.get(name, name)
        ax.set_title(f"{label} (slope {leaky_slope:g})" if name == "leaky_relu" and leaky_slope
                     else label)
        ax.set_xlabel("z")
    axes[0].set_ylabel("f(z)")
    fig.suptitle(title or "Activation functions, computed by cymlp's compiled core")
    return _save(fig, path)


def plot_digit(image, label, path, title=None):
    """One image with its greyscale values in [0, 1] and a colour bar (the paper's Figure 4).

    Drawn as the paper describes it: 1 is the darkest pixel, 0 the brightest.
    """
    fig = _figure(figsize=(5.2, 4.4), layout="constrained")
    ax = fig.subplots()
    shown = ax.imshow(image, cmap="gray_r", vmin=0.0, vmax=1.0)
    fig.colorbar(shown, ax=ax, label="greyscale value")
    ax.set_xticks([0, 7, 14, 21, 27])
    ax.set_yticks([0, 7, 14, 21, 27])
    ax.set_title(title or f"MNIST training image, label {label}")
    return _save(fig, path)


def plot_image_grid(images, labels, path, columns=10, title=None):
    """Images in a grid, each titled with its label (the paper's Figure 9)."""
    if len(images) == 0 or len(labels) != len(images):
        raise ValueError(f"plot_image_grid needs one label per image and at least one image, "
                         f"got {len(images)} images and {len(labels)} labels")
    rows = -(-len(images) // columns)
    fig = _figure(figsize=(1.0 * columns, 1.15 * rows + 0.4), layout="constrained")
    axes = fig.subplots(rows, columns, squeeze=False)
    for i, ax in enumerate(axes.flat):
        ax.set_axis_off()
        if i < len(images):
            ax.imshow(images[i], cmap="gray_r", vmin=0.0, vmax=1.0)
            ax.set_title(labels[i], fontsize=11)
    if title:
        fig.suptitle(title)
    return _save(fig, path)
