"""Sampling continuations from a transformer, with scoped hooks active, on the KV cache.

:func:`generate` samples ``max_new_tokens`` tokens after each prompt, a batch at a time, with
the Hugging Face KV cache, while intervention functions act at named sites. What it guarantees:

- **Seeded per sample.** Sample ``i`` draws from its own ``torch.Generator`` (seeded from
  ``seed`` and ``i``), so a sample's text does not depend on the batch it ran in, and two
  conditions with the same seed share their random numbers (a paired comparison).
- **Right padding, no padding inside the cache.** Rows advance in lockstep over absolute
  positions: the longest common prompt prefix is read in one pass, then a row whose prompt is
  longer is fed its own prompt tokens while the others sample. Every row ends with exactly
  ``max_new_tokens`` generated tokens (cut at the first EOS when ``stop_at_eos``), right-padded.
- **Scoped hooks.** Hooks are attached for the call only (``TransformerModel.hooks``) and removed
  whatever happens; the model is never edited.
- **A correct cache.** TransformerLens 4.3's attention bridge reads the cache from the
  ``past_key_values`` keyword, which transformers 5 renamed ``cache``; without help it silently
  attends to the new token alone. :func:`kv_cache` forwards the keyword for the duration of the
  call, and the cache length is checked after the first pass (a clear error, not wrong text).

An intervention here is ``(site, fn)``: ``fn(act, where, None)`` gets the (B, t, d) activation of
the current pass and ``where`` (B, t), True at absolute positions ``>= 1`` (every position but
the first token, which carries massive norms in small models) or at every position with
``skip_first=False``; it returns the new activation (:data:`interp.models.protocol.InterventionFn`, with
no batch).
"""

from __future__ import annotations

import contextlib
import inspect
import math
from dataclasses import dataclass
from typing import Callable, Sequence

import torch

from interp.models.protocol import check_site

__all__ = ["Generation", "generate", "kv_cache", "sample_seed", "mean_token_loss"]


@dataclass
class Generation:
    """Sampled continuations: per sample its prompt, token ids (prompt included, BOS included
    when the model prepends one), the prompt's token count, and the decoded continuation."""

    prompts: list[str]
    tokens: list[list[int]]
    prompt_lengths: list[int]
    continuations: list[str]
    sample_ids: list[int]

    @property
    def texts(self) -> list[str]:
        """Prompt + continuation, as a reader sees it."""
        return [p + c for p, c in zip(self.prompts, self.continuations)]

    def __len__(self) -> int:
        return len(self.tokens)


def sample_seed(seed: int, sample_id: int) -> int:
    """The generator seed of sample ``sample_id`` under run seed ``seed``."""
    return (int(seed) * 1_000_003 + int(sample_id)) % (2**63 - 1)


def _attention_modules(model) -> list[torch.nn.Module]:
    from transformer_lens.model_bridge.generalized_components.attention import AttentionBridge

    return [m for m in model.bridge.original_model.modules() if isinstance(m, AttentionBridge)]


@contextlib.contextmanager
def kv_cache(model):
    """Let the bridge's attention see the KV cache that transformers 5 passes as ``cache=``.

    A forward pre-hook on every attention bridge copies ``cache`` to ``past_key_values`` (the
    name TransformerLens reads) when the latter is absent; removed on exit.
    """

    def forward_cache(module, args, kwargs):
        if kwargs.get("cache") is not None and kwargs.get("past_key_values") is None:
            kwargs["past_key_values"] = kwargs["cache"]
        return args, kwargs

    handles = [m.register_forward_pre_hook(forward_cache, with_kwargs=True) for m in _attention_modules(model)]
    try:
        yield
    finally:
        for h in handles:
            h.remove()


def _cache_of(out):
    cache = getattr(out, "cache", None)
    return cache if cache is not None else getattr(out, "past_key_values", None)


def _check_common(model, prompts, max_new_tokens, temperature, batch_size) -> None:
    if not hasattr(model, "bridge"):
        raise TypeError(f"generate needs a TransformerModel (a TransformerLens bridge), not {type(model).__name__}")
    if isinstance(prompts, str) or not isinstance(prompts, Sequence) or len(prompts) == 0:
        raise ValueError("prompts must be a non-empty list of strings")
    if isinstance(max_new_tokens, bool) or not isinstance(max_new_tokens, int) or max_new_tokens < 1:
        raise ValueError(f"max_new_tokens must be an int >= 1, got {max_new_tokens!r}")
    if isinstance(temperature, bool) or not isinstance(temperature, (int, float)) or not math.isfinite(temperature) \
            or temperature < 0:
        raise ValueError(f"temperature must be a finite number >= 0 (0: greedy), got {temperature!r}")
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(f"batch_size must be an int >= 1, got {batch_size!r}")


