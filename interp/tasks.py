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

from interp import data as datasets
from interp import positions as P
from interp.lexicon import (  # noqa: F401  (re-exported: the toy templates' words)
    NEGATIVE_ADJECTIVES, NEGATIVE_VERBS, POSITIVE_ADJECTIVES, POSITIVE_VERBS,
)
from interp.models.protocol import Batch
from interp.engine.conditions import LogitDiff
from interp.engine.shard import batches  # noqa: F401  (re-exported: length-sorted batches)
from interp.engine.sweep import merge_batches, run_sweep

PROMPTS: dict[str, tuple[str, str, str]] = {
    # name: (template, positive answer, negative answer)
    "tigges": ("{text} Review Sentiment:", " Positive", " Negative"),
    "very": ("{text} very", " positive", " negative"),
    "movie": ("{text} Overall the movie was just very", " good", " bad"),
}


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
        from interp.validate import check_count

        check_count("batch_size", self.batch_size)

    def answer_ids(self, model) -> tuple[int, int]:
        return model.single_token(self.positive), model.single_token(self.negative)

    def format(self, texts: Sequence[str]) -> list[str]:
        """The prompt around each text; a bare string, non-str, empty or whitespace-only texts are refused."""
        from interp.validate import check_texts

        return [self.template.format(text=t) for t in check_texts(texts)]

    def make_batches(self, model, texts: Sequence[str]) -> list[Batch]:
        """Tokenised, length-sorted batches; ``Batch.ids`` index into ``texts``."""
        everything = model.tokenize(self.format(texts))
        return [everything.select(idx) for idx in batches(len(everything), everything.lengths.tolist(), self.batch_size)]

    def reader(self, model):
        """The per-example number this task reads: the logit difference of its two answers."""

        pos_id, neg_id = self.answer_ids(model)
        return LogitDiff(pos_id, neg_id, self.positive, self.negative)

    def evaluate(
        self,
        model,
        texts: Sequence[str] | None = None,
        conditions=None,
        *,
        batches_: list[Batch] | None = None,
        progress: bool | str = True,
        **engine,
    ) -> dict[str, np.ndarray]:
        """Logit difference (positive − negative) per text, for each named condition.

        ``conditions``: :class:`~interp.engine.sweep.Condition` objects or a mapping of names to lists
        of interventions (objects with ``bind(batch, model)``); ``{"baseline": []}`` by default.
        Runs through :func:`interp.engine.sweep.run_sweep` (``engine`` keywords: ``run``, ``engine``,
        ``prefix_reuse``, …); its stats are kept in ``self.last_stats``.
        """

        if batches_ is None:
            from interp.validate import check_texts

            check_texts(texts)
        conditions = conditions if conditions is not None else {"baseline": []}
        if not conditions:
            raise ValueError("conditions must be a non-empty list of Conditions or dict of name -> list of interventions")
        examples = merge_batches(batches_) if batches_ is not None else model.tokenize(self.format(texts))
        out = run_sweep(model, examples, conditions, self.reader(model), batch_size=self.batch_size,
                        progress=progress if isinstance(progress, str) else ("SST zero-shot" if progress else False),
                        **engine)
        self.last_stats = out.stats
        return out.scores


# Words from Tigges et al. (2023)-style toy reviews; filtered to single tokens per tokenizer and
# split into train and test halves so a direction is never judged on the words it was fit on.
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


def gather_at(model, texts: Sequence[str], positions: Sequence[int], sites: Sequence[str], batch_size: int = 64,
              *, progress: bool | str = False) -> dict[str, torch.Tensor]:
    """Activations (n, d) at one token per text, for several sites in one pass (``progress``: a bar,
    named by the string when one is given)."""
    out: dict[str, list[torch.Tensor]] = {s: [] for s in sites}
    desc = progress if isinstance(progress, str) else "activations"
    for i in tqdm(range(0, len(texts), batch_size), desc=desc, disable=not progress, unit="batch"):
        b = model.tokenize(list(texts[i : i + batch_size]))
        _, acts = model.run(b, read=sites)
        pos = torch.as_tensor(positions[i : i + batch_size])
        for s in sites:
            out[s].append(acts[s][torch.arange(len(b)), pos].float().cpu())
    return {s: torch.cat(v) for s, v in out.items()}


# --------------------------------------------------------------------------------------------
# More toy templates (for fitting directions on several phrasings, not one). The original
# TOY_TEMPLATE / ToyTemplates above are unchanged (interp ablate uses them).

#: Templates with one sentiment adjective ``{ADJ}`` (read there) and an optional verb ``{VRB}``
#: after it. The adjective always follows " was", so its tokenization is the same in all of them.
TOY_TEMPLATES: dict[str, str] = {
    "tigges": TOY_TEMPLATE,
    "film": "The film was{ADJ} and I{VRB} every minute of it.",
    "acting": "Honestly, the acting was{ADJ}. Overall I{VRB} this movie.",
    "friend": "My friend said the show was{ADJ}, and I{VRB} it too.",
    "night": "Last night I saw a movie. It was{ADJ}, and I{VRB} it.",
    "review": "Review: the story was{ADJ}. I{VRB} it.",
}


