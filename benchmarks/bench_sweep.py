"""SST ablation sweep: our batched path against the naive loop of the reference code.

Naive: prompts in data-set order, batches of 5, ``bridge.run_with_hooks`` over the full
sequence and the full vocabulary, the last real token picked afterwards. Ours: length-sorted
batches of 32, only the last real token's logits computed. Both run the same conditions
(baseline + mean ablation of the per-layer directions at every non-first token) on the same
sentences; each path runs in its own process so its peak memory (max RSS) is its own.

    python benchmarks/bench_sweep.py --model smollm2-135m --n 64

Prints sentences/s for each path, the ratio, the peak RSS, the largest logit-difference
disagreement between the two paths (they must agree), and the projected time of a full sweep
(baseline + 5 interventions over 1,821 sentences).
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


def run_path(path: str, model_name: str, n: int, threads: int) -> dict:
    import warnings

    import numpy as np
    import torch

    warnings.filterwarnings("ignore")
    torch.set_num_threads(threads)
    from interp import data, positions as P
    from interp.ablate import fit_toy_directions
    from interp.interventions import DirectionAblation
    from interp.tasks import SSTZeroShot
    from interp.transformer import TransformerModel

    m = TransformerModel.load(model_name)
    test = data.sst("test")
    texts = test.texts[:n]
    sites = m.resid_sites()
    dirs, _ = fit_toy_directions(m, sites, progress=False)
    # a fixed reference mean (the mean ablation's target): zeros keeps both paths identical
    ivs = [DirectionAblation(s, dirs[s].vector, P.AllTokens(allow_empty=True), mode="project") for s in sites]
    task = SSTZeroShot(prompt="very", batch_size=32)
    pos_id, neg_id = task.answer_ids(m)
    t0 = time.perf_counter()
    if path == "fast":
        out = task.evaluate(m, texts, {"baseline": [], "ablate": ivs}, progress=False)
        lds = {k: v.tolist() for k, v in out.items()}
    else:
        prompts = task.format(texts)
        lds = {"baseline": [], "ablate": []}
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
    dt = time.perf_counter() - t0
    tokens = sum(len(m.encode(p)) + 1 for p in task.format(texts))
    return {"path": path, "seconds": dt, "sentences": n, "conditions": 2, "tokens": tokens,
            "max_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, "lds": lds}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default="smollm2-135m")
    ap.add_argument("--n", type=int, default=64, help="test sentences")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--path", choices=["fast", "naive"], help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.path:
        print(json.dumps(run_path(a.path, a.model, a.n, a.threads)))
        return
    res = {}
    for path in ("naive", "fast"):
        out = subprocess.run([sys.executable, __file__, "--path", path, "--model", a.model, "--n", str(a.n),
                              "--threads", str(a.threads)], capture_output=True, text=True, check=True)
        res[path] = json.loads(out.stdout.strip().splitlines()[-1])
    import numpy as np

    diff = max(float(np.max(np.abs(np.array(res["fast"]["lds"][k]) - np.array(res["naive"]["lds"][k]))))
               for k in ("baseline", "ablate"))
    for p in ("naive", "fast"):
        r = res[p]
        print(f"{p:6s}: {r['sentences'] * r['conditions'] / r['seconds']:6.2f} sentence-passes/s "
              f"({r['seconds']:.1f} s for {r['sentences']} sentences x {r['conditions']} conditions), peak RSS {r['max_rss_mb']:.0f} MB")
    ratio = res["naive"]["seconds"] / res["fast"]["seconds"]
    per_pass = res["fast"]["seconds"] / (res["fast"]["sentences"] * res["fast"]["conditions"])
    print(f"speed-up fast/naive: {ratio:.2f}x")
    print(f"largest logit-difference disagreement between the paths: {diff:.2e}")
    print(f"projected full sweep (6 conditions x 1,821 sentences, these sentences' lengths): {per_pass * 6 * 1821 / 60:.1f} min")


if __name__ == "__main__":
    main()
