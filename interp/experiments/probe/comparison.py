"""mLSTM checkpoints: what a checkpoint's card says about its training, and several probe reports
side by side (a table and figures)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import List, Optional, Sequence, Union

from interp.models.mlstm import _paths
from interp.report.results import Result, Table, make_manifest

def checkpoint_meta(model_path: Optional[Union[str, Path]]) -> dict:
    """What a checkpoint's card (``model.json``) says about its training (characters seen, held-out
    and train bpc, step); ``{}`` when there is no path or no such record."""
    if not model_path:
        return {}
    try:
        meta = json.loads(_paths(model_path)[1].read_text()).get("meta") or {}
    except (OSError, ValueError):
        return {}
    return {k: meta.get(k) for k in ("chars_seen", "held_out_bpc", "train_bpc", "step") if k in meta}


def checkpoint_comparison(results: Sequence[Result], command: Optional[str] = None) -> Result:
    """Several :func:`probe_report` results side by side, one row per model and feature set: held-out
    bpc, characters seen, L1 probe (accuracy, units it needs), L2 probe, best single unit and that
    unit's share of the L2 probe's accuracy above chance ((unit − ½)/(L2 − ½)): the table that says
    whether sentiment sits in one unit or spreads out as a model trains."""
    if not results:
        raise ValueError("checkpoint_comparison needs at least one probe result")
    rows, lines, seen = [], [], set()
    for res in results:
        if res.kind != "probe":
            raise ValueError(f"checkpoint_comparison takes probe results (interp probe-mlstm); got kind {res.kind!r}")
    data_sets = {r.data.get("data", "sst") for r in results}
    if len(data_sets) > 1:
        raise ValueError(f"checkpoint_comparison compares probe runs on one data set; got {sorted(data_sets)} "
                         "(an IMDB accuracy beside an SST one would read as a difference between models)")
    ds = "SST" if data_sets == {"sst"} else "IMDB"
    for res in results:
        d = res.data
        ck = d.get("checkpoint") or {}
        for w in d["sites"]:
            r = d["trained"][w]
            share = r.get("best_unit_share_of_l2")
            rows.append([d["model_name"], d["d_hidden"], ck.get("chars_seen"), ck.get("held_out_bpc"), w,
                         r["l1"]["test_acc"], r["l1"]["n_nonzero"], r["l2"]["test_acc"], r["best_unit"]["unit"],
                         r["best_unit"]["test_acc"], share])
        if d.get("untrained"):
            for w in d["sites"]:
                r = d["untrained"][w]
                if _untrained_seen(seen, d, w):
                    continue  # every run probes the same random init: list it once
                rows.append([f"untrained, {d['d_hidden']} units", d["d_hidden"], 0, None, w, r["l1"]["test_acc"],
                             r["l1"]["n_nonzero"], r["l2"]["test_acc"], r["best_unit"]["unit"],
                             r["best_unit"]["test_acc"], r.get("best_unit_share_of_l2")])
        best = max(d["sites"], key=lambda w: d["trained"][w]["l2"]["test_acc"])
        r = d["trained"][best]
        lines.append(f"{d['model_name']}" + (f" ({ck['chars_seen'] / 1e6:.1f} M chars, {ck['held_out_bpc']:.3f} bpc)"
                                            if ck.get("chars_seen") and ck.get("held_out_bpc") else "")
                     + f": best L2 probe {r['l2']['test_acc']:.1%} ({best}), L1 {r['l1']['test_acc']:.1%} with "
                     f"{r['l1']['n_nonzero']} units, best unit {r['best_unit']['test_acc']:.1%}.")
    table = Table(
        title=f"mLSTM checkpoints side by side ({ds} test)",
        columns=["model", "d_hidden", "chars seen", "held-out bpc", "features", "L1 probe", "L1 units", "L2 probe",
                 "best unit", "best unit acc.", "unit share of L2 above chance"],
        rows=rows,
        caption=(f"Each row from its own probe run (same protocol: C chosen on {ds} dev; best unit by dev accuracy). "
                 "Share = (best unit − 0.5)/(L2 − 0.5): near 1, one unit carries what the linear probe finds; near "
                 "0, it is spread over many units. Untrained rows: same architecture, random init."),
    )
    return Result(kind="probe_comparison", title="mLSTM checkpoints compared", summary="\n\n".join(lines),
                  tables=[table], figures=_comparison_figures(results, ds),
                  data={"models": [r.data["model_name"] for r in results], "rows": rows},
                  manifest=make_manifest(command=command, config={"compared": [
                      {"model": r.data["model_name"], "model_hash": r.manifest.get("model_hash"),
                       "command": r.manifest.get("command")} for r in results]}))


def _untrained_seen(seen: set, d: dict, site: str) -> bool:
    """True when an identical untrained row (same width, features and probe accuracies) is already
    in ``seen``; records it otherwise."""
    r = d["untrained"][site]
    key = (d["d_hidden"], site, r["l1"]["test_acc"], r["l2"]["test_acc"], r["best_unit"]["unit"])
    if key in seen:
        return True
    seen.add(key)
    return False


def _comparison_figures(results: Sequence[Result], ds: str) -> List[dict]:
    """Grouped bars (L1, L2, best unit per model and feature set, untrained beside) and, where the
    probe runs computed it, every model's data-efficiency curve on one log-x plot. ``ds``: the data
    set's name for the titles ("SST" or "IMDB")."""
    bars = {"L1 probe": ([], []), "L2 probe": ([], []), "best single unit": ([], [])}
    curves, seen = [], set()
    for res in results:
        d = res.data
        for label, P in ((d["model_name"], d["trained"]), (f"untrained, {d['d_hidden']} units", d.get("untrained"))):
            for w in (d["sites"] if P else ()):
                if P is d.get("untrained") and _untrained_seen(seen, d, w):
                    continue
                x = f"{label} · {w}"
                for name, val in (("L1 probe", P[w]["l1"]["test_acc"]), ("L2 probe", P[w]["l2"]["test_acc"]),
                                  ("best single unit", P[w]["best_unit"]["test_acc"])):
                    bars[name][0].append(x)
                    bars[name][1].append(val)
        for w, cv in (d.get("data_efficiency") or {}).items():
            curves.append(dict(type="scatter", mode="lines+markers", name=f"{d['model_name']} · {w}", x=cv["sizes"],
                               y=cv["mean"], error_y=dict(type="data", array=cv["std"], visible=True)))
        bow = d.get("bag_of_words")
        if bow and bow.get("test_acc") is not None and not any(c.get("name") == "bag of words" for c in curves):
            curves.append(dict(type="scatter", mode="lines", name="bag of words", x=[10, d["n"]["train"]],
                               y=[bow["test_acc"]] * 2, line=dict(dash="dash", color="grey")))
    figs = [dict(data=[dict(type="bar", name=name, x=xs, y=ys) for name, (xs, ys) in bars.items()], layout=dict(
        title=dict(text=f"{ds} test accuracy by model and features"), barmode="group",
        yaxis=dict(title=dict(text="test accuracy"), range=[0.4, 1.0]),
        shapes=[dict(type="line", xref="paper", x0=0, x1=1, y0=0.5, y1=0.5, line=dict(dash="dot", color="grey"))],
    ))]
    if any(c.get("mode") == "lines+markers" for c in curves):
        figs.append(dict(data=curves, layout=dict(
            title=dict(text=f"Data efficiency: L1 probe's {ds} test accuracy vs labelled training examples"),
            xaxis=dict(title=dict(text="labelled training sentences"), type="log"),
            yaxis=dict(title=dict(text="test accuracy (mean ± std over seeds)")),
        )))
    return figs
