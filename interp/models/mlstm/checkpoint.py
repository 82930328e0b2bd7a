"""An mLSTM checkpoint on disk: ``<stem>.safetensors`` (weights) and ``<stem>.json`` (its card).

The card records the format (``"interp.mlstm"``, a file format name, not a module path) and its
version, the :class:`~interp.models.mlstm.config.MLSTMConfig`, the stored dtype, every tensor's
shape, the tokenizer and free ``meta``; the safetensors header carries the config and tokenizer
too, so weights without their card still load. :func:`load_mlstm` checks every tensor name and
shape against the config and raises :class:`CheckpointMismatchError` naming the first that
differs. A BPE model's tokenizer is written beside the weights (``tokenizer.json`` beside
``model.safetensors``); the card records its sha256 and size, and loading refuses a tokenizer
that does not match. :meth:`MLSTM.save <interp.models.mlstm.module.MLSTM.save>` and
:meth:`MLSTM.load <interp.models.mlstm.module.MLSTM.load>` are these functions.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Optional, Union

import torch

from interp.models.mlstm.config import MLSTMConfig

__all__ = ["CheckpointMismatchError", "checkpoint_file", "save_mlstm", "load_mlstm", "FORMAT", "FORMAT_VERSION"]

FORMAT = "interp.mlstm"  # the card format name (a file format, not the module path)
FORMAT_VERSION = 1


class CheckpointMismatchError(ValueError):
    """A checkpoint's tensors do not match the config it claims."""


def save_mlstm(model: Any, path: Union[str, Path], meta: Optional[dict] = None,
               dtype: Union[None, str, torch.dtype] = None) -> Path:
    """:meth:`MLSTM.save <interp.models.mlstm.module.MLSTM.save>`: write ``model``'s weights and card
    (and a BPE model's tokenizer) at ``path``; returns the safetensors path."""
    from safetensors.torch import save_file

    store = _float_dtype(dtype) if dtype is not None else model.dtype
    st_path, card_path = _paths(path)
    st_path.parent.mkdir(parents=True, exist_ok=True)
    tensors = {k: v.detach().to("cpu", store).contiguous() for k, v in model.state_dict().items()}
    card = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "config": model.cfg.to_dict(),
        "dtype": str(store).replace("torch.", ""),
        "n_params": sum(p.numel() for p in model.parameters()),
        "tensors": {k: list(v.shape) for k, v in tensors.items()},
        "weights": st_path.name,
        "meta": meta or {},
    }
    file_meta = {"format": FORMAT, "config": json.dumps(model.cfg.to_dict())}
    if model.tokenizer is not None:
        desc = model.tokenizer.describe()
        if model.tokenizer.kind != "bytes":
            tok_path = _tokenizer_path(st_path)
            model.tokenizer.save(tok_path)
            desc["file"] = tok_path.name
        card["tokenizer"] = desc
        file_meta["tokenizer"] = json.dumps(desc)
    save_file(tensors, str(st_path), metadata=file_meta)
    card_path.write_text(json.dumps(card, indent=2) + "\n")
    return st_path


def load_mlstm(
    cls: type, path: Union[str, Path], device: Union[str, torch.device, None] = None, dtype: Optional[torch.dtype] = None,
    tokenizer: Any = None,
) -> Any:
    """:meth:`MLSTM.load <interp.models.mlstm.module.MLSTM.load>`: the model of class ``cls`` that
    :func:`save_mlstm` wrote at ``path``, every tensor checked against its card."""
    st_path, card_path = _paths(path)
    if not st_path.is_file():
        raise FileNotFoundError(f"no mLSTM weights at {st_path}")
    try:
        return _load(cls, st_path, card_path, device, dtype, tokenizer)
    except (CheckpointMismatchError, FileNotFoundError):
        raise
    except Exception as e:  # noqa: BLE001 - SafetensorError, a broken card, a short file: one clear error
        first = (str(e).strip().splitlines() or [type(e).__name__])[0]
        raise CheckpointMismatchError(
            f"cannot read the mLSTM checkpoint {st_path} ({type(e).__name__}: {first}): it is empty, cut short or "
            f"not a safetensors file, or its card {card_path.name} is broken; copy it again, or write a new one "
            f"with interp train-mlstm") from None


def _load(cls: type, st_path: Path, card_path: Path, device, dtype, tokenizer: Any = None) -> Any:
    from safetensors import safe_open

    with safe_open(str(st_path), framework="pt") as f:
        file_meta = f.metadata() or {}
        names = list(f.keys())
        if card_path.is_file():
            card = json.loads(card_path.read_text())
            if card.get("format") != FORMAT:
                raise CheckpointMismatchError(f"{card_path} is not an {FORMAT} card (format={card.get('format')!r})")
            cfg_dict = card["config"]
            tok_desc = card.get("tokenizer")
        elif "config" in file_meta:
            cfg_dict = json.loads(file_meta["config"])
            tok_desc = json.loads(file_meta["tokenizer"]) if "tokenizer" in file_meta else None
        else:
            raise FileNotFoundError(f"no card {card_path} beside {st_path}, and no config in its metadata")
        cfg = MLSTMConfig.from_dict(cfg_dict)
        expected = cfg.param_shapes()
        desc = ", ".join(f"{k}={v}" for k, v in cfg.to_dict().items() if k != "seed")
        missing = [n for n in expected if n not in names]
        if missing:
            raise CheckpointMismatchError(
                f"checkpoint {st_path} lacks tensor {missing[0]!r} (expected shape "
                f"{expected[missing[0]]} for config {desc})"
                + (f"; also missing {missing[1:]}" if len(missing) > 1 else "")
            )
        extra = [n for n in names if n not in expected]
        if extra:
            raise CheckpointMismatchError(
                f"checkpoint {st_path} has unexpected tensor {extra[0]!r} not in config {desc}"
                + (f"; also {extra[1:]}" if len(extra) > 1 else "")
            )
        for n in expected:
            shape = tuple(f.get_slice(n).get_shape())
            if shape != expected[n]:
                raise CheckpointMismatchError(
                    f"tensor {n!r} in {st_path} has shape {shape}, but the config ({desc}) "
                    f"expects {expected[n]}"
                )
        tok = _checkpoint_tokenizer(st_path, tok_desc, cfg.vocab, tokenizer)
        model = cls(cfg, dtype=dtype, init=False, tokenizer=tok)
        with torch.no_grad():
            for n in expected:
                getattr(model, n).copy_(f.get_tensor(n))
    if device is not None:
        model.to(device)
    return model


