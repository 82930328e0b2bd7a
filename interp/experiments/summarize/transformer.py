"""The summarization table for a transformer (:func:`run_summarize`): per-layer toy directions in
``resid_post`` ablated at each kind of position, zero-shot SST accuracy at the dev-fitted threshold."""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from typing import ClassVar

import numpy as np
import torch

from interp import data as datasets
from interp import metrics, positions as P
from interp.finders.fit import fit_toy_directions
from interp.experiments.options import AblationOptions
from interp.report.figures import removed_bars
from interp.tasks import tigges_subset
from interp.directions import random_directions
from interp.engine.conditions import LogitDiff
from interp.models.protocol import check_site
from interp.report.results import Result, TokenTrace, make_manifest
from interp.experiments.summarize.common import (DIRECTION_MODES, MODES, SUMMARY_POSITIONS, _selector_stats,
                                                 _subsample, _summary_line, _summary_table, ablations,
                                                 evaluate_conditions, reference_pass, score_conditions)


@dataclass
class SummarizeConfig(AblationOptions):
    """:class:`interp.experiments.options.AblationOptions` (as ``interp ablate``) with the summarization selectors and every ablation mode
    by default, and where resample ablation draws its values from."""

    positions: list[str] = field(default_factory=lambda: list(SUMMARY_POSITIONS))
    modes: list[str] = field(default_factory=lambda: ["project", "mean", "resample", "vector"])
    resample_source: str = "reference"
    modes_allowed: ClassVar[tuple[str, ...]] = MODES

    def validate(self) -> "SummarizeConfig":
        super().validate()
        if self.resample_source not in ("reference", "batch"):
            raise ValueError(f"resample_source must be 'reference' or 'batch', not {self.resample_source!r}")
        return self


