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
"""

from __future__ import annotations

import csv
import gzip
import hashlib
import itertools
import json
import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Union

import numpy as np

from interp import config
from interp.config import DataNotFoundError
from interp.runs import file_sha256

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

ENV_VAR = "INTERP_DATA_DIR"

SPLITS: dict[str, tuple[str, ...]] = {
    "sst": ("train", "dev", "test"),
    "sst_trees": ("train", "dev", "test"),
    "sst2_glue": ("train", "dev"),
    "imdb": ("train", "test", "unsup"),
}

#: Every name :func:`load` accepts.
NAMES: tuple[str, ...] = tuple(f"{d}:{s}" for d, splits in SPLITS.items() for s in splits) + ("mr",)

Source = Union[Path, tuple[Path, ...]]


# --------------------------------------------------------------------------- paths


def _where(root: Path) -> str:
    return f"set {ENV_VAR} to the folder that holds it (data folder now: {root})"


def _folder(name: str) -> Path:
    root = config.data_dir()
    path = root / name
    if not path.is_dir():
        raise DataNotFoundError(f"data folder not found: {path}; {_where(root)}")
    return path


def _file(folder: Path, name: str, *, lines: bool = True) -> Path:
    path = folder / name
    if not path.is_file():
        raise DataNotFoundError(f"data file not found: {path}; {_where(folder.parent)}")
    verify_file(path, lines=lines)
    return path


class DataFileError(ValueError):
    """A data file is there but damaged: cut short, not matching the folder's ``MD5SUMS``, or
    holding a row or label that cannot be right."""


_VERIFIED: dict[tuple[str, int, int], None] = {}


def _md5sums(root: Path) -> dict[str, str]:
    """``MD5SUMS`` of the data folder as {relative path: md5}; empty when there is none."""
    path = root / "MD5SUMS"
    if not path.is_file():
        return {}
    out = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        parts = line.strip().split(maxsplit=1)
        if len(parts) == 2:
            out[parts[1].lstrip("*").removeprefix("./")] = parts[0].lower()
    return out


def verify_file(path: Path, *, lines: bool = True) -> None:
    """Refuse a damaged data file, once per file (and size and mtime) per process: a text file
    whose last row has no line end (cut mid-row), or a file whose MD5 differs from the data
    folder's ``MD5SUMS`` entry. Files ``MD5SUMS`` does not list are checked for the line end only."""
    st = path.stat()
    key = (str(path.resolve()), st.st_size, st.st_mtime_ns)
    if key in _VERIFIED:
        return
    if st.st_size == 0:
        raise DataFileError(f"data file {path} is empty; copy it again from the source (see data.md)")
    if lines:
        with open(path, "rb") as f:
            f.seek(-1, 2)
            if f.read(1) != b"\n":
                raise DataFileError(f"data file {path} ends in the middle of a row (no final line end): it was cut "
                                    f"short; copy it again from the source (see data.md)")
    try:
        root = config.data_dir()
        rel = path.resolve().relative_to(root.resolve()).as_posix()
    except (ValueError, DataNotFoundError):
        root, rel = None, None
    if root is not None:
        expected = _md5sums(root).get(rel)
        if expected is not None:
            h = hashlib.md5()
            with open(path, "rb") as f:
                for chunk in iter(lambda: f.read(1 << 20), b""):
                    h.update(chunk)
            if h.hexdigest() != expected:
                raise DataFileError(f"data file {path} does not match {root / 'MD5SUMS'} (md5 {h.hexdigest()}, "
                                    f"expected {expected}): it is damaged or changed; copy it again from the source")
    _VERIFIED[key] = None


def _label(path: Path, lineno: int, value: str, allowed: tuple[int, ...] = (0, 1)) -> int:
    try:
        label = int(value)
    except ValueError:
        raise DataFileError(f"{path}:{lineno}: label {value!r} is not a number") from None
    if label not in allowed:
        raise DataFileError(f"{path}:{lineno}: label {label} is not one of {', '.join(map(str, allowed))}")
    return label


def _check_split(dataset: str, split: str) -> None:
    valid = SPLITS[dataset]
    if split not in valid:
        raise ValueError(f"unknown {dataset} split {split!r}; valid splits: {', '.join(valid)}")


# --------------------------------------------------------------------------- hashing


