"""Loaders for the sentiment data sets the toolkit trains and evaluates on.

Every loader finds its files through :func:`interp.config.data_dir` (environment variable
``INTERP_DATA_DIR``), called when a loader runs, never at import time. A missing folder or
file raises :class:`interp.config.DataNotFoundError` naming the exact path looked for; a
wrong split raises :class:`ValueError` listing the valid ones.

Data sets (research use; cite them when you report results):

- ``sst``: Stanford Sentiment Treebank, binary sentence level, neutral sentences dropped
  (Socher et al. 2013, "Recursive Deep Models for Semantic Compositionality Over a
  Sentiment Treebank", EMNLP). Files ``sst/{train,dev,test}_binary_sent.csv`` (header
  ``label,sentence``), the split of openai/generating-reviews-discovering-sentiment.
  Text is original casing and untokenized (``you've``).
- ``sst_trees``: the original SST parse trees, one PTB-style tree a line, every phrase
  labelled 0-4 (Socher et al. 2013). Dropping neutral roots and mapping 0-1 -> 0, 3-4 -> 1
  gives the ``sst`` labels (:func:`sst_tree_sentences`). Leaves are PTB tokens kept as
  they are in the file: ``you 've``, ``-LRB-``/``-RRB-`` for brackets, ``\\/`` for a slash,
  two backticks and two apostrophes for double quotes.
- ``sst2_glue``: GLUE SST-2, sentences *and phrases* (Wang et al. 2018, "GLUE: A
  Multi-Task Benchmark and Analysis Platform for Natural Language Understanding").
  **Lowercased and tokenized** (``it 's``), unlike ``sst``: byte-level and BPE models see
  different text depending on which one you use, so say which.
- ``imdb``: Large Movie Review Dataset v1 (Maas et al. 2011, "Learning Word Vectors for
  Sentiment Analysis", ACL), as ``imdb/{train,test,unsup}.jsonl.gz`` or as the original
  ``aclImdb/`` folder. Texts keep the original ``<br />`` tags. Rows come all negative
  first, then all positive: ``limit`` on a labelled split gives one class only.
- ``mr``: Movie Review polarity, "rt-polarity" (Pang & Lee 2005, "Seeing stars:
  Exploiting class relationships for sentiment categorization with respect to rating
  scales", ACL). The files are latin-1, not UTF-8. Built from the same Rotten Tomatoes
  snippets as SST: never train on one and evaluate on the other.

``load("sst:test")`` and friends dispatch by name; see :data:`NAMES`.

The package holds one idea a module, and every name above is importable from here:
:mod:`.files` (the data folder, :class:`DataFileError`, ``MD5SUMS`` checks, source hashing),
:mod:`.texts` (:class:`LabelledTexts`), :mod:`.trees` (:class:`Tree`, :func:`parse_tree`),
:mod:`.treebank` (``sst``, ``sst_trees``, ``sst2_glue``), :mod:`.acl_imdb` (``imdb``) and
:mod:`.rt_polarity` (``mr``).
"""

from __future__ import annotations

from typing import Any

from interp.config import DataNotFoundError
from interp.data.acl_imdb import imdb, iter_imdb_texts
from interp.data.files import ENV_VAR, SPLITS, DataFileError, verify_file  # noqa: F401  (re-exported)
from interp.data.rt_polarity import mr
from interp.data.texts import LabelledTexts, Source  # noqa: F401  (re-exported)
from interp.data.treebank import sst, sst2_glue, sst_tree_sentences, sst_trees
from interp.data.trees import Tree, parse_tree

__all__ = [
    "DataFileError",
    "DataNotFoundError",
    "LabelledTexts",
    "NAMES",
    "SPLITS",
    "Tree",
    "imdb",
    "iter_imdb_texts",
    "load",
    "mr",
    "parse_tree",
    "sst",
    "sst2_glue",
    "sst_tree_sentences",
    "sst_trees",
]

#: Every name :func:`load` accepts.
NAMES: tuple[str, ...] = tuple(f"{d}:{s}" for d, splits in SPLITS.items() for s in splits) + ("mr",)


def load(name: str, **kwargs: Any) -> LabelledTexts:
    """Load a data set by name: ``"sst:test"``, ``"sst_trees:dev"`` (binary root sentences),
    ``"sst2_glue:dev"``, ``"imdb:train"`` (kwargs such as ``limit`` pass through), ``"mr"``."""
    if name == "mr":
        return mr(**kwargs)
    dataset, sep, split = name.partition(":")
    if not sep or name not in NAMES:
        raise ValueError(f"unknown data set {name!r}; valid names: {', '.join(NAMES)}")
    loader = {"sst": sst, "sst_trees": sst_tree_sentences, "sst2_glue": sst2_glue, "imdb": imdb}[dataset]
    return loader(split, **kwargs)
