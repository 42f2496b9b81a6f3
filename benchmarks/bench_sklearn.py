"""cymlp.sklearn.MLPClassifier against scikit-learn's own, on the 60,000 MNIST images.

Both estimators get the same parameters, random_state and max_iter, so they draw the
same initial weights and shuffles and (up to rounding) fit the same coefs_. Each fit
runs in this process, the two contenders interleaved, at the same thread count:
scikit-learn's BLAS held to it by threadpoolctl, cymlp's core given it as n_threads
(its BLAS at one). Reported: median seconds per fit, test accuracy, the largest
difference between the two fits' coefs_ (how far rounding made them drift), and the
speed-up.

    CYMLP_DATA=../shared/data/mnist python benchmarks/bench_sklearn.py --max-iter 5

Settings: "defaults" is MLPClassifier() at scikit-learn's defaults (adam, relu, one
hidden layer of 100, batch min(200, n), alpha 1e-4); "paper" is the paper's setting
as scikit-learn expresses it (two logistic hidden layers of 64 and 32, sgd without
momentum or L2, batch 32, learning rate 0.1; log-loss instead of the paper's quadratic
cost, which scikit-learn does not offer).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import time
import warnings

import numpy as np
from sklearn import neural_network
from sklearn.exceptions import ConvergenceWarning
from threadpoolctl import threadpool_info, threadpool_limits

from cymlp import sklearn as cy
from cymlp.datasets import load_mnist

SETTINGS = {
    "defaults": {},
    "paper": dict(hidden_layer_sizes=(64, 32), activation="logistic", solver="sgd",
                  batch_size=32, learning_rate_init=0.1, momentum=0.0, alpha=0.0),
}


def fit(kind, params, threads, X, y):
    """(seconds, fitted estimator) of one fit at `threads` threads."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        if kind == "scikit-learn":
            model = neural_network.MLPClassifier(**params)
            with threadpool_limits(limits=threads, user_api="blas"):
                start = time.perf_counter()
                model.fit(X, y)
        else:
            model = cy.MLPClassifier(**params, n_threads=threads)
            start = time.perf_counter()
            model.fit(X, y)
        return time.perf_counter() - start, model


def largest_difference(a, b):
    return max(float(np.max(np.abs(p - q))) for p, q in zip(a.coefs_ + a.intercepts_,
                                                            b.coefs_ + b.intercepts_))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", default=os.environ.get("CYMLP_DATA"))
    parser.add_argument("--max-iter", type=int, default=5)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", default="1,2")
    parser.add_argument("--settings", default="defaults,paper")
    parser.add_argument("--random-state", type=int, default=0)
    parser.add_argument("--json", help="also write the results here")
    args = parser.parse_args(argv)

    (X, y), (Xt, yt) = load_mnist(args.data)
    blas = sorted({f"{i['internal_api']} {i['version']}" for i in threadpool_info()
                   if i["user_api"] == "blas"})
    print(f"machine: {platform.machine()}, {os.cpu_count()} CPUs, load average "
          f"{' '.join(f'{v:.1f}' for v in os.getloadavg())}; BLAS {', '.join(blas)}")
    print(f"MNIST 60,000 x 784 float64; max_iter={args.max_iter}, random_state="
          f"{args.random_state}; median of {args.repeats} fits, contenders interleaved\n")
    rows = []
    print("| setting | threads | scikit-learn s | cymlp s | speed-up | accuracy sklearn | "
          "accuracy cymlp | largest coefs_ difference |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    for setting in args.settings.split(","):
        params = dict(SETTINGS[setting], max_iter=args.max_iter, random_state=args.random_state)
        for threads in map(int, args.threads.split(",")):
            times = {"scikit-learn": [], "cymlp": []}
            models = {}
            for _ in range(args.repeats):
                for kind in times:
                    seconds, models[kind] = fit(kind, params, threads, X, y)
                    times[kind].append(seconds)
            sk_model, cy_model = models["scikit-learn"], models["cymlp"]
            row = dict(setting=setting, threads=threads,
                       sklearn_seconds=statistics.median(times["scikit-learn"]),
                       cymlp_seconds=statistics.median(times["cymlp"]),
                       sklearn_accuracy=sk_model.score(Xt, yt),
                       cymlp_accuracy=cy_model.score(Xt, yt),
                       epochs=cy_model.n_iter_, sklearn_epochs=sk_model.n_iter_,
                       difference=largest_difference(sk_model, cy_model),
                       times=times)
            row["speedup"] = row["sklearn_seconds"] / row["cymlp_seconds"]
            rows.append(row)
            print(f"| {setting} | {threads} | {row['sklearn_seconds']:.2f} | "
                  f"{row['cymlp_seconds']:.2f} | {row['speedup']:.2f}x | "
                  f"{100 * row['sklearn_accuracy']:.2f}% | {100 * row['cymlp_accuracy']:.2f}% | "
                  f"{row['difference']:.1e} after {row['epochs']} epochs |", flush=True)
    print(f"\nload average after: {' '.join(f'{v:.1f}' for v in os.getloadavg())}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(rows, f, indent=1)


if __name__ == "__main__":
    main()
