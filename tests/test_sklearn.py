"""cymlp.sklearn against scikit-learn itself: the same coefs_, attributes and behaviour."""

import copy
import pickle
import unittest
import warnings

import numpy as np
import pytest
import scipy.sparse as sp

pytest.importorskip("sklearn", reason="the [sklearn] extra is not installed")  # CI installs it

from sklearn import neural_network as sk  # noqa: E402
from sklearn.datasets import make_classification, make_regression  # noqa: E402
from sklearn.exceptions import ConvergenceWarning  # noqa: E402
from sklearn.model_selection import GridSearchCV, cross_val_score  # noqa: E402
from sklearn.pipeline import make_pipeline  # noqa: E402
from sklearn.preprocessing import MinMaxScaler  # noqa: E402
from sklearn.utils._param_validation import InvalidParameterError  # noqa: E402
from sklearn.utils.estimator_checks import parametrize_with_checks  # noqa: E402

from cymlp import sklearn as cy  # noqa: E402
from cymlp.sklearn import MLPClassifier, MLPRegressor  # noqa: E402


@parametrize_with_checks([MLPClassifier(max_iter=100, random_state=0),
                          MLPRegressor(max_iter=100, random_state=0)])
def test_scikit_learn_conformance(estimator, check):
    try:
        check(estimator)
    except unittest.SkipTest as skip:
        if "SCIPY_ARRAY_API" in str(skip):  # a real skip: .ci/run sets it, the wheel tests do not
            raise
        # a check of a method neither scikit-learn's MLPClassifier nor ours has is not a skip
        # of something CI could run; any other skip fails
        assert "does not have a decision_function method" in str(skip), skip
        assert not hasattr(estimator, "decision_function")


def _data():
    X3, y3 = make_classification(240, 12, n_informative=6, n_classes=3, random_state=0)
    X2, y2 = make_classification(240, 12, random_state=1)
    Xr, Yr = make_regression(240, 12, n_targets=2, noise=0.1, random_state=0)
    multilabel = np.c_[y2, (X2[:, 0] > 0).astype(int), (X2[:, 1] > 0.5).astype(int)]
    return {"multiclass": (X3, y3), "binary": (X2, y2), "multilabel": (X2, multilabel),
            "regression": (Xr / 10, Yr[:, 0] / 100), "multi-output": (Xr / 10, Yr / 100)}


DATA = _data()

# (name, estimator kind, data, parameters beyond the shared ones)
CASES = [
    ("adam multiclass", "Classifier", "multiclass", {}),
    ("adam binary logistic", "Classifier", "binary", dict(activation="logistic")),
    ("adam multilabel", "Classifier", "multilabel", dict(activation="tanh")),
    ("sgd nesterov multiclass", "Classifier", "multiclass",
     dict(solver="sgd", learning_rate_init=0.05)),
    ("sgd classical momentum binary", "Classifier", "binary",
     dict(solver="sgd", nesterovs_momentum=False, learning_rate_init=0.05)),
    ("sgd no momentum, no alpha", "Classifier", "multiclass",
     dict(solver="sgd", momentum=0.0, alpha=0.0, learning_rate_init=0.1)),
    ("sgd invscaling", "Classifier", "multiclass",
     dict(solver="sgd", learning_rate="invscaling", learning_rate_init=0.5, activation="tanh")),
    ("sgd adaptive", "Classifier", "multiclass",
     dict(solver="sgd", learning_rate="adaptive", momentum=0.0, tol=1e-2, n_iter_no_change=2)),
    ("adam early stopping binary", "Classifier", "binary", dict(early_stopping=True)),
    ("sgd early stopping multiclass", "Classifier", "multiclass",
     dict(solver="sgd", early_stopping=True, validation_fraction=0.2, learning_rate_init=0.05)),
    ("no shuffle, batch 17", "Classifier", "multiclass", dict(shuffle=False, batch_size=17)),
    ("adam regression", "Regressor", "regression", dict(activation="tanh")),
    ("adam multi-output regression", "Regressor", "multi-output", dict(alpha=0.01)),
    ("sgd nesterov regression, identity", "Regressor", "regression",
     dict(solver="sgd", activation="identity", learning_rate_init=0.01)),
    ("sgd early stopping regression", "Regressor", "regression",
     dict(solver="sgd", early_stopping=True, learning_rate_init=0.01)),
]


