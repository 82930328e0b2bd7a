"""Convert the papers' own mLSTM checkpoints into :class:`interp.models.mlstm.MLSTM` folders.

Two sources, read from their code (not from a description of it):

**OpenAI** (openai/generating-reviews-discovering-sentiment, MIT; Radford et al. 2017): a folder
of 15 arrays ``0.npy`` … ``14.npy``. ``encoder.py`` loads them in the order its TensorFlow graph
asks for variables, after joining arrays 2–5 column-wise (``params[2] = np.concatenate(params[2:6],
axis=1)``) into ``wh``. With ``nhidden=4096, nembd=64, nvocab=256, rnn_wn=True, out_wn=False``:

===== ===================== ============== ===========================================
array name in their graph   shape (d=4096)  here
===== ===================== ============== ===========================================
0     model/embedding/w     (256, 64)      ``embed``
1     model/rnn/wx          (64, 4d)       ``V_x``
2-5   model/rnn/wh          4 × (d, d)     ``V_h`` (the four joined column-wise, in order)
6     model/rnn/wmx         (64, d)        ``V_mx``
7     model/rnn/wmh         (d, d)         ``V_mh``
8     model/rnn/b           (4d,)          ``b``
9     model/rnn/gx          (4d,)          ``g_x``
10    model/rnn/gh          (4d,)          ``g_h``
11    model/rnn/gmx         (d,)           ``g_mx``
12    model/rnn/gmh         (d,)           ``g_mh``
13    model/out/w           (d, 256)       ``W_out``
14    model/out/b           (256,)         ``b_out``
===== ===================== ============== ===========================================

Their cell is ours exactly (same gate order i, f, o, u; ``W = tf.nn.l2_normalize(V, 0) * g``,
which is our ``weight_norm=True``; one bias; an output layer without weight norm), so the arrays
are copied unchanged. Preprocessing: ``"openai"``.

**NVIDIA** (NVIDIA/sentiment-discovery, BSD-style licence): a ``torch.save`` file of
``RNNModel.state_dict()``, ``{"encoder": {"encoder": {"weight"}, "rnn": {"rnns.0.w_ih", …}},
"decoder": {"weight", "bias"}}`` (also accepted: that dict under ``"sd"``, the flat
``nn.Module`` form ``encoder.weight`` / ``rnn.rnns.0.w_ih`` / ``decoder.weight``, and
weight-normed ``w_ih_g``/``w_ih_v`` pairs). Their ``mLSTMCell`` (``model/RNN_utils/RNN/cells.py``)::

    m = F.linear(x, w_mih) * F.linear(h, w_mhh)
    gates = F.linear(x, w_ih, b_ih) + F.linear(m, w_hh, b_hh)
    i, f, g, o = gates.chunk(4, 1)          # gate order i, f, cell (u), o
    c = sigmoid(f) * c + sigmoid(i) * tanh(g);  h = sigmoid(o) * tanh(c)

so here ``W_x = w_ih.T``, ``W_h = w_hh.T``, ``W_mx = w_mih.T``, ``W_mh = w_mhh.T`` with the gate
blocks reordered (theirs i, f, u, o → ours i, f, o, u), ``b = b_ih + b_hh`` (reordered), and
``W_out = decoder.weight.T``. Their weight norm (``reparameterization/weight_norm.py``, ``dim=0``
on (out, in) matrices: one gain per output unit, the norm over the inputs) is ours too, so a
weight-normed checkpoint keeps ``V``/``g``. Their current tokenizer (``CharacterLevelTokenizer``)
maps byte ``b`` to id ``b + 1`` with a pad id 0 (257 rows); such an embedding and decoder are cut
to the 256 byte rows (the card records ``token_offset: 1``; the pad logit is dropped). A
256-row checkpoint (their earlier code) maps one to one. Preprocessing: ``"nvidia"``
(:func:`interp.models.mlstm.text.preprocess_nvidia`, their ``process_str``).

A source that does not have the expected layout (a missing array or key, a wrong shape, a file
that is not a checkpoint) raises :class:`LayoutError`, one line naming the array and the shape
expected. Nothing is written then, and an existing output is never overwritten unless asked.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Union

import numpy as np
import torch

from interp.models.mlstm.config import MLSTMConfig
from interp.models.mlstm.module import MLSTM

__all__ = [
    "FORMATS",
    "LayoutError",
    "ArraySpec",
    "openai_layout",
    "nvidia_layout",
    "check_shapes",
    "inspect_openai",
    "inspect_nvidia",
    "convert_openai",
    "convert_nvidia",
    "convert",
]

FORMATS = ("openai", "nvidia")

OPENAI_SOURCE = "openai/generating-reviews-discovering-sentiment (MIT licence, Copyright (c) 2017 OpenAI)"
NVIDIA_SOURCE = "NVIDIA/sentiment-discovery (BSD-style licence, Copyright (c) 2017 NVIDIA Corporation)"

#: What a user with the full published weights should see (from the papers, not measured here).
EXPECTED = {
    "openai": "Radford et al. 2017: unit 2388 of hook_c is the sentiment unit; an L1 logistic-regression probe "
              "on the final cell state gives about 91.8% on binary SST test (interp probe-mlstm)",
    "nvidia": "NVIDIA sentiment-discovery: a 4096-unit mLSTM trained on Amazon reviews; its sentiment unit is "
              "found by the same probes (interp probe-mlstm), no unit index is published for it",
}

PREPROCESS_TEXT = {
    "openai": "html.unescape, newlines to spaces, strip, then '\\n ' + text + ' ', UTF-8 bytes (their utils.preprocess)",
    "nvidia": "HTML tags to spaces, unidecode, html.unescape, whitespace collapsed and stripped, then "
              "'\\n ' + text + ' ', UTF-8 bytes (their data_utils.preprocess.process_str with its defaults)",
}


class LayoutError(ValueError):
    """A source checkpoint does not have the layout its format promises."""


@dataclass(frozen=True)
class ArraySpec:
    """One array of a source layout: where it is, its shape, and what it becomes here."""

    key: str  # file name (OpenAI) or state-dict key (NVIDIA)
    name: str  # its name in their code
    shape: tuple[int, ...]
    target: str  # the MLSTM tensor it fills (see the module docstring)


# --------------------------------------------------------------------------- layouts


def openai_layout(d_hidden: int = 4096, d_embed: int = 64, vocab: int = 256) -> list[ArraySpec]:
    """The 15 arrays of OpenAI's model folder, in file order (defaults: the published model)."""
    d, E, V = d_hidden, d_embed, vocab
    specs = [ArraySpec("0.npy", "model/embedding/w", (V, E), "embed"),
             ArraySpec("1.npy", "model/rnn/wx", (E, 4 * d), "V_x")]
    specs += [ArraySpec(f"{2 + k}.npy", f"model/rnn/wh (columns {k * d}:{(k + 1) * d})", (d, d), f"V_h[:, {k}]")
              for k in range(4)]
    specs += [
        ArraySpec("6.npy", "model/rnn/wmx", (E, d), "V_mx"),
        ArraySpec("7.npy", "model/rnn/wmh", (d, d), "V_mh"),
        ArraySpec("8.npy", "model/rnn/b", (4 * d,), "b"),
        ArraySpec("9.npy", "model/rnn/gx", (4 * d,), "g_x"),
        ArraySpec("10.npy", "model/rnn/gh", (4 * d,), "g_h"),
        ArraySpec("11.npy", "model/rnn/gmx", (d,), "g_mx"),
        ArraySpec("12.npy", "model/rnn/gmh", (d,), "g_mh"),
        ArraySpec("13.npy", "model/out/w", (d, V), "W_out"),
        ArraySpec("14.npy", "model/out/b", (V,), "b_out"),
    ]
    return specs


