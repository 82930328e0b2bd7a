"""DAS: a direction learned from interchange interventions (:class:`DAS`), its gradient path
through the two model families, and :func:`fit_das_toy` (DAS on the toy clean/corrupted pairs)."""

from __future__ import annotations

import numpy as np
import torch

from interp.finders.base import DirectionFinder

__all__ = ["DAS", "fit_das_toy"]


def _torch_module(model) -> torch.nn.Module:
    for attr in ("bridge", "mlstm"):
        m = getattr(model, attr, None)
        if isinstance(m, torch.nn.Module):
            return m
    raise TypeError(f"DAS needs a model whose weights it can differentiate through; {type(model).__name__} "
                    "has neither .bridge (TransformerModel) nor .mlstm (MLSTMModel)")


def _last_logits_with_grad(model, batch, hooks) -> torch.Tensor:
    """Logits at the last real token, with autograd on (``Model.run`` runs under inference mode).

    ``hooks``: (site, fn(act) -> act) pairs. The adapters' protocol has no gradient path, so this
    reaches into the two model families (a TransformerLens bridge, the mLSTM's hook points)."""
    dev = getattr(model, "device", torch.device("cpu"))
    tokens, mask = batch.tokens.to(dev), batch.mask.to(dev)
    rows = torch.arange(len(batch), device=dev)
    last = batch.last.to(dev)
    if hasattr(model, "bridge"):
        kwargs = {"attention_mask": mask.long()} if getattr(model, "use_attention_mask", True) else {}
        with model.bridge.hooks(fwd_hooks=[(s, (lambda act, hook=None, _f=f: _f(act))) for s, f in hooks]):
            hidden = model._decoder(input_ids=tokens, **kwargs).last_hidden_state
            logits = model._unembed(hidden[rows, last])
            if getattr(model, "_softcap", None):
                logits = torch.tanh(logits / model._softcap) * model._softcap
        return logits
    if hasattr(model, "mlstm"):
        with model.mlstm.hooks(fwd_hooks=[(s, (lambda act, hook, _f=f: _f(act, hook.pos))) for s, f in hooks]):
            logits = model.mlstm(tokens, mask)
        return logits[rows, last]
    raise TypeError(f"DAS does not know how to run {type(model).__name__} with gradients")


def _position_mask(positions, clean) -> torch.Tensor:
    from interp.positions import Positions

    if isinstance(positions, Positions):
        return positions.mask(clean)
    t = torch.as_tensor(positions)
    if t.dtype == torch.bool:
        if tuple(t.shape) != tuple(clean.mask.shape):
            raise ValueError(f"position mask {tuple(t.shape)} does not match the batch {tuple(clean.mask.shape)}")
        return t & clean.mask.bool()
    t = t.long().reshape(-1)
    if len(t) != len(clean):
        raise ValueError(f"{len(t)} positions for {len(clean)} pairs: give one token index per pair")
    m = torch.zeros_like(clean.mask, dtype=torch.bool)
    m[torch.arange(len(clean)), t] = True
    return m & clean.mask.bool()


