"""Clean/corrupted pairs: toy templates with the sentiment word flipped, SST pairs by token length."""

import numpy as np
import pytest

from interp.models.mlstm import MLSTM
from interp.pairs import PairLengthError, Pairs, sst_pairs, toy_pairs
from interp.models.mlstm.adapter import MLSTMModel


def test_toy_pairs_flip_the_adjective_only(tiny_model):
    p = toy_pairs(tiny_model, flip="adjective")
    assert len(p) >= 2 and p.labels.sum() * 2 == len(p)  # both directions, balanced
    clean, corrupt = p.tokenize(tiny_model)
    assert clean.lengths.tolist() == corrupt.lengths.tolist()
    diff = p.differing_positions(tiny_model)
    assert all(d == diff[0] for d in diff) and len(diff[0]) >= 1  # one layout for every pair
    for (cw, kw), c, k, lab in zip(p.words, p.clean, p.corrupt, p.labels):
        assert f" {cw}," in c and f" {kw}," in k
        assert c.split(", I")[1] == k.split(", I")[1]  # same verb
    # each clean text's label is its adjective's polarity
    from interp.tasks import POSITIVE_ADJECTIVES

    assert all((w[0] in POSITIVE_ADJECTIVES) == bool(lab) for w, lab in zip(p.words, p.labels))


def test_toy_pairs_flip_both(tiny_model):
    p = toy_pairs(tiny_model, flip="both", n=4)
    assert len(p) == 4
    c, k = p.clean[0].split(", I")[1], p.corrupt[0].split(", I")[1]
    assert c != k  # the verb differs too


def test_length_mismatch_names_the_pair(tiny_model):
    p = Pairs(["I loved it.", "It was good."], ["I hated it.", "It was unwatchable and dreadful."], np.array([1, 1]))
    with pytest.raises(PairLengthError, match=r"pair 1 .*unwatchable"):
        p.tokenize(tiny_model)


def test_bad_arguments(tiny_model):
    with pytest.raises(ValueError, match="flip"):
        toy_pairs(tiny_model, flip="verb")
    with pytest.raises(ValueError, match="labels"):
        Pairs(["a"], ["b", "c"], np.array([1]))


def test_sst_pairs_opposite_labels_equal_lengths(tiny_model):
    from interp import data

    sst = data.sst("dev")
    texts, labels = sst.texts[:120], np.asarray(sst.labels[:120])
    p = sst_pairs(tiny_model, texts, labels, template="{text} very", seed=0)
    clean, corrupt = p.tokenize(tiny_model)  # no PairLengthError
    assert (clean.lengths == corrupt.lengths).all()
    for (a, b), lab in zip(p.index, p.labels):
        assert labels[a] == lab and labels[b] == 1 - lab
    assert abs(int(p.labels.sum()) * 2 - len(p)) <= 1  # clean side alternates
    assert p.info["n_matched"] == len(p) and p.info["unpaired"] == 120 - 2 * len(p)
    assert p.clean[0].endswith(" very")
    again = sst_pairs(tiny_model, texts, labels, template="{text} very", seed=0, n=5)
    assert again.index == p.index[:5]


def test_toy_pairs_on_bytes_share_one_layout():
    m = MLSTMModel(MLSTM(d_hidden=8, seed=0))
    p = toy_pairs(m, part="all")
    clean, corrupt = p.tokenize(m)
    assert len(set(clean.lengths.tolist())) == 1
    diff = p.differing_positions(m)
    assert all(d == diff[0] for d in diff)
