"""Radford et al.'s (2017) probes for sentiment over features ``(n, d)`` (e.g. an mLSTM's final
state), with train/dev/test splits:

- :func:`sentiment_probes`: an L1 logistic regression (liblinear) with ``C`` in ``2^-8 … 2^0``
  chosen on **dev** accuracy, fitted on train, scored on test, with its number of non-zero
  weights; the single best unit, chosen by dev accuracy with a dev-fitted threshold and sign; an
  L2 logistic regression over all units (``C`` chosen on dev too). Features are standardised
  with the **train** set's per-unit mean and standard deviation (applied unchanged to dev and
  test). Radford et al. fed raw features; standardising puts every unit under the same L1 price,
  so which units the L1 probe picks does not depend on their scale. A threshold on one unit is
  unaffected.
- :func:`data_efficiency`: test accuracy of the L1 probe against the number of labelled
  training examples (:func:`stratified_sample` draws them).

The experiment that runs them on the byte mLSTM is :mod:`interp.experiments.probe`
(``interp probe-mlstm``).
"""

from __future__ import annotations

from typing import Any, Optional, Sequence, Union

import numpy as np

from interp import metrics
from interp.finders.linear import _logreg, _standardiser
from interp.metrics import unit_accuracies

__all__ = ["C_GRID_L1", "C_GRID_L2", "STANDARDISATION", "sentiment_probes", "stratified_sample", "data_efficiency"]

#: Radford et al.'s grid for the L1 probe: 2^-8 … 2^0 (9 values).
C_GRID_L1: tuple[float, ...] = tuple(2.0**k for k in range(-8, 1))
#: The L2 probe's grid, 2^-12 … 2^0 (13 values): on 512 standardised units L2 wants smaller C.
C_GRID_L2: tuple[float, ...] = tuple(2.0**k for k in range(-12, 1))

STANDARDISATION = (
    "features standardised per unit with the train set's mean and standard deviation "
    "(the same statistics applied to dev and test; constant units left unscaled)"
)


def _standardise(train_X: np.ndarray, *others: np.ndarray) -> tuple[list[np.ndarray], np.ndarray, np.ndarray]:
    """Every array standardised with ``train_X``'s per-unit mean and standard deviation (float64);
    also returns (mean, std)."""
    train_X = np.asarray(train_X, dtype=np.float64)
    mu, sd = _standardiser(train_X, True)
    return [(np.asarray(X, dtype=np.float64) - mu) / sd for X in (train_X, *others)], mu, sd


def _fit_cv(penalty: str, Xtr, ytr, Xdev, ydev, grid: Sequence[float], seed: int):
    """Fit each C on train, score on dev, pick the best (first of ties, i.e. the smallest C),
    refit on train with that C. Seeds follow Radford et al.'s ``train_with_reg_cv``: ``seed + i``
    for the i-th C, ``seed + len(grid)`` for the refit (they matter for liblinear only)."""
    dev_acc = []
    for i, C in enumerate(grid):
        m = _logreg(penalty, C, seed + i).fit(Xtr, ytr)
        dev_acc.append(float(m.score(Xdev, ydev)))
    best = int(np.argmax(dev_acc))
    C = float(grid[best])
    model = _logreg(penalty, C, seed + len(grid)).fit(Xtr, ytr)
    return model, C, dev_acc


