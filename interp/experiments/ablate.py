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
   test set and on the Tigges-style subset (sentences the model gets right, containing a
   comma, classes balanced).

Any direction: ``directions`` names a finder (``mean_diff``, ``das``, ``logreg_l2``, ``leace``,
``best_neuron``; fit per layer on ``fit_data``, :func:`interp.finders.fit_directions`) or a folder
of saved directions (:func:`interp.directions.load_folder`). ``leace`` ablates with the fitted
LEACE eraser (:class:`interp.interventions.LeaceErasure`) and, as its random control, LEACE
erasers fit on shuffled labels.

``protocol="tigges"`` adds Tigges et al.'s (2023) own protocol beside the default one
(:func:`run_tigges_protocol`): prompt ``"{text} Review Sentiment:"`` → " Positive"/" Negative",
the sentences of ``tigges_splits`` that hold a comma and that the model gets right (logit
difference > 0) with the correct answer in its top 10, classes balanced; a DAS direction per
layer fit on toy adjective pairs (unless ``directions`` says otherwise); the projection removed
(multiplier 1) at ``hook_resid_post`` of every layer at once, at every position or at commas
only; random directions as the control.
"""

from __future__ import annotations

import logging
import time
import warnings
from dataclasses import asdict, dataclass

import numpy as np

from interp import data as datasets
from interp import metrics, positions as P
from interp.directions import random_directions
from interp.finders import FittedDirections
from interp.interventions import DirectionAblation, LeaceErasure
from interp.report.results import Result, Table, TokenTrace, make_manifest
from interp.report.figures import removed_bars  # noqa: F401  (re-exported)
from interp.tasks import SSTZeroShot, reference_stats, tigges_population, tigges_subset  # noqa: F401  (re-exported)
from interp.experiments.options import PROTOCOLS, AblationOptions, check_directions_option  # noqa: F401
from interp.finders.fit import fit_toy_directions, get_directions  # noqa: F401  (re-exported)
from interp.runs import saved_step
from interp.validate import check_ablation_options

check_options = check_ablation_options  # the old name, re-exported

log = logging.getLogger(__name__)

RANDOM_WARN = 0.05  # warn when a random direction removes more than this share


@dataclass
class AblateConfig(AblationOptions):
    """The settings of ``interp ablate`` (every field is :class:`interp.experiments.options.AblationOptions`'s)."""


def ablation(model, fitted: FittedDirections, site: str, layer: int, sel, mode: str, what: str, n_random: int,
             seed: int, reference_mean=None):
    """The intervention of one (site, positions, mode) cell: ``what="direction"`` ablates the site's
    direction (or applies its LEACE eraser), ``"random"`` the matched control (``n_random`` seeded
    random directions, example ``i`` gets draw ``i % n_random``; for LEACE, erasers fit on shuffled
    labels). ``reference_mean`` (mode ``mean``): the mean activation there, the projection's target
    (for LEACE the point the eraser keeps; without it, the fitting data's mean)."""
    if site in fitted.erasers:
        erasers = fitted.erasers[site] if what == "direction" else fitted.random_erasers[site]
        return LeaceErasure.from_erasers(site, erasers, sel, reference_mean=reference_mean, label=f"leace-{what}@{site}")
    vecs = fitted.directions[site].vector if what == "direction" else random_directions(
        model.sites()[site], n_random, seed=seed * 100_003 + layer)
    return DirectionAblation(site, vecs, sel, mode=mode, reference_mean=reference_mean, label=f"{what}@{site}")


def run_ablate(model, config: AblateConfig | None = None, *, progress: bool = True, command: str | None = None,
               engine: dict | None = None) -> Result:
    """The ablation experiment (module docstring). ``engine``: keywords for
    :func:`interp.engine.sweep.run_sweep` (``run`` a RunFolder to resume from, ``engine="ray"``, ...)."""
    cfg = (config or AblateConfig()).validate()
    t0 = time.time()
    task = SSTZeroShot(prompt=cfg.prompt, batch_size=cfg.batch_size)
    task.answer_ids(model)  # fail early if an answer is not one token
    if cfg.protocol == "tigges":
        SSTZeroShot(prompt="tigges").answer_ids(model)
    from interp.validate import check_count, check_layers, check_limit

    layers = check_layers(cfg.layers, model.n_layers, model.name)
    sites = [f"blocks.{L}.hook_{cfg.site}" for L in layers]
    for s in sites:
        from interp.models.protocol import check_site

        check_site(model, s)
    selectors = [P.get(p, skip_first=cfg.skip_first, allow_empty=True) for p in cfg.positions]

    train = datasets.sst("train")
    dev, test = datasets.sst("dev"), datasets.sst(cfg.split)
    check_count("--reference-n", cfg.reference_n, maximum=len(train))
    check_limit("--dev-limit", cfg.dev_limit, len(dev), "SST dev")
    check_limit("--limit", cfg.limit, len(test), f"SST {cfg.split}")

    # 1. directions (or LEACE erasers)
    spec = cfg.directions or "mean_diff"
    fitted = saved_step(engine, "directions", lambda: get_directions(
        model, sites, spec, cfg, n_random_erasers=cfg.n_random if spec == "leace" else 0, progress=progress))
    directions, toy_info = fitted.directions, fitted.info

    # 2. reference means and norms (SST train sample)
    rng = np.random.default_rng(cfg.seed)
    ref_idx = rng.choice(len(train), size=min(cfg.reference_n, len(train)), replace=False)
    ref_texts = [train.texts[i] for i in ref_idx]
    ref_means, ref_counts, norms = saved_step(engine, "reference_stats", lambda: reference_stats(
        model, task, ref_texts, sites, selectors, progress=progress))

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
                    ivs = [ablation(model, fitted, s, L, sel, mode, what, cfg.n_random, cfg.seed,
                                    ref_means[sel.name][s] if mode == "mean" else None)
                           for L, s in group]
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
                 f"a comma, balanced. Ablated: {_what_text(fitted, spec)}. Random control: {cfg.n_random} seeded random "
                 f"{'LEACE erasers fit on shuffled labels' if fitted.erasers else 'directions'} per layer, example i gets "
                 f"draw i mod {cfg.n_random}. Intervals: paired bootstrap, {cfg.n_boot} resamples."),
    )
    dir_table = directions_table(fitted, sites, norms, len(ref_texts))
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
    tables = [main_table, dir_table]
    figures = [fig]
    tigges = None
    if cfg.protocol == "tigges":
        # the Tigges protocol: its own directions (DAS per layer on toy pairs) unless told otherwise
        t_fit = fitted if cfg.directions is not None else saved_step(
            engine, "tigges_directions", lambda: get_directions(model, sites, "das", cfg, progress=progress))
        tigges = run_tigges_protocol(model, cfg, t_fit, layers, sites, progress=progress, engine=engine)
        tables = [protocols_table(cfg, summary_rows, base, len(labels), threshold, spec, fitted, tigges),
                  tigges["table"], main_table, dir_table]
        if cfg.directions is None:
            tables.append(directions_table(t_fit, sites, None, 0, title="DAS directions of the Tigges protocol"))
        fig_t = tigges.pop("figure")
        if fig_t is not None:
            figures.append(fig_t)
        tigges.pop("table")
        summary += "\n\n" + tigges["summary"]
        warn += tigges["warnings"]
        tigges["directions"] = {s: t_fit.directions[s].meta() for s in sites}
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
        "directions_spec": spec, "fit": fitted.info, "tigges_protocol": tigges,
    }
    sources = [*train.sources, *dev.sources, *test.sources, *(tigges["sources"] if tigges else [])]
    manifest = make_manifest(command=command, config=asdict(cfg), seeds=[cfg.seed], data_files=list(dict.fromkeys(map(str, sources))),
                             model=model.name, model_hash=getattr(model, "weights_hash", None))
    res = Result(kind="ablate", title=f"interp ablate: {model.name}", summary=summary, tables=tables,
                 figures=figures, traces=[trace] if trace else [], data=data, manifest=manifest)
    res.directions = directions  # not serialised in the JSON; the CLI saves them beside it
    return res


