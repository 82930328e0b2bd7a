"""Tests for interp.data: row counts against the data README, parsing, encodings, errors.

Real-data tests skip when no data folder is found (set INTERP_DATA_DIR); the rest build
tiny fake data folders in tmp_path.
"""

from __future__ import annotations

import collections
import hashlib
import itertools
import re

import numpy as np
import pytest

from interp import config, data
from interp.config import DataNotFoundError


def _real_data_available() -> bool:
    try:
        root = config.data_dir()
    except DataNotFoundError:
        return False
    return (root / "sst").is_dir()


real = pytest.mark.skipif(not _real_data_available(), reason="no data folder (set INTERP_DATA_DIR)")

_CACHE: dict[tuple, object] = {}


def cached(fn, *args):
    """Load each real data set once per test session."""
    key = (fn.__name__, *args)
    if key not in _CACHE:
        _CACHE[key] = fn(*args)
    return _CACHE[key]


def norm(text: str) -> str:
    """Compare SST texts across tokenizations: PTB escapes undone, only [a-z0-9] kept."""
    text = text.replace("-LRB-", "(").replace("-RRB-", ")").replace("\\/", "/").replace("½", "1/2")
    return re.sub(r"[^a-z0-9]", "", text.lower())


# --------------------------------------------------------------------------- SST csv


@real
@pytest.mark.parametrize("split,n,pos", [("train", 6920, 3610), ("dev", 872, 444), ("test", 1821, 909)])
def test_sst_counts(split, n, pos):
    d = cached(data.sst, split)
    assert isinstance(d, data.LabelledTexts)
    assert len(d) == n and d.n_pos == pos and int(d.labels.sum()) == pos
    assert set(np.unique(d.labels)) == {0, 1}
    assert d.name == f"sst/{split}"
    assert d.source == config.data_dir() / "sst" / f"{split}_binary_sent.csv"
    assert all(isinstance(t, str) and t for t in d.texts)


@real
def test_sst_commas_and_quotes_intact():
    dev = cached(data.sst, "dev")
    want = (
        "If you've ever entertained the notion of doing what the title of this film implies, "
        "what Sex With Strangers actually shows may put you off the idea forever."
    )
    assert dev[1] == (want, 0)
    train = cached(data.sst, "train")
    quoted = [t for t in train.texts if t.startswith("Has none of the crackle of")]
    assert len(quoted) == 1
    assert '"Fatal Attraction", "9 ½ Weeks", or even "Indecent Proposal"' in quoted[0]


@real
def test_labelled_texts_slicing_subset_and_hash():
    d = cached(data.sst, "test")
    text, label = d[0]
    assert isinstance(text, str) and label in (0, 1)
    head = d[:10]
    assert isinstance(head, data.LabelledTexts) and len(head) == 10
    assert head.texts == d.texts[:10] and np.array_equal(head.labels, d.labels[:10])
    assert head.name == d.name and head.source == d.source
    sub = head.subset([9, 2])
    assert sub.texts == [d.texts[9], d.texts[2]]
    assert list(sub.indices) == [9, 2]
    assert list(d[5:20:5].subset([2, 0]).indices) == [15, 5]  # indices compose
    pos = d[d.labels == 1]
    assert len(pos) == 909 and pos.n_pos == 909
    assert list(itertools.islice(iter(d), 2)) == [d[0], d[1]]
    with pytest.raises(ValueError):
        d.labels[0] = 1  # read-only
    expected = hashlib.sha256(d.source.read_bytes()).hexdigest()
    assert d.sha256() == expected
    assert d.sha256() == expected  # cached
    assert head.sha256() == expected  # a slice names the same source


# --------------------------------------------------------------------------- SST trees


def test_parse_hand_written_tree():
    line = "(3 (2 It) (4 (2 's) (3 (2 a) (4 (3 lovely) (2 film)))))"
    t = data.parse_tree(line)
    assert t.label == 3 and len(t.children) == 2 and not t.is_leaf
    assert t.children[0].is_leaf and t.children[0].word == "It"
    assert t.text == "It 's a lovely film"
    assert t.leaves() == ["It", "'s", "a", "lovely", "film"]
    assert list(t.phrases()) == [
        ("It 's a lovely film", 3),
        ("It", 2),
        ("'s a lovely film", 4),
        ("'s", 2),
        ("a lovely film", 3),
        ("a", 2),
        ("lovely film", 4),
        ("lovely", 3),
        ("film", 2),
    ]
    assert str(t) == line and data.parse_tree(str(t)) == t
    assert "It 's a lovely film" in repr(t)
    leaf = data.parse_tree("  (1 bad)\n")
    assert leaf.is_leaf and leaf.text == "bad" and list(leaf.phrases()) == [("bad", 1)]
    # words that are not ASCII-space separated stay whole (train has "8\xa01\/2")
    assert data.parse_tree("(2 (2 8\xa01\\/2) (2 .))").leaves() == ["8\xa01\\/2", "."]


