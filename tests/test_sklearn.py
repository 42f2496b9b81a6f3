"""cymlp.sklearn.MLPClassifier: scikit-learn's own conformance suite, pipelines, CV."""

import numpy as np
import pytest

pytest.importorskip("sklearn", reason="the [sklearn] extra is not installed")  # CI installs it

from sklearn.model_selection import cross_val_score  # noqa: E402
from sklearn.pipeline import make_pipeline  # noqa: E402
from sklearn.preprocessing import MinMaxScaler  # noqa: E402
from sklearn.utils.estimator_checks import parametrize_with_checks  # noqa: E402

from cymlp.sklearn import MLPClassifier  # noqa: E402

@parametrize_with_checks([MLPClassifier(hidden_layer_sizes=(16,), learning_rate=0.5, max_iter=60,
                                        random_state=0)])
def test_scikit_learn_conformance(estimator, check):
    check(estimator)


def test_pipeline_cross_validation_and_the_fitted_attributes(mnist):
    (X, y), (Xt, yt) = mnist
    X, y = X[:3000], y[:3000]
    clf = MLPClassifier(hidden_layer_sizes=(30,), learning_rate=3.0, batch_size=10, max_iter=5,
                        random_state=0)
    scores = cross_val_score(make_pipeline(MinMaxScaler(), clf), X, y, cv=3)
    assert scores.mean() > 0.7
    clf.fit(X, y)
    assert clf.n_iter_ == 5 and len(clf.loss_curve_) == 5
    assert clf.loss_curve_[-1] < clf.loss_curve_[0]
    assert list(clf.classes_) == list(range(10)) and clf.n_features_in_ == 784
    proba = clf.predict_proba(Xt[:50])
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    np.testing.assert_array_equal(clf.predict(Xt[:50]), np.argmax(proba, axis=1))
    assert clf.score(Xt, yt) > 0.75


def test_partial_fit_and_string_labels():
    rng = np.random.default_rng(0)
    X = np.vstack([rng.normal(-2, 1, (60, 3)), rng.normal(2, 1, (60, 3))])
    y = np.array(["cat"] * 60 + ["dog"] * 60)
    clf = MLPClassifier(hidden_layer_sizes=(8,), learning_rate=0.5, random_state=0)
    with pytest.raises(ValueError, match="classes must be given"):
        clf.partial_fit(X, y)
    for _ in range(20):
        clf.partial_fit(X, y, classes=["cat", "dog"])
    assert clf.n_iter_ == 20 and clf.score(X, y) > 0.95
    assert set(clf.predict(X)) <= {"cat", "dog"}
    with pytest.raises(ValueError, match="not in classes_"):
        clf.partial_fit(X, np.array(["cow"] * 120))
    assert clf.get_params()["hidden_layer_sizes"] == (8,)
    assert clf.set_params(max_iter=3).max_iter == 3
