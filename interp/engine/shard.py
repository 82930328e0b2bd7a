"""One shard of a sweep on one model: length-sorted batches, prefix reuse (start at the first intervened
layer or step from the recorded un-intervened state), stacking of conditions that share a start.
The local engine (:mod:`interp.engine.sweep`) and the Ray actors (:mod:`interp.engine.ray`) both run
shards through :func:`_run_shard`."""


from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Sequence

import numpy as np
import torch

from interp.models.protocol import Batch

from interp.engine.conditions import COUNTERS, Condition, Reader, reads_of  # noqa: F401

log = logging.getLogger(__name__)


def batches(n: int, lengths: Sequence[int], batch_size: int) -> list[np.ndarray]:
    """Indices grouped into batches of similar token length (less padding), longest first."""
    order = np.argsort(-np.asarray(lengths), kind="stable")
    return [order[i : i + batch_size] for i in range(0, n, batch_size)]


# ---------------------------------------------------------------------------- model helpers


def start_point(model, bound: Sequence[tuple], reads: Sequence[str], batch: Batch) -> int:
    """Where a run of these bound interventions can start: the model's ``start_point`` (a layer
    for transformers, a time step for the mLSTM), 0 when it has none."""
    fn = getattr(model, "start_point", None)
    return 0 if fn is None or not bound else int(fn(bound, reads, batch))


def _check_prefix(model, batch: Batch, prefixes: dict, full: torch.Tensor, reads: Sequence[str] = ()) -> tuple[bool, str]:
    """Does starting from the deepest of ``prefixes`` (layers, or steps for the mLSTM) give the full
    run's logits ``full`` (from the same capture)? Checked once per model; the verdict is kept."""
    cache = getattr(model, "_prefix_checked", None)
    if cache is not None:
        return cache
    try:
        replay, _ = model.run(batch, start=prefixes[max(prefixes)], read=reads)
        if torch.equal(full, replay):
            verdict = (True, "checked: equal to the full run")
        else:
            diff = float((full.float() - replay.float()).abs().max())
            scale = float(full.float().abs().max()) or 1.0
            ok = diff <= 1e-4 * scale and full.device.type != "cpu"
            verdict = (ok, f"replay differs from the full run by {diff:.3g}" + (" (accepted off CPU)" if ok else ""))
    except Exception as e:  # an architecture whose decoder loop does not allow the replay
        verdict = (False, f"{type(e).__name__}: {e}")
    model._prefix_checked = verdict
    if not verdict[0]:
        log.warning("prefix reuse is off for %s (%s): every condition runs the full model", model.name, verdict[1])
    return verdict


@dataclass
class _Plan:
    """Everything a shard needs, computed once (and shipped once to each Ray actor)."""

    examples: Batch
    conditions: list[Condition]
    reader: Reader
    batch_size: int
    max_rows: int
    prefix_reuse: bool
    shards: list[np.ndarray]  # example indices of each shard, in run order
    groups: list[list[int]]  # condition indices of each group


def _batched(idx: np.ndarray, batch_size: int) -> list[np.ndarray]:
    """``idx`` (already in length order) cut into batches of ``batch_size``."""
    return [idx[i : i + batch_size] for i in range(0, len(idx), batch_size)]


class _Sliced:
    """An intervention fn applied to rows ``[lo, hi)`` of a stacked run only."""

    def __init__(self, fn, lo: int, hi: int, batch: Batch):
        self.fn, self.lo, self.hi, self.batch = fn, lo, hi, batch

    def __call__(self, act: torch.Tensor, where: torch.Tensor, batch: Batch) -> torch.Tensor:
        part = self.fn(act[self.lo : self.hi], where[self.lo : self.hi], self.batch)
        return torch.cat([act[: self.lo], part.to(act.dtype), act[self.hi :]], 0)


def _stacked_where(where: torch.Tensor | None, sub: Batch, lo: int, total: int, width: int) -> torch.Tensor:
    full = torch.zeros(total, width, dtype=torch.bool)
    w = sub.mask.bool() if where is None else where.bool().cpu() & sub.mask.bool()
    full[lo : lo + len(sub), : w.shape[1]] = w
    return full


def _counters(iv) -> dict:
    return {k: int(getattr(iv, k)) for k in COUNTERS if hasattr(iv, k)}