def _what_text(fitted: FittedDirections, spec: str) -> str:
    info = fitted.info
    if info.get("data") == "saved":
        return f"directions loaded from {info['folder']}"
    return f"{spec} per layer, fit on {info['data']} ({info['what']})"


def directions_table(fitted: FittedDirections, sites, norms, n_ref: int, title: str | None = None) -> Table:
    """Per site: how the ablated direction scores on its fitting data and held out (and the
    residual norms at the first token vs the rest, when given)."""
    info = fitted.info
    saved = info.get("data") == "saved"
    cols = ["site", "method", "fit-data acc", "held-out acc"]
    if any("denoising_train" in fitted.directions[s].metrics for s in sites):
        cols.append("DAS denoising (train pairs)")
    if norms is not None:
        cols += ["first-token norm", "other-token norm"]
    rows = []
    for s in sites:
        d = fitted.directions[s]
        m = d.metrics
        row = [s, d.method, m.get("fit_train_acc", m.get("toy_train_acc")), m.get("fit_test_acc", m.get("toy_test_acc"))]
        if "DAS denoising (train pairs)" in cols:
            row.append(m.get("denoising_train"))
        if norms is not None:
            row += [norms[s][0], norms[s][1]]
        rows.append(row)
    if saved:
        cap = f"Directions loaded from {info['folder']} (matched by site); accuracies as saved with them, where recorded."
    elif info.get("data") == "toy":
        cap = (f"{info['method']} fit on {info['n_train']} toy prompts (adjectives {', '.join(info['train_words'])}), "
               f"tested on {info['n_test']} prompts with other adjectives ({', '.join(info['test_words'])})"
               + ("; DAS itself is fit on toy clean/corrupted pairs by interchange interventions, the accuracies are of "
                  "its projection on those prompts" if info["method"] == "das" else "") + ".")
    else:
        cap = f"{info['method']} fit on {info['n_train']} SST train sentences at the last token, tested on {info['n_test']} SST dev sentences."
    if info.get("method") == "leace":
        cap += (" LEACE: the direction is the covector the eraser reads (its accuracy is that direction's); the "
                f"ablation applies the whole affine eraser (rank {sorted(set(info['leace_rank'].values()))}).")
    if norms is not None:
        cap += f" Norms: mean residual norm at the first token vs all other real tokens over {n_ref} SST train prompts."
    return Table(title=title or f"The ablated directions ({info.get('method', 'saved')}, {info.get('data')})",
                 columns=cols, rows=rows, caption=cap)


