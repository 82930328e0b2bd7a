"""The base of every direction finder: scikit-learn's estimator contract, the canonical sign, the
midpoint threshold, projection and accuracy (:class:`DirectionFinder`), and the checks on ``(X, y)``
every ``fit`` starts with."""

from __future__ import annotations

import numpy as np
import torch
from sklearn.base import BaseEstimator
from sklearn.exceptions import NotFittedError

__all__ = ["DirectionFinder", "NotFittedError"]


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
    if not np.isfinite(X).all():
        raise ValueError("X holds NaN or infinite values")
    return X, y.astype(int)


class DirectionFinder(BaseEstimator):
    """Base: canonical sign, midpoint threshold, projection, accuracy. Subclasses implement ``fit``
    and end it with ``self._finish(X, y, w)``."""

    method = "direction"

    def _finish(self, X: np.ndarray, y: np.ndarray, w: np.ndarray) -> "DirectionFinder":
        w = np.asarray(w, dtype=np.float64).reshape(-1)
        n = np.linalg.norm(w)
        if not np.isfinite(n) or n == 0:
            raise ValueError(f"{type(self).__name__} found a zero or non-finite direction")
        w = w / n
        p = X @ w
        if p[y == 1].mean() < p[y == 0].mean():  # canonical sign: positive class projects higher
            w, p = -w, -p
        self.direction_ = w
        self.threshold_ = float((p[y == 1].mean() + p[y == 0].mean()) / 2)
        self.n_features_in_ = X.shape[1]
        return self

    def _check_fitted(self) -> None:
        if not hasattr(self, "direction_"):
            raise NotFittedError(f"this {type(self).__name__} is not fitted yet: call fit first")

    def transform(self, X) -> np.ndarray:
        """Projection on ``direction_``: (n, d) -> (n,)."""
        self._check_fitted()
        X = _as_numpy(X)
        if X.shape[-1] != self.n_features_in_:
            raise ValueError(f"X has width {X.shape[-1]}; this direction was fit on width {self.n_features_in_}")
        return X @ self.direction_

    def fit_transform(self, X, y, **kw) -> np.ndarray:
        return self.fit(X, y, **kw).transform(X)

    def decision_function(self, X) -> np.ndarray:
        return self.transform(X) - self.threshold_

    def predict(self, X) -> np.ndarray:
        return (self.transform(X) > self.threshold_).astype(int)

    def score(self, X, y) -> float:
        return float((self.predict(X) == np.asarray(y)).mean())

    def to_direction(self, site: str, **provenance):
        """The fitted direction as an :class:`interp.directions.Direction` (provenance: model,
        data, seed, flags, metrics); ``method`` defaults to this finder's name and parameters."""
        from interp.directions import Direction

        self._check_fitted()
        provenance.setdefault("method", self.method)
        flags = dict(provenance.pop("flags", {}) or {})
        flags.setdefault("finder", repr(self))
        for key in ("unit_", "units_", "C_"):
            if hasattr(self, key):
                v = getattr(self, key)
                flags.setdefault(key.rstrip("_"), v.tolist() if isinstance(v, np.ndarray) else v)
        return Direction(torch.tensor(self.direction_, dtype=torch.float32), site=site, flags=flags, **provenance)
