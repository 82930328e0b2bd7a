"""Train the byte-level mLSTM on the CPU in resumable pieces, keeping a snapshot every STEP chars.

    python analyses/train_mlstm_cpu.py runs/mlstm-512 --d-hidden 512 --until 60e6 --max-wall-s 6000

Run again with a larger ``--until`` (or after an interruption) and it resumes exactly where the
checkpoint left it: same schedule (linear decay over ``--total-chars``), same data order. Each
snapshot (``snapshots/chars-<N>.safetensors`` + ``.json``) is the model after N characters, for
the bpc-vs-probe curve in the model card.

``--tokenizer PATH`` trains the subword mLSTM over a byte-level BPE (``python -m interp.models.mlstm.tokenizer``);
characters still count characters, and ``snapshots/tokenizer.json`` is the tokenizer every snapshot's
card names:

    python analyses/train_mlstm_cpu.py runs/mlstm-512-bpe --tokenizer runs/bpe/imdb-bpe-8192.json \
        --until 199e6 --threads 1
"""

from __future__ import annotations

import argparse
import os
import shutil
import time
from pathlib import Path

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

from interp.models.mlstm.train import train_mlstm  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("out", type=Path)
    ap.add_argument("--d-hidden", type=int, default=512)
    ap.add_argument("--total-chars", type=float, default=199e6, help="length of the LR schedule (about two passes)")
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--step", type=float, default=5e6, help="characters between snapshots")
    ap.add_argument("--until", type=float, required=True, help="stop after this many characters in all")
    ap.add_argument("--max-wall-s", type=float, default=None, help="stop this session after so many seconds")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--tokenizer", type=Path, default=None, help="byte-level BPE JSON (default: bytes)")
    a = ap.parse_args()
    t0 = time.time()
    snaps = a.out / "snapshots"
    step, until = int(a.step), int(a.until)
    seen = 0
    while seen < until:
        target = min(until, (seen // step + 1) * step)
        left = None if a.max_wall_s is None else a.max_wall_s - (time.time() - t0)
        if left is not None and left <= 60:
            break
        res = train_mlstm(a.out, d_hidden=a.d_hidden, total_chars=int(a.total_chars), lr=a.lr, seed=a.seed,
                          resume=(a.out / "checkpoint.pt").exists(), eval_every=step, checkpoint_every=step,
                          threads=a.threads, stop_after_chars=target, max_wall_s=left, progress=True,
                          tokenizer=a.tokenizer)
        seen = res.chars_seen
        snaps.mkdir(parents=True, exist_ok=True)
        # chars-0030M at a whole million (the --step snapshots); chars-0030.93M when a run stops between two
        # (--until, the wall clock), so that it does not overwrite the snapshot of the same million
        name = (f"chars-{seen // 1_000_000:04d}M" if seen % 1_000_000 < 100_000 or seen % int(a.step) < 100_000
                else f"chars-{seen / 1e6:07.2f}M")
        for suffix in (".safetensors", ".json"):
            shutil.copy(res.model_path.with_suffix(suffix), snaps / (name + suffix))
        if (a.out / "tokenizer.json").is_file():  # named by every snapshot's card
            shutil.copy(a.out / "tokenizer.json", snaps / "tokenizer.json")
        print(f"snapshot {name}: held-out bpc {res.held_out_bpc}, {time.time() - t0:.0f} s", flush=True)
        if res.finished or seen < target:  # schedule done, or stopped by the wall clock
            break


if __name__ == "__main__":
    main()
