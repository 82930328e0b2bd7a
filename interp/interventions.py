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

from interp.directions import Direction
from interp.models.protocol import Batch
from interp.positions import Positions

MODES = ("project", "mean")


def set_projection(act: torch.Tensor, where: torch.Tensor, u: torch.Tensor, target: torch.Tensor | float) -> torch.Tensor:
    """Set the component of ``act`` along unit vector(s) ``u`` to ``target`` where ``where`` is True.

    ``u`` is (d,) or (B, d) (one direction per example); ``target`` a scalar, (B,), or one value
    per entry of ``where``.
    Entries where ``where`` is False come back bit-identical.
    """
    if u.shape[-1] != act.shape[-1]:
        raise ValueError(f"direction width {u.shape[-1]} does not match activation width {act.shape[-1]}")
    # the arithmetic is float32 whatever the model's dtype (a no-op for float32 activations)
    a = act.float()
    u = u.to(device=act.device, dtype=torch.float32)
    lead = act.ndim - 1
    if u.ndim == 2:  # per example: (B, d) -> (B, 1, ..., d)
        u = u.reshape(u.shape[0], *([1] * (lead - 1)), u.shape[1])
    proj = (a * u).sum(-1, keepdim=True)
    target = torch.as_tensor(target, device=act.device).float()
    if target.ndim == 1:  # one target per example
        target = target.reshape(target.shape[0], *([1] * lead))
    elif target.ndim == lead:  # one target per entry of ``where``
        target = target.unsqueeze(-1)
    new = a + (target - proj) * u
    return torch.where(where.unsqueeze(-1), new.to(act.dtype), act)


def direction_bank(directions) -> torch.Tensor:
    """A direction (d,), a bank (k, d) or a :class:`Direction` as unit rows (k, d)."""
    if isinstance(directions, Direction):
        directions = directions.vector
    d = torch.as_tensor(directions, dtype=torch.float32)
    d = d[None] if d.ndim == 1 else d
    if d.ndim != 2:
        raise ValueError(f"directions must be (d,) or (k, d); got {tuple(d.shape)}")
    return d / d.norm(dim=1, keepdim=True)


@dataclass
class _Counting:
    """Bookkeeping shared by the operators below: positions and examples touched (fields that are
    not constructor arguments, so subclasses declare only their own).

    ``stepwise``: the operator keeps no state from one call to the next, so on a recurrent model a
    run may start at the first step it acts on (the engine's step-prefix reuse); operators that draw
    random numbers or count steps set it False.
    """

    touched: int = field(default=0, init=False)
    examples_touched: int = field(default=0, init=False)
    examples_seen: int = field(default=0, init=False)

    stepwise = True

    def reset_counts(self) -> None:
        self.touched = self.examples_touched = self.examples_seen = 0

    def _where(self, batch: Batch) -> torch.Tensor:
        return self.positions.mask(batch)

    def _count(self, batch: Batch, where: torch.Tensor) -> None:
        self.examples_seen += len(batch)
        self.examples_touched += int(where.any(1).sum())

    def _check_width(self, model, width: int) -> None:
        if model is not None:
            w = model.sites().get(self.site)
            if w is not None and w != width:
                raise ValueError(f"{type(self).__name__} at {self.site}: width {width} does not match the site's {w}")

    def _prepare(self, batch: Batch) -> None:
        """Per-batch state an operator needs before it runs (default: none)."""

    def bind(self, batch: Batch, model=None) -> tuple[str, torch.Tensor, "_Counting"]:
        """(site, where, fn) for ``Model.run``: checks the width against ``model``'s site, counts the
        matched positions' examples, prepares per-batch state."""
        self._check_width(model, self.width)
        where = self._where(batch)
        self._count(batch, where)
        self._prepare(batch)
        return (self.site, where, self)


