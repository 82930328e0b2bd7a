"""Multiplicative LSTM (mLSTM) over bytes or BPE tokens, hookable per time step.

The model of Krause et al. 2016 ("Multiplicative LSTM for sequence modelling") in the variant
OpenAI trained on Amazon reviews to find the sentiment neuron (Radford et al. 2017, "Learning
to Generate Reviews and Discovering Sentiment"). Per byte ``x`` (embedded, ``d_embed`` wide)
and time step ``t``::

    m   = (x @ W_mx) * (h @ W_mh)
    z   = x @ W_x + m @ W_h + b            # 4 * d_hidden wide, split in this order:
    i, f, o = sigmoid(z[:, :3d]).chunk(3)  # input, forget, output gates
    u   = tanh(z[:, 3d:])                  # candidate
    c   = f * c + i * u
    h   = o * tanh(c)
    logits = h @ W_out + b_out             # next-byte prediction (256 bytes)

With ``weight_norm=True`` every one of ``W_mx, W_mh, W_x, W_h`` is stored as a direction
``V_*`` and a per-output-unit gain ``g_*``: ``W = g * V / ||V||`` with the norm taken over the
input axis, as ``tf.nn.l2_normalize(w, 0) * g`` in OpenAI's code. The gate order (i, f, o, u)
and the matrix layouts ((in, out)) follow that code too, so its weights map one to one
(:mod:`interp.models.mlstm_convert` reads OpenAI's and NVIDIA's published checkpoints).

Hook points
-----------
:class:`MLSTM` is a TransformerLens :class:`HookedRootModule` with these hook points:

``hook_embed`` (B, d_embed), ``hook_m`` (B, d), ``hook_i``, ``hook_f``, ``hook_o``,
``hook_u`` (B, d), ``hook_c`` (B, d), ``hook_h`` (B, d), ``hook_logits`` (B, vocab).

Unlike a transformer's hooks they fire **once per time step**, each with the activation of
that step only, and the step index is on the hook point: ``hook.pos`` is set to ``t`` (0-based
position in the ``tokens`` passed to this call) right before the hook runs. What a hook
returns replaces the value, and later steps use the replaced value: an edit of ``hook_c`` at
step ``t`` feeds ``h`` at ``t`` (computed from the edited ``c``) and every step after it, and
leaves steps before ``t`` untouched. Example, zero unit 7 of the cell at comma positions::

    commas = tokens == ord(",")                      # (B, T)
    def ablate(c, hook):
        c = c.clone()
        c[commas[:, hook.pos], 7] = 0.0
        return c
    logits = model.run_with_hooks(tokens, fwd_hooks=[("hook_c", ablate)])

Order within a step: embed, m, i, f, o, u, c, h. ``hook_logits`` fires after the whole scan,
still once per step in order with ``hook.pos = t`` (logits never feed the recurrence, so this
changes nothing but the firing order; it keeps the logits bitwise equal to the fused path's,
computed in one matmul). With padding (``mask`` False) the
state keeps its previous value; ``hook_c`` and ``hook_h`` see the state *after* that rule
(the value carried to step t+1), so at a padded step they see the kept state.

``run_with_cache`` is overridden to stack the per-step activations: it returns
``cache[name]`` of shape (B, T, d). Backward hooks work (they fire per step too).

Speed
-----
When no hook is attached anywhere, forward takes a fused path and the hook points cost
nothing (one check of 9 dicts per call). The input projections ``embed @ W_mx`` and
``embed @ W_x + b`` are computed once per call for all 256 bytes (tables of (256, 5d)) and
looked up per step straight into the step's buffers; ``W_x``/``W_h`` are one 4d-wide matmul
per step; the scan is one custom autograd function with a hand-written backward that loops
over time only for the (B, d) data gradients and computes every weight gradient as one big
matmul after the loop (table gradients by scatter-add). tanh is computed as
``2 sigmoid(2x) - 1`` (torch's CPU sigmoid is several times faster than its tanh; within ~1e-7).
Attaching any hook switches to a plain step-by-step autograd path that calls the hook points;
it computes the same numbers (a no-op hook gives bitwise-equal logits on CPU; tested).

Text encoding
-------------
:func:`preprocess` is OpenAI's ``preprocess``: ``html.unescape``, newlines to spaces,
strip, then ``'\\n ' + text + ' '``, UTF-8 bytes. ``bytes`` input is taken as bytes (no
decoding, no HTML unescaping: it may be latin-1 or anything) and gets the same newline /
strip / padding treatment. A ``str`` that cannot be UTF-8 encoded (lone surrogates) raises a
:class:`ValueError` naming the position; an empty (or all-whitespace) text raises
``ValueError("empty text ...")``.

A model names the preprocessing its weights were trained with in ``MLSTMConfig.preprocess``
(``"openai"``, the default, or ``"nvidia"``: :func:`preprocess_nvidia`, NVIDIA
sentiment-discovery's ``process_str``), and the readers that tokenize for a model
(:class:`interp.models.recurrent.MLSTMModel`, :mod:`interp.experiments.probe`) pass it as ``scheme=``.

Other vocabularies
------------------
Nothing above depends on the tokens being bytes: ``MLSTM(vocab=V, tokenizer=tok)`` reads the ids
of an :mod:`interp.models.tokenizer` tokenizer (a byte-level BPE over the same preprocessed text), and
``model.tokenizer`` is what the adapters (:mod:`interp.models.recurrent`, :mod:`interp.experiments.probe`) encode
with; a model of 256 outputs gets :class:`~interp.models.tokenizer.ByteTokenizer` by default, so byte
checkpoints behave as before. :meth:`MLSTM.save` writes a BPE tokenizer beside the weights
(``tokenizer.json`` beside ``model.safetensors``) and records its sha256 and size in the card;
:meth:`MLSTM.load` refuses a tokenizer that does not match. With a vocabulary over 256 the input
tables hold only the tokens that occur in the call when those are under half the vocabulary.
"""

