"""The Stanford Sentiment Treebank (Socher et al. 2013) and GLUE SST-2 (Wang et al. 2018).

- :func:`sst`: binary sentence level, neutral sentences dropped, ``sst/{split}_binary_sent.csv``
  (the split of openai/generating-reviews-discovering-sentiment), original casing, untokenized.
- :func:`sst_trees` / :func:`sst_tree_sentences`: the original parse trees, ``sst_trees/{split}.txt``
  (parsed by :mod:`interp.data.trees`).
- :func:`sst2_glue`: GLUE SST-2, sentences *and phrases*, **lowercased and tokenized**.
"""

from __future__ import annotations

import csv

import numpy as np

from interp import config
from interp.data.files import DataFileError, _check_split, _file, _folder, _label
from interp.data.texts import LabelledTexts
from interp.data.trees import Tree, parse_tree

# --------------------------------------------------------------------------- SST (csv)


def sst(split: str) -> LabelledTexts:
    """Binary SST sentences from ``sst/{split}_binary_sent.csv``: original casing, untokenized."""
    _check_split("sst", split)
    path = _file(_folder("sst"), f"{split}_binary_sent.csv")
    texts, labels = [], []
    with open(path, encoding="utf-8", newline="") as f:
        reader = csv.reader(f)
        header = next(reader, None)
        if header != ["label", "sentence"]:
            raise ValueError(f"{path}: expected header label,sentence, got {header}")
        for lineno, row in enumerate(reader, start=2):
            if not row:
                continue
            if len(row) != 2:
                raise DataFileError(f"{path}:{lineno}: expected 2 fields, got {len(row)}")
            labels.append(_label(path, lineno, row[0]))
            texts.append(row[1])
    return LabelledTexts(texts, np.array(labels), f"sst/{split}", path)


# --------------------------------------------------------------------------- SST trees


def sst_trees(split: str) -> list[Tree]:
    """The SST parse trees of ``sst_trees/{split}.txt``, one per non-empty line."""
    _check_split("sst_trees", split)
    path = _file(_folder("sst_trees"), f"{split}.txt")
    trees = []
    with open(path, encoding="utf-8") as f:
        for lineno, line in enumerate(f, start=1):
            if not line.strip():
                continue
            try:
                trees.append(parse_tree(line))
            except ValueError as e:
                raise ValueError(f"{path}:{lineno}: {e}") from None
    return trees


def sst_tree_sentences(split: str, binary: bool = True) -> LabelledTexts:
    """Root sentences of the SST trees.

    ``binary=True``: neutral (2) roots dropped, 0-1 -> 0 and 3-4 -> 1 (name ``sst_trees/{split}``);
    this gives the same (sentence, label) pairs as ``sst`` (all three splits, up to
    tokenization), but in tree-file order: ``sst``'s csv rows are in another order.
    ``binary=False``: every root with its 0-4 label (SST-5, name ``sst_trees5/{split}``).
    ``indices`` are the tree (line) numbers kept.
    """
    trees = sst_trees(split)
    source = config.data_dir() / "sst_trees" / f"{split}.txt"
    if not binary:
        return LabelledTexts(
            [t.text for t in trees], np.array([t.label for t in trees]), f"sst_trees5/{split}", source
        )
    keep = [i for i, t in enumerate(trees) if t.label != 2]
    texts = [trees[i].text for i in keep]
    labels = np.array([int(trees[i].label > 2) for i in keep])
    return LabelledTexts(texts, labels, f"sst_trees/{split}", source, indices=np.array(keep))


# --------------------------------------------------------------------------- GLUE SST-2


def sst2_glue(split: str) -> LabelledTexts:
    """GLUE SST-2 ``sst2_glue/{split}.tsv``: lowercased, tokenized; train holds phrases too."""
    _check_split("sst2_glue", split)
    path = _file(_folder("sst2_glue"), f"{split}.tsv")
    texts, labels = [], []
    with open(path, encoding="utf-8", newline="") as f:
        header = f.readline().rstrip("\r\n").split("\t")
        if header != ["sentence", "label"]:
            raise ValueError(f"{path}: expected header sentence<TAB>label, got {header}")
        for lineno, line in enumerate(f, start=2):
            line = line.rstrip("\r\n")
            if not line:
                continue
            parts = line.split("\t")
            if len(parts) != 2:
                raise DataFileError(f"{path}:{lineno}: expected 2 tab-separated fields, got {len(parts)}")
            texts.append(parts[0].rstrip(" "))
            labels.append(_label(path, lineno, parts[1]))
    return LabelledTexts(texts, np.array(labels), f"sst2_glue/{split}", path)
