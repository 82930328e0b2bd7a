"""Interventions: small operators applied at (site, positions), scoped to one run.

Each intervention is data (site, positions, mode, directions) plus a few lines of arithmetic.
``Model.run(batch, interventions=[iv.bind(batch) for iv in ivs])`` applies them; nothing is left
attached to the model afterwards. Every intervention counts the positions it touched, so an
ablation that changed nothing is reported as such, never mistaken for a result.

The arithmetic works on any activation ``[..., d]`` with a boolean mask over its leading dims:
(B, T, d) for transformers, (B, d) at one step of the mLSTM.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch

from .directions import Direction
from .model import Batch
from .positions import Positions

MODES = ("project", "mean")


def set_projection(act: torch.Tensor, where: torch.Tensor, u: torch.Tensor, target: torch.Tensor | float) -> torch.Tensor:
    """Set the component of ``act`` along unit vector(s) ``u`` to ``target`` where ``where`` is True.

    ``u`` is (d,) or (B, d) (one direction per example); ``target`` a scalar or (B,).
    Entries where ``where`` is False come back bit-identical.
    """
    if u.shape[-1] != act.shape[-1]:
        raise ValueError(f"direction width {u.shape[-1]} does not match activation width {act.shape[-1]}")
    u = u.to(act.dtype).to(act.device)
    lead = act.ndim - 1
    if u.ndim == 2:  # per example: (B, d) -> (B, 1, ..., d)
        u = u.reshape(u.shape[0], *([1] * (lead - 1)), u.shape[1])
    proj = (act * u).sum(-1, keepdim=True)
    target = torch.as_tensor(target, dtype=act.dtype, device=act.device)
    if target.ndim == 1:
        target = target.reshape(target.shape[0], *([1] * lead))
    new = act + (target - proj) * u
    return torch.where(where.unsqueeze(-1), new, act)


@dataclass
class DirectionAblation:
    """Ablate a direction (or a bank of them) at ``site`` and ``positions``.

    - ``mode="project"``: zero the projection (project the direction out).
    - ``mode="mean"``: set the projection to its mean over a reference set; give ``reference_mean``,
      the mean *activation* (d,) at the site over that set, so that any direction's mean
      projection is ``reference_mean @ u``.

    ``directions`` is (d,) or a bank (k, d); with a bank, example ``i`` (by ``Batch.ids``) gets row
    ``i % k``, so one pass over a data set averages over k random directions.
    """

    site: str
    directions: torch.Tensor
    positions: Positions
    mode: str = "project"
    reference_mean: torch.Tensor | None = None
    label: str = ""
    touched: int = field(default=0, init=False)
    examples_touched: int = field(default=0, init=False)
    examples_seen: int = field(default=0, init=False)

    def __post_init__(self) -> None:
        if isinstance(self.directions, Direction):
            self.directions = self.directions.vector
        d = torch.as_tensor(self.directions, dtype=torch.float32)
        if d.ndim == 1:
            d = d[None]
        if d.ndim != 2:
            raise ValueError(f"directions must be (d,) or (k, d); got {tuple(d.shape)}")
        self.directions = d / d.norm(dim=1, keepdim=True)
        if self.mode not in MODES:
            raise ValueError(f"unknown ablation mode {self.mode!r}; choose from {MODES}")
        if self.mode == "mean":
            if self.reference_mean is None:
                raise ValueError("mode='mean' needs reference_mean (the mean activation at the site)")
            if self.reference_mean.shape[-1] != self.width:
                raise ValueError(
                    f"reference_mean width {self.reference_mean.shape[-1]} != direction width {self.width}"
                )

    @property
    def width(self) -> int:
        return self.directions.shape[1]

    def _for_batch(self, batch: Batch) -> torch.Tensor:
        k = self.directions.shape[0]
        if k == 1:
            return self.directions[0]
        return self.directions[batch.ids % k]

    def __call__(self, act: torch.Tensor, where: torch.Tensor, batch: Batch) -> torch.Tensor:
        u = self._for_batch(batch)
        if self.mode == "project":
            target = 0.0
        else:
            target = u.to(self.reference_mean.device) @ self.reference_mean.float()
        self.touched += int(where.sum())
        return set_projection(act, where, u, target)

    def bind(self, batch: Batch, model=None) -> tuple[str, torch.Tensor, "DirectionAblation"]:
        """(site, where, fn) for ``Model.run``; counts matched examples."""
        if model is not None:
            width = model.sites().get(self.site)
            if width is not None and width != self.width:
                raise ValueError(f"direction width {self.width} does not match {self.site} of width {width}")
        where = self.positions.mask(batch)
        self.examples_seen += len(batch)
        self.examples_touched += int(where.any(1).sum())
        return (self.site, where, self)

    def reset_counts(self) -> None:
        self.touched = self.examples_touched = self.examples_seen = 0


def bind_all(interventions, batch: Batch, model=None):
    return [iv.bind(batch, model) for iv in interventions]
