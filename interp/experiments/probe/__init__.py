"""Linear probes on the byte mLSTM's final state: is SST sentiment one unit or a direction?

The analysis half of Radford et al. 2017 ("Learning to Generate Reviews and Discovering
Sentiment") on our own IMDB-trained mLSTM (``interp probe-mlstm``):

- :func:`extract_features`: the final cell state ``c`` and hidden state ``h`` after each text
  (OpenAI's preprocessing, ``'\\n ' + text + ' '``), batched by length.
- The probes, :func:`interp.finders.probes.sentiment_probes` (their protocol: the L1 probe with
  ``C`` chosen on SST **dev**, the L2 probe, the best single unit, on features standardised with
  the train set's statistics) and :func:`interp.finders.probes.data_efficiency` (test accuracy
  against the number of labelled training sentences), re-exported here.
- Baselines: :func:`bag_of_words` (tf-idf + logistic regression) and the untrained model
  (same config, random init from the config's seed) through the same probes.
- :func:`probe_splits`: the SST (or in-domain IMDB) train/dev/test splits.
- :func:`probe_report`: all of it on SST train/dev/test as one :class:`~interp.report.results.Result`;
  :func:`checkpoint_comparison`: several such reports side by side.
- :func:`byte_trace`: a unit's (or direction's) value after every byte, for coloured text.
"""

from __future__ import annotations

import hashlib
import json
import time
from pathlib import Path
from typing import Any, List, Optional, Sequence, Union

import numpy as np
import torch

from interp.finders.linear import _logreg
from interp.finders.probes import (C_GRID_L1, C_GRID_L2, STANDARDISATION, _standardise,  # noqa: F401  (re-exported)
                                   data_efficiency, sentiment_probes, stratified_sample)
from interp.metrics import unit_accuracies  # noqa: F401  (re-exported)
from interp.models.mlstm import MLSTM, _paths, preprocess
from interp.report.results import Result, Table, TokenTrace, file_sha256, make_manifest

__all__ = [
    "C_GRID_L1",
    "C_GRID_L2",
    "extract_features",
    "byte_trace",
    "untrained_like",
    "unit_accuracies",
    "sentiment_probes",
    "data_efficiency",
    "bag_of_words",
    "probe_report",
    "checkpoint_meta",
    "checkpoint_comparison",
]

#: The bag-of-words baseline's grid, 2^-4 … 2^6.
C_GRID_BOW: tuple[float, ...] = tuple(2.0**k for k in range(-4, 7))

SITES = ("c", "h")
FEATURE_NAMES = {"c": "Final c", "h": "Final h", "h_mean": "Mean h"}
#: feature sets :func:`extract_features` can return: the final cell/hidden state, and ``h_mean``,
#: the hidden state averaged over every byte of the (preprocessed) text
FEATURES = ("c", "h", "h_mean")
FRONT_PAD, END_PAD = b"\n ", b" "


# --------------------------------------------------------------------------- features


def _check_which(which: Union[str, Sequence[str]], allowed: Sequence[str] = SITES) -> tuple[str, ...]:
    if isinstance(which, str):
        which = (which,)
    which = tuple(which)
    bad = [w for w in which if w not in allowed]
    if bad or not which:
        raise ValueError(f"which must name features among {tuple(allowed)} ('c' = final cell state, 'h' = final "
                         f"hidden state, 'h_mean' = hidden state averaged over the bytes); got {which!r}")
    return which


def _texts(texts: Any) -> list:
    if isinstance(texts, (str, bytes)):
        raise TypeError("expected a sequence of texts, not one text")
    return list(getattr(texts, "texts", texts))