@pytest.mark.parametrize(
    "bad",
    ["", "(3", "(3 (2 a)", "(3 (2 a)))", "(x (2 a))", "(3 a b)", "(3)", "(2 a) (2 b)", "word", "((2 a))"],
)
def test_parse_malformed_tree(bad):
    with pytest.raises(ValueError):
        data.parse_tree(bad)


def test_parse_deep_tree_without_recursion():
    depth = 50_000
    line = "(1 " * depth + "(2 deep)" + " (3 end))" * depth
    t = data.parse_tree(line)
    assert t.label == 1
    assert len(t.leaves()) == depth + 1 and t.text.startswith("deep end")
    # phrases() output is quadratic in depth for such a chain: look at the first few here
    first = list(itertools.islice(t.phrases(), 3))
    assert first[0] == (t.text, 1) and first[1] == (t.text[: -len(" end")], 1)
    small = data.parse_tree("(1 " * 3000 + "(2 deep)" + " (3 end))" * 3000)
    assert sum(1 for _ in small.phrases()) == 2 * 3000 + 1
    assert str(t) == line
    assert t == data.parse_tree(line)


@real
@pytest.mark.parametrize("split,n", [("train", 8544), ("dev", 1101), ("test", 2210)])
def test_sst_tree_counts_and_round_trip(split, n):
    trees = cached(data.sst_trees, split)
    assert len(trees) == n
    assert all(0 <= node.label <= 4 for t in trees[:200] for node in t.nodes())
    lines = (config.data_dir() / "sst_trees" / f"{split}.txt").read_text(encoding="utf-8").split("\n")
    assert [str(t) for t in trees] == [line for line in lines if line.strip()]
    first = trees[0]
    phrases = list(first.phrases())
    assert phrases[0] == (first.text, first.label)
    assert len(phrases) == sum(1 for _ in first.nodes()) == 2 * len(first.leaves()) - 1  # binary trees


@real
@pytest.mark.parametrize("split", ["train", "dev", "test"])
def test_sst_tree_sentences_match_sst(split):
    """Binary roots give the sst/ split: same counts and positives, and the same
    (sentence, label) pairs up to tokenization -- in a different row order, so the
    comparison is as multisets. (Train too, though the README claims only dev and test.)"""
    trees = data.sst_tree_sentences(split)
    flat = cached(data.sst, split)
    assert trees.name == f"sst_trees/{split}"
    assert len(trees) == len(flat) and trees.n_pos == flat.n_pos
    pairs = lambda d: collections.Counter((norm(t), label) for t, label in d)  # noqa: E731
    assert pairs(trees) == pairs(flat)
    # indices point back at the kept trees
    all_trees = cached(data.sst_trees, split)
    assert all(all_trees[i].label != 2 for i in trees.indices)
    assert trees.texts[0] == all_trees[int(trees.indices[0])].text


@real
def test_sst_tree_sentences_fine_grained():
    d = data.sst_tree_sentences("dev", binary=False)
    assert len(d) == 1101 and set(np.unique(d.labels)) == {0, 1, 2, 3, 4}
    assert d.texts[0].startswith("It 's a lovely film")


# --------------------------------------------------------------------------- GLUE SST-2


@real
@pytest.mark.parametrize("split,n,pos", [("train", 67349, 37569), ("dev", 872, 444)])
def test_sst2_glue_counts(split, n, pos):
    d = cached(data.sst2_glue, split)
    assert len(d) == n and d.n_pos == pos and d.name == f"sst2_glue/{split}"
    assert all(t and t == t.strip() for t in d.texts)  # trailing space stripped
    assert all(t == t.lower() for t in d.texts)  # lowercased
    assert d.texts[0] == ("it 's a charming and often affecting journey ." if split == "dev"
                          else "hide new secretions from the parental units")


@real
def test_sst2_glue_dev_equals_sst_dev():
    glue, flat = cached(data.sst2_glue, "dev"), cached(data.sst, "dev")
    pairs = lambda d: collections.Counter((norm(t), label) for t, label in d)  # noqa: E731
    assert pairs(glue) == pairs(flat)


# --------------------------------------------------------------------------- IMDB


