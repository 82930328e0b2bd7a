"""A sentiment judge that never saw the model it judges: tf-idf + logistic regression on IMDB.

Steering experiments (``analyses/mlstm_steer_eval.py``, :mod:`interp.experiments.steer`) count
how a held unit or an added direction changes the sentiment of what a model writes. The judge
is a bag-of-1-2-grams classifier fitted on IMDB train reviews and scored on IMDB test reviews
for its own accuracy; its ``predict_proba(texts)[:, 1]`` is the judged P(positive).
"""

from __future__ import annotations

import numpy as np

from interp import data

__all__ = ["fit_judge", "judge_sources"]


def fit_judge(n_train: int = 25000, n_test: int = 5000, seed: int = 0):
    """tf-idf (1-2-grams, ``min_df=2``, sublinear tf) + logistic regression (``C=4``) on ``n_train``
    random IMDB train reviews; its accuracy on ``n_test`` random IMDB test reviews.

    Returns ``(pipeline, test accuracy)``; ``pipeline.predict_proba(texts)[:, 1]`` is P(positive).
    """
    for name, n in (("n_train", n_train), ("n_test", n_test)):
        if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 2:
            raise ValueError(f"judge {name} must be an int >= 2, got {n!r}")
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline

    rng = np.random.default_rng(seed)
    tr, te = data.imdb("train"), data.imdb("test")
    i = rng.permutation(len(tr))[:n_train]
    j = rng.permutation(len(te))[:n_test]
    judge = make_pipeline(TfidfVectorizer(ngram_range=(1, 2), min_df=2, sublinear_tf=True),
                          LogisticRegression(C=4.0, max_iter=2000))
    judge.fit([tr.texts[k] for k in i], tr.labels[i])
    acc = float(judge.score([te.texts[k] for k in j], te.labels[j]))
    return judge, acc


def judge_sources() -> list[str]:
    """The IMDB files the judge is fitted and scored on (for a result's manifest)."""
    return [*data.imdb("train", limit=0).sources, *data.imdb("test", limit=0).sources]
