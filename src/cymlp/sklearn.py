"""Drop-in replacements for scikit-learn's ``MLPClassifier`` and ``MLPRegressor``.

>>> from cymlp.sklearn import MLPClassifier        # was: from sklearn.neural_network import ...
>>> clf = MLPClassifier(hidden_layer_sizes=(64,), solver="adam", early_stopping=True,
...                     random_state=0).fit(X_train, y_train)
>>> clf.score(X_test, y_test)

The constructor parameters, their defaults, the fitted attributes and the
mathematics are scikit-learn's (``sklearn/neural_network/_multilayer_perceptron.py``):
its losses (log-loss with softmax or logistic outputs, squared error / 2),
``alpha`` added to the summed gradient before the mean, its Glorot-uniform
initialisation and per-epoch shuffles drawn from
``check_random_state(random_state)`` in the same order, its optimizers and
learning-rate schedules, its convergence rules and its early-stopping split.
Given the same data, parameters and ``random_state`` the fitted ``coefs_``
equal scikit-learn's up to floating-point rounding, with ``sample_weight`` (as
scikit-learn 1.7 weighs rows) and sparse X (CSR, CSC or COO) too. Differences: only
the stochastic solvers ("sgd", "adam"; "lbfgs" is a ValueError); and cymlp's own
``dtype`` and ``n_threads``.

Needs scikit-learn (``pip install 'cymlp[sklearn]'``).
"""

from __future__ import annotations

import numbers
import warnings
from contextlib import contextmanager

import numpy as np

try:
    from sklearn import neural_network
    from sklearn.base import (
        BaseEstimator,
        ClassifierMixin,
        RegressorMixin,
        _fit_context,
        is_classifier,
    )
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.metrics import accuracy_score, r2_score
    from sklearn.model_selection import train_test_split
    from sklearn.preprocessing import LabelBinarizer
    from sklearn.utils import check_random_state, shuffle
    from sklearn.utils._param_validation import InvalidParameterError
    from sklearn.utils.metaestimators import available_if
    from sklearn.utils.multiclass import (
        _check_partial_fit_first_call,
        type_of_target,
        unique_labels,
    )
    from sklearn.utils.validation import (
        _check_sample_weight,
        check_is_fitted,
        column_or_1d,
        validate_data,
    )
except ImportError:  # pragma: no cover - depends on the environment
    raise ImportError(
        "cymlp.sklearn needs scikit-learn >= 1.6: install it with  pip install 'cymlp[sklearn]'"
    ) from None

from scipy import sparse

from . import _core, _mlp, reference
from ._threads import CPUS, blas_at_one_thread, default_threads, leased_epoch
from ._validation import as_features, check_int, check_sparse_structure, core_rows

# The sparse formats accepted as X, as scikit-learn's MLP estimators accept them.
SPARSE_FORMATS = ["csr", "csc", "coo"]

# scikit-learn's activation names -> cymlp's (hidden layers; outputs add softmax)
ACTIVATION_NAMES = {"identity": "identity", "logistic": "sigmoid", "tanh": "tanh",
                    "relu": "relu", "softmax": "softmax"}
# Floating-point operations of a batch below which one thread is faster than several.
_FLOPS_WORTH_A_THREAD = 1e7


class _Schedule:
    """The step size between epochs, as scikit-learn's SGDOptimizer and AdamOptimizer
    keep it (Adam's bias correction is per step, inside the engine)."""

    def __init__(self, estimator):
        self.kind = estimator.learning_rate if estimator.solver == "sgd" else "constant"
        self.initial = float(estimator.learning_rate_init)
        self.power_t = estimator.power_t
        self.learning_rate = self.initial

    def epoch_ends(self, samples_seen):
        """SGDOptimizer.iteration_ends: invscaling is eta_0 / (t + 1)^power_t."""
        if self.kind == "invscaling":
            self.learning_rate = self.initial / (samples_seen + 1) ** self.power_t

    def should_stop(self, message, verbose):
        """trigger_stopping: adaptive divides the step by 5 (stopping below 1e-6)."""
        if self.kind != "adaptive":
            if verbose:
                print(message + " Stopping.")
            return True
        if self.learning_rate <= 1e-6:
            if verbose:
                print(message + " Learning rate too small. Stopping.")
            return True
        self.learning_rate /= 5.0
        if verbose:
            print(message + " Setting learning rate to %f" % self.learning_rate)
        return False


