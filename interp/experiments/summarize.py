"""The summarization experiment: does sentiment travel through commas and full stops?

Tigges et al. (2023) found that a sentiment direction is partly *summarized* at punctuation:
ablating it at commas alone removes a share of the model's sentiment accuracy. This measures, on
SST, the share of above-chance accuracy removed by ablating the sentiment direction

- at commas only, full stops only, all punctuation, sentiment words only, and everywhere;
- with three direction ablations, each beside the same ablation of seeded random directions:
  ``project`` (projection zeroed), ``mean`` (set to its mean over the same kind of position in a
  reference set), ``resample`` (set to the projection at a random position of the same kind in
  the reference set, i.e. from another example);
- and ``vector``: the whole activation at those positions replaced by the mean activation of
  that position type (no direction, so no random control; it bounds what any direction there
  could carry);

on the full test set (unfiltered) and under the Tigges protocol (sentences the model gets right
that contain a comma, classes balanced).

Transformers (:func:`run_summarize`): per-layer mean-difference toy directions in
``resid_post`` (:func:`interp.experiments.ablate.fit_toy_directions`), each layer's direction ablated in its
layer, all layers at once; zero-shot accuracy at the dev-fitted threshold. The mLSTM
(:func:`run_summarize_mlstm`): a unit and a direction in ``c`` and in ``h`` ablated at the
selected time steps; accuracy of an L2 logistic probe fitted on the final state of SST train,
re-read under the intervention.
"""

from __future__ import annotations

import logging
import time
import warnings
from dataclasses import asdict, dataclass, field
from typing import ClassVar, Sequence

import numpy as np
import torch
from tqdm.auto import tqdm

from interp import data as datasets
from interp import metrics, positions as P
from interp.experiments.ablate import AblateConfig, check_options, fit_toy_directions, removed_bars, tigges_subset
from interp.directions import Direction, random_directions
from interp.interventions import DirectionAblation, ResampleAblation, VectorAblation
from interp.models.protocol import Batch, check_site
from interp.experiments.patch import LogitDiff, ProbeScore
from interp.report.results import Result, Table, TokenTrace, make_manifest

log = logging.getLogger(__name__)

SUMMARY_POSITIONS = ["commas", "full_stops", "punctuation", "sentiment_words", "all"]
DIRECTION_MODES = ("project", "mean", "resample")
MODES = (*DIRECTION_MODES, "vector")
RANDOM_WARN = 0.05


# --------------------------------------------------------------------------- shared machinery


@dataclass
class Reference:
    """Per (selector, site): mean activation over the selector's positions in a reference set and
    the projections there on each row of a basis (the pools resample ablation draws from)."""

    means: dict
    pools: dict
    counts: dict
    n_texts: int


def reference_pass(model, batches: Sequence[Batch], sites: Sequence[str], selectors: Sequence[P.Positions],
                   bases: dict[str, torch.Tensor], *, progress: bool | str = True) -> Reference:
    """One pass over ``batches`` reading ``sites``: means and projection pools per selector."""
    sums = {sel.name: {s: torch.zeros(model.sites()[s], dtype=torch.float64) for s in sites} for sel in selectors}
    pools: dict = {sel.name: {s: [] for s in sites} for sel in selectors}
    counts = {sel.name: 0 for sel in selectors}
    n = 0
    for b in tqdm(batches, desc=progress if isinstance(progress, str) else "reference", disable=not progress):
        _, acts = model.run(b, read=list(sites))
        n += len(b)
        masks = {sel.name: sel.mask(b) for sel in selectors}  # selectors built with allow_empty
        for name, m in masks.items():
            counts[name] += int(m.sum())
            for s in sites:
                a = acts[s][m.to(acts[s].device)].double().cpu()
                sums[name][s] += a.sum(0)
                pools[name][s].append((a.float() @ bases[s].T.float()).T)
    means, out_pools = {}, {}
    for name in sums:
        if counts[name] == 0:
            raise P.NoPositionsError(f"selector {name!r} matched nothing in the reference set ({n} texts)")
        means[name] = {s: (v / counts[name]).float() for s, v in sums[name].items()}
        out_pools[name] = {s: torch.cat(v, 1) for s, v in pools[name].items()}
    return Reference(means, out_pools, counts, n)


