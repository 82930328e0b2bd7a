"""The sweep engine: the one loop over batches × conditions in the library.

A **condition** is a name plus its interventions (each with ``bind(batch, model) -> (site,
where, fn)``, see :mod:`interp.interventions`), optionally restricted to the examples it can
change (``rows``; elsewhere its score is the baseline's). It serialises to JSON and hashes to a
stable key (:meth:`Condition.to_dict`, :attr:`Condition.key`), like pyvene's intervention configs.
A **reader** says what per-example number is read from a run (:class:`LogitDiff`,
:class:`ProbeScore`). :func:`run_sweep` runs every condition on every example:

- examples are tokenised once and run in length-sorted batches (less padding); only the last
  real token is unembedded;
- **prefix reuse**: a condition whose earliest intervention is at layer ``L`` reuses the batch's
  un-intervened output of layer ``L − 1`` and runs only layers ``L`` and up (transformers; the
  result is checked once per model against the full run and equals it bitwise on CPU float32;
  models without the capability run in full, and the sweep says why in its stats);
- conditions that share a start layer can be stacked into one forward of up to ``max_rows`` rows;
- **resumable**: given a :class:`~interp.runs.RunFolder`, each (condition group, example shard)
  cell is written atomically as it finishes and skipped when the same sweep runs again;
- ``engine="ray"`` runs shards as Ray tasks on actors that each load the model once (see
  :mod:`interp.engine.ray`); the merged outputs equal the local engine's.

One progress bar covers the whole sweep (tokens/s and ETA).
"""

from __future__ import annotations

import dataclasses
import hashlib
import io
import logging
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Sequence

import numpy as np
import torch
from tqdm.auto import tqdm

from interp.models.protocol import Batch
from interp.runs import RunFolder, atomic_write_bytes, stable_key

log = logging.getLogger(__name__)

COUNTERS = ("touched", "examples_touched", "examples_seen")


# ------------------------------------------------------------------------------------ readers


@dataclass
class LogitDiff:
    """Score = logit(positive answer) − logit(negative answer) at the last real token."""

    positive_id: int
    negative_id: int
    positive: str = ""
    negative: str = ""
    read: tuple = ()

    @classmethod
    def from_words(cls, model, positive: str = " good", negative: str = " bad") -> "LogitDiff":
        return cls(model.single_token(positive), model.single_token(negative), positive, negative)

    def __call__(self, batch: Batch, logits: torch.Tensor, acts: dict) -> torch.Tensor:
        return (logits[:, self.positive_id].float() - logits[:, self.negative_id].float()).cpu()


@dataclass
class ProbeScore:
    """Score = a linear probe's decision value ``w · x + b`` on the state read at ``site`` after the
    last real token (the mLSTM's final ``c`` or ``h``)."""

    site: str
    weight: torch.Tensor
    bias: float = 0.0

    @property
    def read(self) -> tuple:
        return (self.site,)

    def __call__(self, batch: Batch, logits: torch.Tensor, acts: dict) -> torch.Tensor:
        a = acts[self.site]
        final = a[torch.arange(len(batch), device=a.device), batch.last.to(a.device)].float().cpu()
        return final @ self.weight.float() + float(self.bias)


Reader = Callable[[Batch, torch.Tensor, dict], torch.Tensor]


def reads_of(reader) -> list[str]:
    return list(getattr(reader, "read", ()) or ())


# ------------------------------------------------------------------------- serialisable data


def _tensor_digest(t: torch.Tensor) -> str:
    t = t.detach().cpu().contiguous()
    return hashlib.sha256(str(tuple(t.shape)).encode() + str(t.dtype).encode() + t.numpy().tobytes()).hexdigest()[:16]