def extract_features(
    model: MLSTM,
    texts: Sequence[Union[str, bytes]],
    *,
    batch_size: int = 128,
    which: Union[str, Sequence[str]] = ("c", "h"),
    progress: bool = True,
) -> dict[str, np.ndarray]:
    """Final ``c`` and/or ``h`` after each text: ``{"c": (n, d), "h": (n, d)}`` float32 arrays, in
    the order of ``texts``; ``"h_mean"`` in ``which`` adds the hidden state averaged over every
    byte of the preprocessed text (a bag-of-states read-out: it keeps what the final state has
    forgotten, but an untrained model's averaged states already carry character n-gram
    statistics, so compare it with the untrained baseline).

    Each text is read as OpenAI did (:func:`interp.models.mlstm.preprocess`: ``'\\n ' + text + ' '``),
    so the features are the state after the trailing space. Texts are sorted by length and run
    in right-padded batches of ``batch_size`` (padded steps keep the state, so each row ends on
    its own last byte) under ``torch.inference_mode``; the result equals an unbatched run up to
    float rounding. ``texts`` may be a list or a :class:`~interp.data.LabelledTexts`.
    """
    which = _check_which(which, FEATURES)
    texts = _texts(texts)
    if batch_size < 1:
        raise ValueError(f"batch_size must be positive, got {batch_size}")
    n, d = len(texts), model.cfg.d_hidden
    out = {w: np.empty((n, d), dtype=np.float32) for w in which}
    if n == 0:
        return out
    seqs = model.require_tokenizer().encode_each(texts, scheme=model.cfg.preprocess)
    lengths = np.array([len(s) for s in seqs])
    order = np.argsort(lengths, kind="stable")
    bar = None
    if progress:
        try:
            from tqdm.auto import tqdm

            bar = tqdm(total=int(lengths.sum()), unit="B", unit_scale=True, desc="mLSTM features", dynamic_ncols=True)
        except ImportError:  # pragma: no cover
            bar = None
    device = model.device
    try:
        with torch.inference_mode():
            for start in range(0, n, batch_size):
                idx = order[start : start + batch_size]
                T = int(lengths[idx].max())
                tokens = torch.zeros(len(idx), T, dtype=torch.long)
                mask = torch.zeros(len(idx), T, dtype=torch.bool)
                for r, i in enumerate(idx):
                    tokens[r, : lengths[i]] = seqs[i]
                    mask[r, : lengths[i]] = True
                tokens, mask = tokens.to(device), mask.to(device)
                if "h_mean" in out:
                    H, (c, h) = model.scan(tokens, mask)
                    m = mask[..., None].to(H.dtype)
                    out["h_mean"][idx] = ((H * m).sum(1) / m.sum(1)).float().cpu().numpy()
                else:
                    c, h = model.features(tokens, mask)
                for w, v in (("c", c), ("h", h)):
                    if w in out:
                        out[w][idx] = v.float().cpu().numpy()
                if bar is not None:
                    bar.update(int(lengths[idx].sum()))
    finally:
        if bar is not None:
            bar.close()
    return out


def _unit_vector(direction: Any, d: int) -> torch.Tensor:
    """``direction`` (a vector, or an :class:`interp.directions.Direction`) as a float32 unit vector."""
    vec = getattr(direction, "vector", direction)
    try:
        v = (vec.detach().to("cpu", torch.float32) if isinstance(vec, torch.Tensor)
             else torch.as_tensor(np.asarray(vec, dtype=np.float32)))
    except (TypeError, ValueError):
        raise ValueError(f"direction must be a vector of width {d}; got {type(vec).__name__}") from None
    if v.dim() != 1 or v.shape[0] != d:
        raise ValueError(f"direction must be a vector of width {d} (d_hidden); got shape {tuple(v.shape)}")
    norm = float(v.norm())
    if not np.isfinite(norm) or norm == 0:
        raise ValueError("direction is zero or not finite")
    return v / norm


def byte_trace(
    model: MLSTM,
    text: Union[str, bytes],
    unit: Optional[int] = None,
    direction: Any = None,
    site: str = "c",
    *,
    keep_pads: bool = False,
) -> tuple[list[str], np.ndarray]:
    """A unit's (or a direction's) value after every character of ``text``: ``(chars, values)``.

    The text is read as :func:`extract_features` reads it (``'\\n ' + text + ' '``, HTML
    unescaped, stripped). ``chars`` are the characters of that preprocessed text; a multi-byte
    UTF-8 character gets the value after its last byte (its other bytes are dropped), so
    ``"".join(chars)`` is the preprocessed text. The front pad ``'\\n '`` and the trailing
    ``' '`` are dropped unless ``keep_pads`` (the probes read the state after the trailing
    space, i.e. the value one step after the last one shown). ``direction``: a vector of width
    ``d_hidden`` or an :class:`interp.directions.Direction`; the value is the projection on its
    unit vector. ``site``: ``"c"`` (cell) or ``"h"`` (hidden).

    A BPE model (:mod:`interp.models.tokenizer`) gives one entry per token: ``chars`` are the token
    pieces (the text each token completes, cut to the shown text where a token holds a pad,
    e.g. ``" I"`` after the front pad shows as ``"I"``), still joining to the text.
    """
    (site,) = _check_which(site)
    d = model.cfg.d_hidden
    if (unit is None) == (direction is None):
        raise ValueError("give exactly one of unit= or direction=")
    if unit is not None:
        if isinstance(unit, bool) or not isinstance(unit, (int, np.integer)) or not 0 <= int(unit) < d:
            raise ValueError(f"unit must be an int in [0, {d}); got {unit!r}")
        unit = int(unit)
    else:
        direction = _unit_vector(direction, d)
    tok = model.require_tokenizer()
    ids = tok.encode(text, scheme=model.cfg.preprocess)
    tokens = ids[None]
    hook = f"hook_{site}"
    with torch.inference_mode():
        _, cache = model.run_with_cache(tokens.to(model.device), names_filter=hook)
    acts = cache[hook][0].float().cpu()  # (T, d)
    vals = acts[:, unit] if unit is not None else acts @ direction
    vals = vals.numpy()
    pieces = tok.pieces(ids)
    n_chars = sum(len(p) for p in pieces)
    lo, hi = (0, n_chars) if keep_pads else (len(FRONT_PAD.decode()), n_chars - len(END_PAD.decode()))
    keep, shown, pos = [], [], 0
    for i, p in enumerate(pieces):  # each token's text, cut to [lo, hi) (a BPE token may hold a pad)
        a, b = max(pos, lo), min(pos + len(p), hi)
        pos += len(p)
        if a < b:
            keep.append(i)
            shown.append(p[a - (pos - len(p)) : b - (pos - len(p))])
    return shown, vals[keep].astype(np.float32)


