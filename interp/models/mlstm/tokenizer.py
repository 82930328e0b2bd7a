"""What an mLSTM reads: bytes (the default) or byte-level BPE tokens.

Both tokenizers take a text through OpenAI's :func:`interp.models.mlstm.text.preprocess` (``'\\n ' + text +
' '``, HTML unescaped, newlines to spaces) and return 1-D long tensors of token ids. A token's
*bytes* are the UTF-8 bytes it stands for, and its *piece* is the text it completes (the
characters whose last byte it holds; '' when it ends inside a multi-byte character), so the
pieces of a text concatenate back to the preprocessed text and the position selectors of
:mod:`interp.positions` find commas, full stops and words among them as among a transformer's
tokens.

:class:`ByteTokenizer` is the identity on bytes (vocabulary 256). :class:`BPETokenizer` wraps a
HuggingFace ``tokenizers`` byte-level BPE (GPT-2's byte-to-unicode alphabet, GPT-2's
pre-tokenising regex, no special tokens), so every byte string is representable and decoding
is exact. :func:`train_bpe` learns one from IMDB train + unsup (never test, and without the
reviews the mLSTM trainer holds out for bits per character). Its identity is the sha256 of its
JSON (:attr:`BPETokenizer.sha256`), which a checkpoint's card records.

Bits per *character* of a token model: the summed token loss (nats) over the number of bytes
those tokens stand for (:meth:`n_bytes`), divided by ln 2; on the same text this is the byte
model's bits per character (IMDB is almost all ASCII, so bytes and characters nearly agree;
both models count bytes).
"""

from __future__ import annotations

import codecs
import hashlib
import json
from functools import lru_cache
from pathlib import Path
from typing import Iterable, Sequence, Union

import numpy as np
import torch
from torch import Tensor

from interp.models.mlstm.text import preprocess, text_bytes

__all__ = ["ByteTokenizer", "BPETokenizer", "train_bpe", "load_tokenizer", "byte_pieces", "TOKENIZER_FILE"]

#: File name of a model's tokenizer beside ``model.safetensors`` (``<stem>.tokenizer.json``
#: beside ``<stem>.safetensors`` for other stems).
TOKENIZER_FILE = "tokenizer.json"


def _preprocessed(text: Union[str, bytes], preprocess_text: bool, scheme: str = "openai") -> bytes:
    return text_bytes(text, preprocess_text, scheme=scheme)


def _pieces_of(chunks: Iterable[bytes]) -> list[str]:
    """The characters each chunk of bytes completes (UTF-8, invalid bytes replaced)."""
    dec = codecs.getincrementaldecoder("utf-8")(errors="replace")
    return [dec.decode(c) for c in chunks]


def byte_pieces(data: bytes) -> list[str]:
    """The character each byte completes ('' for bytes inside a multi-byte character)."""
    out: list[str] = []
    i = 0
    while i < len(data):
        b = data[i]
        n = 1 if b < 0x80 else 2 if b >> 5 == 0b110 else 3 if b >> 4 == 0b1110 else 4 if b >> 3 == 0b11110 else 1
        chunk = data[i : i + n]
        ch = chunk.decode("utf-8", errors="replace")
        out.extend([""] * (len(chunk) - 1) + [ch])
        i += len(chunk)
    return out