_NV_MATS = ("w_ih", "w_hh", "w_mih", "w_mhh")
_NV_TARGET = {"w_ih": "x", "w_hh": "h", "w_mih": "mx", "w_mhh": "mh"}


def nvidia_layout(d_hidden: int = 4096, d_embed: int = 64, vocab: int = 257,
                  weight_norm: bool = False) -> list[ArraySpec]:
    """The tensors of NVIDIA's ``RNNModel`` state dict for a one-layer mLSTM, keyed by their
    canonical (flat) names (defaults: the published 4096-unit model with its 257-token vocab)."""
    d, E, V = d_hidden, d_embed, vocab
    shapes = {"w_ih": (4 * d, E), "w_hh": (4 * d, d), "w_mih": (d, E), "w_mhh": (d, d)}
    specs = [ArraySpec("encoder.weight", "encoder (nn.Embedding)", (V, E), "embed")]
    for k, s in shapes.items():
        t = _NV_TARGET[k]
        if weight_norm:
            specs.append(ArraySpec(f"rnn.rnns.0.{k}_g", f"{k} gain", (s[0], 1), f"g_{t}"))
            specs.append(ArraySpec(f"rnn.rnns.0.{k}_v", f"{k} direction", s, f"V_{t}"))
        else:
            specs.append(ArraySpec(f"rnn.rnns.0.{k}", k, s, f"W_{t}"))
    specs += [
        ArraySpec("rnn.rnns.0.b_ih", "b_ih", (4 * d,), "b"),
        ArraySpec("rnn.rnns.0.b_hh", "b_hh", (4 * d,), "b"),
        ArraySpec("decoder.weight", "decoder (nn.Linear)", (V, d), "W_out"),
        ArraySpec("decoder.bias", "decoder bias", (V,), "b_out"),
    ]
    return specs


