"""The paper's section 4.2 mini-batch code, per example: backprop one (784, 1) column at a
time, the gradients summed per batch (with the accumulators reset per batch, unlike the
paper's). python benchmarks/peers/paper_loop.py (see common.py)."""

import numpy as np

from common import arguments, mnist, serve
from cymlp import MLP
from cymlp import reference as ref

args = arguments(__doc__.splitlines()[0])
X, y = mnist(args)
net = MLP(args.layers, seed=0)
weights = net.weights
biases = [b.reshape(-1, 1).copy() for b in net.biases]
data = [(x.reshape(-1, 1), ref.one_hot(label, args.layers[-1]).reshape(-1, 1))
        for x, label in zip(X, y)]
S, lr = args.batch_size, args.learning_rate


def backprop(x, t):
    activations, zs = [x], []
    for W, b in zip(weights, biases):
        zs.append(W @ activations[-1] + b)
        activations.append(ref.sigmoid(zs[-1]))
    delta = (activations[-1] - t) * ref.sigmoid_prime_from_output(activations[-1])
    grad_b, grad_W = [None] * len(weights), [None] * len(weights)
    for l in range(len(weights) - 1, -1, -1):
        grad_b[l], grad_W[l] = delta, delta @ activations[l].T
        if l > 0:
            delta = (weights[l].T @ delta) * ref.sigmoid_prime_from_output(activations[l])
    return grad_b, grad_W


def epoch(order):
    for start in range(0, len(order), S):
        batch = order[start:start + S]
        sum_b = [np.zeros_like(b) for b in biases]
        sum_W = [np.zeros_like(W) for W in weights]
        for i in batch:
            grad_b, grad_W = backprop(*data[i])
            for l in range(len(weights)):
                sum_b[l] += grad_b[l]
                sum_W[l] += grad_W[l]
        for l in range(len(weights)):
            weights[l] -= lr / len(batch) * sum_W[l]
            biases[l] -= lr / len(batch) * sum_b[l]


serve(epoch, len(X))
