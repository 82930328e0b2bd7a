"""GPT-style decoder transformers behind the :class:`~interp.models.protocol.Model` protocol.

A thin adapter over TransformerLens 4's ``TransformerBridge``. Sites use the classic
TransformerLens hook names (``blocks.{L}.hook_resid_post``, ``blocks.{L}.mlp.hook_post``, ...);
the bridge maps them onto its own hook points.

Two choices matter for correctness:

- Texts are padded on the **right** and the last real token is taken from the mask. (Left
  padding shifts positions and gives silently wrong answers with some models.)
- Only the logits at the last real token are computed: the decoder's final hidden state is
  gathered there and the unembedding applied to those rows alone.
"""

from __future__ import annotations

import contextlib
import logging
import re
from dataclasses import dataclass
from typing import Sequence

import torch

from interp.validate import check_texts
from interp.models.protocol import Batch, InterventionFn, UnknownSiteError, check_site

log = logging.getLogger(__name__)

_LAYER = re.compile(r"^blocks\.(\d+)\.")


@dataclass
class Prefix:
    """The un-intervened output of layer ``layer − 1`` for one batch (what layer ``layer`` reads)."""

    layer: int
    output: object  # what the HF decoder layer returned: a tensor or a tuple of them

    def tile(self, k: int) -> "Prefix":
        """The same prefix for a batch stacked ``k`` times (rows repeated block by block)."""
        def rep(o):
            if isinstance(o, torch.Tensor):
                return o.repeat(k, *([1] * (o.ndim - 1)))
            if isinstance(o, tuple):
                return tuple(rep(x) for x in o)
            return o
        return Prefix(self.layer, rep(self.output))


class _Replay(torch.nn.Module):
    """Stands in for a skipped decoder layer: returns the recorded output, whatever it is given."""

    def __init__(self, output):
        super().__init__()
        self.output = output

    def forward(self, *args, **kwargs):
        return self.output


@contextlib.contextmanager
def _replaying(blocks, start):
    """Swap the layers before ``start.layer`` for replays of the recorded prefix; restore them after."""
    if start is None:
        yield
        return
    saved = [blocks[i] for i in range(start.layer)]
    try:
        for i in range(start.layer):
            blocks[i] = _Replay(start.output)
        yield
    finally:
        for i, m in enumerate(saved):
            blocks[i] = m


SITE_SUFFIXES = ("hook_resid_pre", "hook_resid_mid", "hook_resid_post", "hook_attn_out", "hook_mlp_out")


