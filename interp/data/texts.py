"""Texts with integer labels and provenance: what every loader of :mod:`interp.data` returns."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Union

import numpy as np

from interp.data.files import _sources_sha256

Source = Union[Path, tuple[Path, ...]]


@dataclass(frozen=True, eq=False)
class LabelledTexts:
    """Texts with integer labels (1 = positive, 0 = negative, -1 = none) and provenance.

    ``source`` is the file (or tuple of files/folders) read; ``indices`` the rows of the full
    data set these are (``None``: all rows, in file order); ``meta`` per-row arrays such as
    IMDB ``ids`` and ``ratings``, sliced along with the texts.
    """

    texts: list[str]
    labels: np.ndarray
    name: str
    source: Source
    indices: np.ndarray | None = None
    meta: dict[str, np.ndarray] = field(default_factory=dict)
    _sha: list[str] = field(default_factory=list, init=False, repr=False)

    def __post_init__(self) -> None:
        labels = np.array(self.labels, dtype=np.int64).reshape(-1)
        labels.setflags(write=False)
        object.__setattr__(self, "labels", labels)
        object.__setattr__(self, "texts", list(self.texts))
        n = len(self.texts)
        if len(labels) != n:
            raise ValueError(f"{self.name}: {n} texts but {len(labels)} labels")
        if self.indices is not None:
            idx = np.array(self.indices, dtype=np.int64).reshape(-1)
            if len(idx) != n:
                raise ValueError(f"{self.name}: {n} texts but {len(idx)} indices")
            idx.setflags(write=False)
            object.__setattr__(self, "indices", idx)
        meta = {}
        for k, v in self.meta.items():
            a = np.asarray(v)
            if len(a) != n:
                raise ValueError(f"{self.name}: {n} texts but meta[{k!r}] has {len(a)} rows")
            meta[k] = a
        object.__setattr__(self, "meta", meta)

    # sequence protocol
    def __len__(self) -> int:
        return len(self.texts)

    def __iter__(self) -> Iterator[tuple[str, int]]:
        return zip(self.texts, (int(x) for x in self.labels))

    def __getitem__(self, key: Any) -> Any:
        """``lt[i]`` -> ``(text, label)``; a slice, index array or boolean mask -> LabelledTexts."""
        if isinstance(key, (int, np.integer)):
            return self.texts[key], int(self.labels[key])
        if isinstance(key, slice):
            return self.subset(np.arange(len(self))[key])
        return self.subset(key)

    def __repr__(self) -> str:
        return (
            f"LabelledTexts(name={self.name!r}, n={len(self)}, pos={self.n_pos}, "
            f"source={self.source!s})"
        )

    @property
    def n_pos(self) -> int:
        return int((self.labels == 1).sum())

    @property
    def sources(self) -> tuple[Path, ...]:
        return self.source if isinstance(self.source, tuple) else (self.source,)

    def subset(self, indices: Sequence[int] | np.ndarray) -> LabelledTexts:
        """The rows at ``indices`` (positions in *this* object, or a boolean mask)."""
        idx = np.asarray(indices)
        if idx.dtype == bool:
            if len(idx) != len(self):
                raise ValueError(f"boolean mask of length {len(idx)} for {len(self)} rows")
            idx = np.flatnonzero(idx)
        idx = idx.astype(np.int64).reshape(-1)
        base = self.indices if self.indices is not None else np.arange(len(self))
        out = LabelledTexts(
            texts=[self.texts[i] for i in idx],
            labels=self.labels[idx],
            name=self.name,
            source=self.source,
            indices=base[idx],
            meta={k: v[idx] for k, v in self.meta.items()},
        )
        out._sha.extend(self._sha)  # same source files, same hash
        return out

    def sha256(self) -> str:
        """sha256 of the source file(s) (cached), for provenance manifests."""
        if not self._sha:
            self._sha.append(_sources_sha256(self.sources))
        return self._sha[0]