def _run_shard(model, plan: _Plan, shard: int, groups: Sequence[int], stats: dict, bar=None) -> dict[int, dict]:
    """Run the conditions of ``groups`` on the examples of ``shard``; one cell per group:
    ``{"ids": (m,), "scores": {name: (m,)}, "counts": {name: [counter dicts]}}`` (names are unique
    in a sweep; two conditions that do the same thing keep their own entries)."""
    reader, reads = plan.reader, reads_of(plan.reader)
    idx_all = plan.shards[shard]
    conds = [plan.conditions[i] for g in groups for i in plan.groups[g]]
    cells = {g: {"ids": idx_all.copy(), "scores": {plan.conditions[i].name: np.full(len(idx_all), np.nan) for i in plan.groups[g]},
                 "counts": {plan.conditions[i].name: [dict.fromkeys(COUNTERS, 0) for _ in plan.conditions[i].interventions]
                            for i in plan.groups[g]}}
             for g in groups}
    cell_of = {plan.conditions[i].name: cells[g] for g in groups for i in plan.groups[g]}
    pos_in_shard = {int(e): j for j, e in enumerate(idx_all)}
    use_prefix = plan.prefix_reuse and hasattr(model, "capture")

    def put(c: Condition, ids: np.ndarray, values: np.ndarray) -> None:
        cell_of[c.name]["scores"][c.name][[pos_in_shard[int(e)] for e in ids]] = values

    def forward(run_batch: Batch, ivs, start_from=None):
        kw = {} if start_from is None else {"start": start_from}
        logits, acts = model.run(run_batch, interventions=ivs, read=reads, **kw)
        stats["forwards"] += 1
        stats["layer_tokens"] += _cost(model, run_batch, start_from)
        return reader(run_batch, logits, acts).numpy()

    for bidx in _batched(idx_all, plan.batch_size):
        batch = plan.examples.select(bidx) if len(bidx) < len(plan.examples) else plan.examples
        ids = batch.ids.numpy()
        # the rows of this batch each condition runs on
        by_rows: dict[tuple | None, list[Condition]] = {}
        for c in conds:
            local = None
            if c.rows is not None:
                local = np.flatnonzero(np.isin(ids, c.rows))
                if len(local) == len(batch):
                    local = None
            by_rows.setdefault(None if local is None else tuple(local.tolist()), []).append(c)
        baseline = None
        for rows_key, cs in by_rows.items():
            if rows_key == ():  # no example of this batch can change: the baseline's scores below
                continue
            sub = batch if rows_key is None else batch.select(list(rows_key))
            # bind each condition to this sub-batch; group by (start point, sites): each group
            # stacks into shared forwards
            jobs: dict[tuple, list[tuple[Condition, list, list]]] = {}
            for c in cs:
                before = [_counters(iv) for iv in c.interventions]
                bound = [iv.bind(sub, model) for iv in c.interventions]
                start = start_point(model, bound, reads, sub) if use_prefix else 0
                jobs.setdefault((start, tuple(c.sites)), []).append((c, bound, before))
            starts = sorted({L for (L, _) in jobs if L > 0})
            prefixes, captured = _prefixes(model, sub, starts, reads, stats)
            if captured is not None and rows_key is None:
                baseline = reader(sub, *captured).numpy()
            for (L, _), items in jobs.items():
                if rows_key is None and baseline is not None:  # nothing to intervene on: the captured run
                    for c, _, _ in [it for it in items if not it[0].interventions]:
                        put(c, ids, baseline)
                        if bar is not None:
                            bar.update(int(sub.mask.sum()))
                    items = [it for it in items if it[0].interventions]
                per = max(1, plan.max_rows // len(sub))  # max_rows 0: no stacking
                for start in range(0, len(items), per):
                    chunk = items[start : start + per]
                    if len(chunk) == 1:
                        run_batch, ivs = sub, chunk[0][1]
                    else:
                        m = len(sub)
                        run_batch = sub.select(torch.arange(m).repeat(len(chunk)))
                        ivs = [(site, _stacked_where(where, sub, j * m, len(run_batch), run_batch.mask.shape[1]),
                                _Sliced(fn, j * m, (j + 1) * m, sub))
                               for j, (_, bound, _) in enumerate(chunk) for site, where, fn in bound]
                    p = prefixes.get(L) if L > 0 else None
                    if p is not None and len(chunk) > 1:
                        p = p.tile(len(chunk))
                    scores = forward(run_batch, ivs, p).reshape(len(chunk), len(sub))
                    for j, (c, _, before) in enumerate(chunk):
                        put(c, sub.ids.numpy(), scores[j])
                        if not c.interventions and rows_key is None:
                            baseline = scores[j]
                        for k, iv in enumerate(c.interventions):
                            for name, v in _counters(iv).items():
                                cell_of[c.name]["counts"][c.name][k][name] += v - before[k].get(name, 0)
                    if bar is not None:
                        bar.update(int(sub.mask.sum()) * len(chunk))
        # rows a condition cannot change take the baseline's score
        at = np.asarray([pos_in_shard[int(e)] for e in ids])
        missing = [(c, np.isnan(cell_of[c.name]["scores"][c.name][at])) for c in conds]
        missing = [(c, m) for c, m in missing if m.any()]
        if missing:
            if baseline is None:
                baseline = forward(batch, [])
            for c, m in missing:
                cell_of[c.name]["scores"][c.name][at[m]] = baseline[m]
    return cells


def _prefixes(model, batch: Batch, starts: list[int], reads: Sequence[str], stats: dict):
    """One un-intervened run of ``batch`` that keeps the prefix of every start point (and is the
    batch's baseline): ``({start: prefix}, (logits, acts))``. ``({}, None)`` when there is nothing to
    start late or the model cannot replay; then every condition runs in full and ``stats`` says why."""
    cached = getattr(model, "_prefix_checked", None)
    if not starts:
        return {}, None
    if cached is not None and not cached[0]:
        stats["prefix_reuse"] = f"off: {cached[1]}"
        return {}, None
    try:
        logits, acts, prefixes = model.capture(batch, starts, read=reads)
    except Exception as e:  # an architecture whose decoder cannot be replayed
        model._prefix_checked = (False, f"{type(e).__name__}: {e}")
        log.warning("prefix reuse is off for %s (%s): every condition runs the full model", model.name, e)
        stats["prefix_reuse"] = f"off: {model._prefix_checked[1]}"
        return {}, None
    stats["forwards"] += 1
    stats["layer_tokens"] += _cost(model, batch, None)
    ok, why = _check_prefix(model, batch, prefixes, logits, reads)
    stats["prefix_reuse"] = why if ok else f"off: {why}"
    return (prefixes if ok else {}), (logits, acts)


def _cost(model, batch: Batch, start) -> int:
    """Layer × token passes of one forward (a transformer started at layer L skips L layers; an
    mLSTM started at step t skips the steps before t)."""
    if start is None:
        return int(batch.mask.sum()) * model_layers(model)
    if hasattr(start, "layer"):
        return int(batch.mask.sum()) * (model_layers(model) - start.layer)
    return int(batch.mask[:, start.step:].sum())


def model_layers(model) -> int:
    return int(getattr(model, "n_layers", 1) or 1)
