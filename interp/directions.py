"""Directions: unit vectors at a site, with where they came from.

A neuron is the direction ``e_k`` (:func:`neuron`), so every analysis that takes a direction
takes a neuron too. Signs are canonical: a positive projection means positive sentiment.
Saved as safetensors (the vector) beside JSON (the provenance).
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch


def _base(path: str | Path) -> Path:
    """``path`` without a .safetensors/.json suffix (site names hold dots: keep them)."""
    p = Path(path)
    return p.with_suffix("") if p.suffix in (".safetensors", ".json") else p


@dataclass
class Direction:
    vector: torch.Tensor
    site: str
    model: str = ""
    method: str = ""
    data: str = ""
    seed: int | None = None
    flags: dict = field(default_factory=dict)  # processing flags: position read, prompt, ...
    metrics: dict = field(default_factory=dict)  # e.g. held-out accuracy of the projection

    def __post_init__(self) -> None:
        v = torch.as_tensor(self.vector, dtype=torch.float32).detach().cpu()
        if v.ndim != 1:
            raise ValueError(f"a direction is a vector; got shape {tuple(v.shape)}")
        n = float(v.norm())
        if not torch.isfinite(v).all() or n == 0:
            raise ValueError(f"direction at {self.site} is zero or not finite")
        self.vector = v / n

    @property
    def width(self) -> int:
        return self.vector.shape[0]

    def check_width(self, width: int, site: str | None = None) -> None:
        if width != self.width:
            raise ValueError(
                f"direction from {self.model or '?'} {self.site} has width {self.width}, "
                f"but {site or self.site} has width {width}"
            )

    def project(self, acts: torch.Tensor) -> torch.Tensor:
        self.check_width(acts.shape[-1])
        return acts.float() @ self.vector.to(acts.device)

    def meta(self) -> dict:
        d = asdict(self)
        d.pop("vector")
        d["width"] = self.width
        return d

    def save(self, path: str | Path) -> Path:
        """The vector as ``<path>.safetensors`` and the provenance as ``<path>.json``, each written
        to a temporary name and renamed (mode 0644 both)."""
        from safetensors.torch import save

        from .runs import atomic_write_bytes, atomic_write_text

        path = _base(path)
        st = atomic_write_bytes(str(path) + ".safetensors", save({"direction": self.vector.contiguous()}))
        atomic_write_text(str(path) + ".json", json.dumps(self.meta(), indent=2, default=str))
        return st

    @classmethod
    def load(cls, path: str | Path, *, expect_width: int | None = None) -> "Direction":
        from safetensors.torch import load_file

        base = _base(path)
        st, js = Path(str(base) + ".safetensors"), Path(str(base) + ".json")
        for p in (st, js):
            if not p.exists():
                raise FileNotFoundError(f"direction file missing: {p}")
        try:
            meta = json.loads(js.read_text())
            vec = load_file(str(st))["direction"]
        except Exception as e:  # noqa: BLE001 - broken JSON, SafetensorError, no "direction" tensor
            first = (str(e).strip().splitlines() or [type(e).__name__])[0]
            raise ValueError(f"cannot read the direction {base} ({type(e).__name__}: {first}): its .safetensors or "
                             f".json is damaged; save it again") from None
        if vec.shape[0] != meta.get("width", vec.shape[0]):
            raise ValueError(f"{st}: vector width {vec.shape[0]} differs from its JSON ({meta['width']})")
        meta.pop("width", None)
        d = cls(vector=vec, **meta)
        if expect_width is not None:
            d.check_width(expect_width)
        return d


def neuron(index: int, width: int, site: str, **kw) -> Direction:
    if not 0 <= index < width:
        raise ValueError(f"neuron {index} out of range for {site} of width {width}")
    v = torch.zeros(width)
    v[index] = 1.0
    return Direction(v, site=site, method=f"neuron[{index}]", **kw)


def random_directions(width: int, n: int, seed: int) -> torch.Tensor:
    """``n`` seeded random unit vectors (n, width), isotropic."""
    g = torch.Generator().manual_seed(seed)
    v = torch.randn(n, width, generator=g)
    return v / v.norm(dim=1, keepdim=True)