# ------------------------------------------------------------------------------------ Tigges protocol


def run_tigges_protocol(model, cfg: AblateConfig, fitted: FittedDirections, layers: list[int], sites: list[str], *,
                        progress: bool = True, engine: dict | None = None) -> dict:
    """Tigges et al.'s comma-ablation experiment (their ``comma_ablation_experiments_sst.ipynb`` and
    ``utils/tokenwise_ablation.py``, branch ``analysis/commas``): on :func:`tigges_population`,
    remove the projection on each layer's direction (multiplier 1, i.e. project it out; LEACE
    erasers as fitted) at ``hook_resid_post`` of every layer at once, at every position or at
    commas only, beside random directions. Accuracy at logit difference 0 (as theirs); the share
    of above-chance accuracy lost ``(acc0 − acc)/(acc0 − 0.5)`` with paired bootstrap intervals,
    and their second number, the drop of the mean logit difference toward the right answer."""
    task = SSTZeroShot(prompt="tigges", batch_size=cfg.batch_size)
    pop = saved_step(engine, "tigges_population", lambda: tigges_population(model, cfg, task, progress=progress))
    labels = pop["labels"]
    # what the result says of the protocol whether or not its filter kept a sentence
    common = {"counts": pop["counts"], "sources": pop["sources"], "prompt": task.template,
              "answers": [task.positive, task.negative], "top_k": cfg.tigges_top_k,
              "splits_used": list(cfg.tigges_splits)}
    if len(labels) == 0:
        return {**_no_tigges_population(model, cfg, task, pop["counts"]), **common}
    selectors = [P.get(p, skip_first=cfg.skip_first, allow_empty=True) for p in ("all", "commas")]
    conditions: dict[str, list] = {"baseline": []}
    for sel in selectors:
        for what in ("direction", "random"):
            conditions[f"tigges:{sel.name}:{what}"] = [
                ablation(model, fitted, s, L, sel, "project", what, cfg.n_random, cfg.seed + 17)
                for L, s in zip(layers, sites)]
    batches = task.make_batches(model, pop["texts"])
    t = time.time()
    lds = task.evaluate(model, conditions=conditions, batches_=batches, progress="Tigges sweep" if progress else False,
                        **(engine or {}))
    sweep_s = time.time() - t
    sign = np.where(labels == 1, 1.0, -1.0)
    correct = {k: ((v * sign) > 0).astype(int) for k, v in lds.items()}
    ld0 = float(np.mean(lds["baseline"] * sign))
    rows, warn = {}, []
    for name, ivs in conditions.items():
        full = metrics.bootstrap_removed(correct["baseline"], correct[name], cfg.n_boot, cfg.seed)
        ld = float(np.mean(lds[name] * sign))
        e = {"accuracy": float(correct[name].mean()), "removed": full[0], "removed_ci": [full[1], full[2]],
             "mean_logit_diff": ld, "logit_diff_drop": (ld0 - ld) / ld0 if ld0 else float("nan"),
             "positions_touched": sum(iv.touched for iv in ivs), "examples_touched": ivs[0].examples_touched if ivs else 0}
        if ivs and e["positions_touched"] == 0:
            raise P.NoPositionsError(f"Tigges condition {name} touched no position")
        if name.endswith(":random") and e["removed"] > RANDOM_WARN:
            msg = (f"Tigges protocol: random control {name} removed {e['removed']:.1%} of above-chance accuracy: the "
                   "intervention itself is destructive here, whatever the direction")
            warn.append(msg)
            warnings.warn(msg, stacklevel=2)
        rows[name] = e

    def ci(e):
        return f"{e['removed']:.1%} [{e['removed_ci'][0]:.1%}, {e['removed_ci'][1]:.1%}]"

    trows = []
    for sel in selectors:
        d, r = rows[f"tigges:{sel.name}:direction"], rows[f"tigges:{sel.name}:random"]
        trows.append([sel.name, d["examples_touched"], d["accuracy"], ci(d), f"{d['logit_diff_drop']:.1%}",
                      r["accuracy"], ci(r), f"{r['logit_diff_drop']:.1%}"])
    c = pop["counts"]
    ablated = _what_text(fitted, "das" if cfg.directions is None else cfg.directions)
    table = Table(
        title="Tigges et al. protocol: projection removed at every layer's hook_resid_post, at all positions or at commas",
        columns=["positions", "examples touched", "accuracy", "% above-chance lost [95% CI]", "logit-diff drop",
                 "random: accuracy", "random: % lost", "random: logit-diff drop"],
        rows=trows,
        caption=(f"{len(labels)} SST sentences ({', '.join(f'{k} {v}' for k, v in c['by_split'].items())}) of "
                 f"{c['sentences']} in {'+'.join(cfg.tigges_splits)}: {c['correct']} right (logit difference of "
                 f"{task.positive!r} vs {task.negative!r} after {task.template!r}), {c['correct_top_k']} of them with the "
                 f"right answer in the top {cfg.tigges_top_k}, {c['kept']} of those with a comma "
                 f"({c['kept_positive']} positive, {c['kept_negative']} negative), balanced to {c['balanced']}. "
                 f"Baseline accuracy 1 by construction (threshold 0). Ablated: {ablated}; the projection removed "
                 f"(multiplier 1) at {len(sites)} layers at once. Random: {cfg.n_random} seeded random directions "
                 f"per layer (example i gets draw i mod {cfg.n_random})"
                 f"{'; for LEACE, erasers fit on shuffled labels' if fitted.erasers else ''}. Logit-diff drop: "
                 f"(mean − mean after)/mean of the logit difference toward the right answer (baseline mean {ld0:.3f}). "
                 f"Intervals: paired bootstrap, {cfg.n_boot} resamples."))
    import plotly.graph_objects as go

    fig = go.Figure()
    for what, colour in (("direction", "#1f77b4"), ("random", "#aaaaaa")):
        es = [rows[f"tigges:{sel.name}:{what}"] for sel in selectors]
        fig.add_bar(name=what, x=[f"at {sel.name}" for sel in selectors], y=[e["removed"] for e in es],
                    marker_color=colour, error_y=dict(type="data", array=[e["removed_ci"][1] - e["removed"] for e in es],
                                                      arrayminus=[e["removed"] - e["removed_ci"][0] for e in es]))
    fig.update_layout(barmode="group", title="Tigges et al. protocol: share of above-chance accuracy lost",
                      yaxis_title="share of above-chance accuracy lost", yaxis_tickformat=".0%", height=380)
    fig = fig.to_plotly_json()
    summary = (f"Tigges et al. protocol ({len(labels)} sentences, {ablated}): "
               + "; ".join(f"at {r[0]}: {r[3]} of above-chance accuracy lost, logit difference down {r[4]} "
                           f"(random {r[6]}, {r[7]})" for r in trows) + ".")
    return {"n": int(len(labels)), "conditions": rows, "logit_diffs": {k: v.tolist() for k, v in lds.items()},
            "labels": labels.tolist(), "index": pop["index"], "splits": pop["splits"], "table": table, "figure": fig,
            "summary": summary, "warnings": warn, "baseline_mean_logit_diff": ld0, "sweep_s": sweep_s, **common}