def untrained_like(model: MLSTM) -> MLSTM:
    """A freshly initialised model of the same architecture and size, from the config's seed."""
    fresh = MLSTM(model.cfg, dtype=model.dtype, tokenizer=model.tokenizer)
    return fresh.to(model.device).eval()

# --------------------------------------------------------------------------- baselines


def bag_of_words(
    train_texts: Sequence[str],
    train_y: np.ndarray,
    dev_texts: Sequence[str],
    dev_y: np.ndarray,
    test_texts: Optional[Sequence[str]] = None,
    test_y: Optional[np.ndarray] = None,
    *,
    vectorizer: str = "tfidf",
    ngram_range: tuple[int, int] = (1, 2),
    C_grid: Sequence[float] = C_GRID_BOW,
    min_df: int = 1,
) -> dict:
    """Bag-of-words baseline: ``vectorizer`` (``"tfidf"``: sublinear tf-idf, or ``"count"``:
    binary counts) over word ``ngram_range`` fitted on train, then an L2 logistic regression
    (liblinear) with ``C`` chosen on dev over ``C_grid`` (ties: the smallest). Test is scored
    only if given. Returns ``C``, ``dev_acc_by_C``, ``train_acc``, ``dev_acc``, ``test_acc``,
    ``n_features`` and the settings."""
    from sklearn.feature_extraction.text import CountVectorizer, TfidfVectorizer

    if vectorizer == "tfidf":
        vec = TfidfVectorizer(ngram_range=tuple(ngram_range), sublinear_tf=True, min_df=min_df)
    elif vectorizer == "count":
        vec = CountVectorizer(ngram_range=tuple(ngram_range), binary=True, min_df=min_df)
    else:
        raise ValueError(f"vectorizer must be 'tfidf' or 'count', got {vectorizer!r}")
    train_texts, dev_texts = _texts(train_texts), _texts(dev_texts)
    Xtr = vec.fit_transform(train_texts)
    Xdev = vec.transform(dev_texts)
    train_y, dev_y = np.asarray(train_y).astype(int), np.asarray(dev_y).astype(int)
    dev_by_C = [float(_logreg("l2", C, None).fit(Xtr, train_y).score(Xdev, dev_y)) for C in C_grid]
    C = float(C_grid[int(np.argmax(dev_by_C))])
    m = _logreg("l2", C, None).fit(Xtr, train_y)
    out = {
        "vectorizer": vectorizer, "ngram_range": list(ngram_range), "min_df": min_df, "C": C,
        "C_grid": list(C_grid), "dev_acc_by_C": dev_by_C, "train_acc": float(m.score(Xtr, train_y)),
        "dev_acc": float(m.score(Xdev, dev_y)), "test_acc": None, "n_features": int(Xtr.shape[1]),
    }
    if test_texts is not None and test_y is not None:
        out["test_acc"] = float(m.score(vec.transform(_texts(test_texts)), np.asarray(test_y).astype(int)))
    return out


# --------------------------------------------------------------------------- the report


def _model_hash(model: MLSTM) -> str:
    h = hashlib.sha256()
    for k, v in sorted(model.state_dict().items()):
        h.update(k.encode() + b"\0")
        h.update(v.detach().cpu().contiguous().numpy().tobytes())
    return h.hexdigest()


def _limit(lt, limit: Optional[int], seed: int, name: str):
    """``limit`` stratified random rows of ``lt`` (clamped to its size; ``None`` or 0: all)."""
    from interp.validate import check_limit

    limit = check_limit("--limit", limit)
    if limit is None or limit >= len(lt):
        return lt
    rng = np.random.default_rng([seed, len(lt)])
    idx = stratified_sample(lt.labels, int(limit), rng)
    return lt.subset(idx)


PROBE_DATA = ("sst", "imdb")
IMDB_DEFAULT_LIMIT = 1000