def evaluate_conditions(model, batches: Sequence[Batch], conditions, score, *,
                        progress: bool | str = True, **engine) -> dict[str, np.ndarray]:
    """Score of every example under every condition, through :func:`interp.engine.sweep.run_sweep`."""
    from interp.engine.sweep import merge_batches, run_sweep

    bs = max(len(b) for b in batches)
    return run_sweep(model, merge_batches(list(batches)), conditions, score, batch_size=bs,
                     progress=progress if isinstance(progress, str) else ("conditions" if progress else False),
                     **engine).scores


def ablations(site: str, vector: torch.Tensor, bank: torch.Tensor, sel: P.Positions, mode: str, what: str,
              ref: Reference, row: int, bank_rows: slice, seed: int, resample_source: str = "reference"):
    """One intervention at ``site`` for (mode, selector), on the direction (``what="direction"``)
    or on the random bank (``"random"``). ``row``/``bank_rows``: the basis rows of the
    direction and the bank in ``ref.pools``."""
    vecs = vector if what != "random" else bank
    label = f"{what}@{site}"
    if mode == "project":
        return DirectionAblation(site, vecs, sel, mode="project", label=label)
    if mode == "mean":
        return DirectionAblation(site, vecs, sel, mode="mean", reference_mean=ref.means[sel.name][site], label=label)
    if mode == "resample":
        pool = ref.pools[sel.name][site]
        pool = pool[row] if what != "random" else pool[bank_rows]
        return ResampleAblation(site, vecs, sel, pool=pool if resample_source == "reference" else None,
                                source=resample_source, seed=seed, label=label)
    if mode == "vector":
        return VectorAblation(site, sel, ref.means[sel.name][site], label=label)
    raise ValueError(f"unknown mode {mode!r}")


def _fmt_ci(p, ci) -> str:
    return metrics.format_removed(p, *ci)


def score_conditions(scores: dict[str, np.ndarray], labels: np.ndarray, threshold: float, conditions: dict,
                     meta: dict, subset: np.ndarray, n_boot: int, seed: int, n_random: int) -> tuple[dict, list[str]]:
    """Accuracy, % removed and paired bootstrap intervals per condition, full set and subset."""
    correct = {k: (metrics.predictions(v, threshold) == labels).astype(int) for k, v in scores.items()}
    rows, warn = {}, []
    for name, s in scores.items():
        ivs = conditions[name]
        full = metrics.bootstrap_removed(correct["baseline"], correct[name], n_boot, seed)
        sub = (metrics.bootstrap_removed(correct["baseline"][subset], correct[name][subset], n_boot, seed)
               if len(subset) else (float("nan"),) * 3)
        e = {**meta[name], "accuracy": float(correct[name].mean()), "auroc": metrics.auroc(s, labels),
             "removed": full[0], "removed_ci": [full[1], full[2]],
             "tigges_accuracy": float(correct[name][subset].mean()) if len(subset) else float("nan"),
             "tigges_removed": sub[0], "tigges_removed_ci": [sub[1], sub[2]],
             "positions_touched": int(sum(iv.touched for iv in ivs)),
             "examples_touched": int(ivs[0].examples_touched) if ivs else 0,
             "mean_score": float(np.mean(s))}
        if ivs and e["positions_touched"] == 0:
            msg = f"condition {name} touched no position: nothing was ablated (reported as a zero, not a result)"
            warn.append(msg)
            warnings.warn(msg, stacklevel=2)
        if meta[name].get("what") == "random":
            e["accuracy_per_draw"] = [float(correct[name][np.arange(len(labels)) % n_random == j].mean())
                                      for j in range(n_random)]
            if e["removed"] > RANDOM_WARN or e["tigges_removed"] > RANDOM_WARN:
                msg = (f"random control {name}: share removed {metrics.format_removed(e['removed'])} (Tigges "
                       f"protocol: {metrics.format_removed(e['tigges_removed'])}); the intervention is destructive here "
                       f"whatever the direction")
                warn.append(msg)
                warnings.warn(msg, stacklevel=2)
        rows[name] = e
    return rows, warn


