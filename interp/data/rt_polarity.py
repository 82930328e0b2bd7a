"""Movie Review polarity, "rt-polarity" (Pang & Lee 2005): ``mr/rt-polarity.{pos,neg}``.

The files are latin-1, not UTF-8. Built from the same Rotten Tomatoes snippets as SST: never
train on one and evaluate on the other.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from interp.data.files import _file, _folder
from interp.data.texts import LabelledTexts


def _read_lines(path: Path, encoding: str) -> list[str]:
    # Split on b"\n" only: latin-1 byte 0x85 decodes to U+0085 (NEL), which str.splitlines()
    # would treat as a line break.
    data = path.read_bytes().decode(encoding)
    lines = data.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    return [line.rstrip("\r ") for line in lines]


def mr(encoding: str = "latin-1") -> LabelledTexts:
    """Movie Review polarity (rt-polarity): positives (label 1) then negatives (label 0).

    The files are latin-1, not UTF-8. Their bytes 0x85/0x91/0x96/0x97 are really cp1252
    punctuation (ellipsis, quote, dashes); ``encoding="cp1252"`` decodes them as such,
    the default latin-1 keeps every byte round-trippable. Trailing spaces are stripped.
    """
    folder = _folder("mr")
    pos = _file(folder, "rt-polarity.pos")
    neg = _file(folder, "rt-polarity.neg")
    p, n = _read_lines(pos, encoding), _read_lines(neg, encoding)
    labels = np.concatenate([np.ones(len(p), np.int64), np.zeros(len(n), np.int64)])
    return LabelledTexts(p + n, labels, "mr", (pos, neg))
