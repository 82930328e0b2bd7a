"""Which BPE vocabulary for the subword mLSTM? Tokens/s and held-out bits per character at equal CPU time.

    python analyses/bpe_vocab_choice.py --vocab 4096 8192 16384 --bytes --cpu-s 170 \\
        --out analyses/results/bpe-vocab-choice

For each vocabulary (a byte-level BPE trained on IMDB train + unsup by ``python -m
interp.models.mlstm.tokenizer``, files ``--tokenizers DIR/imdb-bpe-<V>.json``) and, with ``--bytes``, for the
byte model as reference, it trains the same mLSTM (``--d-hidden`` units, ``interp.models.mlstm.train``,
1 thread, the real run's learning rate and schedule length so the LR is nearly constant here)
from scratch for ``--cpu-s`` seconds of process CPU time (in slices of the resumable trainer,
so a loaded machine costs wall time, not compute), then measures:

- training tokens/s and characters/s per CPU second, GFLOP per CPU second (3 x the forward
  matmul FLOPs per token), and the share of the matmul rate: the trainer's own sessions time a
  ``(B*T x d) @ (d x 4d)`` matmul at their start and end, and the share is their training
  GFLOP/s over that rate, both in wall time at the same moments (so it holds on a loaded machine);
- held-out bits per character on the same text for every model: the first ``--held-chars`` of
  the trainer's held-out IMDB reviews (never trained on), token loss summed over characters.

Smaller than the real run (batch ``--batch-size`` x ``--bptt`` tokens, a few minutes each), so
the numbers rank the early phase of training; the choice weighs it with tokens/s (the longer
run's cost per character). Writes ``result.json`` and ``README.md`` into ``--out``.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import time
from pathlib import Path

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import numpy as np  # noqa: E402
import torch  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from interp.models.mlstm import MLSTM  # noqa: E402
from interp.models.mlstm.tokenizer import BPETokenizer  # noqa: E402
from interp.models.mlstm.train import build_imdb_corpus, evaluate_bpc, matmul_rate, train_mlstm  # noqa: E402


def held_text(held: np.ndarray, chars: int) -> bytes:
    """The first whole held-out reviews covering ``chars`` bytes (each starts with b'\\n')."""
    raw = np.asarray(held).tobytes()
    cut = raw.find(b"\n", chars)
    return raw if cut < 0 else raw[:cut]


def run_one(name: str, tok, a, work: Path, held_bytes: bytes) -> dict:
    out = work / name
    if out.exists():
        shutil.rmtree(out)
    kw = dict(d_hidden=a.d_hidden, batch_size=a.batch_size, bptt=a.bptt, lr=a.lr, total_chars=int(a.total_chars),
              eval_every=None, checkpoint_every=None, log_every=None, threads=1, progress=False, tokenizer=tok)
    cpu0 = time.process_time()
    wall0 = time.perf_counter()
    res, used, slices = None, 0.0, 0
    while a.cpu_s - used > 2:
        res = train_mlstm(out, resume=res is not None, max_wall_s=a.cpu_s - used, **kw)
        used = time.process_time() - cpu0
        slices += 1
    wall = time.perf_counter() - wall0
    tokens = res.step * a.batch_size * a.bptt
    model = MLSTM.load(res.model_path)
    ids = held_bytes if tok is None else np.concatenate(
        [tok.encode(b"\n" + r, preprocess_text=False).numpy() for r in held_bytes.split(b"\n")[1:]])
    ids = np.frombuffer(ids, np.uint8) if tok is None else ids.astype(np.uint16)
    t0 = time.process_time()
    bpc = evaluate_bpc(model, ids, batch_size=32)
    eval_cpu = time.process_time() - t0
    flops = 3 * model.cfg.forward_flops_per_token()
    sess = [json.loads(l) for l in open(out / "sessions.jsonl")]
    share = sum(x["train_gflops"] * x["wall_s"] for x in sess) / sum(x["matmul_gflops"] * x["wall_s"] for x in sess)
    row = {
        "model": name, "vocab": model.cfg.vocab, "n_params": sum(p.numel() for p in model.parameters()),
        "steps": res.step, "tokens": tokens, "chars": res.chars_seen, "train_cpu_s": round(used, 1),
        "train_wall_s": round(wall, 1), "slices": slices,
        "tokens_per_cpu_s": round(tokens / used, 1), "chars_per_cpu_s": round(res.chars_seen / used, 1),
        "chars_per_token": round(res.chars_seen / tokens, 3),
        "train_gflops_per_cpu_s": round(tokens / used * flops / 1e9, 2),
        "share_of_matmul": round(share, 3),
        "sessions": [{k: x[k] for k in ("wall_s", "tokens_per_s", "matmul_gflops", "train_gflops", "share_of_matmul")}
                     for x in sess],
        "held_out_bpc": round(bpc, 4), "held_out_tokens": int(ids.size), "eval_cpu_s": round(eval_cpu, 1),
        "last_train_bpc": res.train_bpc,
    }
    print(json.dumps(row), flush=True)
    shutil.rmtree(out)  # the weights of a few-minute run are not worth keeping
    return row


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--vocab", type=int, nargs="+", default=[4096, 8192, 16384])
    ap.add_argument("--bytes", action="store_true", help="also the byte model, as reference")
    ap.add_argument("--tokenizers", type=Path, default=Path("runs/bpe"))
    ap.add_argument("--d-hidden", type=int, default=512)
    ap.add_argument("--batch-size", type=int, default=32)
    ap.add_argument("--bptt", type=int, default=64)
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--total-chars", type=float, default=199e6, help="schedule length (LR ~constant over a short run)")
    ap.add_argument("--cpu-s", type=float, default=170)
    ap.add_argument("--held-chars", type=int, default=100_000)
    ap.add_argument("--work", type=Path, default=Path("runs/bpe-vocab-choice"))
    ap.add_argument("--out", type=Path, required=True)
    a = ap.parse_args()
    torch.set_num_threads(1)
    t_all = time.perf_counter()
    _, held, _ = build_imdb_corpus(verbose=False)
    hb = held_text(held, a.held_chars)
    rates = [matmul_rate(a.batch_size * a.bptt, a.d_hidden, seconds=2.0)]
    rows = []
    names = (["bytes"] if a.bytes else []) + [f"bpe-{v}" for v in a.vocab]
    for name in names:
        tok = None if name == "bytes" else BPETokenizer.load(a.tokenizers / f"imdb-bpe-{name[4:]}.json")
        rows.append(run_one(name, tok, a, a.work, hb))
        rates.append(matmul_rate(a.batch_size * a.bptt, a.d_hidden, seconds=2.0))
    rate = float(np.median(rates))
    res = {
        "command": "python " + " ".join(sys.argv),
        "settings": {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(a).items()},
        "held_out_chars": len(hb), "matmul_gflops": [round(x, 2) for x in rates],
        "matmul_shape": f"({a.batch_size * a.bptt} x {a.d_hidden}) @ ({a.d_hidden} x {4 * a.d_hidden}), 1 thread",
        "rows": rows, "wall_s": round(time.perf_counter() - t_all, 1),
        "torch": torch.__version__, "cpu_count": os.cpu_count(),
    }
    a.out.mkdir(parents=True, exist_ok=True)
    (a.out / "result.json").write_text(json.dumps(res, indent=2) + "\n")
    render(res, a.out)


def render(res: dict, out: Path) -> None:
    """README.md of a result.json."""
    a = argparse.Namespace(**res["settings"])
    rates, rows, hb_n = res["matmul_gflops"], res["rows"], res["held_out_chars"]
    rate = float(np.median(rates))
    lines = [
        "# BPE vocabulary for the subword mLSTM: tokens/s and held-out bpc at equal CPU time", "",
        f"`{res['command']}`", "",
        f"mLSTM-{a.d_hidden}, 1 thread, batch {a.batch_size} x BPTT {a.bptt} tokens, Adam lr {a.lr}, "
        f"{a.cpu_s:.0f} CPU-s of training each from scratch. Held-out: the first {hb_n:,} characters of "
        f"the trainer's held-out IMDB reviews, the same text for every model. Matmul "
        f"{res['matmul_shape']}, wall-clock rate between the runs: {', '.join(f'{x:.1f}' for x in rates)} GFLOP/s "
        f"(median {rate:.1f}); the share of matmul is each run's own (see the module docstring).", "",
        "| model | params | steps | tokens/CPU-s | chars/CPU-s | chars/token | GFLOP/CPU-s | share of matmul "
        "| chars seen | held-out bpc |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(f"| {r['model']} | {r['n_params']:,} | {r['steps']} | {r['tokens_per_cpu_s']:,.0f} | "
                     f"{r['chars_per_cpu_s']:,.0f} | {r['chars_per_token']:.2f} | {r['train_gflops_per_cpu_s']:.1f} | "
                     f"{r['share_of_matmul']:.0%} | {r['chars']:,} | {r['held_out_bpc']:.3f} |")
    lines += ["", f"Wall time of the whole comparison: {res['wall_s']:.0f} s (a shared 2-core machine)."]
    (out / "README.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