def _no_tigges_population(model, cfg: AblateConfig, task: SSTZeroShot, c: dict) -> dict:
    """The Tigges protocol when its filter keeps no sentence (a small model that never puts the answer in its
    top k, say): nothing to ablate, said in the table, the summary and a warning; the default protocol's
    numbers are kept (an error here would throw them away). ``c``: the filter's counts."""
    why = (f"the Tigges protocol kept no sentence for {model.name}: of {c['sentences']} in "
           f"{'+'.join(cfg.tigges_splits)}, {c['correct']} right, {c['correct_top_k']} with the right answer in the top "
           f"{cfg.tigges_top_k}, {c['kept']} of those with a comma; nothing to ablate")
    warnings.warn(why, stacklevel=3)
    table = Table(title="Tigges et al. protocol: no sentence kept", columns=["positions", "n", "why"],
                  rows=[[p, 0, why] for p in ("all", "commas")],
                  caption=(f"Their filter: right (logit difference of {task.positive!r} vs {task.negative!r} after "
                           f"{task.template!r} toward the label > 0), the right answer among the top {cfg.tigges_top_k} "
                           "tokens, and a comma."))
    return {"n": 0, "conditions": {}, "logit_diffs": {}, "labels": [], "index": [], "splits": [], "table": table,
            "figure": None, "summary": "Tigges et al. protocol: " + why + ".", "warnings": [why],
            "baseline_mean_logit_diff": float("nan"), "sweep_s": 0.0}