class _CoreEngine:
    """Epochs on cymlp's compiled core, in place on the estimator's parameters:
    coefs_[l] is (n_in, n_out) Fortran-ordered, so coefs_[l].T is the C-ordered
    (n_out, n_in) weight matrix the core works on. The optimizer's state
    (velocities, Adam's moments and step count) lives in the core's workspace,
    from epoch to epoch, as scikit-learn's lives in its optimizer object; ``kept`` is
    the state() of an earlier engine to go on from (its optimizer, as scikit-learn
    keeps its optimizer object whatever set_params changed since)."""

    def __init__(self, estimator, batch_size, kept=None):
        n_layers = len(estimator.coefs_)
        self.activations = (estimator.activation, estimator.out_activation_)
        kinds = ([_mlp.ACTIVATIONS[ACTIVATION_NAMES[estimator.activation]]] * (n_layers - 1)
                 + [_mlp.ACTIVATIONS[ACTIVATION_NAMES[estimator.out_activation_]]])
        cost = "quadratic" if estimator.out_activation_ == "identity" else "cross_entropy"
        self.settings = dict(kept[0] if kept is not None else self.settings_of(estimator))
        rows = min(batch_size, _core.CHUNK)  # the core runs larger batches in chunks
        self.core = _core.NETWORKS[estimator.coefs_[0].dtype](
            [c.T for c in estimator.coefs_], estimator.intercepts_, kinds, slope=0.0,
            cost=_mlp.COSTS[cost], max_rows=rows, momentum=self.settings["momentum"] > 0,
            adam=self.settings["optimizer"] == "adam")
        if kept is not None and kept[1] is not None:
            self.core.load_optimizer_state(kept[1])
        self.flops_per_row, self.check_every = _mlp._training_work(estimator.coefs_, rows)
        self.n_threads_asked = estimator.n_threads
        if estimator.n_threads is not None:
            self.n_threads = estimator.n_threads
        elif self.flops_per_row * batch_size < _FLOPS_WORTH_A_THREAD:  # small nets: the threads'
            self.n_threads = 1                           # barriers cost more than they share
        else:
            self.n_threads = default_threads(batch_size)
        self.rows = rows
        self.parameters = estimator.coefs_ + estimator.intercepts_

    def fits(self, estimator, batch_size):
        """Whether this engine can go on training the estimator: still on its parameter
        arrays (not set anew by hand, nor converted to another dtype), with its
        activations and n_threads (scikit-learn reads the activation at every pass), with
        room for batches of batch_size rows."""
        parameters = estimator.coefs_ + estimator.intercepts_
        return (self.rows >= min(batch_size, _core.CHUNK)
                and self.activations == (estimator.activation, estimator.out_activation_)
                and self.n_threads_asked == estimator.n_threads
                and len(parameters) == len(self.parameters)
                and all(a is b for a, b in zip(parameters, self.parameters)))

    @contextmanager
    def running(self):
        """Around a fit's epochs: the core shares each batch among its own threads, so
        BLAS stays at one, and the process's CPUs are shared with its other trainings."""
        with blas_at_one_thread(), CPUS.training():
            yield

    @staticmethod
    def settings_of(estimator):
        """The optimizer's settings (train_epoch's keywords) as the estimator's parameters
        say now."""
        momentum = estimator.momentum if estimator.solver == "sgd" else 0.0
        if estimator.solver == "adam":
            optimizer = "adam"
        else:
            optimizer = "nesterov" if estimator.nesterovs_momentum and momentum > 0 else "sgd"
        return dict(optimizer=optimizer, momentum=momentum, beta_1=estimator.beta_1,
                    beta_2=estimator.beta_2, epsilon=estimator.epsilon)

    def state(self):
        """What a rebuilt engine goes on from: the optimizer's settings and state."""
        return dict(self.settings), self.core.optimizer_state()

    def epoch(self, X, Y, order, batch_size, learning_rate, alpha, sample_weight=None):
        """One epoch (inside running()); returns (mean cost, mean L2 penalty) per example.
        (alpha, as scikit-learn reads it, is the estimator's at each call.)"""
        cost, penalty = leased_epoch(
            self.core, X, batch_size, self.n_threads, self.flops_per_row, labels=None,
            order=order, learning_rate=learning_rate, targets=Y, check_every=self.check_every,
            alpha=alpha, sample_weight=sample_weight, **self.settings)
        return cost / X.shape[0], penalty / X.shape[0]


