"""Steering transformers (interp.models.generate, interp.experiments.steer, `interp steer --model`) on the
tiny random Llama: what the hooks add and where, that the KV-cached sampler matches plain
generation and a full-recompute reference, that nothing stays attached, bad inputs, and the
counted evaluation end to end."""

from __future__ import annotations

import json

import pytest
import torch
from typer.testing import CliRunner

from interp import positions as P
from interp.cli import app
from interp.directions import Direction
from interp.models.generate import generate, kv_cache, mean_token_loss
from interp.experiments.steer import (AddVector, HoldUnit, SteerEvalConfig, parse_alphas, resolve_direction,
                                      run_steer_eval, steer_site, typical_norm)

runner = CliRunner()
SITE = "blocks.1.hook_resid_post"
PROMPTS = ["I thought this movie was", "Hello there my good friend, how are you", "A"]


def _unit(d: int, seed: int = 0) -> torch.Tensor:
    v = torch.randn(d, generator=torch.Generator().manual_seed(seed))
    return v / v.norm()


def _state(model):
    return {k: v.clone() for k, v in model.bridge.original_model.state_dict().items()}


def _hook_counts(model):
    mods = list(model.bridge.original_model.modules())
    return sum(len(m._forward_hooks) + len(m._forward_pre_hooks) for m in mods)


# --------------------------------------------------------------------------- the operators


def test_add_vector_adds_exactly_alpha_norm_unit_after_the_first_token(tiny_model):
    b = tiny_model.tokenize(PROMPTS)
    _, norm = typical_norm(tiny_model, SITE, ["a fine film", "a dull film , sadly", "it was good"])
    u, alpha = _unit(64), 3.0
    iv = AddVector(SITE, alpha * norm * u)
    _, plain = tiny_model.run(b, read=[SITE])
    _, steered = tiny_model.run(b, interventions=[iv.bind(b, tiny_model)], read=[SITE])
    diff = steered[SITE] - plain[SITE]
    where = b.mask.clone()
    where[:, 0] = False
    assert torch.allclose(diff[where], (alpha * norm * u).expand(int(where.sum()), -1), atol=1e-5)
    assert torch.equal(steered[SITE][~where], plain[SITE][~where])  # first token and padding untouched
    assert iv.touched == int(where.sum()) and iv.examples_touched == len(PROMPTS)
    assert norm > 0


def test_typical_norm_is_the_mean_norm_without_the_first_token(tiny_model):
    from interp.tasks import SSTZeroShot

    texts = ["a fine film", "a dull film , sadly", "it was good"]
    first, rest = typical_norm(tiny_model, SITE, texts)
    b = tiny_model.tokenize(SSTZeroShot().format(texts))
    _, acts = tiny_model.run(b, read=[SITE])
    n = acts[SITE].norm(dim=-1)
    m = b.mask.clone()
    m[:, 0] = False
    assert rest == pytest.approx(float(n[m].mean()), rel=1e-5)
    assert first == pytest.approx(float(n[:, 0].mean()), rel=1e-5)


def test_hold_unit_sets_the_unit_after_the_first_token(tiny_model):
    b = tiny_model.tokenize(PROMPTS)
    iv = HoldUnit(SITE, 5, 7.5, width=64)
    _, plain = tiny_model.run(b, read=[SITE])
    _, held = tiny_model.run(b, interventions=[iv.bind(b, tiny_model)], read=[SITE])
    where = b.mask.clone()
    where[:, 0] = False
    assert torch.all(held[SITE][..., 5][where] == 7.5)
    assert torch.equal(held[SITE][:, 0], plain[SITE][:, 0])
    others = [k for k in range(64) if k != 5]
    assert torch.equal(held[SITE][..., others], plain[SITE][..., others])
    with pytest.raises(ValueError, match="out of range"):
        HoldUnit(SITE, 64, 1.0, width=64)
    with pytest.raises(ValueError, match="finite"):
        HoldUnit(SITE, 1, float("nan"), width=64)


# --------------------------------------------------------------------------- generation


def test_alpha_zero_equals_plain_generation_and_the_cache_equals_a_full_recompute(tiny_model):
    kw = dict(max_new_tokens=8, temperature=1.0, seed=3)
    plain = generate(tiny_model, PROMPTS, **kw)
    zero = generate(tiny_model, PROMPTS, interventions=[(SITE, AddVector(SITE, torch.zeros(64)))], **kw)
    assert zero.tokens == plain.tokens and zero.continuations == plain.continuations
    padded = generate(tiny_model, PROMPTS, stop_at_eos=False, **kw)  # every row gets exactly 8 new tokens
    assert all(len(t) == n + 8 for t, n in zip(padded.tokens, padded.prompt_lengths))
    assert padded.prompt_lengths == tiny_model.tokenize(PROMPTS).lengths.tolist()
    # sampled, steered: the cached lockstep path equals recomputing everything, and a sample does
    # not depend on the batch it ran in (prompts of different lengths)
    iv = [(SITE, AddVector(SITE, 40.0 * _unit(64)))]
    cached = generate(tiny_model, PROMPTS, interventions=iv, **kw)
    full = generate(tiny_model, PROMPTS, interventions=iv, use_cache=False, batch_size=1, **kw)
    assert cached.tokens == full.tokens
    assert cached.tokens != plain.tokens  # a large push changes the text
    # a different seed gives different samples; the same seed the same
    assert generate(tiny_model, PROMPTS, max_new_tokens=8, seed=4).tokens != plain.tokens
    assert generate(tiny_model, PROMPTS, **kw).tokens == plain.tokens


