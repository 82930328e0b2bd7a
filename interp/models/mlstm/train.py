"""Train a byte-level (or BPE) mLSTM language model on IMDB reviews (train + unsup), resumably.

The corpus (:mod:`interp.models.mlstm.corpus`): every review preprocessed as the model reads it,
concatenated into one byte stream, the last ``unsup`` reviews (at least ``held_out_chars`` bytes)
held out for bits-per-character and never trained on, the rest shuffled with a fixed seed unless
``shuffle_reviews=False``; cached under ``interp.config.cache_dir()/mlstm_corpus``.

Training: truncated BPTT. The stream is cut into ``batch_size`` contiguous shards, one per
batch row; each step reads the next ``bptt`` bytes of every shard and predicts the byte after
each. The state ``(c, h)`` is carried from window to window (detached) and reset to zeros at
the start of each pass over the corpus. Adam, learning rate decayed linearly from ``lr`` to 0
over ``total_chars``, gradient norm clipped at ``clip``.

Files in ``out_dir``: ``train_log.jsonl`` (one row per log/eval point: step, chars_seen,
train_bpc (mean since the last row), held_out_bpc (null unless evaluated there), lr, wall_s,
epoch), ``checkpoint.pt`` (everything needed to resume exactly), ``model.safetensors`` +
``model.json`` (the weights at the last checkpoint; see :meth:`interp.models.mlstm.module.MLSTM.load`),
``run.json`` (the arguments).

Resuming (``resume=True``) restores the model, Adam's moments, the step (and so the LR and
every shard's read position), the carried state, the running train-bpc accumulator and the
torch / numpy / python RNG states, and drops log rows written after the checkpoint. A run
stopped and resumed gives the same log (bitwise on CPU with the same thread count) as one that
never stopped. ``stop_after_chars`` / ``max_wall_s`` stop a run cleanly (with a checkpoint) to
fit a time slot; run the same call with ``resume=True`` to go on. A killed process loses the
work since the last checkpoint.

CPU notes: set ``OMP_WAIT_POLICY=PASSIVE`` in the environment *before* Python starts on a
shared machine (spinning OpenMP threads slow everything down), and use fp32 only.

Command line: ``python -m interp.models.mlstm.train OUT_DIR --d-hidden 256 --total-chars 20e6 ...``.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import os
import random
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Optional, Union

import numpy as np
import torch
import torch.nn.functional as F

from interp.models.mlstm.checkpoint import _float_dtype
from interp.models.mlstm.config import MLSTMConfig
from interp.models.mlstm.corpus import build_imdb_corpus, tokenize_corpus
from interp.models.mlstm.module import MLSTM

__all__ = ["train_mlstm", "TrainResult", "build_imdb_corpus", "evaluate_bpc", "held_out_evaluations", "held_out_of_run", "read_log", "main"]

CKPT_VERSION = 1
LN2 = math.log(2.0)

# Arguments that define the training trajectory: a resumed run must match them.
_TRAJECTORY_KEYS = (
    "d_hidden", "d_embed", "weight_norm", "batch_size", "bptt", "lr", "total_chars", "seed",
    "clip", "betas", "eps", "tokenizer_sha256",
)


@dataclass
class TrainResult:
    out_dir: Path
    model_path: Path
    log_path: Path
    checkpoint_path: Path
    step: int
    total_steps: int
    chars_seen: int
    finished: bool  # reached total_chars (False: stopped early by stop_after_chars / max_wall_s)
    train_bpc: Optional[float]
    held_out_bpc: Optional[float]


def _sha256_array(a: np.ndarray) -> str:
    return hashlib.sha256(np.ascontiguousarray(a).data).hexdigest()


def _as_bytes_array(x: Union[bytes, bytearray, np.ndarray], name: str) -> np.ndarray:
    if isinstance(x, (bytes, bytearray, memoryview)):
        return np.frombuffer(bytes(x), dtype=np.uint8).copy()
    a = np.asarray(x)
    if a.dtype != np.uint8 or a.ndim != 1:
        raise TypeError(f"{name} must be bytes or a 1-D uint8 array, got {a.dtype} {a.shape}")
    return a


# --------------------------------------------------------------------------- evaluation


@torch.inference_mode()
def evaluate_bpc(
    model: MLSTM, data: np.ndarray, batch_size: int = 64, chunk: int = 1024, device: Union[str, torch.device, None] = None
) -> float:
    """Bits per character of ``model`` on ``data`` (uint8 bytes, or the token ids of a BPE model):
    ``batch_size`` contiguous shards, read in chunks of ``chunk`` tokens with the state carried,
    from a zero state. A BPE model's summed token loss is divided by the bytes its predicted
    tokens stand for (:meth:`interp.models.mlstm.tokenizer.BPETokenizer.n_bytes`), so the number is per
    character, as the byte model's."""
    device = device or model.device
    tok = model.tokenizer
    n_bytes = None if tok is None or tok.kind == "bytes" else torch.from_numpy(tok.n_bytes())
    data = np.asarray(data)
    n = data.size
    B = max(1, min(batch_size, (n - 1) // 2))
    L = n // B
    if L < 2:
        raise ValueError(f"held-out data too short ({n} bytes)")
    shards = torch.from_numpy(np.ascontiguousarray(data[: B * L]).reshape(B, L).T.copy())  # (L, B) uint8
    state = model.initial_state(B)
    chunk = max(16, min(chunk, (1 << 26) // (B * model.cfg.d_hidden)))  # H buffer <= 256 MB
    total, count = 0.0, 0
    for s in range(0, L - 1, chunk):
        e = min(s + chunk, L - 1)
        x = shards[s:e].to(device=device, dtype=torch.long)
        y = shards[s + 1 : e + 1].to(device=device, dtype=torch.long)
        H, state = model.scan(x, state=state, time_major=True)
        logits = model.unembed(H)
        total += float(F.cross_entropy(logits.view(-1, logits.shape[-1]), y.reshape(-1), reduction="sum"))
        count += y.numel() if n_bytes is None else int(n_bytes[y.reshape(-1).cpu()].sum())
    return total / count / LN2


# --------------------------------------------------------------------------- training


def read_log(log_path: Union[str, Path]) -> list[dict]:
    """The rows of a run's ``train_log.jsonl`` ([] when there is none)."""
    p = Path(log_path)
    return [json.loads(l) for l in p.read_text().splitlines() if l.strip()] if p.exists() else []


def held_out_of_run(run: Union[str, Path], tokenizer=None) -> np.ndarray:
    """The held-out text a run folder's training evaluated, rebuilt from its ``run.json`` (IMDB, the
    same split) and checked against the recorded sha256; token ids when ``tokenizer`` is a BPE
    tokenizer, bytes otherwise. ValueError (one line) when the run did not train on IMDB or the
    rebuilt text differs."""
    run = Path(run)
    info = json.loads((run / "run.json").read_text())
    if "held_out_sha256" not in info or "held_out_chars" not in info:
        raise ValueError(f"{run}: run.json records no held-out text (not an interp train-mlstm run on IMDB)")
    _, held, cinfo = build_imdb_corpus(info["held_out_chars"], info.get("max_reviews"),
                                       info.get("shuffle_reviews", True), verbose=False)
    if _sha256_array(held) != info["held_out_sha256"]:
        raise ValueError(f"{run}: the held-out text rebuilt here is not the one the run evaluated (sha256 differs)")
    if tokenizer is not None and tokenizer.kind != "bytes":
        held = tokenize_corpus(tokenizer, held, cinfo.get("key"), verbose=False, name="held")
    return held


def held_out_evaluations(run: Union[str, Path]) -> dict[int, float]:
    """{characters seen: held-out bpc} of every evaluation in a run folder's ``train_log.jsonl``."""
    return {int(r["chars_seen"]): float(r["held_out_bpc"]) for r in read_log(Path(run) / "train_log.jsonl")
            if r.get("held_out_bpc") is not None}


def _rng_state() -> dict:
    np_state = np.random.get_state()
    st = {
        "torch": torch.get_rng_state(),
        "numpy": {
            "name": np_state[0],
            "keys": torch.from_numpy(np_state[1].astype(np.int64)),
            "pos": int(np_state[2]),
            "has_gauss": int(np_state[3]),
            "cached_gaussian": float(np_state[4]),
        },
        "python": random.getstate(),
    }
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        st["cuda"] = torch.cuda.get_rng_state_all()
    return st


def _set_rng_state(st: dict) -> None:
    torch.set_rng_state(st["torch"])
    n = st["numpy"]
    np.random.set_state((n["name"], n["keys"].numpy().astype(np.uint32), n["pos"], n["has_gauss"], n["cached_gaussian"]))
    py = st["python"]
    random.setstate((py[0], tuple(py[1]), py[2]))
    if "cuda" in st and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(st["cuda"])


def _atomic_torch_save(obj: Any, path: Path) -> None:
    tmp = path.with_name(path.name + f".tmp{os.getpid()}")
    torch.save(obj, tmp)
    os.replace(tmp, path)


def _steps(chars: Optional[int], per_step: int) -> Optional[int]:
    if chars is None or chars <= 0:
        return None
    return max(1, int(round(chars / per_step)))


def train_mlstm(
    out_dir: Union[str, Path],
    *,
    d_hidden: int = 256,
    d_embed: int = 64,
    weight_norm: bool = False,
    batch_size: int = 64,
    bptt: int = 128,
    lr: float = 5e-4,
    total_chars: int = 20_000_000,
    seed: int = 0,
    resume: bool = False,
    eval_every: Optional[int] = 2_000_000,
    checkpoint_every: Optional[int] = 1_000_000,
    log_every: Optional[int] = 200_000,
    held_out_chars: int = 500_000,
    max_reviews: Optional[int] = None,
    shuffle_reviews: bool = True,
    clip: float = 1.0,
    betas: tuple[float, float] = (0.9, 0.999),
    eps: float = 1e-8,
    threads: Optional[int] = None,
    device: Union[str, torch.device] = "cpu",
    progress: bool = True,
    stop_after_chars: Optional[int] = None,
    max_wall_s: Optional[float] = None,
    corpus: Union[None, bytes, np.ndarray] = None,
    held_out: Union[None, bytes, np.ndarray] = None,
    eval_batch_size: int = 64,
    save_dtype: Union[None, str, torch.dtype] = None,
    tokenizer: Union[None, str, Path, Any] = None,
    vocab_size: Optional[int] = None,
) -> TrainResult:
    """Train (or resume) a byte mLSTM on IMDB; see the module docstring.

    ``*_every`` and ``*_chars`` arguments count characters (bytes) and are rounded to whole
    steps of ``batch_size * bptt`` bytes; None turns a periodic action off (a checkpoint and a
    log row are still written at the end). ``corpus`` / ``held_out`` replace IMDB with given
    bytes (tests, other corpora). ``threads`` sets ``torch.set_num_threads`` for the run.
    ``save_dtype`` (e.g. ``"float16"``) stores ``model.safetensors`` in that precision (a 2,048-unit
    model is 44 MB in fp16, 88 MB in fp32); ``checkpoint.pt`` keeps fp32 weights and Adam state, so
    resuming stays exact.

    ``tokenizer`` (a :class:`interp.models.mlstm.tokenizer.BPETokenizer` or the path of its JSON) trains the
    same model over its tokens instead of bytes: the corpus (IMDB or ``corpus``) is tokenized
    review by review (:func:`tokenize_corpus`, cached), ``bptt`` and ``batch_size`` count tokens,
    and every ``*_chars`` argument still counts characters (bytes of text): it is turned into
    steps with the corpus's mean characters per token, while ``chars_seen`` in the log is the
    exact number of characters the predicted tokens stand for. Bits per character are the summed
    token loss over those characters (train and held out), so they compare with the byte
    model's. ``vocab_size``, if given, must equal the tokenizer's (a check). The tokenizer is
    saved beside ``model.safetensors`` and its sha256 is part of the run's identity: resuming
    with another tokenizer is refused.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    ckpt_path, log_path, run_path = out / "checkpoint.pt", out / "train_log.jsonl", out / "run.json"
    model_path = out / "model.safetensors"
    device = torch.device(device)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise RuntimeError("device='cuda' but CUDA is not available")
    if ckpt_path.exists() and not resume:
        raise FileExistsError(f"{out} already holds a run ({ckpt_path.name}); pass resume=True to continue it "
                              f"or choose another out_dir")
    if batch_size < 1 or bptt < 1 or total_chars < 1:
        raise ValueError("batch_size, bptt and total_chars must be positive")
    if save_dtype is not None:
        save_dtype = _float_dtype(save_dtype)  # a bad name fails here, not at the first checkpoint
    tok = None
    if tokenizer is not None:
        from interp.models.mlstm.tokenizer import BPETokenizer

        tok = tokenizer if isinstance(tokenizer, BPETokenizer) else BPETokenizer.load(tokenizer)
        if vocab_size is not None and vocab_size != tok.vocab_size:
            raise ValueError(f"vocab_size {vocab_size} does not match the tokenizer's {tok.vocab_size} tokens")
    elif vocab_size is not None and vocab_size != 256:
        raise ValueError(f"vocab_size {vocab_size} needs a tokenizer (--tokenizer PATH, a BPE of that size; "
                         f"python -m interp.models.mlstm.tokenizer trains one); without one the model reads 256 bytes")

    # ---- data
    if corpus is None:
        if held_out is not None:
            raise ValueError("held_out given without corpus")
        data, held, corpus_info = build_imdb_corpus(held_out_chars, max_reviews, shuffle_reviews, verbose=progress)
    else:
        data = _as_bytes_array(corpus, "corpus")
        held = _as_bytes_array(held_out, "held_out") if held_out is not None else np.zeros(0, np.uint8)
        corpus_info = {"source": "given", "train_chars": int(data.size), "held_out_chars": int(held.size)}
    corpus_sha = _sha256_array(data)  # of the bytes (the text), for a BPE model too
    held_sha = _sha256_array(held)
    n_bytes = None  # bytes per token id (BPE), None for bytes
    if tok is not None:
        key = corpus_info.get("key")  # IMDB's cache key; given corpora are not cached
        data = tokenize_corpus(tok, data, key, verbose=progress, name="train")
        held = tokenize_corpus(tok, held, key, verbose=progress, name="held") if held.size else np.zeros(0, np.uint16)
        n_bytes = tok.n_bytes()
        corpus_info = {**corpus_info, "train_tokens": int(data.size), "held_out_tokens": int(held.size),
                       "chars_per_token": corpus_info["train_chars"] / max(1, int(data.size))}
    B, T = batch_size, bptt
    L = data.size // B
    unit = "bytes" if tok is None else "tokens"
    if L < T + 1:
        raise ValueError(f"corpus of {data.size:,} {unit} is too short for {B} shards of at least {T + 1} {unit}")
    windows_per_epoch = (L - 1) // T
    per_step = B * T
    # characters per step: exact for bytes; the corpus mean for tokens (schedules are set in characters)
    step_chars = per_step if tok is None else per_step * corpus_info["chars_per_token"]
    total_steps = max(1, int(total_chars // step_chars))
    eval_steps = _steps(eval_every, step_chars) if held.size > 2 else None
    ckpt_steps = _steps(checkpoint_every, step_chars)
    log_steps = _steps(log_every, step_chars)

    args = dict(
        d_hidden=d_hidden, d_embed=d_embed, weight_norm=weight_norm, batch_size=B, bptt=T, lr=lr,
        total_chars=total_chars, seed=seed, clip=clip, betas=list(betas), eps=eps,
        eval_every=eval_every, checkpoint_every=checkpoint_every, log_every=log_every,
        held_out_chars=held_out_chars, max_reviews=max_reviews, shuffle_reviews=shuffle_reviews,
        device=str(device), threads=threads, corpus_sha256=corpus_sha, held_out_sha256=held_sha,
        corpus=corpus_info, total_steps=total_steps, windows_per_epoch=windows_per_epoch,
    )
    if tok is not None:  # (byte runs keep the args they always had)
        args.update(vocab_size=tok.vocab_size, tokenizer_sha256=tok.sha256,
                    tokenizer=str(tokenizer) if not isinstance(tokenizer, type(tok)) else None)

    old_threads = torch.get_num_threads()
    if threads is not None:
        torch.set_num_threads(threads)
    try:
        # ---- model and optimiser
        torch.manual_seed(seed)
        np.random.seed(seed % 2**32)
        random.seed(seed)
        vocab = 256 if tok is None else tok.vocab_size
        model = MLSTM(MLSTMConfig(vocab=vocab, d_embed=d_embed, d_hidden=d_hidden, weight_norm=weight_norm, seed=seed),
                      tokenizer=tok).to(device)
        opt = torch.optim.Adam(model.parameters(), lr=lr, betas=tuple(betas), eps=eps)
        step, wall_s = 0, 0.0
        state = model.initial_state(B)
        acc_loss = torch.zeros((), dtype=torch.float64, device=device)
        acc_n = 0
        acc_chars = 0  # BPE: characters behind the accumulated token loss (bytes: acc_n steps)
        chars_seen = 0
        last_held: Optional[float] = None
        last_train: Optional[float] = None

        if resume and ckpt_path.exists():
            ck = torch.load(ckpt_path, map_location="cpu", weights_only=True)
            if ck.get("version") != CKPT_VERSION:
                raise ValueError(f"{ckpt_path} has checkpoint version {ck.get('version')}, expected {CKPT_VERSION}")
            diffs = [
                f"{k}: checkpoint {ck['args'].get(k)!r} vs now {args.get(k)!r}"
                for k in _TRAJECTORY_KEYS + ("corpus_sha256", "held_out_sha256")
                if ck["args"].get(k) != args.get(k)
            ]
            if diffs:
                raise ValueError(f"cannot resume {ckpt_path}: the run's settings differ ({'; '.join(diffs)})")
            model.load_state_dict(ck["model"])
            opt.load_state_dict(ck["optimizer"])
            step, wall_s = ck["step"], ck["wall_s"]
            chars_seen, acc_chars = ck["chars_seen"], ck.get("acc_chars", 0)
            state = (ck["state"][0].to(device), ck["state"][1].to(device))
            acc_loss = ck["acc_loss"].to(device)
            acc_n = ck["acc_n"]
            last_held, last_train = ck.get("last_held_out_bpc"), ck.get("last_train_bpc")
            _set_rng_state(ck["rng"])
            # drop log rows written after the checkpoint
            if log_path.exists():
                keep = [r for r in read_log(log_path) if r["step"] <= step]
                log_path.write_text("".join(json.dumps(r) + "\n" for r in keep))
        else:
            if log_path.exists():
                log_path.unlink()
        run_path.write_text(json.dumps(args, indent=2) + "\n")

        def checkpoint() -> None:
            ck = {
                "version": CKPT_VERSION,
                "args": args,
                "step": step,
                "chars_seen": chars_seen,
                "acc_chars": acc_chars,
                "epoch": step // windows_per_epoch,
                "positions": torch.from_numpy(np.arange(B, dtype=np.int64) * L + (step % windows_per_epoch) * T),
                "model": model.state_dict(),
                "optimizer": opt.state_dict(),
                # clone: c and h are views into the scan's (T, B, d) buffers
                "state": (state[0].detach().cpu().clone(), state[1].detach().cpu().clone()),
                "acc_loss": acc_loss.detach().cpu(),
                "acc_n": acc_n,
                "wall_s": wall_s,
                "last_held_out_bpc": last_held,
                "last_train_bpc": last_train,
                "rng": _rng_state(),
            }
            _atomic_torch_save(ck, ckpt_path)
            model.save(model_path, meta={"chars_seen": chars_seen, "step": step, "train_args": args,
                                        "held_out_bpc": last_held, "train_bpc": last_train}, dtype=save_dtype)

        def log_row(held_bpc: Optional[float]) -> None:
            nonlocal acc_loss, acc_n, acc_chars, last_train
            if tok is None:
                train_bpc = float(acc_loss) / acc_n / LN2 if acc_n else None
            else:  # summed token loss over the characters it predicted
                train_bpc = float(acc_loss) / acc_chars / LN2 if acc_chars else None
            if train_bpc is not None:
                last_train = train_bpc
            acc_loss = torch.zeros((), dtype=torch.float64, device=device)
            acc_n = acc_chars = 0
            row = dict(step=step, chars_seen=chars_seen, train_bpc=train_bpc, held_out_bpc=held_bpc,
                       lr=lr_at(step), wall_s=round(wall_s, 3), epoch=step // windows_per_epoch)
            with open(log_path, "a") as f:
                f.write(json.dumps(row) + "\n")

        def lr_at(k: int) -> float:
            return lr * max(0.0, 1.0 - k / total_steps)

        offsets = np.arange(T + 1, dtype=np.int64)
        shard_starts = np.arange(B, dtype=np.int64) * L

        try:
            from tqdm.auto import tqdm
        except ImportError:  # pragma: no cover
            progress = False
        bar = None
        if progress:
            bar = tqdm(total=total_steps * per_step, initial=step * per_step, unit="char" if tok is None else "tok",
                       unit_scale=True,
                       dynamic_ncols=True, desc=f"mLSTM-{d_hidden}", smoothing=0.05)

        rate0 = matmul_rate(per_step, d_hidden, device)
        t_session = time.perf_counter()
        session = {"started": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "chars_start": chars_seen}
        session_tokens = step * per_step
        def stop_now() -> bool:  # the schedule's end, or stop_after_chars reached
            return step >= total_steps or (stop_after_chars is not None and chars_seen >= stop_after_chars)

        if step == 0 and eval_steps is not None:
            t0 = time.perf_counter()
            last_held = evaluate_bpc(model, held, eval_batch_size, device=device)
            wall_s += time.perf_counter() - t0
            log_row(last_held)
        finished = False
        params = list(model.parameters())
        while not stop_now():
            t0 = time.perf_counter()
            w = step % windows_per_epoch
            if w == 0 and step > 0:
                state = model.initial_state(B)  # a new pass over the corpus
            idx = (shard_starts[None, :] + w * T) + offsets[:, None]  # (T+1, B) time-major
            batch = torch.from_numpy(np.asarray(data[idx]).astype(np.int64))
            batch = batch.to(device, non_blocking=True)
            x, y = batch[:-1], batch[1:]
            for g in opt.param_groups:
                g["lr"] = lr_at(step)
            H, (c, h) = model.scan(x, state=state, time_major=True)
            logits = model.unembed(H)
            loss = F.cross_entropy(logits.view(-1, logits.shape[-1]), y.reshape(-1))
            opt.zero_grad(set_to_none=True)
            loss.backward()
            if clip is not None and clip > 0:
                torch.nn.utils.clip_grad_norm_(params, clip)
            opt.step()
            state = (c.detach(), h.detach())
            if tok is None:
                acc_loss += loss.detach().double()
                chars_seen += per_step
            else:
                n_chars = int(n_bytes[np.asarray(data[idx[1:]])].sum())
                acc_loss += loss.detach().double() * per_step
                acc_chars += n_chars
                chars_seen += n_chars
            acc_n += 1
            step += 1
            wall_s += time.perf_counter() - t0

            do_eval = eval_steps is not None and (step % eval_steps == 0 or step == total_steps)
            do_log = do_eval or (log_steps is not None and step % log_steps == 0) or step == total_steps
            if do_eval:
                t0 = time.perf_counter()
                last_held = evaluate_bpc(model, held, eval_batch_size, device=device)
                wall_s += time.perf_counter() - t0
            if do_log:
                log_row(last_held if do_eval else None)
            if bar is not None:
                bar.update(per_step)
                if do_log or step % 10 == 0:
                    step_bpc = float(loss.detach()) / LN2 * (1 if tok is None else per_step / n_chars)  # per character
                    post = {"bpc": f"{step_bpc:.3f}", "lr": f"{lr_at(step):.2e}"}
                    if last_held is not None:
                        post["held"] = f"{last_held:.3f}"
                    bar.set_postfix(post, refresh=False)
            timed_out = max_wall_s is not None and time.perf_counter() - t_session > max_wall_s
            # No extra log row when stopping early: the running train-bpc accumulator goes into
            # the checkpoint, so a resumed run writes exactly the rows an unbroken one would.
            if timed_out and not stop_now():
                checkpoint()
                break
            if stop_now() or (ckpt_steps is not None and step % ckpt_steps == 0):
                checkpoint()
        finished = step >= total_steps
        if bar is not None:
            bar.close()
        t_end = time.perf_counter() - t_session
        rate = 0.5 * (rate0 + matmul_rate(per_step, d_hidden, device))
        tok_s = (step * per_step - session_tokens) / t_end if t_end > 0 else 0.0
        train_gflops = tok_s * 3 * model.cfg.forward_flops_per_token() / 1e9
        session.update(matmul_gflops=round(rate, 2), train_gflops=round(train_gflops, 2),
                       share_of_matmul=round(train_gflops / rate, 4) if rate > 0 else None)
        _log_session(out / "sessions.jsonl", session, chars_seen, t_end, last_held,
                     device, finished, tokens_start=session_tokens, tokens_end=step * per_step)
        return TrainResult(out, model_path, log_path, ckpt_path, step, total_steps, chars_seen, finished,
                           last_train, last_held)
    finally:
        if threads is not None:
            torch.set_num_threads(old_threads)


def matmul_rate(rows: int, d: int, device: Union[str, torch.device] = "cpu", seconds: float = 0.3) -> float:
    """GFLOP/s of a plain ``(rows x d) @ (d x 4d)`` fp32 matmul loop on ``device`` with the current
    thread count (the recurrent matmul's shape for a batch of ``rows`` tokens): the rate this
    machine reaches right now, against which a training session's throughput is read (as
    ``benchmarks/bench_mlstm.py`` does)."""
    dev = torch.device(device)
    gen = torch.Generator().manual_seed(0)  # not the global RNG: a resumed run must not see a shifted one
    a, w = torch.randn(rows, d, generator=gen).to(dev), torch.randn(d, 4 * d, generator=gen).to(dev)
    out = torch.empty(rows, 4 * d, device=dev)
    torch.mm(a, w, out=out)
    n, t0 = 0, time.perf_counter()
    while True:
        torch.mm(a, w, out=out)
        n += 1
        if dev.type == "cuda":
            torch.cuda.synchronize(dev)
        el = time.perf_counter() - t0
        if el >= seconds:
            return n * 2 * rows * d * 4 * d / el / 1e9


def _log_session(path: Path, session: dict, chars_end: int, wall_s: float, held: Optional[float], device,
                 finished: bool, tokens_start: int = 0, tokens_end: int = 0) -> None:
    """Append one row per call to ``sessions.jsonl``: when, from which to which character, how
    fast, on what, by which command; the model card's per-run table is read from it."""
    import platform

    n = chars_end - session["chars_start"]
    row = {**session, "ended": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "chars_end": chars_end,
           "wall_s": round(wall_s, 1), "chars_per_s": round(n / wall_s, 1) if wall_s > 0 else None,
           "tokens_per_s": round((tokens_end - tokens_start) / wall_s, 1) if wall_s > 0 else None,
           "held_out_bpc": held, "finished": finished, "device": str(device),
           "device_name": (torch.cuda.get_device_name(torch.device(device))
                           if torch.device(device).type == "cuda" else platform.processor() or platform.machine()),
           "cpu_count": os.cpu_count(), "threads": torch.get_num_threads(), "torch": torch.__version__,
           "pid": os.getpid(), "command": " ".join(sys.argv)}
    with open(path, "a") as f:
        f.write(json.dumps(row) + "\n")


# --------------------------------------------------------------------------- CLI


def main(argv: Optional[list[str]] = None) -> TrainResult:
    p = argparse.ArgumentParser(description="Train a byte-level mLSTM on IMDB train+unsup (resumable).")
    p.add_argument("out_dir")
    p.add_argument("--d-hidden", type=int, default=256)
    p.add_argument("--d-embed", type=int, default=64)
    p.add_argument("--weight-norm", action="store_true")
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--bptt", type=int, default=128)
    p.add_argument("--lr", type=float, default=5e-4)
    p.add_argument("--total-chars", type=float, default=20e6)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--resume", action="store_true")
    p.add_argument("--eval-every", type=float, default=2e6)
    p.add_argument("--checkpoint-every", type=float, default=1e6)
    p.add_argument("--log-every", type=float, default=2e5)
    p.add_argument("--held-out-chars", type=float, default=5e5)
    p.add_argument("--max-reviews", type=int, default=None)
    p.add_argument("--clip", type=float, default=1.0)
    p.add_argument("--threads", type=int, default=None)
    p.add_argument("--device", default="cpu")
    p.add_argument("--no-progress", action="store_true")
    p.add_argument("--stop-after-chars", type=float, default=None)
    p.add_argument("--max-wall-s", type=float, default=None)
    p.add_argument("--tokenizer", default=None, help="BPE tokenizer JSON (python -m interp.models.mlstm.tokenizer); default bytes")
    p.add_argument("--vocab-size", type=int, default=None, help="check: the tokenizer's vocabulary size")
    p.add_argument("--save-dtype", default=None)
    a = p.parse_args(argv)
    res = train_mlstm(
        a.out_dir, d_hidden=a.d_hidden, d_embed=a.d_embed, weight_norm=a.weight_norm, batch_size=a.batch_size,
        bptt=a.bptt, lr=a.lr, total_chars=int(a.total_chars), seed=a.seed, resume=a.resume,
        eval_every=int(a.eval_every), checkpoint_every=int(a.checkpoint_every), log_every=int(a.log_every),
        held_out_chars=int(a.held_out_chars), max_reviews=a.max_reviews, clip=a.clip, threads=a.threads,
        device=a.device, progress=not a.no_progress,
        stop_after_chars=None if a.stop_after_chars is None else int(a.stop_after_chars), max_wall_s=a.max_wall_s,
        tokenizer=a.tokenizer, vocab_size=a.vocab_size, save_dtype=a.save_dtype,
    )
    print(json.dumps({k: (str(v) if isinstance(v, Path) else v) for k, v in asdict(res).items()}, indent=2))
    return res


if __name__ == "__main__":
    main()
