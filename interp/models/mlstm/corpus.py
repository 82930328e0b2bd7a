"""The IMDB text an mLSTM is trained on, and the reviews held out from it.

Every review is preprocessed as the model reads it (:func:`interp.models.mlstm.text.preprocess`,
OpenAI's ``'\\n ' + text + ' '``) and concatenated into one uint8 byte stream. The last reviews
of ``unsup`` (at least ``held_out_chars`` bytes, :func:`held_out_count`) are held out for
bits-per-character and never trained on; the IMDB test split is never read. The remaining reviews
are shuffled with a fixed seed (IMDB's train file holds all negatives, then all positives) unless
``shuffle_reviews=False``. The encoded arrays are cached as ``.npy`` under
``interp.config.cache_dir()/mlstm_corpus``, keyed by the sha256 of the source files and the corpus
options. The BPE tokenizer of an IMDB model is learnt from the same training reviews
(:func:`imdb_bpe_texts`), so the held-out reviews stay unseen by both.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
import time
from typing import Iterable, Optional

import numpy as np

from interp import config
from interp.models.mlstm.text import preprocess
from interp.runs import file_sha256

__all__ = ["build_imdb_corpus", "tokenize_corpus", "held_out_count", "imdb_split_texts", "imdb_bpe_texts"]

CORPUS_VERSION = 1  # bump when the preprocessing or layout of the cached corpus changes
SHUFFLE_SEED = 1234


def imdb_split_texts(split: str) -> list[str]:
    """The review texts of one IMDB split (``train``, ``unsup``; the trainer never reads ``test``)."""
    try:
        from interp.data import iter_imdb_texts
    except ImportError:  # pragma: no cover - data.py missing: read the jsonl directly
        import gzip

        path = config.data_dir() / "imdb" / f"{split}.jsonl.gz"
        with gzip.open(path, "rt", encoding="utf-8") as f:
            return [json.loads(line)["text"] for line in f if line.strip()]
    return list(iter_imdb_texts(splits=(split,)))


def build_imdb_corpus(
    held_out_chars: int = 500_000,
    max_reviews: Optional[int] = None,
    shuffle_reviews: bool = True,
    cache: bool = True,
    verbose: bool = True,
) -> tuple[np.ndarray, np.ndarray, dict]:
    """``(train_bytes, held_out_bytes, info)`` as uint8 arrays from IMDB train + unsup.

    Held out: the last reviews of ``unsup`` covering at least ``held_out_chars`` bytes
    (independent of ``max_reviews``, so bpc stays comparable between quick and full runs).
    Training: every other train/unsup review, shuffled with a fixed seed, truncated to the
    first ``max_reviews``.
    """
    src_dir = config.data_dir() / "imdb"
    sources = [src_dir / "train.jsonl.gz", src_dir / "unsup.jsonl.gz"]
    key = None
    if cache and all(p.is_file() for p in sources):
        h = hashlib.sha256()
        for p in sources:
            h.update(f"{p.name}:{file_sha256(p)}\n".encode())
        opts = dict(v=CORPUS_VERSION, held=held_out_chars, max=max_reviews, shuffle=shuffle_reviews, seed=SHUFFLE_SEED)
        h.update(json.dumps(opts, sort_keys=True).encode())
        key = h.hexdigest()[:20]
        cdir = config.cache_dir() / "mlstm_corpus"
        f_train, f_held, f_info = (cdir / f"imdb_{key}_{s}" for s in ("train.npy", "held.npy", "info.json"))
        if f_train.is_file() and f_held.is_file() and f_info.is_file():
            info = json.loads(f_info.read_text())
            return np.load(f_train, mmap_mode="r"), np.load(f_held), info
    t0 = time.time()
    train_txt = imdb_split_texts("train")
    unsup_txt = imdb_split_texts("unsup")
    k = held_out_count(unsup_txt, held_out_chars)
    held = [preprocess(t) for t in unsup_txt[len(unsup_txt) - k:]]
    del unsup_txt[len(unsup_txt) - k:]
    docs = train_txt + unsup_txt
    order = np.arange(len(docs))
    if shuffle_reviews:
        order = np.random.default_rng(SHUFFLE_SEED).permutation(len(docs))
    if max_reviews is not None:
        order = order[:max_reviews]
    enc = []
    skipped = 0
    for i in order:
        try:
            enc.append(preprocess(docs[i]))
        except ValueError:  # empty review
            skipped += 1
    train = np.frombuffer(b"".join(enc), dtype=np.uint8).copy()
    held_arr = np.frombuffer(b"".join(held), dtype=np.uint8).copy()
    info = {
        "source": "imdb train+unsup",
        "n_train_reviews": len(enc),
        "n_held_out_reviews": len(held),
        "train_chars": int(train.size),
        "held_out_chars": int(held_arr.size),
        "skipped_empty": skipped,
        "shuffle_reviews": shuffle_reviews,
        "shuffle_seed": SHUFFLE_SEED if shuffle_reviews else None,
        "max_reviews": max_reviews,
        "corpus_version": CORPUS_VERSION,
        "key": key,
    }
    if verbose:
        print(f"[train_mlstm] built IMDB corpus: {train.size:,} train bytes, {held_arr.size:,} held out "
              f"({time.time() - t0:.1f}s)", file=sys.stderr)
    if key is not None:
        cdir.mkdir(parents=True, exist_ok=True)
        for arr, f in ((train, f_train), (held_arr, f_held)):
            tmp = f.with_name(f.name + f".tmp{os.getpid()}.npy")
            np.save(tmp, arr)
            os.replace(tmp, f)
        f_info.write_text(json.dumps(info, indent=2) + "\n")
    return train, held_arr, info


def tokenize_corpus(tokenizer, data: np.ndarray, cache_key: Optional[str] = None, verbose: bool = True,
                    name: str = "corpus") -> np.ndarray:
    """Token ids (uint16) of a byte corpus for a BPE model. The stream is cut before every
    ``b'\\n'`` (where each preprocessed review starts) and each piece is tokenized on its own, as
    the model reads a review (:meth:`interp.models.mlstm.tokenizer.BPETokenizer.encode` of the preprocessed
    text); the ids are concatenated. ``cache_key`` caches the result (keyed with the tokenizer's
    sha256) under ``interp.config.cache_dir()/mlstm_corpus``."""
    if tokenizer.vocab_size > 65536:
        raise ValueError(f"a vocabulary of {tokenizer.vocab_size} does not fit uint16 token ids")
    f = None
    if cache_key is not None:
        f = config.cache_dir() / "mlstm_corpus" / f"{cache_key}_{name}_bpe{tokenizer.sha256[:16]}.npy"
        if f.is_file():
            return np.load(f, mmap_mode="r")
    t0 = time.time()
    raw = np.asarray(data).tobytes()
    parts = raw.split(b"\n")
    docs = ([parts[0]] if parts[0] else []) + [b"\n" + p for p in parts[1:]]
    ids: list[np.ndarray] = []
    step = 2048
    for k in range(0, len(docs), step):
        chunk = tokenizer.encode_stream([d.decode("utf-8") for d in docs[k : k + step]], preprocess_text=False)
        ids.extend(np.asarray(c, dtype=np.uint16) for c in chunk)
    out = np.concatenate(ids) if ids else np.zeros(0, np.uint16)
    if verbose:
        print(f"[train_mlstm] tokenized {name}: {len(raw):,} bytes -> {out.size:,} tokens "
              f"({len(raw) / max(1, out.size):.3f} chars/token, {time.time() - t0:.1f}s)", file=sys.stderr)
    if f is not None:
        f.parent.mkdir(parents=True, exist_ok=True)
        tmp = f.with_name(f.name + f".tmp{os.getpid()}.npy")
        np.save(tmp, out)
        os.replace(tmp, f)
    return out


def held_out_count(unsup_texts: list[str], held_out_chars: int = 500_000) -> int:
    """How many of the last ``unsup`` reviews are held out: the fewest whose preprocessed bytes
    reach ``held_out_chars`` (what :func:`build_imdb_corpus` never trains on)."""
    k, n = 0, 0
    while k < len(unsup_texts) and n < held_out_chars:
        n += len(preprocess(unsup_texts[len(unsup_texts) - 1 - k]))
        k += 1
    return k



def imdb_bpe_texts() -> Iterable[str]:
    """The texts :func:`interp.models.mlstm.tokenizer.train_bpe` learns from for IMDB models: IMDB
    train + unsup, without the reviews :func:`build_imdb_corpus` holds out (the last unsup reviews)."""
    train = imdb_split_texts("train")
    unsup = imdb_split_texts("unsup")
    k = held_out_count(unsup)
    return train + unsup[: len(unsup) - k]