class TransformerModel:
    """A TransformerLens bridge, its tokenizer, and the protocol methods.

    Build with :meth:`load` (a zoo name such as ``smollm2-135m``, a local Hugging Face folder, or
    a hub name such as ``gpt2`` for users with a network).
    """

    def __init__(self, bridge, name: str, *, prepend_bos: bool = True, use_attention_mask: bool = True):
        self.bridge = bridge
        self.name = name
        self.tokenizer = bridge.tokenizer
        self.prepend_bos = prepend_bos
        self.use_attention_mask = use_attention_mask
        hf = bridge.original_model
        self._decoder = hf.get_decoder()
        self._unembed = hf.get_output_embeddings()
        self._softcap = getattr(hf.config, "final_logit_softcapping", None)
        self.n_layers = int(bridge.cfg.n_layers)
        self.d_model = int(bridge.cfg.d_model)
        self.d_mlp = int(getattr(bridge.cfg, "d_mlp", 0) or 0)
        self.n_ctx = int(getattr(bridge.cfg, "n_ctx", 0) or 0)  # 0: unknown, nothing checked
        #: when set, a longer text keeps only its last ``max_tokens`` tokens (the BOS stays); the
        #: texts cut so are collected in ``truncated``. None: a text beyond the context is refused.
        self.max_tokens: int | None = None
        self.truncated: set[str] = set()
        self.bos_token_id = self.tokenizer.bos_token_id if prepend_bos else None
        if prepend_bos and self.bos_token_id is None:
            raise ValueError(f"tokenizer of {name!r} has no BOS token; load with prepend_bos=False")
        pad = self.tokenizer.pad_token_id
        self.pad_token_id = pad if pad is not None else (self.tokenizer.eos_token_id or 0)
        self._piece_cache: dict[int, str] = {}
        self._sites = self._find_sites()

    # ------------------------------------------------------------------ loading
    @classmethod
    def load(cls, name_or_path: str, *, device: str = "cpu", dtype: torch.dtype | str = torch.float32,
             compatibility_mode: bool = False, device_map: str | None = None, **kw) -> "TransformerModel":
        """Boot through :func:`interp.models.zoo.boot`.

        ``compatibility_mode=False`` (default) keeps the bridge's own attention path, which on
        SmolLM2 ran about 1.7x faster here than compatibility mode; the residual, MLP and
        attention-output sites exist either way and logits are identical. Ask for it when you need
        per-head hooks (``attn.hook_z``, ``attn.hook_pattern``).

        ``device``: ``auto``, ``cpu``, ``cuda``, ``cuda:N``; ``dtype``: a torch dtype or its name
        (float32, bfloat16, float16); ``device_map="auto"`` spreads a model larger than one GPU
        over every visible GPU (see :mod:`interp.devices`).
        """
        from interp.models import zoo
        from interp.devices import check_device_map, parse_dtype, resolve_device

        device = resolve_device(str(device))
        dtype = parse_dtype(dtype) if isinstance(dtype, str) else dtype
        device_map = check_device_map(device_map, device)
        target = zoo.check_model(name_or_path)  # clear interp errors (unknown, not pulled, broken folder) first
        try:
            bridge = zoo.boot(target, device=device, dtype=dtype, compatibility_mode=compatibility_mode,
                              device_map=device_map)
        except Exception as e:  # noqa: BLE001 - transformers/safetensors raise many kinds for a broken folder
            first = (str(e).strip().splitlines() or [type(e).__name__])[0]
            raise zoo.ModelFolderError(f"cannot load model {str(name_or_path)!r} ({target}): {first}") from e
        bridge.eval()
        model = cls(bridge, name=str(name_or_path), **kw)
        # how another process (a Ray worker) loads the same model: interp.engine.ray.load_model
        model.load_spec = {"kind": "transformer", "name_or_path": str(name_or_path), "device": str(device),
                           "dtype": str(dtype).replace("torch.", ""), "compatibility_mode": compatibility_mode,
                           "device_map": device_map, **kw}
        return model

    @property
    def device(self) -> torch.device:
        return next(self.bridge.original_model.parameters()).device

    # ------------------------------------------------------------------ protocol
    def _find_sites(self) -> dict[str, int]:
        hooks = set(self.bridge.hook_dict)
        sites: dict[str, int] = {}
        for layer in range(self.n_layers):
            for suffix in SITE_SUFFIXES:
                name = f"blocks.{layer}.{suffix}"
                if name in hooks:
                    sites[name] = self.d_model
            name = f"blocks.{layer}.mlp.hook_post"
            if name in hooks and self.d_mlp:
                sites[name] = self.d_mlp
        return sites

    def sites(self) -> dict[str, int]:
        return dict(self._sites)

    def resid_sites(self, kind: str = "resid_post") -> list[str]:
        return [f"blocks.{layer}.hook_{kind}" for layer in range(self.n_layers)]

    def piece(self, token_id: int) -> str:
        p = self._piece_cache.get(token_id)
        if p is None:
            p = self.tokenizer.decode([token_id])
            self._piece_cache[token_id] = p
        return p

    def encode(self, text: str) -> list[int]:
        """Token ids of ``text`` without special tokens."""
        return list(self.tokenizer(text, add_special_tokens=False)["input_ids"])

    def single_token(self, text: str) -> int:
        """The id of ``text`` if it is exactly one token; a clear error otherwise."""
        ids = self.encode(text)
        if len(ids) != 1:
            raise ValueError(
                f"{text!r} is {len(ids)} tokens for {self.name!r} ({[self.piece(i) for i in ids]}), not one; "
                "choose answer words that are single tokens for this tokenizer"
            )
        return ids[0]

    def tokenize(self, texts: Sequence[str], ids: Sequence[int] | None = None) -> Batch:
        texts = check_texts(texts, "tokenize")
        encoded = self.tokenizer(list(texts), add_special_tokens=False)["input_ids"]
        if self.bos_token_id is not None:
            encoded = [[self.bos_token_id] + e for e in encoded]
        if self.max_tokens:
            keep_bos = int(self.bos_token_id is not None)
            for i, e in enumerate(encoded):
                if len(e) > self.max_tokens:  # keep the end, where the prompt and its answer sit
                    encoded[i] = e[:keep_bos] + e[len(e) - (self.max_tokens - keep_bos):]
                    self.truncated.add(texts[i])
        n_ctx = self.n_ctx
        if n_ctx:
            for i, e in enumerate(encoded):
                if len(e) > n_ctx:
                    from interp.validate import InputError

                    raise InputError(f"text {i} is {len(e):,} tokens ({len(texts[i]):,} characters), more than the "
                                     f"context of {self.name} ({n_ctx:,} tokens): shorten it, or cut long texts "
                                     f"with --max-tokens (TransformerModel.max_tokens)")
        width = max(len(e) for e in encoded)
        tokens = torch.full((len(encoded), width), self.pad_token_id, dtype=torch.long)
        mask = torch.zeros((len(encoded), width), dtype=torch.bool)
        for row, e in enumerate(encoded):
            tokens[row, : len(e)] = torch.tensor(e, dtype=torch.long)
            mask[row, : len(e)] = True
        pieces = [[self.piece(i) for i in e] for e in encoded]
        return Batch(
            tokens=tokens,
            mask=mask,
            texts=list(texts),
            pieces=pieces,
            ids=torch.as_tensor(ids if ids is not None else range(len(texts)), dtype=torch.long),
            has_bos=self.bos_token_id is not None,
        )

    def _hook(self, site: str, where: torch.Tensor | None, fn: InterventionFn, batch: Batch):
        where_full = batch.mask if where is None else where
        if where_full.shape != batch.mask.shape:
            raise ValueError(f"position mask {tuple(where_full.shape)} does not match batch {tuple(batch.mask.shape)}")
        where_full = where_full.to(self.device) & batch.mask.to(self.device)

        def hook(act, hook=None):
            if act.shape[:2] != where_full.shape:
                raise RuntimeError(f"site {site} gave activation {tuple(act.shape)}, expected (batch, seq, d)")
            # with a device map the layers live on several GPUs: the mask follows the activation
            return fn(act, where_full if where_full.device == act.device else where_full.to(act.device), batch)

        return hook

    def _hooks_for(self, batch: Batch, interventions, read, store: dict) -> list:
        fwd_hooks = []
        for site, where, fn in interventions:
            check_site(self, site)
            fwd_hooks.append((site, self._hook(site, where, fn, batch)))
        for site in read:
            check_site(self, site)

            def reader(act, hook=None, _site=site):
                store[_site] = act.detach()
                return act

            fwd_hooks.append((site, reader))
        return fwd_hooks

    def _forward(self, batch: Batch, fwd_hooks, start: "Prefix | None" = None, capture: Sequence[int] = ()):
        tokens = batch.tokens.to(self.device)
        mask = batch.mask.to(self.device)
        kept: dict[int, object] = {}
        handles = []
        blocks = self._blocks()
        for L in capture:
            def keep(module, args, output, _L=L):
                kept[_L] = output
            handles.append(blocks[L - 1].register_forward_hook(keep))
        try:
            with torch.inference_mode(), self.bridge.hooks(fwd_hooks=fwd_hooks), _replaying(blocks, start):
                kwargs = {"attention_mask": mask.long()} if self.use_attention_mask else {}
                # no KV cache: a run never continues (the same numbers, without filling a cache per layer)
                hidden = self._decoder(input_ids=tokens, use_cache=False, **kwargs).last_hidden_state
                last = hidden[torch.arange(len(batch), device=hidden.device), batch.last.to(hidden.device)]
                logits = self._unembed(last)
                if self._softcap:
                    logits = torch.tanh(logits / self._softcap) * self._softcap
        finally:
            for h in handles:
                h.remove()
        return logits, {L: Prefix(L, kept[L]) for L in capture}

    def run(self, batch: Batch, interventions=(), read: Sequence[str] = (), *, start: "Prefix | None" = None):
        """The protocol's run. ``start``: a :class:`Prefix` of this batch from :meth:`capture`; the
        layers before ``start.layer`` are not run, their output is replayed (no intervention or
        read may sit there)."""
        store: dict[str, torch.Tensor] = {}
        fwd_hooks = self._hooks_for(batch, interventions, read, store)
        if start is not None:
            early = [s for s, _, _ in interventions if (self.layer_of(s) or 0) < start.layer]
            early += [s for s in read if (self.layer_of(s) or 0) < start.layer]
            if early:
                raise ValueError(f"cannot start at layer {start.layer}: {early[0]} sits before it")
        logits, _ = self._forward(batch, fwd_hooks, start=start)
        return logits, store

    def capture(self, batch: Batch, layers: Sequence[int], read: Sequence[str] = ()):
        """An un-intervened run that also keeps, for each ``L`` in ``layers`` (1..n_layers−1), the
        output of layer ``L − 1``: the :class:`Prefix` from which :meth:`run` can start at ``L``.
        Returns (logits, {site: activation}, {L: Prefix})."""
        for L in layers:
            if not 1 <= L < self.n_layers:
                raise ValueError(f"a prefix ends before layer 1..{self.n_layers - 1}, not {L}")
        store: dict[str, torch.Tensor] = {}
        fwd_hooks = self._hooks_for(batch, (), read, store)
        logits, prefixes = self._forward(batch, fwd_hooks, capture=list(layers))
        return logits, store, prefixes

    def start_point(self, bound, reads: Sequence[str], batch: Batch) -> int:
        """The first layer a run with these bound interventions (and reads) must compute."""
        layers = [self.layer_of(site) for site, _, _ in bound] + [self.layer_of(s) for s in reads]
        return 0 if any(L is None for L in layers) else max(0, min(layers))

    def layer_of(self, site: str) -> int | None:
        """The layer index a site belongs to (``blocks.L.…``), None for sites outside the blocks."""
        m = _LAYER.match(site)
        return int(m.group(1)) if m else None

    def _blocks(self):
        blocks = getattr(self, "_block_list", None)
        if blocks is None:
            lists = [m for m in self._decoder.children() if isinstance(m, torch.nn.ModuleList) and len(m) == self.n_layers]
            if len(lists) != 1:
                raise RuntimeError(f"cannot find the decoder's list of {self.n_layers} layers")
            blocks = self._block_list = lists[0]
        return blocks

    def full_logits(self, batch: Batch) -> torch.Tensor:
        """Logits at every position through the bridge's own forward (for checks and tests)."""
        with torch.inference_mode():
            kwargs = {"attention_mask": batch.mask.long().to(self.device)} if self.use_attention_mask else {}
            return self.bridge(batch.tokens.to(self.device), **kwargs)

    @contextlib.contextmanager
    def hooks(self, fwd_hooks):
        """Raw TransformerLens hooks, scoped: removed on exit whatever happens."""
        with self.bridge.hooks(fwd_hooks=fwd_hooks):
            yield self

    def __repr__(self) -> str:
        return f"TransformerModel({self.name!r}, layers={self.n_layers}, d_model={self.d_model})"


__all__ = ["TransformerModel", "Prefix", "UnknownSiteError"]
