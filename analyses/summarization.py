"""The summarization motif: activation patching on toy pairs and the SST ablation table, in one go.

    python analyses/summarization.py --model smollm2-135m --limit 250 --pairs 8
    python analyses/summarization.py --mlstm runs/mlstm-512 --limit 300 --train-limit 2000

Transformers: (1) layer × position denoising heatmaps on toy pairs (the sentiment adjective
flipped), for resid_post, attn_out, mlp_out and directional patching along each layer's toy
mean-diff direction, with the sanity check that patching the adjective at early layers restores
the clean logit difference; (2) the share of SST accuracy removed by ablating the direction at
commas, full stops, punctuation, sentiment words and everywhere (project / mean / resample, with
a random-direction control; whole-vector mean ablation beside them), on the full test sample
and under the Tigges protocol. The mLSTM: the same table for a unit and a direction in c and h,
measured by an L2 probe on the final state; the patching heatmap over byte positions.

Writes ``heatmap.json``, ``summarization.json`` and ``report.html`` under ``--out`` (default
``runs/patch-<model>``). It is the same code path as ``interp patch``; this script exists so the
analysis can be rerun, or tweaked, from a file.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
os.environ.setdefault("HF_HUB_OFFLINE", "1")

import torch  # noqa: E402

from interp import report  # noqa: E402
from interp.experiments.patch import PatchConfig, ProbeScore, run_patch_toy  # noqa: E402
from interp.experiments.summarize import (MLSTMSummarizeConfig, SummarizeConfig, run_summarize,  # noqa: E402
                              run_summarize_mlstm)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default="smollm2-135m")
    ap.add_argument("--mlstm", type=Path, default=None, help="mLSTM checkpoint (file or run folder)")
    ap.add_argument("--limit", type=int, default=None, help="SST test sentences (seeded sample)")
    ap.add_argument("--dev-limit", type=int, default=300)
    ap.add_argument("--train-limit", type=int, default=None, help="mLSTM: SST train sentences for the probe")
    ap.add_argument("--reference-n", type=int, default=256)
    ap.add_argument("--pairs", type=int, default=8, help="toy pairs for the heatmaps")
    ap.add_argument("--flip", default="adjective", choices=["adjective", "both"])
    ap.add_argument("--n-random", type=int, default=8)
    ap.add_argument("--prompt", default="very")
    ap.add_argument("--no-heatmap", action="store_true")
    ap.add_argument("--no-summary", action="store_true")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", type=Path, default=None)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    command = "python " + " ".join(sys.argv)
    t0 = time.time()
    results = []
    pcfg = PatchConfig(n_pairs=a.pairs, flip=a.flip, seed=a.seed)
    if a.mlstm is None:
        from interp.finders.fit import fit_toy_directions
        from interp.models.transformer import TransformerModel

        model = TransformerModel.load(a.model)
        out = a.out or Path("runs") / f"patch-{Path(a.model).name}"
        directions, _ = fit_toy_directions(model, model.resid_sites("resid_post"))
        if not a.no_heatmap:
            results.append(run_patch_toy(model, pcfg, directions=directions, command=command))
        if not a.no_summary:
            scfg = SummarizeConfig(model=a.model, prompt=a.prompt, limit=a.limit, dev_limit=a.dev_limit,
                                   reference_n=a.reference_n, n_random=a.n_random, seed=a.seed)
            results.append(run_summarize(model, scfg, directions=directions, command=command))
    else:
        from interp.models.mlstm.adapter import MLSTMModel

        path = a.mlstm / "model.safetensors" if a.mlstm.is_dir() else a.mlstm
        model = MLSTMModel.load(path)
        model.name = path.parent.name if path.name == "model.safetensors" else path.with_suffix("").name
        out = a.out or Path("runs") / f"patch-{model.name}"
        scfg = MLSTMSummarizeConfig(limit=a.limit, dev_limit=a.dev_limit, train_limit=a.train_limit,
                                    reference_n=a.reference_n, n_random=a.n_random, seed=a.seed)
        res = run_summarize_mlstm(model, scfg, command=command, model_path=str(path))
        if not a.no_summary:
            results.append(res)
        if not a.no_heatmap:
            score = ProbeScore(scfg.probe_site, res.probe_weight, res.probe_bias)
            results.append(run_patch_toy(model, pcfg, score=score, directions=res.target_vectors,
                                         site_groups={"state": list(scfg.sites)}, command=command))
    out.mkdir(parents=True, exist_ok=True)
    for r in results:
        r.save(out / ("heatmap.json" if r.kind == "patch" else "summarization.json"))
        print(r.summary, "\n")
    html = report.write_report(results, out / "report.html", title=f"The summarization motif: {model.name}")
    print(f"wrote {out} ({html.name}) in {time.time() - t0:.0f} s")


if __name__ == "__main__":
    main()
