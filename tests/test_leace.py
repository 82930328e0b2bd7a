"""LEACE: the finder removes every linearly readable trace of the label with less change than a
projection; the intervention applies the fitted eraser at the selected positions only."""

import numpy as np
import pytest
import torch
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import cross_val_score

from interp import positions as P
from interp.finders import Leace, MeanDiff
from interp.interventions import DirectionAblation, LeaceErasure


def correlated(n=3000, d=16, seed=0):
    """A label that shifts X along u, under strongly correlated (anisotropic) noise; the structure
    (u, the mixing) is fixed, ``seed`` draws the samples."""
    g = np.random.default_rng(123)
    u = g.normal(size=d)
    u /= np.linalg.norm(u)
    A = g.normal(size=(d, d))
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, n)
    X = rng.normal(size=(n, d)) @ A.T * 0.5 + np.outer(np.where(y == 1, 1.0, -1.0), u) + 3.0
    return X, y


def probe_accuracy(X, y):
    return float(cross_val_score(LogisticRegression(max_iter=3000), X, y, cv=3).mean())


def test_leace_leaves_a_probe_at_chance_and_moves_x_less_than_a_projection():
    X, y = correlated()
    Xh, yh = correlated(seed=1)  # held out, same distribution
    assert probe_accuracy(Xh, yh) > 0.9  # the label is linearly readable before
    f = Leace().fit(X, y)
    Z = f.erase(Xh)
    assert abs(probe_accuracy(Z, yh) - 0.5) < 0.05  # at chance after
    # the class means coincide on the fitting data: no linear classifier can do better than a constant
    Zf = f.erase(X)
    assert np.abs(Zf[y == 1].mean(0) - Zf[y == 0].mean(0)).max() < 1e-8
    # a projection that also equalises the class means (project out the mean difference) moves X far more
    md = MeanDiff().fit(X, y).direction_
    proj = X - np.outer((X - X.mean(0)) @ md, md)
    assert np.abs(proj[y == 1].mean(0) - proj[y == 0].mean(0)).max() < 1e-8
    assert ((Zf - X) ** 2).sum(1).mean() < 0.5 * ((proj - X) ** 2).sum(1).mean()
    # as a finder: a unit direction with the canonical sign that reads the label
    assert np.isclose(np.linalg.norm(f.direction_), 1.0) and f.score(Xh, yh) > 0.9
    p = f.transform(X)
    assert p[y == 1].mean() > p[y == 0].mean()
    assert f.rank_ >= 1 and f.proj_left_.shape == (16, f.rank_)


def test_leace_checks_its_input():
    X, y = correlated(n=50)
    with pytest.raises(ValueError, match="both labels"):
        Leace().fit(X, np.zeros(len(X), dtype=int))
    f = Leace().fit(X, y)
    with pytest.raises(ValueError, match="width"):
        f.erase(np.zeros((2, 17)))


def test_erasure_intervention_matches_the_finder_and_touches_only_selected_positions():
    X, y = correlated(n=400)
    f = Leace().fit(X, y)
    act = torch.tensor(X[:24].reshape(3, 8, 16), dtype=torch.float32)
    where = torch.zeros(3, 8, dtype=torch.bool)
    where[0, 2] = where[1, 5] = where[2, 7] = True

    class B:  # the batch fields an intervention reads
        ids = torch.arange(3)

    iv = LeaceErasure.from_erasers("s", f, P.get("all"))
    out = iv(act, where, B)
    assert torch.equal(out[~where], act[~where])  # bit-identical elsewhere
    want = f.erase(X[:24].reshape(3, 8, 16)[where.numpy()])
    assert np.allclose(out[where].numpy(), want, atol=1e-4)
    assert iv.touched == 3
    # a bank: example i gets eraser i % k
    g = Leace().fit(X, np.random.default_rng(0).permutation(y))
    bank = LeaceErasure.from_erasers("s", [f, g], P.get("all"))
    out2 = bank(act, where, B)
    assert torch.allclose(out2[0, 2], out[0, 2]) and torch.allclose(out2[2, 7], out[2, 7])
    assert np.allclose(out2[1, 5].numpy(), g.erase(X[:24].reshape(3, 8, 16)[1, 5][None])[0], atol=1e-4)
    # the reference mean replaces the fitted bias
    m = torch.zeros(16)
    iv_m = LeaceErasure.from_erasers("s", f, P.get("all"), reference_mean=m)
    assert not torch.allclose(iv_m(act, where, B)[where], out[where])
    with pytest.raises(ValueError, match="not a fitted LEACE"):
        LeaceErasure.from_erasers("s", MeanDiff(), P.get("all"))


def test_eraser_fires_at_the_selected_positions_only_on_the_tiny_model(tiny_model):
    site = "blocks.0.hook_resid_post"
    texts = ["a good movie, really", "bad , awful", "fine film"]
    b = tiny_model.tokenize(texts)
    _, acts = tiny_model.run(b, read=[site, "blocks.1.hook_resid_post"])
    X = acts[site][b.mask.bool()].double().numpy()
    yy = np.arange(len(X)) % 2
    f = Leace().fit(X, yy)
    commas = P.Commas(allow_empty=True)
    iv = LeaceErasure.from_erasers(site, f, commas)
    _, after = tiny_model.run(b, interventions=[iv.bind(b, tiny_model)], read=[site, "blocks.1.hook_resid_post"])
    where = commas.mask(b)
    assert iv.touched == int(where.sum()) == 2 and iv.examples_touched == 2
    assert torch.equal(after[site][~where], acts[site][~where])  # untouched positions bit-identical at the site
    assert not torch.allclose(after[site][where], acts[site][where])
    want = f.erase(acts[site][where].double().numpy())
    assert np.allclose(after[site][where].numpy(), want, atol=1e-4)
    # causal: positions before the first comma are unchanged downstream too
    first = int(where[0].nonzero()[0])
    assert torch.equal(after["blocks.1.hook_resid_post"][0, :first], acts["blocks.1.hook_resid_post"][0, :first])
    # a width mismatch is refused when bound
    g = Leace().fit(np.random.default_rng(0).normal(size=(20, 8)), np.arange(20) % 2)
    with pytest.raises(ValueError, match="width"):
        LeaceErasure.from_erasers(site, g, commas).bind(b, tiny_model)
