"""Direction finders with scikit-learn's estimator contract.

Hyper-parameters go in ``__init__``; ``fit(X, y)`` returns ``self``; fitted state ends in ``_``;
``direction_`` is unit-norm with canonical sign (positive projection = class 1 = positive
sentiment); ``transform`` projects; ``score`` is the accuracy of thresholding the projection at
the midpoint of the two class means learned in ``fit``.

Directions: :class:`MeanDiff`, :class:`KMeansDirection`, :class:`PCADirection`,
:class:`LogisticDirection` (L1 or L2), :class:`DAS` (distributed alignment search: fit on
interchange interventions with :meth:`DAS.fit_interchange`, not on ``(X, y)``). An eraser:
:class:`Leace` (least-squares concept erasure, Belrose et al. 2023, through the
``concept-erasure`` package: an affine map that removes every linearly readable trace of the
label with the least change to X; applied in a model by
:class:`interp.interventions.LeaceErasure`). Neurons:
:class:`BestNeuron` (``direction_ = ±e_k``, ``unit_``) and :class:`TopKNeurons` (``units_``; the
direction is an L2 probe restricted to them). ``finder.to_direction(site, ...)`` gives an
:class:`interp.directions.Direction` with provenance, for saving.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
import torch
from sklearn.base import BaseEstimator
from sklearn.exceptions import NotFittedError

__all__ = ["DirectionFinder", "MeanDiff", "KMeansDirection", "PCADirection", "LogisticDirection", "BestNeuron",
           "TopKNeurons", "DAS", "Leace", "FINDERS", "make_finder", "NotFittedError"]


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


# --------------------------------------------------------------------------------------------
# DAS: a direction learned from interchange interventions


def _torch_module(model) -> torch.nn.Module:
    for attr in ("bridge", "mlstm"):
        m = getattr(model, attr, None)
        if isinstance(m, torch.nn.Module):
            return m
    raise TypeError(f"DAS needs a model whose weights it can differentiate through; {type(model).__name__} "
                    "has neither .bridge (TransformerModel) nor .mlstm (MLSTMModel)")


def _last_logits_with_grad(model, batch, hooks) -> torch.Tensor:
    """Logits at the last real token, with autograd on (``Model.run`` runs under inference mode).

    ``hooks``: (site, fn(act) -> act) pairs. The adapters' protocol has no gradient path, so this
    reaches into the two model families (a TransformerLens bridge, the mLSTM's hook points)."""
    dev = getattr(model, "device", torch.device("cpu"))
    tokens, mask = batch.tokens.to(dev), batch.mask.to(dev)
    rows = torch.arange(len(batch), device=dev)
    last = batch.last.to(dev)
    if hasattr(model, "bridge"):
        kwargs = {"attention_mask": mask.long()} if getattr(model, "use_attention_mask", True) else {}
        with model.bridge.hooks(fwd_hooks=[(s, (lambda act, hook=None, _f=f: _f(act))) for s, f in hooks]):
            hidden = model._decoder(input_ids=tokens, **kwargs).last_hidden_state
            logits = model._unembed(hidden[rows, last])
            if getattr(model, "_softcap", None):
                logits = torch.tanh(logits / model._softcap) * model._softcap
        return logits
    if hasattr(model, "mlstm"):
        with model.mlstm.hooks(fwd_hooks=[(s, (lambda act, hook, _f=f: _f(act, hook.pos))) for s, f in hooks]):
            logits = model.mlstm(tokens, mask)
        return logits[rows, last]
    raise TypeError(f"DAS does not know how to run {type(model).__name__} with gradients")


def _position_mask(positions, clean) -> torch.Tensor:
    from interp.positions import Positions

    if isinstance(positions, Positions):
        return positions.mask(clean)
    t = torch.as_tensor(positions)
    if t.dtype == torch.bool:
        if tuple(t.shape) != tuple(clean.mask.shape):
            raise ValueError(f"position mask {tuple(t.shape)} does not match the batch {tuple(clean.mask.shape)}")
        return t & clean.mask.bool()
    t = t.long().reshape(-1)
    if len(t) != len(clean):
        raise ValueError(f"{len(t)} positions for {len(clean)} pairs: give one token index per pair")
    m = torch.zeros_like(clean.mask, dtype=torch.bool)
    m[torch.arange(len(clean)), t] = True
    return m & clean.mask.bool()


class DAS(DirectionFinder):
    """Distributed alignment search (Geiger et al. 2023) for a 1-D subspace, as Tigges et al. (2023)
    use it for sentiment: learn a unit vector ``u`` (a normalised free vector, Adam) such that, on
    clean/corrupted pairs, replacing the corrupted run's projection on ``u`` by the clean run's at
    the sentiment word (``a' + ((a − a')·u) u``) moves the answer's logit difference from the
    corrupted value to the clean one.

    Loss (per minibatch, pooled over pairs as :func:`interp.experiments.patch.denoising`):
    ``1 − Σ g / Σ σ (s_clean − s_corrupt)``, σ = sign(s_clean − s_corrupt),
    s = logit(answer_ids[0]) − logit(answer_ids[1]) at the last token, and the gain of pair ``i``
    ``g = min(σ (s_patched − s_corrupt), σ (s_clean − s_corrupt))`` with ``objective="capped"``
    (default: a pair counts as restored once its patched score reaches the clean one; without the
    cap a 1-D patch can push the score far past the clean run's, off the model's distribution) or
    ``g = σ (s_patched − s_corrupt)`` with ``objective="logit_diff"``.

    Fit with :meth:`fit_interchange`; ``fit(X, y)`` is refused (DAS needs a model and pairs).
    After fitting: ``direction_`` (canonical sign from the clean/corrupted activations at the
    patched positions and the clean labels), ``threshold_``, ``loss_`` (per step),
    ``denoising_`` (pooled, uncapped, on all the pairs, the learned patch), ``denoising_capped_``,
    ``denoising_init_`` (the random start).
    """

    method = "das"

    def __init__(self, steps: int = 200, lr: float = 0.01, batch_size: int = 32, objective: str = "capped",
                 random_state: int = 0, init: np.ndarray | None = None):
        self.steps = steps
        self.objective = objective
        self.lr = lr
        self.batch_size = batch_size
        self.random_state = random_state
        self.init = init

    def fit(self, X, y=None):
        raise TypeError(
            "DAS is fit on interchange interventions, not on (X, y): call "
            "DAS().fit_interchange(model, site, clean_batch, corrupt_batch, positions, answer_ids)"
        )

    def fit_interchange(self, model, site: str, clean, corrupt, positions, answer_ids: tuple[int, int], *,
                        labels=None, progress: bool = False) -> "DAS":
        """Learn the direction at ``site`` from clean/corrupted batches (aligned row by row, equal
        token lengths, e.g. :meth:`interp.pairs.Pairs.tokenize`). ``positions``: where to patch,
        a (B, T) bool mask, a :class:`~interp.positions.Positions` selector, or one token index per
        pair. ``answer_ids``: (positive, negative) answer tokens. ``labels``: the clean inputs'
        sentiment (1 positive); by default, 1 where the clean run's logit difference is the higher."""
        from interp.interventions import patch_subspace
        from interp.models.protocol import check_site

        if clean.mask.shape != corrupt.mask.shape or not torch.equal(clean.mask, corrupt.mask):
            raise ValueError("clean and corrupted batches must have the same token lengths row by row")
        width = check_site(model, site)
        where = _position_mask(positions, clean)
        if not where.any():
            raise ValueError("no position to patch")
        if self.objective not in ("capped", "logit_diff"):
            raise ValueError(f"objective must be 'capped' or 'logit_diff', not {self.objective!r}")
        pos_id, neg_id = (int(a) for a in answer_ids)
        c_logits, c_acts = model.run(clean, read=[site])
        k_logits, k_acts = model.run(corrupt, read=[site])
        s_clean = (c_logits[:, pos_id] - c_logits[:, neg_id]).float().cpu()
        s_corrupt = (k_logits[:, pos_id] - k_logits[:, neg_id]).float().cpu()
        sigma = torch.sign(s_clean - s_corrupt)
        src = c_acts[site].float().clone()
        dev = getattr(model, "device", torch.device("cpu"))
        gen = torch.Generator().manual_seed(self.random_state)
        v0 = torch.randn(width, generator=gen, dtype=torch.float32) if self.init is None else \
            torch.as_tensor(np.asarray(self.init), dtype=torch.float32).clone()
        if v0.shape != (width,):
            raise ValueError(f"init must be a vector of width {width}")
        v0 = v0 / v0.norm()  # unit norm: Adam's steps (about lr per coordinate) then turn it at a useful pace
        v = torch.nn.Parameter(v0.to(dev))
        opt = torch.optim.Adam([v], lr=self.lr)
        module = _torch_module(model)
        saved = [(p, p.requires_grad) for p in module.parameters()]
        for p, _ in saved:
            p.requires_grad_(False)

        def patched_scores(rows: torch.Tensor, u: torch.Tensor) -> torch.Tensor:
            b = corrupt.select(rows)
            T = b.mask.shape[1]
            w = where[rows, :T].to(dev)
            clean_src = src[rows, :T].to(dev)
            if hasattr(model, "bridge"):
                def fn(act):
                    new = patch_subspace(act, clean_src.to(act.dtype), u[None].to(act.dtype))
                    return torch.where(w.unsqueeze(-1), new, act)
            else:  # per time step (B, d)
                def fn(act, t):
                    new = patch_subspace(act, clean_src[:, t].to(act.dtype), u[None].to(act.dtype))
                    return torch.where(w[:, t].unsqueeze(-1), new, act)
            logits = _last_logits_with_grad(model, b, [(site, fn)])
            return (logits[:, pos_id] - logits[:, neg_id]).float().cpu()

        capped = self.objective == "capped"

        def loss_of(rows: torch.Tensor, u: torch.Tensor, cap: bool = capped) -> torch.Tensor:
            s = patched_scores(rows, u)
            full = sigma[rows] * (s_clean[rows] - s_corrupt[rows])
            gain = sigma[rows] * (s - s_corrupt[rows])
            if cap:
                gain = torch.minimum(gain, full)
            return 1.0 - gain.sum() / full.sum().clamp_min(1e-6)

        n = len(clean)
        losses: list[float] = []
        try:
            with torch.no_grad():
                self.denoising_init_ = float(1.0 - loss_of(torch.arange(n), v / v.norm(), cap=False))
            bar = None
            if progress:
                from tqdm.auto import tqdm

                bar = tqdm(total=self.steps, desc=f"DAS {site}", leave=False)
            perm, at = torch.randperm(n, generator=gen), 0
            for _ in range(self.steps):
                if at + min(self.batch_size, n) > n:
                    perm, at = torch.randperm(n, generator=gen), 0
                rows = perm[at : at + min(self.batch_size, n)]
                at += len(rows)
                opt.zero_grad()
                with torch.enable_grad():
                    loss = loss_of(rows, v / v.norm())
                    loss.backward()
                opt.step()
                losses.append(float(loss.detach()))
                if bar is not None:
                    bar.update(1)
                    bar.set_postfix(loss=f"{losses[-1]:.3f}")
            if bar is not None:
                bar.close()
            with torch.no_grad():
                u = (v / v.norm()).detach()
                self.denoising_ = float(1.0 - loss_of(torch.arange(n), u, cap=False))
                self.denoising_capped_ = float(1.0 - loss_of(torch.arange(n), u, cap=True))
        finally:
            for p, flag in saved:
                p.requires_grad_(flag)
        self.loss_ = losses
        self.site_ = site
        # canonical sign and threshold from the activations at the patched positions
        if labels is None:
            labels = (s_clean > s_corrupt).long().numpy()
        labels = np.asarray(labels).astype(int).reshape(-1)
        if len(labels) != n:
            raise ValueError(f"{len(labels)} labels for {n} pairs")
        rows, cols = torch.nonzero(where, as_tuple=True)
        Xc = c_acts[site][rows, cols].float().cpu().numpy()
        Xk = k_acts[site][rows, cols].float().cpu().numpy()
        yc = labels[rows.numpy()]
        X = np.concatenate([Xc, Xk]).astype(np.float64)
        y = np.concatenate([yc, 1 - yc])
        if len(set(y.tolist())) < 2:
            raise ValueError("DAS needs pairs of both labels to fix the direction's sign")
        return self._finish(X, y, u.cpu().numpy().astype(np.float64))


FINDERS = {
    "mean_diff": lambda **kw: MeanDiff(),
    "kmeans": lambda **kw: KMeansDirection(random_state=kw.get("seed", 0)),
    "pca": lambda **kw: PCADirection(),
    "logreg_l2": lambda **kw: LogisticDirection("l2", C=kw.get("C", 1.0), random_state=kw.get("seed", 0)),
    "logreg_l1": lambda **kw: LogisticDirection("l1", C=kw.get("C", 1.0), random_state=kw.get("seed", 0)),
    "best_neuron": lambda **kw: BestNeuron(),
    "leace": lambda **kw: Leace(),
    "topk_l1": lambda **kw: TopKNeurons(k=kw.get("k", 10), by="l1", random_state=kw.get("seed", 0)),
    "topk_weight": lambda **kw: TopKNeurons(k=kw.get("k", 10), by="weight", random_state=kw.get("seed", 0)),
}


def make_finder(name: str, **kw) -> DirectionFinder:
    """A finder by name (``mean_diff``, ``kmeans``, ``pca``, ``logreg_l2``, ``logreg_l1``,
    ``best_neuron``, ``leace``, ``topk_l1``, ``topk_weight``); ``kw``: ``seed``, ``C``, ``k``. DAS is built
    directly (it is fit on a model, not on (X, y))."""
    try:
        return FINDERS[name](**kw)
    except KeyError:
        raise ValueError(f"unknown finder {name!r}; choose from {', '.join([*FINDERS, 'das'])}") from None


# --------------------------------------------------------------------------------------------
# Fitting a direction (or a LEACE eraser) per site of a model, on a named data set. Shared by the
# experiments that take ``--directions NAME --fit-data DATA`` (interp ablate, interp patch).

#: fitting data sets :func:`fit_directions` knows
FIT_DATA = {
    "toy": "toy reviews (the ablation template), train adjectives, read at the adjective; scored on the test adjectives",
    "sst_last": "SST train sentences, read at the last token; scored on SST dev sentences",
}
#: the finders :func:`fit_directions` knows (DAS is fit on toy pairs by interchange interventions)
FIT_METHODS = ("mean_diff", "das", "logreg_l2", "leace", "best_neuron")


def check_fit_options(method: str, data: str) -> None:
    """ValueError naming a finder or fitting data set :func:`fit_directions` does not know."""
    if method not in FIT_METHODS:
        raise ValueError(f"unknown finder {method!r}; choose from {', '.join(FIT_METHODS)} (or give a folder of "
                         "saved directions)")
    if data not in FIT_DATA:
        raise ValueError(f"unknown fitting data {data!r}; choose from {', '.join(FIT_DATA)}")
    if method == "das" and data != "toy":
        raise ValueError("das is fit on toy clean/corrupted pairs (interchange interventions): use fitting data 'toy'")


def fit_das_toy(model, site: str, *, steps: int = 200, lr: float = 0.01, batch_size: int = 32,
                objective: str = "capped", seed: int = 0, n_pairs: int | None = None,
                progress: bool = False) -> tuple["DAS", dict]:
    """DAS at ``site`` on toy pairs (train adjectives, the adjective flipped; patched at the
    positions where clean and corrupted differ; answers " good"/" bad", as
    :mod:`interp.experiments.patch`). Returns the fitted :class:`DAS` and what it was fit on."""
    from interp.pairs import toy_pairs

    pairs = toy_pairs(model, part="train", flip="adjective", same_length=False, n=n_pairs)
    clean, corrupt = pairs.tokenize(model)
    where = (clean.tokens != corrupt.tokens) & clean.mask.bool()
    pos, neg = " good", " bad"
    ids = (model.single_token(pos), model.single_token(neg))
    f = DAS(steps=steps, lr=lr, batch_size=batch_size, objective=objective, random_state=seed)
    f.fit_interchange(model, site, clean, corrupt, where, ids, labels=pairs.labels, progress=progress)
    info = {"site": site, "steps": steps, "lr": lr, "batch": batch_size, "objective": objective,
            "answers": [pos, neg], "pairs": {"n": len(pairs), "source": pairs.source, "flip": "adjective",
                                             "part": "train"}}
    return f, info


def fitting_data(model, sites: Sequence[str], data: str = "toy", *, limit: int | None = 1000, seed: int = 0,
                 batch_size: int = 32, progress: bool = False) -> dict:
    """Activations to fit on, per site: ``{"X": {site: (n, d)}, "y", "X_test": {site: (m, d)},
    "y_test", "info"}`` for a data set of :data:`FIT_DATA` (``limit``: SST train sentences, a
    seeded sample; SST dev is the held-out part, all of it)."""
    from interp.tasks import TOY_TEMPLATE, ToyTemplates, gather_at

    if data not in FIT_DATA:
        raise ValueError(f"unknown fitting data {data!r}; choose from {', '.join(FIT_DATA)}")
    sites = list(sites)
    if data == "toy":
        toy = ToyTemplates()
        train, test = toy.prompts(model, "train"), toy.prompts(model, "test")
        X = gather_at(model, train.texts, train.positions, sites, batch_size=batch_size,
                      progress="toy directions (train)" if progress else False)
        Xt = gather_at(model, test.texts, test.positions, sites, batch_size=batch_size,
                       progress="toy directions (test)" if progress else False)
        info = {"data": data, "what": FIT_DATA[data], "read_at": "adjective", "template": TOY_TEMPLATE,
                "train_words": sorted(set(train.words)), "test_words": sorted(set(test.words)),
                "n_train": len(train.texts), "n_test": len(test.texts)}
        return {"X": X, "y": np.asarray(train.labels), "X_test": Xt, "y_test": np.asarray(test.labels), "info": info}
    from interp import data as datasets

    tr = datasets.sst("train")
    if limit is not None and limit < len(tr):
        tr = tr.subset(np.sort(np.random.default_rng(seed).permutation(len(tr))[:limit]))
    dev = datasets.sst("dev")

    def last_token(texts):
        lengths = model.tokenize(list(texts)).lengths
        return gather_at(model, list(texts), (lengths - 1).tolist(), sites, batch_size=batch_size)

    info = {"data": data, "what": FIT_DATA[data], "read_at": "last token", "n_train": len(tr), "n_test": len(dev),
            "limit": limit, "seed": seed}
    return {"X": last_token(tr.texts), "y": np.asarray(tr.labels), "X_test": last_token(dev.texts),
            "y_test": np.asarray(dev.labels), "info": info}


class FittedDirections:
    """What :func:`fit_directions` returns: ``directions`` (site -> :class:`~interp.directions.Direction`),
    ``erasers`` (site -> fitted :class:`Leace`, for ``leace``), ``random_erasers`` (site -> LEACE
    erasers fit on shuffled labels: the matched random control), ``info`` (JSON-able: data,
    method, per-site scores)."""

    def __init__(self, directions, erasers, random_erasers, info):
        self.directions, self.erasers, self.random_erasers, self.info = directions, erasers, random_erasers, info


def fit_directions(model, sites: Sequence[str], method: str = "mean_diff", data: str = "toy", *,
                   limit: int | None = 1000, seed: int = 0, n_random_erasers: int = 0, das_steps: int = 200,
                   das_lr: float = 0.01, das_batch: int = 32, das_objective: str = "capped",
                   das_pairs: int | None = None, batch_size: int = 32, progress: bool = True) -> FittedDirections:
    """One direction per site, by finder ``method`` (:data:`FIT_METHODS`) on fitting data ``data``
    (:data:`FIT_DATA`), each with its provenance and its accuracy on the fitting data and on the
    held-out part (``fit_train_acc``, ``fit_test_acc``; ``toy_*`` too for toy data). ``leace``
    also returns the fitted erasers (and ``n_random_erasers`` shuffled-label ones per site);
    ``das`` is fit per site on toy pairs (:func:`fit_das_toy`)."""
    check_fit_options(method, data)
    sites = list(sites)
    F = fitting_data(model, sites, data, limit=limit, seed=seed, batch_size=batch_size, progress=progress)
    y, yt = F["y"], F["y_test"]
    directions, erasers, random_erasers, per_site = {}, {}, {}, {}
    flags = {"read_at": F["info"]["read_at"], "fit_data": data, "bos": bool(getattr(model, "bos_token_id", None) is not None)}
    if data == "toy":
        flags["template"] = F["info"]["template"]
    data_text = f"{data}: {FIT_DATA[data]} ({F['info']['n_train']} fit, {F['info']['n_test']} held out)"
    iterator = sites
    if progress:
        from tqdm.auto import tqdm

        iterator = tqdm(sites, desc=f"fitting {method} on {data}", leave=False)
    for s in iterator:
        X, Xt = F["X"][s].numpy(), F["X_test"][s].numpy()
        extra: dict = {}
        if method == "das":
            f, das_info = fit_das_toy(model, s, steps=das_steps, lr=das_lr, batch_size=das_batch,
                                      objective=das_objective, seed=seed, n_pairs=das_pairs, progress=progress)
            extra = {"denoising_train": f.denoising_, "denoising_init": f.denoising_init_}
            f.n_features_in_ = X.shape[1]
            # re-centre the threshold on the fitting data, so that the held-out score means what it does elsewhere
            p = X @ f.direction_
            f.threshold_ = float((p[y == 1].mean() + p[y == 0].mean()) / 2)
            das_flags = {k: das_info[k] for k in ("steps", "lr", "batch", "objective", "answers")}
            das_flags["pairs"] = das_info["pairs"]["n"]
        else:
            f = make_finder(method, seed=seed).fit(X, y)
            das_flags = {}
        m = {"fit_train_acc": f.score(X, y), "fit_test_acc": f.score(Xt, yt), **extra}
        if data == "toy":
            m.update(toy_train_acc=m["fit_train_acc"], toy_test_acc=m["fit_test_acc"])
        d = f.to_direction(s, model=model.name, method=method, seed=seed,
                           data=data_text if method != "das" else "toy pairs (train adjectives, flip=adjective), "
                           "interchange interventions at the adjective",
                           flags={**flags, **das_flags}, metrics=m)
        directions[s] = d
        per_site[s] = m
        if method == "leace":
            erasers[s] = f
            if n_random_erasers:
                rng = np.random.default_rng(seed * 7919 + sites.index(s))
                random_erasers[s] = [Leace().fit(X, rng.permutation(y)) for _ in range(n_random_erasers)]
    info = {**F["info"], "method": method, "per_site": per_site}
    if method == "leace":
        info["leace_rank"] = {s: e.rank_ for s, e in erasers.items()}
        info["n_random_erasers"] = n_random_erasers
    return FittedDirections(directions, erasers, random_erasers, info)