def _fit_both(kind, data, params):
    X, y = DATA[data]
    params = dict(hidden_layer_sizes=(15, 7), random_state=0, max_iter=40, batch_size=32) | params
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        theirs = getattr(sk, "MLP" + kind)(**params).fit(X, y)
        ours = getattr(cy, "MLP" + kind)(**params).fit(X, y)
    return X, theirs, ours


def _largest_difference(a, b):
    return max(np.max(np.abs(p - q)) for p, q in zip(a.coefs_ + a.intercepts_,
                                                     b.coefs_ + b.intercepts_))


def _parameters(estimator):
    """Copies of the estimator's coefs_ and intercepts_."""
    return [p.copy() for p in estimator.coefs_ + estimator.intercepts_]


@pytest.mark.parametrize("name, kind, data, params", CASES, ids=[c[0] for c in CASES])
def test_same_coefs_as_scikit_learn(name, kind, data, params):
    X, theirs, ours = _fit_both(kind, data, params)
    difference = _largest_difference(theirs, ours)
    print(f"{name}: largest coefs_/intercepts_ difference {difference:.2e} "
          f"after {ours.n_iter_} epochs")
    assert difference < 1e-10
    assert ours.n_iter_ == theirs.n_iter_ and ours.t_ == theirs.t_
    np.testing.assert_allclose(ours.loss_curve_, theirs.loss_curve_, rtol=1e-10)
    assert type(ours.loss_) is type(theirs.loss_)
    assert [type(v) for v in ours.loss_curve_] == [type(v) for v in theirs.loss_curve_]
    for attribute in ("n_layers_", "n_outputs_", "out_activation_", "n_features_in_",
                      "validation_scores_", "best_validation_score_", "best_loss_"):
        want = getattr(theirs, attribute)
        assert getattr(ours, attribute) == (want if want is None or isinstance(want, str)
                                            else pytest.approx(want, rel=1e-10))
    if kind == "Classifier":
        np.testing.assert_array_equal(ours.classes_, theirs.classes_)
        np.testing.assert_array_equal(ours.predict(X), theirs.predict(X))
        np.testing.assert_allclose(ours.predict_proba(X), theirs.predict_proba(X), atol=1e-10)
        np.testing.assert_allclose(ours.predict_log_proba(X), theirs.predict_log_proba(X),
                                   atol=1e-8)
    else:
        np.testing.assert_allclose(ours.predict(X), theirs.predict(X), atol=1e-10)
    assert ours.score(X, theirs.predict(X) if kind == "Classifier" else theirs.predict(X)) \
        == pytest.approx(1.0)


def test_partial_fit_and_warm_start_as_scikit_learn():
    X, y = DATA["multiclass"]
    batches = [(X[:100], y[:100]), (X[100:], y[100:]), (X[:100], y[:100])]
    params = dict(hidden_layer_sizes=(10,), solver="sgd", random_state=3, batch_size=20,
                  learning_rate_init=0.05)
    theirs, ours = sk.MLPClassifier(**params), MLPClassifier(**params)
    for Xb, yb in batches:  # the optimizer's velocities carry over from call to call
        theirs.partial_fit(Xb, yb, classes=[0, 1, 2])
        ours.partial_fit(Xb, yb, classes=[0, 1, 2])
    assert _largest_difference(theirs, ours) < 1e-12 and ours.n_iter_ == 1
    assert ours.t_ == theirs.t_ == 340
    with pytest.raises(ValueError, match="classes not in"):
        ours.partial_fit(X[:5], np.array([0, 1, 2, 7, 7]))

    params = dict(hidden_layer_sizes=(10,), random_state=1, max_iter=5, warm_start=True)
    theirs, ours = sk.MLPRegressor(**params), MLPRegressor(**params)
    Xr, yr = DATA["regression"]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        for _ in range(3):  # each fit goes on from the last one's weights, with a new optimizer
            theirs.fit(Xr, yr)
            ours.fit(Xr, yr)
    assert _largest_difference(theirs, ours) < 1e-12 and len(ours.loss_curve_) == 15