class _BaseMLP(BaseEstimator):
    """What MLPClassifier and MLPRegressor share: scikit-learn's _fit_stochastic."""

    def _check_parameters(self):
        """The hidden layers' sizes, once the parameters are checked: by scikit-learn's
        own constraints (its InvalidParameterError, a ValueError and a TypeError, and
        its messages; again at each partial_fit, where scikit-learn checks only the
        first), then what cymlp adds or leaves out."""
        self._validate_params()
        sizes = self.hidden_layer_sizes
        sizes = list(sizes) if hasattr(sizes, "__iter__") else [sizes]
        if np.any(np.array(sizes) <= 0):
            raise ValueError("hidden_layer_sizes must be > 0, got %s." % sizes)
        for size in sizes:
            if isinstance(size, (bool, np.bool_)) or not isinstance(size, numbers.Integral):
                raise InvalidParameterError(
                    f"hidden_layer_sizes must hold integers, got {self.hidden_layer_sizes!r}")
        if self.solver == "lbfgs":
            raise InvalidParameterError(
                "solver='lbfgs' is not supported by cymlp: use solver='adam' (scikit-learn's "
                "default) or 'sgd', or scikit-learn's own estimator for L-BFGS"
            )
        try:
            dtype = None if self.dtype is None else np.dtype(self.dtype)
        except TypeError:
            dtype = self.dtype
        if dtype not in (None, np.float64, np.float32):
            raise InvalidParameterError(
                f"dtype must be None, float64 or float32, got {self.dtype!r}")
        if self.n_threads is not None:
            try:
                check_int("n_threads", self.n_threads, minimum=1)
            except (TypeError, ValueError) as error:
                raise InvalidParameterError(f"The 'n_threads' parameter must be None or an "
                                            f"integer >= 1, got {self.n_threads!r}") from error
        return sizes

    def _float_dtype(self, X_dtype=None):
        if self.dtype is not None:
            return np.dtype(self.dtype)
        return X_dtype if X_dtype in (np.float32, np.float64) else np.dtype(np.float64)

    def _validate_X(self, X, reset):
        dtype = (np.float64, np.float32) if self.dtype is None else np.dtype(self.dtype)
        check_sparse_structure("X", X)   # (before scikit-learn converts or multiplies by it)
        return validate_data(self, X, reset=reset, dtype=dtype, order="C",
                             accept_sparse=SPARSE_FORMATS)

    def _initialize(self, y, layer_units, dtype):
        """scikit-learn's _initialize: Glorot-uniform weights and biases, layer by layer,
        from self._random_state (bound sqrt(6 / (fan_in + fan_out)), 2 instead of 6
        for logistic units)."""
        self.n_iter_ = 0
        self.t_ = 0
        self.n_outputs_ = y.shape[1]
        self.n_layers_ = len(layer_units)
        if not is_classifier(self):
            self.out_activation_ = "identity"
        elif self._label_binarizer.y_type_ == "multiclass":
            self.out_activation_ = "softmax"
        else:
            self.out_activation_ = "logistic"
        factor = 2.0 if self.activation == "logistic" else 6.0
        self.coefs_, self.intercepts_ = [], []
        for fan_in, fan_out in zip(layer_units[:-1], layer_units[1:]):
            bound = np.sqrt(factor / (fan_in + fan_out))
            coef = self._random_state.uniform(-bound, bound, (fan_in, fan_out))
            intercept = self._random_state.uniform(-bound, bound, fan_out)
            self.coefs_.append(np.asfortranarray(coef, dtype=dtype))
            self.intercepts_.append(np.ascontiguousarray(intercept, dtype=dtype))
        self._best_coefs = [c.copy(order="F") for c in self.coefs_]
        self._best_intercepts = [b.copy() for b in self.intercepts_]
        self.loss_curve_ = []
        self._no_improvement_count = 0
        if self.early_stopping:
            self.validation_scores_ = []
            self.best_validation_score_ = -np.inf
            self.best_loss_ = None
        else:
            self.best_loss_ = np.inf
            self.validation_scores_ = None
            self.best_validation_score_ = None

    def _own_parameters(self, dtype):
        """coefs_ Fortran-ordered and intercepts_ contiguous, of dtype (they may have been
        set by hand); the engine works on them in place. Best parameters that are the same
        arrays (after early stopping) stay the same arrays as the converted ones."""
        converted = {}

        def own(array, convert):
            converted[id(array)] = convert(array, dtype=dtype)
            return converted[id(array)]

        self.coefs_ = [own(c, np.asfortranarray) for c in self.coefs_]
        self.intercepts_ = [own(b, np.ascontiguousarray) for b in self.intercepts_]
        if hasattr(self, "_best_coefs"):
            self._best_coefs = [converted.get(id(c), c) for c in self._best_coefs]
            self._best_intercepts = [converted.get(id(b), b) for b in self._best_intercepts]

    def _fit(self, X, y, sample_weight=None, incremental=False):
        hidden = self._check_parameters()
        first_pass = not hasattr(self, "coefs_") or (not self.warm_start and not incremental)
        X, y = self._validate_input(X, y, incremental, reset=first_pass)
        if (not first_pass and self.dtype is None
                and self.coefs_[0].dtype in (np.float32, np.float64)):
            # scikit-learn's parameters keep their dtype: a float64 network multiplies a
            # float32 X as float64 (exactly as X converted), and a float32 one rounds its
            # float64 updates to float32 (here X is, before training)
            X = X.astype(self.coefs_[0].dtype, copy=False)
        n_samples, n_features = X.shape
        if sample_weight is not None:
            sample_weight = _check_sample_weight(sample_weight, X, dtype=X.dtype)
        if y.ndim == 1:
            y = y.reshape((-1, 1))
        self.n_outputs_ = y.shape[1]
        layer_units = [n_features, *hidden, self.n_outputs_]
        self._random_state = check_random_state(self.random_state)
        if first_pass:
            self._initialize(y, layer_units, X.dtype)
        self._own_parameters(X.dtype)
        self._fit_stochastic(X, y, sample_weight, incremental)
        if not all(np.isfinite(p).all() for p in self.coefs_ + self.intercepts_):
            raise ValueError(
                "Solver produced non-finite parameter weights. The input data may"
                " contain large values and need to be preprocessed."
            )
        return self

    def _fit_stochastic(self, X, y, sample_weight, incremental):
        if not incremental:   # a new optimizer, before anything below can fail
            self._new_optimizer()
        if self.early_stopping and incremental:
            raise ValueError("partial_fit does not support early_stopping=True")
        early_stopping = self.early_stopping
        weight_val = None
        if early_stopping:
            stratify = y if is_classifier(self) and self.n_outputs_ == 1 else None
            weighted = () if sample_weight is None else (sample_weight,)
            X, X_val, y, y_val, *weight_parts = train_test_split(
                X, y, *weighted, random_state=self._random_state,
                test_size=self.validation_fraction, stratify=stratify)
            if weight_parts:
                sample_weight, weight_val = weight_parts
            if X_val.shape[0] < 2:
                raise ValueError(
                    "The validation set is too small. Increase 'validation_fraction' "
                    "or the size of your dataset."
                )
            if is_classifier(self):
                y_val = self._label_binarizer.inverse_transform(y_val)
        else:
            X_val = y_val = None
        y = np.ascontiguousarray(y, dtype=X.dtype)
        if sample_weight is not None:
            sample_weight = np.ascontiguousarray(sample_weight)
        # the rows as the core reads them: a C-ordered array, or sorted CSR without zeros
        X = (core_rows(as_features("X", X, X.shape[1], X.dtype, allow_sparse=True))
             if sparse.issparse(X) else np.ascontiguousarray(X))
        n_samples = X.shape[0]
        if self.batch_size == "auto":
            batch_size = min(200, n_samples)
        else:
            if self.batch_size > n_samples:
                warnings.warn("Got `batch_size` less than 1 or larger than "
                              "sample size. It is going to be clipped")
            batch_size = int(np.clip(self.batch_size, 1, n_samples))
        self._prepare_engine(batch_size, incremental)
        sample_idx = np.arange(n_samples, dtype=int)
        with self._engine.running():
            self._run_epochs(X, y, sample_weight, (X_val, y_val, weight_val), sample_idx,
                             batch_size, incremental)
        if early_stopping:  # in place: the engine keeps working on these arrays
            for mine, best in zip(self.coefs_ + self.intercepts_,
                                  self._best_coefs + self._best_intercepts):
                mine[...] = best
            # scikit-learn's restore makes the best parameters the same arrays as coefs_
            # and intercepts_, so a later warm_start fit trains them too, until its first
            # improvement copies them: the same here
            self._best_coefs, self._best_intercepts = self.coefs_, self.intercepts_

    def _prepare_engine(self, batch_size, incremental):
        """scikit-learn starts a new optimizer for every fit and keeps it (velocities,
        Adam's moments and steps, the step size) between partial_fit calls, in pickles
        too. A kept engine that no longer fits (a larger batch, parameters set by hand
        or of another dtype) is rebuilt with its optimizer's state."""
        if incremental and not hasattr(self, "_schedule"):   # the first partial_fit
            self._new_optimizer()
        engine = getattr(self, "_engine", None)
        if engine is None or not engine.fits(self, batch_size):
            kept = engine.state() if engine is not None else self.__dict__.get("_optimizer_state")
            # (partial_fit's batches may grow from call to call: room for the largest)
            self._engine = _CoreEngine(self, _core.CHUNK if incremental else batch_size, kept)
            self.__dict__.pop("_optimizer_state", None)   # (once built: nothing lost if not)

    def _new_optimizer(self):
        """scikit-learn's new optimizer object: its settings as the parameters are now, no
        state yet (the engine that carries them is built when the batch size is known)."""
        self.__dict__.pop("_engine", None)
        self._schedule = _Schedule(self)
        self._optimizer_state = (_CoreEngine.settings_of(self), None)

    def _run_epochs(self, X, y, sample_weight, validation, sample_idx, batch_size, incremental):
        """scikit-learn's epoch loop: shuffle, train, record, check convergence
        (validation: early stopping's (X, y, sample weights), or Nones)."""
        early_stopping, n_samples = self.early_stopping, X.shape[0]
        try:
            self.n_iter_ = 0
            for _ in range(self.max_iter):
                if self.shuffle:
                    sample_idx = shuffle(sample_idx, random_state=self._random_state)
                    order = sample_idx.astype(np.intp)
                else:
                    order = None
                cost, penalty = self._engine.epoch(X, y, order, batch_size,
                                                   self._schedule.learning_rate, self.alpha,
                                                   sample_weight)
                if self.out_activation_ == "identity":  # scikit-learn's mean over the outputs
                    cost /= self.n_outputs_
                self.n_iter_ += 1
                self.loss_ = np.float64(cost + penalty)   # scikit-learn's type
                self.t_ += n_samples
                self.loss_curve_.append(self.loss_)
                if self.verbose:
                    print("Iteration %d, loss = %.8f" % (self.n_iter_, self.loss_))
                self._update_no_improvement_count(early_stopping, *validation)
                self._schedule.epoch_ends(self.t_)
                if self._no_improvement_count > self.n_iter_no_change:
                    if early_stopping:
                        message = ("Validation score did not improve more than "
                                   "tol=%f for %d consecutive epochs."
                                   % (self.tol, self.n_iter_no_change))
                    else:
                        message = ("Training loss did not improve more than tol=%f"
                                   " for %d consecutive epochs."
                                   % (self.tol, self.n_iter_no_change))
                    if self._schedule.should_stop(message, self.verbose):
                        break
                    self._no_improvement_count = 0
                if incremental:
                    break
                if self.n_iter_ == self.max_iter:
                    warnings.warn(
                        "Stochastic Optimizer: Maximum iterations (%d) "
                        "reached and the optimization hasn't converged yet." % self.max_iter,
                        ConvergenceWarning,
                    )
        except KeyboardInterrupt:
            warnings.warn("Training interrupted by user.")

    def _update_no_improvement_count(self, early_stopping, X_val, y_val, sample_weight):
        if early_stopping:
            score = self._score(X_val, y_val, sample_weight)
            self.validation_scores_.append(score)
            if self.verbose:
                print("Validation score: %f" % self.validation_scores_[-1])
            if score < self.best_validation_score_ + self.tol:
                self._no_improvement_count += 1
            else:
                self._no_improvement_count = 0
            if score > self.best_validation_score_:
                self.best_validation_score_ = score
                self._best_coefs = [c.copy(order="F") for c in self.coefs_]
                self._best_intercepts = [b.copy() for b in self.intercepts_]
        else:
            if self.loss_curve_[-1] > self.best_loss_ - self.tol:
                self._no_improvement_count += 1
            else:
                self._no_improvement_count = 0
            if self.loss_curve_[-1] < self.best_loss_:
                self.best_loss_ = self.loss_curve_[-1]

    def _forward(self, X, check_input=True):
        """The network's outputs for X (n, n_features), as scikit-learn's _forward_pass_fast."""
        if check_input:
            check_is_fitted(self)
            X = self._validate_X(X, reset=False)
        hidden = reference.activation(ACTIVATION_NAMES[self.activation])[0]
        out = reference.activation(ACTIVATION_NAMES[self.out_activation_])[0]
        A = X
        last = len(self.coefs_) - 1
        for l, (W, b) in enumerate(zip(self.coefs_, self.intercepts_)):
            A = A @ W
            A += b
            A = (out if l == last else hidden)(A, out=A)
        return A

    def _score_with_function(self, X, y, sample_weight, score_function):
        y_pred = self._predict(X, check_input=False)
        if np.issubdtype(y_pred.dtype, np.floating) and not np.isfinite(y_pred).all():
            return np.nan
        return score_function(y, y_pred, sample_weight=sample_weight)

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y, sample_weight=None):
        """Fit the model to data matrix X and targets y (scikit-learn's _fit_stochastic).
        X is an array-like or a scipy.sparse matrix (csr, csc or coo) of shape
        (n_samples, n_features); ``sample_weight`` (n_samples,) weighs each row's loss
        and gradient, as scikit-learn's does.

        Returns the fitted estimator.
        """
        return self._fit(X, y, sample_weight, incremental=False)

    def to_sklearn(self):
        """A fitted scikit-learn estimator of the same class, with copies of this one's
        parameters, fitted attributes and optimizer: it predicts the same (to rounding),
        goes on training as this one would (partial_fit, warm_start), and takes
        scikit-learn's ecosystem (skops, skl2onnx, ...)."""
        check_is_fitted(self)
        params = {k: v for k, v in self.get_params().items() if k not in ("dtype", "n_threads")}
        model = getattr(neural_network, type(self).__name__)(**params)
        for name in ("n_iter_", "t_", "n_outputs_", "n_layers_", "out_activation_", "loss_",
                     "loss_curve_", "best_loss_", "validation_scores_", "best_validation_score_",
                     "n_features_in_", "feature_names_in_", "classes_", "_label_binarizer",
                     "_no_improvement_count"):
            if hasattr(self, name):
                value = getattr(self, name)
                setattr(model, name, list(value) if isinstance(value, list) else value)
        copies = {}   # C-ordered copies, shared where this estimator shares an array

        def copied(arrays):
            for a in arrays:
                if id(a) not in copies:
                    copies[id(a)] = np.array(a, order="C")
            return [copies[id(a)] for a in arrays]

        model.coefs_, model.intercepts_ = copied(self.coefs_), copied(self.intercepts_)
        if hasattr(self, "_best_coefs"):
            model._best_coefs = copied(self._best_coefs)
            model._best_intercepts = copied(self._best_intercepts)
        optimizer = self._sklearn_optimizer(model.coefs_ + model.intercepts_)
        if optimizer is not None:
            model._optimizer = optimizer
        return model

    def _sklearn_optimizer(self, params):
        """scikit-learn's optimizer object (SGDOptimizer or AdamOptimizer) for params, in
        the state this estimator's optimizer is in (None before any training)."""
        from sklearn.neural_network._stochastic_optimizers import AdamOptimizer, SGDOptimizer

        engine = self.__dict__.get("_engine")
        settings, state = (engine.state() if engine is not None
                           else self.__dict__.get("_optimizer_state", (None, None)))
        schedule = self.__dict__.get("_schedule")
        if settings is None or schedule is None:
            return None
        n_layers = len(self.coefs_)
        steps, moments = state if state is not None else (0, [[None] * 4] * n_layers)

        def moment(k):   # the layers' moments k (weights) and k + 1 (biases), as params
            kept = [layer[k] for layer in moments] + [layer[k + 1] for layer in moments]
            return [np.zeros_like(p) if m is None else np.array(m.T, order="C", dtype=p.dtype)
                    for p, m in zip(params, kept)]

        shapes = [(W.shape, b.shape) * 2 for W, b in zip(params[:n_layers], params[n_layers:])]
        if len(moments) != n_layers or any(
                m is not None and m.T.shape != shape
                for layer, layer_shapes in zip(moments, shapes) for m, shape in zip(layer, layer_shapes)):
            return None   # (coefs_ of other shapes set by hand: scikit-learn starts a new one)

        if settings["optimizer"] == "adam":
            optimizer = AdamOptimizer(params, schedule.initial, settings["beta_1"],
                                      settings["beta_2"], settings["epsilon"])
            optimizer.t, optimizer.ms, optimizer.vs = steps, moment(0), moment(2)
            if steps:
                optimizer.learning_rate = (schedule.initial * np.sqrt(1 - settings["beta_2"] ** steps)
                                           / (1 - settings["beta_1"] ** steps))
        else:
            optimizer = SGDOptimizer(params, schedule.initial, schedule.kind,
                                     settings["momentum"], settings["optimizer"] == "nesterov",
                                     schedule.power_t)
            optimizer.learning_rate = schedule.learning_rate
            optimizer.velocities = moment(0)
        return optimizer

    def to_torch(self):
        """The fitted network as a ``torch.nn.Sequential`` (needs PyTorch), computing
        what predict_proba (classifier, before the binary case's [1 - p, p]) or predict
        (regressor) computes: Linear l holds coefs_[l].T and intercepts_[l]."""
        from ._export import torch_sequential

        check_is_fitted(self)
        kinds = ([ACTIVATION_NAMES[self.activation]] * (len(self.coefs_) - 1)
                 + [ACTIVATION_NAMES[self.out_activation_]])
        return torch_sequential([c.T for c in self.coefs_], self.intercepts_, kinds)

    def __getstate__(self):
        state = dict(super().__getstate__())   # (not this estimator's own __dict__)
        engine = state.pop("_engine", None)  # (the core is rebuilt on the next partial_fit)
        if engine is not None:
            state["_optimizer_state"] = engine.state()
        return state

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = False
        tags.input_tags.sparse = True
        return tags


