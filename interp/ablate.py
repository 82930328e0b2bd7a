"""The ablation experiment: how much SST zero-shot accuracy a sentiment direction carries.

1. Fit a mean-difference direction per layer from toy reviews (train adjectives), read at the
   adjective; check it on held-out adjectives.
2. Measure the mean activation at each layer over a reference set (SST train sentences in the
   same prompt), separately for each position selector (for mean ablation), and the residual
   norm at the first token against the rest.
3. Fit the decision threshold on SST dev (small models lean to one answer).
4. On SST test, for each ablation mode and position selector, ablate each layer's direction in
   that layer, and beside it a bank of seeded random directions (example ``i`` gets draw
   ``i % k``, so one pass averages over ``k`` draws).
5. Report accuracy and ``(acc0 − acc)/(acc0 − 0.5)`` with paired bootstrap intervals on the full
   test set and under the Tigges et al. protocol (sentences the model gets right, containing a
   comma, classes balanced).
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

from . import data as datasets
from . import metrics, positions as P
from .directions import Direction, random_directions
from .finders import MeanDiff
from .interventions import DirectionAblation
from .results import Result, Table, TokenTrace, make_manifest
from .tasks import TOY_TEMPLATE, SSTZeroShot, ToyTemplates, gather_at
from .validate import check_sweep_sizes

log = logging.getLogger(__name__)

RANDOM_WARN = 0.05  # warn when a random direction removes more than this share


@dataclass
class AblateConfig:
    model: str = "smollm2-135m"
    prompt: str = "very"
    positions: list[str] = field(default_factory=lambda: ["all", "commas"])
    modes: list[str] = field(default_factory=lambda: ["mean"])
    site: str = "resid_post"
    layers: list[int] | None = None  # None: every layer
    n_random: int = 8
    reference_n: int = 256
    split: str = "test"
    limit: int | None = None
    dev_limit: int | None = None
    batch_size: int = 32
    seed: int = 0
    n_boot: int = 2000
    skip_first: bool = True
    threshold: str = "dev"  # "dev" (fitted on SST dev, balanced accuracy) or "zero"
    per_layer: bool = False  # one condition per layer (a row each) instead of all layers at once

    #: the modes :meth:`validate` accepts (a subclass may widen them)
    modes_allowed: ClassVar[tuple[str, ...]] = ("project", "mean")

    def validate(self) -> "AblateConfig":
        """Check names before any model is loaded; ValueError naming the bad value."""
        SSTZeroShot(prompt=self.prompt)
        check_options(self.positions, self.modes, self.n_random, self.threshold, allowed=self.modes_allowed)
        check_sweep_sizes(self)
        return self


def check_options(positions, modes, n_random, threshold=None, *, allowed: Sequence[str]) -> None:
    """The checks every ablation sweep shares: known selectors, known modes (at least one), a
    random control, and a known threshold rule; ValueError naming the bad value."""
    P.parse_list(positions)
    bad = [m for m in modes if m not in allowed]
    if bad or not modes:
        raise ValueError(f"unknown ablation mode(s) {bad or modes!r}; choose from {', '.join(allowed)}")
    if n_random < 1:
        raise ValueError("n_random must be at least 1: every number needs its random control")
    if threshold is not None and threshold not in ("dev", "zero"):
        raise ValueError(f"threshold must be 'dev' or 'zero', not {threshold!r}")


def fit_toy_directions(model, sites: list[str], *, progress: bool = True) -> tuple[dict[str, Direction], dict]:
    """Mean-difference direction per site from toy train prompts, scored on toy test prompts."""
    toy = ToyTemplates()
    train, test = toy.prompts(model, "train"), toy.prompts(model, "test")
    Xtr = gather_at(model, train.texts, train.positions, sites, progress="toy directions (train)" if progress else False)
    Xte = gather_at(model, test.texts, test.positions, sites, progress="toy directions (test)" if progress else False)
    out = {}
    for s in sites:
        f = MeanDiff().fit(Xtr[s], train.labels)
        out[s] = Direction(
            torch.tensor(f.direction_, dtype=torch.float32),
            site=s,
            model=model.name,
            method="mean_diff",
            data=f"toy templates, train adjectives ({len(train.texts)} prompts)",
            flags={"read_at": "adjective", "template": TOY_TEMPLATE, "bos": bool(model.bos_token_id is not None)},
            metrics={"toy_train_acc": f.score(Xtr[s], train.labels), "toy_test_acc": f.score(Xte[s], test.labels)},
        )
    info = {"train_words": sorted(set(train.words)), "test_words": sorted(set(test.words)),
            "n_train": len(train.texts), "n_test": len(test.texts)}
    return out, info


def reference_stats(model, task: SSTZeroShot, texts, sites, selectors, *, progress=True):
    """Mean activation per (selector, site) over ``texts``, and residual norms by position."""
    sums = {sel.name: {s: torch.zeros(model.sites()[s], dtype=torch.float64) for s in sites} for sel in selectors}
    counts = {sel.name: 0 for sel in selectors}
    norm_first = {s: [] for s in sites}
    norm_rest = {s: [] for s in sites}
    for b in tqdm(task.make_batches(model, texts), desc="reference means", disable=not progress):
        _, acts = model.run(b, read=sites)
        masks = {sel.name: sel.mask(b) for sel in selectors}
        rest = b.mask.clone()
        rest[:, 0] = False
        for s in sites:
            a = acts[s].double()
            for name, m in masks.items():
                sums[name][s] += a[m].sum(0)
            norms = a.norm(dim=-1)
            norm_first[s].append(norms[:, 0])
            norm_rest[s].append(norms[rest])
        for name, m in masks.items():
            counts[name] += int(m.sum())
    means = {}
    for name in sums:
        if counts[name] == 0:
            raise P.NoPositionsError(f"selector {name!r} matched nothing in the reference set")
        means[name] = {s: (v / counts[name]).float() for s, v in sums[name].items()}
    norms = {s: (float(torch.cat(norm_first[s]).mean()), float(torch.cat(norm_rest[s]).mean())) for s in sites}
    return means, counts, norms


def tigges_subset(correct0: np.ndarray, has_comma: np.ndarray, labels: np.ndarray, seed: int) -> np.ndarray:
    """Indices of sentences the model gets right and that contain a comma, classes balanced."""
    keep = np.flatnonzero(correct0.astype(bool) & has_comma.astype(bool))
    pos, neg = keep[labels[keep] == 1], keep[labels[keep] == 0]
    n = min(len(pos), len(neg))
    rng = np.random.default_rng(seed)
    return np.sort(np.concatenate([rng.choice(pos, n, replace=False), rng.choice(neg, n, replace=False)]))


def run_ablate(model, config: AblateConfig | None = None, *, progress: bool = True, command: str | None = None,
               engine: dict | None = None) -> Result:
    """The ablation experiment (module docstring). ``engine``: keywords for
    :func:`interp.engine.run_sweep` (``run`` a RunFolder to resume from, ``engine="ray"``, ...)."""
    cfg = (config or AblateConfig()).validate()
    t0 = time.time()
    task = SSTZeroShot(prompt=cfg.prompt, batch_size=cfg.batch_size)
    task.answer_ids(model)  # fail early if an answer is not one token
    from .validate import check_count, check_layers, check_limit

    layers = check_layers(cfg.layers, model.n_layers, model.name)
    sites = [f"blocks.{L}.hook_{cfg.site}" for L in layers]
    for s in sites:
        from .model import check_site

        check_site(model, s)
    selectors = [P.get(p, skip_first=cfg.skip_first, allow_empty=True) for p in cfg.positions]

    train = datasets.sst("train")
    dev, test = datasets.sst("dev"), datasets.sst(cfg.split)
    check_count("--reference-n", cfg.reference_n, maximum=len(train))
    check_limit("--dev-limit", cfg.dev_limit, len(dev), "SST dev")
    check_limit("--limit", cfg.limit, len(test), f"SST {cfg.split}")

    # 1. directions
    directions, toy_info = fit_toy_directions(model, sites, progress=progress)

    # 2. reference means and norms (SST train sample)
    rng = np.random.default_rng(cfg.seed)
    ref_idx = rng.choice(len(train), size=min(cfg.reference_n, len(train)), replace=False)
    ref_texts = [train.texts[i] for i in ref_idx]
    ref_means, ref_counts, norms = reference_stats(model, task, ref_texts, sites, selectors, progress=progress)

    # 3. threshold on dev
    if cfg.dev_limit:
        dev = dev.subset(np.random.default_rng(cfg.seed + 1).permutation(len(dev))[: cfg.dev_limit])
    if cfg.threshold == "dev":
        dev_ld = task.evaluate(model, dev.texts, progress="dev baseline" if progress else False, **(engine or {}))["baseline"]
        threshold = metrics.fit_threshold(dev_ld, dev.labels)
        dev_stats = {"n": len(dev), "accuracy_at_0": metrics.accuracy(dev_ld, dev.labels),
                     "balanced_accuracy": metrics.balanced_accuracy(dev_ld, dev.labels, threshold),
                     "auroc": metrics.auroc(dev_ld, dev.labels)}
    elif cfg.threshold == "zero":
        threshold, dev_stats = 0.0, {}
    else:
        raise ValueError(f"threshold must be 'dev' or 'zero', not {cfg.threshold!r}")

    # 4. test sweep
    if cfg.limit:
        test = test.subset(np.random.default_rng(cfg.seed + 2).permutation(len(test))[: cfg.limit])
    labels = np.asarray(test.labels)
    conditions: dict[str, list[DirectionAblation]] = {"baseline": []}
    meta: dict[str, dict] = {"baseline": {"mode": "", "positions": "", "what": "none", "layers": []}}
    # all chosen layers at once (one condition), or with per_layer one condition per layer
    groups = [(f"@L{L}", [(L, s)]) for L, s in zip(layers, sites)] if cfg.per_layer else [("", list(zip(layers, sites)))]
    for mode in cfg.modes:
        for sel in selectors:
            for tag, group in groups:
                for what in ("direction", "random"):
                    ivs = []
                    for L, s in group:
                        vecs = directions[s].vector if what == "direction" else random_directions(
                            model.sites()[s], cfg.n_random, seed=cfg.seed * 100_003 + L)
                        ivs.append(DirectionAblation(s, vecs, sel, mode=mode,
                                                     reference_mean=ref_means[sel.name][s] if mode == "mean" else None,
                                                     label=f"{what}@{s}"))
                    name = f"{mode}:{sel.name}{tag}:{what}"
                    conditions[name] = ivs
                    meta[name] = {"mode": mode, "positions": sel.name, "what": what, "layers": [L for L, _ in group]}
    batches = task.make_batches(model, test.texts)
    comma_counts = np.zeros(len(test), dtype=int)
    commas = P.Commas(skip_first=cfg.skip_first, allow_empty=True)
    for b in batches:
        comma_counts[b.ids.numpy()] = commas.counts(b).numpy()
    t_sweep = time.time()
    lds = task.evaluate(model, conditions=conditions, batches_=batches, progress="SST sweep" if progress else False,
                        **(engine or {}))
    sweep_stats = task.last_stats
    sweep_s = time.time() - t_sweep

    # 5. metrics
    correct = {k: (metrics.predictions(v, threshold) == labels).astype(int) for k, v in lds.items()}
    acc0 = correct["baseline"].mean()
    chance_warning = None
    if acc0 <= 0.5:
        chance_warning = (f"baseline accuracy {acc0:.3f} on {len(labels)} sentences is at or below chance: the share "
                          f"removed is undefined (printed as such); use more sentences (--limit) or another prompt")
        warnings.warn(chance_warning, stacklevel=2)
    subset = tigges_subset(correct["baseline"], comma_counts > 0, labels, cfg.seed)
    rows, warn = [], [chance_warning] if chance_warning else []
    summary_rows = {}
    for name, ld in lds.items():
        ivs = conditions[name]
        touched = sum(iv.touched for iv in ivs)
        if ivs and touched == 0:
            raise P.NoPositionsError(f"condition {name} touched no position on the test set: nothing was ablated")
        ex_touched = ivs[0].examples_touched if ivs else 0
        full = metrics.bootstrap_removed(correct["baseline"], correct[name], cfg.n_boot, cfg.seed)
        sub = metrics.bootstrap_removed(correct["baseline"][subset], correct[name][subset], cfg.n_boot, cfg.seed) if len(subset) else (float("nan"),) * 3
        entry = {
            **meta[name],
            "accuracy": float(correct[name].mean()),
            "accuracy_at_0": metrics.accuracy(ld, labels),
            "auroc": metrics.auroc(ld, labels),
            "removed": full[0], "removed_ci": [full[1], full[2]],
            "tigges_accuracy": float(correct[name][subset].mean()) if len(subset) else float("nan"),
            "tigges_removed": sub[0], "tigges_removed_ci": [sub[1], sub[2]],
            "examples_touched": ex_touched, "positions_touched": touched,
            "mean_logit_diff": float(np.mean(ld)),
        }
        if meta[name]["what"] == "random":
            k = cfg.n_random
            per_draw = [float(correct[name][np.arange(len(labels)) % k == j].mean()) for j in range(k)]
            entry["accuracy_per_draw"] = per_draw
            if entry["removed"] > RANDOM_WARN or (entry["tigges_removed"] > RANDOM_WARN):
                msg = (f"random-direction control {name}: share of above-chance accuracy removed "
                       f"{metrics.format_removed(entry['removed'])} (Tigges protocol: "
                       f"{metrics.format_removed(entry['tigges_removed'])}); the intervention itself is destructive "
                       f"here, whatever the direction")
                warn.append(msg)
                warnings.warn(msg, stacklevel=2)
        summary_rows[name] = entry

    # 6. the result
    def fmt_ci(e, key):
        if key.startswith("tigges") and not len(subset):
            return "undefined: no sentence in the Tigges subset"
        return metrics.format_removed(e[key], *e[key + "_ci"])

    def layer_label(ls):
        return ",".join(map(str, ls)) if len(ls) <= 6 else f"{len(ls)} layers ({ls[0]}..{ls[-1]})"

    table_rows = []
    for mode in cfg.modes:
        for sel in selectors:
            for tag, group in groups:
                d = summary_rows[f"{mode}:{sel.name}{tag}:direction"]
                r = summary_rows[f"{mode}:{sel.name}{tag}:random"]
                table_rows.append([mode, sel.name, layer_label(d["layers"]), d["examples_touched"], d["accuracy"],
                                   fmt_ci(d, "removed"), r["accuracy"], fmt_ci(r, "removed"), d["tigges_accuracy"],
                                   fmt_ci(d, "tigges_removed"), fmt_ci(r, "tigges_removed")])
    base = summary_rows["baseline"]
    main_table = Table(
        title="Share of above-chance accuracy removed by ablating the direction, with the random control",
        columns=["mode", "positions", "layers", "examples touched", "accuracy", "% removed [95% CI]",
                 "random: accuracy", "random: % removed", "Tigges: accuracy", "Tigges: % removed", "Tigges random: % removed"],
        rows=table_rows,
        caption=(f"SST {cfg.split} (n={len(labels)}), prompt {task.template!r} -> {task.positive!r}/{task.negative!r}; "
                 f"baseline accuracy {base['accuracy']:.3f} at the dev-fitted threshold {threshold:.3f} "
                 f"(AUROC {base['auroc']:.3f}); Tigges protocol: {len(subset)} sentences the model gets right that contain "
                 f"a comma, balanced. Random control: {cfg.n_random} seeded random directions per layer, example i gets draw i mod "
                 f"{cfg.n_random}. Intervals: paired bootstrap, {cfg.n_boot} resamples."),
    )
    dir_table = Table(
        title="Mean-difference directions (toy templates)",
        columns=["site", "toy train acc", "toy test acc", "first-token norm", "other-token norm"],
        rows=[[s, directions[s].metrics["toy_train_acc"], directions[s].metrics["toy_test_acc"], norms[s][0], norms[s][1]] for s in sites],
        caption=(f"Directions fit on {toy_info['n_train']} toy prompts (adjectives {', '.join(toy_info['train_words'])}), "
                 f"tested on {toy_info['n_test']} prompts with other adjectives ({', '.join(toy_info['test_words'])}). "
                 f"Norms: mean residual norm at the first token vs all other real tokens over {len(ref_texts)} SST train prompts."),
    )
    fig = removed_bars(summary_rows, [(f"{mode} @ {sel.name}{tag}", f"{mode}:{sel.name}{tag}") for mode in cfg.modes
                                      for sel in selectors for tag, _ in groups],
                       "Ablating the sentiment direction vs a random direction", height=420)
    trace = _trace(model, task, test, directions, sites)
    summary = (
        f"{model.name}: baseline SST {cfg.split} accuracy {base['accuracy']:.3f} (n={len(labels)}, threshold {threshold:.3f} "
        f"fitted on dev), AUROC {base['auroc']:.3f}.\n\n"
        + "\n".join(f"{r[0]} ablation at {r[1]}, layer{'s' if ',' in r[2] or ' ' in r[2] else ''} {r[2]}: share of "
                    f"above-chance accuracy removed {r[5]} (random control {r[7]})." for r in table_rows)
        + ("\n\nWarnings:\n" + "\n".join(warn) if warn else "")
    )
    data = {
        "config": asdict(cfg), "threshold": threshold, "dev": dev_stats, "conditions": summary_rows,
        "n_test": int(len(labels)), "tigges_n": int(len(subset)),
        "examples_with_comma": int((comma_counts > 0).sum()),
        "reference_positions": ref_counts, "norms": {s: {"first": v[0], "rest": v[1]} for s, v in norms.items()},
        "toy": toy_info, "directions": {s: directions[s].meta() for s in sites},
        "logit_diffs": {k: v.tolist() for k, v in lds.items()}, "labels": labels.tolist(),
        "warnings": warn, "timing": {"total_s": time.time() - t0, "sweep_s": sweep_s,
                                     "conditions": len(conditions), "sentences": int(len(labels)),
                                     "engine": {k: v for k, v in sweep_stats.items() if k != "sweep_key"}},
    }
    manifest = make_manifest(command=command, config=asdict(cfg), seeds=[cfg.seed], data_files=[*train.sources, *dev.sources, *test.sources],
                             model=model.name, model_hash=getattr(model, "weights_hash", None))
    res = Result(kind="ablate", title=f"interp ablate: {model.name}", summary=summary, tables=[main_table, dir_table],
                 figures=[fig], traces=[trace] if trace else [], data=data, manifest=manifest)
    res.directions = directions  # not serialised in the JSON; the CLI saves them beside it
    return res


def removed_bars(rows: dict, keys: list[tuple[str, str]], title: str, height: int = 460) -> dict:
    """Grouped bars: % removed per (label, condition prefix), direction vs random, full test vs Tigges
    protocol, with bootstrap intervals. ``rows`` maps ``"<prefix>:direction"`` / ``"<prefix>:random"`` (or
    ``"<prefix>:vector"``, shown as the direction) to a condition's row; missing prefixes are skipped."""
    import plotly.graph_objects as go

    fig = go.Figure()
    for what, colour in (("direction", "#1f77b4"), ("random", "#aaaaaa")):
        for key, suffix, pattern in (("removed", "full test", ""), ("tigges_removed", "Tigges protocol", "/")):
            xs, ys, lo, hi = [], [], [], []
            for label, prefix in keys:
                e = rows.get(f"{prefix}:{what}") or (rows.get(f"{prefix}:vector") if what == "direction" else None)
                if e is None:
                    continue
                xs.append(label)
                ys.append(e[key])
                lo.append(e[key] - e[key + "_ci"][0])
                hi.append(e[key + "_ci"][1] - e[key])
            fig.add_bar(name=f"{what} ({suffix})", x=xs, y=ys, marker_color=colour, marker_pattern_shape=pattern,
                        error_y=dict(type="data", array=hi, arrayminus=lo))
    fig.update_layout(barmode="group", yaxis_title="share of above-chance accuracy removed", yaxis_tickformat=".0%",
                      title=title, height=height)
    return fig.to_plotly_json()



def _trace(model, task, test, directions, sites) -> TokenTrace | None:
    """Projection on the middle layer's direction, token by token, for one test sentence with a comma."""
    idx = next((i for i, t in enumerate(test.texts) if "," in t), 0)
    site = sites[len(sites) // 2]
    b = model.tokenize(task.format([test.texts[idx]]))
    _, acts = model.run(b, read=[site])
    proj = directions[site].project(acts[site][0]).tolist()
    pieces = b.pieces[0]
    start = 1 if b.has_bos else 0
    return TokenTrace(title=f"Projection on the {site} direction, token by token",
                      tokens=pieces[start:], values=proj[start:],
                      caption=f"SST {task.prompt!r} prompt, test sentence {idx} (label {int(test.labels[idx])}); the BOS token is left out.")