@pytest.mark.parametrize("kind, data, params", [
    ("Classifier", "multiclass", {}),
    ("Classifier", "binary", dict(solver="sgd", activation="logistic")),
    ("Classifier", "multiclass", dict(early_stopping=True, max_iter=60)),
    ("Regressor", "multi-output", {}),
    ("Regressor", "regression", dict(solver="sgd", early_stopping=True, learning_rate_init=0.05)),
], ids=["adam multiclass", "sgd binary", "early stopping", "multi-output", "regression sgd"])
def test_sample_weights_as_scikit_learn(kind, data, params):
    X, y = DATA[data]
    sample_weight = np.random.default_rng(0).uniform(0, 3, X.shape[0])
    sample_weight[::7] = 0
    params = dict(hidden_layer_sizes=(15, 7), random_state=0, max_iter=30, batch_size=32) | params
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        theirs = getattr(sk, "MLP" + kind)(**params).fit(X, y, sample_weight=sample_weight)
        ours = getattr(cy, "MLP" + kind)(**params).fit(X, y, sample_weight=sample_weight.tolist())
        unweighted = getattr(cy, "MLP" + kind)(**params).fit(X, y)
    assert _largest_difference(theirs, ours) < 1e-10
    assert _largest_difference(theirs, unweighted) > 1e-3   # (the weights matter)
    assert ours.n_iter_ == theirs.n_iter_
    np.testing.assert_allclose(ours.loss_curve_, theirs.loss_curve_, rtol=1e-10)
    if params.get("early_stopping"):
        np.testing.assert_allclose(ours.validation_scores_, theirs.validation_scores_, rtol=1e-10)
    with pytest.raises(ValueError, match="sample_weight"):
        getattr(cy, "MLP" + kind)(**params).fit(X, y, sample_weight=sample_weight[:-1])
    with pytest.raises(ValueError, match="sample weights of batch 0 .*sum to zero"):
        getattr(cy, "MLP" + kind)(**params | dict(shuffle=False, early_stopping=False)).fit(
            X, y, sample_weight=np.r_[np.zeros(32), sample_weight[32:]])
    first = X.shape[0] // 2   # partial_fit takes scikit-learn's positional order too
    extra = (np.unique(y),) if kind == "Classifier" else ()
    theirs = getattr(sk, "MLP" + kind)(hidden_layer_sizes=(6,), random_state=1)
    ours = getattr(cy, "MLP" + kind)(hidden_layer_sizes=(6,), random_state=1)
    for model in (theirs, ours):
        model.partial_fit(X[:first], y[:first], sample_weight[:first], *extra)
        model.partial_fit(X[first:], y[first:], sample_weight[first:])
    assert _largest_difference(theirs, ours) < 1e-12


