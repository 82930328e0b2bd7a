"""Byte-level mLSTM: gradients, padding, hooks, interventions, save/load, text policy, resumable training.

Tiny models only (d_hidden 4-32); the whole file runs in well under a minute on 2 cores.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from safetensors.torch import load_file, save_file

from interp.models.mlstm import (
    HOOK_NAMES,
    MLSTM,
    CheckpointMismatchError,
    MLSTMConfig,
    _MLSTMScan,
    encode,
    encode_batch,
    preprocess,
)
from interp.models.mlstm.train import evaluate_bpc, train_mlstm


def _tokens(B=3, T=12, vocab=256, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.randint(0, vocab, (B, T), generator=g)


@pytest.fixture
def model():
    return MLSTM(d_hidden=24, d_embed=8, seed=1)


# --------------------------------------------------------------------------- gradients


def test_gradcheck_fused_scan_with_and_without_padding():
    T, B, d, V = 5, 3, 4, 7
    g = torch.Generator().manual_seed(0)
    rnd = lambda *s, k=1.0: (k * torch.randn(*s, generator=g, dtype=torch.float64)).requires_grad_()
    tok = torch.randint(0, V, (T, B), generator=g)
    # byte tables (V, d) and (V, 4d), W_mh, W_h, c0, h0
    inputs = (rnd(V, d), rnd(V, 4 * d), rnd(d, d, k=0.5), rnd(d, 4 * d, k=0.5), rnd(B, d), rnd(B, d))
    assert torch.autograd.gradcheck(lambda *a: _MLSTMScan.apply(tok, *a, None, None), inputs)
    mask = torch.ones(T, B, 1, dtype=torch.bool)
    mask[1, 0] = False  # a hole in the middle
    mask[3:, 2] = False  # right padding
    steps = [not bool(x) for x in mask.all(1).squeeze(-1)]
    assert torch.autograd.gradcheck(lambda *a: _MLSTMScan.apply(tok, *a, mask, steps), inputs)


@pytest.mark.parametrize("weight_norm", [False, True])
def test_gradcheck_whole_model_double(weight_norm):
    m = MLSTM(vocab=11, d_embed=3, d_hidden=4, weight_norm=weight_norm, seed=3).double()
    tok = _tokens(2, 4, vocab=11)
    mask = torch.tensor([[True] * 4, [True, True, True, False]])
    names = [n for n, _ in m.named_parameters()]
    params = tuple(p.detach().clone().requires_grad_() for p in m.parameters())

    def f(*ps):
        out, (c, h) = torch.func.functional_call(m, dict(zip(names, ps)), (tok, mask), {"return_state": True})
        return out, c

    assert torch.autograd.gradcheck(f, params)


def test_fused_path_matches_hooked_autograd_path(model):
    m = model.double()
    tok = _tokens(3, 10)
    mask = torch.ones(3, 10, dtype=torch.bool)
    mask[1, 6:] = False
    state = tuple(0.3 * torch.randn(3, 24, dtype=torch.float64) for _ in range(2))

    def run(hooked):
        m.zero_grad()
        hooks = [("hook_h", lambda a, hook: a)] if hooked else []
        out, (c, h) = m.run_with_hooks(tok, mask, state, True, fwd_hooks=hooks)
        (out.sin().sum() + (c * h).sum()).backward()
        return out.detach(), c.detach(), {n: p.grad.clone() for n, p in m.named_parameters()}

    o1, c1, g1 = run(False)
    o2, c2, g2 = run(True)
    torch.testing.assert_close(o1, o2, rtol=0, atol=1e-12)
    torch.testing.assert_close(c1, c2, rtol=0, atol=1e-12)
    for n in g1:
        torch.testing.assert_close(g1[n], g2[n], rtol=1e-10, atol=1e-10, msg=n)


def test_no_op_hooks_and_inference_mode_are_bitwise_equal(model):
    tok = _tokens(3, 15)
    ref = model(tok)
    for name in HOOK_NAMES:
        assert torch.equal(model.run_with_hooks(tok, fwd_hooks=[(name, lambda a, hook: a)]), ref), name
    with torch.inference_mode():
        assert torch.equal(model(tok), ref)


# --------------------------------------------------------------------------- padding and state


def test_padding_keeps_state(model):
    a, b = b"good film, really", b"bad"
    ta, tb = encode(a), encode(b)
    tokens, mask = encode_batch([a, b])
    assert tokens.shape == (2, len(ta)) and mask[1].sum() == len(tb)
    c_pad, h_pad = model.features(tokens, mask)
    c_b, h_b = model.features(tb[None])
    torch.testing.assert_close(c_pad[1], c_b[0], rtol=0, atol=1e-6)
    torch.testing.assert_close(h_pad[1], h_b[0], rtol=0, atol=1e-6)
    # same through forward(return_state) and through the hooked path
    _, (c2, h2) = model(tokens, mask, return_state=True)
    assert torch.equal(c2, c_pad) and torch.equal(h2, h_pad)
    _, (c3, _) = model.run_with_hooks(tokens, mask, return_state=True, fwd_hooks=[("hook_m", lambda a, hook: a)])
    assert torch.equal(c3, c_pad)
    # at every padded step the carried state is exactly the previous one (a hole too)
    mask2 = mask.clone()
    mask2[0, 5] = False
    _, cache = model.run_with_cache(tokens, mask2, names_filter=["hook_c", "hook_h"])
    for t in range(len(tb), tokens.shape[1]):
        assert torch.equal(cache["hook_c"][1, t], cache["hook_c"][1, t - 1])
        assert torch.equal(cache["hook_h"][1, t], cache["hook_h"][1, t - 1])
    assert torch.equal(cache["hook_c"][0, 5], cache["hook_c"][0, 4])


def test_state_carries_across_calls(model):
    tok = _tokens(2, 16)
    full, (c, h) = model(tok, return_state=True)
    first, st = model(tok[:, :7], return_state=True)
    second, (c2, h2) = model(tok[:, 7:], state=st, return_state=True)
    torch.testing.assert_close(torch.cat([first, second], 1), full, rtol=0, atol=1e-6)
    torch.testing.assert_close(c2, c, rtol=0, atol=1e-6)
    z = model.initial_state(2)
    assert z[0].shape == (2, 24) and not z[0].any() and not z[1].any()


def test_continuation_logprob_equals_scoring_the_joined_sequence(model):
    """log P(continuation | state after a prefix) equals the sum of the log-softmax over the joined
    prefix + continuation, read from the prefix's last position on."""
    prefix = _tokens(3, 10)
    cont = "ok!"
    with torch.inference_mode():
        st = model.features(prefix)
        got = model.continuation_logprob(st, cont)
        joined = torch.cat([prefix, torch.tensor(list(b"ok!")).expand(3, -1)], 1)
        lp = model(joined).log_softmax(-1)
        want = sum(lp[:, 9 + k, b] for k, b in enumerate(b"ok!"))
        torch.testing.assert_close(got, want, rtol=0, atol=1e-5)
        one = model.continuation_logprob(st, b"o")  # one byte: scored by h's logits alone
        torch.testing.assert_close(one, lp[:, 9, ord("o")], rtol=0, atol=1e-5)
        assert (got < one).all()  # more bytes, lower probability
    with pytest.raises(ValueError, match="empty continuation"):
        model.continuation_logprob(st, "")
    with pytest.raises(ValueError, match=r"\(B, 24\)"):
        model.continuation_logprob((st[0][:, :5], st[1][:, :5]), "a")


