"""Checks on what users hand in, at the entry of every command and public function.

One rule for each kind of input, so that every command refuses the same bad value with the same
one-line message (:class:`InputError`, a ``ValueError``), before any work starts:

- counts (``--limit``, ``--reference-n``, ``--n-random``, ``--threads``, ...): :func:`check_count`,
  :func:`check_limit` (sentence limits: ``None`` or 0 mean all; otherwise at least
  :data:`MIN_LIMIT` and at most the data set's size);
- layer lists (``--layers 0,3,6`` or ``0:30:3``): :func:`parse_layers`, :func:`check_layers`;
- texts (a list of non-empty ``str``, never one bare string): :func:`check_texts`.

Data files, model folders, checkpoints and result files are checked where they are read
(:mod:`interp.data`, :mod:`interp.models.zoo`, :mod:`interp.models.mlstm`, :mod:`interp.report.results`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

#: The smallest sentence limit any command accepts: fewer sentences cannot fit a threshold on
#: both classes nor give a bootstrap interval worth printing.
MIN_LIMIT = 4


class InputError(ValueError):
    """A value a user gave is not usable; the message names the option and the fix."""


class InputTypeError(InputError, TypeError):
    """An :class:`InputError` about a value's type (also a ``TypeError``, as Python's own)."""


def _is_int(value: Any) -> bool:
    import numpy as np

    return isinstance(value, (int, np.integer)) and not isinstance(value, bool)


def check_count(option: str, value: Any, *, minimum: int = 1, maximum: int | None = None,
                allow_none: bool = False) -> Any:
    """``value`` must be an int in ``[minimum, maximum]`` (``None`` only when ``allow_none``)."""
    if value is None and allow_none:
        return value
    if not _is_int(value):
        raise InputError(f"{option} must be a whole number, got {value!r}")
    if value < minimum:
        raise InputError(f"{option} must be at least {minimum}, got {value}")
    if maximum is not None and value > maximum:
        raise InputError(f"{option} must be at most {maximum}, got {value}")
    return value


def check_positive(option: str, value: Any, *, allow_zero: bool = False) -> Any:
    """A real number > 0 (or >= 0 with ``allow_zero``); NaN and infinity refused."""
    import math

    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise InputError(f"{option} must be a finite number, got {value!r}")
    if value < 0 or (value == 0 and not allow_zero):
        raise InputError(f"{option} must be {'at least 0' if allow_zero else 'above 0'}, got {value}")
    return value


def check_limit(option: str, value: Any, available: int | None = None, what: str = "the data set") -> int | None:
    """A sentence limit: ``None`` or 0 mean all ``available``; otherwise an int from
    :data:`MIN_LIMIT` to ``available``. Returns ``None`` (all) or the limit."""
    if value is None:
        return None
    if not _is_int(value):
        raise InputError(f"{option} must be a whole number, got {value!r}")
    if value == 0:
        return None
    if value < 0:
        raise InputError(f"{option} must be at least {MIN_LIMIT} (or 0 for all), got {value}")
    if value < MIN_LIMIT:
        raise InputError(f"{option} must be at least {MIN_LIMIT} (or 0 for all), got {value}: too few sentences "
                         f"for a threshold and an interval")
    if available is not None and value > available:
        raise InputError(f"{option} {value} is larger than {what} ({available:,} rows); give at most {available} "
                         f"(or 0 for all)")
    return int(value)


def parse_layers(spec: str | None, option: str = "--layers") -> list[int] | None:
    """``'0,3,6'`` or a slice ``'start:stop:step'`` (``'0:30:3'``), or a mix; ``None``/empty: every layer."""
    if spec is None or not str(spec).strip():
        return None
    out: list[int] = []
    for part in str(spec).split(","):
        part = part.strip()
        if not part:
            continue
        try:
            if ":" in part:
                bits = [int(b) if b.strip() else None for b in part.split(":")]
                if len(bits) > 3:
                    raise ValueError
                start, stop, step = (bits + [None, None, None])[:3]
                if stop is None:
                    raise InputError(f"{option}: the slice {part!r} needs a stop (e.g. 0:30:3)")
                if step is not None and step < 1:
                    raise InputError(f"{option}: the slice {part!r} needs a step of at least 1")
                if (start or 0) < 0 or stop < 0:
                    raise InputError(f"{option}: layers count from 0, got {part!r}")
                got = list(range(start or 0, stop, step or 1))
                if not got:
                    raise InputError(f"{option}: the slice {part!r} selects no layer")
                out += got
            else:
                out.append(int(part))
        except InputError:
            raise
        except ValueError:
            raise InputError(f"{option}: {part!r} is not a layer number (give e.g. 0,3,6 or 0:30:3)") from None
    if not out:
        raise InputError(f"{option}: no layer in {spec!r}")
    bad = [x for x in out if x < 0]
    if bad:
        raise InputError(f"{option}: layers count from 0, got {bad[0]}")
    if len(set(out)) != len(out):
        dup = sorted({x for x in out if out.count(x) > 1})
        raise InputError(f"{option}: layer {dup[0]} given twice")
    return out


def check_layers(layers: Sequence[int] | None, n_layers: int, model: str = "the model",
                 option: str = "--layers") -> list[int]:
    """Every layer in ``0..n_layers-1`` (``None``: all of them)."""
    if layers is None:
        return list(range(n_layers))
    layers = list(layers)
    if not layers:
        raise InputError(f"{option}: no layer given")
    for L in layers:
        if not _is_int(L):
            raise InputError(f"{option}: {L!r} is not a layer number")
        if not 0 <= L < n_layers:
            raise InputError(f"{option}: layer {L} is out of range: {model} has layers 0..{n_layers - 1}")
    return layers


def check_texts(texts: Any, what: str = "texts") -> list[str]:
    """A non-empty list (or tuple) of non-empty ``str``; one bare string, bytes, None, an empty or
    whitespace-only text are refused with the index of the first bad one."""
    if isinstance(texts, (str, bytes)):
        raise InputTypeError(f"{what} must be a list of strings, not one {type(texts).__name__} "
                         f"(wrap it: [{texts[:30]!r}])")
    if texts is None or not isinstance(texts, Sequence):
        raise InputTypeError(f"{what} must be a list of strings, got {type(texts).__name__}")
    if len(texts) == 0:
        raise InputError(f"{what}: no texts given")
    for i, t in enumerate(texts):
        if not isinstance(t, str):
            raise InputTypeError(f"{what}: text {i} is {type(t).__name__}, not str")
        if not t.strip():
            raise InputError(f"{what}: text {i} is empty{'' if not t else ' (whitespace only)'}")
    return list(texts)


def check_choices(option: str, values: Sequence[str], allowed: Sequence[str], *, at_least_one: bool = True) -> list[str]:
    """Each of ``values`` is one of ``allowed``."""
    values = list(values)
    bad = [v for v in values if v not in allowed]
    if bad:
        raise InputError(f"{option}: unknown value(s) {', '.join(map(repr, bad))}; choose from {', '.join(allowed)}")
    if at_least_one and not values:
        raise InputError(f"{option}: give at least one of {', '.join(allowed)}")
    return values


def check_sweep_sizes(cfg: Any) -> None:
    """The counts every sweep's config shares, where it has them: sentence limits
    (``limit``, ``dev_limit``, ``train_limit``, ``test_limit``), ``reference_n``, ``batch_size``,
    ``n_boot``, ``n_random`` and ``layers``; InputError naming the command-line option."""
    for name in ("limit", "dev_limit", "train_limit", "test_limit"):
        if hasattr(cfg, name):
            check_limit(f"--{name.replace('_', '-')}", getattr(cfg, name))
    for name in ("reference_n", "batch_size", "n_boot", "n_random"):
        if hasattr(cfg, name):
            check_count(f"--{name.replace('_', '-')}", getattr(cfg, name))
    layers = getattr(cfg, "layers", None)
    if layers is not None:
        if not list(layers):
            raise InputError("--layers: no layer given")
        for L in layers:
            check_count("--layers", L, minimum=0)
        if len(set(layers)) != len(list(layers)):
            raise InputError("--layers: a layer is given twice")


def check_ablation_options(positions, modes, n_random, threshold=None, *, allowed: Sequence[str]) -> None:
    """The checks every ablation sweep shares: known selectors, known modes (at least one), a
    random control, and a known threshold rule; ValueError naming the bad value."""
    from interp.positions import parse_list

    parse_list(positions)
    bad = [m for m in modes if m not in allowed]
    if bad or not modes:
        raise ValueError(f"unknown ablation mode(s) {bad or modes!r}; choose from {', '.join(allowed)}")
    if n_random < 1:
        raise ValueError("n_random must be at least 1: every number needs its random control")
    if threshold is not None and threshold not in ("dev", "zero"):
        raise ValueError(f"threshold must be 'dev' or 'zero', not {threshold!r}")


def unit_vector(direction: Any, width: int, what: str = "direction"):
    """``direction`` (a vector, or anything with a ``.vector`` such as :class:`interp.directions.Direction`)
    as a float32 CPU unit vector of ``width``; ValueError naming ``what`` for a non-vector, a wrong width,
    or a zero or non-finite norm."""
    import math

    import numpy as np
    import torch

    vec = getattr(direction, "vector", direction)
    try:
        v = (vec.detach().to("cpu", torch.float32) if isinstance(vec, torch.Tensor)
             else torch.as_tensor(np.asarray(vec, dtype=np.float32)))
    except (TypeError, ValueError):
        raise ValueError(f"{what} must be a vector of width {width}, got {type(vec).__name__}") from None
    if v.dim() != 1 or v.shape[0] != width:
        raise ValueError(f"{what} has the wrong width: shape {tuple(v.shape)}, expected ({width},)")
    norm = float(v.norm())
    if not math.isfinite(norm) or norm == 0:
        raise ValueError(f"{what} is zero or not finite")
    return v / norm
