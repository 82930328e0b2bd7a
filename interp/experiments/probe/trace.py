"""A unit's (or a direction's) value after every byte of one text, read as the probes read it, for
coloured text."""

from __future__ import annotations

from typing import Any, Optional, Union

import numpy as np
import torch

from interp.validate import unit_vector
from interp.experiments.probe.features import END_PAD, FRONT_PAD, _check_which
from interp.models.mlstm import MLSTM

def _unit_vector(direction: Any, d: int) -> torch.Tensor:
    """``direction`` (a vector, or an :class:`interp.directions.Direction`) as a float32 unit vector."""
    return unit_vector(direction, d, "direction")


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

    A BPE model (:mod:`interp.models.mlstm.tokenizer`) gives one entry per token: ``chars`` are the token
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