_DOC_PARAMETERS = """
    Parameters
    ----------
    hidden_layer_sizes, activation, solver, alpha, batch_size, learning_rate,
    learning_rate_init, power_t, max_iter, shuffle, random_state, tol, verbose,
    warm_start, momentum, nesterovs_momentum, early_stopping, validation_fraction,
    beta_1, beta_2, epsilon, n_iter_no_change, max_fun
        As in scikit-learn, with the same defaults. ``solver`` is "adam" or
        "sgd" ("lbfgs" raises a ValueError); ``max_fun`` only concerns L-BFGS.
    dtype : None, np.float64 or np.float32
        Precision of the parameters and of the training (None: X's float
        dtype, float64 for any other, as scikit-learn).
    n_threads : int, optional
        Threads sharing each batch in cymlp's compiled core (the result does not
        depend on it). None: cymlp's default.

    Attributes
    ----------
    coefs_, intercepts_, n_iter_, t_, loss_, loss_curve_, best_loss_,
    validation_scores_, best_validation_score_, n_features_in_,
    feature_names_in_, n_layers_, n_outputs_, out_activation_
        As in scikit-learn; ``coefs_[l]`` has shape (n_in, n_out).
"""


class MLPClassifier(ClassifierMixin, _BaseMLP):
    """scikit-learn's MLPClassifier on cymlp: log-loss, softmax outputs (multiclass)
    or logistic outputs (binary, multilabel).
    """ + _DOC_PARAMETERS + """    classes_ : ndarray
        The class labels (one array per output in the multilabel case: see scikit-learn).
    """

    def __init__(self, hidden_layer_sizes=(100,), activation="relu", *, solver="adam",
                 alpha=0.0001, batch_size="auto", learning_rate="constant",
                 learning_rate_init=0.001, power_t=0.5, max_iter=200, shuffle=True,
                 random_state=None, tol=1e-4, verbose=False, warm_start=False, momentum=0.9,
                 nesterovs_momentum=True, early_stopping=False, validation_fraction=0.1,
                 beta_1=0.9, beta_2=0.999, epsilon=1e-8, n_iter_no_change=10, max_fun=15000,
                 dtype=None, n_threads=None):
        self.hidden_layer_sizes = hidden_layer_sizes
        self.activation = activation
        self.solver = solver
        self.alpha = alpha
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.learning_rate_init = learning_rate_init
        self.power_t = power_t
        self.max_iter = max_iter
        self.shuffle = shuffle
        self.random_state = random_state
        self.tol = tol
        self.verbose = verbose
        self.warm_start = warm_start
        self.momentum = momentum
        self.nesterovs_momentum = nesterovs_momentum
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.beta_1 = beta_1
        self.beta_2 = beta_2
        self.epsilon = epsilon
        self.n_iter_no_change = n_iter_no_change
        self.max_fun = max_fun
        self.dtype = dtype
        self.n_threads = n_threads

    def _validate_input(self, X, y, incremental, reset):
        dtype = (np.float64, np.float32) if self.dtype is None else np.dtype(self.dtype)
        check_sparse_structure("X", X)
        X, y = validate_data(self, X, y, multi_output=True, dtype=dtype, order="C", reset=reset,
                             accept_sparse=SPARSE_FORMATS)
        if y.ndim == 2 and y.shape[1] == 1:
            y = column_or_1d(y, warn=True)
        if not hasattr(self, "classes_") or (not self.warm_start and not incremental):
            self._label_binarizer = LabelBinarizer()
            self._label_binarizer.fit(y)
            self.classes_ = self._label_binarizer.classes_
        else:
            classes = unique_labels(y)
            if self.warm_start:
                if set(classes) != set(self.classes_):
                    raise ValueError(
                        "warm_start can only be used where `y` has the same "
                        "classes as in the previous call to fit. Previously "
                        f"got {self.classes_}, `y` has {classes}"
                    )
            elif len(np.setdiff1d(classes, self.classes_, assume_unique=True)):
                raise ValueError(
                    "`y` has classes not in `self.classes_`. "
                    f"`self.classes_` has {self.classes_}. 'y' has {classes}."
                )
        y = self._label_binarizer.transform(y).astype(bool)
        return X, y

    _parameter_constraints = {**neural_network.MLPClassifier._parameter_constraints,
                              "dtype": "no_validation", "n_threads": "no_validation"}

    def _check_solver(self):
        """scikit-learn's: partial_fit is there for the stochastic solvers only."""
        if self.solver not in ("sgd", "adam"):
            raise AttributeError(
                "partial_fit is only available for stochastic"
                " optimizers. %s is not stochastic." % self.solver
            )
        return True

    @available_if(lambda est: est._check_solver())
    @_fit_context(prefer_skip_nested_validation=True)
    def partial_fit(self, X, y, sample_weight=None, classes=None):
        """One epoch over (X, y) (rows weighed by ``sample_weight``, if given); the
        first call must list every class in ``classes``."""
        if _check_partial_fit_first_call(self, classes):
            self._label_binarizer = LabelBinarizer()
            if type_of_target(y).startswith("multilabel"):
                self._label_binarizer.fit(y)
            else:
                self._label_binarizer.fit(classes)
        return self._fit(X, y, sample_weight, incremental=True)

    def predict(self, X):
        """Class labels for the rows of X."""
        check_is_fitted(self)
        return self._predict(X)

    def _predict(self, X, check_input=True):
        y_pred = self._forward(X, check_input=check_input)
        if self.n_outputs_ == 1:
            y_pred = y_pred.ravel()
        return self._label_binarizer.inverse_transform(y_pred)

    def _score(self, X, y, sample_weight=None):
        return self._score_with_function(X, y, sample_weight, accuracy_score)

    def predict_proba(self, X):
        """Probability of each class (n, n_classes); the binary case as [1 - p, p]."""
        check_is_fitted(self)
        y_pred = self._forward(X)
        if self.n_outputs_ == 1:
            y_pred = y_pred.ravel()
        if y_pred.ndim == 1:
            return np.vstack([1 - y_pred, y_pred]).T
        return y_pred

    def predict_log_proba(self, X):
        """log of predict_proba."""
        y_prob = self.predict_proba(X)
        return np.log(y_prob, out=y_prob)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.classifier_tags.multi_label = True
        return tags