def run_summarize(model, config: SummarizeConfig | None = None, *, directions: dict | None = None,
                  progress: bool = True, command: str | None = None, engine: dict | None = None) -> Result:
    """The summarization table for a transformer (see :mod:`interp.experiments.summarize`). ``engine``: keywords
    for :func:`interp.engine.sweep.run_sweep`."""
    from interp.tasks import SSTZeroShot

    cfg = (config or SummarizeConfig()).validate()
    t0 = time.time()
    task = SSTZeroShot(prompt=cfg.prompt, batch_size=cfg.batch_size)
    pos_id, neg_id = task.answer_ids(model)
    score = LogitDiff(pos_id, neg_id, task.positive, task.negative)
    from interp.validate import check_layers

    layers = check_layers(cfg.layers, model.n_layers, model.name)
    sites = [f"blocks.{L}.hook_{cfg.site}" for L in layers]
    for s in sites:
        check_site(model, s)
    selectors = [P.get(p, skip_first=cfg.skip_first, allow_empty=True) for p in cfg.positions]

    # 1. directions (toy mean-diff per layer) and random banks
    toy_info = {}
    if directions is None:
        directions, toy_info = fit_toy_directions(model, sites, progress=progress)
    banks = {s: random_directions(model.sites()[s], cfg.n_random, seed=cfg.seed * 100_003 + L)
             for L, s in zip(layers, sites)}
    bases = {s: torch.cat([directions[s].vector[None], banks[s]]) for s in sites}

    # 2. reference set: means and pools per position type
    train = datasets.sst("train")
    ref_texts = _subsample(train, cfg.reference_n, cfg.seed, None).texts
    ref = reference_pass(model, task.make_batches(model, ref_texts), sites, selectors, bases,
                         progress="reference" if progress else False)

    # 3. threshold on dev
    dev = _subsample(datasets.sst("dev"), cfg.dev_limit, cfg.seed + 1, "--dev-limit")
    dev_stats = {}
    if cfg.threshold == "dev":
        dev_ld = evaluate_conditions(model, task.make_batches(model, dev.texts), {"baseline": []}, score, **(engine or {}),
                                     progress="dev baseline" if progress else False)["baseline"]
        threshold = metrics.fit_threshold(dev_ld, dev.labels)
        dev_stats = {"n": len(dev), "accuracy_at_0": metrics.accuracy(dev_ld, dev.labels),
                     "balanced_accuracy": metrics.balanced_accuracy(dev_ld, dev.labels, threshold)}
    else:
        threshold = 0.0

    # 4. conditions on test
    test = _subsample(datasets.sst(cfg.split), cfg.limit, cfg.seed + 2)
    labels = np.asarray(test.labels)
    conditions: dict[str, list] = {"baseline": []}
    meta: dict[str, dict] = {"baseline": {"mode": "", "positions": "", "what": "none"}}
    for mode in cfg.modes:
        for sel in selectors:
            for what in (("direction", "random") if mode in DIRECTION_MODES else ("vector",)):
                name = f"{mode}:{sel.name}:{what}"
                conditions[name] = [ablations(s, directions[s].vector, banks[s], sel, mode, what, ref, 0,
                                              slice(1, None), cfg.seed * 1_000 + L, cfg.resample_source)
                                    for L, s in zip(layers, sites)]
                meta[name] = {"mode": mode, "positions": sel.name, "what": what}
    batches = task.make_batches(model, test.texts)
    sel_counts = _selector_stats(batches, selectors, len(test))
    t_sweep = time.time()
    scores = evaluate_conditions(model, batches, conditions, score, progress="SST sweep" if progress else False,
                                 **(engine or {}))
    sweep_s = time.time() - t_sweep

    # 5. metrics
    correct0 = (metrics.predictions(scores["baseline"], threshold) == labels).astype(int)
    has_comma = np.array(["," in t for t in test.texts]) if "commas" not in sel_counts else sel_counts["commas"] > 0
    subset = tigges_subset(correct0, has_comma, labels, cfg.seed)
    rows, warn = score_conditions(scores, labels, threshold, conditions, meta, subset, cfg.n_boot, cfg.seed,
                                  cfg.n_random)
    table = _summary_table(rows, cfg.modes, selectors, sel_counts, len(labels))
    base = rows["baseline"]
    table.caption = (
        f"SST {cfg.split} (n={len(labels)}{'' if cfg.limit is None else f', a seeded sample (--limit {cfg.limit})'}), "
        f"prompt {task.template!r} → {task.positive!r}/{task.negative!r}; baseline accuracy {base['accuracy']:.3f} at the "
        f"threshold {threshold:.3f} fitted on SST dev (n={len(dev)}). Each layer's {_directions_text(directions, sites)} is ablated in "
        f"{cfg.site} of its layer, all {len(layers)} layers at once, first token excluded={cfg.skip_first}. mean/resample "
        f"draw from {ref.n_texts} SST train texts in the same prompt at the same kind of position; vector = the whole "
        f"activation set to the mean activation of that position type. Random: {cfg.n_random} seeded random directions "
        f"per layer (example i gets draw i mod {cfg.n_random}). Tigges protocol: {len(subset)} sentences the model gets "
        f"right that contain a comma, balanced. Intervals: paired bootstrap, {cfg.n_boot} resamples.")
    keys = [(f"{m} @ {sel.name}", f"{m}:{sel.name}") for m in cfg.modes for sel in selectors]
    fig = removed_bars(rows, keys, f"Ablating the sentiment direction at each kind of position ({model.name})")
    traces = _token_traces(model, task, test, directions, sites)
    summary = (f"{model.name}: baseline SST {cfg.split} accuracy {base['accuracy']:.3f} (n={len(labels)}, threshold "
               f"{threshold:.3f} fitted on dev). Share of above-chance accuracy removed, direction vs random control:\n\n"
               + "\n".join(_summary_line(rows, m, sel.name) for m in cfg.modes for sel in selectors)
               + ("\n\nWarnings:\n" + "\n".join(warn) if warn else ""))
    data = {"config": asdict(cfg), "threshold": threshold, "dev": dev_stats, "conditions": rows,
            "n_test": int(len(labels)), "tigges_n": int(len(subset)),
            "selector_counts": {k: {"positions": int(v.sum()), "examples": int((v > 0).sum()),
                                    "per_example": v.tolist()} for k, v in sel_counts.items()},
            "reference_positions": ref.counts, "toy": toy_info,
            "directions": {s: directions[s].meta() for s in sites},
            "scores": {k: v.tolist() for k, v in scores.items()}, "labels": labels.tolist(), "warnings": warn,
            "timing": {"total_s": time.time() - t0, "sweep_s": sweep_s, "conditions": len(conditions),
                       "sentences": int(len(labels))}}
    manifest = make_manifest(command=command, config=asdict(cfg), seeds=[cfg.seed],
                             data_files=[*train.sources, *dev.sources, *test.sources], model=model.name,
                             model_hash=getattr(model, "weights_hash", None))
    res = Result(kind="summarize", title=f"The summarization motif on SST: {model.name}", summary=summary,
                 tables=[table], figures=[fig], traces=traces, data=data, manifest=manifest)
    res.directions = directions
    return res


def _directions_text(directions: dict, sites) -> str:
    """What the ablated directions are, from their provenance: method and fitting data."""
    methods = sorted({directions[s].method or "?" for s in sites})
    data = sorted({str(directions[s].flags.get("fit_data") or (directions[s].data or "?").split(":")[0]) for s in sites})
    return f"{'/'.join(methods)} direction (fit on {', '.join(data)})"


def _token_traces(model, task, test, directions, sites, n_layers_shown: int = 2) -> list[TokenTrace]:
    """Projection on the direction, token by token, at a middle and a late layer, for one test
    sentence with a comma and a full stop."""
    idx = next((i for i, t in enumerate(test.texts) if "," in t and "." in t[:-1]),
               next((i for i, t in enumerate(test.texts) if "," in t), 0))
    shown = [sites[len(sites) // 2], sites[(3 * len(sites)) // 4]][:n_layers_shown]
    b = model.tokenize(task.format([test.texts[idx]]))
    _, acts = model.run(b, read=list(dict.fromkeys(shown)))
    start = 1 if b.has_bos else 0
    out = []
    for site in dict.fromkeys(shown):
        proj = directions[site].project(acts[site][0]).tolist()
        out.append(TokenTrace(title=f"Projection on the {site} sentiment direction, token by token",
                              tokens=b.pieces[0][start:], values=proj[start:],
                              caption=(f"SST {task.prompt!r} prompt, test sentence {idx} (label "
                                       f"{int(test.labels[idx])}); green = positive projection. The BOS is left out.")))
    return out