def sentiment_probes(
    train_X: np.ndarray,
    train_y: np.ndarray,
    dev_X: np.ndarray,
    dev_y: np.ndarray,
    test_X: np.ndarray,
    test_y: np.ndarray,
    *,
    seed: int = 0,
    C_grid_l1: Sequence[float] = C_GRID_L1,
    C_grid_l2: Sequence[float] = C_GRID_L2,
    top_k: int = 10,
    l2: bool = True,
) -> dict:
    """Radford et al.'s probes on features ``(n, d)`` with 0/1 labels; see the module docstring.

    Returns a JSON-able dict:

    - ``l1``: ``C`` (chosen on dev), ``C_grid``, ``dev_acc_by_C``, ``train_acc``, ``dev_acc``,
      ``test_acc``, ``n_nonzero``, ``top_units`` (largest ``|weight|``: unit, weight), ``coef``
      (per unit, on standardised features), ``intercept``.
    - ``l2``: the same for the L2 probe over all units (no ``top_units``), or None if ``l2=False``.
    - ``best_unit``: ``unit``, ``sign`` (+1: high = positive), ``threshold`` (raw units; predict
      positive when ``sign * x > threshold``), ``dev_acc`` (what it was chosen by), ``test_acc``,
      ``train_acc``, ``pos_mean``/``neg_mean``/``std`` on train (raw units),
      ``top_units_by_dev_acc``.
    - ``per_unit_dev_acc``: every unit's best thresholded dev accuracy (either sign).
    - ``best_unit_share_of_l2``: ``(acc_unit - 0.5) / (acc_L2 - 0.5)`` on test: how much of the
      L2 probe's above-chance accuracy the single unit carries.
    - ``standardisation``, ``n_train``/``n_dev``/``n_test``, ``d``, ``seed``.

    The best unit is chosen by plain dev accuracy (not balanced), with its threshold fitted on
    dev (:func:`interp.metrics.fit_threshold`, ``balanced=False``); nothing here looks at test
    labels except to score.
    """
    train_y, dev_y, test_y = (np.asarray(a).astype(int).reshape(-1) for a in (train_y, dev_y, test_y))
    train_X, dev_X, test_X = (np.asarray(a, dtype=np.float64) for a in (train_X, dev_X, test_X))
    for name, X, y in (("train", train_X, train_y), ("dev", dev_X, dev_y), ("test", test_X, test_y)):
        if X.ndim != 2 or X.shape[0] != len(y):
            raise ValueError(f"{name}: features {X.shape} do not match {len(y)} labels")
        if name != "test" and len(set(y.tolist())) < 2:
            raise ValueError(f"{name} needs both classes")
    d = train_X.shape[1]
    if dev_X.shape[1] != d or test_X.shape[1] != d:
        raise ValueError(f"feature widths differ: train {d}, dev {dev_X.shape[1]}, test {test_X.shape[1]}")
    (Ztr, Zdev, Zte), _, _ = _standardise(train_X, dev_X, test_X)
    out: dict[str, Any] = {"standardisation": STANDARDISATION, "n_train": len(train_y), "n_dev": len(dev_y),
                           "n_test": len(test_y), "d": d, "seed": seed}

    m, C, dev_by_C = _fit_cv("l1", Ztr, train_y, Zdev, dev_y, C_grid_l1, seed)
    coef = m.coef_.reshape(-1)
    top = np.argsort(-np.abs(coef), kind="stable")[: min(top_k, int((coef != 0).sum()))]
    out["l1"] = {
        "C": C, "C_grid": list(C_grid_l1), "dev_acc_by_C": dev_by_C,
        "train_acc": float(m.score(Ztr, train_y)), "dev_acc": float(m.score(Zdev, dev_y)),
        "test_acc": float(m.score(Zte, test_y)), "n_nonzero": int((coef != 0).sum()),
        "top_units": [{"unit": int(u), "weight": float(coef[u])} for u in top],
        "coef": coef.astype(float).tolist(), "intercept": float(m.intercept_[0]),
        "solver": "liblinear",
    }
    if l2:
        m2, C2, dev_by_C2 = _fit_cv("l2", Ztr, train_y, Zdev, dev_y, C_grid_l2, seed)
        coef2 = m2.coef_.reshape(-1)
        out["l2"] = {
            "C": C2, "C_grid": list(C_grid_l2), "dev_acc_by_C": dev_by_C2,
            "train_acc": float(m2.score(Ztr, train_y)), "dev_acc": float(m2.score(Zdev, dev_y)),
            "test_acc": float(m2.score(Zte, test_y)), "n_nonzero": int((coef2 != 0).sum()),
            "coef": coef2.astype(float).tolist(), "intercept": float(m2.intercept_[0]), "solver": "liblinear",
        }
    else:
        out["l2"] = None

    acc, sign = unit_accuracies(dev_X, dev_y, balanced=False)
    u = int(np.argmax(acc))  # first of ties
    s = int(sign[u])
    thr = metrics.fit_threshold(s * dev_X[:, u], dev_y, balanced=False)
    ranked = np.argsort(-acc, kind="stable")[:top_k]
    out["best_unit"] = {
        "unit": u, "sign": s, "threshold": float(thr),
        "dev_acc": metrics.accuracy(s * dev_X[:, u], dev_y, thr),
        "test_acc": metrics.accuracy(s * test_X[:, u], test_y, thr),
        "train_acc": metrics.accuracy(s * train_X[:, u], train_y, thr),
        "pos_mean": float(train_X[train_y == 1, u].mean()), "neg_mean": float(train_X[train_y == 0, u].mean()),
        "std": float(train_X[:, u].std()),
        "min": float(train_X[:, u].min()), "max": float(train_X[:, u].max()),
        "selection": "plain dev accuracy of a dev-fitted threshold, either sign",
        "top_units_by_dev_acc": [{"unit": int(k), "dev_acc": float(acc[k]), "sign": int(sign[k])} for k in ranked],
    }
    out["per_unit_dev_acc"] = acc.astype(float).tolist()
    if out["l2"] is not None and out["l2"]["test_acc"] > 0.5:
        out["best_unit_share_of_l2"] = (out["best_unit"]["test_acc"] - 0.5) / (out["l2"]["test_acc"] - 0.5)
    else:
        out["best_unit_share_of_l2"] = None
    return out