def check_shapes(found: dict[str, tuple[int, ...]], layout: list[ArraySpec], where: str, desc: str) -> None:
    """:class:`LayoutError` for the first array of ``layout`` missing from ``found`` or of another shape."""
    missing = [s for s in layout if s.key not in found]
    if missing:
        s = missing[0]
        more = f" (also missing: {', '.join(m.key for m in missing[1:])})" if len(missing) > 1 else ""
        raise LayoutError(f"{where} lacks {s.key} ({s.name}, expected shape {s.shape} for {desc}){more}")
    for s in layout:
        if tuple(found[s.key]) != s.shape:
            raise LayoutError(f"{where}: {s.key} ({s.name}) has shape {tuple(found[s.key])}, expected {s.shape} "
                              f"for {desc}")


# --------------------------------------------------------------------------- OpenAI


def _openai_dir(src: Union[str, Path]) -> Path:
    p = Path(src)
    if not p.exists():
        raise FileNotFoundError(f"no such folder: {p}")
    if p.is_file():
        raise LayoutError(f"{p} is a file; --format openai takes the folder of 0.npy … 14.npy (their model/ folder)")
    if not (p / "0.npy").exists() and (p / "model" / "0.npy").exists():
        p = p / "model"  # the repository root
    return p


def _npy_header(path: Path) -> tuple[tuple[int, ...], np.dtype, int]:
    """Shape, dtype and data offset from a .npy header, without reading the data."""
    with open(path, "rb") as f:
        try:
            version = np.lib.format.read_magic(f)
            if version == (1, 0):
                shape, fortran, dtype = np.lib.format.read_array_header_1_0(f)
            else:
                shape, fortran, dtype = np.lib.format.read_array_header_2_0(f)
        except ValueError as e:
            head = path.read_bytes()[:40]
            hint = " (a Git LFS pointer, not the array)" if head.startswith(b"version https://git-lfs") else ""
            raise LayoutError(f"{path} is not a .npy array{hint}: {e}") from None
        offset = f.tell()
    if fortran:
        raise LayoutError(f"{path} is stored in Fortran order; their arrays are C order")
    return tuple(int(n) for n in shape), dtype, offset