from __future__ import annotations

import html
import json
import re
from dataclasses import asdict, dataclass, fields
from functools import partial
from pathlib import Path
from typing import Any, Callable, Optional, Sequence, Union

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.autograd.function import once_differentiable
from transformer_lens import HookedRootModule
from transformer_lens.hook_points import HookPoint

__all__ = [
    "MLSTMConfig",
    "MLSTM",
    "CheckpointMismatchError",
    "checkpoint_file",
    "preprocess",
    "preprocess_nvidia",
    "check_preprocessing",
    "PREPROCESSING",
    "MissingDependencyError",
    "encode",
    "encode_batch",
    "decode",
    "HOOK_NAMES",
]

FORMAT = "interp.mlstm"  # the card format name (a file format, not the module path)
FORMAT_VERSION = 1

#: Hook points, in the order they fire within one time step (``hook_logits`` fires per step
#: after the scan; see the module docstring).
HOOK_NAMES: tuple[str, ...] = (
    "hook_embed",
    "hook_m",
    "hook_i",
    "hook_f",
    "hook_o",
    "hook_u",
    "hook_c",
    "hook_h",
    "hook_logits",
)

State = tuple[Tensor, Tensor]  # (c, h), each (B, d_hidden)


# --------------------------------------------------------------------------- text


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


# --------------------------------------------------------------------------- config


@dataclass
class MLSTMConfig:
    """Shape and initialisation of an :class:`MLSTM`, and the text preprocessing its weights
    expect (``preprocess``: one of :data:`PREPROCESSING`; cards written before it existed load
    as ``"openai"``)."""

    vocab: int = 256
    d_embed: int = 64
    d_hidden: int = 256
    weight_norm: bool = False
    seed: int = 0
    preprocess: str = "openai"

    def __post_init__(self) -> None:
        for name in ("vocab", "d_embed", "d_hidden"):
            v = getattr(self, name)
            if not isinstance(v, int) or isinstance(v, bool) or v < 1:
                raise ValueError(f"MLSTMConfig.{name} must be a positive int, got {v!r}")
        if self.preprocess not in PREPROCESSING:
            raise ValueError(f"MLSTMConfig.preprocess must be one of {', '.join(PREPROCESSING)}, got "
                             f"{self.preprocess!r}")

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "MLSTMConfig":
        known = {f.name for f in fields(cls)}
        unknown = set(d) - known
        if unknown:
            raise ValueError(f"unknown MLSTMConfig fields {sorted(unknown)}")
        return cls(**d)

    def forward_flops_per_token(self) -> int:
        """Matmul FLOPs of one forward step per token (input projections, the two recurrent
        matmuls, the output layer); a training step costs about 3x this (forward + backward)."""
        E, d, V = self.d_embed, self.d_hidden, self.vocab
        return 2 * (E * 5 * d + d * d + d * 4 * d + d * V)

    def param_shapes(self) -> dict[str, tuple[int, ...]]:
        """Name -> shape of every tensor in the state dict."""
        V, E, d = self.vocab, self.d_embed, self.d_hidden
        shapes: dict[str, tuple[int, ...]] = {"embed": (V, E)}
        mats = {"mx": (E, d), "mh": (d, d), "x": (E, 4 * d), "h": (d, 4 * d)}
        for k, s in mats.items():
            if self.weight_norm:
                shapes[f"V_{k}"] = s
                shapes[f"g_{k}"] = (s[1],)
            else:
                shapes[f"W_{k}"] = s
        shapes["b"] = (4 * d,)
        shapes["W_out"] = (d, V)
        shapes["b_out"] = (V,)
        return shapes


class CheckpointMismatchError(ValueError):
    """A checkpoint's tensors do not match the config it claims."""


# --------------------------------------------------------------------------- fused scan


def _tanh(x: Tensor) -> Tensor:
    """tanh as ``2 * sigmoid(2x) - 1`` (within ~1e-7 of ``torch.tanh``). On CPU torch's sigmoid
    is several times faster than its tanh; the fused path computes the same thing in place,
    so the two paths agree bitwise."""
    return torch.sigmoid(x * 2.0) * 2.0 - 1.0