def _tokenizer_path(st_path: Path) -> Path:
    """``tokenizer.json`` beside ``model.safetensors``; ``<stem>.tokenizer.json`` for other stems."""
    from interp.models.mlstm.tokenizer import TOKENIZER_FILE  # (imported late: see module._attach_tokenizer)

    stem = st_path.name[: -len(".safetensors")]
    return st_path.with_name(TOKENIZER_FILE if stem == "model" else f"{stem}.{TOKENIZER_FILE}")


def _checkpoint_tokenizer(st_path: Path, desc: Optional[dict], vocab: int, given: Any):
    """The tokenizer a checkpoint's card describes, checked against the card (and ``given``)."""
    from interp.models.mlstm.tokenizer import BPETokenizer, ByteTokenizer

    kind = (desc or {}).get("kind", "bytes" if vocab == 256 else None)
    if kind == "bytes":
        if vocab != 256:
            raise CheckpointMismatchError(f"{st_path}: the card says bytes but the vocab is {vocab}")
        if given is not None and getattr(given, "kind", None) != "bytes":
            raise CheckpointMismatchError(f"{st_path} is a byte model; the tokenizer passed ({given!r}) does not match")
        return ByteTokenizer()
    if kind is None:
        return given
    if kind != "bpe":
        raise CheckpointMismatchError(f"{st_path}: unknown tokenizer kind {kind!r} in its card")
    want_sha, want_vocab = desc.get("sha256"), desc.get("vocab_size")
    if want_vocab != vocab:
        raise CheckpointMismatchError(f"{st_path}: the card's tokenizer has {want_vocab} tokens, the model {vocab}")
    if given is not None:
        if getattr(given, "sha256", None) != want_sha:
            raise CheckpointMismatchError(
                f"{st_path} was trained with tokenizer sha256 {want_sha[:12]}…; the one passed is "
                f"{getattr(given, 'sha256', None) or given!r}")
        return given
    tok_path = st_path.with_name(desc.get("file") or _tokenizer_path(st_path).name)
    if not tok_path.is_file():
        raise FileNotFoundError(f"{st_path} is a BPE model but its tokenizer {tok_path} is missing")
    tok = BPETokenizer.load(tok_path)
    if tok.sha256 != want_sha:
        raise CheckpointMismatchError(
            f"tokenizer {tok_path} does not match {st_path}: sha256 {tok.sha256[:12]}… but the card records "
            f"{str(want_sha)[:12]}… (a tokenizer from another model?)")
    if tok.vocab_size != vocab:
        raise CheckpointMismatchError(f"tokenizer {tok_path} has {tok.vocab_size} tokens, the model {vocab}")
    return tok


def checkpoint_file(path: Union[str, Path]) -> Path:
    """The weights file of an mLSTM checkpoint given as a file (with or without suffix) or a run
    folder holding ``model.safetensors``; FileNotFoundError naming what was looked for otherwise."""
    p = Path(path)
    if p.is_dir():
        cand = p / "model.safetensors"
        if not cand.is_file():
            raise FileNotFoundError(
                f"no mLSTM checkpoint in {p}: expected {cand} (written by interp train-mlstm at each checkpoint)")
        return cand
    st = p if p.suffix == ".safetensors" else (p.with_suffix(".safetensors") if p.suffix == ".json"
                                                 else p.with_name(p.name + ".safetensors"))
    if not st.is_file():
        raise FileNotFoundError(f"no mLSTM checkpoint at {path}: no such file {st} (give a .safetensors file or a run "
                                f"folder)")
    return st


def _float_dtype(dtype: Union[str, torch.dtype]) -> torch.dtype:
    """``"float16"``/``"fp16"``/``torch.float16`` (and bf16, fp32) -> the torch dtype; else ValueError."""
    names = {"float32": torch.float32, "fp32": torch.float32, "float16": torch.float16, "fp16": torch.float16,
             "half": torch.float16, "bfloat16": torch.bfloat16, "bf16": torch.bfloat16}
    if isinstance(dtype, torch.dtype) and dtype in names.values():
        return dtype
    if isinstance(dtype, str) and dtype.lower().replace("torch.", "") in names:
        return names[dtype.lower().replace("torch.", "")]
    raise ValueError(f"unsupported weight dtype {dtype!r}: choose float32, float16 or bfloat16")


def _paths(path: Union[str, Path]) -> tuple[Path, Path]:
    p = Path(path)
    if p.suffix in (".safetensors", ".json"):
        p = p.with_suffix("")
    return p.with_name(p.name + ".safetensors"), p.with_name(p.name + ".json")
