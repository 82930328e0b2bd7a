"""The Large Movie Review Dataset v1, IMDB (Maas et al. 2011), as ``imdb/{train,test,unsup}.jsonl.gz``
or as the original ``aclImdb/`` folder.

Texts keep the original ``<br />`` tags. Rows come all negative first, then all positive:
``limit`` on a labelled split gives one class only.
"""

from __future__ import annotations

import gzip
import itertools
import json
import re
from collections.abc import Iterable, Iterator
from pathlib import Path

import numpy as np

from interp import config
from interp.config import DataNotFoundError
from interp.data.files import DataFileError, _check_split, _file, _where
from interp.data.texts import LabelledTexts, Source

_ACL_NAME = re.compile(r"^(\d+)_(\d+)\.txt$")


def _imdb_source(split: str) -> tuple[str, Source]:
    """('jsonl', file) or ('acl', (folders...)) for a split."""
    root = config.data_dir()
    jdir = root / "imdb"
    adir = root / "aclImdb"
    if jdir.is_dir():
        return "jsonl", _file(jdir, f"{split}.jsonl.gz", lines=False)
    if adir.is_dir():
        if split == "unsup":
            subs = (adir / "train" / "unsup",)
        else:
            subs = (adir / split / "neg", adir / split / "pos")
        for s in subs:
            if not s.is_dir():
                raise DataNotFoundError(f"data folder not found: {s}; {_where(root)}")
        return "acl", subs
    raise DataNotFoundError(
        f"data folder not found: {jdir} (nor the original layout {adir}); {_where(root)}"
    )


def _iter_imdb(split: str) -> Iterator[tuple[int, int, int, str]]:
    """(id, rating, label, text) rows of a split: negatives first, then positives."""
    _check_split("imdb", split)
    kind, source = _imdb_source(split)
    if kind == "jsonl":
        assert isinstance(source, Path)
        try:
            with gzip.open(source, "rt", encoding="utf-8") as f:
                for lineno, line in enumerate(f, start=1):
                    if line.strip():
                        try:
                            d = json.loads(line)
                            row = int(d["id"]), int(d["rating"]), int(d["label"]), d["text"]
                        except (ValueError, KeyError, TypeError) as e:
                            raise DataFileError(f"{source}:{lineno}: not an IMDB row ({e})") from None
                        if row[2] not in (-1, 0, 1) or not isinstance(row[3], str):
                            raise DataFileError(f"{source}:{lineno}: label {row[2]} is not one of -1, 0, 1")
                        yield row
        except (EOFError, gzip.BadGzipFile, OSError) as e:
            if isinstance(e, DataNotFoundError):
                raise
            raise DataFileError(f"data file {source} is cut short or not gzip ({e}); copy it again from the source") from None
        return
    assert isinstance(source, tuple)
    for folder in source:
        label = {"neg": 0, "pos": 1}.get(folder.name, -1)
        for p in sorted(folder.iterdir(), key=lambda p: p.name):
            m = _ACL_NAME.match(p.name)
            if not m:
                continue
            yield int(m[1]), int(m[2]), label, p.read_text(encoding="utf-8")


def imdb(split: str, limit: int | None = None) -> LabelledTexts:
    """IMDB reviews (label 1 pos, 0 neg, -1 unsup), read as a stream; ``limit`` stops early.

    Rows come in the dataset's file order: **all negatives, then all positives**, so
    ``limit`` on train or test alone yields one class; sample from the full split instead.
    ``meta`` holds ``ids`` and ``ratings`` (1-10; 0 in unsup).
    """
    _check_split("imdb", split)
    if limit is not None and (not isinstance(limit, (int, np.integer)) or limit < 0):
        raise ValueError(f"limit must be a non-negative int or None, got {limit!r}")
    _, source = _imdb_source(split)
    rows = list(itertools.islice(_iter_imdb(split), limit))
    ids = np.array([r[0] for r in rows], dtype=np.int64)
    ratings = np.array([r[1] for r in rows], dtype=np.int64)
    return LabelledTexts(
        [r[3] for r in rows],
        np.array([r[2] for r in rows], dtype=np.int64),
        f"imdb/{split}",
        source,
        meta={"ids": ids, "ratings": ratings},
    )


def iter_imdb_texts(
    splits: Iterable[str] | str = ("train", "unsup"), *, allow_test: bool = False
) -> Iterator[str]:
    """Stream IMDB review texts, e.g. as a language-model corpus.

    ``test`` is refused unless ``allow_test=True`` as well: training on it leaks the
    evaluation set.
    """
    splits = (splits,) if isinstance(splits, str) else tuple(splits)
    for s in splits:
        _check_split("imdb", s)
    if "test" in splits and not allow_test:
        raise ValueError(
            "iter_imdb_texts refuses the 'test' split (it would leak the evaluation set into "
            "training); pass allow_test=True if you really mean it"
        )
    for s in splits:
        for _, _, _, text in _iter_imdb(s):
            yield text