@dataclass
class ToySet:
    """Toy prompts over several templates: ``texts``, ``labels`` (1 positive), ``positions`` (token
    index of the adjective's last token, counting the BOS), ``words``, ``templates`` (template
    name per row) and ``info`` (word lists, what was dropped)."""

    texts: list[str]
    labels: np.ndarray
    positions: np.ndarray
    words: list[str]
    templates: list[str]
    info: dict = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.texts)


def toy_word_split(model) -> dict[str, dict[str, list[str]]]:
    """Train/test adjective lists, kept apart. BPE models: single-token adjectives (" word" one
    token for this tokenizer), alternately into train and test (the split ``ToyTemplates`` uses);
    models without ``encode`` (the byte mLSTM): every adjective, alternately."""
    if hasattr(model, "encode"):
        return ToyTemplates().split(model)
    return {"train": {"positive": POSITIVE_ADJECTIVES[0::2], "negative": NEGATIVE_ADJECTIVES[0::2]},
            "test": {"positive": POSITIVE_ADJECTIVES[1::2], "negative": NEGATIVE_ADJECTIVES[1::2]}}


def _word_tokens(pieces: Sequence[str], before: str, word: str) -> list[int]:
    """Token indices covering the first ``before + " " + word`` in the joined pieces' text, for the
    characters of ``word``; [] when not found."""
    joined = "".join(pieces)
    at = joined.find(before + " " + word)
    if at < 0:
        return []
    start = at + len(before) + 1
    end = start + len(word)
    out, pos = [], 0
    for i, p in enumerate(pieces):
        if p and pos < end and pos + len(p) > start:
            out.append(i)
        pos += len(p)
    return out


def toy_dataset(model, part: str = "train", templates: Sequence[str] | None = None) -> ToySet:
    """Toy reviews over several :data:`TOY_TEMPLATES`, read at the adjective.

    ``part``: ``"train"`` or ``"test"`` adjectives (:func:`toy_word_split`: never both). One
    prompt per (template, adjective); the verb (which comes after the adjective, so it cannot
    change a causal model's state there) is cycled through the verbs of the same polarity. The
    position is the adjective's last token; for a BPE model a row whose adjective is not exactly
    one token in context is dropped (counted in ``info["dropped"]``).
    """
    if part not in ("train", "test"):
        raise ValueError(f"part must be 'train' or 'test', not {part!r}")
    names = list(TOY_TEMPLATES) if templates is None else list(templates)
    bad = [t for t in names if t not in TOY_TEMPLATES]
    if bad:
        raise ValueError(f"unknown toy template(s) {bad}; choose from {', '.join(TOY_TEMPLATES)}")
    words = toy_word_split(model)[part]
    bpe = hasattr(model, "encode")
    texts, labels, used, tnames, befores = [], [], [], [], []
    for name in names:
        tpl = TOY_TEMPLATES[name]
        before = tpl.split("{ADJ}")[0]
        for label, (adjs, verbs) in enumerate([(words["negative"], NEGATIVE_VERBS), (words["positive"], POSITIVE_VERBS)]):
            for j, adj in enumerate(adjs):
                texts.append(tpl.replace("{ADJ}", " " + adj).replace("{VRB}", " " + verbs[j % len(verbs)]))
                labels.append(label)
                used.append(adj)
                tnames.append(name)
                befores.append(before)
    batch = model.tokenize(texts)
    keep, positions, dropped = [], [], []
    for row, (adj, before) in enumerate(zip(used, befores)):
        toks = _word_tokens(batch.pieces[row], before, adj)
        if not toks or (bpe and (len(toks) != 1 or batch.pieces[row][toks[0]].strip() != adj)):
            dropped.append(texts[row])
            continue
        keep.append(row)
        positions.append(toks[-1])
    if not keep:
        raise ValueError(f"no toy prompt has its adjective where expected for {model.name!r}")
    lab = np.array([labels[i] for i in keep])
    if len(set(lab.tolist())) < 2:
        raise ValueError(f"toy {part} prompts for {model.name!r} hold only one class")
    return ToySet([texts[i] for i in keep], lab, np.array(positions), [used[i] for i in keep],
                  [tnames[i] for i in keep],
                  info={"part": part, "templates": names, "words": words, "dropped": len(dropped),
                        "read_at": "last token of the adjective", "n": len(keep)})