def inspect_openai(src: Union[str, Path]) -> dict[str, Any]:
    """Check an OpenAI model folder from the array headers alone (no weights are read).

    Returns ``{"dir", "d_hidden", "d_embed", "vocab", "shapes"}``; raises :class:`LayoutError`
    naming the first missing, truncated, non-float or wrongly shaped array.
    """
    d = _openai_dir(src)
    headers = {}
    for i in range(15):
        f = d / f"{i}.npy"
        if f.is_file():
            shape, dtype, offset = _npy_header(f)
            if dtype.kind != "f":
                raise LayoutError(f"{f} holds {dtype} values, expected floating point weights")
            size = offset + int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
            if f.stat().st_size < size:
                raise LayoutError(f"{f} is truncated: {f.stat().st_size:,} bytes, its header {shape} {dtype} "
                                  f"needs {size:,}")
            headers[f.name] = shape
    if "0.npy" not in headers or "11.npy" not in headers:
        first = "0.npy" if "0.npy" not in headers else "11.npy"
        what = "model/embedding/w, shape (256, 64)" if first == "0.npy" else "model/rnn/gmx, shape (4096,)"
        raise LayoutError(f"{d} lacks {first} ({what} in the published model): not an OpenAI model folder "
                          f"(it has {len(headers)} of the 15 arrays 0.npy … 14.npy)")
    emb, gmx = headers["0.npy"], headers["11.npy"]
    if len(emb) != 2 or len(gmx) != 1:
        raise LayoutError(f"{d}: 0.npy (model/embedding/w) has shape {emb} and 11.npy (model/rnn/gmx) {gmx}; "
                          f"expected (vocab, d_embed) and (d_hidden,), e.g. (256, 64) and (4096,)")
    V, E = emb
    dh = gmx[0]
    layout = openai_layout(dh, E, V)
    check_shapes(headers, layout, str(d), f"d_hidden={dh}, d_embed={E}, vocab={V}")
    return {"dir": d, "d_hidden": dh, "d_embed": E, "vocab": V, "shapes": headers}


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 22), b""):
            h.update(block)
    return h.hexdigest()


def convert_openai(src: Union[str, Path], out: Union[str, Path], *, force: bool = False) -> Path:
    """OpenAI's model folder -> ``out/model.safetensors`` + ``out/model.json``. Returns the weights path."""
    info = inspect_openai(src)
    st = _check_out(out, force)
    d = info["dir"]

    def load(i: int) -> torch.Tensor:
        return torch.from_numpy(np.load(d / f"{i}.npy").astype(np.float32, copy=False))

    tensors = {
        "embed": load(0), "V_x": load(1), "V_h": torch.cat([load(i) for i in range(2, 6)], 1),
        "V_mx": load(6), "V_mh": load(7), "b": load(8), "g_x": load(9), "g_h": load(10),
        "g_mx": load(11), "g_mh": load(12), "W_out": load(13), "b_out": load(14),
    }
    cfg = MLSTMConfig(vocab=info["vocab"], d_embed=info["d_embed"], d_hidden=info["d_hidden"],
                      weight_norm=True, preprocess="openai")
    meta = {"converted_from": {
        "format": "openai", "source": OPENAI_SOURCE, "path": str(d.resolve()),
        "sha256": {f"{i}.npy": _sha256(d / f"{i}.npy") for i in range(15)},
        "layout": {s.key: f"{s.name} -> {s.target}" for s in openai_layout(info["d_hidden"], info["d_embed"], info["vocab"])},
        "token_offset": 0,
    }, "preprocessing": PREPROCESS_TEXT["openai"], "expected": EXPECTED["openai"]}
    return _write(cfg, tensors, st, meta)


