"""Sweeps on Ray: shards as tasks on actors that each load the model once.

``run_sweep(..., engine="ray")`` lands here. Every actor loads the model from its *spec* (what
:func:`model_spec` records when a model is loaded by name or path: zoo name, folder or hub name,
device, dtype), receives the sweep's plan once (examples, conditions, reader), and runs the
(shard, condition groups) it is handed with the same code as the local engine
(:func:`interp.engine.sweep._run_shard`); the driver writes the returned cells into the run folder and
merges them. On a GPU cluster each actor takes one GPU (``num_gpus=1``).

Ray is an optional extra: ``pip install -e '.[ray]'``. ``address=None`` starts a local Ray
instance with ``workers`` CPUs (default: the machine's); ``address="auto"`` or
``"ray://head:10001"`` joins a running cluster (see docs/scale.md).
"""

from __future__ import annotations

import os
from typing import Iterator


def model_spec(model) -> dict:
    """How to load ``model`` again in another process; a clear error for models built in memory."""
    spec = getattr(model, "load_spec", None)
    if not spec:
        raise ValueError(f"model {getattr(model, 'name', model)!r} was not loaded from a name or path "
                         "(TransformerModel.load / MLSTMModel.load), so Ray workers cannot load it; "
                         "use the local engine or load it by name")
    return dict(spec)


def load_model(spec: dict):
    """A model from :func:`model_spec`'s description (``kind``: transformer or mlstm)."""
    import torch

    spec = dict(spec)
    kind = spec.pop("kind")
    if kind == "transformer":
        from interp.models.transformer import TransformerModel

        dtype = spec.pop("dtype", "float32")
        return TransformerModel.load(spec.pop("name_or_path"), dtype=getattr(torch, dtype), **spec)
    if kind == "mlstm":
        from interp.models.mlstm.adapter import MLSTMModel

        name = spec.pop("name", None)
        m = MLSTMModel.load(spec.pop("path"), **spec)
        if name:
            m.name = name
        return m
    raise ValueError(f"unknown model kind {kind!r} in a model spec")


class _Worker:
    """A Ray actor: one model, one plan, many shards."""

    def __init__(self, spec: dict, plan, threads: int | None = None):
        import torch

        if threads:
            torch.set_num_threads(threads)
        self.model = load_model(spec)
        self.plan = plan

    def run(self, shard: int, groups: list[int]):
        from interp.engine.sweep import _run_shard

        stats = {"forwards": 0, "layer_tokens": 0, "prefix_reuse": ""}
        cells = _run_shard(self.model, self.plan, shard, groups, stats)
        return (shard, list(groups)), cells, stats


def run_ray(model, plan, todo, *, address: str | None = None, workers: int | None = None,
            stats: dict | None = None) -> Iterator[tuple[tuple[int, list[int]], dict]]:
    """Run ``todo`` ((shard, groups) pairs) on Ray actors; yields ((shard, groups), cells) as they finish."""
    try:
        import ray
        from ray.util import ActorPool
    except ImportError:
        raise ImportError("the Ray engine needs ray: pip install -e '.[ray]'") from None
    spec = model_spec(model)
    started = False
    if not ray.is_initialized():
        if address:
            ray.init(address=address, include_dashboard=False, log_to_driver=False)
        else:
            ray.init(num_cpus=workers or os.cpu_count() or 1, include_dashboard=False, log_to_driver=False)
        started = True
    try:
        gpu = str(spec.get("device", "cpu")).startswith("cuda") or spec.get("device_map")
        resources = ray.cluster_resources()
        if workers is None:
            workers = int(resources.get("GPU", 0)) if gpu else int(resources.get("CPU", 1))
        workers = max(1, min(workers, len(todo)))
        Actor = ray.remote(num_gpus=1 if gpu else 0, num_cpus=1)(_Worker)
        plan_ref = ray.put(plan)
        actors = [Actor.remote(spec, plan_ref, None if gpu else 1) for _ in range(workers)]
        pool = ActorPool(actors)
        for item in todo:
            pool.submit(lambda a, t: a.run.remote(t[0], t[1]), item)
        while pool.has_next():
            key, cells, st = pool.get_next_unordered()
            if stats is not None:
                stats["forwards"] += st["forwards"]
                stats["layer_tokens"] += st["layer_tokens"]
                if st.get("prefix_reuse"):
                    stats["prefix_reuse"] = st["prefix_reuse"]
                stats["workers"] = workers
            yield key, cells
        for a in actors:
            ray.kill(a)
    finally:
        if started:
            ray.shutdown()


__all__ = ["model_spec", "load_model", "run_ray"]