def _continue(estimator, X, y, how):
    """partial_fit after a fit or partial_fit, across one change scikit-learn takes in its
    stride: the kept optimizer (velocities, Adam's moments and steps) goes on."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        if how == "larger batches":
            estimator.fit(X[:40], y[:40])           # (batches of 40: "auto" on 40 rows)
            estimator.set_params(batch_size=100).partial_fit(X, y)
        else:
            estimator.partial_fit(X, y, classes=[0, 1, 2])
            if how == "another dtype":
                estimator.partial_fit(X.astype(np.float32), y)
            elif how == "coefs_ set by hand":
                estimator.coefs_ = [c * 0.5 for c in estimator.coefs_]
            elif how == "pickled":
                estimator = pickle.loads(pickle.dumps(estimator))
            elif how == "copied":
                estimator = copy.deepcopy(estimator)
            elif how == "alpha changed":          # (read at every batch)
                estimator.set_params(alpha=0.5)
            elif how == "solver changed, pickled":  # (the kept optimizer goes on)
                estimator.set_params(solver="sgd" if estimator.solver == "adam" else "adam")
                estimator = pickle.loads(pickle.dumps(estimator))
            elif how == "after a failed fit":     # (a fit starts a new optimizer first,
                with pytest.raises(ValueError, match="validation set is too small"):  # kept)
                    estimator.set_params(early_stopping=True).fit(X[:9], y[:9])
                estimator.set_params(early_stopping=False, learning_rate_init=0.2,
                                     solver="sgd" if estimator.solver == "adam" else "adam")
                estimator.best_loss_ = np.inf   # (left None by the early-stopping fit)
        estimator.partial_fit(X, y)
    return estimator


@pytest.mark.parametrize("solver", ["adam", "sgd"])
@pytest.mark.parametrize("how", ["larger batches", "another dtype", "coefs_ set by hand",
                                 "pickled", "copied", "alpha changed", "solver changed, pickled",
                                 "after a failed fit"])
def test_partial_fit_keeps_the_optimizer_as_scikit_learn(how, solver):
    X, y = DATA["multiclass"]
    params = dict(hidden_layer_sizes=(10,), solver=solver, random_state=2, max_iter=3,
                  learning_rate="invscaling", learning_rate_init=0.05, batch_size=30)
    theirs = _continue(sk.MLPClassifier(**params), X, y, how)
    ours = _continue(MLPClassifier(**params), X, y, how)
    assert _largest_difference(theirs, ours) < 1e-12 and ours.t_ == theirs.t_
    assert ours.loss_ == pytest.approx(theirs.loss_, rel=1e-12)
    assert [c.dtype for c in ours.coefs_] == [c.dtype for c in theirs.coefs_]


@pytest.mark.parametrize("kind", ["Classifier", "Regressor"])
def test_refits_read_what_scikit_learn_reads(kind):
    """What a later partial_fit or warm_start fit takes from the estimator as it is then,
    as scikit-learn does: the activation, set anew; the parameters' dtype, kept from the
    first fit; and early stopping's best parameters, which scikit-learn's restore leaves
    the same arrays as coefs_ (a later warm fit trains them until it improves)."""
    X, y = DATA["multiclass" if kind == "Classifier" else "regression"]
    extra = dict(classes=[0, 1, 2]) if kind == "Classifier" else {}
    results = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        for module in (sk, cy):
            estimator = getattr(module, "MLP" + kind)
            changed = estimator(hidden_layer_sizes=(7,), random_state=0, batch_size=40)
            changed.partial_fit(X, y, **extra)
            changed.set_params(activation="tanh").partial_fit(X, y)
            wider = estimator(hidden_layer_sizes=(7,), random_state=0, max_iter=4).fit(X, y)
            wider.partial_fit(X.astype(np.float32), y)     # stays float64
            narrower = estimator(hidden_layer_sizes=(7,), random_state=0, max_iter=4).fit(
                X.astype(np.float32), y)
            narrower.partial_fit(X, y)                     # stays float32
            stopping = estimator(hidden_layer_sizes=(10,), max_iter=40, random_state=0,
                                 early_stopping=True, warm_start=True, n_iter_no_change=3,
                                 learning_rate_init=0.05)
            fits = [stopping.fit(X, y) and _parameters(stopping) for _ in range(3)]
            stopping.coefs_[0] = np.ascontiguousarray(stopping.coefs_[0])  # (by hand: a copy
            fits.append(stopping.fit(X, y) and _parameters(stopping))      # in cymlp, kept best)
            results.append((changed, wider, narrower, fits))
    (changed, wider, narrower, fits), (ours, our_wider, our_narrower, our_fits) = results
    assert _largest_difference(changed, ours) < 1e-12
    assert _largest_difference(wider, our_wider) < 1e-12 and our_wider.coefs_[0].dtype == np.float64
    assert _largest_difference(narrower, our_narrower) < 1e-5
    assert our_narrower.coefs_[0].dtype == np.float32
    for theirs, mine in zip(fits, our_fits):
        assert max(np.max(np.abs(a - b)) for a, b in zip(theirs, mine)) < 1e-12
    assert max(np.max(np.abs(a - b)) for a, b in zip(fits[0], fits[2])) > 1e-3  # (it trained)


def test_fortran_ordered_and_frame_targets():
    pd = pytest.importorskip("pandas")  # in the [test] extra
    Xr, Yr = DATA["multi-output"]
    params = dict(hidden_layer_sizes=(6,), max_iter=3, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        theirs = sk.MLPRegressor(**params).fit(Xr, Yr)
        for Y in (np.asfortranarray(Yr), pd.DataFrame(Yr)):
            assert _largest_difference(theirs, MLPRegressor(**params).fit(Xr, Y)) < 1e-12
            partial = MLPRegressor(**params).partial_fit(Xr, Y)
            assert partial.n_outputs_ == 2 and partial.t_ == len(Xr)


def test_unsupported_parameters_are_clear_errors():
    X, y = DATA["binary"]
    with pytest.raises(ValueError, match="lbfgs.*not supported.*'adam'.*'sgd'"):
        MLPClassifier(solver="lbfgs").fit(X, y)
    with pytest.raises(ValueError, match="loss.*'squared_error'.*'poisson'"):
        MLPRegressor(loss="poisson").fit(X, y)
    with pytest.raises(ValueError, match="activation"):
        MLPClassifier(activation="softmax").fit(X, y)
    with pytest.raises(ValueError, match="learning_rate_init"):
        MLPClassifier(learning_rate_init=0).fit(X, y)
    with pytest.raises(ValueError, match="partial_fit does not support early_stopping"):
        MLPClassifier(early_stopping=True).partial_fit(X, y, classes=[0, 1])
    for name, value in [("shuffle", "yes"), ("early_stopping", 1), ("warm_start", None),
                        ("nesterovs_momentum", "no"), ("max_iter", 2.5), ("batch_size", 8.0),
                        ("n_iter_no_change", 0.5), ("alpha", -1), ("verbose", "x"),
                        ("random_state", "seed"), ("hidden_layer_sizes", "wide")]:
        errors = []
        for estimator in (sk.MLPClassifier, MLPClassifier):   # scikit-learn's own checks
            with pytest.raises(InvalidParameterError) as error:
                estimator(**{name: value}).fit(X, y)
            errors.append(str(error.value))
        assert errors[0] == errors[1] and f"'{name}' parameter" in errors[1]
    for value in (1.5, True, 0):
        with pytest.raises(InvalidParameterError, match="'n_threads' parameter must be"):
            MLPClassifier(n_threads=value).fit(X, y)
    with pytest.raises(InvalidParameterError, match="hidden_layer_sizes must hold integers"):
        MLPClassifier(hidden_layer_sizes=(3.0,)).fit(X, y)     # (a TypeError in scikit-learn)
    with pytest.raises(InvalidParameterError, match="dtype must be"):
        MLPClassifier(dtype="bogus").fit(X, y)
    with pytest.raises(ValueError, match=r"hidden_layer_sizes must be > 0, got \[4, 0\]\."):
        MLPClassifier(hidden_layer_sizes=(4, 0)).fit(X, y)
    model = MLPClassifier(alpha=-1)
    with pytest.raises(InvalidParameterError):   # checked before partial_fit keeps anything
        model.partial_fit(X, y, classes=[0, 1])
    with pytest.raises(ValueError, match="classes must be passed on the first call"):
        model.set_params(alpha=0.1).partial_fit(X, y)
    with pytest.raises(ValueError, match="y must hold numbers for a regressor, got dtype <U3"):
        MLPRegressor().fit(X, np.full(len(X), "1.5"))       # (scikit-learn: a ufunc error)
    assert not hasattr(MLPClassifier(solver="lbfgs"), "partial_fit")   # as scikit-learn's
    assert hasattr(MLPRegressor(solver="lbfgs"), "partial_fit")


def test_parameters_and_defaults_are_scikit_learns():
    for ours, theirs in ((MLPClassifier(), sk.MLPClassifier()), (MLPRegressor(), sk.MLPRegressor())):
        mine = ours.get_params()
        assert mine.pop("dtype") is None and mine.pop("n_threads") is None
        assert mine == theirs.get_params()


def test_convergence_warning_and_verbose(capsys):
    X, y = DATA["multiclass"]
    with pytest.warns(ConvergenceWarning, match="Maximum iterations \\(3\\)"):
        MLPClassifier(hidden_layer_sizes=(5,), max_iter=3, verbose=True, random_state=0).fit(X, y)
    assert "Iteration 3, loss = " in capsys.readouterr().out


def test_pickling_leaves_the_estimator_as_it_was():
    X, y = DATA["multiclass"]
    ours, twin = (MLPClassifier(hidden_layer_sizes=(5,), random_state=0) for _ in range(2))
    for model in (ours, twin):
        model.partial_fit(X, y, classes=[0, 1, 2])
    before = dict(vars(ours))
    pickle.dumps(ours)
    copy.deepcopy(ours)
    assert vars(ours).keys() == before.keys() and ours._engine is before["_engine"]
    ours.partial_fit(X, y)
    twin.partial_fit(X, y)
    assert _largest_difference(ours, twin) == 0


def test_to_sklearn_predicts_the_same_and_pickles():
    X, y = DATA["multiclass"]
    ours = MLPClassifier(hidden_layer_sizes=(9,), max_iter=20, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        ours.fit(X, y)
    theirs = ours.to_sklearn()
    assert isinstance(theirs, sk.MLPClassifier)
    np.testing.assert_array_equal(theirs.predict(X), ours.predict(X))
    np.testing.assert_allclose(theirs.predict_proba(X), ours.predict_proba(X), rtol=1e-12)
    assert theirs.loss_curve_ == ours.loss_curve_ and theirs.n_iter_ == ours.n_iter_
    copy = pickle.loads(pickle.dumps(ours))
    np.testing.assert_array_equal(copy.predict_proba(X), ours.predict_proba(X))
    Xr, Yr = DATA["multi-output"]
    reg = MLPRegressor(hidden_layer_sizes=(6,), max_iter=5, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        reg.fit(Xr, Yr)
    np.testing.assert_allclose(reg.to_sklearn().predict(Xr), reg.predict(Xr), rtol=1e-12)


@pytest.mark.parametrize("params", [
    {}, dict(solver="sgd", learning_rate="invscaling", learning_rate_init=0.05),
    dict(solver="sgd", nesterovs_momentum=False, learning_rate="adaptive"),
    dict(early_stopping=True, warm_start=True)], ids=["adam", "nesterov", "momentum", "early"])
def test_to_sklearn_goes_on_training_as_cymlp_would(params):
    """The export carries the optimizer (Adam's moments and steps, the velocities, the step
    size) and the convergence state, so scikit-learn goes on from where cymlp stopped."""
    X, y = DATA["multiclass"]
    params = dict(hidden_layer_sizes=(7, 5), max_iter=6, random_state=0, batch_size=50) | params
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        theirs, ours = sk.MLPClassifier(**params).fit(X, y), MLPClassifier(**params).fit(X, y)
        exported = ours.to_sklearn()
        kept, carried = theirs._optimizer, exported._optimizer
        unpickled = pickle.loads(pickle.dumps(ours)).to_sklearn()._optimizer
        for name in ("ms", "vs", "velocities"):
            for a, b in zip(getattr(carried, name, []), getattr(unpickled, name, [])):
                np.testing.assert_array_equal(a, b)
        assert type(kept) is type(carried) and kept.learning_rate == carried.learning_rate
        for name in ("ms", "vs", "velocities"):
            if hasattr(kept, name):
                assert max(np.max(np.abs(a - b)) for a, b in
                           zip(getattr(kept, name), getattr(carried, name))) < 1e-12
        assert getattr(kept, "t", None) == getattr(carried, "t", None)
        for model in (theirs, exported, ours):   # (early stopping: a warm fit; else one epoch)
            model.fit(X, y) if params.get("early_stopping") else model.partial_fit(X, y)
    assert _largest_difference(theirs, exported) < 1e-12
    assert _largest_difference(exported, ours) < 1e-12


def test_dataframes_feature_names_and_string_labels():
    pd = pytest.importorskip("pandas")  # in the [test] extra
    X, y = DATA["binary"]
    frame = pd.DataFrame(X, columns=[f"f{i}" for i in range(X.shape[1])])
    labels = pd.Series(np.where(y == 1, "dog", "cat"))
    clf = MLPClassifier(hidden_layer_sizes=(8,), max_iter=30, random_state=0, solver="sgd",
                        learning_rate_init=0.1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        clf.fit(frame, labels)
    assert list(clf.feature_names_in_) == list(frame.columns)
    assert set(clf.predict(frame)) <= {"cat", "dog"} and clf.score(frame, labels) > 0.8


def test_grid_search_pipeline_and_mnist(mnist):
    (X, y), (Xt, yt) = mnist
    X, y = X[:3000], y[:3000]
    clf = MLPClassifier(hidden_layer_sizes=(30,), max_iter=5, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        scores = cross_val_score(make_pipeline(MinMaxScaler(), clf), X, y, cv=3)
        assert scores.mean() > 0.8
        search = GridSearchCV(clf, {"learning_rate_init": [1e-3, 1e-2]}, cv=2).fit(X[:1000],
                                                                                   y[:1000])
    assert search.best_params_["learning_rate_init"] in (1e-3, 1e-2)
    clf.fit(X, y)
    assert clf.n_iter_ == 5 and len(clf.loss_curve_) == 5
    assert clf.loss_curve_[-1] < clf.loss_curve_[0]
    assert list(clf.classes_) == list(range(10)) and clf.n_features_in_ == 784
    assert clf.score(Xt, yt) > 0.85


@pytest.mark.parametrize("kind, data, params", [
    ("Classifier", "multiclass", {}),
    ("Classifier", "binary", dict(solver="sgd", early_stopping=True, learning_rate_init=0.05)),
    ("Regressor", "multi-output", dict(activation="tanh")),
])
@pytest.mark.parametrize("fmt", ["csr", "csc", "coo"])
def test_sparse_x_fits_as_scikit_learn_and_as_its_dense_array(kind, data, params, fmt):
    """scipy.sparse X (the formats scikit-learn's MLPs accept): the same coefs_ as
    scikit-learn fitting the same sparse X, and bit for bit cymlp's own fit of the dense X."""
    X, y = DATA[data]
    X = np.where(np.abs(X) < np.quantile(np.abs(X), 0.6), 0.0, X)  # 60% zeros
    S = sp.csr_matrix(X).asformat(fmt)
    params = dict(hidden_layer_sizes=(15,), random_state=0, max_iter=20, batch_size=16) | params
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        theirs = getattr(sk, "MLP" + kind)(**params).fit(S, y)
        ours = getattr(cy, "MLP" + kind)(**params).fit(S, y)
        dense = getattr(cy, "MLP" + kind)(**params).fit(X, y)
    assert _largest_difference(theirs, ours) < 1e-10
    for a, b in zip(ours.coefs_ + ours.intercepts_, dense.coefs_ + dense.intercepts_):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_allclose(ours.predict(S), theirs.predict(S), atol=1e-10)