@real
def test_imdb_limit_streams():
    train = data.imdb("train", limit=5)
    assert len(train) == 5 and train.name == "imdb/train"
    assert list(train.labels) == [0] * 5  # file order: negatives first
    assert all(1 <= r <= 4 for r in train.meta["ratings"])
    assert list(train.meta["ids"][:2]) == [0, 10000]
    assert train.texts[0].startswith("Story of a man who has unnatural feelings for a pig.")
    unsup = data.imdb("unsup", limit=3)
    assert list(unsup.labels) == [-1] * 3 and list(unsup.meta["ratings"]) == [0] * 3
    assert "<br />" in unsup.texts[0]  # original tags kept
    assert len(data.imdb("test", limit=2)) == 2
    assert len(data.imdb("train", limit=0)) == 0
    assert data.imdb("train", limit=1).sha256() == hashlib.sha256(
        (config.data_dir() / "imdb" / "train.jsonl.gz").read_bytes()
    ).hexdigest()
    with pytest.raises(ValueError):
        data.imdb("train", limit=-1)


@real
def test_iter_imdb_texts():
    gen = data.iter_imdb_texts()
    first = list(itertools.islice(gen, 3))
    gen.close()
    assert first == data.imdb("train", limit=3).texts
    gen = data.iter_imdb_texts("test", allow_test=True)
    assert isinstance(next(gen), str)
    gen.close()


def test_iter_imdb_texts_refuses_test_by_default():
    with pytest.raises(ValueError, match="allow_test"):
        next(data.iter_imdb_texts(("train", "test")))
    with pytest.raises(ValueError, match="valid splits"):
        next(data.iter_imdb_texts(("validation",)))


def _write_acl(root):
    files = {
        "train/neg/10_2.txt": "bad film",
        "train/neg/2_1.txt": "awful",
        "train/pos/0_9.txt": "great<br />film",
        "train/pos/1_7.txt": "good",
        "train/unsup/0_0.txt": "whatever",
        "train/unsup/1_0.txt": "unsure",
        "train/labeledBow.feat": "0 0:1\n",
        "test/neg/0_4.txt": "meh",
        "test/pos/0_10.txt": "brilliant café",
        "README": "not a review",
    }
    for rel, text in files.items():
        p = root / "aclImdb" / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(text, encoding="utf-8")


def test_imdb_acl_layout(tmp_path, monkeypatch):
    _write_acl(tmp_path)
    monkeypatch.setenv("INTERP_DATA_DIR", str(tmp_path))
    train = data.imdb("train")
    # negatives then positives, each in file-name order (as the jsonl files are)
    assert train.texts == ["bad film", "awful", "great<br />film", "good"]
    assert list(train.labels) == [0, 0, 1, 1]
    assert list(train.meta["ids"]) == [10, 2, 0, 1]
    assert list(train.meta["ratings"]) == [2, 1, 9, 7]
    assert train.source == (tmp_path / "aclImdb/train/neg", tmp_path / "aclImdb/train/pos")
    assert len(train.sha256()) == 64
    test = data.imdb("test")
    assert test.texts == ["meh", "brilliant café"] and list(test.labels) == [0, 1]
    unsup = data.imdb("unsup", limit=1)
    assert unsup.texts == ["whatever"] and list(unsup.labels) == [-1]
    assert list(data.iter_imdb_texts()) == ["bad film", "awful", "great<br />film", "good", "whatever", "unsure"]
    assert len(data.load("imdb:train", limit=3)) == 3


def test_imdb_acl_missing_split_folder(tmp_path, monkeypatch):
    (tmp_path / "aclImdb" / "train" / "neg").mkdir(parents=True)
    monkeypatch.setenv("INTERP_DATA_DIR", str(tmp_path))
    with pytest.raises(DataNotFoundError) as e:
        data.imdb("train")
    assert str(tmp_path / "aclImdb" / "train" / "pos") in str(e.value)


# --------------------------------------------------------------------------- MR


@real
def test_mr_counts_and_latin1():
    d = cached(data.mr)
    assert len(d) == 10662 and d.n_pos == 5331
    assert list(d.labels[:5331]) == [1] * 5331 and list(d.labels[5331:]) == [0] * 5331
    assert d.name == "mr" and d.source == (
        config.data_dir() / "mr" / "rt-polarity.pos",
        config.data_dir() / "mr" / "rt-polarity.neg",
    )
    raw = [
        line.rstrip(b" ")
        for path in d.source
        for line in path.read_bytes().split(b"\n")[:-1]
    ]
    assert len(raw) == len(d)
    non_ascii = [i for i, line in enumerate(raw) if any(b > 127 for b in line)]
    assert len(non_ascii) > 100
    for i in non_ascii:
        assert d.texts[i].encode("latin-1") == raw[i]  # round-trips byte for byte
    assert "ladrón de orquídeas" in d.texts[43]
    # byte 0x85 (cp1252 ellipsis) is U+0085 in latin-1: it must not split a line
    nel = [t for t in d.texts if "\x85" in t]
    assert nel and "interwoven\x85 [the film] addresses" in nel[0]
    with pytest.raises(UnicodeDecodeError):
        d.source[0].read_bytes().decode("utf-8")
    assert len(d.sha256()) == 64 and d.sha256() == d[:3].sha256()