def _sources_sha256(sources: tuple[Path, ...]) -> str:
    """One file: its plain sha256 (what ``sha256sum`` prints). Several files or folders:
    the sha256 of ``sha256sum``-style lines ``<hex>  <path>`` over every file, in order,
    paths relative to each source's parent."""
    if len(sources) == 1 and sources[0].is_file():
        return file_sha256(sources[0])
    h = hashlib.sha256()
    for src in sources:
        files = sorted(p for p in src.rglob("*") if p.is_file()) if src.is_dir() else [src]
        for p in files:
            rel = p.relative_to(src.parent).as_posix()
            h.update(f"{file_sha256(p)}  {rel}\n".encode())
    return h.hexdigest()


# --------------------------------------------------------------------------- LabelledTexts


@dataclass(frozen=True, eq=False)
class LabelledTexts:
    """Texts with integer labels (1 = positive, 0 = negative, -1 = none) and provenance.

    ``source`` is the file (or tuple of files/folders) read; ``indices`` the rows of the full
    data set these are (``None``: all rows, in file order); ``meta`` per-row arrays such as
    IMDB ``ids`` and ``ratings``, sliced along with the texts.
    """

    texts: list[str]
    labels: np.ndarray
    name: str
    source: Source
    indices: np.ndarray | None = None
    meta: dict[str, np.ndarray] = field(default_factory=dict)
    _sha: list[str] = field(default_factory=list, init=False, repr=False)

    def __post_init__(self) -> None:
        labels = np.array(self.labels, dtype=np.int64).reshape(-1)
        labels.setflags(write=False)
        object.__setattr__(self, "labels", labels)
        object.__setattr__(self, "texts", list(self.texts))
        n = len(self.texts)
        if len(labels) != n:
            raise ValueError(f"{self.name}: {n} texts but {len(labels)} labels")
        if self.indices is not None:
            idx = np.array(self.indices, dtype=np.int64).reshape(-1)
            if len(idx) != n:
                raise ValueError(f"{self.name}: {n} texts but {len(idx)} indices")
            idx.setflags(write=False)
            object.__setattr__(self, "indices", idx)
        meta = {}
        for k, v in self.meta.items():
            a = np.asarray(v)
            if len(a) != n:
                raise ValueError(f"{self.name}: {n} texts but meta[{k!r}] has {len(a)} rows")
            meta[k] = a
        object.__setattr__(self, "meta", meta)

    # sequence protocol
    def __len__(self) -> int:
        return len(self.texts)

    def __iter__(self) -> Iterator[tuple[str, int]]:
        return zip(self.texts, (int(x) for x in self.labels))

    def __getitem__(self, key: Any) -> Any:
        """``lt[i]`` -> ``(text, label)``; a slice, index array or boolean mask -> LabelledTexts."""
        if isinstance(key, (int, np.integer)):
            return self.texts[key], int(self.labels[key])
        if isinstance(key, slice):
            return self.subset(np.arange(len(self))[key])
        return self.subset(key)

    def __repr__(self) -> str:
        return (
            f"LabelledTexts(name={self.name!r}, n={len(self)}, pos={self.n_pos}, "
            f"source={self.source!s})"
        )

    @property
    def n_pos(self) -> int:
        return int((self.labels == 1).sum())

    @property
    def sources(self) -> tuple[Path, ...]:
        return self.source if isinstance(self.source, tuple) else (self.source,)

    def subset(self, indices: Sequence[int] | np.ndarray) -> LabelledTexts:
        """The rows at ``indices`` (positions in *this* object, or a boolean mask)."""
        idx = np.asarray(indices)
        if idx.dtype == bool:
            if len(idx) != len(self):
                raise ValueError(f"boolean mask of length {len(idx)} for {len(self)} rows")
            idx = np.flatnonzero(idx)
        idx = idx.astype(np.int64).reshape(-1)
        base = self.indices if self.indices is not None else np.arange(len(self))
        out = LabelledTexts(
            texts=[self.texts[i] for i in idx],
            labels=self.labels[idx],
            name=self.name,
            source=self.source,
            indices=base[idx],
            meta={k: v[idx] for k, v in self.meta.items()},
        )
        out._sha.extend(self._sha)  # same source files, same hash
        return out

    def sha256(self) -> str:
        """sha256 of the source file(s) (cached), for provenance manifests."""
        if not self._sha:
            self._sha.append(_sources_sha256(self.sources))
        return self._sha[0]


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

# Split on ASCII whitespace only: one train leaf is "8\xa01\\/2" (the film 8 1/2, with a
# no-break space), a single token that a Unicode-aware \s would cut in two.
_TOKEN = re.compile(r"\(|\)|[^ \t\n\r\f\v()]+")


