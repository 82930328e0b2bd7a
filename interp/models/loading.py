"""One loader for every model family: :func:`load` picks the adapter from what it is given.

``load(name_or_path, **kw)`` returns a :class:`~interp.models.protocol.Model`:

- a zoo name (``smollm2-135m``; ``interp models list``) -> :class:`~interp.models.transformer.TransformerModel`
  (its pulled folder; a clear error naming ``interp models pull`` when it is not pulled yet);
- a folder holding ``config.json`` (a pulled or converted Hugging Face model) -> ``TransformerModel``;
- an mLSTM checkpoint: a run folder holding ``model.safetensors``, or the ``model.safetensors`` /
  ``model.json`` (card format ``interp.mlstm``) itself, or the path without its suffix ->
  :class:`~interp.models.mlstm.adapter.MLSTMModel`, named after its run folder (or the file's stem);
- OpenAI's or NVIDIA's published mLSTM (``0.npy`` … ``14.npy``, a ``.pt`` file) -> a one-line error
  naming ``interp models convert-mlstm``, which converts it once into an interp checkpoint;
- anything else (a hub name such as ``gpt2``) -> ``TransformerModel.load``, which resolves it through
  the zoo: a clear error for an unknown name, and for a hub model not in the cache when offline.

Keywords pass through to the adapter's loader: ``device`` (``auto``, ``cpu``, ``cuda``, ``cuda:N``),
``dtype`` (a torch dtype or its name), and for transformers ``device_map``, ``compatibility_mode``,
``prepend_bos``, … . ``kind="transformer"`` or ``kind="mlstm"`` skips the guessing (what the
command line's ``--model`` and ``--mlstm`` do, and what :func:`interp.engine.ray.load_model` does
with a recorded spec).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

#: what a model is: the adapters :func:`load` chooses between
KINDS = ("transformer", "mlstm")
#: files the papers' mLSTMs come as before conversion
_TORCH_SUFFIXES = (".pt", ".pth", ".ckpt")
_MODEL_FILE_SUFFIXES = (".safetensors", ".json", ".npy", *_TORCH_SUFFIXES)
_MLSTM_OPTIONS = ("device", "dtype", "tokenizer", "name")


def _convert_hint(src: Path, fmt: str) -> str:
    what = ("OpenAI's published mLSTM (0.npy … 14.npy)" if fmt == "openai"
            else "a PyTorch checkpoint (NVIDIA sentiment-discovery's mLSTM?)")
    return (f"{src} holds {what}, not an interp model: convert it once with interp models convert-mlstm {src} OUT "
            f"--format {fmt}, then load OUT")


def _mlstm_card(path: Path) -> dict | None:
    """The JSON object in ``path`` (None when it is not readable JSON or not an object)."""
    try:
        card = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        return None
    return card if isinstance(card, dict) else None


def model_kind(name_or_path: str | os.PathLike) -> str:
    """``"transformer"`` or ``"mlstm"``: the adapter :func:`load` uses for ``name_or_path``, found
    without loading anything. A source that needs converting, a folder or file that is no model,
    and a missing model file raise one clear line (ValueError / FileNotFoundError)."""
    from interp.models import zoo
    from interp.models.mlstm import FORMAT

    if not isinstance(name_or_path, (str, os.PathLike)):
        raise TypeError(f"load takes a zoo name, a model folder or file, or a hub name (a str or path), not "
                        f"{type(name_or_path).__name__}")
    name = os.fspath(name_or_path)
    if not name.strip():
        raise ValueError("no model given: name a zoo model (interp models list), a model folder or file, or a hub name")
    if name in zoo.REGISTRY:
        return "transformer"
    p = Path(name).expanduser()
    if p.is_dir():
        if (p / "config.json").is_file():
            return "transformer"
        if any((p / f).is_file() for f in ("model.safetensors", "model.json", "train_log.jsonl", "checkpoint.pt")):
            return "mlstm"  # a checkpoint, or a training run folder (the mLSTM loader says what is missing)
        if (p / "0.npy").is_file() or (p / "model" / "0.npy").is_file():
            raise zoo.ModelFolderError(_convert_hint(p, "openai"))
        pts = sorted(f for f in p.iterdir() if f.suffix in _TORCH_SUFFIXES and f.is_file())
        if pts:
            raise zoo.ModelFolderError(_convert_hint(pts[0], "nvidia"))
        raise zoo.ModelFolderError(
            f"{p} is not a model folder: it has no config.json (a Hugging Face transformer) and no model.safetensors "
            f"(an interp mLSTM checkpoint)")
    if p.is_file():
        if p.suffix == ".npy":
            raise zoo.ModelFolderError(_convert_hint(p.parent, "openai"))
        if p.suffix in _TORCH_SUFFIXES:
            raise zoo.ModelFolderError(_convert_hint(p, "nvidia"))
        card_path = p.with_suffix(".json")
        if p.suffix in (".safetensors", ".json"):
            card = _mlstm_card(card_path) if card_path.is_file() else None
            if card is not None and card.get("format") == FORMAT:
                return "mlstm"
            if (p.parent / "config.json").is_file():
                raise zoo.ModelFolderError(f"{p} is one file of the Hugging Face model folder {p.parent}: load the "
                                           f"folder")
            if p.suffix == ".safetensors":
                return "mlstm"  # the mLSTM loader reads a config from the file's metadata or says what is missing
            raise zoo.ModelFolderError(f"{p} is not an {FORMAT} card (format={(card or {}).get('format')!r}): give an "
                                       f"mLSTM checkpoint (model.safetensors and its model.json) or a model folder")
        raise zoo.ModelFolderError(f"{p} is not a model file: give a model folder, an mLSTM model.safetensors, or a "
                                   f"zoo name (interp models list)")
    if p.with_name(p.name + ".safetensors").is_file():
        return "mlstm"  # a checkpoint named without its suffix (".../model")
    if p.suffix in _MODEL_FILE_SUFFIXES:
        raise FileNotFoundError(f"no such model file: {p}")
    return "transformer"  # a hub name, or an unknown one: the zoo's resolver says which


def mlstm_name(st: Path) -> str:
    """A checkpoint's name (for output folders and reports): its run folder's, or the file's stem."""
    return st.parent.name if st.name == "model.safetensors" else st.with_suffix("").name