def _selector_stats(batches: Sequence[Batch], selectors: Sequence[P.Positions], n: int) -> dict[str, np.ndarray]:
    counts = {sel.name: np.zeros(n, dtype=int) for sel in selectors}
    for b in batches:
        for sel in selectors:
            counts[sel.name][b.ids.numpy()] = sel.counts(b).numpy()
    return counts


def _subsample(lt, n: int | None, seed: int, option: str | None = "--limit"):
    """``n`` seeded random sentences of ``lt`` in their original order; ``None`` or 0: all of them.
    ``option`` names the sentence limit checked (:func:`interp.validate.check_limit`); ``None``: a
    reference-set size, clamped to ``len(lt)``."""
    from interp.validate import check_limit

    if option is not None:
        n = check_limit(option, n, len(lt), lt.name)
    if not n or n >= len(lt):
        return lt
    return lt.subset(np.sort(np.random.default_rng(seed).permutation(len(lt))[:n]))


# --------------------------------------------------------------------------- transformers


@dataclass
class SummarizeConfig(AblateConfig):
    """:class:`interp.experiments.ablate.AblateConfig` with the summarization selectors and every ablation mode
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
    """The summarization table for a transformer (see the module docstring). ``engine``: keywords
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


def _summary_line(rows: dict, mode: str, pos: str, prefix: str = "") -> str:
    key = f"{prefix}{mode}:{pos}"
    if f"{key}:vector" in rows:
        v = rows[f"{key}:vector"]
        return (f"{mode} @ {pos}: {_fmt_ci(v['removed'], v['removed_ci'])} "
                f"(Tigges {_fmt_ci(v['tigges_removed'], v['tigges_removed_ci'])}); whole vector, no random control")
    d, r = rows[f"{key}:direction"], rows[f"{key}:random"]
    return (f"{mode} @ {pos}: {_fmt_ci(d['removed'], d['removed_ci'])} vs random "
            f"{metrics.format_removed(r['removed'])}; Tigges {_fmt_ci(d['tigges_removed'], d['tigges_removed_ci'])} "
            f"vs random {metrics.format_removed(r['tigges_removed'])}")


def _summary_table(rows: dict, modes, selectors, sel_counts, n, prefix: str = "", lead: list | None = None) -> Table:
    out = []
    for mode in modes:
        for sel in selectors:
            key = f"{prefix}{mode}:{sel.name}"
            d = rows.get(f"{key}:direction") or rows[f"{key}:vector"]
            r = rows.get(f"{key}:random")
            c = sel_counts[sel.name]
            out.append([*(lead or []), mode, sel.name, f"{int((c > 0).sum())}/{n}", float(c.mean()),
                        d["accuracy"], _fmt_ci(d["removed"], d["removed_ci"]),
                        _fmt_ci(r["removed"], r["removed_ci"]) if r else "—",
                        d["tigges_accuracy"], _fmt_ci(d["tigges_removed"], d["tigges_removed_ci"]),
                        _fmt_ci(r["tigges_removed"], r["tigges_removed_ci"]) if r else "—"])
    return Table(
        title="Share of above-chance accuracy removed, by ablation and position, with the random control",
        columns=[*(["target", "site"] if lead else []), "mode", "positions", "examples matched",
                 "positions per example", "accuracy", "% removed [95% CI]", "random: % removed", "Tigges: accuracy",
                 "Tigges: % removed", "Tigges random: % removed"],
        rows=out)


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


# --------------------------------------------------------------------------- the mLSTM


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
        check_options(self.positions, self.modes, self.n_random, allowed=MODES)  # "vector": the whole state
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


__all__ = ["SummarizeConfig", "MLSTMSummarizeConfig", "run_summarize", "run_summarize_mlstm", "reference_pass",
           "evaluate_conditions", "score_conditions", "final_states", "fit_l2_probe", "Reference",
           "SUMMARY_POSITIONS", "MODES"]