class MLPRegressor(RegressorMixin, _BaseMLP):
    """scikit-learn's MLPRegressor on cymlp: identity outputs, squared error / 2.
    """ + _DOC_PARAMETERS + """    loss : "squared_error"
        The only loss ("poisson" raises a ValueError).
    """

    def __init__(self, loss="squared_error", hidden_layer_sizes=(100,), activation="relu", *,
                 solver="adam", alpha=0.0001, batch_size="auto", learning_rate="constant",
                 learning_rate_init=0.001, power_t=0.5, max_iter=200, shuffle=True,
                 random_state=None, tol=1e-4, verbose=False, warm_start=False, momentum=0.9,
                 nesterovs_momentum=True, early_stopping=False, validation_fraction=0.1,
                 beta_1=0.9, beta_2=0.999, epsilon=1e-8, n_iter_no_change=10, max_fun=15000,
                 dtype=None, n_threads=None):
        self.loss = loss
        self.hidden_layer_sizes = hidden_layer_sizes
        self.activation = activation
        self.solver = solver
        self.alpha = alpha
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.learning_rate_init = learning_rate_init
        self.power_t = power_t
        self.max_iter = max_iter
        self.shuffle = shuffle
        self.random_state = random_state
        self.tol = tol
        self.verbose = verbose
        self.warm_start = warm_start
        self.momentum = momentum
        self.nesterovs_momentum = nesterovs_momentum
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.beta_1 = beta_1
        self.beta_2 = beta_2
        self.epsilon = epsilon
        self.n_iter_no_change = n_iter_no_change
        self.max_fun = max_fun
        self.dtype = dtype
        self.n_threads = n_threads

    def _check_parameters(self):
        sizes = super()._check_parameters()
        if self.loss != "squared_error":
            raise InvalidParameterError(
                f"loss={self.loss!r} is not supported by cymlp: its one loss is "
                "'squared_error' (use scikit-learn's own estimator for 'poisson')")
        return sizes

    def _validate_input(self, X, y, incremental, reset):
        dtype = (np.float64, np.float32) if self.dtype is None else np.dtype(self.dtype)
        check_sparse_structure("X", X)
        X, y = validate_data(self, X, y, multi_output=True, y_numeric=True, dtype=dtype,
                             order="C", reset=reset, accept_sparse=SPARSE_FORMATS)
        if y.dtype.kind not in "biuf":   # (y_numeric converts object arrays, not strings)
            raise ValueError(f"y must hold numbers for a regressor, got dtype {y.dtype}")
        if y.ndim == 2 and y.shape[1] == 1:
            y = column_or_1d(y, warn=True)
        return X, y

    _parameter_constraints = {**neural_network.MLPRegressor._parameter_constraints,
                              "dtype": "no_validation", "n_threads": "no_validation"}

    @_fit_context(prefer_skip_nested_validation=True)   # (scikit-learn's regressor keeps
    def partial_fit(self, X, y, sample_weight=None):   # partial_fit for any solver)
        """One epoch over (X, y) (rows weighed by ``sample_weight``, if given),
        continuing from the current parameters."""
        return self._fit(X, y, sample_weight, incremental=True)

    def predict(self, X):
        """Predicted values, (n,) for one output or (n, n_outputs)."""
        check_is_fitted(self)
        return self._predict(X)

    def _predict(self, X, check_input=True):
        y_pred = self._forward(X, check_input=check_input)
        return y_pred.ravel() if y_pred.shape[1] == 1 else y_pred

    def _score(self, X, y, sample_weight=None):
        return self._score_with_function(X, y, sample_weight, r2_score)
