"""The summarization table for the byte mLSTM (:func:`run_summarize_mlstm`): a unit and a direction
in ``c`` and ``h`` ablated at the selected steps, read by an L2 probe on the final state."""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from typing import Sequence

import numpy as np
import torch

from interp import data as datasets
from interp import metrics, positions as P
from interp.report.figures import removed_bars
from interp.tasks import tigges_subset
from interp.validate import check_ablation_options
from interp.directions import random_directions
from interp.engine.conditions import ProbeScore
from interp.models.protocol import Batch, check_site
from interp.report.results import Result, TokenTrace, make_manifest
from interp.experiments.summarize.common import (DIRECTION_MODES, MODES, SUMMARY_POSITIONS, _selector_stats,
                                                 _subsample, _summary_line, _summary_table, ablations,
                                                 evaluate_conditions, reference_pass, score_conditions)


@dataclass
class MLSTMSummarizeConfig:
    positions: list[str] = field(default_factory=lambda: list(SUMMARY_POSITIONS))
    modes: list[str] = field(default_factory=lambda: ["project", "mean", "resample"])
    sites: list[str] = field(default_factory=lambda: ["hook_c", "hook_h"])
    targets: list[str] = field(default_factory=lambda: ["unit", "direction"])
    probe_site: str = "hook_c"
    n_random: int = 8
    reference_n: int = 256
    train_limit: int | None = None
    dev_limit: int | None = None
    limit: int | None = None
    batch_size: int = 64
    seed: int = 0
    n_boot: int = 2000
    skip_first: bool = True
    C_grid: tuple = tuple(2.0 ** k for k in range(-10, 3, 2))

    def validate(self) -> "MLSTMSummarizeConfig":
        check_ablation_options(self.positions, self.modes, self.n_random, allowed=MODES)  # "vector": the whole state
        bad = [t for t in self.targets if t not in ("unit", "direction")]
        if bad or not self.targets:
            raise ValueError(f"targets must be among unit, direction; got {self.targets!r}")
        if not self.sites:
            raise ValueError("no sites given")
        from interp.validate import check_sweep_sizes

        check_sweep_sizes(self)
        return self


def _batches(model, texts: Sequence[str], batch_size: int) -> list[Batch]:
    from interp.tasks import batches as length_batches

    everything = model.tokenize(list(texts))
    return [everything.select(idx) for idx in length_batches(len(everything), everything.lengths.tolist(), batch_size)]


def final_states(model, batches: Sequence[Batch], sites: Sequence[str]) -> dict[str, np.ndarray]:
    """Un-intervened state after each text's last real token at each site: {site: (n, d)} in
    ``Batch.ids`` order (runs under interventions go through :func:`interp.engine.sweep.run_sweep`)."""
    n = sum(len(b) for b in batches)
    out = {s: np.zeros((n, model.sites()[s]), dtype=np.float32) for s in sites}
    for b in batches:
        _, acts = model.run(b, read=list(sites))
        for s in sites:
            a = acts[s]
            out[s][b.ids.numpy()] = a[torch.arange(len(b)), b.last].float().cpu().numpy()
    return out


def fit_l2_probe(Xtr, ytr, Xdev, ydev, C_grid: Sequence[float], seed: int = 0) -> tuple[torch.Tensor, float, dict]:
    """L2 logistic regression on standardised features, C chosen on dev accuracy; returned as
    (weight, bias) on the raw features (the standardisation folded in)."""
    from sklearn.linear_model import LogisticRegression

    mu, sd = Xtr.mean(0), Xtr.std(0)
    sd = np.where(sd > 1e-8, sd, 1.0)
    Ztr, Zdev = (Xtr - mu) / sd, (Xdev - mu) / sd
    best = None
    for C in C_grid:
        clf = LogisticRegression(C=C, max_iter=2000, random_state=seed).fit(Ztr, ytr)
        acc = float((clf.predict(Zdev) == ydev).mean())
        if best is None or acc > best[0]:
            best = (acc, C, clf)
    acc, C, clf = best
    w = clf.coef_[0] / sd
    b = float(clf.intercept_[0] - (clf.coef_[0] * mu / sd).sum())
    return torch.tensor(w, dtype=torch.float32), b, {"C": C, "dev_acc": acc,
                                                    "train_acc": float((clf.predict(Ztr) == ytr).mean())}


