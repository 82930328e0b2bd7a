"""Position selectors: which tokens of a :class:`~interp.models.protocol.Batch` an intervention acts on.

A selector turns a batch into a boolean (batch, seq) mask over real tokens and says how many
positions it matched per example. Zero matches over a whole batch is an error unless
``allow_empty=True``: an intervention that touched nothing must never pass for one that did.

By default the first token is excluded: small models park massive activations there (SmolLM2's
residual norm is about 24,000 at position 0 against about 200 elsewhere), and editing it can
wreck the model whatever the direction.
"""

from __future__ import annotations

import re
import string
from dataclasses import dataclass, field
from typing import Callable, Iterable

import torch

from interp.models.protocol import Batch


class NoPositionsError(ValueError):
    """A selector matched no position in a batch."""


PUNCTUATION = set(string.punctuation) | {"…", "–", "—", "“", "”", "‘", "’"}


@dataclass
class Positions:
    """Base selector. Subclasses implement :meth:`token_matches` or override :meth:`mask`."""

    name: str = "positions"
    skip_first: bool = True
    allow_empty: bool = False

    def token_matches(self, piece: str, index: int, pieces: list[str]) -> bool:  # pragma: no cover - abstract
        raise NotImplementedError

    def raw_mask(self, batch: Batch) -> torch.Tensor:
        out = torch.zeros_like(batch.mask, dtype=torch.bool)
        for row, pieces in enumerate(batch.pieces):
            for col, piece in enumerate(pieces):
                if self.token_matches(piece, col, pieces):
                    out[row, col] = True
        return out

    def mask(self, batch: Batch) -> torch.Tensor:
        """(batch, seq) boolean mask of selected real positions."""
        m = self.raw_mask(batch) & batch.mask.bool()
        if self.skip_first:
            m[:, 0] = False
        if not self.allow_empty and not m.any():
            raise NoPositionsError(
                f"selector {self.name!r} matched no position in a batch of {len(batch)} texts "
                f"(first text: {batch.texts[0][:80]!r}); pass allow_empty=True to report zeros instead"
            )
        return m

    def counts(self, batch: Batch) -> torch.Tensor:
        """Number of matched positions per example (zeros allowed)."""
        allow, self.allow_empty = self.allow_empty, True
        try:
            return self.mask(batch).sum(1)
        finally:
            self.allow_empty = allow

    def report(self, batch: Batch) -> "MatchReport":
        """How many positions matched, per example and in all; zeros are counted, never hidden."""
        c = self.counts(batch)
        return MatchReport(self.name, c.tolist(), int(c.sum()), int((c == 0).sum()), len(batch))


@dataclass
class MatchReport:
    """What a selector matched in a batch: ``per_example`` counts, their ``total``, and how many
    examples had ``zero`` matches (out of ``n``)."""

    name: str
    per_example: list
    total: int
    zero: int
    n: int

    def __str__(self) -> str:
        return (f"{self.name}: {self.total} positions in {self.n - self.zero}/{self.n} examples "
                f"({self.zero} with none)")


@dataclass
class AllTokens(Positions):
    name: str = "all"

    def raw_mask(self, batch: Batch) -> torch.Tensor:
        return batch.mask.bool().clone()


@dataclass
class LastToken(Positions):
    name: str = "last"
    skip_first: bool = False

    def raw_mask(self, batch: Batch) -> torch.Tensor:
        m = torch.zeros_like(batch.mask, dtype=torch.bool)
        m[torch.arange(len(batch)), batch.last] = True
        return m


@dataclass
class CharTokens(Positions):
    """Tokens whose text, stripped of whitespace, is made only of the given characters
    (``","`` matches ``","`` and ``" ,"`` but not ``",\\""`` unless ``'"'`` is in ``chars``)."""

    chars: str = ","
    name: str = "commas"
    contains: bool = True  # also match tokens that merely contain one of ``chars`` (",\"" in BPE)

    def token_matches(self, piece: str, index: int, pieces: list[str]) -> bool:
        s = piece.strip()
        if not s:
            return False
        if self.contains:
            return any(c in s for c in self.chars) and all(c in self.chars or c in PUNCTUATION for c in s)
        return all(c in self.chars for c in s)


def Commas(**kw) -> CharTokens:
    return CharTokens(chars=",", name=kw.pop("name", "commas"), **kw)


