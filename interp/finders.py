"""Direction finders with scikit-learn's estimator contract.

Hyper-parameters go in ``__init__``; ``fit(X, y)`` returns ``self``; fitted state ends in ``_``;
``direction_`` is unit-norm with canonical sign (positive projection = class 1 = positive
sentiment); ``transform`` projects; ``score`` is the accuracy of thresholding the projection at
the midpoint of the two class means learned in ``fit``.
"""

from __future__ import annotations

import numpy as np
import torch


def _as_numpy(X) -> np.ndarray:
    if isinstance(X, torch.Tensor):
        X = X.detach().float().cpu().numpy()
    return np.asarray(X, dtype=np.float64)


def _check_xy(X, y) -> tuple[np.ndarray, np.ndarray]:
    X, y = _as_numpy(X), np.asarray(y)
    if X.ndim != 2:
        raise ValueError(f"X must be (n_samples, width); got shape {X.shape}")
    if len(X) != len(y):
        raise ValueError(f"X has {len(X)} rows but y has {len(y)} labels")
    if set(np.unique(y).tolist()) != {0, 1}:
        raise ValueError(f"y must hold both labels 0 and 1; got {sorted(set(np.unique(y).tolist()))}")
    return X, y.astype(int)


class DirectionFinder:
    def _finish(self, X: np.ndarray, y: np.ndarray, w: np.ndarray) -> "DirectionFinder":
        w = w / np.linalg.norm(w)
        p = X @ w
        if p[y == 1].mean() < p[y == 0].mean():  # canonical sign: positive class projects higher
            w, p = -w, -p
        self.direction_ = w
        self.threshold_ = float((p[y == 1].mean() + p[y == 0].mean()) / 2)
        self.n_features_in_ = X.shape[1]
        return self

    def transform(self, X) -> np.ndarray:
        X = _as_numpy(X)
        if X.shape[-1] != self.n_features_in_:
            raise ValueError(f"X has width {X.shape[-1]}; this direction was fit on width {self.n_features_in_}")
        return X @ self.direction_

    def predict(self, X) -> np.ndarray:
        return (self.transform(X) > self.threshold_).astype(int)

    def score(self, X, y) -> float:
        return float((self.predict(X) == np.asarray(y)).mean())


class MeanDiff(DirectionFinder):
    """Difference of class means: mean(X[y==1]) − mean(X[y==0]), normalised."""

    def fit(self, X, y) -> "MeanDiff":
        X, y = _check_xy(X, y)
        return self._finish(X, y, X[y == 1].mean(0) - X[y == 0].mean(0))
