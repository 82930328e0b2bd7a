"""The causal measurements of :func:`interp.experiments.find.compare` at the best site: DAS fit on
toy pairs, the toy interchange of every direction, and the ablation table (:func:`_causal`)."""

from __future__ import annotations

import warnings

import numpy as np
import torch

from interp import data as datasets
from interp import metrics, positions as P
from interp.directions import random_directions
from interp.engine.sweep import Condition, LogitDiff, ProbeScore, run_sweep
from interp.experiments.find.config import METHODS, NEURON_METHODS, RANDOM_WARN, CompareConfig
from interp.experiments.find.features import _RawTexts
from interp.interventions import ActivationPatch, DirectionAblation, LeaceErasure
from interp.tasks import SSTZeroShot

def _toy_pairs(model, part: str, n: int | None):
    from interp.pairs import toy_pairs

    pairs = toy_pairs(model, part=part, flip="adjective", same_length=False, n=n)
    clean, corrupt = pairs.tokenize(model)
    where = (clean.tokens != corrupt.tokens) & clean.mask.bool()
    return pairs, clean, corrupt, where


def _answers(model) -> tuple[str, str, tuple[int, int]]:
    pos, neg = " good", " bad"  # the toy template ends "This movie is": as interp.experiments.patch
    return pos, neg, (model.single_token(pos), model.single_token(neg))


def _fit_das(model, site: str, cfg: CompareConfig, progress: bool) -> dict:
    from interp.finders import fit_das_toy

    f, info = fit_das_toy(model, site, steps=cfg.das_steps, lr=cfg.das_lr, batch_size=cfg.das_batch,
                          objective=cfg.das_objective, seed=cfg.seed, n_pairs=cfg.das_pairs, progress=progress)
    return {"vector": f.direction_, "threshold": f.threshold_, **info, "denoising_init": f.denoising_init_,
            "denoising_train": f.denoising_, "denoising_train_capped": f.denoising_capped_, "loss": f.loss_}


def _interchange_all(model, site: str, vecs: dict[str, np.ndarray], cfg: CompareConfig) -> dict:
    """Denoising on held-out toy pairs (test adjectives) when only the projection on each direction
    is patched (clean → corrupted) at the adjective, and for the whole activation there."""
    from interp.metrics import denoising

    pairs, clean, corrupt, where = _toy_pairs(model, "test", None)
    _, _, (pos_id, neg_id) = _answers(model)
    c_logits, c_acts = model.run(clean, read=[site])
    k_logits, _ = model.run(corrupt)
    s_clean = (c_logits[:, pos_id] - c_logits[:, neg_id]).float().numpy()
    s_corrupt = (k_logits[:, pos_id] - k_logits[:, neg_id]).float().numpy()
    out = {"pairs": len(pairs), "source": pairs.source, "values": {}}
    todo = {**{m: torch.tensor(v, dtype=torch.float32) for m, v in vecs.items()}, "whole activation": None}
    n_rand = min(cfg.n_random, 4)
    out["n_random"] = n_rand
    R = random_directions(model.sites()[site], n_rand, seed=cfg.seed + 99)
    for j in range(n_rand):
        todo[f"random#{j}"] = R[j]
    sweep = [Condition(name, [ActivationPatch(site, c_acts[site], basis=basis, where=where)]) for name, basis in todo.items()]
    patched = run_sweep(model, corrupt, sweep, LogitDiff(pos_id, neg_id), batch_size=len(corrupt), progress=False).scores
    rnd = []
    for name in todo:
        val = denoising(s_clean, s_corrupt, patched[name])
        if name.startswith("random#"):
            rnd.append(val)
        else:
            out["values"][name] = val
    out["values"]["random"] = float(np.mean(rnd))
    return out


# ------------------------------------------------------------------------------------ causal