def FullStops(**kw) -> CharTokens:
    return CharTokens(chars=".!?", name=kw.pop("name", "full_stops"), **kw)


def Punctuation(**kw) -> CharTokens:
    return CharTokens(chars="".join(sorted(PUNCTUATION)), name=kw.pop("name", "punctuation"), **kw)


@dataclass
class Lexicon(Positions):
    """Tokens whose stripped, lower-cased text is in ``words``."""

    words: frozenset = field(default_factory=frozenset)
    name: str = "lexicon"

    def token_matches(self, piece: str, index: int, pieces: list[str]) -> bool:
        return piece.strip().lower() in self.words


@dataclass
class Predicate(Positions):
    """Any user rule: ``fn(piece, index, pieces) -> bool``."""

    fn: Callable[[str, int, list[str]], bool] = None  # type: ignore[assignment]
    name: str = "predicate"

    def token_matches(self, piece: str, index: int, pieces: list[str]) -> bool:
        return bool(self.fn(piece, index, pieces))


_WORD = re.compile(r"[^\W\d_]+(?:['’][^\W\d_]+)*")


@dataclass
class WordLexicon(Positions):
    """Tokens that belong to a whole *word* from ``words`` (case-insensitive).

    Unlike :class:`Lexicon`, which compares one token's text, this joins the batch's pieces back
    into text, finds words (runs of letters, inner apostrophes allowed) and selects every token
    that overlaps a listed word, so it works the same on BPE tokens (``" great"``, or
    ``" unw" "atch" "able"``) and on the mLSTM's bytes (each character of the word).
    ``part="last"`` keeps only the last token of each matched word (where a recurrent state has
    read all of it); ``"first"`` only the first.
    """

    words: frozenset = field(default_factory=frozenset)
    name: str = "words"
    part: str = "all"

    def __post_init__(self) -> None:
        if self.part not in ("all", "first", "last"):
            raise ValueError(f"part must be 'all', 'first' or 'last', not {self.part!r}")
        self.words = frozenset(w.lower() for w in self.words)

    def raw_mask(self, batch: Batch) -> torch.Tensor:
        out = torch.zeros_like(batch.mask, dtype=torch.bool)
        for row, pieces in enumerate(batch.pieces):
            starts, pos = [], 0
            for p in pieces:
                starts.append(pos)
                pos += len(p)
            text = "".join(pieces)
            owner = [0] * len(text)  # character -> token index
            for col, p in enumerate(pieces):
                owner[starts[col] : starts[col] + len(p)] = [col] * len(p)
            for m in _WORD.finditer(text):
                if m.group(0).lower() not in self.words:
                    continue
                cols = sorted(set(owner[m.start() : m.end()]))
                if self.part == "first":
                    cols = cols[:1]
                elif self.part == "last":
                    cols = cols[-1:]
                out[row, cols] = True
        return out


def SentimentWords(words=None, **kw) -> WordLexicon:
    """Tokens of sentiment words: :func:`interp.lexicon.sentiment_words` (the toy-template
    adjectives and verbs plus a small hand-written review lexicon), or your own ``words``."""
    from interp.lexicon import sentiment_words

    return WordLexicon(words=frozenset(words) if words is not None else sentiment_words(),
                       name=kw.pop("name", "sentiment_words"), **kw)


SELECTORS: dict[str, Callable[..., Positions]] = {
    "all": AllTokens,
    "commas": Commas,
    "full_stops": FullStops,
    "punctuation": Punctuation,
    "last": LastToken,
    "sentiment_words": SentimentWords,
}


def get(name: str | Positions, **kw) -> Positions:
    """A selector by name (``all``, ``commas``, ``full_stops``, ``punctuation``, ``last``,
    ``sentiment_words``)."""
    if isinstance(name, Positions):
        return name
    try:
        return SELECTORS[name](**kw)
    except KeyError:
        raise ValueError(f"unknown positions {name!r}; choose from {', '.join(SELECTORS)}") from None


def parse_list(spec: str | Iterable[str]) -> list[Positions]:
    names = [s.strip() for s in spec.split(",")] if isinstance(spec, str) else list(spec)
    names = [n for n in names if n]
    if not names:
        raise ValueError("no positions given")
    return [get(n) for n in names]
