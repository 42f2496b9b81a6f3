"""cymlp, float64, manual SGD: its compiled core as MLP.train drives it, in a process of its own.

python benchmarks/peers/cymlp_sgd.py --layers 784,1024,1024,10 --batch-size 256 --threads 1
(see common.py for the protocol; bench_instructions.py counts whole processes.)
"""

import sys
from pathlib import Path

from common import arguments, mnist, serve

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # (benchmarks/contenders.py)
from contenders import Cymlp  # noqa: E402

args = arguments(__doc__.splitlines()[0])
X, y = mnist(args)
cymlp = Cymlp(args.layers, X, y, args.batch_size, args.threads, learning_rate=args.learning_rate)
serve(cymlp.train, len(X))
