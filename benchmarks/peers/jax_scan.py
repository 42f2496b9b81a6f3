"""JAX, float64: jit of a whole epoch with lax.scan (the same math as cymlp).

python benchmarks/peers/jax_scan.py --threads 1 (see common.py; XLA reads its
thread settings at start-up, from XLA_FLAGS, which this sets from --threads).
"""

import os
import sys

from common import arguments

args = arguments(__doc__.splitlines()[0])
os.environ["XLA_FLAGS"] = (f"--xla_cpu_multi_thread_eigen={'true' if args.threads > 1 else 'false'} "
                           f"intra_op_parallelism_threads={args.threads}")

import jax  # noqa: E402 - after XLA_FLAGS
import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402

from common import mnist, serve  # noqa: E402
from cymlp import MLP  # noqa: E402

jax.config.update("jax_enable_x64", True)
X, y = mnist(args)
S, lr = args.batch_size, args.learning_rate
net = MLP(args.layers, seed=0)
params = [(jnp.asarray(W), jnp.asarray(b)) for W, b in zip(net.weights, net.biases)]
n = (len(X) // S) * S   # whole batches only (lax.scan needs one shape)


def step(params, batch):
    x, t = batch
    acts = [x]
    for W, b in params:
        acts.append(jax.nn.sigmoid(acts[-1] @ W.T + b))
    a = acts[-1]
    delta = (a - t) * a * (1 - a)
    new = list(params)
    for l in range(len(params) - 1, -1, -1):
        W, b = params[l]
        gW, gb = delta.T @ acts[l], delta.sum(0)
        if l > 0:
            delta = (delta @ W) * acts[l] * (1 - acts[l])
        new[l] = (W - lr / S * gW, b - lr / S * gb)
    return new, None


@jax.jit
def scan_epoch(params, X, Y, order):
    xs = X[order].reshape(-1, S, X.shape[1])
    ts = Y[order].reshape(-1, S, Y.shape[1])
    params, _ = jax.lax.scan(step, params, (xs, ts))
    return params


Xj, Yj = jnp.asarray(X), jnp.asarray(np.eye(args.layers[-1])[y])
jax.block_until_ready(scan_epoch(params, Xj, Yj, jnp.asarray(np.arange(n))))  # compile


def epoch(order):
    global params
    params = jax.block_until_ready(scan_epoch(params, Xj, Yj, jnp.asarray(order[:n])))


serve(epoch, len(X))
sys.exit(0)
