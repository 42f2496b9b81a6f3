"""A scikit-learn classifier on top of cymlp's MLP (needs ``pip install 'cymlp[sklearn]'``).

>>> from cymlp.sklearn import MLPClassifier
>>> clf = MLPClassifier(hidden_layer_sizes=(64, 32), learning_rate=0.2, max_iter=30)
>>> clf.fit(X_train, y_train).score(X_test, y_test)
"""

from __future__ import annotations

import numpy as np

try:
    from sklearn.base import BaseEstimator, ClassifierMixin
    from sklearn.utils import check_random_state
    from sklearn.utils.multiclass import check_classification_targets
    from sklearn.utils.validation import check_is_fitted, column_or_1d, validate_data
except ImportError:  # pragma: no cover - depends on the environment
    raise ImportError(
        "cymlp.sklearn needs scikit-learn >= 1.6: install it with  pip install 'cymlp[sklearn]'"
    ) from None

from ._mlp import MLP


class MLPClassifier(ClassifierMixin, BaseEstimator):
    """The paper's multilayer perceptron as a scikit-learn classifier.

    Parameters mirror :class:`cymlp.MLP` and :meth:`cymlp.MLP.train`;
    ``max_iter`` is the number of epochs. Each class gets one output unit
    (one-hot targets, as in the paper). ``loss_curve_`` holds the training
    set's mean squared error after each epoch.
    """

    def __init__(self, hidden_layer_sizes=(64, 32), activation="sigmoid",
                 output_activation="sigmoid", cost="quadratic", init="normal",
                 learning_rate=0.1, batch_size=32, max_iter=200, l2=0.0, momentum=0.0,
                 random_state=None, n_threads=None, verbose=False):
        self.hidden_layer_sizes = hidden_layer_sizes
        self.activation = activation
        self.output_activation = output_activation
        self.cost = cost
        self.init = init
        self.learning_rate = learning_rate
        self.batch_size = batch_size
        self.max_iter = max_iter
        self.l2 = l2
        self.momentum = momentum
        self.random_state = random_state
        self.n_threads = n_threads
        self.verbose = verbose

    def _validate(self, X, y, reset):
        X, y = validate_data(self, X, y, reset=reset, dtype=np.float64, order="C")
        y = column_or_1d(y, warn=True)
        check_classification_targets(y)
        return X, y

    def _new_network(self, n_features):
        sizes = [n_features, *np.atleast_1d(self.hidden_layer_sizes).tolist(), len(self.classes_)]
        seed = int(check_random_state(self.random_state).randint(np.iinfo(np.int32).max))
        self.network_ = MLP(sizes, seed=seed, activation=self.activation,
                            output_activation=self.output_activation, cost=self.cost,
                            init=self.init)
        self.loss_curve_ = []
        self.n_iter_ = 0

    def _epochs(self, X, y, epochs):
        """Train ``epochs`` epochs on (X, y), recording the training MSE after each."""
        labels = np.searchsorted(self.classes_, y)
        batch_size = max(1, min(int(self.batch_size), X.shape[0]))
        history = self.network_.train(
            (X, labels), batch_size=batch_size, learning_rate=self.learning_rate, epochs=epochs,
            test_data=(X, labels), interval=1, verbose=self.verbose, l2=self.l2,
            momentum=self.momentum, n_threads=self.n_threads)
        self.loss_curve_ += [record.mse for record in history]
        self.n_iter_ += len(history)

    def fit(self, X, y):
        """Train a new network for ``max_iter`` epochs."""
        X, y = self._validate(X, y, reset=True)
        self.classes_ = np.unique(y)
        if len(self.classes_) < 2:
            raise ValueError(f"MLPClassifier needs samples of at least 2 classes; got 1 class "
                             f"({self.classes_[0]!r})")
        self._new_network(X.shape[1])
        self._epochs(X, y, self.max_iter)
        return self

    def partial_fit(self, X, y, classes=None):
        """One epoch on (X, y); the first call must name every class in ``classes``."""
        first = not hasattr(self, "network_")
        X, y = self._validate(X, y, reset=first)
        if first:
            if classes is None:
                raise ValueError("classes must be given on the first call to partial_fit")
            self.classes_ = np.unique(column_or_1d(classes))
            if len(self.classes_) < 2:
                raise ValueError("MLPClassifier needs at least 2 classes")
            self._new_network(X.shape[1])
        unknown = np.setdiff1d(y, self.classes_)
        if unknown.size:
            raise ValueError(f"y holds classes {unknown.tolist()} not in classes_ {self.classes_.tolist()}")
        self._epochs(X, y, 1)
        return self

    def _outputs(self, X):
        check_is_fitted(self, "network_")
        X = validate_data(self, X, reset=False, dtype=np.float64, order="C")
        return self.network_.feed_forward(X)  # (a new float64 array: the network is float64)

    def predict_proba(self, X):
        """Output activations normalised to sum to 1 per row (softmax outputs already do)."""
        out = np.clip(self._outputs(X), 0.0, None)
        total = out.sum(axis=1, keepdims=True)
        uniform = np.full_like(out, 1.0 / out.shape[1])
        return np.divide(out, total, out=uniform, where=total > 0)

    def predict(self, X):
        """The class of the largest output unit."""
        outputs = self._outputs(X)  # first: raises NotFittedError before fit
        return self.classes_[np.argmax(outputs, axis=1)]

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.classifier_tags.multi_label = False
        tags.input_tags.allow_nan = False
        return tags