def to_config(obj: Any, *, values: bool = True) -> Any:
    """A JSON-able description of an intervention, selector or reader (dataclasses field by
    field; tensors as shape, dtype, digest and, with ``values``, their numbers)."""
    if isinstance(obj, torch.Tensor):
        out = {"__tensor__": list(obj.shape), "dtype": str(obj.dtype).replace("torch.", ""), "sha": _tensor_digest(obj)}
        if values:
            out["values"] = obj.detach().cpu().float().tolist() if obj.is_floating_point() else obj.detach().cpu().tolist()
        return out
    if isinstance(obj, np.ndarray):
        return to_config(torch.as_tensor(obj), values=values)
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        d = {"__type__": f"{type(obj).__module__}.{type(obj).__qualname__}"}
        for f in dataclasses.fields(obj):
            if not f.init or f.name.startswith("_"):
                continue
            d[f.name] = to_config(getattr(obj, f.name), values=values)
        return d
    if isinstance(obj, dict):
        return {str(k): to_config(v, values=values) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [to_config(v, values=values) for v in obj]
    if obj is None or isinstance(obj, (bool, int, float, str)):
        return obj
    if isinstance(obj, (np.integer, np.floating)):
        return obj.item()
    if callable(obj):
        return {"__callable__": getattr(obj, "__qualname__", repr(obj))}
    return {"__repr__": repr(obj)}


def from_config(cfg: Any) -> Any:
    """Inverse of :func:`to_config` (with values): rebuilds interventions, selectors, readers."""
    import importlib

    if isinstance(cfg, list):
        return [from_config(v) for v in cfg]
    if not isinstance(cfg, dict):
        return cfg
    if "__tensor__" in cfg:
        if "values" not in cfg:
            raise ValueError("this configuration was saved without tensor values; it cannot be rebuilt")
        return torch.tensor(cfg["values"], dtype=getattr(torch, cfg["dtype"])).reshape(cfg["__tensor__"])
    if "__callable__" in cfg or "__repr__" in cfg:
        raise ValueError(f"cannot rebuild {cfg} from JSON (a callable or opaque object)")
    if "__type__" in cfg:
        module, _, name = cfg["__type__"].rpartition(".")
        if not module.startswith("interp."):
            raise ValueError(f"refusing to rebuild a non-interp type {cfg['__type__']!r}")
        cls = getattr(importlib.import_module(module), name)
        return cls(**{k: from_config(v) for k, v in cfg.items() if k != "__type__"})
    return {k: from_config(v) for k, v in cfg.items()}


@dataclass
class Condition:
    """A name plus the interventions that define it.

    ``rows``: indices of the examples the condition can change (e.g. those with a comma for an
    ablation at commas); the others keep the baseline's score without a run. ``meta``: labels
    for the experiment's tables (mode, positions, what), not part of the key.
    """

    name: str
    interventions: list = field(default_factory=list)
    rows: np.ndarray | None = None
    meta: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.interventions = list(self.interventions)
        if self.rows is not None:
            self.rows = np.unique(np.asarray(self.rows, dtype=np.int64))

    def to_dict(self, *, values: bool = True) -> dict:
        return {"name": self.name, "interventions": [to_config(iv, values=values) for iv in self.interventions],
                "rows": None if self.rows is None else self.rows.tolist(), "meta": to_config(self.meta, values=values)}

    @classmethod
    def from_dict(cls, d: dict) -> "Condition":
        return cls(d["name"], [from_config(c) for c in d["interventions"]],
                   rows=None if d.get("rows") is None else np.asarray(d["rows"]), meta=d.get("meta") or {})

    @property
    def key(self) -> str:
        d = self.to_dict(values=False)
        d.pop("meta")
        d.pop("name")  # what the condition does, not what it is called
        return stable_key(d)

    @property
    def sites(self) -> list[str]:
        return [iv.site for iv in self.interventions]


def as_conditions(conditions) -> list[Condition]:
    """A list of :class:`Condition`, or the older ``{name: [interventions]}`` mapping."""
    if isinstance(conditions, dict):
        return [c if isinstance(c, Condition) else Condition(name, c) for name, c in conditions.items()]
    out = list(conditions)
    if not all(isinstance(c, Condition) for c in out):
        raise TypeError("conditions must be Condition objects or a {name: [interventions]} dict")
    names = [c.name for c in out]
    if len(set(names)) != len(names):
        raise ValueError(f"condition names repeat: {sorted({n for n in names if names.count(n) > 1})}")
    return out


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


# ------------------------------------------------------------------------------------ sweep


@dataclass
class SweepOutput:
    """Per-example scores per condition name, and what the engine did."""

    scores: dict[str, np.ndarray]
    stats: dict

    def __getitem__(self, name: str) -> np.ndarray:
        return self.scores[name]

    def items(self):
        return self.scores.items()

    def keys(self):
        return self.scores.keys()


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


def sweep_key(examples: Batch, conditions: Sequence[Condition], reader, batch_size: int, max_rows: int) -> str:
    """What identifies a sweep's cells: the examples' tokens, the conditions, the reader, batching."""
    h = hashlib.sha256()
    h.update(examples.tokens.numpy().tobytes())
    h.update(examples.mask.numpy().tobytes())
    h.update(examples.ids.numpy().tobytes())
    h.update(stable_key([[c.name, c.key] for c in conditions]).encode())
    h.update(stable_key(to_config(reader, values=False)).encode())
    h.update(f"{batch_size}/{max_rows}".encode())
    return h.hexdigest()[:16]


def _save_cell(path, cell: dict) -> None:
    buf = io.BytesIO()
    torch.save(cell, buf)
    atomic_write_bytes(path, buf.getvalue())


def _load_cell(path) -> dict | None:
    try:
        cell = torch.load(path, weights_only=False)
        if not isinstance(cell, dict) or not {"ids", "scores", "counts"} <= set(cell):
            raise ValueError("not a cell")
        return cell
    except Exception as e:  # a torn or foreign file: recompute it
        log.warning("ignoring unreadable cell %s (%s); it is run again", path, e)
        return None


def run_sweep(
    model,
    examples: Batch | Sequence[Batch],
    conditions,
    reader,
    *,
    batch_size: int = 32,
    shard_size: int | None = None,
    group_size: int = 8,
    max_rows: int | None = None,
    prefix_reuse: bool = True,
    run: RunFolder | None = None,
    engine: str = "local",
    ray_address: str | None = None,
    workers: int | None = None,
    progress: bool | str = True,
    fail_after: int | None = None,
) -> SweepOutput:
    """Score every example under every condition.

    ``examples``: one :class:`Batch` of every example (``ids`` 0..n−1), or a list of batches
    (merged). ``conditions``: :class:`Condition` objects or ``{name: [interventions]}``.
    ``reader``: the per-example number (:class:`LogitDiff`, :class:`ProbeScore`, any callable
    ``(batch, logits, acts) -> (B,)`` with an optional ``read`` tuple of sites).
    ``batch_size``: examples per forward; ``max_rows``: stack conditions that share their sites
    and start point into forwards of up to that many rows (default: no stacking, so every
    condition's numbers are those of its own batch). ``shard_size`` (default 8 batches) × ``group_size`` conditions
    is the unit of resumption. ``run``: a :class:`~interp.runs.RunFolder` to write cells into and
    resume from. ``fail_after``: raise after that many cells (for tests of resumption).
    """
    t0 = time.time()
    conds = as_conditions(conditions)
    if not conds:
        raise ValueError("a sweep needs at least one condition")
    if engine not in ("local", "ray"):
        raise ValueError(f"unknown engine {engine!r}; choose local or ray")
    if batch_size < 1:
        raise ValueError(f"batch_size must be at least 1, not {batch_size}")
    if not isinstance(examples, Batch):
        examples = merge_batches(list(examples))
    n = len(examples)
    if not torch.equal(torch.sort(examples.ids).values, torch.arange(n)):
        examples = dataclasses.replace(examples, ids=torch.arange(n))
    for c in conds:
        for iv in c.interventions:
            if hasattr(iv, "reset_counts"):
                iv.reset_counts()
    # one length-sorted order; one batch keeps the given order (e.g. clean/corrupted pairs)
    from interp.tasks import batches as length_batches

    if n <= batch_size:
        order = np.arange(n)
    else:
        order = np.concatenate(length_batches(n, examples.lengths.tolist(), batch_size))
    shard_size = shard_size or batch_size * 8
    shards = [order[i : i + shard_size] for i in range(0, n, shard_size)]
    groups = [list(range(i, min(i + group_size, len(conds)))) for i in range(0, len(conds), group_size)]
    plan = _Plan(examples, conds, reader, batch_size, max_rows or 0, prefix_reuse, shards, groups)
    key = sweep_key(examples, conds, reader, batch_size, plan.max_rows)
    stats = {"forwards": 0, "layer_tokens": 0, "cells": len(shards) * len(groups), "cells_resumed": 0,
             "conditions": len(conds), "examples": n, "engine": engine, "sweep_key": key,
             "prefix_reuse": "not needed" if prefix_reuse else "off: disabled by the caller"}
    if prefix_reuse and not hasattr(model, "capture"):
        stats["prefix_reuse"] = f"off: {type(model).__name__} has no prefix capture; conditions run in full"
    cells: dict[tuple[int, int], dict] = {}
    cell_dir = run.cells(key) if run is not None else None
    if cell_dir is not None:
        for s in range(len(shards)):
            for g in range(len(groups)):
                f = cell_dir / f"{s:05d}-{g:04d}.pt"
                if f.exists():
                    cell = _load_cell(f)
                    if cell is not None:
                        cells[(s, g)] = cell
        stats["cells_resumed"] = len(cells)
    todo = [(s, [g for g in range(len(groups)) if (s, g) not in cells]) for s in range(len(shards))]
    todo = [(s, gs) for s, gs in todo if gs]
    tokens = examples.lengths.numpy()

    def cost(s, gs):
        rows = shards[s]
        total = 0
        for g in gs:
            for i in groups[g]:
                c = conds[i]
                r = rows if c.rows is None else rows[np.isin(rows, c.rows)]
                total += int(tokens[r].sum())
        return total

    desc = progress if isinstance(progress, str) else "sweep"
    done = 0
    with tqdm(total=sum(cost(s, gs) for s, gs in todo), unit="tok", unit_scale=True, desc=desc,
              disable=not progress, dynamic_ncols=True) as bar:
        if engine == "ray" and todo:
            from interp.engine.ray import run_ray

            for (s, gs), out in run_ray(model, plan, todo, address=ray_address, workers=workers, stats=stats):
                for g, cell in out.items():
                    cells[(s, g)] = cell
                    if cell_dir is not None:
                        _save_cell(cell_dir / f"{s:05d}-{g:04d}.pt", cell)
                bar.update(cost(s, gs))
        else:
            for s, gs in todo:
                out = _run_shard(model, plan, s, gs, stats, bar)
                for g, cell in out.items():
                    cells[(s, g)] = cell
                    if cell_dir is not None:
                        _save_cell(cell_dir / f"{s:05d}-{g:04d}.pt", cell)
                    done += 1
                    if fail_after is not None and done >= fail_after:
                        raise RuntimeError(f"stopped after {done} cells (fail_after)")
    # merge: scores by name, counters summed back into the interventions from the cells (the same
    # whether a cell ran here, on a Ray actor or in an earlier, resumed run)
    for c in conds:
        for iv in c.interventions:
            if hasattr(iv, "reset_counts"):
                iv.reset_counts()
    scores = {c.name: np.full(n, np.nan) for c in conds}
    for (s, g), cell in cells.items():
        for i in groups[g]:
            c = conds[i]
            scores[c.name][cell["ids"]] = cell["scores"][c.name]
            for iv, cnt in zip(c.interventions, cell["counts"][c.name]):
                for name, v in cnt.items():
                    if hasattr(iv, name):
                        setattr(iv, name, getattr(iv, name) + v)
    stats["seconds"] = time.time() - t0
    stats["tokens"] = int(tokens.sum())
    return SweepOutput(scores, stats)


def merge_batches(batches: Sequence[Batch]) -> Batch:
    """One right-padded batch of every row of ``batches``, ordered by ``ids``."""
    if not batches:
        raise ValueError("no batches")
    width = max(b.tokens.shape[1] for b in batches)
    n = sum(len(b) for b in batches)
    tokens = torch.zeros(n, width, dtype=batches[0].tokens.dtype)
    mask = torch.zeros(n, width, dtype=torch.bool)
    texts: list = [None] * n
    pieces: list = [None] * n
    ids = torch.cat([b.ids for b in batches])
    if not torch.equal(torch.sort(ids).values, torch.arange(n)):
        raise ValueError("batches to merge must carry ids 0..n-1 exactly once")
    for b in batches:
        for r, i in enumerate(b.ids.tolist()):
            tokens[i, : b.tokens.shape[1]] = b.tokens[r]
            mask[i, : b.mask.shape[1]] = b.mask[r]
            texts[i] = b.texts[r]
            pieces[i] = b.pieces[r]
    return Batch(tokens=tokens, mask=mask, texts=texts, pieces=pieces, ids=torch.arange(n), has_bos=batches[0].has_bos)


__all__ = ["Condition", "LogitDiff", "ProbeScore", "SweepOutput", "run_sweep", "merge_batches", "to_config",
           "from_config", "as_conditions", "sweep_key", "start_point"]