def _scan_loop(tok_tm, tm, tz, W_mh, W_h, c0, h0, mask_tm, masked_steps, save: bool, keep_h: bool):
    """The recurrence, without autograd.

    ``tok_tm`` (T, B) bytes; ``tm`` (V, d) = ``embed @ W_mx`` and ``tz`` (V, 4d) =
    ``embed @ W_x + b``: the input projections of every byte, looked up per step straight into
    the step's buffers (the tables stay in cache; no (T, B, 5d) projection tensor is made). In
    ``save`` mode every per-step intermediate is kept for the backward. Buffers are written in
    place (``out=``), so the loop allocates almost nothing. One op sequence serves training and
    inference, so both give bitwise the same numbers.
    """
    T, B = tok_tm.shape
    d = tm.shape[1]
    new = partial(torch.empty, dtype=tm.dtype, device=tm.device)
    if save:
        HM, M, G, C, TC = new(T, B, d), new(T, B, d), new(T, B, 4 * d), new(T, B, d), new(T, B, d)
        HMs, Ms, Gs, Cs, TCs = HM.unbind(0), M.unbind(0), G.unbind(0), C.unbind(0), TC.unbind(0)
    else:
        HM = M = G = C = TC = None
        hm, m, g, tc = new(B, d), new(B, d), new(B, 4 * d), new(B, d)
        HMs, Ms, Gs, TCs = [hm] * T, [m] * T, [g] * T, [tc] * T
        cb = (new(B, d), new(B, d))
        Cs = [cb[t & 1] for t in range(T)]
    if keep_h or save:
        H = new(T, B, d)
        Hs = H.unbind(0)
    else:
        H = None
        hb = (new(B, d), new(B, d))
        Hs = [hb[t & 1] for t in range(T)]
    toks = tok_tm.unbind(0)
    xm = new(B, d)
    d3 = 3 * d
    c, h = c0, h0
    for t in range(T):
        torch.index_select(tm, 0, toks[t], out=xm)
        hm = torch.mm(h, W_mh, out=HMs[t])
        m = torch.mul(xm, hm, out=Ms[t])
        g = torch.index_select(tz, 0, toks[t], out=Gs[t])
        g.addmm_(m, W_h)
        g[:, d3:].mul_(2.0)  # u = tanh(z_u) = 2 sigmoid(2 z_u) - 1: one sigmoid for all 4 blocks
        g.sigmoid_()
        u = g[:, d3:]
        u.mul_(2.0).sub_(1.0)
        c_new = torch.mul(g[:, d : 2 * d], c, out=Cs[t])
        c_new.addcmul_(g[:, :d], u)
        tc = torch.mul(c_new, 2.0, out=TCs[t]).sigmoid_().mul_(2.0).sub_(1.0)  # = _tanh(c_new)
        h_new = torch.mul(g[:, 2 * d : d3], tc, out=Hs[t])
        if masked_steps is not None and masked_steps[t]:
            mk = mask_tm[t]
            c_new.copy_(torch.where(mk, c_new, c))
            h_new.copy_(torch.where(mk, h_new, h))
        c, h = c_new, h_new
    return H, c, h, (HM, M, G, C, TC)


_sigmoid_bwd = torch.ops.aten.sigmoid_backward.grad_input
_tanh_bwd = torch.ops.aten.tanh_backward.grad_input


