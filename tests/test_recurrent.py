"""The mLSTM behind the Model protocol: the same selectors and interventions as transformers."""

import pytest
import torch

from interp import positions as P
from interp.directions import random_directions
from interp.interventions import DirectionAblation
from interp.models.mlstm import MLSTM
from interp.models.mlstm.adapter import MLSTMModel
from interp.models.mlstm.tokenizer import byte_pieces

TEXTS = ["Good, fun, and sweet.", "bad", "Crème brûlée, twice."]


@pytest.fixture(scope="module")
def model():
    return MLSTMModel(MLSTM(d_hidden=24, seed=0), name="tiny-mlstm")


def test_byte_pieces_map_multibyte_characters():
    data = "é,x".encode()
    assert byte_pieces(data) == ["", "é", ",", "x"]


def test_commas_found_in_bytes(model):
    b = model.tokenize(TEXTS)
    m = P.Commas(allow_empty=True).mask(b)
    assert m.sum(1).tolist() == [t.count(",") for t in TEXTS]
    assert all(b.pieces[r][c] == "," for r, c in torch.nonzero(m).tolist())


def test_run_matches_padding_free_logits(model):
    b = model.tokenize(TEXTS)
    last, _ = model.run(b)
    for i, t in enumerate(TEXTS):
        alone, _ = model.run(model.tokenize([t]))
        assert torch.allclose(alone[0], last[i], atol=1e-5)


def test_ablation_at_commas_changes_only_later_steps(model):
    site = "hook_c"
    u = random_directions(24, 1, seed=0)[0]
    b = model.tokenize(TEXTS)
    sel = P.Commas(allow_empty=True)
    where = sel.mask(b)
    _, clean = model.run(b, read=["hook_c", "hook_h"])
    iv = DirectionAblation(site, u, sel, mode="project")
    _, after = model.run(b, interventions=[iv.bind(b, model)], read=["hook_c", "hook_h"])
    assert iv.touched == int(where.sum()) > 0
    assert torch.allclose(after["hook_c"][where] @ u, torch.zeros(int(where.sum())), atol=1e-5)
    first = where.float().argmax(1)
    for row in range(len(TEXTS)):
        if not where[row].any():
            assert torch.equal(after["hook_h"][row], clean["hook_h"][row])
            continue
        t0 = int(first[row])
        assert torch.equal(after["hook_h"][row, :t0], clean["hook_h"][row, :t0])  # before: untouched
        assert not torch.equal(after["hook_h"][row, t0:], clean["hook_h"][row, t0:])  # from it on: changed


def test_sites_and_errors(model):
    assert model.sites()["hook_c"] == 24
    with pytest.raises(KeyError, match="hook_q"):
        model.run(model.tokenize(["x"]), read=["hook_q"])
    with pytest.raises(ValueError, match="empty"):
        model.tokenize(["fine", " "])