# --------------------------------------------------------------------------- NVIDIA


def _load_torch(path: Path) -> Any:
    import argparse

    if not path.exists():
        raise FileNotFoundError(f"no such checkpoint: {path}")
    if path.is_dir():
        raise LayoutError(f"{path} is a folder; --format nvidia takes their checkpoint file (e.g. mlstm.pt)")
    try:
        # their classifier checkpoints carry argparse args beside the weights; allow only that class
        with torch.serialization.safe_globals([argparse.Namespace]):
            return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # torch raises many kinds (UnpicklingError, IndexError, RuntimeError, ...) on a non-checkpoint
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise LayoutError(f"{path} is not a PyTorch checkpoint that torch.load can read with weights_only=True "
                          f"({first[:200]})") from None


def _flatten(obj: Any, prefix: str = "") -> dict[str, torch.Tensor]:
    out: dict[str, torch.Tensor] = {}
    if isinstance(obj, torch.Tensor):
        out[prefix] = obj
    elif isinstance(obj, dict):
        for k, v in obj.items():
            out.update(_flatten(v, f"{prefix}.{k}" if prefix else str(k)))
    return out


_CANON = (  # their nested RNNModel.state_dict() -> the flat nn.Module names
    (re.compile(r"^encoder\.encoder\."), "encoder."),
    (re.compile(r"^encoder\.rnn\."), "rnn."),
)


def _nvidia_tensors(path: Path) -> dict[str, torch.Tensor]:
    obj = _load_torch(path)
    if not isinstance(obj, dict):
        raise LayoutError(f"{path} holds a {type(obj).__name__}, not a state dict (expected RNNModel.state_dict())")
    for wrapper in ("sd", "lm_encoder"):
        if isinstance(obj.get(wrapper), dict):
            obj = obj[wrapper]
    flat = {}
    for k, v in _flatten(obj).items():
        while k.startswith("module."):
            k = k[len("module."):]
        for pat, rep in _CANON:
            k = pat.sub(rep, k)
        flat[k] = v
    if not flat:
        raise LayoutError(f"{path} holds no tensors (expected RNNModel.state_dict() of an mLSTM)")
    return flat


