"""Export of a trained network to PyTorch (``pip install torch``; not a dependency)."""

from __future__ import annotations


def torch_sequential(weights, biases, kinds, slope=0.01):
    """A ``torch.nn.Sequential`` of Linear layers and activations computing the same
    function: Linear l holds weights[l] (n_out, n_in) and biases[l], copied, in their
    dtype (float64 stays float64). ``kinds``: each layer's activation name."""
    try:
        import torch
        from torch import nn
    except ImportError:  # pragma: no cover - depends on the environment
        raise ImportError("to_torch needs PyTorch: pip install torch") from None

    activations = {"sigmoid": nn.Sigmoid, "tanh": nn.Tanh, "relu": nn.ReLU,
                   "identity": nn.Identity, "softmax": lambda: nn.Softmax(dim=-1),
                   "leaky_relu": lambda: nn.LeakyReLU(slope)}
    modules = []
    for W, b, kind in zip(weights, biases, kinds):
        linear = nn.Linear(W.shape[1], W.shape[0], dtype=getattr(torch, W.dtype.name))
        with torch.no_grad():
            linear.weight.copy_(torch.from_numpy(W.copy()))
            linear.bias.copy_(torch.from_numpy(b.copy()))
        modules += [linear, activations[kind]()]
    return nn.Sequential(*modules)