# --------------------------------------------------------------------------- hooks


def test_every_hook_fires_once_per_step_with_pos(model):
    B, T = 2, 7
    tok = _tokens(B, T)
    seen: dict[str, list[int]] = {n: [] for n in HOOK_NAMES}
    order: list[str] = []

    def rec(act, hook):
        seen[hook.name].append(hook.pos)
        order.append(hook.name)
        width = {"hook_embed": 8, "hook_logits": 256}.get(hook.name, 24)
        assert act.shape == (B, width), (hook.name, act.shape)

    model.run_with_hooks(tok, fwd_hooks=[(n, rec) for n in HOOK_NAMES])
    for n in HOOK_NAMES:
        assert seen[n] == list(range(T)), n
    # within a step: embed, m, i, f, o, u, c, h; logits after the scan
    assert order[:8] == list(HOOK_NAMES[:8])
    assert order[-T:] == ["hook_logits"] * T
    assert not model.list_hooks()  # run_with_hooks removed them


def test_run_with_cache_stacks_steps(model):
    tok = _tokens(2, 9)
    logits, cache = model.run_with_cache(tok)
    assert set(cache) == set(HOOK_NAMES)
    assert cache["hook_c"].shape == (2, 9, 24) and cache["hook_embed"].shape == (2, 9, 8)
    H, (c, h) = model.scan(tok)
    assert torch.equal(cache["hook_h"], H) and torch.equal(cache["hook_c"][:, -1], c)
    assert torch.equal(cache["hook_logits"], logits)


