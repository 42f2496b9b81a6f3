"""Property-based fuzzing of the public entry points (run in a subprocess by test_reliability.py,
so that a crash fails that test instead of killing pytest).

Prints one line per entry point: "<name> <examples run>". Any exception other than the
documented ValueError / TypeError (FileNotFoundError for loaders) fails with a traceback.
"""

import sys
import warnings

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from cymlp import MLP, Perceptron

EXAMPLES = int(sys.argv[1]) if len(sys.argv) > 1 else 200
# derandomize: the same examples every run, so CI is reproducible
SETTINGS = settings(max_examples=EXAMPLES, deadline=None, database=None, derandomize=True,
                    suppress_health_check=list(HealthCheck))
TEXT = st.text(alphabet="ab1 .", max_size=3)  # no NUL: numpy's str dtype cannot hold it
counts = {}

dtypes = st.sampled_from([np.float64, np.float32, np.int64, np.uint8, np.bool_, np.complex128,
                          object, "U3"])
shapes = hnp.array_shapes(min_dims=0, max_dims=3, min_side=0, max_side=6)


@st.composite
def arrays(draw):
    dtype = np.dtype(draw(dtypes))
    shape = draw(shapes)
    if dtype.kind in "fc":
        elements = st.floats(allow_nan=True, allow_infinity=True, width=32)
    elif dtype.kind == "O":
        elements = st.one_of(st.integers(-3, 3), st.none(), TEXT)
    elif dtype.kind == "U":
        elements = TEXT
    elif dtype.kind == "b":
        elements = st.booleans()
    else:
        elements = st.integers(0, 9)
    return draw(hnp.arrays(dtype, shape, elements=elements))


anything = st.one_of(arrays(), st.none(), st.integers(-5, 100), st.floats(allow_nan=True),
                     TEXT, st.lists(st.integers(-2, 12), max_size=5),
                     st.tuples(arrays(), arrays()))


def expect(call, *errors):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            call()
        except (ValueError, TypeError, *errors):
            pass


def count(name):
    counts[name] = counts.get(name, 0) + 1


NET = MLP([4, 3, 2], seed=0)


@SETTINGS
@given(st.lists(st.one_of(st.integers(-2, 6), st.floats(), TEXT), max_size=5))
def fuzz_constructor(sizes):
    count("MLP()")
    expect(lambda: MLP(sizes))


@SETTINGS
@given(anything, anything, st.sampled_from(["mini-batch", "batch", "sgd", "bogus"]),
       st.one_of(st.integers(-2, 8), st.floats()), st.one_of(st.floats(-1, 5), st.integers(-1, 3)))
def fuzz_train(X, Y, gd, batch_size, learning_rate):
    count("train")
    net = MLP([4, 3, 2], seed=0)
    expect(lambda: net.train((X, Y) if isinstance(X, np.ndarray) and isinstance(Y, np.ndarray) else X,
                             gd=gd, batch_size=batch_size, learning_rate=learning_rate, epochs=1,
                             verbose=False), FloatingPointError)
    assert all(np.isfinite(p).all() for p in net.weights + net.biases)


@SETTINGS
@given(anything, st.booleans())
def fuzz_inference(X, cache):
    count("feed_forward/predict")
    expect(lambda: NET.feed_forward(X, cache=cache))
    expect(lambda: NET.predict(X))


@SETTINGS
@given(anything, anything)
def fuzz_metrics(X, Y):
    count("evaluate/MeanSquaredError/backprop")
    data = (X, Y) if isinstance(X, np.ndarray) and isinstance(Y, np.ndarray) else X
    expect(lambda: NET.evaluate(data))
    expect(lambda: NET.MeanSquaredError(data))
    expect(lambda: NET.backprop(X, Y))


@SETTINGS
@given(st.one_of(st.integers(-2, 6), st.floats()), anything, anything)
def fuzz_perceptron(size, X, y):
    count("Perceptron")
    def run():
        p = Perceptron(size, seed=0)
        p.train(X, y, epochs=2, verbose=False)
        p.classify(X)
        p.eval(X, y)
    expect(run)


for fuzz in (fuzz_constructor, fuzz_train, fuzz_inference, fuzz_metrics, fuzz_perceptron):
    fuzz()
for name, count in counts.items():
    print(name, count)
