"""How far apart are two (or more) zoo models' zero-shot sentiment judgements?

Each model scores the same SST sentences with :class:`interp.tasks.SSTZeroShot` (logit
difference positive − negative after the prompt). Per model: accuracy at threshold 0, the
threshold fitted on the same SST dev subset and the test accuracy at it, AUROC with a bootstrap
interval. Per pair: how often their logit differences have the same sign (at 0 and at each
model's own dev threshold, i.e. the same predicted label), Pearson and Spearman correlation of
the logit differences, and a paired bootstrap interval of the AUROC difference.

The subsets are the ones ``interp ablate --limit N --dev-limit M`` uses with the same seed (dev:
permutation seeded ``seed + 1``; test: ``seed + 2``), so the numbers line up with ablation runs.
Without ``--dev-limit`` the threshold is 0 for every model (then "accuracy at the dev threshold"
is accuracy at 0 and "label agreement" is sign agreement). Models are loaded one at a time; finished models are kept in ``--out`` and not scored again
(delete the file, or pass ``--fresh``, to redo them).

    python analyses/zero_shot_agreement.py --models qwen2.5-coder-0.5b,qwen2.5-coder-1.5b \\
        --limit 120 --out runs/zoo-qwen/agreement.json
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from itertools import combinations
from pathlib import Path

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
os.environ.setdefault("HF_HUB_OFFLINE", "1")

import numpy as np  # noqa: E402
import torch  # noqa: E402

from interp import data as datasets  # noqa: E402
from interp import metrics  # noqa: E402
from interp.report.results import make_manifest  # noqa: E402
from interp.tasks import SSTZeroShot  # noqa: E402


def subsets(limit: int | None, dev_limit: int, seed: int):
    """SST dev and test subsets, drawn as ``interp ablate`` draws them (``dev_limit`` 0: no
    dev sentences, the threshold stays 0)."""
    dev, test = datasets.sst("dev"), datasets.sst("test")
    dev = dev.subset(np.random.default_rng(seed + 1).permutation(len(dev))[:dev_limit])
    if limit:
        test = test.subset(np.random.default_rng(seed + 2).permutation(len(test))[:limit])
    return dev, test


def score_model(name: str, task: SSTZeroShot, dev, test, progress: bool) -> dict:
    from interp.models.transformer import TransformerModel

    t0 = time.time()
    model = TransformerModel.load(name)
    load_s = time.time() - t0
    t1 = time.time()
    dev_ld = (task.evaluate(model, dev.texts, progress=f"{name} dev" if progress else False)["baseline"]
              if len(dev) else np.zeros(0))
    test_ld = task.evaluate(model, test.texts, progress=f"{name} test" if progress else False)["baseline"]
    score_s = time.time() - t1
    first = model.tokenize(task.format(test.texts[:1]))
    out = {
        "model": name,
        "prepends_bos": model.bos_token_id is not None,
        "bos_token_id": model.bos_token_id,
        "first_ids": first.tokens[0][: int(first.lengths[0])].tolist(),
        "dev_ld": dev_ld.tolist(),
        "test_ld": test_ld.tolist(),
        "seconds": {"load": round(load_s, 1), "score": round(score_s, 1)},
    }
    del model
    return out


def bootstrap_auroc(scores: list[np.ndarray], y: np.ndarray, n_boot: int, seed: int) -> np.ndarray:
    """(n_boot, len(scores)) AUROC of each score on the same resampled sentences; resamples
    with one class only are drawn again."""
    rng = np.random.default_rng(seed)
    out = np.empty((n_boot, len(scores)))
    b = 0
    while b < n_boot:
        idx = rng.integers(0, len(y), len(y))
        if y[idx].min() == y[idx].max():
            continue
        out[b] = [metrics.auroc(s[idx], y[idx]) for s in scores]
        b += 1
    return out


def summarize(scored: dict[str, dict], dev, test, n_boot: int, seed: int) -> dict:
    y_dev, y = np.asarray(dev.labels), np.asarray(test.labels)
    names = list(scored)
    lds = {n: np.asarray(scored[n]["test_ld"]) for n in names}
    boots = bootstrap_auroc([lds[n] for n in names], y, n_boot, seed)
    per_model = {}
    thr = {}
    for j, n in enumerate(names):
        dev_ld = np.asarray(scored[n]["dev_ld"])
        thr[n] = metrics.fit_threshold(dev_ld, y_dev) if len(dev_ld) else 0.0
        lo, hi = np.quantile(boots[:, j], [0.025, 0.975])
        per_model[n] = {
            "accuracy_at_0": metrics.accuracy(lds[n], y),
            "dev_threshold": thr[n],
            "accuracy_at_dev_threshold": metrics.accuracy(lds[n], y, thr[n]),
            "balanced_accuracy_at_dev_threshold": metrics.balanced_accuracy(lds[n], y, thr[n]),
            "auroc": metrics.auroc(lds[n], y),
            "auroc_95": [float(lo), float(hi)],
            "dev_auroc": metrics.auroc(dev_ld, y_dev) if len(dev_ld) else None,
            "mean_ld": float(lds[n].mean()),
            "std_ld": float(lds[n].std()),
            "prepends_bos": scored[n]["prepends_bos"],
            "seconds": scored[n]["seconds"],
        }
    pairs = []
    for (i, a), (j, b) in combinations(enumerate(names), 2):
        la, lb = lds[a], lds[b]
        ra, rb = np.argsort(np.argsort(la)), np.argsort(np.argsort(lb))
        diff = boots[:, j] - boots[:, i]
        pairs.append({
            "a": a,
            "b": b,
            "sign_agreement_at_0": float(np.mean((la > 0) == (lb > 0))),
            "label_agreement_at_dev_thresholds": float(np.mean((la > thr[a]) == (lb > thr[b]))),
            "pearson_ld": float(np.corrcoef(la, lb)[0, 1]),
            "spearman_ld": float(np.corrcoef(ra, rb)[0, 1]),
            "auroc_b_minus_a": per_model[b]["auroc"] - per_model[a]["auroc"],
            "auroc_b_minus_a_95": [float(x) for x in np.quantile(diff, [0.025, 0.975])],
            "both_right_at_dev_thresholds": float(np.mean(((la > thr[a]) == y) & ((lb > thr[b]) == y))),
            "only_a_right": float(np.mean(((la > thr[a]) == y) & ((lb > thr[b]) != y))),
            "only_b_right": float(np.mean(((la > thr[a]) != y) & ((lb > thr[b]) == y))),
        })
    return {"per_model": per_model, "pairs": pairs}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--models", default="qwen2.5-coder-0.5b,qwen2.5-coder-1.5b",
                    help="comma-separated zoo names or folders, at least two")
    ap.add_argument("--prompt", default="very")
    ap.add_argument("--limit", type=int, default=240, help="SST test sentences (0: all 1,821)")
    ap.add_argument("--dev-limit", type=int, default=0,
                    help="SST dev sentences to fit each model's threshold on (0: none, threshold 0; 872: all)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--batch-size", type=int, default=16)
    ap.add_argument("--n-boot", type=int, default=2000)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--fresh", action="store_true", help="score every model again even if --out has it")
    ap.add_argument("--no-progress", action="store_true")
    ap.add_argument("--out", type=Path, required=True)
    a = ap.parse_args(argv)
    names = [m.strip() for m in a.models.split(",") if m.strip()]
    if len(names) < 2 or len(set(names)) != len(names):
        ap.error(f"--models needs at least two different models, got {names}")
    torch.set_num_threads(a.threads)
    task = SSTZeroShot(prompt=a.prompt, batch_size=a.batch_size)
    if a.dev_limit < 0 or a.limit < 0:
        ap.error("--limit and --dev-limit must be >= 0")
    dev, test = subsets(a.limit or None, a.dev_limit, a.seed)
    config = {"models": names, "prompt": a.prompt, "limit": a.limit, "dev_limit": a.dev_limit, "seed": a.seed,
              "batch_size": a.batch_size, "n_boot": a.n_boot}
    scored: dict[str, dict] = {}
    if a.out.is_file() and not a.fresh:
        old = json.loads(a.out.read_text())
        same = {k: v for k, v in old.get("config", {}).items() if k != "models"} == \
            {k: v for k, v in config.items() if k != "models"}
        if same:
            scored = {n: s for n, s in old.get("scores", {}).items() if n in names}
    a.out.parent.mkdir(parents=True, exist_ok=True)
    t0 = time.time()
    for n in names:
        if n in scored:
            print(f"{n}: kept from {a.out}", file=sys.stderr)
            continue
        scored[n] = score_model(n, task, dev, test, progress=not a.no_progress)
        a.out.write_text(json.dumps({"config": config, "scores": scored}, indent=1) + "\n")  # resumable
    summary = summarize({n: scored[n] for n in names}, dev, test, a.n_boot, a.seed)
    manifest = make_manifest(
        command=" ".join(["python", *sys.argv]) if argv is None else " ".join(["python", __file__, *argv]),
        config=config, seeds=[a.seed], data_files=[p for s in (dev, test) for p in s.sources],
        model=",".join(names), extra={"seconds_this_run": round(time.time() - t0, 1), "threads": a.threads},
    )
    result = {"config": config, "n_dev": len(dev), "n_test": len(test), **summary, "scores": scored,
              "test_indices": np.asarray(test.indices).tolist(), "manifest": manifest}
    a.out.write_text(json.dumps(result, indent=1) + "\n")
    for n, r in summary["per_model"].items():
        print(f"{n:22s} acc@0 {r['accuracy_at_0']:.3f}  acc@dev-thr {r['accuracy_at_dev_threshold']:.3f}  "
              f"AUROC {r['auroc']:.3f} [{r['auroc_95'][0]:.3f}, {r['auroc_95'][1]:.3f}]  {r['seconds']}")
    for p in summary["pairs"]:
        print(f"{p['a']} vs {p['b']}: sign agreement {p['sign_agreement_at_0']:.3f}, label agreement "
              f"{p['label_agreement_at_dev_thresholds']:.3f}, pearson {p['pearson_ld']:.3f}, spearman "
              f"{p['spearman_ld']:.3f}, AUROC diff {p['auroc_b_minus_a']:+.3f} "
              f"[{p['auroc_b_minus_a_95'][0]:+.3f}, {p['auroc_b_minus_a_95'][1]:+.3f}]")
    print(f"wrote {a.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
