"""LEACE, least-squares concept erasure (Belrose et al. 2023): the eraser, and as a finder the
covector it reads (:class:`Leace`)."""

from __future__ import annotations

import numpy as np
import torch

from interp.finders.base import DirectionFinder, _as_numpy, _check_xy

__all__ = ["Leace"]


class Leace(DirectionFinder):
    """LEACE, least-squares concept erasure (Belrose et al. 2023), fit with the ``concept-erasure``
    package's ``LeaceFitter`` in float64.

    The eraser is the affine map ``x -> x - ((x - bias_) @ proj_right_.T) @ proj_left_.T``: after
    it, no linear classifier reads the label from X better than a constant (the class means
    coincide), and among all maps that achieve this it moves X the least in the (whitened)
    least-squares sense. For a binary label it is a rank-1 (oblique) edit, rank 2 when the
    trace constraint mixes in an orthogonal projection. ``proj_left_`` (d, k), ``proj_right_``
    (k, d), ``bias_`` (d,) (the fitting data's mean), ``rank_`` = k. :meth:`erase` applies it to
    X here; :class:`interp.interventions.LeaceErasure` applies it inside a model.

    As a finder, ``direction_`` is the covector the eraser reads, the top right singular vector
    of ``proj_left_ @ proj_right_`` (for the rank-1 eraser ``proj_right_`` itself, which is the
    shrinkage-LDA direction ``Σ⁻¹(μ₁ − μ₀)``), with the canonical sign; ``transform`` and
    ``score`` are every finder's (projection on it, midpoint threshold).

    ``shrinkage``, ``constrain_cov_trace``, ``svd_tol``: ``LeaceFitter``'s options (defaults as
    there).
    """

    method = "leace"

    def __init__(self, shrinkage: bool = True, constrain_cov_trace: bool = True, svd_tol: float = 0.01):
        self.shrinkage = shrinkage
        self.constrain_cov_trace = constrain_cov_trace
        self.svd_tol = svd_tol

    def fit(self, X, y) -> "Leace":
        try:
            from concept_erasure import LeaceFitter
        except ImportError as e:  # pragma: no cover - a dependency
            raise ImportError("LEACE needs the concept-erasure package: pip install concept-erasure") from e
        X, y = _check_xy(X, y)
        if len(X) < 3:
            raise ValueError(f"LEACE needs at least 3 examples, got {len(X)}")
        fitter = LeaceFitter(X.shape[1], 1, dtype=torch.float64, shrinkage=self.shrinkage,
                             constrain_cov_trace=self.constrain_cov_trace, svd_tol=self.svd_tol)
        fitter.update(torch.from_numpy(X), torch.from_numpy(y.astype(np.float64))[:, None])
        e = fitter.eraser
        L, R = e.proj_left.numpy(), e.proj_right.numpy()  # (d, k), (k, d)
        if L.shape[1] > 1:  # the trace constraint returns a full SVD: keep the non-zero part
            keep = np.linalg.norm(L, axis=0) * np.linalg.norm(R, axis=1)
            keep = keep > 1e-12 * max(float(keep.max()), 1e-300)
            L, R = L[:, keep], R[keep]
        if L.shape[1] == 0:
            raise ValueError("LEACE found nothing to erase: the label is not linearly readable from X")
        self.proj_left_, self.proj_right_ = L, R
        self.bias_ = e.bias.numpy().copy() if e.bias is not None else np.zeros(X.shape[1])
        self.rank_ = int(L.shape[1])
        if self.rank_ == 1:
            w = R[0]
        else:
            w = np.linalg.svd(L @ R)[2][0]
        return self._finish(X, y, w)

    def erase(self, X) -> np.ndarray:
        """X with the concept erased, (n, d) -> (n, d), in float64."""
        self._check_fitted()
        X = _as_numpy(X)
        if X.shape[-1] != self.n_features_in_:
            raise ValueError(f"X has width {X.shape[-1]}; this eraser was fit on width {self.n_features_in_}")
        return X - ((X - self.bias_) @ self.proj_right_.T) @ self.proj_left_.T
