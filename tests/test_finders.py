"""Direction finders: each recovers a planted direction or unit, signs are canonical, the
scikit-learn contract holds; DAS learns on the tiny transformer."""

import numpy as np
import pytest
import torch
from sklearn.base import clone

from interp.directions import Direction
from interp.finders import (DAS, BestNeuron, KMeansDirection, LogisticDirection, MeanDiff, NotFittedError,
                            PCADirection, TopKNeurons, make_finder)

D = 24


def planted_direction(n=400, d=D, scale=3.0, seed=0):
    """Labels shift the data along a random unit vector u (by ±scale); isotropic noise."""
    rng = np.random.default_rng(seed)
    u = rng.normal(size=d)
    u /= np.linalg.norm(u)
    y = rng.integers(0, 2, n)
    X = rng.normal(size=(n, d)) + np.outer(np.where(y == 1, scale, -scale), u) + 5.0  # offset: centring matters
    return X, y, u


def planted_units(units=(3,), n=400, d=D, scale=2.0, seed=0):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, n)
    X = rng.normal(size=(n, d))
    for j, k in enumerate(units):
        X[:, k] += np.where(y == 1, scale, -scale) * (1.0 - 0.1 * j) * (-1) ** j  # second unit: negative sign
    return X, y


DIRECTION_FINDERS = [
    MeanDiff(),
    KMeansDirection(),
    PCADirection(),
    LogisticDirection("l2", C=1.0),
    LogisticDirection("l1", C=10.0),  # weakly penalised: dense; the sparse case is tested below
]


@pytest.mark.parametrize("finder", DIRECTION_FINDERS, ids=lambda f: type(f).__name__ + getattr(f, "penalty", ""))
def test_recovers_planted_direction_with_canonical_sign(finder):
    X, y, u = planted_direction()
    f = clone(finder).fit(X, y)
    assert np.isclose(np.linalg.norm(f.direction_), 1.0)
    assert f.direction_ @ u > 0.9  # recovered, and pointing to the positive class
    assert f.score(X, y) > 0.95
    # flipping the labels flips the direction: the sign comes from the labels, not the data
    g = clone(finder).fit(X, 1 - y)
    assert g.direction_ @ u < -0.9
    p = f.transform(X)
    assert p[y == 1].mean() > p[y == 0].mean()


def test_l1_probe_is_sparse_on_a_sparse_planted_direction():
    X, y = planted_units(units=(2, 11, 17), scale=1.0)
    f = LogisticDirection("l1", C=[0.01, 0.03, 0.1, 0.3, 1.0]).fit(X, y)
    assert set(np.flatnonzero(np.abs(f.direction_) > 0.2).tolist()) == {2, 11, 17}
    assert f.n_nonzero_ < D // 2 and f.C_ in (0.01, 0.03, 0.1, 0.3, 1.0) and len(f.cv_scores_) == 5
    assert f.direction_[2] > 0 and f.direction_[11] < 0


def test_best_neuron_finds_the_unit_and_its_sign():
    X, y = planted_units(units=(5,))
    X[:, 5] *= -1  # high = negative: the sign must come out -1
    f = BestNeuron().fit(X, y)
    assert f.unit_ == 5 and f.sign_ == -1
    assert f.direction_[5] == -1.0 and np.count_nonzero(f.direction_) == 1
    assert f.selected_on_ == "train"
    assert f.score(X, y) > 0.9


def test_best_neuron_selected_on_dev():
    X, y = planted_units(units=(5,), seed=0)
    Xd, yd = planted_units(units=(9,), seed=1)  # dev data whose best unit is another one
    f = BestNeuron().fit(X, y, X_dev=Xd, y_dev=yd)
    assert f.unit_ == 9 and f.selected_on_ == "dev"
    with pytest.raises(ValueError, match="both"):
        BestNeuron().fit(X, y, X_dev=Xd)


@pytest.mark.parametrize("by", ["l1", "weight"])
def test_topk_neurons_find_the_planted_units(by):
    X, y = planted_units(units=(2, 11, 17), scale=1.5)
    f = TopKNeurons(k=3, by=by).fit(X, y)
    assert set(f.units_.tolist()) == {2, 11, 17}
    assert np.count_nonzero(f.direction_) == 3
    assert f.direction_[2] > 0 and f.direction_[11] < 0  # the probe's signs, canonical overall
    assert f.score(X, y) > 0.9
    assert f.method == f"topk_{by}"


