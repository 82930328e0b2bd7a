"""Metrics on per-example numbers: accuracy, dev-fitted thresholds, AUROC, the share of
above-chance accuracy an intervention removes, and paired bootstrap intervals.

``fraction_removed = (acc0 - acc) / (acc0 - 0.5)``: 0 means the intervention changed nothing,
1 means it brought the model down to chance, above 1 means below chance. When the baseline is
at or below chance the share is undefined: :func:`fraction_removed` gives NaN, the bootstrap gives
no interval, and :func:`format_removed` prints :data:`UNDEFINED` instead of a number.
"""

from __future__ import annotations

import numpy as np


def predictions(scores: np.ndarray, threshold: float = 0.0) -> np.ndarray:
    return (np.asarray(scores) > threshold).astype(int)


def accuracy(scores: np.ndarray, labels: np.ndarray, threshold: float = 0.0) -> float:
    return float((predictions(scores, threshold) == np.asarray(labels)).mean())


def balanced_accuracy(scores: np.ndarray, labels: np.ndarray, threshold: float = 0.0) -> float:
    pred, labels = predictions(scores, threshold), np.asarray(labels)
    return float(np.mean([(pred[labels == c] == c).mean() for c in (0, 1)]))


def fit_threshold(scores: np.ndarray, labels: np.ndarray, balanced: bool = True) -> float:
    """The cut on ``scores`` that maximises (balanced) accuracy: fit this on dev, apply on test."""
    scores, labels = np.asarray(scores, dtype=float), np.asarray(labels)
    if len(scores) == 0 or len(set(labels.tolist())) < 2:
        raise ValueError("fitting a threshold needs scores for both classes")
    s = np.unique(scores)
    cands = np.concatenate([[s[0] - 1.0], (s[:-1] + s[1:]) / 2, [s[-1] + 1.0]])
    score = balanced_accuracy if balanced else accuracy
    vals = np.array([score(scores, labels, c) for c in cands])
    best = np.flatnonzero(vals == vals.max())
    return float(cands[best[len(best) // 2]])  # middle of the best plateau


def auroc(scores: np.ndarray, labels: np.ndarray) -> float:
    from sklearn.metrics import roc_auc_score

    return float(roc_auc_score(labels, scores))


#: What a share removed prints as when the baseline is at or below chance.
UNDEFINED = "undefined: baseline at or below chance"


def format_removed(point: float, lo: float | None = None, hi: float | None = None, *, undefined: str = UNDEFINED) -> str:
    """``"12.3% [4.0%, 20.1%]"``; ``undefined`` (:data:`UNDEFINED` unless another reason is given)
    when the point estimate is NaN, never a NaN beside an interval; ``"12.3% [no interval]"`` when
    the bootstrap gave none."""
    import math

    if point is None or not math.isfinite(point):
        return undefined
    if lo is None and hi is None:
        return f"{point:.1%}"
    if lo is None or hi is None or not (math.isfinite(lo) and math.isfinite(hi)):
        return f"{point:.1%} [no interval]"
    return f"{point:.1%} [{lo:.1%}, {hi:.1%}]"


def fraction_removed(acc0: float, acc: float) -> float:
    if acc0 <= 0.5:
        return float("nan")
    return (acc0 - acc) / (acc0 - 0.5)


def bootstrap_removed(
    correct0: np.ndarray, correct: np.ndarray, n_boot: int = 2000, seed: int = 0, level: float = 0.95
) -> tuple[float, float, float]:
    """Point estimate and paired bootstrap interval of :func:`fraction_removed`.

    ``correct0`` and ``correct`` are per-example 0/1 outcomes without and with the
    intervention, on the same examples; resampling is paired.
    """
    if isinstance(n_boot, bool) or not isinstance(n_boot, (int, np.integer)) or n_boot < 1:
        raise ValueError(f"n_boot must be at least 1, got {n_boot!r}")
    c0, c1 = np.asarray(correct0, dtype=float), np.asarray(correct, dtype=float)
    if c0.shape != c1.shape or c0.ndim != 1 or len(c0) == 0:
        raise ValueError(f"paired outcomes needed; got shapes {c0.shape} and {c1.shape}")
    point = fraction_removed(c0.mean(), c1.mean())
    if not np.isfinite(point):  # baseline at or below chance: no share, hence no interval either
        return float("nan"), float("nan"), float("nan")
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, len(c0), size=(n_boot, len(c0)))
    a0, a1 = c0[idx].mean(1), c1[idx].mean(1)
    with np.errstate(divide="ignore", invalid="ignore"):
        fr = np.where(a0 > 0.5, (a0 - a1) / (a0 - 0.5), np.nan)
    fr = fr[np.isfinite(fr)]
    if len(fr) == 0:
        return point, float("nan"), float("nan")
    lo, hi = np.quantile(fr, [(1 - level) / 2, 1 - (1 - level) / 2])
    return float(point), float(lo), float(hi)


def bootstrap_mean(values: np.ndarray, n_boot: int = 2000, seed: int = 0, level: float = 0.95) -> tuple[float, float, float]:
    v = np.asarray(values, dtype=float)
    rng = np.random.default_rng(seed)
    means = v[rng.integers(0, len(v), size=(n_boot, len(v)))].mean(1)
    lo, hi = np.quantile(means, [(1 - level) / 2, 1 - (1 - level) / 2])
    return float(v.mean()), float(lo), float(hi)


def unit_accuracies(X: np.ndarray, y: np.ndarray, balanced: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """For every unit (column of ``X``): the best accuracy of a threshold on it, either sign.

    Returns ``(acc (d,), sign (d,))``: ``sign`` +1 when "above the cut = positive" is the better
    rule, -1 when the flipped one is. Cuts lie between distinct values (as
    :func:`interp.metrics.fit_threshold`'s), so a unit's value here equals the accuracy of
    ``fit_threshold(sign * x, y, balanced)`` (vectorised over units).
    """
    X = np.asarray(X, dtype=np.float64)
    y = np.asarray(y).astype(int)
    n, d = X.shape
    if len(y) != n or len(set(y.tolist())) < 2:
        raise ValueError("unit_accuracies needs one label per row and both classes")
    order = np.argsort(X, axis=0, kind="stable")
    Xs = np.take_along_axis(X, order, 0)
    pos = (y[order] == 1).astype(np.float64)
    pos_below = np.vstack([np.zeros((1, d)), np.cumsum(pos, 0)])  # (n+1, d): positives among the k lowest
    k = np.arange(n + 1, dtype=np.float64)[:, None]
    neg_below = k - pos_below
    P, N = float((y == 1).sum()), float((y != 1).sum())
    if balanced:
        acc = 0.5 * ((P - pos_below) / P + neg_below / N)  # predict positive above the cut
    else:
        acc = (neg_below + P - pos_below) / n
    valid = np.ones((n + 1, d), dtype=bool)
    valid[1:n] = Xs[:-1] < Xs[1:]
    up = np.where(valid, acc, -np.inf).max(0)
    down = np.where(valid, 1.0 - acc, -np.inf).max(0)
    return np.maximum(up, down), np.where(up >= down, 1, -1)


def denoising_per_pair(clean, corrupt, patched) -> np.ndarray:
    """Per pair ``(s_patched − s_corrupt)/(s_clean − s_corrupt)`` (NaN where clean = corrupt)."""
    clean, corrupt, patched = (np.asarray(x, dtype=float) for x in (clean, corrupt, patched))
    gap = clean - corrupt
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(gap != 0, (patched - corrupt) / gap, np.nan)


def denoising(clean, corrupt, patched) -> float:
    """Pooled logit-difference denoising: 0 = corrupted, 1 = clean (see the module docstring)."""
    clean, corrupt, patched = (np.asarray(x, dtype=float) for x in (clean, corrupt, patched))
    sign = np.sign(clean - corrupt)
    gap = float(np.sum(sign * (clean - corrupt)))
    if gap == 0:
        return float("nan")
    return float(np.sum(sign * (patched - corrupt)) / gap)
