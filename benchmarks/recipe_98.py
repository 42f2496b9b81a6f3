"""A recipe past 98% MNIST test accuracy: ReLU hidden layer, softmax + cross-entropy, He init,
momentum and L2 (run: CYMLP_DATA=../shared/data/mnist python benchmarks/recipe_98.py).

Equivalent command line:
  cymlp train --layers 784,256,10 --activation relu --output-activation softmax \\
      --cost cross_entropy --init he --lr 0.02 --momentum 0.9 --l2 5 --batch-size 32 \\
      --epochs 20 --interval 2 --seed 0
"""

import time

from cymlp import MLP
from cymlp.datasets import load_mnist

train, test = load_mnist()
net = MLP([784, 256, 10], seed=0, activation="relu", output_activation="softmax",
          cost="cross_entropy", init="he")
start = time.perf_counter()
history = net.train(train, batch_size=32, learning_rate=0.02, momentum=0.9, l2=5.0, epochs=20,
                    test_data=test, interval=2)
print(f"final: {net.evaluate(test)} = {100 * history[-1].accuracy:.2f}% "
      f"(best {max(r.correct for r in history)}), {time.perf_counter() - start:.1f} s")