def probe_splits(data: str = "sst", limit: Optional[int] = None, seed: int = 0) -> dict:
    """Train/dev/test :class:`~interp.data.LabelledTexts` for :func:`probe_report`.

    ``"sst"``: the binary SST splits (``limit``: N random sentences of each, stratified, seeded).
    ``"imdb"``: whole IMDB reviews, in-domain for an mLSTM trained on IMDB: train and dev are two
    disjoint class-balanced samples of ``limit`` reviews (default 1,000) from IMDB *train*, test
    ``limit`` reviews from IMDB *test* (the language model never read test)."""
    from interp import data as D

    if data not in PROBE_DATA:
        raise ValueError(f"unknown probe data {data!r}: choose among {', '.join(PROBE_DATA)}")
    if data == "sst":
        return {s: _limit(D.sst(s), limit, seed, s) for s in ("train", "dev", "test")}
    from interp.validate import check_limit

    n = check_limit("--limit", limit) or IMDB_DEFAULT_LIMIT
    tr, te = D.imdb("train"), D.imdb("test")
    if 2 * n > len(tr) or n > len(te):
        raise ValueError(f"limit {n} too large for IMDB (train {len(tr)} rows gives 2×limit, test {len(te)})")
    rng = np.random.default_rng([seed, len(tr), n])
    halves: list[list[int]] = [[], []]
    for cls in (0, 1):
        rows = rng.permutation(np.flatnonzero(tr.labels == cls))
        k = n // 2 if cls == 1 else n - n // 2
        halves[0] += rows[:k].tolist()
        halves[1] += rows[k : 2 * k].tolist()
    return {"train": tr.subset(np.sort(halves[0])), "dev": tr.subset(np.sort(halves[1])),
            "test": _limit(te, n, seed, "test")}


def _pick_trace_sentences(texts: Sequence[str], labels: np.ndarray, lo: int = 60, hi: int = 160) -> list[int]:
    """The first positive and the first negative test sentence of lo..hi characters (a fixed
    rule, not chosen by what the unit does); falls back to the first of each class."""
    picks = []
    for cls in (1, 0):
        rows = [i for i, y in enumerate(labels) if y == cls]
        if not rows:
            continue
        fit = [i for i in rows if lo <= len(texts[i]) <= hi]
        picks.append((fit or rows)[0])
    return picks


def checkpoint_meta(model_path: Optional[Union[str, Path]]) -> dict:
    """What a checkpoint's card (``model.json``) says about its training (characters seen, held-out
    and train bpc, step); ``{}`` when there is no path or no such record."""
    if not model_path:
        return {}
    try:
        meta = json.loads(_paths(model_path)[1].read_text()).get("meta") or {}
    except (OSError, ValueError):
        return {}
    return {k: meta.get(k) for k in ("chars_seen", "held_out_bpc", "train_bpc", "step") if k in meta}


def checkpoint_comparison(results: Sequence[Result], command: Optional[str] = None) -> Result:
    """Several :func:`probe_report` results side by side, one row per model and feature set: held-out
    bpc, characters seen, L1 probe (accuracy, units it needs), L2 probe, best single unit and that
    unit's share of the L2 probe's accuracy above chance ((unit − ½)/(L2 − ½)): the table that says
    whether sentiment sits in one unit or spreads out as a model trains."""
    if not results:
        raise ValueError("checkpoint_comparison needs at least one probe result")
    rows, lines, seen = [], [], set()
    for res in results:
        if res.kind != "probe":
            raise ValueError(f"checkpoint_comparison takes probe results (interp probe-mlstm); got kind {res.kind!r}")
    data_sets = {r.data.get("data", "sst") for r in results}
    if len(data_sets) > 1:
        raise ValueError(f"checkpoint_comparison compares probe runs on one data set; got {sorted(data_sets)} "
                         "(an IMDB accuracy beside an SST one would read as a difference between models)")
    ds = "SST" if data_sets == {"sst"} else "IMDB"
    for res in results:
        d = res.data
        ck = d.get("checkpoint") or {}
        for w in d["sites"]:
            r = d["trained"][w]
            share = r.get("best_unit_share_of_l2")
            rows.append([d["model_name"], d["d_hidden"], ck.get("chars_seen"), ck.get("held_out_bpc"), w,
                         r["l1"]["test_acc"], r["l1"]["n_nonzero"], r["l2"]["test_acc"], r["best_unit"]["unit"],
                         r["best_unit"]["test_acc"], share])
        if d.get("untrained"):
            for w in d["sites"]:
                r = d["untrained"][w]
                if _untrained_seen(seen, d, w):
                    continue  # every run probes the same random init: list it once
                rows.append([f"untrained, {d['d_hidden']} units", d["d_hidden"], 0, None, w, r["l1"]["test_acc"],
                             r["l1"]["n_nonzero"], r["l2"]["test_acc"], r["best_unit"]["unit"],
                             r["best_unit"]["test_acc"], r.get("best_unit_share_of_l2")])
        best = max(d["sites"], key=lambda w: d["trained"][w]["l2"]["test_acc"])
        r = d["trained"][best]
        lines.append(f"{d['model_name']}" + (f" ({ck['chars_seen'] / 1e6:.1f} M chars, {ck['held_out_bpc']:.3f} bpc)"
                                            if ck.get("chars_seen") and ck.get("held_out_bpc") else "")
                     + f": best L2 probe {r['l2']['test_acc']:.1%} ({best}), L1 {r['l1']['test_acc']:.1%} with "
                     f"{r['l1']['n_nonzero']} units, best unit {r['best_unit']['test_acc']:.1%}.")
    table = Table(
        title=f"mLSTM checkpoints side by side ({ds} test)",
        columns=["model", "d_hidden", "chars seen", "held-out bpc", "features", "L1 probe", "L1 units", "L2 probe",
                 "best unit", "best unit acc.", "unit share of L2 above chance"],
        rows=rows,
        caption=(f"Each row from its own probe run (same protocol: C chosen on {ds} dev; best unit by dev accuracy). "
                 "Share = (best unit − 0.5)/(L2 − 0.5): near 1, one unit carries what the linear probe finds; near "
                 "0, it is spread over many units. Untrained rows: same architecture, random init."),
    )
    return Result(kind="probe_comparison", title="mLSTM checkpoints compared", summary="\n\n".join(lines),
                  tables=[table], figures=_comparison_figures(results, ds),
                  data={"models": [r.data["model_name"] for r in results], "rows": rows},
                  manifest=make_manifest(command=command, config={"compared": [
                      {"model": r.data["model_name"], "model_hash": r.manifest.get("model_hash"),
                       "command": r.manifest.get("command")} for r in results]}))