def test_intervention_on_c_changes_only_that_step_and_later(model):
    tok = _tokens(3, 12)
    t0, k = 5, 3
    ref = model(tok)
    rows = torch.tensor([True, False, True])  # e.g. "a comma here" per row

    def boost(c, hook):
        if hook.pos != t0:
            return None
        c = c.clone()
        c[rows, k] = 3.0
        return c

    out, cache = None, None
    out = model.run_with_hooks(tok, fwd_hooks=[("hook_c", boost)])
    assert torch.equal(out[:, :t0], ref[:, :t0])  # before t0: bit-identical
    assert not torch.equal(out[0, t0], ref[0, t0])  # h at t0 is computed from the edited c
    assert (out[0, t0:] - ref[0, t0:]).abs().amax(-1).gt(0).all()  # and it persists
    assert torch.equal(out[1], ref[1])  # an untouched row stays untouched

    # the edited value is what later steps read: cache sees it at t0
    with model.hooks(fwd_hooks=[("hook_c", boost)]):
        _, cache = model.run_with_cache(tok, names_filter="hook_c")
    assert torch.all(cache["hook_c"][rows, t0, k] == 3.0)


def test_embed_hook_edit_equals_substituted_byte(model):
    tok = _tokens(2, 10)
    t0, byte = 4, 65
    sub = tok.clone()
    sub[:, t0] = byte

    def swap(e, hook):
        if hook.pos == t0:
            return model.embed[byte].expand_as(e).clone()

    out = model.run_with_hooks(tok, fwd_hooks=[("hook_embed", swap)])
    torch.testing.assert_close(out, model(sub), rtol=0, atol=1e-5)
    assert torch.equal(out[:, :t0], model(tok)[:, :t0])


def test_backward_hook_fires_per_step(model):
    tok = _tokens(2, 6)
    grads = []
    model.add_hook("hook_h", lambda g, hook: grads.append(g.detach().clone()), dir="bwd")
    try:
        model(tok).sum().backward()
    finally:
        model.reset_hooks(including_permanent=True)
    assert len(grads) == 6 and grads[0].shape == (2, 24)


def test_no_hooks_costs_nothing_and_fast_path_used(model, monkeypatch):
    import interp.models.mlstm as mod

    called = []
    monkeypatch.setattr(mod.MLSTM, "_scan_hooked", lambda self, *a, **k: called.append(1))
    model(_tokens(1, 3))
    assert not called


# --------------------------------------------------------------------------- save / load


