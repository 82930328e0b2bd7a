"""Does holding a unit (or a direction) of the mLSTM's cell state steer the sentiment of what it writes?

Radford et al.'s Figure 4, counted instead of shown: sample N reviews with the unit held high,
N with it held low, N with nothing held, and judge every sample with a sentiment classifier that
never saw the model (tf-idf 1-2-gram logistic regression fitted on IMDB train, scored on IMDB test
for its own accuracy). The hold values are the unit's (direction's) mean final-state value on SST
dev ± ``--sigmas`` standard deviations. The control is the same procedure on random units (and
random directions): a held unit may change the text a lot without changing its sentiment.
Byte and BPE checkpoints alike (a BPE model samples subword tokens; see
:func:`interp.models.mlstm.sample.sample`).

    python analyses/mlstm_steer_eval.py models/mlstm-512 --unit 350 --out runs/steer-eval.json
    python analyses/mlstm_steer_eval.py models/mlstm-512 --unit 350 \\
        --direction runs/find-mlstm-512-199M/directions/sst_last/hook_c/mean_diff.safetensors --out ...

Prints, per condition, the judge's mean P(positive) over the samples with a bootstrap interval,
and the shift high − low.
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

from interp import data  # noqa: E402
from interp.directions import Direction  # noqa: E402
from interp.judge import fit_judge, judge_sources  # noqa: E402
from interp.metrics import bootstrap_mean  # noqa: E402
from interp.models.mlstm import MLSTM, checkpoint_file  # noqa: E402
from interp.experiments.probe import extract_features  # noqa: E402
from interp.report.results import file_sha256, make_manifest  # noqa: E402
from interp.models.mlstm.sample import sample  # noqa: E402


def hold_values(F: np.ndarray, vec: np.ndarray, sigmas: float) -> tuple[float, float]:
    """Mean ± sigmas·std of the final-state projection on ``vec`` (unit norm) over SST dev."""
    p = F @ vec
    return float(p.mean() + sigmas * p.std()), float(p.mean() - sigmas * p.std())


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("checkpoint", type=Path, help="model.safetensors of an mLSTM or a folder holding one")
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--unit", type=int, action="append", default=[], help="cell unit to hold (repeatable)")
    ap.add_argument("--direction", type=Path, action="append", default=[],
                    help="a saved Direction over the cell state to hold (repeatable)")
    ap.add_argument("--n-samples", type=int, default=48, help="samples per condition")
    ap.add_argument("--n-bytes", type=int, default=300,
                    help="length of each sample in bytes of text (a BPE model's last token is cut to it)")
    ap.add_argument("--prompt", default="")
    ap.add_argument("--temperature", type=float, default=0.8)
    ap.add_argument("--sigmas", type=float, default=4.0, help="hold at mean ± this many std of the final state")
    ap.add_argument("--n-random", type=int, default=2, help="random units and random directions as controls")
    ap.add_argument("--judge-train", type=int, default=25000)
    ap.add_argument("--judge-test", type=int, default=5000)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--seed", type=int, default=0)
    a = ap.parse_args()
    if not a.unit and not a.direction:
        raise SystemExit("give at least one --unit or --direction to hold")
    if a.n_samples < 2:
        raise SystemExit(f"--n-samples must be at least 2, got {a.n_samples}")
    torch.set_num_threads(a.threads)
    try:
        st = checkpoint_file(a.checkpoint)
    except FileNotFoundError as e:
        raise SystemExit(str(e)) from None
    t0 = time.time()
    model = MLSTM.load(st).eval()
    d = model.cfg.d_hidden
    for u in a.unit:
        if not 0 <= u < d:
            raise SystemExit(f"--unit {u} out of range for a {d}-unit model")
    rng = np.random.default_rng(a.seed)

    # what to hold: (name, kind, unit-norm vector over c)
    targets = []
    for u in a.unit:
        targets.append((f"unit {u}", "unit", u))
    for p in a.direction:
        dr = Direction.load(p, expect_width=d)
        if dr.site and dr.site != "hook_c":
            raise SystemExit(f"{p} is a direction at {dr.site!r}; holding needs one over the cell state (hook_c)")
        targets.append((f"{dr.method or p.stem} direction ({dr.data or 'unknown data'})", "direction", dr))
    for u in rng.choice([x for x in range(d) if x not in a.unit], a.n_random, replace=False):
        targets.append((f"random unit {int(u)}", "unit", int(u)))
    for k in range(a.n_random if a.direction else 0):
        v = rng.standard_normal(d)
        targets.append((f"random direction {k}", "direction", torch.tensor(v / np.linalg.norm(v), dtype=torch.float32)))

    dev = data.sst("dev")
    Fc = extract_features(model, dev.texts, which=("c",), progress=False)["c"].astype(np.float64)
    judge, judge_acc = fit_judge(a.judge_train, a.judge_test, a.seed)
    print(f"judge: tf-idf logistic regression on {a.judge_train} IMDB train reviews, IMDB test accuracy "
          f"{judge_acc:.1%} ({a.judge_test} reviews)", flush=True)

    def run(hold: dict | None) -> tuple[list[str], np.ndarray]:
        texts = [sample(model, prompt=a.prompt, n_bytes=a.n_bytes, temperature=a.temperature, seed=a.seed * 100_003 + i,
                        hold=hold) for i in range(a.n_samples)]
        return texts, judge.predict_proba(texts)[:, 1]

    conditions = {}
    base_texts, base_p = run(None)
    conditions["nothing held"] = {"p_pos": base_p.tolist(), "examples": base_texts[:3]}
    rows = []
    for name, kind, what in targets:
        if kind == "unit":
            vec = np.zeros(d)
            vec[what] = 1.0
        else:
            vec = (what.vector if isinstance(what, Direction) else what).double().numpy()
            vec = vec / np.linalg.norm(vec)
        hi, lo = hold_values(Fc, vec, a.sigmas)
        res = {}
        for label, v in (("high", hi), ("low", lo)):
            hold = {"unit": what, "value": v} if kind == "unit" else {"direction": what, "value": v}
            texts, p = run(hold)
            res[label] = {"value": v, "p_pos": p.tolist(), "examples": texts[:3]}
        shift = np.asarray(res["high"]["p_pos"]) - np.asarray(res["low"]["p_pos"])
        m, lo_ci, hi_ci = bootstrap_mean(shift, seed=a.seed)
        res["shift_high_minus_low"] = {"mean": m, "ci95": [lo_ci, hi_ci]}
        conditions[name] = res
        rows.append((name, hi, lo, float(np.mean(res["high"]["p_pos"])), float(np.mean(res["low"]["p_pos"])), m,
                     lo_ci, hi_ci))
        print(f"{name:28} hold {hi:+.2f} → P(pos) {rows[-1][3]:.3f}; hold {lo:+.2f} → {rows[-1][4]:.3f}; "
              f"shift {m:+.3f} [{lo_ci:+.3f}, {hi_ci:+.3f}]", flush=True)
    seconds = time.time() - t0
    print(f"nothing held: P(pos) {base_p.mean():.3f}; {a.n_samples} samples of {a.n_bytes} bytes per condition; "
          f"{seconds:.0f} s")
    manifest = make_manifest(
        command=" ".join(["python", *sys.argv]),
        config={k: (str(v) if isinstance(v, Path) else [str(x) for x in v] if isinstance(v, list) else v)
                for k, v in vars(a).items()},
        seeds=[a.seed], data_files=[*dev.sources, *judge_sources()], model=str(st), model_hash=file_sha256(st),
        extra={"seconds": seconds, "judge_imdb_test_acc": judge_acc},
    )
    a.out.parent.mkdir(parents=True, exist_ok=True)
    a.out.write_text(json.dumps({"judge_imdb_test_acc": judge_acc, "conditions": conditions,
                                 "table": [dict(zip(("target", "high", "low", "p_pos_high", "p_pos_low", "shift",
                                                     "ci_lo", "ci_hi"), r)) for r in rows],
                                 "manifest": manifest}, indent=1))
    print(f"wrote {a.out}")


if __name__ == "__main__":
    main()