class _Tokenizer:
    kind = "?"
    vocab_size = 0

    def encode(self, text: Union[str, bytes], preprocess_text: bool = True, scheme: str = "openai") -> Tensor:  # pragma: no cover
        raise NotImplementedError

    def token_bytes(self, token_id: int) -> bytes:  # pragma: no cover
        raise NotImplementedError

    def encode_each(self, texts: Sequence[Union[str, bytes]], preprocess_text: bool = True,
                    scheme: str = "openai") -> list[Tensor]:
        """:meth:`encode` for every text (``scheme``: the model's preprocessing, see
        :func:`interp.models.mlstm.text.preprocess`); an error names the index of the text that failed."""
        if isinstance(texts, (str, bytes)):
            raise TypeError("expected a sequence of texts, not one text")
        out = []
        for i, t in enumerate(texts):
            try:
                out.append(self.encode(t, preprocess_text, scheme))
            except ValueError as e:
                raise ValueError(f"text {i}: {e}") from None
        return out

    def _ids(self, ids: Union[Tensor, Sequence[int], np.ndarray]) -> list[int]:
        if isinstance(ids, Tensor):
            ids = ids.reshape(-1).tolist()
        ids = [int(i) for i in ids]
        bad = [i for i in ids if not 0 <= i < self.vocab_size]
        if bad:
            raise ValueError(f"token id {bad[0]} is outside the vocabulary of {self.vocab_size}")
        return ids

    def pieces(self, ids: Union[Tensor, Sequence[int]]) -> list[str]:
        """Per token, the text it completes (see the module docstring); joined, the decoded text."""
        return _pieces_of(self.token_bytes(i) for i in self._ids(ids))

    def decode(self, ids: Union[Tensor, Sequence[int]]) -> str:
        """Token ids back to text (UTF-8, invalid sequences replaced)."""
        return b"".join(self.token_bytes(i) for i in self._ids(ids)).decode("utf-8", errors="replace")

    def n_bytes(self) -> np.ndarray:
        """(vocab_size,) int64: how many bytes each token stands for."""
        return np.array([len(self.token_bytes(i)) for i in range(self.vocab_size)], dtype=np.int64)

    def describe(self) -> dict:
        """What a checkpoint's card records about the tokenizer."""
        return {"kind": self.kind, "vocab_size": self.vocab_size}


class ByteTokenizer(_Tokenizer):
    """Bytes as tokens (ids 0..255): what the byte mLSTM reads."""

    kind = "bytes"
    vocab_size = 256
    sha256 = None

    def encode(self, text: Union[str, bytes], preprocess_text: bool = True, scheme: str = "openai") -> Tensor:
        data = _preprocessed(text, preprocess_text, scheme)
        return torch.frombuffer(bytearray(data), dtype=torch.uint8).long()

    def token_bytes(self, token_id: int) -> bytes:
        return bytes([token_id])

    def pieces(self, ids) -> list[str]:
        return byte_pieces(bytes(self._ids(ids)))

    def n_bytes(self) -> np.ndarray:
        return np.ones(256, dtype=np.int64)

    def __eq__(self, other) -> bool:
        return isinstance(other, ByteTokenizer)

    def __hash__(self) -> int:
        return hash("bytes")

    def __repr__(self) -> str:
        return "ByteTokenizer()"


@lru_cache(maxsize=1)
def _unicode_to_byte() -> dict[str, int]:
    """Inverse of GPT-2's ``bytes_to_unicode`` (the alphabet of ``tokenizers``' ByteLevel)."""
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(range(ord("®"), ord("ÿ") + 1))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return {chr(c): b for b, c in zip(bs, cs)}