@pytest.mark.parametrize("weight_norm", [False, True])
def test_save_load_round_trip(tmp_path, weight_norm):
    m = MLSTM(d_hidden=16, d_embed=8, weight_norm=weight_norm, seed=5)
    with torch.no_grad():
        for p in m.parameters():
            p.add_(0.01 * torch.randn_like(p))
    path = m.save(tmp_path / "tiny", meta={"note": "test"})
    assert path.name == "tiny.safetensors" and (tmp_path / "tiny.json").is_file()
    card = json.loads((tmp_path / "tiny.json").read_text())
    assert card["config"]["d_hidden"] == 16 and card["meta"] == {"note": "test"}
    m2 = MLSTM.load(tmp_path / "tiny.safetensors")
    assert m2.cfg == m.cfg
    tok = _tokens(2, 10)
    assert torch.equal(m(tok), m2(tok))
    assert torch.equal(MLSTM.load(tmp_path / "tiny")(tok), m2(tok))


def test_wrong_shape_checkpoint_names_the_tensor(tmp_path):
    m = MLSTM(d_hidden=16, d_embed=8)
    path = m.save(tmp_path / "m")
    tensors = load_file(str(path))
    tensors["W_h"] = torch.zeros(16, 32)
    save_file(tensors, str(path))
    with pytest.raises(CheckpointMismatchError, match=r"'W_h'.*\(16, 32\).*\(16, 64\)"):
        MLSTM.load(path)
    del tensors["W_h"]
    save_file(tensors, str(path))
    with pytest.raises(CheckpointMismatchError, match="lacks tensor 'W_h'"):
        MLSTM.load(path)
    # a card claiming another width
    m.save(tmp_path / "m")
    card = json.loads((tmp_path / "m.json").read_text())
    card["config"]["d_hidden"] = 32
    (tmp_path / "m.json").write_text(json.dumps(card))
    with pytest.raises(CheckpointMismatchError, match="'W_mx'"):
        MLSTM.load(tmp_path / "m")


# --------------------------------------------------------------------------- text


def test_preprocess_is_openais():
    assert preprocess("Great  movie!\nLoved it &amp; more ") == b"\n Great  movie! Loved it & more "
    assert encode("hi").tolist() == list(b"\n hi ")
    assert encode("hi", preprocess_text=False).tolist() == list(b"hi")
    assert encode("hi").dtype == torch.long


@pytest.mark.parametrize("text", ["", "   ", "\n\n", b"", b" \n "])
def test_empty_text_raises(text):
    with pytest.raises(ValueError, match="empty text"):
        encode(text)


def test_non_utf8_policy():
    assert encode("café", preprocess_text=False).tolist() == list("café".encode("utf-8"))
    # bytes are taken as they are (latin-1 here), not decoded
    assert encode(b"caf\xe9", preprocess_text=False).tolist() == [99, 97, 102, 0xE9]
    assert encode(b"caf\xe9\n") .tolist() == list(b"\n caf\xe9 ")
    with pytest.raises(ValueError, match=r"surrogate U\+D800 at character 3"):
        encode("bad\ud800text")
    with pytest.raises(TypeError):
        encode(42)  # type: ignore[arg-type]


# --------------------------------------------------------------------------- weight norm


def test_weight_norm_forward_backward_and_scale_invariance():
    m = MLSTM(d_hidden=16, d_embed=8, weight_norm=True, seed=2)
    assert {"V_h", "g_h", "V_mx", "g_mx"} <= dict(m.named_parameters()).keys()
    assert "W_h" not in dict(m.named_parameters())
    plain = MLSTM(d_hidden=16, d_embed=8, weight_norm=False, seed=2)
    tok = _tokens(2, 8)
    torch.testing.assert_close(m(tok), plain(tok), rtol=1e-5, atol=1e-5)  # same init, same function
    out = m(tok)
    out.logsumexp(-1).mean().backward()
    for n, p in m.named_parameters():
        assert p.grad is not None and torch.isfinite(p.grad).all(), n
    assert m.V_h.grad.abs().sum() > 0 and m.g_h.grad.abs().sum() > 0
    with torch.no_grad():
        m.V_h.mul_(3.0)  # direction only: the function does not change
    torch.testing.assert_close(m(tok), out.detach(), rtol=1e-5, atol=1e-5)


# --------------------------------------------------------------------------- training


