"""The activations :func:`interp.experiments.find.compare` fits on: every site read in one pass,
reduced batch by batch, and the seeded samples of SST it reads them on."""

from __future__ import annotations

from typing import Sequence

import numpy as np
import torch
from tqdm.auto import tqdm

from interp.models.protocol import check_site
from interp.tasks import batches

def gather_features(model, texts: Sequence[str], sites: Sequence[str], *, at: Sequence[int] | None = None,
                    batch_size: int = 32, progress: bool | str = False) -> dict[str, dict[str, torch.Tensor]]:
    """Activations per text, for all ``sites`` in one pass, reduced batch by batch.

    Without ``at``: ``{"last": {site: (n, d)}, "mean": {site: (n, d)}}``: the last real token,
    and the mean over real tokens after the first (the first alone for a one-token text). With
    ``at`` (one token index per text): ``{"at": {site: (n, d)}}``. Texts run in length-sorted
    batches; rows come back in the order of ``texts``.
    """
    texts = list(texts)
    widths = {s: check_site(model, s) for s in sites}
    everything = model.tokenize(texts)
    n = len(texts)
    reads = ["at"] if at is not None else ["last", "mean"]
    out = {r: {s: torch.empty(n, widths[s]) for s in sites} for r in reads}
    at_t = torch.as_tensor(np.asarray(at), dtype=torch.long) if at is not None else None
    groups = batches(n, everything.lengths.tolist(), batch_size)
    for idx in tqdm(groups, desc=progress if isinstance(progress, str) else "activations", disable=not progress,
                    leave=False):
        b = everything.select(idx)
        _, acts = model.run(b, read=list(sites))
        rows, ids = torch.arange(len(b)), b.ids
        if at_t is None:
            m = b.mask.clone()
            m[:, 0] = b.lengths == 1
            m = m.unsqueeze(-1).float()
        for s in sites:
            a = acts[s].float().cpu()
            if at_t is not None:
                out["at"][s][ids] = a[rows, at_t[ids]]
            else:
                out["last"][s][ids] = a[rows, b.last]
                out["mean"][s][ids] = (a * m).sum(1) / m.sum(1)
        del acts
    return out


class _RawTexts:
    """A stand-in task for :func:`interp.experiments.ablate.reference_stats`: the texts as they are."""

    def __init__(self, batch_size: int):
        self.batch_size = batch_size

    def make_batches(self, model, texts):
        everything = model.tokenize(list(texts))
        return [everything.select(i) for i in batches(len(everything), everything.lengths.tolist(), self.batch_size)]


def _sample(lt, n: int | None, seed: int, option: str = "--limit"):
    from interp.validate import check_limit

    n = check_limit(option, n, len(lt), lt.name)
    if n is None or n >= len(lt):
        return lt
    return lt.subset(np.sort(np.random.default_rng(seed).permutation(len(lt))[:n]))