class DAS(DirectionFinder):
    """Distributed alignment search (Geiger et al. 2023) for a 1-D subspace, as Tigges et al. (2023)
    use it for sentiment: learn a unit vector ``u`` (a normalised free vector, Adam) such that, on
    clean/corrupted pairs, replacing the corrupted run's projection on ``u`` by the clean run's at
    the sentiment word (``a' + ((a − a')·u) u``) moves the answer's logit difference from the
    corrupted value to the clean one.

    Loss (per minibatch, pooled over pairs as :func:`interp.experiments.patch.denoising`):
    ``1 − Σ g / Σ σ (s_clean − s_corrupt)``, σ = sign(s_clean − s_corrupt),
    s = logit(answer_ids[0]) − logit(answer_ids[1]) at the last token, and the gain of pair ``i``
    ``g = min(σ (s_patched − s_corrupt), σ (s_clean − s_corrupt))`` with ``objective="capped"``
    (default: a pair counts as restored once its patched score reaches the clean one; without the
    cap a 1-D patch can push the score far past the clean run's, off the model's distribution) or
    ``g = σ (s_patched − s_corrupt)`` with ``objective="logit_diff"``.

    Fit with :meth:`fit_interchange`; ``fit(X, y)`` is refused (DAS needs a model and pairs).
    After fitting: ``direction_`` (canonical sign from the clean/corrupted activations at the
    patched positions and the clean labels), ``threshold_``, ``loss_`` (per step),
    ``denoising_`` (pooled, uncapped, on all the pairs, the learned patch), ``denoising_capped_``,
    ``denoising_init_`` (the random start).
    """

    method = "das"

    def __init__(self, steps: int = 200, lr: float = 0.01, batch_size: int = 32, objective: str = "capped",
                 random_state: int = 0, init: np.ndarray | None = None):
        self.steps = steps
        self.objective = objective
        self.lr = lr
        self.batch_size = batch_size
        self.random_state = random_state
        self.init = init

    def fit(self, X, y=None):
        raise TypeError(
            "DAS is fit on interchange interventions, not on (X, y): call "
            "DAS().fit_interchange(model, site, clean_batch, corrupt_batch, positions, answer_ids)"
        )

    def fit_interchange(self, model, site: str, clean, corrupt, positions, answer_ids: tuple[int, int], *,
                        labels=None, progress: bool = False) -> "DAS":
        """Learn the direction at ``site`` from clean/corrupted batches (aligned row by row, equal
        token lengths, e.g. :meth:`interp.pairs.Pairs.tokenize`). ``positions``: where to patch,
        a (B, T) bool mask, a :class:`~interp.positions.Positions` selector, or one token index per
        pair. ``answer_ids``: (positive, negative) answer tokens. ``labels``: the clean inputs'
        sentiment (1 positive); by default, 1 where the clean run's logit difference is the higher."""
        from interp.interventions import patch_subspace
        from interp.models.protocol import check_site

        if clean.mask.shape != corrupt.mask.shape or not torch.equal(clean.mask, corrupt.mask):
            raise ValueError("clean and corrupted batches must have the same token lengths row by row")
        width = check_site(model, site)
        where = _position_mask(positions, clean)
        if not where.any():
            raise ValueError("no position to patch")
        if self.objective not in ("capped", "logit_diff"):
            raise ValueError(f"objective must be 'capped' or 'logit_diff', not {self.objective!r}")
        pos_id, neg_id = (int(a) for a in answer_ids)
        c_logits, c_acts = model.run(clean, read=[site])
        k_logits, k_acts = model.run(corrupt, read=[site])
        s_clean = (c_logits[:, pos_id] - c_logits[:, neg_id]).float().cpu()
        s_corrupt = (k_logits[:, pos_id] - k_logits[:, neg_id]).float().cpu()
        sigma = torch.sign(s_clean - s_corrupt)
        src = c_acts[site].float().clone()
        dev = getattr(model, "device", torch.device("cpu"))
        gen = torch.Generator().manual_seed(self.random_state)
        v0 = torch.randn(width, generator=gen, dtype=torch.float32) if self.init is None else \
            torch.as_tensor(np.asarray(self.init), dtype=torch.float32).clone()
        if v0.shape != (width,):
            raise ValueError(f"init must be a vector of width {width}")
        v0 = v0 / v0.norm()  # unit norm: Adam's steps (about lr per coordinate) then turn it at a useful pace
        v = torch.nn.Parameter(v0.to(dev))
        opt = torch.optim.Adam([v], lr=self.lr)
        module = _torch_module(model)
        saved = [(p, p.requires_grad) for p in module.parameters()]
        for p, _ in saved:
            p.requires_grad_(False)

        def patched_scores(rows: torch.Tensor, u: torch.Tensor) -> torch.Tensor:
            b = corrupt.select(rows)
            T = b.mask.shape[1]
            w = where[rows, :T].to(dev)
            clean_src = src[rows, :T].to(dev)
            if hasattr(model, "bridge"):
                def fn(act):
                    new = patch_subspace(act, clean_src.to(act.dtype), u[None].to(act.dtype))
                    return torch.where(w.unsqueeze(-1), new, act)
            else:  # per time step (B, d)
                def fn(act, t):
                    new = patch_subspace(act, clean_src[:, t].to(act.dtype), u[None].to(act.dtype))
                    return torch.where(w[:, t].unsqueeze(-1), new, act)
            logits = _last_logits_with_grad(model, b, [(site, fn)])
            return (logits[:, pos_id] - logits[:, neg_id]).float().cpu()

        capped = self.objective == "capped"

        def loss_of(rows: torch.Tensor, u: torch.Tensor, cap: bool = capped) -> torch.Tensor:
            s = patched_scores(rows, u)
            full = sigma[rows] * (s_clean[rows] - s_corrupt[rows])
            gain = sigma[rows] * (s - s_corrupt[rows])
            if cap:
                gain = torch.minimum(gain, full)
            return 1.0 - gain.sum() / full.sum().clamp_min(1e-6)

        n = len(clean)
        losses: list[float] = []
        try:
            with torch.no_grad():
                self.denoising_init_ = float(1.0 - loss_of(torch.arange(n), v / v.norm(), cap=False))
            bar = None
            if progress:
                from tqdm.auto import tqdm

                bar = tqdm(total=self.steps, desc=f"DAS {site}", leave=False)
            perm, at = torch.randperm(n, generator=gen), 0
            for _ in range(self.steps):
                if at + min(self.batch_size, n) > n:
                    perm, at = torch.randperm(n, generator=gen), 0
                rows = perm[at : at + min(self.batch_size, n)]
                at += len(rows)
                opt.zero_grad()
                with torch.enable_grad():
                    loss = loss_of(rows, v / v.norm())
                    loss.backward()
                opt.step()
                losses.append(float(loss.detach()))
                if bar is not None:
                    bar.update(1)
                    bar.set_postfix(loss=f"{losses[-1]:.3f}")
            if bar is not None:
                bar.close()
            with torch.no_grad():
                u = (v / v.norm()).detach()
                self.denoising_ = float(1.0 - loss_of(torch.arange(n), u, cap=False))
                self.denoising_capped_ = float(1.0 - loss_of(torch.arange(n), u, cap=True))
        finally:
            for p, flag in saved:
                p.requires_grad_(flag)
        self.loss_ = losses
        self.site_ = site
        # canonical sign and threshold from the activations at the patched positions
        if labels is None:
            labels = (s_clean > s_corrupt).long().numpy()
        labels = np.asarray(labels).astype(int).reshape(-1)
        if len(labels) != n:
            raise ValueError(f"{len(labels)} labels for {n} pairs")
        rows, cols = torch.nonzero(where, as_tuple=True)
        Xc = c_acts[site][rows, cols].float().cpu().numpy()
        Xk = k_acts[site][rows, cols].float().cpu().numpy()
        yc = labels[rows.numpy()]
        X = np.concatenate([Xc, Xk]).astype(np.float64)
        y = np.concatenate([yc, 1 - yc])
        if len(set(y.tolist())) < 2:
            raise ValueError("DAS needs pairs of both labels to fix the direction's sign")
        return self._finish(X, y, u.cpu().numpy().astype(np.float64))


