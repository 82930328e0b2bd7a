"""Finders that pick units: :class:`BestNeuron` (one unit, ``direction_ = ±e_k``) and
:class:`TopKNeurons` (the ``k`` units a sparse probe relies on, and an L2 probe over them)."""

from __future__ import annotations

import numpy as np

from interp.finders.base import DirectionFinder, _check_xy
from interp.finders.linear import _logreg, _standardiser

__all__ = ["BestNeuron", "TopKNeurons"]


def _unit_accuracies(X: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    from interp.metrics import unit_accuracies

    return unit_accuracies(X, y, balanced=False)


class BestNeuron(DirectionFinder):
    """The single unit whose thresholded value classifies best, either sign: ``direction_ =
    ±e_k``, ``unit_ = k``, ``sign_``, ``unit_accuracies_`` (every unit's best accuracy).

    Chosen on ``(X_dev, y_dev)`` when given to ``fit`` (Radford et al.: by dev accuracy), else on
    the training data. The sign comes from the same data; ``threshold_`` is the midpoint of the
    training class means along ``±e_k``, like every finder's.
    """

    method = "best_neuron"

    def fit(self, X, y, X_dev=None, y_dev=None) -> "BestNeuron":
        X, y = _check_xy(X, y)
        if (X_dev is None) != (y_dev is None):
            raise ValueError("give both X_dev and y_dev, or neither")
        if X_dev is not None:
            Xs, ys = _check_xy(X_dev, y_dev)
            if Xs.shape[1] != X.shape[1]:
                raise ValueError(f"X_dev has width {Xs.shape[1]} but X has {X.shape[1]}")
            self.selected_on_ = "dev"
        else:
            Xs, ys = X, y
            self.selected_on_ = "train"
        acc, sign = _unit_accuracies(Xs, ys)
        k = int(np.argmax(acc))
        self.unit_, self.sign_ = k, int(sign[k])
        self.unit_accuracies_ = acc
        w = np.zeros(X.shape[1])
        w[k] = self.sign_
        self._finish(X, y, w)
        if self.direction_[k] != self.sign_:  # the training data disagree with the selection data on the sign
            self.sign_ = int(np.sign(self.direction_[k]))
        return self


class TopKNeurons(DirectionFinder):
    """The ``k`` units a sparse probe relies on, and an L2 probe restricted to them.

    ``by="l1"``: the first ``k`` units to enter the L1 regularisation path (liblinear over a
    geometric grid of ``C`` from the smallest that keeps any unit; ties broken by |weight|).
    ``by="weight"``: the ``k`` largest |weights| of an L2 probe (``C``). Units are chosen on
    standardised features (``standardize``) so that every unit pays the same price.
    ``units_`` (in order of selection); ``direction_``: an L2 probe (``C``) fit on those units'
    raw (centred) activations alone, zero elsewhere.
    """

    def __init__(self, k: int = 10, by: str = "l1", C: float = 1.0, standardize: bool = True,
                 path_steps: int = 40, random_state: int = 0):
        self.k = k
        self.by = by
        self.C = C
        self.standardize = standardize
        self.path_steps = path_steps
        self.random_state = random_state

    @property
    def method(self) -> str:  # type: ignore[override]
        return f"topk_{self.by}"

    def _l1_path(self, Z: np.ndarray, y: np.ndarray) -> list[int]:
        from sklearn.svm import l1_min_c

        c0 = l1_min_c(Z, y, loss="log") * 1.01
        order: list[int] = []
        coef = None
        for C in c0 * np.logspace(0, 4, self.path_steps):
            coef = _logreg("l1", float(C), self.random_state).fit(Z, y).coef_.reshape(-1)
            new = [int(u) for u in np.argsort(-np.abs(coef), kind="stable") if coef[u] != 0 and u not in order]
            order += new
            if len(order) >= self.k:
                break
        if len(order) < self.k:  # the path kept fewer units: fill by |weight| of an L2 probe
            w = _logreg("l2", self.C, self.random_state).fit(Z, y).coef_.reshape(-1)
            order += [int(u) for u in np.argsort(-np.abs(w), kind="stable") if u not in order]
        return order[: self.k]

    def fit(self, X, y) -> "TopKNeurons":
        X, y = _check_xy(X, y)
        if not 1 <= self.k <= X.shape[1]:
            raise ValueError(f"k must be in 1..{X.shape[1]} (the width), got {self.k}")
        if self.by not in ("l1", "weight"):
            raise ValueError(f"by must be 'l1' or 'weight', not {self.by!r}")
        mu, sd = _standardiser(X, self.standardize)
        Z = (X - mu) / sd
        if self.by == "l1":
            units = self._l1_path(Z, y)
        else:
            w = _logreg("l2", self.C, self.random_state).fit(Z, y).coef_.reshape(-1)
            units = [int(u) for u in np.argsort(-np.abs(w), kind="stable")[: self.k]]
        self.units_ = np.array(units, dtype=int)
        m = _logreg("l2", self.C, self.random_state).fit(X[:, self.units_] - mu[self.units_], y)
        w = np.zeros(X.shape[1])
        w[self.units_] = m.coef_.reshape(-1)
        if not np.any(w):
            w[self.units_] = (X[y == 1][:, self.units_].mean(0) - X[y == 0][:, self.units_].mean(0))
        return self._finish(X, y, w)
