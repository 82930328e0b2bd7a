"""The sweep engine against the other ways to run the same ablation sweep, in one run.

Every path runs in its own process (so its peak RSS is its own) on the same SST test sentences
with the same toy-fitted direction per layer, projected out at every non-first token:

- ``engine``: :func:`interp.engine.run_sweep` (length-sorted batches of 32, last-token logits only);
- ``naive``: the reference code's TransformerLens loop: prompts in data order, batches of 5,
  ``bridge.run_with_hooks`` over the full sequence and vocabulary, the last token picked after;
- ``nnsight``: nnsight's ``trace`` on the plain Hugging Face model doing the same ablation
  (``pip install -e '.[bench]'``; skipped when nnsight is missing);
- ``matmul``: a plain float32 matmul of the model's MLP shape, for the engine's FLOP rate share;
- ``perlayer``: one condition per layer (30 on SmolLM2), with and without prefix reuse;
- ``ray``: the engine on a local Ray instance with 2 workers against the local engine (its overhead).

    python benchmarks/bench_sweep.py --model smollm2-135m --n 64

Prints each path's rate, the ratios, the largest disagreement between the paths (they must
agree), the engine's FLOP rate as a share of the matmul rate, and each path's peak RSS.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
os.environ.setdefault("HF_HUB_OFFLINE", "1")

PATHS = ("matmul", "naive", "engine", "nnsight", "perlayer_full", "perlayer_reuse", "local2", "ray")


def _setup(model_name: str, n: int, threads: int):
    import warnings

    import torch

    warnings.filterwarnings("ignore")
    torch.set_num_threads(threads)
    from interp import data, positions as P
    from interp.finders.fit import fit_toy_directions
    from interp.interventions import DirectionAblation
    from interp.tasks import SSTZeroShot
    from interp.models.transformer import TransformerModel

    m = TransformerModel.load(model_name)
    texts = data.sst("test").texts[:n]
    sites = m.resid_sites()
    dirs, _ = fit_toy_directions(m, sites, progress=False)
    task = SSTZeroShot(prompt="very", batch_size=32)

    def ablation(only=None):
        return [DirectionAblation(s, dirs[s].vector, P.AllTokens(allow_empty=True), mode="project")
                for s in sites if only is None or s == only]

    return m, texts, sites, dirs, task, ablation


def forward_flops(m, tokens: int, sentences: int) -> float:
    """Multiply-adds ×2 of the decoder's linear layers per token, plus the last-token unembedding."""
    import torch

    dec = m._decoder
    per_token = sum(p.numel() for n, p in dec.named_parameters() if p.ndim == 2 and "embed" not in n)
    unembed = m._unembed.weight.numel()
    return 2.0 * per_token * tokens + 2.0 * unembed * sentences


