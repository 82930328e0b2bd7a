"""The labelled texts the probes fit and score on: SST train/dev/test, or whole IMDB reviews (the
in-domain check for an mLSTM trained on IMDB)."""

from __future__ import annotations

from typing import Optional

import numpy as np

from interp.finders.probes import stratified_sample

def _limit(lt, limit: Optional[int], seed: int, name: str):
    """``limit`` stratified random rows of ``lt`` (clamped to its size; ``None`` or 0: all)."""
    from interp.validate import check_limit

    limit = check_limit("--limit", limit)
    if limit is None or limit >= len(lt):
        return lt
    rng = np.random.default_rng([seed, len(lt)])
    idx = stratified_sample(lt.labels, int(limit), rng)
    return lt.subset(idx)


PROBE_DATA = ("sst", "imdb")
IMDB_DEFAULT_LIMIT = 1000


def probe_splits(data: str = "sst", limit: Optional[int] = None, seed: int = 0) -> dict:
    """Train/dev/test :class:`~interp.data.LabelledTexts` for :func:`probe_report`.

    ``"sst"``: the binary SST splits (``limit``: N random sentences of each, stratified, seeded).
    ``"imdb"``: whole IMDB reviews, in-domain for an mLSTM trained on IMDB: train and dev are two
    disjoint class-balanced samples of ``limit`` reviews (default 1,000) from IMDB *train*, test
    ``limit`` reviews from IMDB *test* (the language model never read test)."""
    from interp import data as D

    if data not in PROBE_DATA:
        raise ValueError(f"unknown probe data {data!r}: choose among {', '.join(PROBE_DATA)}")
    if data == "sst":
        return {s: _limit(D.sst(s), limit, seed, s) for s in ("train", "dev", "test")}
    from interp.validate import check_limit

    n = check_limit("--limit", limit) or IMDB_DEFAULT_LIMIT
    tr, te = D.imdb("train"), D.imdb("test")
    if 2 * n > len(tr) or n > len(te):
        raise ValueError(f"limit {n} too large for IMDB (train {len(tr)} rows gives 2×limit, test {len(te)})")
    rng = np.random.default_rng([seed, len(tr), n])
    halves: list[list[int]] = [[], []]
    for cls in (0, 1):
        rows = rng.permutation(np.flatnonzero(tr.labels == cls))
        k = n // 2 if cls == 1 else n - n // 2
        halves[0] += rows[:k].tolist()
        halves[1] += rows[k : 2 * k].tolist()
    return {"train": tr.subset(np.sort(halves[0])), "dev": tr.subset(np.sort(halves[1])),
            "test": _limit(te, n, seed, "test")}