def test_greedy_generation_matches_hugging_face_generate(tiny_model):
    """An independent implementation: HF's own generate (under the cache fix) agrees token for token."""
    ours = generate(tiny_model, PROMPTS[:1], max_new_tokens=10, temperature=0)
    b = tiny_model.tokenize(PROMPTS[:1])
    with kv_cache(tiny_model), torch.inference_mode():
        hf = tiny_model.bridge.original_model.generate(b.tokens, max_new_tokens=10, do_sample=False)
    assert hf[0].tolist() == ours.tokens[0]


def test_steering_acts_at_every_prompt_and_generated_position_but_the_first(tiny_model):
    """Greedy steered generation equals a reference that recomputes the whole text with
    ``Model.run`` and the operator bound to every real token but the first."""
    _, norm = typical_norm(tiny_model, SITE, ["a fine film", "a dull film , sadly", "it was good"])
    vec = norm * _unit(64, seed=1)  # one typical norm: the text changes but does not collapse to one token
    ours = generate(tiny_model, PROMPTS[:2], max_new_tokens=6, temperature=0,
                    interventions=[(SITE, AddVector(SITE, vec))])
    for row, prompt in enumerate(PROMPTS[:2]):
        ids = tiny_model.tokenize([prompt]).tokens[0].tolist()
        for _ in range(6):
            from interp.models.protocol import Batch

            t = torch.tensor([ids])
            b = Batch(tokens=t, mask=torch.ones_like(t, dtype=torch.bool), texts=[""], pieces=[[""] * len(ids)])
            iv = AddVector(SITE, vec, positions=P.AllTokens(skip_first=True))
            logits, _ = tiny_model.run(b, interventions=[iv.bind(b, tiny_model)])
            ids.append(int(logits[0].argmax()))
        assert ours.tokens[row] == ids
    assert ours.tokens != generate(tiny_model, PROMPTS[:2], max_new_tokens=6, temperature=0).tokens
    assert len(set(ours.tokens[0][-6:])) > 1
    # what the hook is shown: the common prompt prefix in one pass (first token left out), then
    # one new position per pass
    spied = []

    def spy(act, where, batch):
        spied.append(where.clone())
        return act

    generate(tiny_model, PROMPTS[:2], max_new_tokens=3, temperature=0, interventions=[(SITE, spy)])
    assert spied[0].shape == (2, min(len(tiny_model.tokenize([p]).tokens[0]) for p in PROMPTS[:2]))
    assert not spied[0][:, 0].any() and spied[0][:, 1:].all()
    assert all(w.shape == (2, 1) and w.all() for w in spied[1:])
    lengths = [len(tiny_model.tokenize([p]).tokens[0]) for p in PROMPTS[:2]]
    assert len(spied) == 1 + (max(lengths) + 3 - 1) - min(lengths)  # passes until the longest row has 3 new tokens


def test_the_model_is_unchanged_after_steering_even_when_a_hook_fails(tiny_model):
    before, hooks = _state(tiny_model), _hook_counts(tiny_model)
    b = tiny_model.tokenize(PROMPTS)
    logits0, _ = tiny_model.run(b)
    generate(tiny_model, PROMPTS, max_new_tokens=4, interventions=[(SITE, AddVector(SITE, 9.0 * _unit(64)))])
    generate(tiny_model, PROMPTS, max_new_tokens=4, interventions=[(SITE, HoldUnit(SITE, 2, 5.0, width=64))])

    def boom(act, where, batch):
        raise RuntimeError("boom")

    with pytest.raises(RuntimeError, match="boom"):
        generate(tiny_model, PROMPTS, max_new_tokens=4, interventions=[(SITE, boom)])
    after = _state(tiny_model)
    assert before.keys() == after.keys() and all(torch.equal(before[k], after[k]) for k in before)
    assert _hook_counts(tiny_model) == hooks
    logits1, _ = tiny_model.run(b)
    assert torch.equal(logits0, logits1)


