"""The transformer adapter, position selectors and interventions on a tiny random model."""

import numpy as np
import pytest
import torch

from interp import positions as P
from interp.directions import Direction, random_directions
from interp.interventions import DirectionAblation, set_projection
from interp.models.protocol import UnknownSiteError
from interp.tasks import SSTZeroShot

TEXTS = [
    "A stirring, funny and finally transporting film.",
    "bad",
    "It is not, in the end, a good movie, but it is fun.",
    "The acting is terrible.",
]


def test_last_token_logits_match_bridge_forward(tiny_model):
    b = tiny_model.tokenize(TEXTS)
    logits, _ = tiny_model.run(b)
    full = tiny_model.full_logits(b)
    assert torch.allclose(logits, full[torch.arange(len(b)), b.last], atol=1e-5)


def test_right_padding_and_last_from_mask(tiny_model):
    b = tiny_model.tokenize(TEXTS)
    assert b.mask[:, 0].all()
    for row, text in enumerate(TEXTS):
        n = int(b.mask[row].sum())
        assert not b.mask[row, n:].any()  # padding only on the right
        assert b.last[row] == n - 1
        assert "".join(b.pieces[row][1:]) == text  # BOS, then the text itself


def test_padding_invariance(tiny_model):
    """The logit difference of a text is the same alone and inside a padded batch."""
    task = SSTZeroShot(prompt="very")
    prompts = task.format(TEXTS)
    pos_id, neg_id = task.answer_ids(tiny_model)
    together, _ = tiny_model.run(tiny_model.tokenize(prompts))
    for i, p in enumerate(prompts):
        alone, _ = tiny_model.run(tiny_model.tokenize([p]))
        ld_alone = alone[0, pos_id] - alone[0, neg_id]
        ld_batch = together[i, pos_id] - together[i, neg_id]
        assert abs(float(ld_alone - ld_batch)) < 1e-4


def test_comma_positions_for_the_tokenizer(tiny_model):
    b = tiny_model.tokenize(TEXTS)
    mask = P.Commas(allow_empty=True).mask(b)
    for row in range(len(TEXTS)):
        got = [b.pieces[row][i] for i in torch.nonzero(mask[row]).flatten().tolist()]
        assert all("," in g for g in got)
        assert len(got) == TEXTS[row].count(",")


def test_no_position_is_an_error_not_a_no_op(tiny_model):
    b = tiny_model.tokenize(["bad", "The acting is terrible."])
    with pytest.raises(P.NoPositionsError, match="commas"):
        P.Commas().mask(b)
    assert P.Commas().counts(b).tolist() == [0, 0]


def test_first_token_skipped_by_default(tiny_model):
    b = tiny_model.tokenize(TEXTS)
    assert not P.AllTokens().mask(b)[:, 0].any()
    assert P.AllTokens(skip_first=False).mask(b)[:, 0].all()


def test_ablation_removes_component_and_leaves_the_rest_bit_identical(tiny_model):
    site = "blocks.1.hook_resid_post"
    width = tiny_model.sites()[site]
    u = random_directions(width, 1, seed=3)[0]
    b = tiny_model.tokenize(TEXTS)
    sel = P.Commas(allow_empty=True)
    where = sel.mask(b)
    _, clean = tiny_model.run(b, read=[site])
    iv = DirectionAblation(site, u, sel, mode="project")
    # read the site after the intervention: the hook that reads is added after the one that writes
    _, after = tiny_model.run(b, interventions=[iv.bind(b, tiny_model)], read=[site])
    a, c = after[site], clean[site]
    assert iv.touched == int(where.sum()) > 0
    assert torch.allclose(a[where] @ u, torch.zeros(int(where.sum())), atol=1e-4)
    assert torch.equal(a[~where], c[~where])
    # and the ablation changed something downstream
    assert not torch.equal(a[where], c[where])


def test_set_projection_mean_target_and_per_example_directions():
    torch.manual_seed(0)
    act = torch.randn(3, 5, 8)
    where = torch.rand(3, 5) > 0.5
    u = random_directions(8, 3, seed=1)
    out = set_projection(act, where, u, torch.tensor([1.0, 2.0, 3.0]))
    proj = torch.einsum("btd,bd->bt", out, u)
    for row, target in enumerate([1.0, 2.0, 3.0]):
        assert torch.allclose(proj[row][where[row]], torch.full((int(where[row].sum()),), target), atol=1e-5)
    assert torch.equal(out[~where], act[~where])


def test_wrong_width_direction_is_refused(tiny_model):
    site = "blocks.0.hook_resid_post"
    b = tiny_model.tokenize(TEXTS)
    iv = DirectionAblation(site, torch.ones(7), P.AllTokens())
    with pytest.raises(ValueError, match="width 7"):
        iv.bind(b, tiny_model)


def test_unknown_site(tiny_model):
    b = tiny_model.tokenize(["bad"])
    with pytest.raises(UnknownSiteError, match="blocks.9.hook_resid_post"):
        tiny_model.run(b, read=["blocks.9.hook_resid_post"])


def test_answer_must_be_one_token(tiny_model):
    with pytest.raises(ValueError, match="not one"):
        tiny_model.single_token(" antidisestablishmentarianism")


def test_empty_text_is_an_error(tiny_model):
    with pytest.raises(ValueError, match="empty"):
        tiny_model.tokenize(["fine", "  "])


def test_direction_save_load_and_width_check(tmp_path):
    d = Direction(torch.tensor([3.0, 4.0]), site="blocks.0.hook_resid_post", model="m", method="mean_diff", seed=1)
    assert torch.allclose(d.vector, torch.tensor([0.6, 0.8]))
    d.save(tmp_path / "blocks.0.hook_resid_post")
    assert (tmp_path / "blocks.0.hook_resid_post.safetensors").exists()
    back = Direction.load(tmp_path / "blocks.0.hook_resid_post.json")
    assert torch.equal(back.vector, d.vector) and back.site == d.site and back.model == "m"
    with pytest.raises(ValueError, match="width 2"):
        Direction.load(tmp_path / "blocks.0.hook_resid_post", expect_width=576)