def reference_stats(model, task: "SSTZeroShot", texts, sites, selectors, *, progress=True):
    """Mean activation per (selector, site) over ``texts``, and residual norms by position."""
    sums = {sel.name: {s: torch.zeros(model.sites()[s], dtype=torch.float64) for s in sites} for sel in selectors}
    counts = {sel.name: 0 for sel in selectors}
    norm_first = {s: [] for s in sites}
    norm_rest = {s: [] for s in sites}
    for b in tqdm(task.make_batches(model, texts), desc="reference means", disable=not progress):
        _, acts = model.run(b, read=sites)
        masks = {sel.name: sel.mask(b) for sel in selectors}
        rest = b.mask.clone()
        rest[:, 0] = False
        for s in sites:
            a = acts[s].double()
            for name, m in masks.items():
                sums[name][s] += a[m].sum(0)
            norms = a.norm(dim=-1)
            norm_first[s].append(norms[:, 0])
            norm_rest[s].append(norms[rest])
        for name, m in masks.items():
            counts[name] += int(m.sum())
    means = {}
    for name in sums:
        if counts[name] == 0:
            raise P.NoPositionsError(f"selector {name!r} matched nothing in the reference set")
        means[name] = {s: (v / counts[name]).float() for s, v in sums[name].items()}
    norms = {s: (float(torch.cat(norm_first[s]).mean()), float(torch.cat(norm_rest[s]).mean())) for s in sites}
    return means, counts, norms


def tigges_subset(correct0: np.ndarray, has_comma: np.ndarray, labels: np.ndarray, seed: int) -> np.ndarray:
    """Indices of sentences the model gets right and that contain a comma, classes balanced."""
    keep = np.flatnonzero(correct0.astype(bool) & has_comma.astype(bool))
    pos, neg = keep[labels[keep] == 1], keep[labels[keep] == 0]
    n = min(len(pos), len(neg))
    rng = np.random.default_rng(seed)
    return np.sort(np.concatenate([rng.choice(pos, n, replace=False), rng.choice(neg, n, replace=False)]))


def tigges_population(model, cfg, task: SSTZeroShot, *, progress: bool = True) -> dict:
    """Tigges et al.'s evaluation set: the sentences of ``cfg.tigges_splits`` that hold a comma, that
    the model gets right (logit difference toward the right answer > 0) with the right answer in
    its top ``cfg.tigges_top_k`` tokens at the last position, classes balanced (a seeded sample of
    the larger class, both rounded down to a multiple of 5 as their loader of batches of 5 does).
    ``cfg``: an ablation config (``tigges_splits``, ``tigges_limit``, ``tigges_top_k``, ``seed``,
    ``skip_first``)."""
    texts, labels, split_of, sources = [], [], [], []
    for sp in cfg.tigges_splits:
        lt = datasets.sst(sp)
        texts += list(lt.texts)
        labels += list(np.asarray(lt.labels).tolist())
        split_of += [sp] * len(lt)
        sources += list(lt.sources)
    if cfg.tigges_limit:
        pick = np.sort(np.random.default_rng(cfg.seed + 3).permutation(len(texts))[: cfg.tigges_limit])
        texts, labels, split_of = [texts[i] for i in pick], [labels[i] for i in pick], [split_of[i] for i in pick]
    labels = np.asarray(labels, dtype=int)
    pos_id, neg_id = task.answer_ids(model)
    batches = task.make_batches(model, texts)
    ld = np.full(len(texts), np.nan)
    in_top = np.zeros(len(texts), dtype=bool)
    has_comma = np.zeros(len(texts), dtype=bool)
    commas = P.Commas(skip_first=cfg.skip_first, allow_empty=True)
    for b in tqdm(batches, desc="Tigges filter", disable=not progress):
        logits, _ = model.run(b)
        ids = b.ids.numpy()
        ld[ids] = (logits[:, pos_id] - logits[:, neg_id]).float().cpu().numpy()
        top = logits.topk(min(cfg.tigges_top_k, logits.shape[-1]), dim=-1).indices.cpu()
        right = torch.where(torch.as_tensor(labels[ids]) == 1, pos_id, neg_id)
        in_top[ids] = (top == right[:, None]).any(1).numpy()
        has_comma[ids] = commas.counts(b).numpy() > 0
    correct = np.where(labels == 1, ld > 0, ld < 0)
    keep = np.flatnonzero(correct & in_top & has_comma)
    pos, neg = keep[labels[keep] == 1], keep[labels[keep] == 0]
    n = (min(len(pos), len(neg)) // 5) * 5
    rng = np.random.default_rng(cfg.seed)
    chosen = np.sort(np.concatenate([rng.choice(pos, n, replace=False), rng.choice(neg, n, replace=False)]))
    counts = {"sentences": len(texts), "correct": int(correct.sum()), "correct_top_k": int((correct & in_top).sum()),
              "with_comma": int(has_comma.sum()), "kept": int(len(keep)), "kept_positive": int(len(pos)),
              "kept_negative": int(len(neg)), "balanced": int(2 * n),
              "by_split": {sp: int(sum(1 for i in chosen if split_of[i] == sp)) for sp in cfg.tigges_splits}}
    return {"texts": [texts[i] for i in chosen], "labels": labels[chosen], "index": chosen.tolist(),
            "splits": [split_of[i] for i in chosen], "counts": counts, "sources": sources}
