"""The byte-level mLSTM behind the :class:`~interp.model.Model` protocol.

:class:`MLSTMModel` wraps :class:`interp.mlstm.MLSTM` so that position selectors, interventions
and readers written for transformers work unchanged: a site is a hook point (``hook_c``,
``hook_h``, gates), activations read from it come back (B, T, d), and an intervention given a
(B, T) position mask is applied step by step, at step ``t`` to the rows where ``mask[:, t]`` is
True. Tokens are what the model's tokenizer (:mod:`interp.tokenizer`) makes of the text after
OpenAI's preprocessing (``'\\n ' + text + ' '``): bytes by default, or byte-level BPE tokens
for a model trained over them. Each token's *piece* is the text it completes (for bytes, the
character; continuation bytes of a multi-byte character are empty), so ``Commas()`` finds
commas here as it does in a transformer's BPE.
"""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

import torch

from .mlstm import HOOK_NAMES, MLSTM
from .model import Batch, InterventionFn, check_site
from .tokenizer import byte_pieces  # noqa: F401  (re-exported: interp.probes uses it)

# the per-step hook points that carry a d_hidden-wide state or gate
STATE_SITES = ("hook_m", "hook_i", "hook_f", "hook_o", "hook_u", "hook_c", "hook_h")


class MLSTMModel:
    """An :class:`MLSTM` with the protocol methods (``tokenize``, ``sites``, ``run``)."""

    bos_token_id = None  # the front pad '\n' plays that part; selectors skip position 0 by default

    def __init__(self, mlstm: MLSTM, name: str = "mlstm"):
        self.mlstm = mlstm.eval()
        self.name = name
        self.n_layers = 1
        self.d_model = mlstm.cfg.d_hidden

    @classmethod
    def load(cls, path: str | Path, **kw) -> "MLSTMModel":
        return cls(MLSTM.load(path, **kw), name=Path(path).with_suffix("").name)

    @property
    def device(self) -> torch.device:
        return self.mlstm.device

    def sites(self) -> dict[str, int]:
        return {s: self.mlstm.cfg.d_hidden for s in STATE_SITES}

    def tokenize(self, texts: Sequence[str], ids: Sequence[int] | None = None) -> Batch:
        if isinstance(texts, (str, bytes)):
            raise TypeError("tokenize takes a list of texts, not one text")
        if len(texts) == 0:
            raise ValueError("no texts to tokenize")
        tok = self.mlstm.require_tokenizer()
        seqs = tok.encode_each(texts)
        width = max(len(s) for s in seqs)
        tokens = torch.zeros(len(seqs), width, dtype=torch.long)
        mask = torch.zeros(len(seqs), width, dtype=torch.bool)
        pieces = []
        for r, s in enumerate(seqs):
            tokens[r, : len(s)] = s
            mask[r, : len(s)] = True
            pieces.append(tok.pieces(s))
        return Batch(tokens=tokens, mask=mask, texts=list(texts), pieces=pieces,
                     ids=torch.as_tensor(ids if ids is not None else range(len(texts)), dtype=torch.long))

    def run(self, batch: Batch, interventions=(), read: Sequence[str] = ()):
        mask = batch.mask.to(self.device)
        fwd_hooks = []
        for site, where, fn in interventions:
            check_site(self, site)
            w = mask if where is None else where.to(self.device) & mask
            if w.shape != mask.shape:
                raise ValueError(f"position mask {tuple(w.shape)} does not match batch {tuple(mask.shape)}")

            def hook(act, hook, _w=w, _fn=fn):
                return _fn(act, _w[:, hook.pos], batch)

            fwd_hooks.append((site, hook))
        steps: dict[str, list[torch.Tensor]] = {s: [] for s in read}
        for site in read:
            check_site(self, site)

            def reader(act, hook, _site=site):
                steps[_site].append(act.detach())
                return act

            fwd_hooks.append((site, reader))
        with torch.inference_mode(), self.mlstm.hooks(fwd_hooks=fwd_hooks):
            logits = self.mlstm(batch.tokens.to(self.device), mask)
        last = logits[torch.arange(len(batch), device=logits.device), batch.last.to(logits.device)]
        return last, {s: torch.stack(v, 1) for s, v in steps.items()}

    def final_state(self, batch: Batch, interventions=(), site: str = "hook_c") -> torch.Tensor:
        """The state at each text's last real byte (B, d), after interventions: the features a
        linear probe reads."""
        _, acts = self.run(batch, interventions=interventions, read=[site])
        return acts[site][torch.arange(len(batch)), batch.last]

    def __repr__(self) -> str:
        return f"MLSTMModel({self.name!r}, d_hidden={self.d_model})"


assert set(STATE_SITES) <= set(HOOK_NAMES)