def test_mean_token_loss_is_the_loss_on_the_generated_tokens_only(tiny_model):
    g = generate(tiny_model, PROMPTS[:2], max_new_tokens=5, seed=1)
    losses = mean_token_loss(tiny_model, g)
    for row, toks in enumerate(g.tokens):
        t = torch.tensor([toks])
        with torch.inference_mode():
            lp = torch.log_softmax(tiny_model.bridge.original_model(input_ids=t).logits[0].float(), -1)
        n = g.prompt_lengths[row]
        want = -torch.stack([lp[i - 1, toks[i]] for i in range(n, len(toks))]).mean()
        assert losses[row] == pytest.approx(float(want), rel=1e-4)


# --------------------------------------------------------------------------- bad inputs


def test_resolve_direction_and_site_checks(tiny_model, tmp_path):
    d = resolve_direction(tiny_model, "mean_diff", SITE)
    assert d.site == SITE and d.method == "mean_diff" and d.metrics["toy_train_acc"] >= 0.5
    assert resolve_direction(tiny_model, "best_neuron", SITE).vector.abs().max() == 1.0
    Direction(_unit(64), site="blocks.0.hook_resid_post", method="planted").save(tmp_path / "d0")
    assert resolve_direction(tiny_model, tmp_path / "d0.safetensors", None).site == "blocks.0.hook_resid_post"
    with pytest.raises(ValueError, match="fitted at blocks.0"):
        resolve_direction(tiny_model, str(tmp_path / "d0"), SITE)
    Direction(_unit(32), site=SITE).save(tmp_path / "narrow")
    with pytest.raises(ValueError, match="width 32"):
        resolve_direction(tiny_model, str(tmp_path / "narrow"), SITE)
    with pytest.raises(ValueError, match="out of range"):
        steer_site(tiny_model, 2)
    with pytest.raises(ValueError, match="not a number"):
        parse_alphas("1,two")
    with pytest.raises(ValueError, match="das"):
        resolve_direction(tiny_model, "das", SITE)


def _one_line_error(r, *words):
    assert r.exit_code == 2, r.output
    lines = [x for x in r.output.strip().splitlines() if x.strip() and "Warning" not in x and "warn" not in x]
    err = [x for x in lines if x.startswith("error:") or "Error" in x or "Invalid value" in x]
    assert err, r.output
    assert "Traceback" not in r.output
    for w in words:
        assert w in r.output, r.output


def test_cli_bad_inputs_give_one_line_errors(tiny_model_dir, tmp_path):
    m = ["steer", "--model", str(tiny_model_dir), "--max-new-tokens", "2", "--n-samples", "1"]
    _one_line_error(runner.invoke(app, [*m, "--layer", "7"]), "layer 7 out of range", "0..1")
    _one_line_error(runner.invoke(app, [*m, "--alpha", "1,abc"]), "'abc' is not a number")
    _one_line_error(runner.invoke(app, [*m, "--neuron", "64", "--value", "1"]), "neuron 64 out of range")
    _one_line_error(runner.invoke(app, [*m, "--neuron", "3"]), "--neuron and --value")
    _one_line_error(runner.invoke(app, [*m, "--direction", str(tmp_path / "nope.safetensors")]),
                    "neither a finder")
    (tmp_path / "bad.safetensors").write_bytes(b"not a safetensors file")
    (tmp_path / "bad.json").write_text("{}")
    _one_line_error(runner.invoke(app, [*m, "--direction", str(tmp_path / "bad.safetensors")]),
                    "cannot read direction file")
    _one_line_error(runner.invoke(app, ["steer", "--max-new-tokens", "2"]), "CHECKPOINT or --model")
    e = ["steer", "--model", str(tiny_model_dir), "--eval"]
    _one_line_error(runner.invoke(app, [*e, "--alpha", "1,2"]), "must hold 0")
    _one_line_error(runner.invoke(app, [*e, "--n-random", "0"]), "random control")
    _one_line_error(runner.invoke(app, [*e, "--n-samples", "1"]), "n_samples must be an int >= 2")
    _one_line_error(runner.invoke(app, [*e, "--neuron", "1", "--value", "2"]), "best neuron itself")
    _one_line_error(runner.invoke(app, ["steer", "--model", str(tmp_path / "no-model")]), "no-model")


def test_cli_samples_with_a_direction_and_with_a_neuron_hold(tiny_model_dir):
    m = ["steer", "--model", str(tiny_model_dir), "--max-new-tokens", "4", "--n-samples", "2", "--seed", "5"]
    r = runner.invoke(app, [*m, "--alpha", "-2,0,2"])
    assert r.exit_code == 0, r.output
    assert r.output.count("--- alpha") == 3 and "blocks.1.hook_resid_post" in r.output
    assert r.output.count("I thought this movie was") == 6
    r = runner.invoke(app, [*m, "--neuron", "3", "--value", "7", "--layer", "0"])
    assert r.exit_code == 0, r.output
    assert "neuron 3 of blocks.0.hook_resid_post held at 7" in r.output