def inspect_nvidia(src: Union[str, Path]) -> tuple[dict[str, Any], dict[str, torch.Tensor]]:
    """Read an NVIDIA checkpoint and check its layout; ``(info, tensors by canonical key)``."""
    path = Path(src)
    t = _nvidia_tensors(path)
    where = str(path)
    rnn = sorted(k for k in t if k.startswith("rnn."))
    layers = sorted({int(m.group(1)) for k in rnn if (m := re.match(r"rnn\.rnns\.(\d+)\.", k))})
    if not rnn:
        emb = "an embedding 'encoder.weight'" if "encoder.weight" in t else "no embedding either"
        raise LayoutError(f"{where} has no mLSTM tensors (rnn.rnns.0.w_ih, …; it has {emb}): not an NVIDIA "
                          f"sentiment-discovery language-model checkpoint (keys: {', '.join(list(t)[:6])})")
    if layers != [0]:
        raise LayoutError(f"{where} has {len(layers)} mLSTM layers (rnns.{layers}); interp's MLSTM has one")
    if "rnn.rnns.0.w_ho" in t:
        raise LayoutError(f"{where} has an output projection rnn.rnns.0.w_ho (output_size != hidden_size), "
                          f"which interp's MLSTM does not have")
    if "decoder.weight" not in t and "decoder.weight_v" not in t:
        raise LayoutError(f"{where} has no decoder (the next-byte output layer): a classifier checkpoint? "
                          f"Convert the language-model checkpoint (their mlstm.pt)")
    if "decoder.weight_v" in t:  # weight-normed decoder: materialise it
        t["decoder.weight"] = _wn(t.pop("decoder.weight_g"), t.pop("decoder.weight_v"))
    if "rnn.rnns.0.w_mhh" in t:
        d = t["rnn.rnns.0.w_mhh"].shape[0]
    elif "rnn.rnns.0.w_mhh_v" in t:
        d = t["rnn.rnns.0.w_mhh_v"].shape[0]
    else:
        raise LayoutError(f"{where} lacks rnn.rnns.0.w_mhh (w_mhh, the (d, d) multiplicative matrix): not an "
                          f"mLSTM checkpoint (an LSTM or GRU has no w_mhh)")
    if "encoder.weight" not in t:
        raise LayoutError(f"{where} lacks encoder.weight (the byte embedding, expected shape (257, 64) in the "
                          f"published model)")
    V, E = tuple(t["encoder.weight"].shape) if t["encoder.weight"].dim() == 2 else (None, None)
    if V not in (256, 257):
        raise LayoutError(f"{where}: encoder.weight has shape {tuple(t['encoder.weight'].shape)}; expected 256 "
                          f"(bytes) or 257 (pad + bytes, their CharacterLevelTokenizer) rows")
    wn = {k: (f"rnn.rnns.0.{k}_g" in t) for k in _NV_MATS}
    for k in _NV_MATS:  # a partly weight-normed checkpoint: materialise those matrices
        if wn[k] and not all(wn.values()):
            t[f"rnn.rnns.0.{k}"] = _wn(t.pop(f"rnn.rnns.0.{k}_g"), t.pop(f"rnn.rnns.0.{k}_v"))
    weight_norm = all(wn.values())
    layout = nvidia_layout(d, E, V, weight_norm=weight_norm)
    check_shapes({k: tuple(v.shape) for k, v in t.items()}, layout, where,
                 f"d_hidden={d}, d_embed={E}, vocab={V}{', weight-normed' if weight_norm else ''}")
    known = {s.key for s in layout}
    ignored = sorted(k for k in t if k not in known)
    bad = [k for k in ignored if k.startswith(("rnn.", "encoder.", "decoder."))]
    if bad:
        raise LayoutError(f"{where} has unexpected tensor {bad[0]} for a one-layer mLSTM"
                          + (f" (also {', '.join(bad[1:4])})" if len(bad) > 1 else ""))
    for k in known:
        if not t[k].is_floating_point():
            raise LayoutError(f"{where}: {k} holds {t[k].dtype}, expected floating point weights")
    info = {"path": path, "d_hidden": d, "d_embed": E, "vocab": V, "token_offset": V - 256,
            "weight_norm": weight_norm, "ignored": ignored, "dtype": str(t["encoder.weight"].dtype)}
    return info, t