@dataclass
class DirectionAblation(_Counting):
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

    def __post_init__(self) -> None:
        self.directions = direction_bank(self.directions)
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

    def __call__(self, act: torch.Tensor, where: torch.Tensor, batch: Batch) -> torch.Tensor:
        u = _per_example(self.directions, batch)
        if self.mode == "project":
            target = 0.0
        else:
            target = u.to(self.reference_mean.device) @ self.reference_mean.float()
        self.touched += int(where.sum())
        return set_projection(act, where, u, target)


@dataclass
class LeaceErasure(_Counting):
    """Apply a fitted LEACE eraser (:class:`interp.finders.Leace`) at ``site`` and ``positions``:
    ``x -> x - ((x - bias) @ R.T) @ L.T``, computed in float64 and cast back.

    ``proj_left`` (d, k), ``proj_right`` (k, d), ``bias`` (d,): one eraser; or banks (n, d, k),
    (n, k, d), (n, d), where example ``i`` (by ``Batch.ids``) gets eraser ``i % n`` (the random
    control: erasers fit on shuffled labels). ``reference_mean`` (d,), when given, replaces the
    fitted bias: the eraser then leaves the mean at the kind of position it acts on where it is
    (the linear part, which is what removes the concept, is LEACE's either way). Build it from
    fitted finders with :meth:`from_erasers`. Positions not selected come back bit-identical.
    """

    site: str
    proj_left: torch.Tensor
    proj_right: torch.Tensor
    bias: torch.Tensor
    positions: Positions
    reference_mean: torch.Tensor | None = None
    label: str = ""

    def __post_init__(self) -> None:
        L = torch.as_tensor(self.proj_left, dtype=torch.float64)
        R = torch.as_tensor(self.proj_right, dtype=torch.float64)
        b = torch.as_tensor(self.bias, dtype=torch.float64)
        if L.ndim == 2:
            L, R, b = L[None], R[None], b[None]
        if L.ndim != 3 or R.ndim != 3 or b.ndim != 2:
            raise ValueError(f"proj_left (d, k), proj_right (k, d), bias (d,) or banks of them; got "
                             f"{tuple(L.shape)}, {tuple(R.shape)}, {tuple(b.shape)}")
        n, d, k = L.shape
        if R.shape != (n, k, d) or b.shape != (n, d):
            raise ValueError(f"eraser shapes disagree: proj_left {tuple(L.shape)}, proj_right {tuple(R.shape)}, "
                             f"bias {tuple(b.shape)}")
        if self.reference_mean is not None:
            m = torch.as_tensor(self.reference_mean, dtype=torch.float64)
            if m.shape != (d,):
                raise ValueError(f"reference_mean must be ({d},), got {tuple(m.shape)}")
            b = m[None].expand(n, d).clone()
        self.proj_left, self.proj_right, self.bias = L, R, b

    @classmethod
    def from_erasers(cls, site: str, erasers, positions: Positions, **kw) -> "LeaceErasure":
        """From one fitted :class:`~interp.finders.Leace` or a list of them (a bank; ranks may
        differ, padded with zeros)."""
        es = list(erasers) if isinstance(erasers, (list, tuple)) else [erasers]
        if not es:
            raise ValueError("no eraser given")
        for e in es:
            if not hasattr(e, "proj_left_"):
                raise ValueError(f"{type(e).__name__} is not a fitted LEACE eraser (no proj_left_)")
        d, k = es[0].proj_left_.shape[0], max(e.proj_left_.shape[1] for e in es)
        L = torch.zeros(len(es), d, k, dtype=torch.float64)
        R = torch.zeros(len(es), k, d, dtype=torch.float64)
        for i, e in enumerate(es):
            if e.proj_left_.shape[0] != d:
                raise ValueError(f"erasers of different widths in one bank ({d} and {e.proj_left_.shape[0]})")
            r = e.proj_left_.shape[1]
            L[i, :, :r] = torch.as_tensor(e.proj_left_)
            R[i, :r] = torch.as_tensor(e.proj_right_)
        b = torch.stack([torch.as_tensor(e.bias_, dtype=torch.float64) for e in es])
        return cls(site, L, R, b, positions, **kw)

    @property
    def width(self) -> int:
        return self.proj_left.shape[1]

    def __call__(self, act: torch.Tensor, where: torch.Tensor, batch: Batch) -> torch.Tensor:
        if act.shape[-1] != self.width:
            raise ValueError(f"eraser width {self.width} does not match activation width {act.shape[-1]}")
        a = act.double()
        n = self.proj_left.shape[0]
        if n == 1:
            L, R, b = (t[0].to(act.device) for t in (self.proj_left, self.proj_right, self.bias))
            new = a - ((a - b) @ R.T) @ L.T
        else:
            rows = (batch.ids % n).cpu()
            L, R, b = (t[rows].to(act.device) for t in (self.proj_left, self.proj_right, self.bias))
            lead = act.ndim - 2
            delta = a - b.reshape(b.shape[0], *([1] * lead), b.shape[1])
            coeff = torch.einsum("b...d,bkd->b...k", delta, R)
            new = a - torch.einsum("b...k,bdk->b...d", coeff, L)
        self.touched += int(where.sum())
        return torch.where(where.unsqueeze(-1), new.to(act.dtype), act)


