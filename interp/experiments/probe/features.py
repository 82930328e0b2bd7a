"""The mLSTM's state after each text, the probes' features: the final cell state ``c``, the final
hidden state ``h`` and ``h_mean`` (``h`` averaged over every byte), read in length-sorted batches."""

from __future__ import annotations

from typing import Any, Sequence, Union

import numpy as np
import torch

from interp.models.mlstm import MLSTM

SITES = ("c", "h")
FEATURE_NAMES = {"c": "Final c", "h": "Final h", "h_mean": "Mean h"}
#: feature sets :func:`extract_features` can return: the final cell/hidden state, and ``h_mean``,
#: the hidden state averaged over every byte of the (preprocessed) text
FEATURES = ("c", "h", "h_mean")
FRONT_PAD, END_PAD = b"\n ", b" "


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