def _untrained_seen(seen: set, d: dict, site: str) -> bool:
    """True when an identical untrained row (same width, features and probe accuracies) is already
    in ``seen``; records it otherwise."""
    r = d["untrained"][site]
    key = (d["d_hidden"], site, r["l1"]["test_acc"], r["l2"]["test_acc"], r["best_unit"]["unit"])
    if key in seen:
        return True
    seen.add(key)
    return False


def _comparison_figures(results: Sequence[Result], ds: str) -> List[dict]:
    """Grouped bars (L1, L2, best unit per model and feature set, untrained beside) and, where the
    probe runs computed it, every model's data-efficiency curve on one log-x plot. ``ds``: the data
    set's name for the titles ("SST" or "IMDB")."""
    bars = {"L1 probe": ([], []), "L2 probe": ([], []), "best single unit": ([], [])}
    curves, seen = [], set()
    for res in results:
        d = res.data
        for label, P in ((d["model_name"], d["trained"]), (f"untrained, {d['d_hidden']} units", d.get("untrained"))):
            for w in (d["sites"] if P else ()):
                if P is d.get("untrained") and _untrained_seen(seen, d, w):
                    continue
                x = f"{label} · {w}"
                for name, val in (("L1 probe", P[w]["l1"]["test_acc"]), ("L2 probe", P[w]["l2"]["test_acc"]),
                                  ("best single unit", P[w]["best_unit"]["test_acc"])):
                    bars[name][0].append(x)
                    bars[name][1].append(val)
        for w, cv in (d.get("data_efficiency") or {}).items():
            curves.append(dict(type="scatter", mode="lines+markers", name=f"{d['model_name']} · {w}", x=cv["sizes"],
                               y=cv["mean"], error_y=dict(type="data", array=cv["std"], visible=True)))
        bow = d.get("bag_of_words")
        if bow and bow.get("test_acc") is not None and not any(c.get("name") == "bag of words" for c in curves):
            curves.append(dict(type="scatter", mode="lines", name="bag of words", x=[10, d["n"]["train"]],
                               y=[bow["test_acc"]] * 2, line=dict(dash="dash", color="grey")))
    figs = [dict(data=[dict(type="bar", name=name, x=xs, y=ys) for name, (xs, ys) in bars.items()], layout=dict(
        title=dict(text=f"{ds} test accuracy by model and features"), barmode="group",
        yaxis=dict(title=dict(text="test accuracy"), range=[0.4, 1.0]),
        shapes=[dict(type="line", xref="paper", x0=0, x1=1, y0=0.5, y1=0.5, line=dict(dash="dot", color="grey"))],
    ))]
    if any(c.get("mode") == "lines+markers" for c in curves):
        figs.append(dict(data=curves, layout=dict(
            title=dict(text=f"Data efficiency: L1 probe's {ds} test accuracy vs labelled training examples"),
            xaxis=dict(title=dict(text="labelled training sentences"), type="log"),
            yaxis=dict(title=dict(text="test accuracy (mean ± std over seeds)")),
        )))
    return figs


def _row(label: str, model: str, site: str, r: dict, kind: str) -> list:
    if kind == "best":
        b = r["best_unit"]
        return [f"best single unit ({b['unit']})", model, site, b["test_acc"], b["dev_acc"], 1, None]
    p = r[kind]
    return [label, model, site, p["test_acc"], p["dev_acc"], p["n_nonzero"], p["C"]]


