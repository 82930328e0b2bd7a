"""Device and precision: what ``--device``, ``--dtype`` and ``--device-map`` mean.

- ``device``: ``auto`` (the first CUDA GPU when there is one, else the CPU), ``cpu``, ``cuda``,
  ``cuda:N``.
- ``dtype``: ``float32`` (the default, and the only sensible one on a CPU: bfloat16 is about 200×
  slower there), ``bfloat16``, ``float16``. Whatever the model's dtype, the library computes
  projections, means and metrics in float32 (see :mod:`interp.interventions`, :mod:`interp.metrics`).
- ``device_map``: ``auto`` spreads a model larger than one GPU over every visible GPU
  (accelerate, through ``TransformerBridge.boot_transformers(device_map=...)``).
"""

from __future__ import annotations

import re

DTYPES = ("float32", "bfloat16", "float16")
_DEVICE = re.compile(r"^(auto|cpu|cuda|cuda:\d+|mps)$")


def resolve_device(spec: str | None) -> str:
    """A concrete torch device string for ``spec``; a clear error for an unknown or absent device."""
    import torch

    spec = (spec or "auto").strip()
    if not _DEVICE.match(spec):
        raise ValueError(f"unknown device {spec!r}; choose auto, cpu, cuda or cuda:N")
    if spec == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if spec.startswith("cuda"):
        if not torch.cuda.is_available():
            raise ValueError(f"device {spec!r} asked for, but this machine has no CUDA GPU (torch {torch.__version__}); "
                             "use --device cpu")
        if ":" in spec and int(spec.split(":")[1]) >= torch.cuda.device_count():
            raise ValueError(f"device {spec!r} does not exist: {torch.cuda.device_count()} GPU(s) visible")
    if spec == "mps" and not torch.backends.mps.is_available():
        raise ValueError("device 'mps' asked for, but MPS is not available here")
    return spec


def parse_dtype(name: str | None):
    """The torch dtype for ``name`` (float32 when None)."""
    import torch

    name = (name or "float32").strip()
    if name not in DTYPES:
        raise ValueError(f"unknown dtype {name!r}; choose {', '.join(DTYPES)}")
    return getattr(torch, name)


def check_device_map(device_map: str | None, device: str) -> str | None:
    if device_map in (None, "", "none"):
        return None
    if device_map != "auto":
        raise ValueError(f"unknown device map {device_map!r}; the only one is 'auto' (spread over every visible GPU)")
    if not device.startswith("cuda"):
        raise ValueError("--device-map auto spreads a model over GPUs: it needs --device cuda (or auto on a GPU machine)")
    return device_map


__all__ = ["DTYPES", "resolve_device", "parse_dtype", "check_device_map"]
