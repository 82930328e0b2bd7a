"""What :func:`interp.experiments.find.compare` measures of one direction at one site: its neuron
alignment and its held-out accuracy; and the sites themselves (the default ones, their labels)."""

from __future__ import annotations

import re

import numpy as np

from interp import metrics
from interp.experiments.find.config import SITE_KINDS, CompareConfig

def alignment(w) -> dict:
    """Neuron alignment of a direction: ``max_abs_cos`` (largest |cosine| with a basis vector),
    ``unit`` (which), ``participation_ratio`` ``(Σw²)²/Σw⁴`` and ``l1_l2`` (``‖w‖₁/‖w‖₂``)."""
    w = np.asarray(w, dtype=np.float64)
    w = w / np.linalg.norm(w)
    a = np.abs(w)
    return {"max_abs_cos": float(a.max()), "unit": int(a.argmax()), "participation_ratio": float(1.0 / (a ** 4).sum()),
            "l1_l2": float(a.sum())}


def _held_out(vec: np.ndarray, Xdev, ydev, Xte, yte, choose_sign: bool = False) -> dict:
    pd, pt = Xdev @ vec, Xte @ vec
    sign = 1.0
    if choose_sign and metrics.auroc(pd, ydev) < 0.5:  # a random direction has no canonical sign
        sign, pd, pt = -1.0, -pd, -pt
    thr = metrics.fit_threshold(pd, ydev)
    return {"dev_acc": metrics.accuracy(pd, ydev, thr), "test_acc": metrics.accuracy(pt, yte, thr),
            "dev_balanced_acc": metrics.balanced_accuracy(pd, ydev, thr), "test_auroc": metrics.auroc(pt, yte),
            "threshold": float(thr), "sign": sign}


def _site_key(site: str) -> tuple[str, int | None]:
    m = re.fullmatch(r"blocks\.(\d+)\.(.+)", site)
    return (m.group(2), int(m.group(1))) if m else (site, None)


def _site_label(site: str) -> str:
    kind, L = _site_key(site)
    return site if L is None else f"L{L} {kind}"


def _default_sites(model, cfg: CompareConfig) -> list[str]:
    sites = model.sites()
    if "hook_c" in sites and "hook_h" in sites and not any(s.startswith("blocks.") for s in sites):
        return ["hook_c", "hook_h"]
    n_layers = int(getattr(model, "n_layers", 0))
    layers = list(range(n_layers)) if cfg.layers is None else list(cfg.layers)
    for L in layers:
        if not 0 <= L < n_layers:
            raise ValueError(f"layer {L} out of range: {model.name} has layers 0..{n_layers - 1}")
    return [SITE_KINDS[k].format(L=L) for k in cfg.site_kinds for L in layers]
