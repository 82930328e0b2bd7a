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
(:mod:`interp.models.mlstm.convert` reads OpenAI's and NVIDIA's published checkpoints).

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
nothing (one check of 9 dicts per call) and the whole sequence runs in the fused scan of
:mod:`interp.models.mlstm.scan` (input projections looked up from per-token tables, one
custom autograd function with a hand-written backward).
Attaching any hook switches to a plain step-by-step autograd path that calls the hook points;
it computes the same numbers (a no-op hook gives bitwise-equal logits on CPU; tested).

Text, tokens and files
----------------------
The model reads token ids; what they are for a text is :mod:`interp.models.mlstm.text`
(OpenAI's or NVIDIA's preprocessing, named by ``MLSTMConfig.preprocess``) followed by a
tokenizer of :mod:`interp.models.mlstm.tokenizer`. Nothing here depends on the tokens being
bytes: ``MLSTM(vocab=V, tokenizer=tok)`` reads the ids of a byte-level BPE over the same
preprocessed text, and ``model.tokenizer`` is what the adapters
(:mod:`interp.models.mlstm.adapter`, :mod:`interp.experiments.probe`) encode with; a model of 256
outputs gets :class:`~interp.models.mlstm.tokenizer.ByteTokenizer` by default, so byte
checkpoints behave as before. :meth:`MLSTM.save` and :meth:`MLSTM.load` are
:mod:`interp.models.mlstm.checkpoint` (weights, card, and a BPE model's tokenizer beside them,
checked by sha256). With a vocabulary over 256 the input tables hold only the tokens that occur
in the call when those are under half the vocabulary.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable, Optional, Sequence, Union

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from transformer_lens import HookedRootModule
from transformer_lens.hook_points import HookPoint

from interp.models.mlstm.checkpoint import load_mlstm, save_mlstm
from interp.models.mlstm.config import MLSTMConfig
from interp.models.mlstm.scan import _MLSTMScan, _scan_loop, _tanh

__all__ = ["MLSTM", "HOOK_NAMES", "State"]

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
                             f"(interp.models.mlstm.tokenizer) when building it")
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
        return save_mlstm(self, path, meta, dtype)

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
        return load_mlstm(cls, path, device, dtype, tokenizer)


def _attach_tokenizer(tokenizer: Any, vocab: int):
    """The tokenizer a model of ``vocab`` outputs reads: bytes by default when ``vocab == 256``,
    none for other sizes unless given (then its vocabulary must be ``vocab``)."""
    # Imported here, not at the top, so that importing the package leaves the tokenizer module out of
    # sys.modules and ``python -m interp.models.mlstm.tokenizer`` runs it once (no runpy double import).
    from interp.models.mlstm.tokenizer import ByteTokenizer

    if tokenizer is None:
        return ByteTokenizer() if vocab == 256 else None
    if not all(hasattr(tokenizer, a) for a in ("encode", "pieces", "vocab_size", "kind")):
        raise TypeError(f"tokenizer must be an interp.models.mlstm.tokenizer tokenizer, got {type(tokenizer).__name__}")
    if tokenizer.vocab_size != vocab:
        raise ValueError(f"tokenizer has {tokenizer.vocab_size} tokens but the model's vocab is {vocab}")
    return tokenizer