def fit_das_toy(model, site: str, *, steps: int = 200, lr: float = 0.01, batch_size: int = 32,
                objective: str = "capped", seed: int = 0, n_pairs: int | None = None,
                progress: bool = False) -> tuple["DAS", dict]:
    """DAS at ``site`` on toy pairs (train adjectives, the adjective flipped; patched at the
    positions where clean and corrupted differ; answers " good"/" bad", as
    :mod:`interp.experiments.patch`). Returns the fitted :class:`DAS` and what it was fit on."""
    from interp.pairs import toy_pairs

    pairs = toy_pairs(model, part="train", flip="adjective", same_length=False, n=n_pairs)
    clean, corrupt = pairs.tokenize(model)
    where = (clean.tokens != corrupt.tokens) & clean.mask.bool()
    pos, neg = " good", " bad"
    ids = (model.single_token(pos), model.single_token(neg))
    f = DAS(steps=steps, lr=lr, batch_size=batch_size, objective=objective, random_state=seed)
    f.fit_interchange(model, site, clean, corrupt, where, ids, labels=pairs.labels, progress=progress)
    info = {"site": site, "steps": steps, "lr": lr, "batch": batch_size, "objective": objective,
            "answers": [pos, neg], "pairs": {"n": len(pairs), "source": pairs.source, "flip": "adjective",
                                             "part": "train"}}
    return f, info