class Tree:
    """One node of an SST parse tree: ``label`` 0-4, and either ``children`` or a ``word``.

    Every traversal is iterative, so arbitrarily deep trees never hit Python's recursion limit.
    """

    __slots__ = ("label", "children", "word")

    def __init__(self, label: int, children: Sequence[Tree] = (), word: str | None = None):
        if (word is None) == (len(children) == 0):
            raise ValueError("a Tree node has either a word (leaf) or children, not both/neither")
        self.label = int(label)
        self.children: tuple[Tree, ...] = tuple(children)
        self.word = word

    @property
    def is_leaf(self) -> bool:
        return self.word is not None

    def nodes(self) -> Iterator[Tree]:
        """Every node, pre-order (root first, children left to right)."""
        stack = [self]
        while stack:
            node = stack.pop()
            yield node
            stack.extend(reversed(node.children))

    def leaves(self) -> list[str]:
        return [n.word for n in self.nodes() if n.word is not None]

    @property
    def text(self) -> str:
        """The leaves joined with single spaces (PTB tokens as in the file)."""
        return " ".join(self.leaves())

    def phrases(self) -> Iterator[tuple[str, int]]:
        """``(text, label)`` for every node, pre-order; the root's sentence comes first."""
        words: list[str] = []
        spans: dict[int, tuple[int, int]] = {}
        # post-order pass assigning each node its leaf span
        stack: list[tuple[Tree, bool]] = [(self, False)]
        while stack:
            node, done = stack.pop()
            if node.word is not None:
                spans[id(node)] = (len(words), len(words) + 1)
                words.append(node.word)
            elif done:
                spans[id(node)] = (spans[id(node.children[0])][0], spans[id(node.children[-1])][1])
            else:
                stack.append((node, True))
                stack.extend((c, False) for c in reversed(node.children))
        for node in self.nodes():
            a, b = spans[id(node)]
            yield " ".join(words[a:b]), node.label

    def to_ptb(self) -> str:
        """The tree in the file's format, ``(3 (2 It) (4 ...))``."""
        out: list[str] = []
        stack: list[Tree | str] = [self]
        while stack:
            item = stack.pop()
            if isinstance(item, str):
                out.append(item)
            elif item.word is not None:
                out.append(f"({item.label} {item.word})")
            else:
                out.append(f"({item.label}")
                stack.append(")")
                for c in reversed(item.children):
                    stack.append(c)
                    stack.append(" ")
        return "".join(out)

    __str__ = to_ptb

    def __repr__(self) -> str:
        text = self.text
        if len(text) > 60:
            text = text[:57] + "..."
        return f"Tree(label={self.label}, text={text!r})"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Tree):
            return NotImplemented
        return self.to_ptb() == other.to_ptb()

    def __hash__(self) -> int:
        return hash(self.to_ptb())


def parse_tree(line: str) -> Tree:
    """Parse one PTB-style tree ``(3 (2 It) (4 ...))`` with an explicit stack (no recursion).

    Raises :class:`ValueError` on malformed input.
    """
    tokens = _TOKEN.findall(line)
    n = len(tokens)
    if n == 0:
        raise ValueError("empty tree")

    def bad(i: int, why: str) -> ValueError:
        near = " ".join(tokens[max(0, i - 3) : i + 4])
        return ValueError(f"malformed tree at token {i} ({why}) near: {near!r}")

    stack: list[tuple[int, list[Tree]]] = []
    root: Tree | None = None
    i = 0
    while i < n:
        tok = tokens[i]
        if root is not None:
            raise bad(i, "text after the end of the tree")
        if tok == "(":
            if i + 1 >= n or tokens[i + 1] in "()":
                raise bad(i, "expected a label after '('")
            try:
                label = int(tokens[i + 1])
            except ValueError:
                raise bad(i + 1, f"label {tokens[i + 1]!r} is not an integer") from None
            if i + 2 < n and tokens[i + 2] not in "()":  # leaf: ( label word )
                if i + 3 >= n or tokens[i + 3] != ")":
                    raise bad(i + 3, "expected ')' after a leaf's word")
                node = Tree(label, word=tokens[i + 2])
                i += 4
            else:
                stack.append((label, []))
                i += 2
                continue
        elif tok == ")":
            if not stack:
                raise bad(i, "unbalanced ')'")
            label, children = stack.pop()
            if not children:
                raise bad(i, "node with neither word nor children")
            node = Tree(label, children)
            i += 1
        else:
            raise bad(i, f"word {tok!r} outside a leaf")
        if stack:
            stack[-1][1].append(node)
        else:
            root = node
    if root is None or stack:
        raise bad(n, "unbalanced '(': tree not closed")
    return root


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


# --------------------------------------------------------------------------- IMDB

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


# --------------------------------------------------------------------------- MR


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


# --------------------------------------------------------------------------- dispatcher


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
