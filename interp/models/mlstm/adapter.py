"""The byte-level mLSTM behind the :class:`~interp.models.protocol.Model` protocol.

:class:`MLSTMModel` wraps :class:`interp.models.mlstm.module.MLSTM` so that position selectors, interventions
and readers written for transformers work unchanged: a site is a hook point (``hook_c``,
``hook_h``, gates), activations read from it come back (B, T, d), and an intervention given a
(B, T) position mask is applied step by step, at step ``t`` to the rows where ``mask[:, t]`` is
True. Tokens are what the model's tokenizer (:mod:`interp.models.mlstm.tokenizer`) makes of the text after
the model's preprocessing (``cfg.preprocess``; OpenAI's by default, ``'\\n ' + text + ' '``):
bytes by default, or byte-level BPE tokens for a model trained over them. Each token's *piece*
is the text it completes (for bytes, the character; continuation bytes of a multi-byte
character are empty), so ``Commas()`` finds commas here as it does in a transformer's BPE.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import torch

from interp.validate import check_texts
from interp.models.mlstm.module import HOOK_NAMES, MLSTM
from interp.models.protocol import Batch, check_site

# the per-step hook points that carry a d_hidden-wide state or gate
STATE_SITES = ("hook_m", "hook_i", "hook_f", "hook_o", "hook_u", "hook_c", "hook_h")


@dataclass
class StepPrefix:
    """The un-intervened state ``(c, h)`` after step ``step − 1`` of a batch, with what a run started
    there needs from before it: the activations of the read sites and the last-token logits."""

    step: int
    c: torch.Tensor
    h: torch.Tensor
    logits: torch.Tensor
    acts: dict

    def tile(self, k: int) -> "StepPrefix":
        def rep(t):
            return t.repeat(k, *([1] * (t.ndim - 1)))
        return StepPrefix(self.step, rep(self.c), rep(self.h), rep(self.logits), {s: rep(a) for s, a in self.acts.items()})


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
        model = cls(MLSTM.load(path, **kw), name=Path(path).with_suffix("").name)
        model.load_spec = {"kind": "mlstm", "path": str(path), **kw}
        return model

    @property
    def device(self) -> torch.device:
        return self.mlstm.device

    def sites(self) -> dict[str, int]:
        return {s: self.mlstm.cfg.d_hidden for s in STATE_SITES}

    def tokenize(self, texts: Sequence[str], ids: Sequence[int] | None = None) -> Batch:
        texts = check_texts(texts, "tokenize")
        tok = self.mlstm.require_tokenizer()
        seqs = tok.encode_each(texts, scheme=self.mlstm.cfg.preprocess)
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

    def run(self, batch: Batch, interventions=(), read: Sequence[str] = (), *, start: "StepPrefix | None" = None):
        """The protocol's run. ``start``: a :class:`StepPrefix` of this batch from :meth:`capture`;
        the steps before ``start.step`` are not run: the scan continues from the recorded state,
        read activations before it and the logits of rows that end before it are the recorded
        (un-intervened) ones. Only valid when no intervention acts before that step."""
        t0 = 0 if start is None else start.step
        mask = batch.mask.to(self.device)
        fwd_hooks = []
        for site, where, fn in interventions:
            check_site(self, site)
            w = mask if where is None else where.to(self.device) & mask
            if w.shape != mask.shape:
                raise ValueError(f"position mask {tuple(w.shape)} does not match batch {tuple(mask.shape)}")
            if t0 and bool(w[:, :t0].any()):
                raise ValueError(f"cannot start at step {t0}: an intervention at {site} acts before it")

            def hook(act, hook, _w=w, _fn=fn):
                return _fn(act, _w[:, hook.pos + t0], batch)

            fwd_hooks.append((site, hook))
        steps: dict[str, list[torch.Tensor]] = {s: [] for s in read}
        for site in read:
            check_site(self, site)

            def reader(act, hook, _site=site):
                steps[_site].append(act.detach())
                return act

            fwd_hooks.append((site, reader))
        tokens = batch.tokens.to(self.device)
        with torch.inference_mode(), self.mlstm.hooks(fwd_hooks=fwd_hooks):
            if start is None:
                logits = self.mlstm(tokens, mask)
            else:
                logits = self.mlstm(tokens[:, t0:], mask[:, t0:], state=(start.c.to(self.device), start.h.to(self.device)))
        rows = torch.arange(len(batch), device=logits.device)
        last = batch.last.to(logits.device)
        acts = {s: torch.stack(v, 1) for s, v in steps.items()}
        if start is None:
            return logits[rows, last], acts
        out = start.logits.to(logits.device).clone()
        late = last >= t0
        out[late] = logits[rows[late], last[late] - t0]
        return out, {s: torch.cat([start.acts[s].to(a.device), a], 1) for s, a in acts.items()}

    def start_point(self, bound, reads: Sequence[str], batch: Batch) -> int:
        """The first step at which any of these bound interventions acts (0 when one of them keeps
        state from step to step, e.g. resampling or patching, which must see every step)."""
        T = batch.mask.shape[1]
        first = T
        for site, where, fn in bound:
            if not getattr(fn, "stepwise", False):
                return 0
            w = batch.mask if where is None else where.cpu() & batch.mask
            cols = torch.nonzero(w.any(0)).flatten()
            if len(cols):
                first = min(first, int(cols[0]))
        return 0 if first >= T else first

    def capture(self, batch: Batch, steps: Sequence[int], read: Sequence[str] = ()):
        """An un-intervened run that keeps the state before each step in ``steps`` (and the reads
        and last-token logits): the :class:`StepPrefix` from which :meth:`run` can start there."""
        T = batch.mask.shape[1]
        for t in steps:
            if not 1 <= t < T:
                raise ValueError(f"a step prefix starts at 1..{T - 1}, not {t}")
        sites = list(dict.fromkeys([*read, "hook_c", "hook_h"]))
        logits, acts = self.run(batch, read=sites)
        prefixes = {t: StepPrefix(t, acts["hook_c"][:, t - 1], acts["hook_h"][:, t - 1], logits,
                                  {s: acts[s][:, :t] for s in read}) for t in steps}
        return logits, {s: acts[s] for s in read}, prefixes

    def final_state(self, batch: Batch, interventions=(), site: str = "hook_c") -> torch.Tensor:
        """The state at each text's last real byte (B, d), after interventions: the features a
        linear probe reads."""
        _, acts = self.run(batch, interventions=interventions, read=[site])
        return acts[site][torch.arange(len(batch)), batch.last]

    def __repr__(self) -> str:
        return f"MLSTMModel({self.name!r}, d_hidden={self.d_model})"


assert set(STATE_SITES) <= set(HOOK_NAMES)


def __getattr__(name: str):
    """``byte_pieces``, which the old path ``interp.recurrent`` offered, from
    :mod:`interp.models.mlstm.tokenizer` (looked up late: see ``module._attach_tokenizer``)."""
    if name == "byte_pieces":
        from interp.models.mlstm.tokenizer import byte_pieces

        return byte_pieces
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