def bind_all(interventions, batch: Batch, model=None):
    return [iv.bind(batch, model) for iv in interventions]


# --------------------------------------------------------------------------------------------
# More operators: resample ablation, whole-vector ablation, activation patching (whole or along
# a subspace). Same contract as DirectionAblation: ``bind(batch, model)`` -> (site, where, fn),
# ``fn(act, where, batch)`` works on (B, T, d) or, for the mLSTM, on (B, d) at one step.


def orthonormal_basis(vectors: torch.Tensor | None, width: int | None = None) -> torch.Tensor:
    """An orthonormal basis (k, d) of the span of ``vectors`` ((d,) or (k, d); k may be 0).

    Rank-deficient input keeps only independent directions (QR with a tolerance)."""
    if vectors is None:
        if width is None:
            raise ValueError("give vectors or a width")
        return torch.zeros(0, width)
    if isinstance(vectors, Direction):
        vectors = vectors.vector
    v = torch.as_tensor(vectors, dtype=torch.float64)
    if v.ndim == 1:
        v = v[None]
    if v.ndim != 2:
        raise ValueError(f"a subspace is given by (d,) or (k, d) vectors; got shape {tuple(v.shape)}")
    if width is not None and v.shape[1] != width:
        raise ValueError(f"subspace width {v.shape[1]} does not match site width {width}")
    if v.shape[0] == 0:
        return torch.zeros(0, v.shape[1])
    q, r = torch.linalg.qr(v.T)
    keep = r.diagonal().abs() > 1e-8 * max(1.0, float(r.diagonal().abs().max()))
    return q[:, keep].T.float().contiguous()


def patch_subspace(corrupt: torch.Tensor, clean: torch.Tensor, basis: torch.Tensor | None) -> torch.Tensor:
    """``corrupt + P(clean) − P(corrupt)`` with ``P`` the orthogonal projection on span(basis).

    ``basis`` (k, d) orthonormal; ``None`` = the whole space (returns ``clean``); k = 0 = the zero
    subspace (returns ``corrupt`` unchanged)."""
    if basis is None:
        return clean
    if basis.shape[0] == 0:
        return corrupt
    b = basis.to(corrupt.device, torch.float32)
    c = corrupt.float()
    return (c + ((clean.float() - c) @ b.T) @ b).to(corrupt.dtype)


def _per_example(directions: torch.Tensor, batch: Batch) -> torch.Tensor:
    k = directions.shape[0]
    return directions[0] if k == 1 else directions[batch.ids % k]