def test_fp16_save_halves_the_file_and_loads_back_into_fp32(tmp_path):
    m = MLSTM(d_hidden=32, d_embed=8, seed=2)
    p32, p16 = m.save(tmp_path / "f32"), m.save(tmp_path / "f16", dtype="float16")
    assert abs(p16.stat().st_size / p32.stat().st_size - 0.5) < 0.05
    card = json.loads((tmp_path / "f16.json").read_text())
    assert card["dtype"] == "float16" and json.loads((tmp_path / "f32.json").read_text())["dtype"] == "float32"
    assert all(v.dtype == torch.float16 for v in load_file(str(p16)).values())
    back = MLSTM.load(p16)
    assert back.dtype == torch.float32
    for n, v in m.state_dict().items():
        torch.testing.assert_close(back.state_dict()[n], v.half().float(), rtol=0, atol=0)
    tok = _tokens(2, 20)
    torch.testing.assert_close(back(tok), m(tok), rtol=0, atol=2e-2)  # fp16 rounding of the weights only
    with pytest.raises(ValueError, match="unsupported weight dtype 'int8'"):
        m.save(tmp_path / "bad", dtype="int8")


def test_training_can_store_the_model_in_fp16_and_still_resume_exactly(tmp_path):
    corpus, held = _synthetic_corpus(300, 0), _synthetic_corpus(40, 1)
    kw = dict(d_hidden=16, d_embed=8, batch_size=4, bptt=16, total_chars=64 * 12, eval_every=None,
              checkpoint_every=64 * 4, log_every=64 * 4, corpus=corpus, held_out=held, progress=False, threads=1)
    with pytest.raises(ValueError, match="unsupported weight dtype 'float8'"):
        train_mlstm(tmp_path / "bad", save_dtype="float8", **kw)
    assert not (tmp_path / "bad" / "checkpoint.pt").exists()
    train_mlstm(tmp_path / "a", save_dtype="float16", stop_after_chars=64 * 5, **kw)
    train_mlstm(tmp_path / "a", save_dtype="float16", resume=True, **kw)
    train_mlstm(tmp_path / "b", **kw)
    assert json.loads((tmp_path / "a" / "model.json").read_text())["dtype"] == "float16"
    ck = torch.load(tmp_path / "a" / "checkpoint.pt", weights_only=True)
    assert all(v.dtype == torch.float32 for v in ck["model"].values())  # training state stays fp32
    ref = MLSTM.load(tmp_path / "b" / "model.safetensors")
    got = MLSTM.load(tmp_path / "a" / "model.safetensors")
    for n, v in ref.state_dict().items():  # resumed fp16-stored run == uninterrupted fp32 run, rounded
        torch.testing.assert_close(got.state_dict()[n], v.half().float(), rtol=0, atol=0)


def _synthetic_corpus(n_words, seed):
    rng = np.random.default_rng(seed)
    words = [b"good", b"bad", b"movie", b"the", b"film", b"plot", b"was", b"great", b"awful", b",", b"."]
    return b" ".join(words[i] for i in rng.integers(0, len(words), n_words))