def _causal(model, site: str, vecs: dict[str, np.ndarray], extra: dict, cfg: CompareConfig, zero_shot: bool,
            progress: bool, train_for_probe, leace=None, engine: dict | None = None) -> dict:
    d = model.sites()[site]
    selectors = [P.get(p, allow_empty=True) for p in cfg.positions]
    rng = np.random.default_rng(cfg.seed)
    train_all = datasets.sst("train")
    ref_idx = rng.choice(len(train_all), size=min(cfg.reference_n, len(train_all)), replace=False)
    ref_texts = [train_all.texts[i] for i in ref_idx]
    task = SSTZeroShot(prompt=cfg.prompt, batch_size=cfg.batch_size) if zero_shot else _RawTexts(cfg.batch_size)
    from interp.tasks import reference_stats, tigges_subset

    ref_means, ref_counts, _ = reference_stats(model, task, ref_texts, [site], selectors, progress=progress)

    # what to ablate: each direction, the best unit, the top-k units; controls: random directions, random k units
    groups: dict[str, list[torch.Tensor]] = {}  # name -> list of (d,) or (n_random, d) tensors, one ablation each
    for m in METHODS:
        if m == "leace":  # not a direction ablation: the eraser, below
            continue
        if m in vecs and m not in NEURON_METHODS and (cfg.causal_methods is None or m in cfg.causal_methods):
            groups[m] = [torch.tensor(vecs[m], dtype=torch.float32)]
    if "best_neuron" in vecs:
        groups["best_unit"] = [torch.tensor(vecs["best_neuron"], dtype=torch.float32)]
    topk_from = next((m for m in ("topk_l1", "topk_weight") if m in extra and "units_" in extra[m]), None)
    units = list(extra[topk_from]["units_"]) if topk_from else []
    eye = torch.eye(d)
    if units:
        groups["topk_units"] = [eye[u] for u in units]
    groups["random"] = [random_directions(d, cfg.n_random, seed=cfg.seed * 100_003 + 11)]
    if units:
        g = torch.Generator().manual_seed(cfg.seed + 13)
        R = torch.stack([torch.randperm(d, generator=g)[: len(units)] for _ in range(cfg.n_random)])  # (n_random, k)
        groups["random_units"] = [eye[R[:, j]] for j in range(len(units))]

    conditions: dict[str, list] = {"baseline": []}
    meta: dict[str, dict] = {"baseline": {"what": "none", "positions": ""}}
    for sel in selectors:
        for what, vs in groups.items():
            ivs = [DirectionAblation(site, v, sel, mode=cfg.mode,
                                     reference_mean=ref_means[sel.name][site] if cfg.mode == "mean" else None,
                                     label=f"{what}@{site}") for v in vs]
            conditions[f"{sel.name}:{what}"] = ivs
            meta[f"{sel.name}:{what}"] = {"what": what, "positions": sel.name, "n_ablated": len(vs)}
        if leace is not None and (cfg.causal_methods is None or "leace" in cfg.causal_methods):
            # LEACE: the affine eraser fit on the same activations; with mode "mean" it keeps the mean at
            # this kind of position (the reference mean), else the fitting data's mean
            ref = ref_means[sel.name][site] if cfg.mode == "mean" else None
            for what, es in (("leace", leace[0]), ("leace_random", leace[1])):
                conditions[f"{sel.name}:{what}"] = [LeaceErasure.from_erasers(site, es, sel, reference_mean=ref,
                                                                              label=f"{what}@{site}")]
                meta[f"{sel.name}:{what}"] = {"what": what, "positions": sel.name, "n_ablated": 1}
    if leace is not None and (cfg.causal_methods is None or "leace" in cfg.causal_methods):
        groups["leace"], groups["leace_random"] = [], []  # listed in the table's order

    train, Ftr, dev, Fdev = train_for_probe  # the SST train/dev samples and their features
    test = datasets.sst("test")
    from interp.validate import check_limit

    check_limit("--limit", cfg.limit, len(test), test.name)
    if cfg.limit:
        test = test.subset(np.random.default_rng(cfg.seed + 2).permutation(len(test))[: cfg.limit])
    labels = np.asarray(test.labels)
    if zero_shot:
        dev_scores = task.evaluate(model, dev.texts, progress="dev baseline" if progress else False,
                                   **(engine or {}))["baseline"]
        threshold = metrics.fit_threshold(dev_scores, dev.labels)
        everything = model.tokenize(task.format(test.texts))
        reader = task.reader(model)
        behaviour = (f"SST zero-shot, prompt {task.template!r} -> {task.positive!r}/{task.negative!r}, "
                     "logit difference with the dev-fitted threshold")
        probe_info = None
    else:
        # the probe: L2 logistic regression on the final state at `site` (SST train, last token)
        from interp.finders import LogisticDirection

        probe = LogisticDirection("l2", C=list(cfg.C_grid), random_state=cfg.seed).fit(
            Ftr["last"][site].numpy(), np.asarray(train.labels))
        w = torch.tensor(probe.direction_, dtype=torch.float32)
        dev_scores = (Fdev["last"][site] @ w).numpy()
        threshold = metrics.fit_threshold(dev_scores, dev.labels)
        everything = model.tokenize(test.texts)
        reader = ProbeScore(site, w)
        behaviour = (f"L2 probe (C={probe.C_:g}) on the final {site} (SST train, {len(train)} sentences), "
                     "dev-fitted threshold; ablations in the state at every step they select")
        probe_info = {"C": probe.C_, "site": site, "n_train": len(train)}

    # A condition only runs on the sentences its selector touches: elsewhere the ablation is the
    # identity, so the score is the baseline's (commas: about half of SST).
    touched_rows = {sel.name: np.flatnonzero(sel.counts(everything).numpy() > 0) for sel in selectors}
    sweep = [Condition(name, ivs, rows=None if name == "baseline" else touched_rows[meta[name]["positions"]])
             for name, ivs in conditions.items()]
    scores = run_sweep(model, everything, sweep, reader, batch_size=cfg.batch_size,
                       progress="causal sweep" if progress else False, **(engine or {})).scores
    plan = {c.name: (np.arange(len(test)) if c.rows is None else c.rows) for c in sweep}
    commas = P.Commas(allow_empty=True)
    comma_counts = commas.counts(everything).numpy()
    correct = {k: (metrics.predictions(v, threshold) == labels).astype(int) for k, v in scores.items()}
    subset = tigges_subset(correct["baseline"], comma_counts > 0, labels, cfg.seed)
    rows: dict[str, dict] = {}
    warn = []
    for name, ivs in conditions.items():
        touched = sum(iv.touched for iv in ivs)
        if ivs and touched == 0 and meta[name]["positions"] != "commas":
            raise P.NoPositionsError(f"condition {name} touched no position on the test set")
        full = metrics.bootstrap_removed(correct["baseline"], correct[name], cfg.n_boot, cfg.seed)
        sub = (metrics.bootstrap_removed(correct["baseline"][subset], correct[name][subset], cfg.n_boot, cfg.seed)
               if len(subset) else (float("nan"),) * 3)
        e = {**meta[name], "accuracy": float(correct[name].mean()), "removed": full[0], "removed_ci": [full[1], full[2]],
             "tigges_accuracy": float(correct[name][subset].mean()) if len(subset) else float("nan"),
             "tigges_removed": sub[0], "tigges_removed_ci": [sub[1], sub[2]],
             "positions_touched": touched, "examples_touched": ivs[0].examples_touched if ivs else 0,
             "examples_run": int(len(plan[name])),
             "mean_score": float(np.mean(scores[name]))}
        if meta[name]["what"] in ("random", "random_units", "leace_random"):
            k = cfg.n_random
            e["accuracy_per_draw"] = [float(correct[name][np.arange(len(labels)) % k == j].mean()) for j in range(k)]
            if e["removed"] > RANDOM_WARN:
                msg = (f"random control {name}: share of above-chance accuracy removed "
                       f"{metrics.format_removed(e['removed'])}; the intervention "
                       "itself is destructive here, whatever the direction")
                warn.append(msg)
                warnings.warn(msg, stacklevel=3)
        rows[name] = e
    return {"site": site, "behaviour": behaviour, "threshold": float(threshold), "n_test": int(len(labels)),
            "tigges_n": int(len(subset)), "examples_with_comma": int((comma_counts > 0).sum()),
            "reference_n": len(ref_texts), "reference_positions": ref_counts, "units": units, "units_from": topk_from,
            "mode": cfg.mode, "positions": [s.name for s in selectors], "conditions": rows, "groups": list(groups),
            "probe": probe_info, "warnings": warn, "scores": {k: v.tolist() for k, v in scores.items()},
            "labels": labels.tolist()}
