"""Throughput of the byte mLSTM: fused training step vs a naive per-step loop, against matmul peak.

For each ``--d-hidden`` it measures, in one run (fp32):

- ``matmul``: GFLOP/s of a plain (B*T x d) @ (d x 4d) matmul loop, the machine's reachable rate
  for this shape right now;
- ``train``: chars/s of one full training step as ``interp.models.mlstm.train`` runs it (fused scan,
  output layer, cross-entropy, backward, clipping, Adam), and the GFLOP/s that is, counting
  forward+backward as 3x the forward's matmul FLOPs;
- ``naive``: chars/s of the same step written as a plain per-step autograd loop (embedding
  indexed ``X[t]`` per step, every projection recomputed per step, logits per step), its share
  of the matmul rate, and so the ceiling on fast/naive: both do the same matmul FLOPs, so a
  fast path at 100% of the matmul rate beats the naive loop by at most 1/(naive's share);
- ``features``: chars/s of ``inference_mode`` feature extraction (final state, no logits) and
  of a full inference forward with logits.

Usage: ``OMP_WAIT_POLICY=PASSIVE python benchmarks/bench_mlstm.py --d-hidden 256 512``.
Numbers on a shared machine move with the load: the matmul rate is measured in the same run so
the fraction stays meaningful.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import torch
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from interp.models.mlstm import MLSTM  # noqa: E402


def timeit(fn, min_time: float, min_iters: int = 1) -> tuple[float, float]:
    """(wall s, process CPU s) per call, over at least ``min_iters`` calls and ``min_time`` s."""
    n, t0, c0 = 0, time.perf_counter(), time.process_time()
    while True:
        fn()
        n += 1
        el = time.perf_counter() - t0
        if n >= min_iters and el >= min_time:
            return el / n, (time.process_time() - c0) / n


def median(xs):
    xs = sorted(xs)
    k = len(xs) // 2
    return xs[k] if len(xs) % 2 else 0.5 * (xs[k - 1] + xs[k])


def forward_flops_per_char(E: int, d: int, V: int) -> int:
    """Matmul FLOPs of the forward per byte: input projections, the two recurrent matmuls, output."""
    return 2 * (E * 5 * d + d * d + d * 4 * d + d * V)


def naive_loss(m: MLSTM, x_tm: torch.Tensor, y_tm: torch.Tensor, state):
    W = m.weights()
    c, h = state
    X = F.embedding(x_tm, m.embed)  # (T, B, E)
    logits = []
    for t in range(x_tm.shape[0]):
        x = X[t]
        mt = (x @ W["W_mx"]) * (h @ W["W_mh"])
        z = x @ W["W_x"] + mt @ W["W_h"] + m.b
        i, f, o, u = z.chunk(4, 1)
        i, f, o, u = torch.sigmoid(i), torch.sigmoid(f), torch.sigmoid(o), torch.tanh(u)
        c = f * c + i * u
        h = o * torch.tanh(c)
        logits.append(h @ m.W_out + m.b_out)
    lg = torch.stack(logits, 0)
    return F.cross_entropy(lg.reshape(-1, lg.shape[-1]), y_tm.reshape(-1)), (c, h)


def bench(d: int, args) -> dict:
    B, T, E, V = args.batch, args.bptt, 64, 256
    torch.manual_seed(0)
    m = MLSTM(d_hidden=d, d_embed=E)
    opt = torch.optim.Adam(m.parameters(), lr=5e-4)
    data = torch.randint(0, V, (T + 1, B))
    x, y = data[:-1].contiguous(), data[1:].contiguous()
    res = {"d": d}

    # matmul reference: (B*T x d) @ (d x 4d)
    a, w = torch.randn(B * T, d), torch.randn(d, 4 * d)
    out = torch.empty(B * T, 4 * d)

    state = [m.initial_state(B)]

    def fast_step():
        H, (c, h) = m.scan(x, state=state[0], time_major=True)
        loss = F.cross_entropy(m.unembed(H).view(-1, V), y.reshape(-1))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(m.parameters(), 1.0)
        opt.step()
        state[0] = (c.detach(), h.detach())

    def naive_step():
        loss, (c, h) = naive_loss(m, x, y, state[0])
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(m.parameters(), 1.0)
        opt.step()
        state[0] = (c.detach(), h.detach())

    flops_char = 3 * forward_flops_per_char(E, d, V)
    xf = torch.randint(0, V, (B, args.feature_len))

    def features():
        with torch.inference_mode():
            m.features(xf)

    def infer():
        with torch.inference_mode():
            m(xf)

    jobs = {
        "matmul": (lambda: torch.mm(a, w, out=out), args.min_time / 4, 3, 2 * B * T * d * 4 * d),
        "train": (fast_step, args.min_time, 2, B * T),
        "features": (features, args.min_time / 4, 1, B * args.feature_len),
        "infer": (infer, args.min_time / 4, 1, B * args.feature_len),
    }
    if not args.skip_naive:
        jobs["naive"] = (naive_step, args.min_time / 2, args.naive_iters, B * T)
    for fn, *_ in jobs.values():  # warm up
        fn()
    # Interleave the measurements in rounds and take medians, so that a change in the
    # machine's load hits all of them alike.
    rates: dict[str, list[float]] = {k: [] for k in jobs}
    cpu_rates: dict[str, list[float]] = {k: [] for k in jobs}
    for _ in range(args.rounds):
        for k, (fn, mt, mi, work) in jobs.items():
            wall, cpu = timeit(fn, mt / args.rounds, mi)
            rates[k].append(work / wall)
            cpu_rates[k].append(work / max(cpu, 1e-9))
    res["matmul_gflops"] = median(rates["matmul"]) / 1e9
    res["train_chars_s"] = median(rates["train"])
    res["train_chars_per_cpu_s"] = median(cpu_rates["train"])
    res["train_gflops"] = res["train_chars_s"] * flops_char / 1e9
    res["fraction_of_matmul"] = res["train_gflops"] / res["matmul_gflops"]
    if "naive" in rates:
        res["naive_chars_s"] = median(rates["naive"])
        res["naive_chars_per_cpu_s"] = median(cpu_rates["naive"])
        res["fast_over_naive"] = res["train_chars_s"] / res["naive_chars_s"]
        # the naive loop does the same matmul FLOPs, so no fast path can beat it by more than
        # (matmul rate) / (naive's rate): the ceiling a "k x naive" target has to fit under
        res["naive_fraction_of_matmul"] = res["naive_chars_s"] * flops_char / 1e9 / res["matmul_gflops"]
        res["fast_over_naive_ceiling"] = 1.0 / res["naive_fraction_of_matmul"]
    res["features_chars_s"] = median(rates["features"])
    res["infer_logits_chars_s"] = median(rates["infer"])
    return res


def main(argv=None) -> list[dict]:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--d-hidden", type=int, nargs="+", default=[256, 512])
    p.add_argument("--batch", type=int, default=64)
    p.add_argument("--bptt", type=int, default=128)
    p.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's)")
    p.add_argument("--min-time", type=float, default=12.0, help="seconds of training measurement per width")
    p.add_argument("--rounds", type=int, default=3, help="interleaved measurement rounds (medians reported)")
    p.add_argument("--naive-iters", type=int, default=2)
    p.add_argument("--skip-naive", action="store_true")
    p.add_argument("--feature-len", type=int, default=512, help="sequence length for feature extraction")
    args = p.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    try:
        load = os.getloadavg()[0]
    except OSError:
        load = float("nan")
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, "
          f"OMP_WAIT_POLICY={os.environ.get('OMP_WAIT_POLICY', '(unset)')}, load avg {load:.2f}, "
          f"batch {args.batch}, bptt {args.bptt}, fp32")
    rows = []
    for d in args.d_hidden:
        r = bench(d, args)
        rows.append(r)
        B, T = args.batch, args.bptt
        lines = [
            f"d={d}",
            f"  matmul ({B * T}x{d} @ {d}x{4 * d}): {r['matmul_gflops']:.1f} GFLOP/s",
            f"  train (fused):  {r['train_chars_s']:8.0f} chars/s = {r['train_gflops']:.1f} GFLOP/s "
            f"({100 * r['fraction_of_matmul']:.0f}% of matmul); {r['train_chars_per_cpu_s']:.0f} chars per CPU-s",
        ]
        if "naive_chars_s" in r:
            lines.append(f"  train (naive):  {r['naive_chars_s']:8.0f} chars/s; {r['naive_chars_per_cpu_s']:.0f} chars per "
                         f"CPU-s; {100 * r['naive_fraction_of_matmul']:.0f}% of matmul; fast/naive {r['fast_over_naive']:.2f}x "
                         f"(ceiling at 100% of matmul: {r['fast_over_naive_ceiling']:.2f}x)")
        lines.append(f"  features (inference_mode, final state): {r['features_chars_s']:.0f} chars/s; "
                     f"inference with logits: {r['infer_logits_chars_s']:.0f} chars/s")
        print("\n".join(lines), flush=True)
    return rows


if __name__ == "__main__":
    main()
