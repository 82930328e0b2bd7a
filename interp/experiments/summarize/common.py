"""What both summarization experiments share: the selectors and modes, the reference pass (means
and resample pools per kind of position), the ablations, the sweep, the scoring against the random
control, and the table and summary lines."""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Sequence

import numpy as np
import torch
from tqdm.auto import tqdm

from interp import metrics, positions as P
from interp.interventions import DirectionAblation, ResampleAblation, VectorAblation
from interp.models.protocol import Batch
from interp.report.results import Table

SUMMARY_POSITIONS = ["commas", "full_stops", "punctuation", "sentiment_words", "all"]
DIRECTION_MODES = ("project", "mean", "resample")
MODES = (*DIRECTION_MODES, "vector")
RANDOM_WARN = 0.05


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