def run_summarize_mlstm(model, config: MLSTMSummarizeConfig | None = None, *, progress: bool = True,
                        command: str | None = None, model_path: str | None = None, engine: dict | None = None) -> Result:
    """The summarization table for the byte mLSTM (:class:`interp.models.mlstm.adapter.MLSTMModel`): a unit
    and a direction in each of ``sites`` ablated at the selected steps, measured by an L2 probe's
    SST test accuracy on the final ``probe_site`` state."""
    from interp.finders import MeanDiff

    cfg = (config or MLSTMSummarizeConfig()).validate()
    t0 = time.time()
    for s in [*cfg.sites, cfg.probe_site]:
        check_site(model, s)
    d = model.sites()[cfg.probe_site]
    selectors = [P.get(p, skip_first=cfg.skip_first, allow_empty=True) for p in cfg.positions]
    train = _subsample(datasets.sst("train"), cfg.train_limit, cfg.seed, "--train-limit")
    dev = _subsample(datasets.sst("dev"), cfg.dev_limit, cfg.seed + 1, "--dev-limit")
    test = _subsample(datasets.sst("test"), cfg.limit, cfg.seed + 2)
    ytr, ydev, labels = (np.asarray(x.labels) for x in (train, dev, test))
    read_sites = list(dict.fromkeys([cfg.probe_site, *cfg.sites]))
    Ftr = final_states(model, _batches(model, train.texts, cfg.batch_size), read_sites)
    Fdev = final_states(model, _batches(model, dev.texts, cfg.batch_size), [cfg.probe_site])
    w, b, probe_info = fit_l2_probe(Ftr[cfg.probe_site], ytr, Fdev[cfg.probe_site], ydev, cfg.C_grid, cfg.seed)
    score = ProbeScore(cfg.probe_site, w, b)

    # targets per site: the most separating unit and the mean-diff direction of final states
    targets: dict[tuple[str, str], dict] = {}
    rng = np.random.default_rng(cfg.seed)
    for s in cfg.sites:
        X = Ftr[s]
        sd = X.std(0) + 1e-8
        dprime = np.abs(X[ytr == 1].mean(0) - X[ytr == 0].mean(0)) / sd
        unit = int(np.argmax(dprime))
        others = np.setdiff1d(np.arange(X.shape[1]), [unit])
        rand_units = rng.choice(others, size=min(cfg.n_random, len(others)), replace=False)
        eye = torch.eye(X.shape[1])
        if "unit" in cfg.targets:
            targets[("unit", s)] = {"vector": eye[unit], "bank": eye[torch.as_tensor(rand_units)], "unit": unit,
                                    "dprime": float(dprime[unit]), "random_units": rand_units.tolist()}
        if "direction" in cfg.targets:
            md = MeanDiff().fit(X, ytr)
            targets[("direction", s)] = {"vector": torch.tensor(md.direction_, dtype=torch.float32),
                                         "bank": random_directions(X.shape[1], cfg.n_random, seed=cfg.seed * 100_003 + 7),
                                         "train_acc": md.score(X, ytr)}
    # bases per site: for each target, its vector then its bank
    bases, rows_of = {}, {}
    for s in cfg.sites:
        parts = []
        for t in cfg.targets:
            tg = targets[(t, s)]
            start = sum(p.shape[0] for p in parts)
            rows_of[(t, s)] = (start, slice(start + 1, start + 1 + tg["bank"].shape[0]))
            parts += [tg["vector"][None], tg["bank"]]
        bases[s] = torch.cat(parts)
    ref_texts = _subsample(train, cfg.reference_n, cfg.seed + 3, None).texts
    ref = reference_pass(model, _batches(model, ref_texts, cfg.batch_size), cfg.sites, selectors, bases,
                         progress="reference" if progress else False)

    conditions: dict[str, list] = {"baseline": []}
    meta: dict[str, dict] = {"baseline": {"target": "", "site": "", "mode": "", "positions": "", "what": "none"}}
    for t in cfg.targets:
        for s in cfg.sites:
            tg = targets[(t, s)]
            row, bank_rows = rows_of[(t, s)]
            for mode in cfg.modes:
                if mode == "vector" and t != cfg.targets[0]:
                    continue  # the whole state does not depend on the target
                for sel in selectors:
                    for what in (("direction", "random") if mode in DIRECTION_MODES else ("vector",)):
                        name = f"{t}@{s}:{mode}:{sel.name}:{what}"
                        conditions[name] = [ablations(s, tg["vector"], tg["bank"], sel, mode, what, ref, row,
                                                      bank_rows, cfg.seed, "reference")]
                        meta[name] = {"target": t, "site": s, "mode": mode, "positions": sel.name, "what": what}
    batches = _batches(model, test.texts, cfg.batch_size)
    sel_counts = _selector_stats(batches, selectors, len(test))
    t_sweep = time.time()
    scores = evaluate_conditions(model, batches, conditions, score, progress="SST sweep" if progress else False,
                                 **(engine or {}))
    sweep_s = time.time() - t_sweep
    correct0 = (metrics.predictions(scores["baseline"], 0.0) == labels).astype(int)
    has_comma = np.array(["," in x for x in test.texts])
    subset = tigges_subset(correct0, has_comma, labels, cfg.seed)
    rows, warn = score_conditions(scores, labels, 0.0, conditions, meta, subset, cfg.n_boot, cfg.seed, cfg.n_random)
    tables = []
    for t in cfg.targets:
        for s in cfg.sites:
            modes = [m for m in cfg.modes if m != "vector" or t == cfg.targets[0]]
            tab = _summary_table(rows, modes, selectors, sel_counts, len(labels), prefix=f"{t}@{s}:",
                                 lead=[t if t == "direction" else f"unit {targets[(t, s)]['unit']}", s])
            tab.title = f"mLSTM: ablating the {t} in {s} at each kind of position"
            tables.append(tab)
    base = rows["baseline"]
    caption = (f"L2 logistic probe on the final {cfg.probe_site} (C={probe_info['C']:g} chosen on dev, dev accuracy "
               f"{probe_info['dev_acc']:.3f}), fitted on {len(train)} SST train sentences; SST test n={len(labels)}, "
               f"probe accuracy {base['accuracy']:.3f}. Unit: the largest standardised class-mean difference of the final "
               f"state on train; direction: mean difference of the final states on train. Random: {cfg.n_random} random "
               f"units (for the unit) or seeded random directions (for the direction); example i gets draw i mod "
               f"{cfg.n_random}. mean/resample draw from {ref.n_texts} SST train texts at the same kind of step. Tigges "
               f"protocol: {len(subset)} sentences the probe gets right that contain a comma, balanced.")
    for tab in tables:
        tab.caption = caption
    keys = [(f"{t}@{s} {m} @ {sel.name}", f"{t}@{s}:{m}:{sel.name}") for t in cfg.targets for s in cfg.sites
            for m in cfg.modes if (m != "vector" or t == cfg.targets[0]) for sel in selectors]
    fig = removed_bars(rows, keys, "mLSTM: ablating a unit or a direction at each kind of step (probe accuracy)")
    summary = (f"mLSTM {model.name}: L2 probe on the final {cfg.probe_site}, SST test accuracy {base['accuracy']:.3f} "
               f"(n={len(labels)}). Share of above-chance probe accuracy removed, vs random control:\n\n"
               + "\n".join(_summary_line(rows, m, sel.name, prefix=f"{t}@{s}:") .replace(f"{m} @", f"{t}@{s} {m} @", 1)
                           for t in cfg.targets for s in cfg.sites for m in cfg.modes
                           if (m != "vector" or t == cfg.targets[0]) for sel in selectors)
               + ("\n\nWarnings:\n" + "\n".join(warn) if warn else ""))
    traces = []
    for (t, s), tg in targets.items():
        if t != "direction":
            continue
        idx = next((i for i, x in enumerate(test.texts) if "," in x), 0)
        bb = model.tokenize([test.texts[idx]])
        _, acts = model.run(bb, read=[s])
        vals = (acts[s][0].float() @ tg["vector"]).tolist()
        keep = [i for i, p in enumerate(bb.pieces[0]) if p]
        traces.append(TokenTrace(title=f"Projection on the {s} direction after each character",
                                 tokens=[bb.pieces[0][i] for i in keep], values=[vals[i] for i in keep],
                                 caption=f"SST test sentence {idx} (label {int(labels[idx])})."))
    data = {"config": asdict(cfg), "probe": probe_info, "conditions": rows, "n_test": int(len(labels)),
            "tigges_n": int(len(subset)),
            "targets": {f"{t}@{s}": {k: v for k, v in tg.items() if k not in ("vector", "bank")}
                        for (t, s), tg in targets.items()},
            "selector_counts": {k: {"positions": int(v.sum()), "examples": int((v > 0).sum())}
                                for k, v in sel_counts.items()},
            "reference_positions": ref.counts, "scores": {k: v.tolist() for k, v in scores.items()},
            "labels": labels.tolist(), "warnings": warn,
            "timing": {"total_s": time.time() - t0, "sweep_s": sweep_s, "conditions": len(conditions)}}
    manifest = make_manifest(command=command, config=asdict(cfg), seeds=[cfg.seed],
                             data_files=[*train.sources, *dev.sources, *test.sources], model=model.name,
                             extra={"model_path": model_path} if model_path else None)
    res = Result(kind="summarize", title=f"The summarization motif in the mLSTM: {model.name}", summary=summary,
                 tables=tables, figures=[fig], traces=traces, data=data, manifest=manifest)
    # not serialised: what a caller needs to reuse the probe and the directions (e.g. for patching)
    res.probe_weight, res.probe_bias = w, b
    res.target_vectors = {s: (targets[("direction", s)]["vector"] if ("direction", s) in targets
                              else targets[("unit", s)]["vector"]) for s in cfg.sites}
    return res