class _MLSTMScan(torch.autograd.Function):
    """Whole-sequence mLSTM recurrence with a hand-written backward.

    The backward loops over time only for the (B, d) data gradients, with fused elementwise
    kernels on cache-sized slices; the weight gradients are one big matmul each over all steps
    after the loop.
    """

    @staticmethod
    def forward(ctx, tok_tm, tm, tz, W_mh, W_h, c0, h0, mask_tm, masked_steps):
        H, c, h, (HM, M, G, C, TC) = _scan_loop(
            tok_tm, tm, tz, W_mh, W_h, c0, h0, mask_tm, masked_steps, save=True, keep_h=True
        )
        ctx.save_for_backward(tok_tm, tm, W_mh, W_h, c0, h0, mask_tm, H, HM, M, G, C, TC)
        ctx.vocab_4d = tz.shape
        ctx.masked_steps = masked_steps
        return H, c

    @staticmethod
    @once_differentiable
    def backward(ctx, gH, gc):
        tok_tm, tm, W_mh, W_h, c0, h0, mask_tm, H, HM, M, G, C, TC = ctx.saved_tensors
        masked_steps = ctx.masked_steps
        T, B, d = H.shape
        d3 = 3 * d
        needs = ctx.needs_input_grad
        if gH is not None:
            gH = gH.contiguous()
        W_hT, W_mhT = W_h.t(), W_mh.t()
        DZ = torch.empty_like(G)
        DM = torch.empty_like(H)
        DHM = torch.empty_like(H)
        R = torch.empty(B, 4 * d, dtype=H.dtype, device=H.device)  # raw gate grads, scratch
        dct = torch.empty(B, d, dtype=H.dtype, device=H.device)
        mk_f = mask_tm.to(H.dtype) if masked_steps is not None else None
        dh = gH[T - 1] if gH is not None else torch.zeros_like(h0)
        dc = gc if gc is not None else torch.zeros_like(c0)
        Gs, Cs, TCs, toks = G.unbind(0), C.unbind(0), TC.unbind(0), tok_tm.unbind(0)
        xm = torch.empty(B, d, dtype=H.dtype, device=H.device)
        DZs, DMs, DHMs = DZ.unbind(0), DM.unbind(0), DHM.unbind(0)
        for t in range(T - 1, -1, -1):
            skip = None
            if masked_steps is not None and masked_steps[t]:
                keep, drop = mk_f[t], 1 - mk_f[t]
                skip = (dh * drop, dc * drop)
                dh, dc = dh * keep, dc * keep
            g, tc = Gs[t], TCs[t]
            c_prev = Cs[t - 1] if t > 0 else c0
            i, f, o, u = g[:, :d], g[:, d : 2 * d], g[:, 2 * d : d3], g[:, d3:]
            _tanh_bwd(torch.mul(dh, o), tc, grad_input=dct)  # dL/dc through h = o tanh(c)
            dct.add_(dc)
            torch.mul(dct, u, out=R[:, :d])
            torch.mul(dct, c_prev, out=R[:, d : 2 * d])
            torch.mul(dh, tc, out=R[:, 2 * d : d3])
            torch.mul(dct, i, out=R[:, d3:])
            dz = DZs[t]
            _sigmoid_bwd(R[:, :d3], g[:, :d3], grad_input=dz[:, :d3])
            _tanh_bwd(R[:, d3:], u, grad_input=dz[:, d3:])
            dm = torch.mm(dz, W_hT, out=DMs[t])
            dhm = torch.mul(dm, torch.index_select(tm, 0, toks[t], out=xm), out=DHMs[t])
            dc = dct * f
            if t > 0 and gH is not None:
                dh = torch.addmm(gH[t - 1], dhm, W_mhT)
            else:
                dh = torch.mm(dhm, W_mhT)
            if skip is not None:
                dh = dh + skip[0]
                dc = dc + skip[1]
        gtm = gtz = gWmh = gWh = None
        idx = tok_tm.reshape(-1)
        V = ctx.vocab_4d[0]
        if H.device.type == "cpu":  # scatter-add the per-step projection grads into the byte tables

            def to_table(D):
                return D.new_zeros(V, D.shape[-1]).index_add_(0, idx, D.reshape(T * B, -1))

        else:  # GPU index_add_ uses atomics (not reproducible); a one-hot matmul is exact-order

            def to_table(D):
                onehot = F.one_hot(idx, V).to(D.dtype)
                return onehot.t() @ D.reshape(T * B, -1)

        if needs[1]:
            gtm = to_table(DM.mul_(HM))
        if needs[2]:
            gtz = to_table(DZ)
        if needs[3]:
            Hprev = torch.cat([h0.unsqueeze(0), H[:-1]], 0)
            gWmh = Hprev.reshape(T * B, d).t() @ DHM.reshape(T * B, d)
        if needs[4]:
            gWh = M.reshape(T * B, d).t() @ DZ.reshape(T * B, 4 * d)
        return (None, gtm, gtz, gWmh, gWh, (dc if needs[5] else None), (dh if needs[6] else None), None, None)


# --------------------------------------------------------------------------- model