# --------------------------------------------------------------------------- the counted evaluation


@pytest.fixture(scope="module")
def small_judge():
    from interp.judge import fit_judge

    return fit_judge(400, 200, seed=0)


def test_steer_eval_end_to_end_returns_the_structure(tiny_model, small_judge, tmp_path):
    from interp import report
    from interp.report.results import Result

    cfg = SteerEvalConfig(alphas=[-1, 0, 1], n_samples=4, max_new_tokens=5, n_random=2, norm_n=8, n_boot=50)
    before = _state(tiny_model)
    res = run_steer_eval(tiny_model, cfg, progress=False, judge=small_judge)
    assert res.kind == "steer" and len(res.figures) == 1 and len(res.tables) == 4
    d = res.data
    names = [t["name"] for t in d["targets"]]
    assert names[0] == "mean_diff direction" and names[1].startswith("best neuron")
    assert sum(t["what"] == "random" for t in d["targets"]) == 2
    assert d["site"] == SITE and d["typical_norm"] > 0 and d["alphas"] == [-1.0, 0.0, 1.0]
    for name in names:
        entries = d["curve"][name]
        assert [e["alpha"] for e in entries] == [-1.0, 0.0, 1.0]
        for e in entries:
            assert 0 <= e["p_pos_ci"][0] <= e["p_pos"] <= e["p_pos_ci"][1] <= 1
            assert e["positions_touched"] == (0 if e["alpha"] == 0 else 4 * (len(tiny_model.tokenize(
                [cfg.prompt]).tokens[0]) - 1 + 5 - 1))
        zero = next(e for e in entries if e["alpha"] == 0)
        assert zero["loss_cost"] == 0.0  # α=0 is the unsteered run itself
        s = d["slopes"][name]
        assert s["ci95"][0] <= s["slope"] <= s["ci95"][1]
    assert "random directions, pooled" in d["slopes"]
    assert all(len(v["p_pos"]) == 4 and len(v["loss"]) == 4 for v in d["samples"].values())
    # the slope is the least-squares slope of the per-sample judged P(positive) on α
    import numpy as np

    y = np.array([d["samples"][f"{names[0]}|{a:g}"]["p_pos"] for a in (-1.0, 0.0, 1.0)])
    a = np.repeat([-1.0, 0.0, 1.0], 4)
    assert d["slopes"][names[0]]["slope"] == pytest.approx(np.polyfit(a, y.reshape(-1), 1)[0], abs=1e-9)
    after = _state(tiny_model)
    assert all(torch.equal(before[k], after[k]) for k in before)
    res.save(tmp_path / "r.json")
    again = Result.load(tmp_path / "r.json")
    assert again.data["slopes"] == json.loads(json.dumps(d["slopes"]))
    html = report.write_report([again], tmp_path / "r.html").read_text()
    assert "Dose-response" in html and "plotly" in html.lower()


def test_cli_eval_writes_result_and_report(tiny_model_dir, tmp_path, monkeypatch, small_judge):
    import interp.judge

    monkeypatch.setattr(interp.judge, "fit_judge", lambda *a, **k: small_judge)  # the IMDB fit is tested above
    out = tmp_path / "steer"
    r = runner.invoke(app, ["steer", "--model", str(tiny_model_dir), "--eval", "--alpha", "-1,0,1", "--n-samples", "3",
                            "--max-new-tokens", "3", "--n-random", "1", "--out", str(out), "--no-progress",
                            "--threads", "1"])
    assert r.exit_code == 0, r.output
    res = json.loads((out / "result.json").read_text())
    assert res["kind"] == "steer" and res["manifest"]["command"].startswith("interp steer")
    assert "--eval" in res["manifest"]["command"] and (out / "report.html").stat().st_size > 10_000
    assert "Slope of judged P(positive)" in r.output


@pytest.mark.slow  # the pulled SmolLM2-135M
def test_steered_sampling_on_smollm2_uses_the_cache_correctly():
    from interp.models import zoo
    from interp.models.transformer import TransformerModel

    zoo.pull("smollm2-135m", progress=False)
    model = TransformerModel.load("smollm2-135m")
    site = "blocks.15.hook_resid_post"
    kw = dict(max_new_tokens=6, temperature=1.0, seed=0)
    iv = [(site, AddVector(site, 0.25 * 185.0 * _unit(576)))]
    cached = generate(model, PROMPTS[:2], interventions=iv, **kw)
    assert cached.tokens == generate(model, PROMPTS[:2], interventions=iv, use_cache=False, **kw).tokens
    plain = generate(model, PROMPTS[:2], **kw)
    assert generate(model, PROMPTS[:2], interventions=[(site, AddVector(site, torch.zeros(576)))], **kw).tokens \
        == plain.tokens