@real
def test_mr_cp1252():
    d = data.mr(encoding="cp1252")
    assert len(d) == 10662
    assert any("interwoven… [the film]" in t for t in d.texts)


# --------------------------------------------------------------------------- errors, dispatcher


LOADERS = [
    ("sst", lambda: data.sst("dev")),
    ("sst_trees", lambda: data.sst_trees("dev")),
    ("sst_trees", lambda: data.sst_tree_sentences("dev")),
    ("sst2_glue", lambda: data.sst2_glue("dev")),
    ("imdb", lambda: data.imdb("train", limit=1)),
    ("mr", data.mr),
]


@pytest.mark.parametrize("folder,loader", LOADERS)
def test_missing_folder_names_path(tmp_path, monkeypatch, folder, loader):
    monkeypatch.setenv("INTERP_DATA_DIR", str(tmp_path))
    with pytest.raises(DataNotFoundError) as e:
        loader()
    msg = str(e.value)
    assert str(tmp_path / folder) in msg and "INTERP_DATA_DIR" in msg
    assert isinstance(e.value, FileNotFoundError)


@pytest.mark.parametrize(
    "folder,loader,filename",
    [
        ("sst", lambda: data.sst("dev"), "dev_binary_sent.csv"),
        ("sst_trees", lambda: data.sst_trees("test"), "test.txt"),
        ("sst2_glue", lambda: data.sst2_glue("train"), "train.tsv"),
        ("imdb", lambda: data.imdb("unsup"), "unsup.jsonl.gz"),
        ("mr", data.mr, "rt-polarity.pos"),
    ],
)
def test_missing_file_names_path(tmp_path, monkeypatch, folder, loader, filename):
    (tmp_path / folder).mkdir()
    monkeypatch.setenv("INTERP_DATA_DIR", str(tmp_path))
    with pytest.raises(DataNotFoundError) as e:
        loader()
    assert str(tmp_path / folder / filename) in str(e.value)
    assert "INTERP_DATA_DIR" in str(e.value)


def test_missing_data_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("INTERP_DATA_DIR", str(tmp_path / "nowhere"))
    with pytest.raises(DataNotFoundError, match="nowhere"):
        data.sst("dev")


def test_data_dir_read_at_load_time(tmp_path, monkeypatch):
    (tmp_path / "sst").mkdir()
    (tmp_path / "sst" / "dev_binary_sent.csv").write_text(
        'label,sentence\n1,"Funny, and ""sharp"", too."\n0,dull\n', encoding="utf-8"
    )
    monkeypatch.setenv("INTERP_DATA_DIR", str(tmp_path))
    d = data.sst("dev")
    assert d.texts == ['Funny, and "sharp", too.', "dull"] and list(d.labels) == [1, 0]
    (tmp_path / "sst" / "test_binary_sent.csv").write_text("sentence,label\nx,1\n", encoding="utf-8")
    with pytest.raises(ValueError, match="header"):
        data.sst("test")


@pytest.mark.parametrize(
    "loader,valid",
    [
        (lambda: data.sst("validation"), "train, dev, test"),
        (lambda: data.sst_trees("valid"), "train, dev, test"),
        (lambda: data.sst_tree_sentences("x"), "train, dev, test"),
        (lambda: data.sst2_glue("test"), "train, dev"),
        (lambda: data.imdb("dev"), "train, test, unsup"),
    ],
)
def test_wrong_split(loader, valid):
    with pytest.raises(ValueError) as e:
        loader()
    assert valid in str(e.value)


@real
@pytest.mark.parametrize(
    "name,n",
    [("sst:test", 1821), ("sst_trees:dev", 872), ("sst2_glue:dev", 872), ("mr", 10662)],
)
def test_load_dispatch(name, n):
    d = data.load(name)
    assert isinstance(d, data.LabelledTexts) and len(d) == n


@real
def test_load_imdb_passes_limit():
    d = data.load("imdb:train", limit=4)
    assert len(d) == 4 and d.name == "imdb/train"


@pytest.mark.parametrize("name", ["sst", "sst:validation", "glue:dev", "mr:train", "imdb", "", "SST:test"])
def test_load_unknown_name(name):
    with pytest.raises(ValueError) as e:
        data.load(name)
    msg = str(e.value)
    assert "valid names" in msg and "sst:test" in msg and "imdb:unsup" in msg and "mr" in msg


def test_names_cover_every_split():
    assert set(data.NAMES) == {f"{d}:{s}" for d, ss in data.SPLITS.items() for s in ss} | {"mr"}
