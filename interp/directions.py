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

        from interp.runs import atomic_write_bytes, atomic_write_text

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


def load_folder(folder: str | Path, sites, *, widths: dict[str, int] | None = None, model: str | None = None,
                method: str | None = None) -> dict[str, Direction]:
    """One saved direction per site from ``folder`` (searched recursively: the ``directions/``
    folder of ``interp ablate`` or ``interp find``, or any folder of ``save``d directions).

    Matched by the site recorded in each direction's JSON; ``method`` keeps only directions of
    that method. Clear errors: no such folder, a site with no direction or with several (name
    ``method`` or a sub-folder), a direction from another model (``model``), or of another
    width than the site's (``widths``)."""
    folder = Path(folder)
    if not folder.is_dir():
        raise FileNotFoundError(f"no folder of directions at {folder}")
    found: dict[str, list[tuple[Path, dict]]] = {}
    for js in sorted(folder.rglob("*.json")):
        if not Path(str(_base(js)) + ".safetensors").exists():
            continue
        try:
            meta = json.loads(js.read_text())
        except (OSError, ValueError):
            continue
        if not isinstance(meta, dict) or "site" not in meta:
            continue
        if method is not None and meta.get("method") != method:
            continue
        found.setdefault(meta["site"], []).append((js, meta))
    if not found:
        raise FileNotFoundError(f"no saved direction{f' of method {method!r}' if method else ''} in {folder}")
    out = {}
    for s in sites:
        hits = found.get(s, [])
        if not hits:
            raise FileNotFoundError(f"{folder} has no direction{f' of method {method!r}' if method else ''} for site "
                                    f"{s} (it has {', '.join(sorted(found)[:6])}{', ...' if len(found) > 6 else ''})")
        if len(hits) > 1:
            raise ValueError(f"{folder} has {len(hits)} directions for {s} ({', '.join(str(p.relative_to(folder)) for p, _ in hits[:4])}"
                             f"{', ...' if len(hits) > 4 else ''}): name the method or give a folder with one per site")
        js, meta = hits[0]
        if model is not None and meta.get("model") and meta["model"] != model:
            raise ValueError(f"{js}: a direction of model {meta['model']!r}, not {model!r}")
        d = Direction.load(js)
        if widths is not None and s in widths:
            d.check_width(widths[s], s)
        out[s] = d
    return out
