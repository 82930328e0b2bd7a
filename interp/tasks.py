"""Tasks: the behaviour we measure.

- :class:`SSTZeroShot`: a prompt after each SST sentence; the logit difference between a
  positive and a negative answer token at the last real token is the model's score.
- :class:`ToyTemplates`: short templated reviews whose one sentiment word is known; the
  fitting data for a first sentiment direction (Tigges et al. 2023).
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from typing import Sequence

import numpy as np
import torch
from tqdm.auto import tqdm

from .model import Batch

PROMPTS: dict[str, tuple[str, str, str]] = {
    # name: (template, positive answer, negative answer)
    "tigges": ("{text} Review Sentiment:", " Positive", " Negative"),
    "very": ("{text} very", " positive", " negative"),
    "movie": ("{text} Overall the movie was just very", " good", " bad"),
}


def batches(n: int, lengths: Sequence[int], batch_size: int) -> list[np.ndarray]:
    """Indices grouped into batches of similar token length (less padding), longest first."""
    order = np.argsort(-np.asarray(lengths), kind="stable")
    return [order[i : i + batch_size] for i in range(0, n, batch_size)]


@dataclass
class SSTZeroShot:
    """Zero-shot sentiment classification by next-token logit difference."""

    prompt: str = "very"
    batch_size: int = 32

    def __post_init__(self) -> None:
        if self.prompt in PROMPTS:
            self.template, self.positive, self.negative = PROMPTS[self.prompt]
        else:
            raise ValueError(f"unknown prompt {self.prompt!r}; choose from {', '.join(PROMPTS)}")

    def answer_ids(self, model) -> tuple[int, int]:
        return model.single_token(self.positive), model.single_token(self.negative)

    def format(self, texts: Sequence[str]) -> list[str]:
        return [self.template.format(text=t) for t in texts]

    def make_batches(self, model, texts: Sequence[str]) -> list[Batch]:
        """Tokenised, length-sorted batches; ``Batch.ids`` index into ``texts``."""
        everything = model.tokenize(self.format(texts))
        return [everything.select(idx) for idx in batches(len(everything), everything.lengths.tolist(), self.batch_size)]

    def evaluate(
        self,
        model,
        texts: Sequence[str] | None = None,
        conditions: dict[str, Sequence] | None = None,
        *,
        batches_: list[Batch] | None = None,
        progress: bool | str = True,
    ) -> dict[str, np.ndarray]:
        """Logit difference (positive − negative) per text, for each named condition.

        ``conditions`` maps a name to a list of interventions (objects with ``bind(batch, model)``);
        ``{"baseline": []}`` by default. All conditions run on the same batches.
        """
        pos_id, neg_id = self.answer_ids(model)
        conditions = conditions if conditions is not None else {"baseline": []}
        bs = batches_ if batches_ is not None else self.make_batches(model, texts)
        n = sum(len(b) for b in bs)
        out = {name: np.full(n, np.nan) for name in conditions}
        total = sum(int(b.mask.sum()) for b in bs) * len(conditions)
        desc = progress if isinstance(progress, str) else "SST zero-shot"
        with tqdm(total=total, unit="tok", desc=desc, disable=not progress, unit_scale=True) as bar:
            for b in bs:
                for name, ivs in conditions.items():
                    logits, _ = model.run(b, interventions=[iv.bind(b, model) for iv in ivs])
                    ld = (logits[:, pos_id] - logits[:, neg_id]).float().cpu().numpy()
                    out[name][b.ids.numpy()] = ld
                    bar.update(int(b.mask.sum()))
        return out


# Words from Tigges et al. (2023)-style toy reviews; filtered to single tokens per tokenizer and
# split into train and test halves so a direction is never judged on the words it was fit on.
POSITIVE_ADJECTIVES = [
    "perfect", "fantastic", "delightful", "cheerful", "marvelous", "good", "remarkable", "wonderful",
    "fabulous", "outstanding", "awesome", "exceptional", "incredible", "extraordinary", "amazing",
    "lovely", "brilliant", "charming", "terrific", "superb", "spectacular", "great", "splendid",
    "beautiful", "joyful", "excellent", "nice", "fun", "fine", "pleasant", "enjoyable", "magnificent",
]
NEGATIVE_ADJECTIVES = [
    "dreadful", "bad", "dull", "depressing", "miserable", "tragic", "nasty", "inferior", "horrific",
    "terrible", "awful", "disgusting", "disastrous", "horrendous", "annoying", "boring", "offensive",
    "frustrating", "wretched", "dire", "poor", "sad", "ugly", "stupid", "pathetic", "weak", "lame",
    "mediocre", "horrible", "hideous", "worst", "painful",
]
POSITIVE_VERBS = ["enjoyed", "loved", "liked", "adored", "appreciated", "admired"]
NEGATIVE_VERBS = ["hated", "disliked", "despised", "loathed", "detested", "resented"]

TOY_TEMPLATE = "I thought this movie was{ADJ}, I{VRB} it. \nConclusion: This movie is"


@dataclass
class ToyPrompts:
    texts: list[str]
    labels: np.ndarray
    positions: np.ndarray  # token index of the adjective, counting the BOS
    words: list[str]


@dataclass
class ToyTemplates:
    template: str = TOY_TEMPLATE
    positive: list[str] = field(default_factory=lambda: list(POSITIVE_ADJECTIVES))
    negative: list[str] = field(default_factory=lambda: list(NEGATIVE_ADJECTIVES))
    positive_verbs: list[str] = field(default_factory=lambda: list(POSITIVE_VERBS))
    negative_verbs: list[str] = field(default_factory=lambda: list(NEGATIVE_VERBS))

    def single_token_words(self, model, words: Sequence[str]) -> list[str]:
        return [w for w in words if len(model.encode(" " + w)) == 1]

    def split(self, model) -> dict[str, dict[str, list[str]]]:
        """Single-token adjectives, alternately into train and test (deterministic)."""
        out: dict[str, dict[str, list[str]]] = {"train": {}, "test": {}}
        for label, words in (("positive", self.positive), ("negative", self.negative)):
            ok = self.single_token_words(model, words)
            if len(ok) < 4:
                raise ValueError(
                    f"only {len(ok)} {label} adjectives are single tokens for {model.name!r} ({ok}); need at least 4"
                )
            out["train"][label], out["test"][label] = ok[0::2], ok[1::2]
        return out

    def prompts(self, model, part: str = "train") -> ToyPrompts:
        words = self.split(model)[part]
        prefix = self.template.split("{ADJ}")[0]
        texts, labels, positions, used = [], [], [], []
        for label, (adjs, verbs) in enumerate(
            [(words["negative"], self.negative_verbs), (words["positive"], self.positive_verbs)]
        ):
            for adj, verb in itertools.product(adjs, verbs):
                texts.append(self.template.replace("{ADJ}", " " + adj).replace("{VRB}", " " + verb))
                labels.append(label)
                used.append(adj)
        batch = model.tokenize(texts)
        n_prefix = len(model.encode(prefix)) + (1 if batch.has_bos else 0)
        for row, adj in enumerate(used):
            got = batch.pieces[row][n_prefix]
            if got.strip() != adj:
                raise ValueError(f"adjective {adj!r} is not at token {n_prefix} of {texts[row]!r} (found {got!r})")
            positions.append(n_prefix)
        return ToyPrompts(texts, np.array(labels), np.array(positions), used)


def gather_at(model, texts: Sequence[str], positions: Sequence[int], sites: Sequence[str], batch_size: int = 64) -> dict[str, torch.Tensor]:
    """Activations (n, d) at one token per text, for several sites in one pass."""
    out: dict[str, list[torch.Tensor]] = {s: [] for s in sites}
    for i in range(0, len(texts), batch_size):
        b = model.tokenize(list(texts[i : i + batch_size]))
        _, acts = model.run(b, read=sites)
        pos = torch.as_tensor(positions[i : i + batch_size])
        for s in sites:
            out[s].append(acts[s][torch.arange(len(b)), pos].float().cpu())
    return {s: torch.cat(v) for s, v in out.items()}
