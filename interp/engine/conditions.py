"""What a sweep runs and reads, as data: conditions (name + interventions + rows, serialisable and
hashed to a stable key, like pyvene's intervention configs) and readers (:class:`LogitDiff`,
:class:`ProbeScore`: the per-example number read from a run)."""


from __future__ import annotations

import dataclasses
import hashlib
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np
import torch

from interp.models.protocol import Batch
from interp.runs import stable_key

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