def load_mlstm(path: str | os.PathLike, *, device=None, dtype=None, tokenizer=None, name: str | None = None):
    """An mLSTM checkpoint (a run folder holding ``model.safetensors``, or the file with or without
    its suffix) as an :class:`~interp.models.mlstm.adapter.MLSTMModel`; a clear error for a missing
    file, a checkpoint that does not match its card, or preprocessing whose package is missing."""
    from interp.models.mlstm import MLSTM, CheckpointMismatchError, check_preprocessing, checkpoint_file
    from interp.models.mlstm.adapter import MLSTMModel

    st = checkpoint_file(path)
    if isinstance(device, str):
        from interp.devices import resolve_device

        device = resolve_device(device)
    if isinstance(dtype, str):
        from interp.devices import parse_dtype

        dtype = parse_dtype(dtype)
    try:
        net = MLSTM.load(st, device=device, dtype=dtype, tokenizer=tokenizer)
    except (CheckpointMismatchError, FileNotFoundError, ValueError) as e:
        msg = str(e)
        if str(st) in msg:
            raise
        kind = next(k for k in (FileNotFoundError, CheckpointMismatchError, ValueError) if isinstance(e, k))
        raise kind(f"cannot load mLSTM checkpoint {st}: {msg}") from None
    check_preprocessing(net.cfg.preprocess)  # now, not at the first text
    model = MLSTMModel(net, name=name or mlstm_name(st))
    # how another process (a Ray worker) loads the same model: interp.engine.ray.load_model
    model.load_spec = {"kind": "mlstm", "path": str(st), "name": model.name}
    if device is not None:
        model.load_spec["device"] = str(device)
    if dtype is not None:
        model.load_spec["dtype"] = str(dtype).replace("torch.", "")
    return model


def load(name_or_path: str | os.PathLike, *, kind: str | None = None, **kw: Any):
    """The model ``name_or_path`` names, through the right adapter (see the module's doc);
    ``kind`` (``"transformer"`` or ``"mlstm"``) says which instead of guessing; ``kw`` go to the
    adapter's loader (``device``, ``dtype``, ``device_map``, …)."""
    if kind is None:
        kind = model_kind(name_or_path)
    elif kind not in KINDS:
        raise ValueError(f"unknown model kind {kind!r}: choose {' or '.join(KINDS)}")
    if kind == "transformer":
        from interp.models.transformer import TransformerModel

        return TransformerModel.load(name_or_path, **kw)
    if kw.get("device_map") is not None:
        raise ValueError(f"device_map is for transformers; {os.fspath(name_or_path)} is an mLSTM (give device=)")
    kw.pop("device_map", None)
    extra = sorted(set(kw) - set(_MLSTM_OPTIONS))
    if extra:
        raise TypeError(f"an mLSTM loads with {', '.join(_MLSTM_OPTIONS)}; not {', '.join(extra)}")
    return load_mlstm(name_or_path, **kw)


__all__ = ["KINDS", "load", "load_mlstm", "mlstm_name", "model_kind"]