def probe_report(
    model: MLSTM,
    *,
    model_name: str,
    features_from: Sequence[str] = ("c", "h"),
    limit: Optional[int] = None,
    seed: int = 0,
    progress: bool = True,
    untrained: bool = True,
    bow: bool = True,
    curve: bool = True,
    curve_sizes: Sequence[int] = (10, 20, 50, 100, 200, 500, 1000, 2000, 6920),
    curve_seeds: Sequence[int] = (0, 1, 2),
    curve_C: Union[str, float] = "dev",
    batch_size: int = 128,
    model_path: Optional[str] = None,
    command: Optional[str] = None,
    data: str = "sst",
) -> Result:
    """Radford et al.'s SST probes on ``model`` (and baselines) as one :class:`Result`.

    Reads SST train/dev/test (:func:`interp.data.sst`; ``limit``: N random sentences of each
    split, stratified, seeded), or with ``data="imdb"`` whole IMDB reviews (see
    :func:`probe_splits`: the in-domain check for a model trained on IMDB), extracts the final ``c``/``h`` (``features_from``) of the model
    and, with ``untrained``, of a randomly initialised copy (same config and seed); runs
    :func:`sentiment_probes` on each, the :func:`bag_of_words` baseline (``bow``) and the
    :func:`data_efficiency` curve of the trained model's L1 probe (``curve``). The Result has a
    probe table, a table of top units, the data-efficiency figure (log x), a histogram of
    per-unit dev accuracies (trained vs untrained), per-byte traces of the best unit on one
    positive and one negative test sentence, and everything in ``data``; ``data["timings"]``
    holds seconds per stage.
    """
    features_from = _check_which(features_from, FEATURES)
    t_start = time.perf_counter()
    timings: dict[str, float] = {}
    splits = probe_splits(data, limit, seed)
    ds = "SST" if data == "sst" else "IMDB"
    unit_of_text = "sentences" if data == "sst" else "reviews"
    ys = {s: np.asarray(lt.labels).astype(int) for s, lt in splits.items()}
    all_texts = [t for s in ("train", "dev", "test") for t in splits[s].texts]
    bounds = np.cumsum([0] + [len(splits[s]) for s in ("train", "dev", "test")])
    n_bytes = sum(len(preprocess(t, scheme=model.cfg.preprocess)) for t in all_texts)

    def feats(m: MLSTM, label: str) -> dict[str, dict[str, np.ndarray]]:
        t0 = time.perf_counter()
        F = extract_features(m, all_texts, batch_size=batch_size, which=features_from, progress=progress)
        timings[f"features_{label}"] = time.perf_counter() - t0
        return {w: {s: F[w][bounds[i] : bounds[i + 1]] for i, s in enumerate(("train", "dev", "test"))} for w in F}

    def probes(F, label: str) -> dict[str, dict]:
        t0 = time.perf_counter()
        r = {w: sentiment_probes(F[w]["train"], ys["train"], F[w]["dev"], ys["dev"], F[w]["test"], ys["test"],
                                 seed=seed) for w in features_from}
        timings[f"probes_{label}"] = time.perf_counter() - t0
        return r

    model = model.eval()
    F_tr = feats(model, "trained")
    P_tr = probes(F_tr, "trained")
    P_un = None
    if untrained:
        F_un = feats(untrained_like(model), "untrained")
        P_un = probes(F_un, "untrained")
        del F_un
    B = None
    if bow:
        t0 = time.perf_counter()
        B = bag_of_words(splits["train"].texts, ys["train"], splits["dev"].texts, ys["dev"],
                         splits["test"].texts, ys["test"])
        timings["bag_of_words"] = time.perf_counter() - t0
    curves = {}
    if curve:
        t0 = time.perf_counter()
        for w in features_from:
            curves[w] = data_efficiency(F_tr[w]["train"], ys["train"], F_tr[w]["test"], ys["test"], curve_sizes,
                                        curve_seeds, dev_X=F_tr[w]["dev"], dev_y=ys["dev"], C=curve_C,
                                        progress=progress)
        timings["data_efficiency"] = time.perf_counter() - t0

    # ---- tables
    rows = []
    for label, P in (("trained", P_tr), ("untrained", P_un)):
        if P is None:
            continue
        for w in features_from:
            rows.append(_row("L1 logistic regression", label, w, P[w], "l1"))
            rows.append(_row("L2 logistic regression", label, w, P[w], "l2"))
            rows.append(_row("", label, w, P[w], "best"))
    if B is not None:
        rows.append([f"bag of words ({B['vectorizer']}, {B['ngram_range'][0]}-{B['ngram_range'][1]}-grams)", "—",
                     "text", B["test_acc"], B["dev_acc"], B["n_features"], B["C"]])
    n_tr, n_dev, n_te = (len(splits[s]) for s in ("train", "dev", "test"))
    table = Table(
        title=f"{ds} sentiment probes on the mLSTM's state",
        columns=["probe", "model", "site", "test accuracy", "dev accuracy", "non-zero weights", "C"],
        rows=rows,
        caption=((f"SST binary sentences: {n_tr} train, {n_dev} dev, {n_te} test." if data == "sst" else
                  f"IMDB reviews, whole: {n_tr} train and {n_dev} dev (two disjoint balanced samples of IMDB train, "
                  f"whose text the language model read without labels), {n_te} test (IMDB test, never read).")
                 + f" Features: the state after "
                 f"'\\n ' + text + ' ' ({'NVIDIA' if model.cfg.preprocess == 'nvidia' else 'OpenAI'}'s preprocessing; h_mean: h averaged over those bytes), {STANDARDISATION}. L1: liblinear, C in 2^-8…2^0 "
                 f"chosen on dev accuracy, fitted on train. L2: liblinear, C in 2^-12…2^0 chosen on dev. Best single "
                 f"unit: the unit whose dev-fitted threshold (either sign) gives the best dev accuracy. Untrained: "
                 f"same architecture, random init from the config's seed. Bag of words: logistic regression, C "
                 f"chosen on dev. 'non-zero weights' of bag of words = vocabulary size."),
    )
    top_rows = []
    for w in features_from:
        r = P_tr[w]
        l1_top = {t["unit"]: t["weight"] for t in r["l1"]["top_units"]}
        for rank, t in enumerate(r["best_unit"]["top_units_by_dev_acc"][:5]):
            top_rows.append([w, "dev accuracy", rank + 1, t["unit"], t["dev_acc"], t["sign"], l1_top.get(t["unit"])])
        for rank, t in enumerate(r["l1"]["top_units"][:5]):
            top_rows.append([w, "|L1 weight|", rank + 1, t["unit"],
                             r["per_unit_dev_acc"][t["unit"]], None, t["weight"]])
    top_table = Table(
        title="Top units of the trained model",
        columns=["site", "ranked by", "rank", "unit", "unit dev accuracy", "sign", "L1 weight"],
        rows=top_rows,
        caption="Per-unit dev accuracy: best dev-fitted threshold, either sign. L1 weights on standardised features.",
    )

    # ---- figures
    figures = []
    if curves:
        traces = []
        for w, cv in curves.items():
            traces.append(dict(
                type="scatter", mode="lines+markers", name=f"trained mLSTM, {FEATURE_NAMES[w].lower()} (L1)", x=cv["sizes"],
                y=cv["mean"], error_y=dict(type="data", array=cv["std"], visible=True),
            ))
        xs = [min(c["sizes"][0] for c in curves.values()), max(c["sizes"][-1] for c in curves.values())]
        for w in features_from:
            traces.append(dict(type="scatter", mode="lines", name=f"L1, all {n_tr} ({w})", x=xs,
                               y=[P_tr[w]["l1"]["test_acc"]] * 2, line=dict(dash="dot")))
        if B is not None:
            traces.append(dict(type="scatter", mode="lines", name=f"bag of words, all {n_tr}", x=xs,
                               y=[B["test_acc"]] * 2, line=dict(dash="dash", color="grey")))
        cv0 = next(iter(curves.values()))
        figures.append(dict(data=traces, layout=dict(
            title=dict(text=f"{ds} test accuracy vs labelled training {unit_of_text}"),
            xaxis=dict(title=dict(text=f"labelled training {unit_of_text}"), type="log"),
            yaxis=dict(title=dict(text="test accuracy")),
            annotations=[dict(text=f"mean ± std over seeds {cv0['seeds']}; {cv0['C_rule']}", showarrow=False,
                              xref="paper", yref="paper", x=0, y=-0.3, xanchor="left", yanchor="top")],
            margin=dict(b=120),
        )))
    hist = []
    for label, P in (("trained", P_tr), ("untrained", P_un)):
        if P is None:
            continue
        for w in features_from:
            hist.append(dict(type="histogram", name=f"{label} {w}", x=P[w]["per_unit_dev_acc"], opacity=0.6,
                             xbins=dict(size=0.01)))
    figures.append(dict(data=hist, layout=dict(
        title=dict(text=f"Per-unit {ds} dev accuracy (best threshold, either sign)"), barmode="overlay",
        xaxis=dict(title=dict(text="dev accuracy of one unit")), yaxis=dict(title=dict(text="units")),
    )))

    # ---- traces of the best unit
    state_sites = [w for w in features_from if w in SITES]  # a per-byte trace needs a state, not an average
    best_site = max(features_from, key=lambda w: (P_tr[w]["best_unit"]["dev_acc"], w == "c"))
    trace_site = max(state_sites, key=lambda w: (P_tr[w]["best_unit"]["dev_acc"], w == "c")) if state_sites else None
    bu = P_tr[best_site]["best_unit"]
    tu = P_tr[trace_site]["best_unit"] if trace_site else None
    test = splits["test"]
    trace_objs, trace_data = [], []
    hi = 160 if data == "sst" else 600  # IMDB: a short review, so the trace stays readable
    for i in (_pick_trace_sentences(test.texts, ys["test"], hi=hi) if trace_site else []):
        chars, vals = byte_trace(model, test.texts[i], unit=tu["unit"], site=trace_site)
        centred = tu["sign"] * vals - tu["threshold"]  # > 0: this unit votes positive here
        final = float(tu["sign"] * F_tr[trace_site]["test"][i, tu["unit"]] - tu["threshold"])
        label = "positive" if ys["test"][i] == 1 else "negative"
        verdict = "right" if (final > 0) == (ys["test"][i] == 1) else "wrong"
        trace_objs.append(TokenTrace(
            title=f"Unit {tu['unit']} of {trace_site} on a {label} {ds} test {unit_of_text[:-1]}",
            tokens=chars, values=centred.tolist(),
            caption=(f"sign × value − threshold after every character (green: the unit votes positive, red: "
                     f"negative; sign {tu['sign']:+d}, threshold {tu['threshold']:.3g}). After the trailing space "
                     f"it reads {final:+.3g}: {verdict} for this {label} {unit_of_text[:-1]} (test row {i})."),
        ))
        trace_data.append({"test_row": i, "label": int(ys["test"][i]), "text": test.texts[i], "final": final})

    # ---- summary
    ckpt = checkpoint_meta(model_path)
    lines = [f"Radford et al.'s {ds} probes on {model_name} (d_hidden={model.cfg.d_hidden}"
             + (f", {ckpt['chars_seen']:,} training characters, held-out {ckpt['held_out_bpc']:.3f} bpc"
                if ckpt.get("chars_seen") is not None and ckpt.get("held_out_bpc") is not None else "") + ")."]
    for w in features_from:
        r = P_tr[w]
        lines.append(
            f"{FEATURE_NAMES[w]}: L1 probe {r['l1']['test_acc']:.1%} test ({r['l1']['n_nonzero']} units, C={r['l1']['C']:g}), "
            f"L2 probe {r['l2']['test_acc']:.1%}, best single unit {r['best_unit']['unit']} "
            f"{r['best_unit']['test_acc']:.1%} (dev {r['best_unit']['dev_acc']:.1%}), "
            + (f"{r['best_unit_share_of_l2']:.0%} of the L2 probe's above-chance accuracy."
               if r["best_unit_share_of_l2"] is not None else "L2 probe at chance.")
        )
    if P_un is not None:
        lines.append("Untrained model (same size, random init): " + "; ".join(
            f"{w}: L1 {P_un[w]['l1']['test_acc']:.1%}, L2 {P_un[w]['l2']['test_acc']:.1%}, best unit "
            f"{P_un[w]['best_unit']['test_acc']:.1%}" for w in features_from) + ".")
    if B is not None:
        lines.append(f"Bag of words: {B['test_acc']:.1%} test (dev {B['dev_acc']:.1%}).")
    for w, cv in curves.items():
        lines.append(f"Data efficiency ({w}, L1): " + ", ".join(
            f"{n}: {m:.1%}" for n, m in zip(cv["sizes"], cv["mean"])) + ".")
    timings["total"] = time.perf_counter() - t_start
    lines.append(f"{len(all_texts)} {unit_of_text}, {n_bytes:,} bytes; took {timings['total']:.0f} s on "
                 f"{torch.get_num_threads()} torch thread(s).")
    summary = "\n\n".join(lines)

    payload = {
        "model_name": model_name, "d_hidden": model.cfg.d_hidden, "config": model.cfg.to_dict(), "checkpoint": ckpt,
        "data": data,
        "sites": list(features_from), "n": {"train": n_tr, "dev": n_dev, "test": n_te}, "n_bytes": n_bytes,
        "limit": limit, "seed": seed, "standardisation": STANDARDISATION,
        "trained": P_tr, "untrained": P_un, "bag_of_words": B, "data_efficiency": curves,
        "best_unit": {"site": best_site, **{k: bu[k] for k in ("unit", "sign", "threshold", "dev_acc", "test_acc")}},
        "traces": trace_data, "timings": timings, "torch_threads": torch.get_num_threads(),
        "split_indices": {s: (None if lt.indices is None else lt.indices.tolist()) for s, lt in splits.items()},
    }
    model_hash = file_sha256(model_path) if model_path else _model_hash(model)
    manifest = make_manifest(
        command=command,
        config={"data": data, "features_from": list(features_from), "limit": limit, "seed": seed, "untrained": untrained,
                "bow": bow, "curve": curve, "curve_sizes": list(curve_sizes), "curve_seeds": list(curve_seeds),
                "curve_C": curve_C, "batch_size": batch_size, "C_grid_l1": list(C_GRID_L1),
                "C_grid_l2": list(C_GRID_L2), "model_config": model.cfg.to_dict()},
        seeds=sorted({int(seed), *(int(s) for s in curve_seeds)}),
        data_files=[p for s in ("train", "dev", "test") for p in splits[s].sources],
        model=model_name, model_hash=model_hash,
        extra={"model_hash_of": "file" if model_path else "state_dict tensors", "model_path": model_path,
               "timings": timings},
    )
    return Result(kind="probe", title=f"Sentiment probes: {model_name}" + ("" if data == "sst" else f" ({ds})"), summary=summary,
                  tables=[table, top_table], figures=figures, traces=trace_objs, data=payload, manifest=manifest)