def _wn(g: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    """Their WeightNorm (dim=0): ``v * (g / ||v||)`` with the norm over all but the first axis."""
    v64 = v.double()
    return (v64 * (g.double().reshape(-1, *([1] * (v.dim() - 1))) / v64.flatten(1).norm(dim=1).reshape(
        -1, *([1] * (v.dim() - 1))))).to(v.dtype)


def _gates_to_ours(x: torch.Tensor, d: int) -> torch.Tensor:
    """Reorder the 4d gate blocks along axis 0 from theirs (i, f, u, o) to ours (i, f, o, u)."""
    i, f, u, o = x.split(d, 0)
    return torch.cat([i, f, o, u], 0)


def convert_nvidia(src: Union[str, Path], out: Union[str, Path], *, force: bool = False) -> Path:
    """NVIDIA's checkpoint -> ``out/model.safetensors`` + ``out/model.json``. Returns the weights path."""
    info, t = inspect_nvidia(src)
    st = _check_out(out, force)
    d, off = info["d_hidden"], info["token_offset"]
    f32 = {k: v.detach().to(torch.float32) for k, v in t.items()}
    p = "rnn.rnns.0."
    tensors = {"embed": f32["encoder.weight"][off:off + 256]}
    for k in _NV_MATS:
        tgt = _NV_TARGET[k]
        gated = k in ("w_ih", "w_hh")
        if info["weight_norm"]:
            v, g = f32[p + k + "_v"], f32[p + k + "_g"].reshape(-1)
            if gated:
                v, g = _gates_to_ours(v, d), _gates_to_ours(g, d)
            tensors[f"V_{tgt}"], tensors[f"g_{tgt}"] = v.t().contiguous(), g.contiguous()
        else:
            w = f32[p + k]
            tensors[f"W_{tgt}"] = (_gates_to_ours(w, d) if gated else w).t().contiguous()
    tensors["b"] = _gates_to_ours(f32[p + "b_ih"] + f32[p + "b_hh"], d)
    tensors["W_out"] = f32["decoder.weight"][off:off + 256].t().contiguous()
    tensors["b_out"] = f32["decoder.bias"][off:off + 256].contiguous()
    cfg = MLSTMConfig(vocab=256, d_embed=info["d_embed"], d_hidden=d, weight_norm=info["weight_norm"],
                      preprocess="nvidia")
    meta = {"converted_from": {
        "format": "nvidia", "source": NVIDIA_SOURCE, "path": str(Path(src).resolve()), "sha256": _sha256(Path(src)),
        "stored_dtype": info["dtype"], "weight_norm": info["weight_norm"],
        "layout": {s.key: f"{s.name} -> {s.target}" for s in nvidia_layout(d, info["d_embed"], info["vocab"],
                                                                            info["weight_norm"])},
        "gate_order": "theirs i, f, u (cell), o -> ours i, f, o, u; b = b_ih + b_hh",
        "token_offset": off,
        "token_note": ("their id b + 1 is byte b (id 0 is their pad): embedding and decoder rows 1..256 kept, "
                       "the pad logit dropped") if off else "their id b is byte b",
        "ignored_keys": info["ignored"],
    }, "preprocessing": PREPROCESS_TEXT["nvidia"], "expected": EXPECTED["nvidia"]}
    return _write(cfg, tensors, st, meta)


# --------------------------------------------------------------------------- writing


def _check_out(out: Union[str, Path], force: bool) -> Path:
    o = Path(out)
    if o.exists() and not o.is_dir():
        raise FileExistsError(f"{o} is a file; OUT is the folder to write model.safetensors and model.json into")
    st = o / "model.safetensors"
    if not force and (st.exists() or (o / "model.json").exists()):
        raise FileExistsError(f"{o} already holds a converted model ({st.name}); pass --force to overwrite it")
    return st


def _write(cfg: MLSTMConfig, tensors: dict[str, torch.Tensor], st: Path, meta: dict) -> Path:
    expected = cfg.param_shapes()
    assert set(tensors) == set(expected), (sorted(tensors), sorted(expected))
    for k, v in tensors.items():
        if tuple(v.shape) != expected[k]:  # a bug here, not bad input: the layouts were checked
            raise AssertionError(f"converted {k} has shape {tuple(v.shape)}, expected {expected[k]}")
        if not torch.isfinite(v).all():
            raise LayoutError(f"{meta['converted_from']['path']}: the weights for {k} hold non-finite values "
                              f"(NaN or inf)")
    model = MLSTM(cfg, init=False)
    with torch.no_grad():
        for k, v in tensors.items():
            getattr(model, k).copy_(v)
    return model.save(st, meta=meta)


def convert(fmt: str, src: Union[str, Path], out: Union[str, Path], *, force: bool = False) -> Path:
    """``convert_openai`` or ``convert_nvidia`` by ``fmt``; ValueError for another format."""
    if fmt == "openai":
        return convert_openai(src, out, force=force)
    if fmt == "nvidia":
        return convert_nvidia(src, out, force=force)
    raise ValueError(f"unknown checkpoint format {fmt!r}: choose among {', '.join(FORMATS)}")
