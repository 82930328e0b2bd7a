"""What an mLSTM reads for a text: OpenAI's or NVIDIA's preprocessing, as bytes.

:func:`preprocess` is OpenAI's ``preprocess``: ``html.unescape``, newlines to spaces,
strip, then ``'\\n ' + text + ' '``, UTF-8 bytes. ``bytes`` input is taken as bytes (no
decoding, no HTML unescaping: it may be latin-1 or anything) and gets the same newline /
strip / padding treatment. A ``str`` that cannot be UTF-8 encoded (lone surrogates) raises a
:class:`ValueError` naming the position; an empty (or all-whitespace) text raises
``ValueError("empty text ...")``.

A model names the preprocessing its weights were trained with in ``MLSTMConfig.preprocess``
(``"openai"``, the default, or ``"nvidia"``: :func:`preprocess_nvidia`, NVIDIA
sentiment-discovery's ``process_str``), and the readers that tokenize for a model
(:class:`interp.models.mlstm.adapter.MLSTMModel`, :mod:`interp.experiments.probe`) pass it as ``scheme=``.

:func:`text_bytes` is the one place that turns a text into the bytes a model reads (the
tokenizers of :mod:`interp.models.mlstm.tokenizer` start from it); :func:`encode`,
:func:`encode_batch` and :func:`decode` are those bytes as a byte model's token tensors.
"""

from __future__ import annotations

import html
import re
from typing import Sequence, Union

import torch
from torch import Tensor

__all__ = [
    "preprocess",
    "preprocess_nvidia",
    "check_preprocessing",
    "PREPROCESSING",
    "MissingDependencyError",
    "text_bytes",
    "encode",
    "encode_each",
    "encode_batch",
    "decode",
]

#: The text preprocessing schemes a model may name in ``MLSTMConfig.preprocess``.
PREPROCESSING: tuple[str, ...] = ("openai", "nvidia")


class MissingDependencyError(ImportError):
    """An optional package that a feature needs is not installed (the message says how to get it)."""


def preprocess(
    text: Union[str, bytes], front_pad: bytes = b"\n ", end_pad: bytes = b" ", *, scheme: str = "openai"
) -> bytes:
    """OpenAI's preprocessing of one text, as bytes (or NVIDIA's with ``scheme="nvidia"``:
    :func:`preprocess_nvidia`).

    ``str``: ``html.unescape``, ``'\\n'`` -> ``' '``, ``strip()``, padded, UTF-8 encoded.
    ``bytes``/``bytearray``: taken as is (no decoding, no HTML unescaping), ``b'\\n'`` ->
    ``b' '``, stripped of ASCII whitespace, padded.

    Raises ``ValueError`` for an empty or all-whitespace text, for a ``str`` holding a
    lone surrogate (not valid Unicode, so not UTF-8 encodable) and for an unknown ``scheme``;
    ``TypeError`` for other types.
    """
    if scheme != "openai":
        if scheme == "nvidia":
            return preprocess_nvidia(text, front_pad, end_pad)
        raise ValueError(f"unknown preprocessing {scheme!r}: choose among {', '.join(PREPROCESSING)}")
    if isinstance(text, (bytes, bytearray, memoryview)):
        body = bytes(text).replace(b"\n", b" ").strip()
    elif isinstance(text, str):
        body_s = html.unescape(text).replace("\n", " ").strip()
        body = _utf8(body_s)
    else:
        raise TypeError(f"text must be str or bytes, got {type(text).__name__}")
    if not body:
        raise ValueError("empty text (nothing left after stripping whitespace)")
    return front_pad + body + end_pad


_MARKUP = re.compile("<.*?>")  # NVIDIA's HTML_CLEANER_REGEX


def _unidecode():
    try:
        from unidecode import unidecode
    except ImportError:
        raise MissingDependencyError(
            "NVIDIA's preprocessing transliterates Unicode with the 'unidecode' package, which is not "
            "installed: pip install 'interp[nvidia]' (or pip install unidecode)"
        ) from None
    return unidecode