def derangement(n: int, generator: torch.Generator) -> torch.Tensor:
    """A random permutation with no fixed point (one cycle through a shuffled order); n >= 2."""
    if n < 2:
        raise ValueError("resampling within a batch needs at least 2 examples (one cannot draw from another)")
    order = torch.randperm(n, generator=generator)
    perm = torch.empty(n, dtype=torch.long)
    perm[order] = order.roll(-1)
    return perm


@dataclass
class ResampleAblation(_Counting):
    """Set the projection on a direction to a value drawn from *another* example.

    - ``source="reference"`` (default): draw from ``pool``, the projections on the direction at the
      same kind of position (the selector's) over a reference set, e.g. SST train; (n,) or, for a
      bank of k directions, (k, n). Each selected position gets its own seeded draw.
    - ``source="batch"``: a seeded derangement ``π`` of the batch (no example is its own donor);
      example ``i`` takes the projection of example ``π(i)``'s activation at the same position
      (its last real token when ``π(i)`` is shorter; for the mLSTM the same step, where a finished
      row holds its final state). The donor's activation is the one of *this* run, so with
      interventions at earlier layers it is itself intervened on.

    ``directions``: (d,) or a bank (k, d); example ``i`` (by ``Batch.ids``) uses row ``i % k``.
    Draws are seeded by ``seed`` and the batch's ids, so a run is reproducible.
    """

    site: str
    directions: torch.Tensor
    positions: Positions
    pool: torch.Tensor | None = None
    stepwise = False  # seeded draws, one per call: every step must run
    source: str = "reference"
    seed: int = 0
    label: str = ""

    def __post_init__(self) -> None:
        self.directions = direction_bank(self.directions)
        if self.source not in ("reference", "batch"):
            raise ValueError(f"source must be 'reference' or 'batch', not {self.source!r}")
        if self.source == "reference":
            if self.pool is None:
                raise ValueError("source='reference' needs pool: projections at reference positions")
            p = torch.as_tensor(self.pool, dtype=torch.float32)
            p = p[None] if p.ndim == 1 else p
            if p.ndim != 2 or p.shape[1] == 0:
                raise ValueError(f"pool must be (n,) or (k, n) with n > 0; got {tuple(p.shape)}")
            if p.shape[0] not in (1, self.directions.shape[0]):
                raise ValueError(f"pool has {p.shape[0]} rows for {self.directions.shape[0]} directions")
            self.pool = p
        self._gen = torch.Generator()
        self._perm = None
        self._lengths = None

    @property
    def width(self) -> int:
        return self.directions.shape[1]

    def _prepare(self, batch: Batch) -> None:
        self._gen.manual_seed(self.seed * 1_000_003 + int(batch.ids[0]) * 7919 + len(batch))
        if self.source == "batch":
            self._perm = derangement(len(batch), self._gen)
            self._lengths = batch.lengths

    def __call__(self, act: torch.Tensor, where: torch.Tensor, batch: Batch) -> torch.Tensor:
        u = _per_example(self.directions, batch)
        if self.source == "reference":
            k = self.pool.shape[0]
            rows = torch.zeros(len(batch), dtype=torch.long) if k == 1 else batch.ids % k
            idx = torch.randint(self.pool.shape[1], tuple(where.shape), generator=self._gen)
            rows = rows.reshape(-1, *([1] * (where.ndim - 1))).expand_as(idx)
            target = self.pool[rows, idx].to(act.device)
        else:
            if self._perm is None or len(self._perm) != act.shape[0]:
                raise RuntimeError("ResampleAblation(source='batch') must be bound to this batch first (bind)")
            perm = self._perm.to(act.device)
            donor = act[perm]
            if act.ndim == 3:  # (B, T, d): clamp to the donor's last real token
                T = act.shape[1]
                last = (self._lengths[self._perm] - 1).to(act.device)
                cols = torch.minimum(torch.arange(T, device=act.device)[None, :], last[:, None])
                donor = donor.gather(1, cols.unsqueeze(-1).expand(-1, -1, act.shape[-1]))
            uu = u.to(act.device, torch.float32)
            if uu.ndim == 2:
                uu = uu.reshape(uu.shape[0], *([1] * (act.ndim - 2)), uu.shape[1])
            target = (donor.float() * uu).sum(-1)
        self.touched += int(where.sum())
        return set_projection(act, where, u, target)