def protocols_table(cfg, default_rows, base, n_default, threshold, spec, fitted, tigges) -> Table:
    """Our default protocol and Tigges et al.'s side by side: one row per (protocol, positions)."""
    def ci(e):
        return f"{e['removed']:.1%} [{e['removed_ci'][0]:.1%}, {e['removed_ci'][1]:.1%}]"

    rows = []
    for mode in cfg.modes:
        for p in cfg.positions:
            d, r = default_rows[f"{mode}:{p}:direction"], default_rows[f"{mode}:{p}:random"]
            rows.append(["default", p, f"{mode} ablation", spec, n_default, base["accuracy"], d["accuracy"], ci(d), ci(r)])
    tspec = cfg.directions or "das"
    for p in ("all", "commas"):
        if not tigges["n"]:
            rows.append(["tigges", p, "projection removed", tspec, 0, "no sentence kept", "", "", ""])
            continue
        d, r = tigges["conditions"][f"tigges:{p}:direction"], tigges["conditions"][f"tigges:{p}:random"]
        rows.append(["tigges", p, "projection removed", tspec, tigges["n"], 1.0, d["accuracy"], ci(d), ci(r)])
    return Table(
        title="Two protocols side by side: share of above-chance accuracy removed",
        columns=["protocol", "positions", "ablation", "direction", "n", "baseline accuracy", "accuracy",
                 "% removed [95% CI]", "random: % removed"],
        rows=rows,
        caption=(f"default: SST {cfg.split}, prompt {cfg.prompt!r}, threshold {threshold:.3f} fitted on dev; "
                 f"tigges: Tigges et al.'s population, prompt 'Review Sentiment:', threshold 0 (see its table). "
                 "Every layer's direction at its hook_resid_post, all layers at once, in both."))


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
