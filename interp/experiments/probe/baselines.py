"""What the trained mLSTM's probes are measured against: the untrained model (same config, random
init from the config's seed) and a bag-of-words logistic regression."""

from __future__ import annotations

from typing import Optional, Sequence

import numpy as np

from interp.experiments.probe.features import _texts
from interp.finders.linear import _logreg
from interp.models.mlstm import MLSTM

#: The bag-of-words baseline's grid, 2^-4 … 2^6.
C_GRID_BOW: tuple[float, ...] = tuple(2.0**k for k in range(-4, 7))


def untrained_like(model: MLSTM) -> MLSTM:
    """A freshly initialised model of the same architecture and size, from the config's seed."""
    fresh = MLSTM(model.cfg, dtype=model.dtype, tokenizer=model.tokenizer)
    return fresh.to(model.device).eval()


def bag_of_words(
    train_texts: Sequence[str],
    train_y: np.ndarray,
    dev_texts: Sequence[str],
    dev_y: np.ndarray,
    test_texts: Optional[Sequence[str]] = None,
    test_y: Optional[np.ndarray] = None,
    *,
    vectorizer: str = "tfidf",
    ngram_range: tuple[int, int] = (1, 2),
    C_grid: Sequence[float] = C_GRID_BOW,
    min_df: int = 1,
) -> dict:
    """Bag-of-words baseline: ``vectorizer`` (``"tfidf"``: sublinear tf-idf, or ``"count"``:
    binary counts) over word ``ngram_range`` fitted on train, then an L2 logistic regression
    (liblinear) with ``C`` chosen on dev over ``C_grid`` (ties: the smallest). Test is scored
    only if given. Returns ``C``, ``dev_acc_by_C``, ``train_acc``, ``dev_acc``, ``test_acc``,
    ``n_features`` and the settings."""
    from sklearn.feature_extraction.text import CountVectorizer, TfidfVectorizer

    if vectorizer == "tfidf":
        vec = TfidfVectorizer(ngram_range=tuple(ngram_range), sublinear_tf=True, min_df=min_df)
    elif vectorizer == "count":
        vec = CountVectorizer(ngram_range=tuple(ngram_range), binary=True, min_df=min_df)
    else:
        raise ValueError(f"vectorizer must be 'tfidf' or 'count', got {vectorizer!r}")
    train_texts, dev_texts = _texts(train_texts), _texts(dev_texts)
    Xtr = vec.fit_transform(train_texts)
    Xdev = vec.transform(dev_texts)
    train_y, dev_y = np.asarray(train_y).astype(int), np.asarray(dev_y).astype(int)
    dev_by_C = [float(_logreg("l2", C, None).fit(Xtr, train_y).score(Xdev, dev_y)) for C in C_grid]
    C = float(C_grid[int(np.argmax(dev_by_C))])
    m = _logreg("l2", C, None).fit(Xtr, train_y)
    out = {
        "vectorizer": vectorizer, "ngram_range": list(ngram_range), "min_df": min_df, "C": C,
        "C_grid": list(C_grid), "dev_acc_by_C": dev_by_C, "train_acc": float(m.score(Xtr, train_y)),
        "dev_acc": float(m.score(Xdev, dev_y)), "test_acc": None, "n_features": int(Xtr.shape[1]),
    }
    if test_texts is not None and test_y is not None:
        out["test_acc"] = float(m.score(vec.transform(_texts(test_texts)), np.asarray(test_y).astype(int)))
    return out