class MLSTM(HookedRootModule):
    """Byte-level multiplicative LSTM with per-step TransformerLens hook points.

    ``MLSTM(config)`` or ``MLSTM(d_hidden=512, weight_norm=True)``. See the module docstring
    for the equations, the hook points (``hook.pos`` = time step) and padding.
    """

    def __init__(
        self,
        config: Optional[MLSTMConfig] = None,
        *,
        device: Union[str, torch.device, None] = None,
        dtype: Optional[torch.dtype] = None,
        init: bool = True,
        tokenizer: Any = None,
        **overrides: Any,
    ):
        super().__init__()
        if config is None:
            config = MLSTMConfig(**overrides)
        elif overrides:
            config = MLSTMConfig(**{**config.to_dict(), **overrides})
        self.cfg = config
        self.tokenizer = _attach_tokenizer(tokenizer, config.vocab)
        dtype = dtype or torch.float32
        for name, shape in config.param_shapes().items():
            self.register_parameter(name, nn.Parameter(torch.empty(shape, dtype=dtype)))
        for name in HOOK_NAMES:
            hp = HookPoint()
            hp.pos = None  # set to the time step right before each call
            setattr(self, name, hp)
        if init:
            self.reset_parameters()
        if device is not None:
            self.to(device)
        self.setup()

    # ------------------------------------------------------------------ parameters

    @torch.no_grad()
    def reset_parameters(self) -> None:
        """Initialise from ``cfg.seed`` (independent of the global RNG).

        Embedding N(0, 1); input matrices N(0, 1/d_embed); recurrent matrices orthogonal per
        (d, d) block; output N(0, 1/d); forget-gate bias 1, other biases 0. With weight norm,
        gains start at the column norms, so the effective weights are the same.
        """
        cfg = self.cfg
        gen = torch.Generator().manual_seed(cfg.seed)
        E, d, V = cfg.d_embed, cfg.d_hidden, cfg.vocab

        def normal(*shape, std):
            return torch.randn(*shape, generator=gen, dtype=torch.float64) * std

        def ortho(rows, cols):
            blocks = []
            for _ in range(cols // rows):
                q, r = torch.linalg.qr(torch.randn(rows, rows, generator=gen, dtype=torch.float64))
                blocks.append(q * torch.sign(torch.diagonal(r)))
            return torch.cat(blocks, 1)

        mats = {
            "mx": normal(E, d, std=E**-0.5),
            "mh": ortho(d, d),
            "x": normal(E, 4 * d, std=E**-0.5),
            "h": ortho(d, 4 * d),
        }
        self.embed.copy_(normal(V, E, std=1.0))
        for k, w in mats.items():
            if cfg.weight_norm:
                getattr(self, f"V_{k}").copy_(w)
                getattr(self, f"g_{k}").copy_(w.norm(dim=0))
            else:
                getattr(self, f"W_{k}").copy_(w)
        b = torch.zeros(4 * d, dtype=torch.float64)
        b[d : 2 * d] = 1.0
        self.b.copy_(b)
        self.W_out.copy_(normal(d, V, std=d**-0.5))
        self.b_out.zero_()

    def weights(self) -> dict[str, Tensor]:
        """Effective ``W_mx, W_mh, W_x, W_h`` (weight norm applied when on)."""
        out = {}
        for k in ("mx", "mh", "x", "h"):
            if self.cfg.weight_norm:
                v, g = getattr(self, f"V_{k}"), getattr(self, f"g_{k}")
                # tf.nn.l2_normalize(v, 0): v / sqrt(max(sum(v^2), 1e-12))
                inv = torch.rsqrt(torch.clamp((v * v).sum(0), min=1e-12))
                out[f"W_{k}"] = v * (g * inv)
            else:
                out[f"W_{k}"] = getattr(self, f"W_{k}")
        return out

    @property
    def device(self) -> torch.device:
        return self.embed.device

    @property
    def dtype(self) -> torch.dtype:
        return self.embed.dtype

    def require_tokenizer(self):
        """The attached tokenizer, or a ValueError saying none is (a model of an unusual vocab)."""
        if self.tokenizer is None:
            raise ValueError(f"this MLSTM (vocab {self.cfg.vocab}) has no tokenizer attached: pass tokenizer= "
                             f"(interp.models.tokenizer) when building it")
        return self.tokenizer

    def initial_state(self, batch_size: int) -> State:
        """Zero state ``(c, h)``, each (batch_size, d_hidden)."""
        z = torch.zeros(batch_size, self.cfg.d_hidden, device=self.device, dtype=self.dtype)
        return z, z.clone()

    # ------------------------------------------------------------------ hooks

    def _active_hook_points(self) -> dict[str, HookPoint]:
        """Hook points with any PyTorch hook attached (all of them if a global hook is)."""
        from torch.nn.modules import module as _m

        glob = (
            _m._global_forward_hooks
            or _m._global_forward_pre_hooks
            or _m._global_backward_hooks
            or getattr(_m, "_global_backward_pre_hooks", None)
        )
        out = {}
        for name in HOOK_NAMES:
            hp = self._modules[name]
            if glob or hp._forward_hooks or hp._forward_pre_hooks or hp._backward_hooks or hp._backward_pre_hooks:
                out[name] = hp
        return out

    # ------------------------------------------------------------------ running

    def _prep(self, tokens: Tensor, mask: Optional[Tensor], state: Optional[State], time_major: bool):
        if not isinstance(tokens, Tensor):
            raise TypeError(f"tokens must be a tensor of bytes, got {type(tokens).__name__}")
        if tokens.dim() == 1:
            raise ValueError("tokens must be (batch, seq); got a 1-D tensor (use tokens[None])")
        if tokens.dim() != 2:
            raise ValueError(f"tokens must be (batch, seq), got shape {tuple(tokens.shape)}")
        if tokens.dtype.is_floating_point or tokens.dtype == torch.bool:
            raise TypeError(f"tokens must be an integer tensor, got {tokens.dtype}")
        tok_tm = tokens if time_major else tokens.t()
        tok_tm = tok_tm.to(device=self.device, dtype=torch.long).contiguous()
        T, B = tok_tm.shape
        mask_tm = masked_steps = None
        if mask is not None:
            if tuple(mask.shape) != tuple(tokens.shape):
                raise ValueError(f"mask {tuple(mask.shape)} and tokens {tuple(tokens.shape)} differ in shape")
            mask_tm = (mask if time_major else mask.t()).to(device=self.device, dtype=torch.bool)
            all_real = mask_tm.all(1).tolist()
            if all(all_real):
                mask_tm = None
            else:
                masked_steps = [not a for a in all_real]
                mask_tm = mask_tm.unsqueeze(-1).contiguous()  # (T, B, 1)
        if state is None:
            c0, h0 = self.initial_state(B)
        else:
            c0, h0 = state
            d = self.cfg.d_hidden
            if tuple(c0.shape) != (B, d) or tuple(h0.shape) != (B, d):
                raise ValueError(
                    f"state must be (c, h), each ({B}, {d}); got {tuple(c0.shape)} and {tuple(h0.shape)}"
                )
            c0, h0 = c0.to(self.device, self.dtype), h0.to(self.device, self.dtype)
        return tok_tm, mask_tm, masked_steps, c0, h0

    def _tables(self, W: dict[str, Tensor], tok_tm: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        """Per-token input projections: ``embed @ W_mx`` (V, d) and ``embed @ W_x + b`` (V, 4d),
        and the token ids to look them up with.

        With 256 bytes, looking these up is cheaper than projecting every step's embedding,
        forward and backward (the backward becomes a scatter-add into a (V, 5d) table). With a
        larger vocabulary (BPE) the tables hold only the tokens that occur in ``tok_tm`` when
        they are under half the vocabulary, and the ids are renumbered into them (the same
        numbers: each table row is that token's projection)."""
        E = self.embed
        if self.cfg.vocab > 256:
            uniq, inv = torch.unique(tok_tm, return_inverse=True)
            if 2 * uniq.numel() < self.cfg.vocab:
                E, tok_tm = E[uniq], inv.view_as(tok_tm)
        return E @ W["W_mx"], torch.addmm(self.b, E, W["W_x"]), tok_tm

    def _scan(self, tok_tm, mask_tm, masked_steps, c0, h0, keep_h=True, want_logits=True):
        """-> (H (T, B, d) or None, c_T, h_T, logits (T, B, V) or None)."""
        T, B = tok_tm.shape
        if T == 0:
            H = c0.new_zeros(0, B, self.cfg.d_hidden)
            logits = c0.new_zeros(0, B, self.cfg.vocab) if want_logits else None
            return H, c0, h0, logits
        active = self._active_hook_points()
        W = self.weights()
        if active:
            return self._scan_hooked(tok_tm, mask_tm, masked_steps, c0, h0, W, active, want_logits)
        tm, tz, tok_tm = self._tables(W, tok_tm)
        if torch.is_grad_enabled() and any(x.requires_grad for x in (tm, tz, W["W_mh"], W["W_h"], c0, h0)):
            H, c = _MLSTMScan.apply(tok_tm, tm, tz, W["W_mh"], W["W_h"], c0, h0, mask_tm, masked_steps)
            h = H[-1]
        else:
            H, c, h, _ = _scan_loop(
                tok_tm, tm, tz, W["W_mh"], W["W_h"], c0, h0, mask_tm, masked_steps,
                save=False, keep_h=keep_h or want_logits,
            )
        logits = self.unembed(H) if want_logits else None
        # c and h are views into (T, B, d) buffers: clone so a kept state does not pin them.
        return H, c.clone(), h.clone(), logits

    def _scan_hooked(self, tok_tm, mask_tm, masked_steps, c0, h0, W, active, want_logits):
        """Step-by-step autograd path that calls the hook points (only those with hooks)."""
        T, B = tok_tm.shape
        d = self.cfg.d_hidden
        tm, tz, loc = self._tables(W, tok_tm)
        W_mh, W_h = W["W_mh"], W["W_h"]
        XM, XZ = F.embedding(loc, tm).unbind(0), F.embedding(loc, tz).unbind(0)
        Es = F.embedding(tok_tm, self.embed).unbind(0) if "hook_embed" in active else None

        def fire(name, act, t):
            hp = active.get(name)
            if hp is None:
                return act
            hp.pos = t
            return hp(act)

        hs = []
        c, h = c0, h0
        for t in range(T):
            xm, xz = XM[t], XZ[t]
            if Es is not None:
                et = fire("hook_embed", Es[t], t)
                if et is not Es[t]:  # edited: project the edited embedding
                    xm, xz = et @ W["W_mx"], torch.addmm(self.b, et, W["W_x"])
            hm = torch.mm(h, W_mh)
            m = fire("hook_m", torch.mul(xm, hm), t)
            z = torch.addmm(xz, m, W_h)
            s = torch.sigmoid(torch.cat([z[:, : 3 * d], z[:, 3 * d :] * 2.0], 1))
            i = fire("hook_i", s[:, :d], t)
            f = fire("hook_f", s[:, d : 2 * d], t)
            o = fire("hook_o", s[:, 2 * d : 3 * d], t)
            u = fire("hook_u", s[:, 3 * d :] * 2.0 - 1.0, t)
            c_new = torch.addcmul(torch.mul(f, c), i, u)
            masked = masked_steps is not None and masked_steps[t]
            if masked:
                c_new = torch.where(mask_tm[t], c_new, c)
            c_new = fire("hook_c", c_new, t)
            h_new = torch.mul(o, _tanh(c_new))
            if masked:
                h_new = torch.where(mask_tm[t], h_new, h)
            h_new = fire("hook_h", h_new, t)
            hs.append(h_new)
            c, h = c_new, h_new
        H = torch.stack(hs, 0)
        logits = None
        if want_logits:
            # Logits never feed the recurrence, so they are computed for all steps in one
            # matmul (bitwise as in the fused path) and hook_logits fires per step afterwards.
            logits = self.unembed(H)
            if "hook_logits" in active:
                logits = torch.stack([fire("hook_logits", lt, t) for t, lt in enumerate(logits.unbind(0))], 0)
        return H, c, h, logits

    def unembed(self, H: Tensor) -> Tensor:
        """Byte logits from hidden states (..., d) -> (..., vocab), one matmul."""
        shape = H.shape[:-1]
        return torch.addmm(self.b_out, H.reshape(-1, H.shape[-1]), self.W_out).view(*shape, self.cfg.vocab)

    def forward(
        self,
        tokens: Tensor,
        mask: Optional[Tensor] = None,
        state: Optional[State] = None,
        return_state: bool = False,
    ):
        """Byte logits (B, T, vocab) for ``tokens`` (B, T) of bytes.

        ``mask`` (B, T) bool, True at real bytes: at False steps the state ``(c, h)`` keeps its
        previous value (logits there are those of the kept state). ``state`` continues from an
        earlier call (default zeros). With ``return_state`` returns ``(logits, (c, h))``.
        The logits are a (B, T, V) view of a time-major buffer (call ``.contiguous()`` if needed).
        """
        tok_tm, mask_tm, masked_steps, c0, h0 = self._prep(tokens, mask, state, time_major=False)
        _, c, h, logits = self._scan(tok_tm, mask_tm, masked_steps, c0, h0)
        logits = logits.transpose(0, 1)
        return (logits, (c, h)) if return_state else logits

    def scan(
        self,
        tokens: Tensor,
        mask: Optional[Tensor] = None,
        state: Optional[State] = None,
        *,
        time_major: bool = False,
    ) -> tuple[Tensor, State]:
        """Hidden states without the output layer: ``(H, (c, h))``.

        ``H`` is (B, T, d) (a view), or (T, B, d) with ``time_major=True``, in which case
        ``tokens`` and ``mask`` are (T, B) too. Used by the trainer (logits via :meth:`unembed`).
        """
        tok_tm, mask_tm, masked_steps, c0, h0 = self._prep(tokens, mask, state, time_major)
        H, c, h, _ = self._scan(tok_tm, mask_tm, masked_steps, c0, h0, want_logits=False)
        return (H if time_major else H.transpose(0, 1)), (c, h)

    def features(
        self, tokens: Tensor, mask: Optional[Tensor] = None, state: Optional[State] = None
    ) -> State:
        """Final state ``(c, h)`` after reading ``tokens`` (padding keeps state, so with a
        right-padded batch this is each text's state after its last real byte). Under
        ``torch.no_grad``/``inference_mode`` and with no hook attached it keeps no per-step
        buffers: memory does not grow with T."""
        tok_tm, mask_tm, masked_steps, c0, h0 = self._prep(tokens, mask, state, time_major=False)
        _, c, h, _ = self._scan(tok_tm, mask_tm, masked_steps, c0, h0, keep_h=False, want_logits=False)
        return c, h

    def continuation_logprob(self, state: State, continuation: Union[str, bytes]) -> Tensor:
        """Log-probability (B,) of the bytes of ``continuation`` (UTF-8 if ``str``; taken as is,
        not preprocessed) following each row's ``state`` ``(c, h)``, e.g. the state after a
        review from :meth:`features`: the first byte is scored by ``h``'s logits, byte k by the
        logits after reading bytes < k. Summed over the bytes, in nats; no hooks involved.
        A BPE model scores the tokens of ``continuation`` (tokenized on its own) the same way."""
        c, h = state
        if c.shape != h.shape or c.dim() != 2 or c.shape[1] != self.cfg.d_hidden:
            raise ValueError(f"state must be two (B, {self.cfg.d_hidden}) tensors, got {tuple(c.shape)} and "
                             f"{tuple(h.shape)}")
        if isinstance(continuation, str) and not continuation:
            raise ValueError("empty continuation: nothing to score")
        try:
            ids = self.require_tokenizer().encode(continuation, preprocess_text=False)
        except ValueError as e:
            raise ValueError(f"empty continuation: nothing to score ({e})") from None
        tok = ids.to(c.device).expand(c.shape[0], -1)
        first = self.unembed(h)[:, None]  # predicts token 0
        rest = self.forward(tok[:, :-1], state=(c, h)) if len(ids) > 1 else first[:, :0]
        logp = torch.cat([first, rest], 1).log_softmax(-1)
        return logp.gather(-1, tok[..., None]).squeeze(-1).sum(1)

    def run_with_cache(
        self,
        *model_args: Any,
        names_filter: Union[None, str, Sequence[str], Callable[[str], bool]] = None,
        device: Union[None, str, torch.device] = None,
        remove_batch_dim: bool = False,
        incl_bwd: bool = False,
        reset_hooks_end: bool = True,
        clear_contexts: bool = False,
        pos_slice: Any = None,
        **model_kwargs: Any,
    ):
        """Run and cache activations stacked over time: ``cache[name]`` is (B, T, d).

        Same arguments as TransformerLens's ``run_with_cache`` (``incl_bwd`` and ``pos_slice``
        are not supported). Returns ``(model output, dict)``.
        """
        if incl_bwd or pos_slice is not None:
            raise NotImplementedError("MLSTM.run_with_cache supports neither incl_bwd nor pos_slice")
        if names_filter is None:
            names = list(HOOK_NAMES)
        elif isinstance(names_filter, str):
            names = [names_filter]
        elif callable(names_filter):
            names = [n for n in HOOK_NAMES if names_filter(n)]
        else:
            names = list(names_filter)
        unknown = [n for n in names if n not in self.hook_dict]
        if unknown:
            raise KeyError(f"MLSTM has no hook point(s) {unknown}; it has {list(HOOK_NAMES)}")
        store: dict[str, list[Tensor]] = {n: [] for n in names}

        def save(act: Tensor, hook: HookPoint) -> None:
            store[hook.name].append(act.detach().to(device) if device is not None else act.detach())

        with self.hooks(
            fwd_hooks=[(n, save) for n in names], reset_hooks_end=reset_hooks_end, clear_contexts=clear_contexts
        ):
            out = self(*model_args, **model_kwargs)
        cache = {n: torch.stack(v, 1) for n, v in store.items() if v}
        if remove_batch_dim:
            cache = {n: (v[0] if v.shape[0] == 1 else v) for n, v in cache.items()}
        return out, cache

    # ------------------------------------------------------------------ save / load

    def save(self, path: Union[str, Path], meta: Optional[dict] = None,
             dtype: Union[None, str, torch.dtype] = None) -> Path:
        """Write ``<path>.safetensors`` (weights) and ``<path>.json`` (card: config, shapes,
        ``meta``). Returns the safetensors path. ``dtype`` (e.g. ``"float16"``) stores the weights
        in that precision (half the bytes of fp32; :meth:`load` reads them back into fp32 unless
        told otherwise); the card's ``dtype`` says what is stored."""
        from safetensors.torch import save_file

        store = _float_dtype(dtype) if dtype is not None else self.dtype
        st_path, card_path = _paths(path)
        st_path.parent.mkdir(parents=True, exist_ok=True)
        tensors = {k: v.detach().to("cpu", store).contiguous() for k, v in self.state_dict().items()}
        card = {
            "format": FORMAT,
            "format_version": FORMAT_VERSION,
            "config": self.cfg.to_dict(),
            "dtype": str(store).replace("torch.", ""),
            "n_params": sum(p.numel() for p in self.parameters()),
            "tensors": {k: list(v.shape) for k, v in tensors.items()},
            "weights": st_path.name,
            "meta": meta or {},
        }
        file_meta = {"format": FORMAT, "config": json.dumps(self.cfg.to_dict())}
        if self.tokenizer is not None:
            desc = self.tokenizer.describe()
            if self.tokenizer.kind != "bytes":
                tok_path = _tokenizer_path(st_path)
                self.tokenizer.save(tok_path)
                desc["file"] = tok_path.name
            card["tokenizer"] = desc
            file_meta["tokenizer"] = json.dumps(desc)
        save_file(tensors, str(st_path), metadata=file_meta)
        card_path.write_text(json.dumps(card, indent=2) + "\n")
        return st_path

    @classmethod
    def load(
        cls, path: Union[str, Path], device: Union[str, torch.device, None] = None, dtype: Optional[torch.dtype] = None,
        tokenizer: Any = None,
    ) -> "MLSTM":
        """Load what :meth:`save` wrote (``path`` with or without ``.safetensors``/``.json``).

        Checks every tensor name and shape against the config in the card and raises
        :class:`CheckpointMismatchError` naming the first offending tensor. A BPE model's
        tokenizer is read from the file its card names (``tokenizer.json`` beside
        ``model.safetensors``) and must have the sha256 and vocabulary size the card records;
        a ``tokenizer`` passed here must be that same tokenizer (else
        :class:`CheckpointMismatchError`). A card without a tokenizer entry is a byte model.
        """
        st_path, card_path = _paths(path)
        if not st_path.is_file():
            raise FileNotFoundError(f"no mLSTM weights at {st_path}")
        try:
            return cls._load(st_path, card_path, device, dtype, tokenizer)
        except (CheckpointMismatchError, FileNotFoundError):
            raise
        except Exception as e:  # noqa: BLE001 - SafetensorError, a broken card, a short file: one clear error
            first = (str(e).strip().splitlines() or [type(e).__name__])[0]
            raise CheckpointMismatchError(
                f"cannot read the mLSTM checkpoint {st_path} ({type(e).__name__}: {first}): it is empty, cut short or "
                f"not a safetensors file, or its card {card_path.name} is broken; copy it again, or write a new one "
                f"with interp train-mlstm") from None

    @classmethod
    def _load(cls, st_path: Path, card_path: Path, device, dtype, tokenizer: Any = None) -> "MLSTM":
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


def _attach_tokenizer(tokenizer: Any, vocab: int):
    """The tokenizer a model of ``vocab`` outputs reads: bytes by default when ``vocab == 256``,
    none for other sizes unless given (then its vocabulary must be ``vocab``)."""
    from interp.models.tokenizer import ByteTokenizer

    if tokenizer is None:
        return ByteTokenizer() if vocab == 256 else None
    if not all(hasattr(tokenizer, a) for a in ("encode", "pieces", "vocab_size", "kind")):
        raise TypeError(f"tokenizer must be an interp.models.tokenizer tokenizer, got {type(tokenizer).__name__}")
    if tokenizer.vocab_size != vocab:
        raise ValueError(f"tokenizer has {tokenizer.vocab_size} tokens but the model's vocab is {vocab}")
    return tokenizer


def _tokenizer_path(st_path: Path) -> Path:
    """``tokenizer.json`` beside ``model.safetensors``; ``<stem>.tokenizer.json`` for other stems."""
    from interp.models.tokenizer import TOKENIZER_FILE

    stem = st_path.name[: -len(".safetensors")]
    return st_path.with_name(TOKENIZER_FILE if stem == "model" else f"{stem}.{TOKENIZER_FILE}")


def _checkpoint_tokenizer(st_path: Path, desc: Optional[dict], vocab: int, given: Any):
    """The tokenizer a checkpoint's card describes, checked against the card (and ``given``)."""
    from interp.models.tokenizer import BPETokenizer, ByteTokenizer

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