def preprocess_nvidia(text: str, front_pad: bytes = b"\n ", end_pad: bytes = b" ") -> bytes:
    """NVIDIA sentiment-discovery's ``process_str`` with its defaults, as bytes.

    In their order: HTML tags (``<.*?>``) to spaces, ``unidecode`` (Unicode transliterated to
    ASCII), ``html.unescape`` (after the transliteration, so an entity such as ``&eacute;``
    still gives a non-ASCII character), whitespace runs collapsed to one space and stripped
    (``" ".join(text.split())``), padded with ``'\\n '`` and ``' '``, UTF-8 encoded. (Their
    ``limit_repeats=3`` discards the result of ``remove_repeats``, so it changes nothing; nor
    does it here.) Needs the optional ``unidecode`` package (:class:`MissingDependencyError`
    otherwise). ``str`` only (``TypeError`` for bytes: transliteration needs characters); an
    empty text raises ``ValueError`` as :func:`preprocess` does.
    """
    if not isinstance(text, str):
        raise TypeError(f"NVIDIA's preprocessing takes str (it transliterates characters), got "
                        f"{type(text).__name__}; decode bytes first")
    unidecode = _unidecode()
    body_s = " ".join(html.unescape(unidecode(_MARKUP.sub(" ", text))).split())
    if not body_s:
        raise ValueError("empty text (nothing left after removing markup and whitespace)")
    return front_pad + _utf8(body_s) + end_pad


def check_preprocessing(scheme: str) -> None:
    """Raise now, not at the first text, if ``scheme`` is unknown or its packages are missing."""
    if scheme not in PREPROCESSING:
        raise ValueError(f"unknown preprocessing {scheme!r}: choose among {', '.join(PREPROCESSING)}")
    if scheme == "nvidia":
        _unidecode()


def _utf8(text: str) -> bytes:
    try:
        return text.encode("utf-8")
    except UnicodeEncodeError as e:
        bad = text[e.start]
        raise ValueError(
            f"text is not valid Unicode: lone surrogate U+{ord(bad):04X} at character {e.start} "
            f"(near {text[max(0, e.start - 20):e.start]!r}); it cannot be UTF-8 encoded. Fix the "
            f"decoding upstream, or pass bytes (taken as is)"
        ) from None


def text_bytes(text: Union[str, bytes], preprocess_text: bool = True, *, scheme: str = "openai") -> bytes:
    """The bytes a model reads for ``text`` (before any tokenizer): :func:`preprocess` with
    ``scheme``, or with ``preprocess_text=False`` the text exactly (``str`` as UTF-8, ``bytes`` as is),
    still refusing an empty text and lone surrogates."""
    if preprocess_text:
        return preprocess(text, scheme=scheme)
    if isinstance(text, (bytes, bytearray, memoryview)):
        data = bytes(text)
    elif isinstance(text, str):
        data = _utf8(text)
    else:
        raise TypeError(f"text must be str or bytes, got {type(text).__name__}")
    if not data:
        raise ValueError("empty text")
    return data


def encode(text: Union[str, bytes], preprocess_text: bool = True, *, scheme: str = "openai") -> Tensor:
    """Bytes of ``text`` as a 1-D long tensor (the model's tokens).

    ``preprocess_text=True`` applies :func:`preprocess` with ``scheme`` (default OpenAI's padding
    and cleaning; a model's own is ``model.cfg.preprocess``); ``False`` encodes the text exactly
    (``str`` as UTF-8, ``bytes`` as is), still refusing an empty text and lone surrogates.
    """
    return torch.frombuffer(bytearray(text_bytes(text, preprocess_text, scheme=scheme)), dtype=torch.uint8).long()


def encode_each(
    texts: Sequence[Union[str, bytes]], preprocess_text: bool = True, *, scheme: str = "openai"
) -> list[Tensor]:
    """:func:`encode` for every text; an error names the index of the text that failed."""
    if isinstance(texts, (str, bytes)):
        raise TypeError("expected a sequence of texts, not one text")
    if preprocess_text:
        check_preprocessing(scheme)
    seqs = []
    for i, t in enumerate(texts):
        try:
            seqs.append(encode(t, preprocess_text, scheme=scheme))
        except ValueError as e:
            raise ValueError(f"text {i}: {e}") from None
    return seqs


def encode_batch(
    texts: Sequence[Union[str, bytes]], preprocess_text: bool = True, *, scheme: str = "openai"
) -> tuple[Tensor, Tensor]:
    """Right-padded ``(tokens (B, T) long, mask (B, T) bool)`` for several texts (pad byte 0)."""
    seqs = encode_each(texts, preprocess_text, scheme=scheme)
    if not seqs:
        raise ValueError("encode_batch got no texts")
    T = max(len(s) for s in seqs)
    tokens = torch.zeros(len(seqs), T, dtype=torch.long)
    mask = torch.zeros(len(seqs), T, dtype=torch.bool)
    for r, s in enumerate(seqs):
        tokens[r, : len(s)] = s
        mask[r, : len(s)] = True
    return tokens, mask


def decode(tokens: Union[Tensor, Sequence[int]]) -> str:
    """Bytes back to text (UTF-8, invalid sequences replaced)."""
    if isinstance(tokens, Tensor):
        tokens = tokens.reshape(-1).tolist()
    return bytes(int(t) for t in tokens).decode("utf-8", errors="replace")