@dataclass
class VectorAblation(_Counting):
    """Replace the whole activation vector at the selected positions by ``mean`` (d,), e.g. the mean
    activation of that position type (commas, full stops, ...) over a reference set."""

    site: str
    positions: Positions
    mean: torch.Tensor
    label: str = ""

    def __post_init__(self) -> None:
        self.mean = torch.as_tensor(self.mean, dtype=torch.float32)
        if self.mean.ndim != 1:
            raise ValueError(f"mean must be a vector (d,); got {tuple(self.mean.shape)}")

    @property
    def width(self) -> int:
        return self.mean.shape[0]

    def __call__(self, act: torch.Tensor, where: torch.Tensor, batch: Batch) -> torch.Tensor:
        if act.shape[-1] != self.width:
            raise ValueError(f"mean width {self.width} does not match activation width {act.shape[-1]}")
        self.touched += int(where.sum())
        return torch.where(where.unsqueeze(-1), self.mean.to(act.device, act.dtype).expand_as(act), act)


@dataclass
class ActivationPatch(_Counting):
    """Patch activations of another run (the *clean* one) into this run, whole or along a subspace.

    ``source``: the clean run's activations at ``site``, (B, T, d), row ``i`` matching row ``i`` of
    the batch this is bound to (pairs of equal token length). ``basis``: ``None`` patches the whole
    activation; a (k, d) set of vectors patches only the projection on their span,
    ``corrupt + P(clean) − P(corrupt)`` (orthonormalised here; k = 0 is the identity).
    Where: ``where`` (an explicit (B, T) mask), else ``positions`` (a selector), else every real
    token including the first. Works per step on the mLSTM too (steps are counted from ``bind``).
    """

    stepwise = False  # counts steps from bind
    site: str
    source: torch.Tensor
    positions: Positions | None = None
    basis: torch.Tensor | None = None
    where: torch.Tensor | None = None
    label: str = ""

    def __post_init__(self) -> None:
        if self.source.ndim != 3:
            raise ValueError(f"source must be the clean run's (B, T, d) activations; got {tuple(self.source.shape)}")
        if self.basis is not None:
            self.basis = orthonormal_basis(self.basis, self.source.shape[-1])
        self._step = 0

    @property
    def width(self) -> int:
        return self.source.shape[-1]

    def bind(self, batch: Batch, model=None):
        self._check_width(model, self.width)
        B, T = batch.mask.shape
        if self.source.shape[:2] != (B, T):
            raise ValueError(f"clean activations {tuple(self.source.shape[:2])} do not match the batch {(B, T)}: "
                             "clean and corrupted texts must pair row by row with equal token lengths")
        if self.where is not None:
            if tuple(self.where.shape) != (B, T):
                raise ValueError(f"where {tuple(self.where.shape)} does not match the batch {(B, T)}")
            where = self.where.bool() & batch.mask.bool()
        elif self.positions is not None:
            where = self.positions.mask(batch)
        else:
            where = batch.mask.bool().clone()
        self._count(batch, where)
        self._step = 0
        return (self.site, where, self)

    def __call__(self, act: torch.Tensor, where: torch.Tensor, batch: Batch) -> torch.Tensor:
        src = self.source
        if act.ndim == 2:  # one step of a recurrent model
            T = src.shape[1]
            src = src[:, self._step % T]
            self._step += 1
        src = src.to(act.device, act.dtype)
        if src.shape != act.shape:
            raise ValueError(f"clean activation {tuple(src.shape)} does not match {tuple(act.shape)} at {self.site}")
        self.touched += int(where.sum())
        new = patch_subspace(act, src, self.basis)
        return torch.where(where.unsqueeze(-1), new, act)