@torch.inference_mode()
def generate(
    model,
    prompts: Sequence[str],
    *,
    max_new_tokens: int = 40,
    temperature: float = 1.0,
    seed: int = 0,
    interventions: Sequence[tuple[str, Callable]] = (),
    skip_first: bool = True,
    batch_size: int = 32,
    sample_ids: Sequence[int] | None = None,
    stop_at_eos: bool = True,
    use_cache: bool = True,
) -> Generation:
    """Sample ``max_new_tokens`` tokens after each prompt with ``interventions`` active.

    ``temperature=0`` is greedy. ``sample_ids`` (default ``0..n-1``) name each sample's random
    stream (:func:`sample_seed`). ``use_cache=False`` recomputes the whole sequence at every
    step (slow; the reference the cached path is tested against). Tokens after the first EOS
    are dropped when ``stop_at_eos``.
    """
    _check_common(model, prompts, max_new_tokens, temperature, batch_size)
    for site, _ in interventions:
        check_site(model, site)
    ids = list(range(len(prompts))) if sample_ids is None else [int(i) for i in sample_ids]
    if len(ids) != len(prompts):
        raise ValueError(f"{len(prompts)} prompts but {len(ids)} sample_ids")
    out_tokens: list[list[int]] = []
    plens: list[int] = []
    for start in range(0, len(prompts), batch_size):
        rows = list(range(start, min(start + batch_size, len(prompts))))
        b = model.tokenize([prompts[i] for i in rows])
        toks, lens = _generate_batch(model, b, [ids[i] for i in rows], max_new_tokens, temperature, seed,
                                     interventions, skip_first, use_cache)
        out_tokens += toks
        plens += lens
    eos = model.tokenizer.eos_token_id
    conts = []
    for i, (t, n) in enumerate(zip(out_tokens, plens)):
        gen = t[n:]
        if stop_at_eos and eos is not None and eos in gen:
            gen = gen[: gen.index(eos)]
            out_tokens[i] = t[: n + len(gen)]
        conts.append(model.tokenizer.decode(gen))
    return Generation(list(prompts), out_tokens, plens, conts, ids)


def _generate_batch(model, b, ids, max_new_tokens, temperature, seed, interventions, skip_first, use_cache):
    device = model.device
    hf = model.bridge.original_model
    lengths = b.lengths.tolist()
    B = len(b)
    total = [n + max_new_tokens for n in lengths]
    width = max(total)
    seq = torch.full((B, width), model.pad_token_id, dtype=torch.long)
    for r, n in enumerate(lengths):
        seq[r, :n] = b.tokens[r, :n]
    gens = [torch.Generator(device="cpu").manual_seed(sample_seed(seed, i)) for i in ids]
    first_step = min(lengths)
    state = {"start": 0}  # absolute position of the first token in the current pass

    def wrap(fn):
        def hook(act, hook=None):
            t = act.shape[1]
            pos = torch.arange(state["start"], state["start"] + t, device=act.device)
            where = (pos >= (1 if skip_first else 0))[None, :].expand(act.shape[0], t)
            return fn(act, where, None)

        return hook

    fwd_hooks = [(site, wrap(fn)) for site, fn in interventions]

    def pick(logits: torch.Tensor, rows: list[int]) -> list[int]:
        """Next tokens of ``rows`` (only rows past their prompt draw, so a sample's random stream
        does not depend on the other prompts in its batch)."""
        lg = logits[rows].float().cpu()
        if temperature == 0:
            return lg.argmax(-1).tolist()
        probs = torch.softmax(lg / temperature, dim=-1)
        return [int(torch.multinomial(probs[j], 1, generator=gens[r])) for j, r in enumerate(rows)]

    # transformers 5 names the cache argument ``cache`` (``past_key_values`` is deprecated)
    cache_kw = "cache" if "cache" in inspect.signature(hf.forward).parameters else "past_key_values"
    with contextlib.ExitStack() as stack:
        stack.enter_context(model.hooks(fwd_hooks))
        if use_cache:
            stack.enter_context(kv_cache(model))
        cache = None
        for t in range(first_step, width):  # predict the token at absolute position t
            if use_cache:
                if cache is None:
                    state["start"] = 0
                    out = hf(input_ids=seq[:, :t].to(device), use_cache=True, logits_to_keep=1)
                    cache = _cache_of(out)
                    got = cache.get_seq_length() if cache is not None else 0
                    if got != t:
                        raise RuntimeError(f"the KV cache holds {got} positions after reading {t} tokens: this "
                                           "bridge/transformers pair does not fill the cache; use use_cache=False")
                else:
                    state["start"] = t - 1
                    out = hf(input_ids=seq[:, t - 1 : t].to(device), use_cache=True, **{cache_kw: cache})
                    cache = _cache_of(out)
            else:
                state["start"] = 0
                out = hf(input_ids=seq[:, :t].to(device), logits_to_keep=1)
            rows = [r for r in range(B) if t >= lengths[r]]  # past its prompt: samples; else reads its prompt
            for r, tok in zip(rows, pick(out.logits[:, -1], rows)):
                seq[r, t] = tok
    return [seq[r, : total[r]].tolist() for r in range(B)], lengths


@torch.inference_mode()
def mean_token_loss(model, generation: Generation, *, batch_size: int = 32) -> list[float]:
    """The model's mean next-token loss (nats) over each sample's generated tokens, given its
    prompt, with no intervention: how fluent the unsteered model finds the text. NaN for a
    sample with no generated token."""
    from interp.models.protocol import Batch

    out: list[float] = []
    for start in range(0, len(generation), batch_size):
        toks = generation.tokens[start : start + batch_size]
        plens = generation.prompt_lengths[start : start + batch_size]
        width = max(len(t) for t in toks)
        tokens = torch.full((len(toks), width), model.pad_token_id, dtype=torch.long)
        mask = torch.zeros((len(toks), width), dtype=torch.bool)
        for r, t in enumerate(toks):
            tokens[r, : len(t)] = torch.tensor(t)
            mask[r, : len(t)] = True
        logits = model.full_logits(Batch(tokens=tokens, mask=mask, texts=[""] * len(toks),
                                         pieces=[[] for _ in toks])).float()
        logp = torch.log_softmax(logits[:, :-1], dim=-1)
        nll = -logp.gather(-1, tokens[:, 1:, None].to(logp.device))[..., 0].cpu()
        for r, (t, n) in enumerate(zip(toks, plens)):
            gen = nll[r, n - 1 : len(t) - 1]  # predictions of tokens n .. len-1
            out.append(float(gen.mean()) if len(gen) else float("nan"))
    return out
