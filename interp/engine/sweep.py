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
import logging
import time
from dataclasses import dataclass
from typing import Sequence

import numpy as np
import torch
from tqdm.auto import tqdm

from interp.models.protocol import Batch
from interp.runs import RunFolder, load_torch, save_torch, stable_key

from interp.engine.conditions import (  # noqa: F401  (re-exported: the engine's public names, one import away)
    Condition, LogitDiff, ProbeScore, as_conditions, from_config, reads_of, to_config,
)
from interp.engine.shard import _Plan, _run_shard, batches, start_point  # noqa: F401

log = logging.getLogger(__name__)


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
    save_torch(path, cell)


def _load_cell(path) -> dict | None:
    return load_torch(path, "cell", check=lambda c: isinstance(c, dict) and {"ids", "scores", "counts"} <= set(c))


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

    if n <= batch_size:
        order = np.arange(n)
    else:
        order = np.concatenate(batches(n, examples.lengths.tolist(), batch_size))
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
           "from_config", "as_conditions", "sweep_key", "start_point", "reads_of"]