class BPETokenizer(_Tokenizer):
    """A byte-level BPE (HuggingFace ``tokenizers``) with the interface of :class:`ByteTokenizer`.

    Build one with :func:`train_bpe` or :meth:`load`; :meth:`save` writes the JSON whose sha256
    is :attr:`sha256`.
    """

    kind = "bpe"

    def __init__(self, tok) -> None:
        from tokenizers import Tokenizer

        if not isinstance(tok, Tokenizer):
            raise TypeError(f"BPETokenizer wraps a tokenizers.Tokenizer, got {type(tok).__name__}")
        self._tok = tok
        self._json = tok.to_str()
        self.sha256 = hashlib.sha256(self._json.encode("utf-8")).hexdigest()
        self.vocab_size = tok.get_vocab_size(with_added_tokens=True)
        u2b = _unicode_to_byte()
        table: list[bytes] = [b""] * self.vocab_size
        for s, i in tok.get_vocab(with_added_tokens=True).items():
            try:
                table[i] = bytes(u2b[ch] for ch in s)
            except KeyError:
                raise ValueError(f"token {i} ({s!r}) is not in the byte-level alphabet: not a byte-level BPE") from None
        if any(not b for b in table):
            raise ValueError("the tokenizer's ids are not contiguous from 0 (a gap in its vocabulary)")
        self._bytes = table

    # ---- files

    @classmethod
    def load(cls, path: Union[str, Path]) -> "BPETokenizer":
        from tokenizers import Tokenizer

        p = Path(path)
        if not p.is_file():
            raise FileNotFoundError(f"no tokenizer file at {p}")
        try:
            tok = Tokenizer.from_str(p.read_text(encoding="utf-8"))
        except Exception as e:  # tokenizers raises its own Exception type for bad JSON
            raise ValueError(f"{p} is not a tokenizers JSON file: {e}") from None
        return cls(tok)

    def save(self, path: Union[str, Path]) -> Path:
        """Write the JSON (exactly the text hashed by :attr:`sha256`)."""
        p = Path(path)
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(self._json, encoding="utf-8")
        return p

    # ---- tokens

    def encode(self, text: Union[str, bytes], preprocess_text: bool = True, scheme: str = "openai") -> Tensor:
        data = _preprocessed(text, preprocess_text, scheme)
        try:
            s = data.decode("utf-8")
        except UnicodeDecodeError as e:
            raise ValueError(f"bytes are not valid UTF-8 at byte {e.start}: a BPE model reads text; decode it first") \
                from None
        ids = self._tok.encode(s, add_special_tokens=False).ids
        return torch.tensor(ids, dtype=torch.long)

    def encode_stream(self, texts: Sequence[str], preprocess_text: bool = True) -> list[list[int]]:
        """Ids of many texts at once (``encode_batch`` of ``tokenizers``, in parallel threads)."""
        strs = [_preprocessed(t, preprocess_text).decode("utf-8") for t in texts]
        return [e.ids for e in self._tok.encode_batch(strs, add_special_tokens=False)]

    def token_bytes(self, token_id: int) -> bytes:
        return self._bytes[token_id]

    def n_bytes(self) -> np.ndarray:
        return np.array([len(b) for b in self._bytes], dtype=np.int64)

    def describe(self) -> dict:
        return {"kind": self.kind, "vocab_size": self.vocab_size, "sha256": self.sha256}

    def __eq__(self, other) -> bool:
        return isinstance(other, BPETokenizer) and other.sha256 == self.sha256

    def __hash__(self) -> int:
        return hash(self.sha256)

    def __repr__(self) -> str:
        return f"BPETokenizer(vocab_size={self.vocab_size}, sha256={self.sha256[:12]}…)"


def train_bpe(texts: Iterable[str], vocab_size: int, *, min_frequency: int = 2, progress: bool = False) -> BPETokenizer:
    """Learn a byte-level BPE of ``vocab_size`` tokens (256 bytes + merges) from ``texts``, each
    read as the mLSTM reads it (:func:`interp.models.mlstm.text.preprocess`). Deterministic for given texts."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

    if isinstance(vocab_size, bool) or not isinstance(vocab_size, int) or vocab_size < 257:
        raise ValueError(f"vocab_size must be an int > 256 (the 256 bytes plus merges), got {vocab_size!r}")
    if vocab_size > 65536:
        raise ValueError(f"vocab_size {vocab_size} is over 65,536 (token ids are stored as uint16)")
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, min_frequency=min_frequency, show_progress=progress,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), special_tokens=[])
    n = 0

    def stream():
        nonlocal n
        for t in texts:
            try:
                b = preprocess(t)
            except ValueError:  # empty text
                continue
            n += 1
            yield b.decode("utf-8")

    tok.train_from_iterator(stream(), trainer=trainer)
    if n == 0:
        raise ValueError("train_bpe got no non-empty texts")
    return BPETokenizer(tok)


def load_tokenizer(path: Union[None, str, Path]) -> _Tokenizer:
    """``None`` -> :class:`ByteTokenizer`; a path -> :class:`BPETokenizer` read from it."""
    return ByteTokenizer() if path is None else BPETokenizer.load(path)


if __name__ == "__main__":  # python -m interp.models.mlstm.tokenizer OUT.json --vocab-size 8192
    import argparse
    import time

    from interp.models.mlstm.corpus import imdb_bpe_texts

    ap = argparse.ArgumentParser(description="Train a byte-level BPE on IMDB train+unsup (minus the mLSTM's "
                                             "held-out reviews).")
    ap.add_argument("out")
    ap.add_argument("--vocab-size", type=int, required=True)
    ap.add_argument("--max-reviews", type=int, default=None)
    a = ap.parse_args()
    t0 = time.time()
    texts = imdb_bpe_texts()
    if a.max_reviews:
        texts = texts[: a.max_reviews]
    bpe = train_bpe(texts, a.vocab_size, progress=False)
    bpe.save(a.out)
    print(json.dumps({"out": a.out, "vocab_size": bpe.vocab_size, "sha256": bpe.sha256, "n_texts": len(texts),
                      "wall_s": round(time.time() - t0, 1)}))
