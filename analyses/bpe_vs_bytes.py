"""The subword mLSTM against the byte mLSTM at equal training compute and at equal characters (issue 18).

Reads the two models' probe curves (``analyses/mlstm_curve.py`` output: Radford et al.'s SST probes on
the final cell state c of every snapshot) and their cards; runs no model. For every snapshot it counts
the training FLOPs spent so far, ``3 x forward matmul FLOPs per token x tokens seen`` (tokens = characters
for the byte model, characters / the corpus's characters-per-token for the BPE model), and pairs
snapshots of the two models that match in FLOPs (within ``--tol``) or in characters seen. It writes a
result with both tables (held-out bpc, L1 / L2 probe, best unit and its share of the L2 margin, units the
L1 probe keeps), every row of both curves, and the figures: probe accuracy against characters, against
training FLOPs, and against held-out bpc, both models on one plot.

    python analyses/bpe_vs_bytes.py --bytes models/mlstm-512 --bpe runs/mlstm-512-bpe \\
        --bpe-curve runs/bpe-probe_curve.json --out analyses/results/bpe-vs-bytes
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from interp.models.mlstm.config import MLSTMConfig  # noqa: E402
from interp.models.mlstm.train import held_out_evaluations  # noqa: E402
from interp.report.results import Result, Table, make_manifest  # noqa: E402
from interp.runs import RunFolder  # noqa: E402


def _config(folder: Path) -> MLSTMConfig:
    card = folder / "model.json"
    if not card.is_file():
        raise SystemExit(f"{folder}: no model.json (the model card that names its config)")
    return MLSTMConfig.from_dict(json.loads(card.read_text())["config"])


def _chars_per_token(folder: Path, cfg: MLSTMConfig) -> float:
    if cfg.vocab == 256:
        return 1.0
    run = folder / "run.json"
    if not run.is_file():
        raise SystemExit(f"{folder}: no run.json (its corpus records the characters per token)")
    return float(json.loads(run.read_text())["corpus"]["chars_per_token"])


def _rows(curve: Path, cfg: MLSTMConfig, cpt: float, site: str, evals: list[tuple[int, float]]) -> list[dict]:
    if not curve.is_file():
        raise SystemExit(f"{curve}: no such probe curve (make it with analyses/mlstm_curve.py)")
    out = []
    for r in json.loads(curve.read_text())["rows"]:
        p = (r.get("probes") or {}).get(site)
        if p is None:
            continue
        chars = int(r["chars_seen"])
        bpc, bpc_at = r.get("held_out_bpc"), chars
        if bpc is not None and "held_out_bpc_evaluated" not in r:  # an older curve row: the card's value, whose
            same = [e for e in evals if e[0] <= chars and abs(e[1] - bpc) < 1e-12]  # evaluation may precede it
            if same:
                bpc_at = same[-1][0]
        if bpc is None and chars > 0:  # the curve has none: the trainer's last evaluation before the snapshot
            before = [e for e in evals if e[0] <= chars]
            if before and chars - before[-1][0] <= 1_000_000:
                bpc_at, bpc = before[-1]
        out.append({"snapshot": r["snapshot"], "chars": chars, "flops": 3.0 * cfg.forward_flops_per_token() * chars / cpt,
                    "bpc": bpc, "bpc_at_chars": bpc_at if bpc is not None else None, "l1": p["l1_test"], "l1_units": p["l1_nonzero"], "l2": p["l2_test"],
                    "unit": p["best_unit"], "unit_acc": p["best_unit_test"], "unit_share": p["best_unit_share_of_l2"]})
    return sorted(out, key=lambda r: r["chars"])


def _pairs(a: list[dict], b: list[dict], key: str, tol: float) -> list[tuple[dict, dict]]:
    """Each trained row of ``a`` with the row of ``b`` nearest in ``key``, kept when within ``tol`` (relative)."""
    out = []
    for r in a:
        if r["chars"] == 0:
            continue
        cand = [s for s in b if s["chars"] > 0]
        if not cand:
            break
        s = min(cand, key=lambda s: abs(s[key] - r[key]))
        if abs(s[key] - r[key]) <= tol * r[key]:
            out.append((r, s))
    return out


def _fmt(r: dict) -> list:
    bpc = "" if r["bpc"] is None else round(r["bpc"], 3)
    if r["bpc"] is not None and r["bpc_at_chars"] != r["chars"]:
        bpc = f"{r['bpc']:.3f} (at {r['bpc_at_chars'] / 1e6:.2f} M)"
    return [r["snapshot"], round(r["chars"] / 1e6, 2), round(r["flops"] / 1e15, 3), bpc, round(r["l1"], 4),
            r["l1_units"], round(r["l2"], 4), r["unit"], round(r["unit_acc"], 4), round(r["unit_share"], 3)]


COLS = ["snapshot", "M chars", "PFLOP", "held-out bpc", "L1 probe", "L1 units kept", "L2 probe", "best unit",
        "unit accuracy", "unit share of L2 margin"]


def _pair_table(title: str, pairs, caption: str) -> Table:
    rows = []
    for bpe, byte in pairs:
        rows.append(["subword (BPE)", *_fmt(bpe)])
        rows.append(["bytes", *_fmt(byte)])
    return Table(title=title, columns=["model", *COLS], rows=rows, caption=caption)


def _figures(byte: list[dict], bpe: list[dict]) -> list[dict]:
    import plotly.graph_objects as go

    figs = []
    for x, label, log in (("chars", "characters seen", False), ("flops", "training FLOPs (3 x forward matmuls)", False),
                          ("bpc", "held-out bits per character", False)):
        fig = go.Figure()
        for name, rows, colour in (("bytes", byte, "#1f77b4"), ("subword (BPE 16k)", bpe, "#d62728")):
            rr = [r for r in rows if r[x] is not None and (x != "bpc" or r["chars"] > 0)]
            for metric, dash in (("l1", "solid"), ("unit_acc", "dot")):
                fig.add_scatter(x=[r[x] for r in rr], y=[r[metric] for r in rr], mode="lines+markers",
                                name=f"{name}: {'L1 probe' if metric == 'l1' else 'best unit'}",
                                line=dict(color=colour, dash=dash))
        fig.update_layout(title=f"SST test accuracy of the final-c probes against {label}", xaxis_title=label,
                          yaxis_title="SST test accuracy", yaxis_tickformat=".0%", height=420,
                          xaxis_autorange="reversed" if x == "bpc" else True)
        figs.append(fig.to_plotly_json())
    return figs


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--bytes", type=Path, default=ROOT / "models" / "mlstm-512", help="the byte model's folder")
    ap.add_argument("--bytes-curve", type=Path, default=None, help="default: <bytes>/probe_curve.json")
    ap.add_argument("--bpe", type=Path, required=True, help="the subword model's run folder (model.json, run.json)")
    ap.add_argument("--bpe-curve", type=Path, default=None, help="default: <bpe>/probe_curve.json")
    ap.add_argument("--site", default="c")
    ap.add_argument("--tol", type=float, default=0.03, help="relative tolerance of a FLOPs / characters match")
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--force", action="store_true")
    a = ap.parse_args(argv)
    cb, cs = _config(a.bytes), _config(a.bpe)
    byte = _rows(a.bytes_curve or a.bytes / "probe_curve.json", cb, _chars_per_token(a.bytes, cb), a.site,
                 sorted(held_out_evaluations(a.bytes).items()))
    cpt = _chars_per_token(a.bpe, cs)
    bpe = _rows(a.bpe_curve or a.bpe / "probe_curve.json", cs, cpt, a.site, sorted(held_out_evaluations(a.bpe).items()))
    per_char = {"bytes": 3 * cb.forward_flops_per_token(), "bpe": 3 * cs.forward_flops_per_token() / cpt}
    by_flops = _pairs(bpe, byte, "flops", a.tol)
    by_chars = _pairs(bpe, byte, "chars", a.tol)
    t_flops = _pair_table("At equal training FLOPs", by_flops,
                          f"Each subword snapshot beside the byte snapshot nearest in training FLOPs (kept within "
                          f"{a.tol:.0%}). Training FLOPs per character: subword {per_char['bpe'] / 1e6:.2f} M "
                          f"(3 x {cs.forward_flops_per_token() / 1e6:.2f} M per token / {cpt:.3f} characters per token), "
                          f"bytes {per_char['bytes'] / 1e6:.2f} M; so equal FLOPs means the byte model has seen "
                          f"{per_char['bpe'] / per_char['bytes']:.3f}x the characters.")
    t_chars = _pair_table("At equal characters seen", by_chars,
                          f"Each subword snapshot beside the byte snapshot nearest in characters seen (within {a.tol:.0%}).")
    all_rows = Table(title="Every probed snapshot", columns=["model", *COLS],
                     rows=[["subword (BPE)", *_fmt(r)] for r in bpe] + [["bytes", *_fmt(r)] for r in byte],
                     caption=f"Site {a.site!r} (the final cell state); untrained rows are the same architecture at init.")
    last = bpe[-1]
    lines = [f"Subword mLSTM ({cs.vocab} tokens) up to {last['chars'] / 1e6:.1f} M characters: L1 probe "
             f"{last['l1']:.1%}, L2 {last['l2']:.1%}, best unit {last['unit_acc']:.1%} (unit {last['unit']}); "
             f"held-out {last['bpc']:.3f} bpc." if last["bpc"] else "",
             f"{len(by_flops)} snapshot pair(s) at equal FLOPs, {len(by_chars)} at equal characters (tables)."]
    for bp, bt in by_flops:
        lines.append(f"Equal FLOPs ({bp['flops'] / 1e15:.3f} vs {bt['flops'] / 1e15:.3f} PFLOP): subword at "
                     f"{bp['chars'] / 1e6:.1f} M chars L1 {bp['l1']:.1%} / best unit {bp['unit_acc']:.1%}, bytes at "
                     f"{bt['chars'] / 1e6:.1f} M chars L1 {bt['l1']:.1%} / best unit {bt['unit_acc']:.1%}.")
    manifest = make_manifest(command=" ".join(["python", "analyses/bpe_vs_bytes.py", *(argv or sys.argv[1:])]),
                             config={"bytes": str(a.bytes), "bpe": str(a.bpe), "site": a.site, "tol": a.tol},
                             data_files=[a.bytes_curve or a.bytes / "probe_curve.json", a.bpe_curve or a.bpe / "probe_curve.json"])
    res = Result(kind="bpe_vs_bytes", title="Subword vs byte mLSTM-512: probes at equal FLOPs and equal characters",
                 summary="\n\n".join(x for x in lines if x), tables=[t_flops, t_chars, all_rows],
                 figures=_figures(byte, bpe), data={"bytes": byte, "bpe": bpe, "flops_per_char": per_char},
                 manifest=manifest)
    from interp import report

    with RunFolder(a.out, identity={"command": "analyses/bpe_vs_bytes.py", "params": manifest["config"]},
                   command=manifest["command"], force=a.force) as run:
        res.save(run.file("result.json"))
        report.write_report([res], run.file("report.html"), title=res.title)
        run.write_text("summary.txt", res.summary + "\n")
        run.complete()
    print(res.summary)


if __name__ == "__main__":
    main()