def stratified_sample(y: np.ndarray, n: int, rng: np.random.Generator) -> np.ndarray:
    """``n`` rows drawn without replacement, classes in proportion (at least one of each)."""
    pos, neg = np.flatnonzero(y == 1), np.flatnonzero(y != 1)
    n_pos = int(round(n * len(pos) / len(y)))
    n_pos = min(max(n_pos, 1), len(pos), n - 1)
    n_neg = min(n - n_pos, len(neg))
    idx = np.concatenate([rng.choice(pos, n_pos, replace=False), rng.choice(neg, n_neg, replace=False)])
    return np.sort(idx)


def data_efficiency(
    train_X: np.ndarray,
    train_y: np.ndarray,
    test_X: np.ndarray,
    test_y: np.ndarray,
    sizes: Sequence[int] = (10, 20, 50, 100, 200, 500, 1000, 2000, 6920),
    seeds: Sequence[int] = (0, 1, 2),
    *,
    dev_X: Optional[np.ndarray] = None,
    dev_y: Optional[np.ndarray] = None,
    C: Union[str, float] = "dev",
    C_grid: Sequence[float] = C_GRID_L1,
    progress: bool = False,
) -> dict:
    """Test accuracy of the L1 probe against the number of labelled training sentences.

    For each size ``n`` and seed: ``n`` training rows drawn without replacement, stratified by
    class (at least one of each); an L1 logistic regression (liblinear) fitted on them; ``C``
    chosen on the (full) dev set over ``C_grid`` when ``C="dev"`` (the default; needs ``dev_X``,
    ``dev_y``; note that dev's labels are then used too), else the fixed float given. Features
    are standardised with the statistics of the **whole** train set's features (unlabelled, so
    this uses no extra labels). Sizes above the train set's size are clipped to it (duplicates
    dropped); at the full size every seed would draw the same sample, so it is fitted once
    (first seed; its spread is 0).

    Returns ``sizes``, ``acc`` (per size, per seed; one value at the full size), ``mean``,
    ``std``, ``min``, ``max``, ``C`` (chosen, same layout as ``acc``), ``C_rule``, ``seeds``,
    ``standardisation``.
    """
    train_y, test_y = np.asarray(train_y).astype(int), np.asarray(test_y).astype(int)
    use_dev = isinstance(C, str)
    if use_dev:
        if C != "dev":
            raise ValueError(f"C must be 'dev' or a positive float, got {C!r}")
        if dev_X is None or dev_y is None:
            raise ValueError("C='dev' needs dev_X and dev_y")
        (Ztr, Zte, Zdev), _, _ = _standardise(train_X, test_X, dev_X)
        dev_y = np.asarray(dev_y).astype(int)
    else:
        if not float(C) > 0:
            raise ValueError(f"C must be positive, got {C!r}")
        (Ztr, Zte), _, _ = _standardise(train_X, test_X)
    n_train = len(train_y)
    sz = sorted({min(int(s), n_train) for s in sizes if int(s) >= 2})
    if not sz:
        raise ValueError(f"no usable sizes in {sizes!r} (need at least 2 rows)")
    accs, Cs = [], []
    it = [(n, s) for n in sz for s in (seeds[:1] if n >= n_train else seeds)]
    bar = None
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=len(it), desc="data efficiency", dynamic_ncols=True)
    for n in sz:
        row, rowC = [], []
        # the whole train set is the same sample for every seed: fit it once (first seed)
        for s in (seeds[:1] if n >= n_train else seeds):
            rng = np.random.default_rng([int(s), n])
            idx = np.arange(n_train) if n >= n_train else stratified_sample(train_y, n, rng)
            if use_dev:
                m, c, _ = _fit_cv("l1", Ztr[idx], train_y[idx], Zdev, dev_y, C_grid, int(s))
            else:
                c = float(C)
                m = _logreg("l1", c, int(s)).fit(Ztr[idx], train_y[idx])
            row.append(float(m.score(Zte, test_y)))
            rowC.append(c)
            if bar is not None:
                bar.update(1)
        accs.append(row)
        Cs.append(rowC)
    if bar is not None:
        bar.close()
    return {
        "sizes": sz, "seeds": [int(s) for s in seeds], "acc": accs, "C": Cs,
        "mean": [float(np.mean(a)) for a in accs], "std": [float(np.std(a)) for a in accs],
        "min": [float(np.min(a)) for a in accs], "max": [float(np.max(a)) for a in accs],
        "C_rule": (f"C chosen on the full dev set over {len(C_grid)} values 2^-8…2^0" if use_dev
                   else f"fixed C={float(C)}"),
        "standardisation": "per unit, with the whole train set's feature mean and std (no labels)",
        "sampling": "stratified by class, without replacement, seeded by (seed, size)",
    }
