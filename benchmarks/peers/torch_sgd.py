"""PyTorch, float64, manual SGD: the same vectorized math as cymlp, in torch tensors.

python benchmarks/peers/torch_sgd.py --layers 784,64,32,10 --batch-size 32 --threads 1
(see common.py for the protocol).
"""

import numpy as np
import torch

from common import arguments, mnist, serve
from cymlp import MLP

args = arguments(__doc__.splitlines()[0])
torch.set_num_threads(args.threads)
X, y = mnist(args)
net = MLP(args.layers, seed=0)
W = [torch.from_numpy(w.copy()) for w in net.weights]
b = [torch.from_numpy(v.copy()) for v in net.biases]
Xt, Yt = torch.from_numpy(X), torch.from_numpy(np.eye(args.layers[-1])[y])
S, lr = args.batch_size, args.learning_rate


@torch.no_grad()
def epoch(order):
    order = torch.from_numpy(order)
    for s in range(0, len(order), S):
        rows = order[s:s + S]
        acts = [Xt.index_select(0, rows)]
        t = Yt.index_select(0, rows)
        for Wl, bl in zip(W, b):
            acts.append(torch.sigmoid(torch.addmm(bl, acts[-1], Wl.T)))
        a = acts[-1]
        delta = (a - t) * a * (1 - a)
        step = lr / len(rows)
        for l in range(len(W) - 1, -1, -1):
            gW, gb = delta.T @ acts[l], delta.sum(0)
            if l > 0:
                delta = (delta @ W[l]) * acts[l] * (1 - acts[l])
            W[l].sub_(gW, alpha=step)
            b[l].sub_(gb, alpha=step)


serve(epoch, len(X))