def test_topk_l1_orders_units_by_entry():
    X, y = planted_units(units=(4, 8), scale=2.0)
    X[:, 8] = X[:, 8] * 0.3 + np.where(y == 1, 0.3, -0.3)  # weaker second unit enters later
    f = TopKNeurons(k=1, by="l1").fit(X, y)
    assert f.units_.tolist() == [4]


@pytest.mark.parametrize("finder", [MeanDiff(), KMeansDirection(), PCADirection(), LogisticDirection(), BestNeuron(),
                                    TopKNeurons(k=2)], ids=lambda f: type(f).__name__)
def test_contract(finder):
    X, y, _ = planted_direction(n=120)
    f = clone(finder)
    with pytest.raises(NotFittedError):
        f.transform(X)
    assert f.fit(X, y) is f
    fitted = [k for k in vars(f) if k.endswith("_") and not k.startswith("_")]
    assert "direction_" in fitted and "threshold_" in fitted and "n_features_in_" in fitted
    with pytest.raises(ValueError, match="width"):
        f.transform(np.zeros((3, D + 1)))
    with pytest.raises(ValueError, match="both labels"):
        clone(finder).fit(X, np.zeros(len(X), dtype=int))
    with pytest.raises(ValueError, match="rows"):
        clone(finder).fit(X, y[:-1])
    assert clone(f).get_params() == f.get_params()  # hyper-parameters only in __init__


def test_torch_input_and_to_direction_round_trip(tmp_path):
    X, y, u = planted_direction()
    f = LogisticDirection("l2", C=[0.1, 1.0]).fit(torch.tensor(X, dtype=torch.float32), torch.tensor(y))
    d = f.to_direction("blocks.0.hook_resid_post", model="toy", data="planted", seed=0, metrics={"acc": 1.0})
    assert d.method == "logreg_l2" and d.flags["C"] in (0.1, 1.0)
    path = d.save(tmp_path / "dirs" / d.site)
    back = Direction.load(path, expect_width=D)
    assert torch.allclose(back.vector, d.vector) and back.method == "logreg_l2"
    with pytest.raises(ValueError, match="width"):
        Direction.load(path, expect_width=D + 1)
    n = BestNeuron().fit(*planted_units(units=(7,))).to_direction("hook_c")
    assert n.flags["unit"] == 7


def test_make_finder_names():
    assert isinstance(make_finder("topk_l1", k=3), TopKNeurons)
    with pytest.raises(ValueError, match="unknown finder"):
        make_finder("nope")


def test_das_refuses_plain_fit():
    with pytest.raises(TypeError, match="fit_interchange"):
        DAS().fit(np.zeros((4, 3)), [0, 1, 0, 1])
    with pytest.raises(NotFittedError):
        DAS().transform(np.zeros((2, 3)))


def test_das_reduces_its_loss_on_the_tiny_model(tiny_model):
    from interp.pairs import toy_pairs

    pairs = toy_pairs(tiny_model, part="train", same_length=False)
    clean, corrupt = pairs.tokenize(tiny_model)
    where = (clean.tokens != corrupt.tokens) & clean.mask
    ids = (tiny_model.single_token(" good"), tiny_model.single_token(" bad"))
    site = "blocks.0.hook_resid_post"
    before = [q.requires_grad for q in tiny_model.bridge.parameters()]
    f = DAS(steps=40, lr=0.05, batch_size=8, random_state=0)
    assert f.fit_interchange(tiny_model, site, clean, corrupt, where, ids, labels=pairs.labels) is f
    assert np.mean(f.loss_[-5:]) < np.mean(f.loss_[:5]) - 0.05
    assert f.denoising_ > f.denoising_init_
    assert np.isclose(np.linalg.norm(f.direction_), 1.0) and f.direction_.shape == (64,)
    # canonical sign: clean positives project higher than clean negatives at the word
    _, acts = tiny_model.run(clean, read=[site])
    rows, cols = torch.nonzero(where, as_tuple=True)
    p = acts[site][rows, cols].numpy() @ f.direction_
    lab = pairs.labels[rows.numpy()]
    assert p[lab == 1].mean() > p[lab == 0].mean()
    # the model's weights are left as they were (no gradient flags turned off for good)
    assert [q.requires_grad for q in tiny_model.bridge.parameters()] == before
    d = f.to_direction(site, model="tiny")
    assert d.method == "das"
