"""Fitting every finder at every layer: time per method, the one activation pass, peak memory.

Activations for all chosen layers are gathered in ONE pass over the texts (reduced to the last
token and the token mean batch by batch, never a cache of every hook); then each method is fit
at each layer on those features. DAS, which needs the model, is timed at one layer.

    python benchmarks/bench_find.py --model smollm2-135m --n 1000 --layers 0:30:3
    python benchmarks/bench_find.py --tiny            # a random 2-layer model, seconds

Prints a table and one JSON line: gather seconds (and texts/s), fit seconds per method summed
over layers, DAS seconds, the features' size, and the peak RSS of the process (ru_maxrss).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import sys
import tempfile
import time

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
os.environ.setdefault("HF_HUB_OFFLINE", "1")


def rss_mb() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return r / 1024 if sys.platform != "darwin" else r / 2**20


def parse_layers(spec: str | None, n_layers: int) -> list[int]:
    if not spec:
        return list(range(n_layers))
    if ":" in spec:
        a, b, *c = (int(x) if x else None for x in spec.split(":"))
        return list(range(a or 0, b if b is not None else n_layers, (c[0] if c and c[0] else 1)))
    return [int(x) for x in spec.split(",")]


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default="smollm2-135m")
    ap.add_argument("--tiny", action="store_true", help="a random 2-layer llama instead (no pulled model needed)")
    ap.add_argument("--layers", default=None, help="'0,3,6' or '0:30:3' (default all)")
    ap.add_argument("--n", type=int, default=1000, help="SST train sentences to fit on")
    ap.add_argument("--k", type=int, default=10)
    ap.add_argument("--das-steps", type=int, default=50, help="DAS steps at the middle layer (0: skip)")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--batch-size", type=int, default=32)
    args = ap.parse_args(argv)

    import numpy as np
    import torch

    torch.set_num_threads(args.threads)
    from interp import data
    from interp.experiments.find import gather_features
    from interp.finders import DAS, BestNeuron, make_finder
    from interp.models.transformer import TransformerModel

    if args.tiny:
        from interp.models import zoo

        folder = zoo.build_random_model(tempfile.mkdtemp(), arch="llama", n_layers=2, d_model=64, seed=0)
        model = TransformerModel.load(str(folder))
    else:
        model = TransformerModel.load(args.model)
    rss_model = rss_mb()
    layers = parse_layers(args.layers, model.n_layers)
    sites = [f"blocks.{L}.hook_resid_post" for L in layers]
    train = data.sst("train")
    idx = np.sort(np.random.default_rng(0).permutation(len(train))[: args.n])
    texts, y = [train.texts[i] for i in idx], np.asarray(train.labels)[idx]

    t = time.perf_counter()
    F = gather_features(model, texts, sites, batch_size=args.batch_size)
    gather_s = time.perf_counter() - t
    feat_mb = sum(v.numel() * v.element_size() for r in F.values() for v in r.values()) / 2**20

    methods = ["mean_diff", "kmeans", "pca", "logreg_l2", "logreg_l1", "best_neuron", "topk_l1", "topk_weight"]
    C = [2.0 ** k for k in (-12, -10, -8, -6, -4, -2, 0)]
    fit_s = {m: 0.0 for m in methods}
    for s in sites:
        X = F["last"][s].numpy()
        for m in methods:
            t = time.perf_counter()
            f = BestNeuron() if m == "best_neuron" else make_finder(m, C=C, k=args.k)
            f.fit(X, y)
            fit_s[m] += time.perf_counter() - t

    das_s = None
    if args.das_steps:
        from interp.pairs import toy_pairs

        pairs = toy_pairs(model, part="train", same_length=False)
        clean, corrupt = pairs.tokenize(model)
        where = (clean.tokens != corrupt.tokens) & clean.mask
        site = sites[len(sites) // 2]
        t = time.perf_counter()
        DAS(steps=args.das_steps, batch_size=32).fit_interchange(
            model, site, clean, corrupt, where, (model.single_token(" good"), model.single_token(" bad")),
            labels=pairs.labels)
        das_s = time.perf_counter() - t

    out = {"model": model.name, "layers": layers, "n": len(texts), "threads": args.threads,
           "gather_s": gather_s, "gather_texts_per_s": len(texts) / gather_s, "features_mb": feat_mb,
           "fit_s": fit_s, "fit_total_s": sum(fit_s.values()), "das_steps": args.das_steps, "das_s": das_s,
           "das_s_per_step": das_s / args.das_steps if das_s else None,
           "rss_after_load_mb": rss_model, "peak_rss_mb": rss_mb()}
    print(f"{model.name}: {len(layers)} layers, {len(texts)} SST train sentences, {args.threads} thread(s)")
    print(f"  gather (one pass, all layers): {gather_s:7.1f} s  ({out['gather_texts_per_s']:.1f} texts/s), "
          f"features {feat_mb:.1f} MiB")
    for m, v in fit_s.items():
        print(f"  fit {m:12s} over {len(layers)} layers: {v:7.2f} s")
    print(f"  fit total: {out['fit_total_s']:.1f} s")
    if das_s:
        print(f"  DAS, {args.das_steps} steps at one layer: {das_s:.1f} s ({out['das_s_per_step']:.2f} s/step)")
    print(f"  peak RSS {out['peak_rss_mb']:.0f} MiB (after loading the model {rss_model:.0f} MiB)")
    print(json.dumps(out))
    return out


if __name__ == "__main__":
    main()
