"""Clean/corrupted pairs for activation patching.

A pair is two model inputs of the **same token length** that differ in sentiment: the clean one
and the corrupted one. Patching runs the corrupted batch and writes clean activations into it,
row by row and position by position, so the rows must line up token for token; a pair whose
lengths differ is refused with :class:`PairLengthError`, naming it.

- :func:`toy_pairs`: the toy review template with the sentiment word flipped
  (``flip="adjective"``: only the adjective; ``flip="both"``: adjective and verb). Both
  directions are made (positive→negative and negative→positive), so the labels are balanced.
- :func:`sst_pairs`: SST sentences (inside a prompt) of opposite labels paired by token length.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field
from typing import Sequence

import numpy as np
import torch

from interp.models.protocol import Batch
from interp.tasks import (NEGATIVE_ADJECTIVES, NEGATIVE_VERBS, POSITIVE_ADJECTIVES, POSITIVE_VERBS, TOY_TEMPLATE,
                    ToyTemplates)

FLIPS = ("adjective", "both")


class PairLengthError(ValueError):
    """A clean/corrupted pair whose token lengths differ."""


@dataclass
class Pairs:
    """Clean and corrupted model inputs, row ``i`` of each forming pair ``i``.

    ``labels[i]`` is the sentiment of the clean input (1 positive, 0 negative); the corrupted
    one has the other. ``words[i]`` (toy pairs) holds the (clean, corrupted) sentiment words;
    ``index[i]`` (SST pairs) the data-set indices of (clean, corrupted). ``info`` says how they
    were made (counts of what was dropped, ...).
    """

    clean: list[str]
    corrupt: list[str]
    labels: np.ndarray
    source: str = ""
    words: list[tuple[str, str]] = field(default_factory=list)
    index: list[tuple[int, int]] = field(default_factory=list)
    info: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.labels = np.asarray(self.labels, dtype=int)
        if not (len(self.clean) == len(self.corrupt) == len(self.labels)):
            raise ValueError(f"{len(self.clean)} clean texts, {len(self.corrupt)} corrupted, {len(self.labels)} labels")
        if len(self.clean) == 0:
            raise ValueError("no pairs")

    def __len__(self) -> int:
        return len(self.clean)

    def subset(self, rows: Sequence[int]) -> "Pairs":
        rows = list(rows)
        return Pairs([self.clean[i] for i in rows], [self.corrupt[i] for i in rows], self.labels[rows], self.source,
                     [self.words[i] for i in rows] if self.words else [],
                     [self.index[i] for i in rows] if self.index else [], dict(self.info))

    def tokenize(self, model) -> tuple[Batch, Batch]:
        """(clean batch, corrupted batch), aligned row by row; :class:`PairLengthError` naming the
        first pair whose token lengths differ."""
        clean, corrupt = model.tokenize(self.clean), model.tokenize(self.corrupt)
        bad = torch.nonzero(clean.lengths != corrupt.lengths).flatten().tolist()
        if bad:
            i = bad[0]
            raise PairLengthError(
                f"pair {i} has clean and corrupted inputs of different token lengths for {model.name!r}: "
                f"{int(clean.lengths[i])} tokens in {self.clean[i]!r} vs {int(corrupt.lengths[i])} in "
                f"{self.corrupt[i]!r} ({len(bad)} of {len(self)} pairs differ"
                + (f"; words {self.words[i]}" if self.words else "") + ")"
            )
        return clean, corrupt

    def differing_positions(self, model) -> list[list[int]]:
        """Token positions where clean and corrupted inputs differ, per pair."""
        clean, corrupt = self.tokenize(model)
        diff = (clean.tokens != corrupt.tokens) & clean.mask
        return [torch.nonzero(r).flatten().tolist() for r in diff]


def _split_words(model, part: str) -> dict[str, list[str]]:
    if part not in ("train", "test", "all"):
        raise ValueError(f"part must be 'train', 'test' or 'all', not {part!r}")
    if hasattr(model, "encode"):  # BPE models: single-token adjectives, the same split as the directions
        split = ToyTemplates().split(model)
    else:  # byte models: every adjective, alternately into train and test
        split = {"train": {"positive": POSITIVE_ADJECTIVES[0::2], "negative": NEGATIVE_ADJECTIVES[0::2]},
                 "test": {"positive": POSITIVE_ADJECTIVES[1::2], "negative": NEGATIVE_ADJECTIVES[1::2]}}
    if part == "all":
        return {k: split["train"][k] + split["test"][k] for k in ("positive", "negative")}
    return split[part]


def _length(model, text: str) -> int:
    return int(model.tokenize([text]).lengths[0])


def toy_pairs(model, part: str = "test", flip: str = "adjective", template: str = TOY_TEMPLATE,
              n: int | None = None, same_length: bool = True) -> Pairs:
    """Toy reviews with the sentiment word flipped, in both directions.

    Positive and negative adjectives (of ``part``: the held-out ``test`` adjectives by default,
    so a direction fit on ``train`` is patched on words it never saw) are matched one to one
    among those giving the same token length; verbs likewise (from one length class). With
    ``flip="adjective"`` the verb is the clean text's in both. ``same_length`` keeps only the
    most common layout (total length and differing positions), so that every pair has the same
    positions (one heatmap column per template token). ``n``: keep the first ``n`` pairs (balanced: pairs come in
    positive/negative couples).
    """
    if flip not in FLIPS:
        raise ValueError(f"flip must be one of {FLIPS}, not {flip!r}")
    if "{ADJ}" not in template or "{VRB}" not in template:
        raise ValueError("the template needs {ADJ} and {VRB}")
    words = _split_words(model, part)

    def fill(adj: str, verb: str) -> str:
        return template.replace("{ADJ}", " " + adj).replace("{VRB}", " " + verb)

    # match adjectives of equal token length (with a fixed verb), then verbs of equal length
    by_len: dict[str, dict[int, list[str]]] = {"positive": defaultdict(list), "negative": defaultdict(list)}
    for pol in by_len:
        for adj in words[pol]:
            by_len[pol][_length(model, fill(adj, POSITIVE_VERBS[0]))].append(adj)
    adj_pairs = []
    for L in sorted(set(by_len["positive"]) & set(by_len["negative"])):
        adj_pairs += list(zip(by_len["positive"][L], by_len["negative"][L]))
    vlen: dict[str, dict[int, list[str]]] = {"positive": defaultdict(list), "negative": defaultdict(list)}
    for pol, verbs in (("positive", POSITIVE_VERBS), ("negative", NEGATIVE_VERBS)):
        for v in verbs:
            vlen[pol][_length(model, fill(words["positive"][0], v))].append(v)
    # verbs from one length class only (the largest), so that verbs never shift positions
    classes = [list(zip(vlen["positive"][L], vlen["negative"][L]))
               for L in sorted(set(vlen["positive"]) & set(vlen["negative"]))]
    verb_pairs = max(classes, key=len) if classes else []
    if not adj_pairs or not verb_pairs:
        raise PairLengthError(f"no positive and negative toy words of equal token length for {model.name!r}")
    clean, corrupt, labels, used = [], [], [], []
    for i, (pa, na) in enumerate(adj_pairs):
        pv, nv = verb_pairs[i % len(verb_pairs)]
        if flip == "adjective":
            couples = [(fill(pa, pv), fill(na, pv), 1, (pa, na)), (fill(na, nv), fill(pa, nv), 0, (na, pa))]
        else:
            couples = [(fill(pa, pv), fill(na, nv), 1, (f"{pa}/{pv}", f"{na}/{nv}")),
                       (fill(na, nv), fill(pa, pv), 0, (f"{na}/{nv}", f"{pa}/{pv}"))]
        for c, k, lab, w in couples:
            clean.append(c)
            corrupt.append(k)
            labels.append(lab)
            used.append(w)
    pairs = Pairs(clean, corrupt, np.array(labels), source=f"toy templates ({part} adjectives, flip={flip})",
                  words=used, info={"template": template, "flip": flip, "part": part})
    cb, kb = pairs.tokenize(model)
    lengths = cb.lengths.tolist()
    if same_length:  # one layout: the same length and the same differing positions in every pair
        diff = ((cb.tokens != kb.tokens) & cb.mask).tolist()
        sig = [(L, tuple(i for i, x in enumerate(d) if x)) for L, d in zip(lengths, diff)]
        common = Counter(sig).most_common(1)[0][0]
        keep = [i for i, g in enumerate(sig) if g == common]
        pairs.info["dropped_other_layouts"] = len(lengths) - len(keep)
        pairs = pairs.subset(keep)
    if n is not None:
        if n < 2:
            raise ValueError("n must be at least 2 (one pair each way)")
        pairs = pairs.subset(range(min(n, len(pairs))))
    pairs.info["n"] = len(pairs)
    return pairs


def sst_pairs(model, texts: Sequence[str], labels: Sequence[int], *, template: str = "{text}",
              n: int | None = None, seed: int = 0) -> Pairs:
    """SST sentences of opposite labels paired by token length (of the formatted input).

    Within each token length, positives and negatives are shuffled (seeded) and zipped; the
    surplus of the larger class is dropped (``info["unpaired"]``). Pairs alternate which side is
    clean, so the clean labels are balanced; ``n`` keeps a seeded sample of ``n`` pairs.
    """
    labels = np.asarray(labels, dtype=int)
    if len(texts) != len(labels):
        raise ValueError(f"{len(texts)} texts but {len(labels)} labels")
    formatted = [template.format(text=t) for t in texts]
    lengths = model.tokenize(formatted).lengths.tolist()
    rng = np.random.default_rng(seed)
    groups: dict[int, dict[int, list[int]]] = defaultdict(lambda: {0: [], 1: []})
    for i, (L, y) in enumerate(zip(lengths, labels)):
        groups[L][int(y)].append(i)
    matched = []
    for L in sorted(groups):
        pos, neg = rng.permutation(groups[L][1]).tolist(), rng.permutation(groups[L][0]).tolist()
        matched += list(zip(pos, neg))
    if not matched:
        raise PairLengthError("no two SST sentences of opposite labels have the same token length")
    order = rng.permutation(len(matched))
    if n is not None:
        order = order[:n]
    clean, corrupt, labs, index = [], [], [], []
    for j, k in enumerate(order):
        p, q = matched[k]
        a, b = (p, q) if j % 2 == 0 else (q, p)
        clean.append(formatted[a])
        corrupt.append(formatted[b])
        labs.append(int(labels[a]))
        index.append((int(a), int(b)))
    return Pairs(clean, corrupt, np.array(labs), source="SST, opposite labels paired by token length", index=index,
                 info={"template": template, "n_texts": len(texts), "n_matched": len(matched),
                       "unpaired": len(texts) - 2 * len(matched), "seed": seed, "n": len(clean)})


__all__ = ["Pairs", "PairLengthError", "toy_pairs", "sst_pairs", "FLIPS"]