def run_path(path: str, model_name: str, n: int, threads: int) -> dict:
    import numpy as np
    import torch

    t_start = time.perf_counter()
    out: dict = {"path": path}
    if path == "matmul":
        torch.set_num_threads(threads)
        from interp.models.transformer import TransformerModel

        m = TransformerModel.load(model_name)
        d, f = m.d_model, m.d_mlp or 4 * m.d_model
        a, b = torch.randn(1280, d), torch.randn(d, f)
        for _ in range(3):
            a @ b
        reps, t0 = 0, time.perf_counter()
        while time.perf_counter() - t0 < 3.0:
            a @ b
            reps += 1
        out.update(gflops=2.0 * 1280 * d * f * reps / (time.perf_counter() - t0) / 1e9, shape=[1280, d, f])
        return out
    m, texts, sites, dirs, task, ablation = _setup(model_name, n, threads)
    pos_id, neg_id = task.answer_ids(m)
    prompts = task.format(texts)
    lengths = [len(m.encode(p)) + 1 for p in prompts]
    out.update(sentences=n, tokens=sum(lengths))
    t0 = time.perf_counter()
    if path == "engine":
        lds = task.evaluate(m, texts, {"baseline": [], "ablate": ablation()}, progress=False)
        out["stats"] = {k: v for k, v in task.last_stats.items() if k != "sweep_key"}
        out["conditions"] = 2
        out["flops"] = forward_flops(m, out["tokens"] * 2, n * 2)
    elif path == "naive":
        lds = {"baseline": [], "ablate": []}
        ivs = ablation()
        for i in range(0, len(prompts), 5):
            b = m.tokenize(prompts[i : i + 5])
            for name, cond in (("baseline", []), ("ablate", ivs)):
                hooks = []
                for iv in cond:
                    site, where, fn = iv.bind(b, m)
                    hooks.append((site, m._hook(site, where, fn, b)))
                with torch.inference_mode():
                    logits = m.bridge.run_with_hooks(b.tokens, attention_mask=b.mask.long(), fwd_hooks=hooks)
                last = logits[torch.arange(len(b)), b.last]
                lds[name] += (last[:, pos_id] - last[:, neg_id]).tolist()
        out["conditions"] = 2
    elif path == "nnsight":
        try:
            lds = _nnsight(m, model_name, prompts, dirs, sites, pos_id, neg_id)
        except ImportError:
            return {"path": path, "skipped": "nnsight is not installed (pip install -e '.[bench]')"}
        out["conditions"] = 2
    elif path in ("perlayer_full", "perlayer_reuse"):
        from interp.engine import Condition

        conds = [Condition(s, ablation(only=s)) for s in sites]
        lds = task.evaluate(m, texts, conds, progress=False, prefix_reuse=path.endswith("reuse"))
        out["stats"] = {k: v for k, v in task.last_stats.items() if k != "sweep_key"}
        out["conditions"] = len(conds)
    elif path in ("local2", "ray"):
        from interp.engine import Condition

        conds = [Condition(s, ablation(only=s)) for s in sites[:: max(1, len(sites) // 6)]]
        kw = {"engine": "ray", "workers": 2} if path == "ray" else {}
        lds = task.evaluate(m, texts, conds, progress=False, shard_size=max(8, n // 4), **kw)
        out["stats"] = {k: v for k, v in task.last_stats.items() if k != "sweep_key"}
        out["conditions"] = len(conds)
    else:
        raise ValueError(path)
    out["seconds"] = time.perf_counter() - t0
    out["setup_s"] = t0 - t_start
    out["max_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    out["lds"] = {k: np.asarray(v, dtype=float).tolist() for k, v in lds.items()}
    return out


def _nnsight(m, model_name, prompts, dirs, sites, pos_id, neg_id):
    """The same ablation with nnsight's trace on the plain Hugging Face model (its own loading)."""
    import torch
    from nnsight import LanguageModel
    from transformers import AutoModelForCausalLM

    from interp.models import zoo

    hf = AutoModelForCausalLM.from_pretrained(str(zoo.resolve(model_name)), torch_dtype=torch.float32).eval()
    lm = LanguageModel(hf, tokenizer=m.tokenizer)
    layers = lm.model.layers
    us = [dirs[s].vector for s in sites]
    lds = {"baseline": [], "ablate": []}
    for i in range(0, len(prompts), 32):
        b = m.tokenize(prompts[i : i + 32])
        keep = b.mask.clone()
        keep[:, 0] = False
        w = keep[..., None].float()
        for name in ("baseline", "ablate"):
            with torch.inference_mode(), lm.trace({"input_ids": b.tokens, "attention_mask": b.mask.long()}):
                if name == "ablate":
                    for L, u in enumerate(us):
                        h = layers[L].output
                        h = h[0] if isinstance(h, tuple) else h
                        proj = (h * u).sum(-1, keepdim=True)
                        new = h - proj * u * w
                        if isinstance(layers[L].output, tuple):
                            layers[L].output = (new,) + tuple(layers[L].output[1:])
                        else:
                            layers[L].output = new
                logits = lm.lm_head.output.save()
            lg = logits.value if hasattr(logits, "value") else logits
            last = lg[torch.arange(len(b)), b.last]
            lds[name] += (last[:, pos_id] - last[:, neg_id]).tolist()
    return lds


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default="smollm2-135m")
    ap.add_argument("--n", type=int, default=64, help="test sentences")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--paths", default=",".join(PATHS), help=f"comma-separated subset of {', '.join(PATHS)}")
    ap.add_argument("--json", help="also write every path's numbers to this file")
    ap.add_argument("--path", choices=PATHS, help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.path:
        print(json.dumps(run_path(a.path, a.model, a.n, a.threads)))
        return
    import numpy as np

    res = {}
    for path in [p for p in a.paths.split(",") if p]:
        p = subprocess.run([sys.executable, __file__, "--path", path, "--model", a.model, "--n", str(a.n),
                            "--threads", str(a.threads)], capture_output=True, text=True)
        if p.returncode != 0:
            print(f"{path}: failed\n{p.stderr[-2000:]}")
            continue
        res[path] = json.loads(p.stdout.strip().splitlines()[-1])
        r = res[path]
        if "skipped" in r:
            print(f"{path:15s} skipped: {r['skipped']}")
        elif path == "matmul":
            print(f"{path:15s} {r['gflops']:.1f} GFLOP/s ({r['shape']})")
        else:
            print(f"{path:15s} {r['seconds']:7.1f} s  {r['sentences'] * r['conditions'] / r['seconds']:7.2f} sentence-passes/s  "
                  f"peak RSS {r['max_rss_mb']:.0f} MB")

    def ratio(a_, b_):
        if a_ in res and b_ in res and "seconds" in res[a_] and "seconds" in res[b_]:
            return res[a_]["seconds"] / res[b_]["seconds"]
        return None

    def diff(a_, b_):
        if not all(k in res and "lds" in res[k] for k in (a_, b_)):
            return None
        return max(float(np.max(np.abs(np.array(res[a_]["lds"][k]) - np.array(res[b_]["lds"][k]))))
                   for k in res[a_]["lds"])

    summary = {}
    for name, (x, y) in {"engine vs naive TransformerLens loop": ("naive", "engine"),
                         "engine vs nnsight trace": ("nnsight", "engine"),
                         "per-layer sweep: prefix reuse vs full": ("perlayer_full", "perlayer_reuse"),
                         "Ray local (2 workers) vs local engine (time ratio, >1 = Ray slower)": ("ray", "local2")}.items():
        r, d = ratio(x, y), diff(x, y)
        if r is not None:
            summary[name] = {"ratio": r, "max_abs_diff": d}
            print(f"{name}: {r:.2f}x (largest disagreement {d:.2e})")
    if "engine" in res and "matmul" in res and "flops" in res["engine"]:
        rate = res["engine"]["flops"] / res["engine"]["seconds"] / 1e9
        share = rate / res["matmul"]["gflops"]
        summary["engine FLOP rate"] = {"gflops": rate, "share_of_matmul": share}
        print(f"engine FLOP rate: {rate:.1f} GFLOP/s = {share:.0%} of the matmul's {res['matmul']['gflops']:.1f}")
    if a.json:
        with open(a.json, "w") as f:
            json.dump({"summary": summary, "paths": {k: {kk: vv for kk, vv in v.items() if kk != "lds"} for k, v in res.items()},
                       "command": " ".join(sys.argv)}, f, indent=1)


if __name__ == "__main__":
    main()
