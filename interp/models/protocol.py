"""The one protocol every model family implements, and the batch it passes around.

Everything downstream (finders, interventions, tasks, reports) talks to :class:`Model` only, so
the same analysis runs on the byte-level mLSTM and on TransformerLens transformers. Nothing
outside the model adapters knows whether a model is recurrent.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Protocol, Sequence, runtime_checkable

import torch


class UnknownSiteError(KeyError):
    """A hook name that the model does not have."""

    def __str__(self) -> str:  # KeyError quotes its message; keep it readable
        return str(self.args[0])


@dataclass
class Batch:
    """Tokenised texts, right-padded.

    ``tokens`` and ``mask`` are (batch, seq); ``mask`` is True at real tokens. ``pieces`` holds the
    decoded text of every real token (what position selectors look at), ``ids`` the index of
    each text in the data set it came from (used by per-example interventions and bootstraps).
    """

    tokens: torch.Tensor
    mask: torch.Tensor
    texts: list[str]
    pieces: list[list[str]]
    ids: torch.Tensor = field(default=None)  # type: ignore[assignment]
    has_bos: bool = False

    def __post_init__(self) -> None:
        if self.tokens.shape != self.mask.shape:
            raise ValueError(f"tokens {tuple(self.tokens.shape)} and mask {tuple(self.mask.shape)} differ in shape")
        if self.ids is None:
            self.ids = torch.arange(self.tokens.shape[0])
        lengths = self.mask.sum(1)
        if (lengths == 0).any():
            raise ValueError("a text produced no tokens")
        # right padding: every row is a run of real tokens followed by padding
        expected = torch.arange(self.mask.shape[1])[None, :] < lengths[:, None]
        if not torch.equal(expected, self.mask.bool()):
            raise ValueError("Batch must be right-padded (real tokens first, padding after)")

    @property
    def lengths(self) -> torch.Tensor:
        return self.mask.sum(1)

    @property
    def last(self) -> torch.Tensor:
        """Index of the last real token of each row, from the mask (never from padding)."""
        return self.lengths - 1

    def __len__(self) -> int:
        return self.tokens.shape[0]

    def select(self, rows: Sequence[int] | torch.Tensor) -> "Batch":
        rows = torch.as_tensor(rows, dtype=torch.long)
        width = int(self.mask[rows].sum(1).max())
        return Batch(
            tokens=self.tokens[rows, :width],
            mask=self.mask[rows, :width],
            texts=[self.texts[i] for i in rows.tolist()],
            pieces=[self.pieces[i] for i in rows.tolist()],
            ids=self.ids[rows],
            has_bos=self.has_bos,
        )


# An intervention hook: receives the activation at a site ([..., d]: (B, T, d) for a
# transformer, (B, d) at one time step for the mLSTM), a boolean mask over its leading dims
# saying which entries were selected, and the batch; returns the new activation.
InterventionFn = Callable[[torch.Tensor, torch.Tensor, Batch], torch.Tensor]


@runtime_checkable
class Model(Protocol):
    """What every model adapter offers."""

    name: str

    def tokenize(self, texts: Sequence[str]) -> Batch: ...

    def sites(self) -> dict[str, int]:
        """Hook names that analyses may read or write, with their widths."""
        ...

    def run(
        self,
        batch: Batch,
        interventions: Sequence[tuple[str, torch.Tensor | None, InterventionFn]] = (),
        read: Sequence[str] = (),
    ) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """Run the model on ``batch``.

        ``interventions`` are ``(site, where, fn)`` triples: ``where`` is a (B, T) boolean mask of
        the positions to act on (None = every real token) and ``fn`` an :data:`InterventionFn`.
        ``read`` names sites whose (B, T, d) activations (after interventions) are returned.
        Returns (logits at the last real token (B, vocab), {site: activation}).
        """
        ...


def check_site(model: Model, site: str) -> int:
    """Width of ``site`` in ``model``; a clear error naming near matches when it does not exist."""
    sites = model.sites()
    if site in sites:
        return sites[site]
    import difflib

    close = difflib.get_close_matches(site, list(sites), n=5, cutoff=0.5)
    hint = f"; did you mean {', '.join(close)}?" if close else f"; it has {len(sites)} sites, e.g. {', '.join(list(sites)[:5])}"
    raise UnknownSiteError(f"model {model.name!r} has no site {site!r}{hint}")
