"""The mLSTM recurrence over a whole sequence, fused, with a hand-written backward.

What :meth:`interp.models.mlstm.module.MLSTM.forward` runs when no hook is attached. The input
projections ``embed @ W_mx`` and ``embed @ W_x + b`` are computed once per call for all tokens
(tables of (V, 5d)) and looked up per step straight into the step's buffers; ``W_x``/``W_h`` are
one 4d-wide matmul per step; :class:`_MLSTMScan` is one custom autograd function whose backward
loops over time only for the (B, d) data gradients and computes every weight gradient as one big
matmul after the loop (table gradients by scatter-add). tanh is computed as
``2 sigmoid(2x) - 1`` (torch's CPU sigmoid is several times faster than its tanh; within ~1e-7).
The hooked path of the module computes the same numbers step by step (bitwise on CPU; tested).
"""

from __future__ import annotations

from functools import partial

import torch
import torch.nn.functional as F
from torch import Tensor
from torch.autograd.function import once_differentiable

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
