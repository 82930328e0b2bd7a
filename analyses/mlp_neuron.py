"""Causal test of single MLP neurons that `interp find` ranks as the best one-unit sentiment readouts.

`interp find --mlp` on SmolLM2-135M found that one MLP neuron (blocks.21.mlp.hook_post, unit 1120)
alone classifies SST test sentences at 78% (the L2 probe over all 1,536 neurons of that layer:
87%). A readout is not a mechanism: this script mean-ablates that neuron at every token (first
token excluded) in the SST zero-shot task and compares it with

- the same layer's mean-difference and L2-probe directions (from the find run's saved directions),
- a bank of random single neurons and of random directions at the same site (controls),

reporting the share of above-chance accuracy removed, (acc0 - acc)/(acc0 - 0.5), with a paired
bootstrap interval. Usage:

    python analyses/mlp_neuron.py --find runs/find-smollm2-135m-mlp --site blocks.21.mlp.hook_post \
        --unit 1120 --limit 500 --out runs/mlp-neuron-smollm2
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
os.environ.setdefault("HF_HUB_OFFLINE", "1")

import numpy as np  # noqa: E402
import torch  # noqa: E402

from interp import data, metrics, positions as P  # noqa: E402
from interp.experiments.ablate import reference_stats  # noqa: E402
from interp.directions import Direction, random_directions  # noqa: E402
from interp.interventions import DirectionAblation  # noqa: E402
from interp.report.results import Result, Table, make_manifest  # noqa: E402
from interp.tasks import SSTZeroShot  # noqa: E402
from interp.models.transformer import TransformerModel  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default="smollm2-135m")
    ap.add_argument("--find", type=Path, required=True, help="output folder of an `interp find --mlp` run")
    ap.add_argument("--site", default="blocks.21.mlp.hook_post")
    ap.add_argument("--unit", type=int, required=True)
    ap.add_argument("--limit", type=int, default=500)
    ap.add_argument("--reference-n", type=int, default=256)
    ap.add_argument("--n-random", type=int, default=8)
    ap.add_argument("--n-boot", type=int, default=2000)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=None)
    ap.add_argument("--out", type=Path, default=Path("runs/mlp-neuron"))
    a = ap.parse_args()
    if a.threads:
        torch.set_num_threads(a.threads)
    t0 = time.time()
    model = TransformerModel.load(a.model)
    width = model.sites()[a.site] if a.site in model.sites() else None
    if width is None:
        sys.exit(f"unknown site {a.site!r} for {a.model}")
    if not 0 <= a.unit < width:
        sys.exit(f"unit {a.unit} out of range for {a.site} of width {width}")
    dirs = {m: Direction.load(a.find / "directions" / "sst_last" / a.site / m, expect_width=width)
            for m in ("mean_diff", "logreg_l2")}
    task = SSTZeroShot(prompt="very")
    rng = np.random.default_rng(a.seed)
    test, dev, train = data.sst("test"), data.sst("dev"), data.sst("train")
    test = test.subset(np.sort(rng.permutation(len(test))[: a.limit])) if a.limit else test
    ref = [train.texts[i] for i in rng.choice(len(train), a.reference_n, replace=False)]
    sel = P.AllTokens()  # first token skipped: the massive-activation position
    means, _, _ = reference_stats(model, task, ref, [a.site], [sel], progress=True)
    mean = means[sel.name][a.site]
    one_hot = torch.zeros(width)
    one_hot[a.unit] = 1.0
    g = torch.Generator().manual_seed(a.seed + 7)
    others = torch.tensor([u for u in torch.randperm(width, generator=g).tolist() if u != a.unit][: a.n_random])
    unit_bank = torch.zeros(a.n_random, width)
    unit_bank[torch.arange(a.n_random), others] = 1.0

    def abl(vecs):
        return [DirectionAblation(a.site, vecs, sel, mode="mean", reference_mean=mean)]

    conditions = {
        "baseline": [],
        f"unit {a.unit}": abl(one_hot),
        "random single units": abl(unit_bank),
        "mean_diff direction": abl(dirs["mean_diff"].vector),
        "logreg_l2 direction": abl(dirs["logreg_l2"].vector),
        "random directions": abl(random_directions(width, a.n_random, seed=a.seed + 11)),
    }
    dev_scores = task.evaluate(model, dev.texts, {"baseline": []}, progress="SST dev")["baseline"]
    threshold = metrics.fit_threshold(dev_scores, np.asarray(dev.labels))
    scores = task.evaluate(model, test.texts, conditions, progress="SST test")
    labels = np.asarray(test.labels)
    correct = {k: (metrics.predictions(v, threshold) == labels).astype(int) for k, v in scores.items()}
    rows = []
    for name, ivs in conditions.items():
        r = metrics.bootstrap_removed(correct["baseline"], correct[name], a.n_boot, a.seed)
        rows.append([name, float(correct[name].mean()), r[0], r[1], r[2], sum(iv.touched for iv in ivs)])
        if ivs and rows[-1][-1] == 0:
            raise RuntimeError(f"condition {name!r} touched no position")
    table = Table(title=f"Mean ablation at {a.site}, every token but the first (SST test, n={len(test)})",
                  columns=["ablated", "accuracy", "share removed", "CI low", "CI high", "positions touched"],
                  rows=rows,
                  caption=(f"Prompt 'very'; threshold {threshold:.3f} fitted on SST dev; projection (or the unit) set "
                           f"to its mean over {a.reference_n} SST train sentences; paired bootstrap, {a.n_boot} "
                           f"resamples. Random rows: {a.n_random} units / directions, example i gets row i mod "
                           f"{a.n_random}."))
    lines = [f"{a.model}, {a.site}: baseline accuracy {rows[0][1]:.3f} (n={len(test)})."]
    lines += [f"{r[0]}: {r[2]:.1%} [{r[3]:.1%}, {r[4]:.1%}] removed" for r in rows[1:]]
    res = Result(kind="mlp_neuron", title=f"One MLP neuron vs directions: {a.model}", summary="\n\n".join(lines),
                 tables=[table], data={"threshold": threshold, "scores": scores, "labels": labels, "unit": a.unit,
                                       "random_units": others.tolist(), "site": a.site, "seconds": time.time() - t0},
                 manifest=make_manifest(config=vars(a) | {"find": str(a.find), "out": str(a.out)}, seeds=[a.seed],
                                        data_files=[*test.sources, *dev.sources], model=a.model))
    a.out.mkdir(parents=True, exist_ok=True)
    res.save(a.out / "result.json")
    from interp.report import write_report

    write_report([res], a.out / "report.html", title=res.title)
    print(res.summary)
    print(json.dumps({"seconds": round(time.time() - t0)}))


if __name__ == "__main__":
    main()
