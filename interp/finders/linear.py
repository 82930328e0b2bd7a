"""Directions over all units: :class:`MeanDiff`, :class:`KMeansDirection`, :class:`PCADirection`,
:class:`LogisticDirection` (L1 or L2), and the logistic-regression helpers the other probes share
(liblinear through the installed scikit-learn's API, the standardiser, ``C`` by cross-validation)."""

from __future__ import annotations

from typing import Sequence

import numpy as np

from interp.finders.base import DirectionFinder, _check_xy

__all__ = ["MeanDiff", "KMeansDirection", "PCADirection", "LogisticDirection"]


class MeanDiff(DirectionFinder):
    """Difference of class means: mean(X[y==1]) − mean(X[y==0]), normalised."""

    method = "mean_diff"

    def fit(self, X, y) -> "MeanDiff":
        X, y = _check_xy(X, y)
        return self._finish(X, y, X[y == 1].mean(0) - X[y == 0].mean(0))


class KMeansDirection(DirectionFinder):
    """2-means on X (labels unused while clustering); direction = difference of the two centroids,
    sign by the labels. ``purity_``: the share of examples whose cluster matches their label under
    the better of the two matchings (0.5 = the clusters ignore sentiment)."""

    method = "kmeans"

    def __init__(self, n_init: int = 10, random_state: int = 0):
        self.n_init = n_init
        self.random_state = random_state

    def fit(self, X, y) -> "KMeansDirection":
        from sklearn.cluster import KMeans

        X, y = _check_xy(X, y)
        km = KMeans(n_clusters=2, n_init=self.n_init, random_state=self.random_state).fit(X)
        c = km.cluster_centers_
        agree = float((km.labels_ == y).mean())
        self.purity_ = max(agree, 1 - agree)
        self.cluster_centers_ = c
        return self._finish(X, y, c[1] - c[0])


class PCADirection(DirectionFinder):
    """First principal component of the (mean-centred) activations, sign by the labels
    (Tigges et al. 2023). ``explained_variance_ratio_``: its share of the variance."""

    method = "pca"

    def fit(self, X, y) -> "PCADirection":
        X, y = _check_xy(X, y)
        Xc = X - X.mean(0)
        if Xc.shape[0] >= Xc.shape[1]:  # eigenvectors of the (d, d) scatter: much faster than an SVD here
            ev, vecs = np.linalg.eigh(Xc.T @ Xc)
            pc, top, total = vecs[:, -1], ev[-1], ev.clip(min=0).sum()
        else:
            _, s, vt = np.linalg.svd(Xc, full_matrices=False)
            pc, top, total = vt[0], s[0] ** 2, (s ** 2).sum()
        self.explained_variance_ratio_ = float(top / max(total, 1e-300))
        return self._finish(X, y, pc)


def _logreg(penalty: str, C: float, seed: int, max_iter: int = 1000):
    """liblinear logistic regression, L1 or L2, through the API of the installed scikit-learn
    (``penalty`` is deprecated from 1.8 in favour of ``l1_ratio``)."""
    import sklearn
    from sklearn.linear_model import LogisticRegression

    if penalty not in ("l1", "l2"):
        raise ValueError(f"penalty must be 'l1' or 'l2', not {penalty!r}")
    major, minor = (int(x) for x in sklearn.__version__.split(".")[:2])
    if (major, minor) >= (1, 8):
        kw = dict(l1_ratio=1.0 if penalty == "l1" else 0.0)
    else:
        kw = dict(penalty=penalty)
    return LogisticRegression(C=C, solver="liblinear", random_state=seed, max_iter=max_iter, **kw)


def _standardiser(X: np.ndarray, on: bool) -> tuple[np.ndarray, np.ndarray]:
    """(mean, scale): always centre; scale by the standard deviation when ``on``."""
    mu, sd = X.mean(0), X.std(0)
    if not on:
        return mu, np.ones(X.shape[1])
    return mu, np.where(sd > 1e-8, sd, 1.0)


def _choose_C(penalty: str, Z: np.ndarray, y: np.ndarray, grid: Sequence[float], cv: int, seed: int) -> tuple[float, list[float]]:
    """Mean stratified-CV accuracy of each C; the best (smallest of ties)."""
    from sklearn.model_selection import StratifiedKFold

    folds = max(2, min(cv, int(np.bincount(y).min())))
    skf = StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed)
    scores = []
    for C in grid:
        accs = [float(_logreg(penalty, C, seed).fit(Z[tr], y[tr]).score(Z[te], y[te])) for tr, te in skf.split(Z, y)]
        scores.append(float(np.mean(accs)))
    return float(grid[int(np.argmax(scores))]), scores


class LogisticDirection(DirectionFinder):
    """Logistic-regression probe (liblinear), direction = its normalised weight vector in the raw
    activation space.

    ``penalty``: ``"l2"`` or ``"l1"``. ``C``: a number, or a sequence of candidates chosen by
    ``cv``-fold stratified cross-validation on the training data (``C_``, ``cv_scores_``).
    Features are centred (which leaves the weights' direction alone and helps liblinear).
    ``standardize=True`` also scales each unit to unit variance (every unit under the same
    penalty); the raw-space weights are then ``coef / std``, which a nearly constant unit can
    dominate, so the default fits the raw activations, as scikit-learn would. ``coef_`` (raw space,
    before normalising), ``n_nonzero_``.
    """

    def __init__(self, penalty: str = "l2", C: float | Sequence[float] = 1.0, standardize: bool = False,
                 cv: int = 3, random_state: int = 0):
        self.penalty = penalty
        self.C = C
        self.standardize = standardize
        self.cv = cv
        self.random_state = random_state

    @property
    def method(self) -> str:  # type: ignore[override]
        return f"logreg_{self.penalty}"

    def fit(self, X, y) -> "LogisticDirection":
        X, y = _check_xy(X, y)
        if self.penalty not in ("l1", "l2"):
            raise ValueError(f"penalty must be 'l1' or 'l2', not {self.penalty!r}")
        mu, sd = _standardiser(X, self.standardize)
        Z = (X - mu) / sd
        if np.ndim(self.C) == 0:
            self.C_, self.cv_scores_ = float(self.C), []
        else:
            self.C_, self.cv_scores_ = _choose_C(self.penalty, Z, y, list(self.C), self.cv, self.random_state)
        m = _logreg(self.penalty, self.C_, self.random_state).fit(Z, y)
        if not np.any(m.coef_):  # an L1 probe that kept no unit: the smallest larger C that keeps one
            from sklearn.svm import l1_min_c

            larger = sorted(c for c in (list(self.C) if np.ndim(self.C) else []) if c > self.C_)
            c0 = l1_min_c(Z, y, loss="log")
            for C in sorted({*larger, *(c0 * f for f in (2, 5, 20, 100, 1000) if c0 * f > self.C_)}):
                m = _logreg(self.penalty, float(C), self.random_state).fit(Z, y)
                if np.any(m.coef_):
                    self.C_ = float(C)
                    break
            else:
                raise ValueError(f"the {self.penalty} probe kept no unit at any C tried; raise C")
        w = m.coef_.reshape(-1) / sd
        self.n_nonzero_ = int((m.coef_ != 0).sum())
        self.coef_ = w
        self.intercept_ = float(m.intercept_[0] - (m.coef_.reshape(-1) * mu / sd).sum())
        return self._finish(X, y, w)
