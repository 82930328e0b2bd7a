"""Does the mLSTM's *behaviour* carry sentiment? Zero-shot scoring by continuation likelihood.

The probes ask whether a linear read-out of the final state finds sentiment. This asks the model
itself: after each text (read as the probes read it, ``'\\n ' + text + ' '``), how much more likely
does it find a positive continuation than a negative one? For every pair (``" Highly recommended."``
vs ``" Not recommended."``, ...) the score is log P(pos | text) − log P(neg | text), in nats
(:meth:`interp.models.mlstm.MLSTM.continuation_logprob`); the sum over pairs is one more score. Each
score is read three ways on test: accuracy with threshold 0 (no labels used), accuracy with a
threshold fitted on dev (balanced accuracy; corrects a constant preference for one side), and
AUROC. The same model untrained is the control (its scores cannot depend on sentiment).

    python analyses/mlstm_zero_shot.py models/mlstm-512 --out runs/zero-shot-mlstm-512.json
    python analyses/mlstm_zero_shot.py models/mlstm-512 --data imdb --limit 1000 --out runs/zero-shot-imdb.json
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import numpy as np  # noqa: E402
import torch  # noqa: E402

from interp import metrics  # noqa: E402
from interp.models.mlstm import MLSTM, checkpoint_file  # noqa: E402
from interp.experiments.probe import PROBE_DATA, extract_features, probe_splits, untrained_like  # noqa: E402
from interp.report.results import file_sha256, make_manifest  # noqa: E402

PAIRS = (
    (" Highly recommended.", " Not recommended."),
    (" 10/10", " 1/10"),
    (" A great movie.", " A terrible movie."),
    (" I loved it.", " I hated it."),
)


def pair_scores(model: MLSTM, texts, pairs=PAIRS, batch_size: int = 128, chunk: int = 512) -> np.ndarray:
    """(n_texts, n_pairs) log P(pos) − log P(neg) after each text. The text's preprocessing ends
    with a space, so each continuation's leading space is dropped (it would double it)."""
    F = extract_features(model, texts, which=("c", "h"), batch_size=batch_size, progress=False)
    out = np.empty((len(texts), len(pairs)), dtype=np.float64)
    with torch.inference_mode():
        for s in range(0, len(texts), chunk):
            st = (torch.from_numpy(F["c"][s : s + chunk]), torch.from_numpy(F["h"][s : s + chunk]))
            for j, (pos, neg) in enumerate(pairs):
                lp = [model.continuation_logprob(st, x[1:] if x.startswith(" ") else x) for x in (pos, neg)]
                out[s : s + chunk, j] = (lp[0] - lp[1]).double().numpy()
    return out


def read_scores(dev: np.ndarray, y_dev, test: np.ndarray, y_test) -> dict:
    thr = metrics.fit_threshold(dev, y_dev)
    return {"acc_threshold_0": metrics.accuracy(test, y_test), "threshold_dev": thr,
            "acc_threshold_dev": metrics.accuracy(test, y_test, thr), "auroc": metrics.auroc(test, y_test),
            "mean_score_pos": float(test[np.asarray(y_test) == 1].mean()),
            "mean_score_neg": float(test[np.asarray(y_test) == 0].mean())}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("checkpoint", type=Path, help="model.safetensors of an mLSTM or a folder holding one")
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--data", choices=PROBE_DATA, default="sst")
    ap.add_argument("--limit", type=int, default=None, help="N examples per split (imdb default 1000)")
    ap.add_argument("--untrained", action=argparse.BooleanOptionalAction, default=True,
                    help="also score the untrained model of the same config (the control)")
    ap.add_argument("--batch-size", type=int, default=128)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--seed", type=int, default=0)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    try:
        st = checkpoint_file(a.checkpoint)
    except FileNotFoundError as e:
        raise SystemExit(str(e)) from None
    t0 = time.time()
    trained = MLSTM.load(st).eval()
    splits = probe_splits(a.data, a.limit, a.seed)
    y = {k: np.asarray(splits[k].labels) for k in ("dev", "test")}
    models = {"trained": trained}
    if a.untrained:
        models["untrained"] = untrained_like(trained)
    results = {}
    for name, m in models.items():
        S = {k: pair_scores(m, splits[k].texts, batch_size=a.batch_size) for k in ("dev", "test")}
        rows = {}
        for j, (pos, neg) in enumerate(PAIRS):
            rows[f"{pos.strip()} | {neg.strip()}"] = read_scores(S["dev"][:, j], y["dev"], S["test"][:, j], y["test"])
        rows["sum of the pairs"] = read_scores(S["dev"].sum(1), y["dev"], S["test"].sum(1), y["test"])
        results[name] = rows
    seconds = time.time() - t0
    manifest = make_manifest(
        command=" ".join(["python", *sys.argv]),
        config={"data": a.data, "limit": a.limit, "pairs": [list(p) for p in PAIRS], "seed": a.seed,
                "batch_size": a.batch_size, "untrained": a.untrained},
        seeds=[a.seed], data_files=[p for k in ("dev", "test") for p in splits[k].sources],
        model=str(st), model_hash=file_sha256(st), extra={"seconds": seconds, "threads": a.threads},
    )
    n = {k: len(splits[k]) for k in ("dev", "test")}
    a.out.parent.mkdir(parents=True, exist_ok=True)
    a.out.write_text(json.dumps({"data": a.data, "n": n, "results": results, "manifest": manifest}, indent=1))
    print(f"{a.data} zero-shot, {n['test']} test examples (threshold fitted on {n['dev']} dev); {seconds:.0f} s")
    print(f"{'model':10} {'pair':38} {'acc@0':>7} {'acc@dev':>8} {'AUROC':>6}")
    for name, rows in results.items():
        for pair, r in rows.items():
            print(f"{name:10} {pair:38} {r['acc_threshold_0']:7.1%} {r['acc_threshold_dev']:8.1%} {r['auroc']:6.3f}")
    print(f"wrote {a.out}")


if __name__ == "__main__":
    main()
