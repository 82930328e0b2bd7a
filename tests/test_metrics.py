import numpy as np
import pytest

from interp import metrics
from interp.finders import MeanDiff


def test_fit_threshold_separates_shifted_scores():
    rng = np.random.default_rng(0)
    labels = np.r_[np.zeros(200, int), np.ones(200, int)]
    scores = np.r_[rng.normal(2.0, 1, 200), rng.normal(4.0, 1, 200)]  # a model leaning positive
    t = metrics.fit_threshold(scores, labels)
    assert 2.5 < t < 3.5
    assert metrics.balanced_accuracy(scores, labels, t) > metrics.balanced_accuracy(scores, labels, 0.0)


def test_fit_threshold_needs_both_classes():
    with pytest.raises(ValueError):
        metrics.fit_threshold(np.array([1.0, 2.0]), np.array([1, 1]))


def test_fraction_removed_and_bootstrap():
    assert metrics.fraction_removed(0.9, 0.5) == pytest.approx(1.0)
    assert metrics.fraction_removed(0.9, 0.9) == 0.0
    assert np.isnan(metrics.fraction_removed(0.5, 0.4))
    rng = np.random.default_rng(1)
    c0 = (rng.random(1000) < 0.9).astype(int)
    c1 = c0 * (rng.random(1000) < 0.7)
    p, lo, hi = metrics.bootstrap_removed(c0, c1, n_boot=500)
    assert lo < p < hi
    assert 0.5 < p < 0.9
    p, lo, hi = metrics.bootstrap_removed(c0, c0, n_boot=200)
    assert p == lo == hi == 0.0


def test_meandiff_sign_is_canonical_and_scores():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(100, 6))
    y = np.r_[np.zeros(50, int), np.ones(50, int)]
    X[y == 0, 2] -= 3.0  # negatives low along axis 2
    f = MeanDiff().fit(X, y)
    assert f.direction_[2] > 0.9
    assert f.score(X, y) > 0.9
    assert np.isclose(np.linalg.norm(f.direction_), 1.0)
    with pytest.raises(ValueError, match="width"):
        f.transform(np.zeros((2, 5)))
    with pytest.raises(ValueError, match="both labels"):
        MeanDiff().fit(X, np.ones(100, int))