def test_resume_reproduces_uninterrupted_run(tmp_path):
    corpus, held = _synthetic_corpus(500, 0), _synthetic_corpus(60, 1)
    B, T = 4, 16
    per = B * T
    kw = dict(d_hidden=16, d_embed=8, batch_size=B, bptt=T, total_chars=per * 48, eval_every=per * 7,
              checkpoint_every=per * 5, log_every=per * 3, corpus=corpus, held_out=held, progress=False,
              lr=3e-3, threads=1)
    full = train_mlstm(tmp_path / "full", **kw)
    assert full.finished and full.step == 48
    part = train_mlstm(tmp_path / "resumed", stop_after_chars=per * 13, **kw)
    assert not part.finished and part.step == 13
    with pytest.raises(FileExistsError):
        train_mlstm(tmp_path / "resumed", **kw)
    with pytest.raises(ValueError, match="lr"):
        train_mlstm(tmp_path / "resumed", resume=True, **{**kw, "lr": 1e-3})
    part2 = train_mlstm(tmp_path / "resumed", resume=True, stop_after_chars=per * 31, **kw)
    assert part2.step == 31
    done = train_mlstm(tmp_path / "resumed", resume=True, **kw)
    assert done.finished

    def rows(p):
        return [{k: v for k, v in json.loads(l).items() if k != "wall_s"} for l in open(p / "train_log.jsonl")]

    a, b = rows(tmp_path / "full"), rows(tmp_path / "resumed")
    assert a == b  # bitwise-equal bpc curves (floats compared exactly)
    assert max(r["epoch"] for r in a) >= 1  # crossed an epoch boundary (state reset) on the way
    assert [r["held_out_bpc"] is not None for r in a].count(True) >= 7
    assert a[-1]["lr"] == 0.0 and a[-1]["train_bpc"] < a[1]["train_bpc"]
    m1, m2 = MLSTM.load(full.model_path), MLSTM.load(done.model_path)
    for (n, p1), p2 in zip(m1.named_parameters(), m2.parameters()):
        assert torch.equal(p1, p2), n
    assert abs(evaluate_bpc(m1, np.frombuffer(held, np.uint8)) - a[-1]["held_out_bpc"]) < 1e-9
    # one sessions.jsonl row per call: contiguous character ranges, the last one finished
    sess = [json.loads(l) for l in open(tmp_path / "resumed" / "sessions.jsonl")]
    assert [(r["chars_start"], r["chars_end"], r["finished"]) for r in sess] == [
        (0, per * 13, False), (per * 13, per * 31, False), (per * 31, per * 48, True)]
    assert all(r["threads"] == 1 and r["device"] == "cpu" and r["chars_per_s"] > 0 for r in sess)
    assert sess[-1]["held_out_bpc"] == a[-1]["held_out_bpc"]
    assert len(open(tmp_path / "full" / "sessions.jsonl").readlines()) == 1


def test_config_and_seeded_init():
    cfg = MLSTMConfig(d_hidden=8, d_embed=4, seed=7)
    a, b = MLSTM(cfg), MLSTM(d_hidden=8, d_embed=4, seed=7)
    assert all(torch.equal(p, q) for p, q in zip(a.parameters(), b.parameters()))
    assert not torch.equal(MLSTM(d_hidden=8, d_embed=4, seed=8).W_h, a.W_h)
    assert MLSTMConfig.from_dict(cfg.to_dict()) == cfg
    with pytest.raises(ValueError, match="unknown"):
        MLSTMConfig.from_dict({**cfg.to_dict(), "n_layers": 2})
    with pytest.raises(ValueError, match="d_hidden"):
        MLSTMConfig(d_hidden=0)
    assert dict(a.state_dict()).keys() == cfg.param_shapes().keys()


def test_the_held_out_text_of_an_imdb_run_is_rebuilt_from_its_run_json(tmp_path):
    from interp.models.mlstm.train import _sha256_array, held_out_of_run

    kw = dict(d_hidden=8, d_embed=4, batch_size=2, bptt=16, total_chars=32 * 3, eval_every=None, checkpoint_every=None,
              log_every=None, held_out_chars=3000, max_reviews=20, progress=False, threads=1)
    train_mlstm(tmp_path / "run", **kw)
    info = json.loads((tmp_path / "run" / "run.json").read_text())
    held = held_out_of_run(tmp_path / "run")
    assert held.dtype == np.uint8 and held.size >= 3000 and _sha256_array(held) == info["held_out_sha256"]
    (tmp_path / "run" / "run.json").write_text(json.dumps({**info, "held_out_chars": 6000}))  # another split
    with pytest.raises(ValueError, match="sha256 differs"):
        held_out_of_run(tmp_path / "run")
    (tmp_path / "run" / "run.json").write_text(json.dumps({"status": "complete"}))
    with pytest.raises(ValueError, match="records no held-out text"):
        held_out_of_run(tmp_path / "run")
