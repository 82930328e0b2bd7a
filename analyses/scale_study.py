"""Does the summarization motif grow with scale? One cross-model table from saved runs (issue 16).

Reads the run folders of ``interp ablate`` (required, one per model; with ``--protocol tigges``
the Tigges et al. protocol rows are read from the same result), and optionally ``interp find``,
``interp steer --eval`` and ``interp patch`` (its ``summarization.json``; at most one of each per
model), groups them by the model each
result names in its manifest, and writes one interp result (a table, the commands behind every
number, and a figure) into ``--out``:

- per model: parameter count, baseline SST accuracy and AUROC, the share of above-chance
  accuracy removed by ablating the direction at all positions and at commas (default protocol,
  and the Tigges protocol where run) beside its random control, with the paired bootstrap
  intervals of the runs; from ``find``: the best single neuron's and the direction's SST test
  accuracy at the best site and their causal shares; from ``steer --eval``: judged P(positive)
  per unit α for the direction, the best neuron and the pooled random directions;
- from ``patch``, a second table: the summarization table of every model (each ablation mode at
  commas, full stops, all positions and any other position the run has, on the SST test sentences
  and on the Tigges subset, beside random directions), and a figure of its comma row against size;
- a figure: % removed (all positions, commas) against parameter count (log x), with Tigges et
  al.'s (2023) Pythia-1.4b and -2.8b numbers marked as theirs, not measured here.

Parameter count: the tensors stored in the model folder's ``*.safetensors`` files, counted from
their headers (exact, nothing loaded; a tied embedding is stored, and counted, once); the folder
is found with :func:`interp.models.zoo.resolve` from the model name in the ablate result's manifest.
Layers and width come from its ``config.json`` (:func:`interp.models.zoo.model_config`). A model not on
this machine gets no count (said in the table) and no point in the figure.

Nothing is re-run: every number is the saved result's. A folder without ``result.json``, a run
that is not complete, a result of another kind, or two results of one kind for one model are
refused with a one-line error.

    python analyses/scale_study.py runs/scale/smollm2-135m-ablate runs/scale/smollm2-135m-find \\
        runs/scale/smollm2-135m-steer ... --out analyses/results/scale_study
"""

from __future__ import annotations

import argparse
import json
import math
import os
import struct
import sys
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")

from interp import metrics  # noqa: E402
from interp.report.results import Result, ResultFileError, Table, make_manifest  # noqa: E402
from interp.runs import RunFolder  # noqa: E402

KINDS = ("ablate", "find", "steer", "summarize")
#: positions the cross-model summarization table lists first, in this order (a run's others follow)
SUMMARY_POSITIONS = ("commas", "full_stops", "all")

#: Tigges et al. (2023), "Linear representations of sentiment in large language models": share of
#: above-chance accuracy lost when their DAS direction is removed at every layer, at all positions
#: and at commas only, on their balanced population of correctly classified SST sentences with a
#: comma. x: the models' nominal sizes. Theirs, not measured here.
TIGGES_REFERENCE = (
    {"model": "Pythia-1.4b", "params": 1.4e9, "all": 0.94, "commas": 0.11, "n": 230},
    {"model": "Pythia-2.8b", "params": 2.8e9, "all": 0.75, "commas": 0.35, "n": 1390},
)


class ScaleStudyError(ValueError):
    """Input the study cannot use (one line, naming the folder and the problem)."""


# ------------------------------------------------------------------------------------ reading


def read_run(folder: str | os.PathLike) -> Result:
    """The result of one finished run folder; :class:`ScaleStudyError` naming the problem."""
    path = Path(folder)
    if not path.is_dir():
        raise ScaleStudyError(f"{path}: no such run folder")
    if not (path / "result.json").is_file():
        raise ScaleStudyError(f"{path} holds no result.json: not a finished interp run folder")
    meta = RunFolder.read_meta(path)
    if meta is not None and meta.get("status") != "complete":
        why = f" ({meta['reason']})" if meta.get("reason") else ""
        raise ScaleStudyError(f"{path}: the run is {meta.get('status')}, not complete{why}; re-run its command to "
                              "finish it")
    try:
        res = Result.load(path / "result.json")
        if res.kind == "patch":  # interp patch keeps its summarization table beside the combined result
            if not (path / "summarization.json").is_file():
                raise ScaleStudyError(f"{path}: an interp patch run without summarization.json (its summarization "
                                      "table): run interp patch with --summary")
            res = Result.load(path / "summarization.json")
    except (ResultFileError, OSError) as e:
        raise ScaleStudyError(str(e)) from None
    if res.kind not in KINDS:
        raise ScaleStudyError(f"{path}: a {res.kind!r} result; this study reads {', '.join(KINDS)} results")
    if res.kind == "steer" and "slopes" not in res.data:
        raise ScaleStudyError(f"{path}: a steer result without the counted dial (slopes): run interp steer --eval")
    if not res.manifest.get("model"):
        raise ScaleStudyError(f"{path}: the result names no model in its manifest")
    return res


def group_runs(folders) -> dict[str, dict[str, tuple[Path, Result]]]:
    """``{model name: {kind: (folder, result)}}``, in the order the ablate runs are given."""
    by_model: dict[str, dict[str, tuple[Path, Result]]] = {}
    if not folders:
        raise ScaleStudyError("give at least one run folder (an interp ablate run per model)")
    for f in folders:
        res = read_run(f)
        name = res.manifest["model"]
        runs = by_model.setdefault(name, {})
        if res.kind in runs:
            raise ScaleStudyError(f"{f}: a second {res.kind} result for {name} (the first: {runs[res.kind][0]}); "
                                  "give one per model")
        runs[res.kind] = (Path(f), res)
    for name, runs in by_model.items():
        if "ablate" not in runs:
            given = ", ".join(str(p) for p, _ in runs.values())
            raise ScaleStudyError(f"{name} has no interp ablate run among the folders ({given}): its baseline and "
                                  "% removed come from one")
    order = {n: i for i, n in enumerate(by_model)}
    return dict(sorted(by_model.items(), key=lambda kv: order[kv[0]]))


# ------------------------------------------------------------------------------------ parameters


def safetensors_count(folder: str | os.PathLike) -> dict | None:
    """Parameters stored in ``folder``'s ``*.safetensors`` files, from their headers: ``total`` and
    ``embedding`` (tensors named ``*embed*`` or ``lm_head*``); None when the folder has none."""
    files = sorted(Path(folder).glob("*.safetensors"))
    if not files:
        return None
    total = embedding = 0
    for f in files:
        with open(f, "rb") as fh:
            (n,) = struct.unpack("<Q", fh.read(8))
            header = json.loads(fh.read(n))
        for name, t in header.items():
            if name == "__metadata__":
                continue
            k = math.prod(t["shape"])
            total += k
            if "embed" in name or name.startswith("lm_head"):
                embedding += k
    return {"total": total, "embedding": embedding, "files": [f.name for f in files]}


def model_size(name: str) -> dict:
    """Parameter count and shape of a model named in a result, if its folder is on this machine."""
    from interp.models import zoo

    try:
        folder = Path(zoo.resolve(name))
        cfg = zoo.model_config(name)
    except (ValueError, FileNotFoundError) as e:
        return {"params": None, "why": f"not on this machine ({str(e).splitlines()[0]})"}
    count = safetensors_count(folder) if folder.is_dir() else None
    if count is None:
        return {"params": None, "why": f"no *.safetensors in {folder}"}
    return {"params": count["total"], "embedding_params": count["embedding"], "folder": str(folder),
            "counted_from": count["files"], "model_type": cfg.get("model_type"),
            "n_layers": cfg.get("num_hidden_layers", cfg.get("n_layer")),
            "d_model": cfg.get("hidden_size", cfg.get("n_embd"))}


# ------------------------------------------------------------------------------------ numbers


def _removed(e: dict | None, prefix: str = "") -> dict | None:
    """A condition's share removed, interval and accuracy; ``prefix="tigges_"``: the same on its Tigges subset.
    None when the condition (or that subset's number) is absent."""
    if e is None or e.get(prefix + "removed") is None:
        return None
    return {"removed": e[prefix + "removed"], "ci": list(e[prefix + "removed_ci"]), "accuracy": e[prefix + "accuracy"]}


def ablate_numbers(folder: Path, res: Result) -> dict:
    d = res.data
    cfg, cond = d.get("config", {}), d.get("conditions", {})
    if "baseline" not in cond:
        raise ScaleStudyError(f"{folder}: an ablate result without its baseline condition")
    mode = cfg.get("modes", ["mean"])[0]
    out = {"n_test": d["n_test"], "baseline_accuracy": cond["baseline"]["accuracy"],
           "baseline_auroc": cond["baseline"]["auroc"], "mode": mode, "directions": d.get("directions_spec"),
           "split": cfg.get("split"), "limit": cfg.get("limit"), "fit_data": cfg.get("fit_data"), "default": {},
           "tigges": None}
    for p in ("all", "commas", "full_stops"):
        if f"{mode}:{p}:direction" in cond:
            out["default"][p] = {"direction": _removed(cond[f"{mode}:{p}:direction"]),
                                 "random": _removed(cond[f"{mode}:{p}:random"])}
    if "all" not in out["default"] and "commas" not in out["default"]:
        raise ScaleStudyError(f"{folder}: the ablate run has no all-layers condition at all positions or commas "
                              f"(run it with --positions all,commas and without --per-layer)")
    t = d.get("tigges_protocol")
    if t:
        c = t["conditions"]
        methods = sorted({d.get("method") for d in (t.get("directions") or {}).values()} - {None})
        out["tigges"] = {"n": t["n"], "directions": "+".join(methods) or None,
                         **{p: {"direction": _removed(c.get(f"tigges:{p}:direction")),
                                "random": _removed(c.get(f"tigges:{p}:random"))} for p in ("all", "commas")}}
    return out


def find_numbers(folder: Path, res: Result) -> dict:
    d = res.data
    site, primary = d["best_site"], d["config"]["data"][0]
    acc = d["accuracy"][primary][site]
    ref = "mean_diff" if "mean_diff" in acc else next((m for m in acc if m not in ("random", "best_neuron")), None)
    out = {"site": site, "data": primary, "direction_method": ref,
           "best_neuron_acc": acc.get("best_neuron", {}).get("test_acc"),
           "direction_acc": acc[ref]["test_acc"] if ref else None,
           "random_acc": acc.get("random", {}).get("test_acc"),
           "l2_acc": acc.get("logreg_l2", {}).get("test_acc"), "causal": None}
    causal = d.get("causal")
    if causal:
        pos = "all" if "all" in causal["positions"] else causal["positions"][0]
        c = causal["conditions"]
        out["causal"] = {"positions": pos, "site": causal["site"], "n_test": causal["n_test"],
                         "direction": _removed(c.get(f"{pos}:{ref}")), "best_unit": _removed(c.get(f"{pos}:best_unit")),
                         "l2": _removed(c.get(f"{pos}:logreg_l2")),
                         "random": _removed(c.get(f"{pos}:random"))}
    return out


def steer_numbers(folder: Path, res: Result) -> dict:
    d = res.data
    out = {"site": d["site"], "alphas": d["alphas"]}
    for name, s in d["slopes"].items():
        key = {"direction": "direction", "neuron": "neuron", "random pooled": "random"}.get(s["what"])
        if key:
            out[key] = {"name": name, "slope": s["slope"], "ci": list(s["ci95"])}
    return out


def summarize_numbers(folder: Path, res: Result) -> dict:
    """The summarization table of one model: per mode and position, the share removed on the SST test
    sentences and on the Tigges subset (the correctly classified ones with a comma), beside the random control."""
    d = res.data
    cfg, cond = d.get("config", {}), d.get("conditions", {})
    if "baseline" not in cond:
        raise ScaleStudyError(f"{folder}: a summarization result without its baseline condition")
    cells = {}
    for mode in cfg.get("modes", []):
        for pos in cfg.get("positions", []):
            e, r = cond.get(f"{mode}:{pos}:direction"), cond.get(f"{mode}:{pos}:random")
            if e is None:
                continue
            cells[f"{mode}:{pos}"] = {"mode": mode, "positions": pos, "direction": _removed(e), "random": _removed(r),
                                      "tigges_direction": _removed(e, "tigges_"), "tigges_random": _removed(r, "tigges_")}
    if not cells:
        raise ScaleStudyError(f"{folder}: the summarization result holds no direction condition")
    return {"n_test": d["n_test"], "tigges_n": d.get("tigges_n"), "baseline_accuracy": cond["baseline"]["accuracy"],
            "modes": list(cfg.get("modes", [])), "positions": list(cfg.get("positions", [])),
            "site": cfg.get("site"), "fit_data": cfg.get("fit_data"), "split": cfg.get("split"), "cells": cells}


# ------------------------------------------------------------------------------------ the result


def _fmt(e: dict | None, none: str = "not run") -> str:
    return none if e is None else metrics.format_removed(e["removed"], *e["ci"])


def _slope(e: dict | None) -> str:
    return "not run" if e is None else f"{e['slope']:+.3f} [{e['ci'][0]:+.3f}, {e['ci'][1]:+.3f}]"


def _acc(x) -> float | str:
    return "not run" if x is None else x


COLUMNS = ["model", "parameters", "non-embedding parameters", "layers", "d_model", "directions (default / Tigges)",
           "SST test n", "baseline accuracy", "baseline AUROC", "% removed, all positions [95% CI]",
           "random: all positions", "% removed, commas [95% CI]", "random: commas", "% removed, full stops [95% CI]",
           "random: full stops", "Tigges protocol n", "Tigges: % lost, all positions",
           "Tigges random: all", "Tigges: % lost, commas", "Tigges random: commas", "find: best site",
           "best neuron: SST test acc", "direction: SST test acc", "L2 probe direction: SST test acc",
           "causal: direction % removed", "causal: L2 direction % removed", "causal: best neuron % removed", "steer: direction slope per unit α [95% CI]", "steer: best neuron slope",
           "steer: random directions slope"]


def _directions(a: dict) -> str:
    fit = f" ({a['fit_data']})" if a.get("fit_data") and not str(a["directions"]).startswith(("/", ".")) else ""
    tig = (a["tigges"].get("directions") or "?") if a["tigges"] else "not run"
    return f"{a['directions']}{fit} / {tig}"


def _row(m: dict) -> list:
    a, size = m["ablate"], m["size"]
    dflt = a["default"]
    t, f, s = a["tigges"], m.get("find"), m.get("steer")
    g = (lambda p, w: dflt[p][w] if p in dflt else None)
    tg = (lambda p, w: t[p][w] if t else None)
    t_none = "no sentence kept" if t and not t["n"] else "not run"  # the filter kept nothing: nothing measured
    causal = f["causal"] if f else None
    return [m["label"], size["params"] if size["params"] is not None else size["why"],
            size["params"] - size["embedding_params"] if size["params"] is not None else None,
            size.get("n_layers"), size.get("d_model"), _directions(a), a["n_test"], a["baseline_accuracy"],
            a["baseline_auroc"], _fmt(g("all", "direction")), _fmt(g("all", "random")), _fmt(g("commas", "direction")),
            _fmt(g("commas", "random")), _fmt(g("full_stops", "direction")), _fmt(g("full_stops", "random")),
            t["n"] if t else "not run", _fmt(tg("all", "direction"), t_none),
            _fmt(tg("all", "random"), t_none), _fmt(tg("commas", "direction"), t_none),
            _fmt(tg("commas", "random"), t_none),
            f["site"] if f else "not run", _acc(f["best_neuron_acc"] if f else None),
            _acc(f["direction_acc"] if f else None), _acc(f.get("l2_acc") if f else None),
            _fmt(causal["direction"] if causal else None), _fmt(causal.get("l2") if causal else None),
            _fmt(causal["best_unit"] if causal else None), _slope(s.get("direction") if s else None),
            _slope(s.get("neuron") if s else None), _slope(s.get("random") if s else None)]


SUMMARY_COLUMNS = ["model", "mode", "positions", "SST test n", "% removed [95% CI]", "random control",
                   "Tigges subset n", "Tigges subset: % removed [95% CI]", "Tigges subset: random"]


def _subset(s: dict, c: dict, what: str) -> str:
    """A Tigges-subset cell: its share, or why there is none (an empty subset measured nothing, whatever NaNs it left)."""
    return _fmt(c[what], "not run") if s["tigges_n"] else "no sentence kept"


def summary_rows(models: list[dict]) -> list[list]:
    """One row per model, mode and position of the summarization table (positions in SUMMARY_POSITIONS first)."""
    rows = []
    for m in models:
        s = m.get("summarize")
        if not s:
            continue
        order = [p for p in SUMMARY_POSITIONS if p in s["positions"]] + [p for p in s["positions"]
                                                                        if p not in SUMMARY_POSITIONS]
        for mode in s["modes"]:
            for pos in order:
                c = s["cells"].get(f"{mode}:{pos}")
                if c is None:
                    continue
                rows.append([m["label"], mode, pos, s["n_test"], _fmt(c["direction"]), _fmt(c["random"]),
                             s["tigges_n"], _subset(s, c, "tigges_direction"), _subset(s, c, "tigges_random")])
    return rows


def summary_figure(models: list[dict]) -> dict:
    """The summarization table's comma row against size: each mode, on all test sentences and on the Tigges subset."""
    cell = (lambda m, key, what: _ci(((m.get("summarize") or {}).get("cells", {}).get(key) or {}).get(what)))
    colours = {"project": "#1f77b4", "mean": "#ff7f0e", "resample": "#2ca02c"}
    modes = list(dict.fromkeys(mode for m in models for mode in (m.get("summarize") or {}).get("modes", [])))
    series = []
    for mode in modes:
        c = colours.get(mode, "#8c564b")
        series += [(f"{mode} at commas", lambda m, k=f"{mode}:commas": cell(m, k, "direction"), c, "solid"),
                   (f"{mode} at commas, Tigges subset", lambda m, k=f"{mode}:commas": cell(m, k, "tigges_direction"),
                    c, "dash"),
                   (f"{mode} at commas, random control", lambda m, k=f"{mode}:commas": cell(m, k, "random"),
                    "#aaaaaa", "dot")]
    return _points_figure(models, series, title="Summarization table, commas row: share removed by each ablation mode",
                          ytitle="share of above-chance accuracy removed", tickformat=".0%")


def figure(models: list[dict]) -> dict:
    import plotly.graph_objects as go

    fig = go.Figure()
    series = (("default", "all", "default protocol, all positions", "#1f77b4", "circle"),
              ("default", "commas", "default protocol, commas", "#ff7f0e", "circle"),
              ("tigges", "all", "Tigges protocol, all positions", "#1f77b4", "diamond"),
              ("tigges", "commas", "Tigges protocol, commas", "#ff7f0e", "diamond"))
    for proto, pos, label, colour, symbol in series:
        for what in ("direction", "random"):
            _add_points(fig, models, label + ("" if what == "direction" else " (random control)"),
                        lambda m: _ci(((m["ablate"]["default"] if proto == "default" else m["ablate"]["tigges"])
                                       or {}).get(pos, {}).get(what)),
                        line=dict(color="#aaaaaa" if what == "random" else colour,
                                  dash="dot" if what == "random" else "solid"),
                        marker=dict(symbol=symbol, size=9 if what == "direction" else 6))
    for pos, colour in (("all", "#1f77b4"), ("commas", "#ff7f0e")):
        fig.add_scatter(x=[r["params"] for r in TIGGES_REFERENCE], y=[r[pos] for r in TIGGES_REFERENCE],
                        text=[f"{r['model']} (n={r['n']:,})" for r in TIGGES_REFERENCE], mode="markers+text",
                        textposition="top center",
                        name=f"Tigges et al. 2023, {'all positions' if pos == 'all' else 'commas'} (theirs, not measured here)",
                        marker=dict(symbol="star", size=14, color=colour, line=dict(color="black", width=1)))
    fig.update_layout(title="Share of above-chance accuracy removed by the sentiment direction, against model size",
                      xaxis=dict(type="log", title="parameters (log scale)"),
                      yaxis=dict(title="share of above-chance accuracy removed", tickformat=".0%"), height=520)
    return fig.to_plotly_json()


def _add_points(fig, models: list[dict], label: str, get, *, line: dict, marker: dict | None = None) -> None:
    """One line against parameter count: ``get(model)`` returns ``None`` (no point), a number, or
    ``(value, low, high)`` (drawn with its interval); a NaN value gets no point, nor a model without a count."""
    sized = sorted((m for m in models if m["size"]["params"] is not None), key=lambda m: m["size"]["params"])
    pts = [(m["size"]["params"], get(m), m["label"]) for m in sized]
    pts = [(x, v if isinstance(v, tuple) else (v, None, None), t) for x, v, t in pts
           if v is not None and math.isfinite(v[0] if isinstance(v, tuple) else v)]
    if not pts:
        return
    kw = {"marker": marker} if marker else {}
    if all(v[1] is not None for _, v, _ in pts):
        kw["error_y"] = dict(type="data", array=[v[2] - v[0] for _, v, _ in pts],
                             arrayminus=[v[0] - v[1] for _, v, _ in pts])
    fig.add_scatter(x=[x for x, _, _ in pts], y=[v[0] for _, v, _ in pts], text=[t for _, _, t in pts],
                    mode="lines+markers", name=label, line=line, **kw)


def _points_figure(models: list[dict], series, *, title: str, ytitle: str, tickformat: str | None = None) -> dict:
    """One line per series against parameter count (log x). ``series``: (label, getter, colour, dash);
    the getters as :func:`_add_points` takes them."""
    import plotly.graph_objects as go

    fig = go.Figure()
    for label, get, colour, dash in series:
        _add_points(fig, models, label, get, line=dict(color=colour, dash=dash))
    fig.update_layout(title=title, xaxis=dict(type="log", title="parameters (log scale)"),
                      yaxis=dict(title=ytitle, **({"tickformat": tickformat} if tickformat else {})), height=460)
    return fig.to_plotly_json()


def _ci(e: dict | None):
    return None if e is None else (e["removed"], *e["ci"])


def _slope_ci(e: dict | None):
    return None if e is None else (e["slope"], *e["ci"])


def neuron_figures(models: list[dict]) -> list[dict]:
    """Best neuron against direction (probe accuracy, causal share) and the steering slopes, against size."""
    f = (lambda m: m.get("find") or {})
    c = (lambda m: (m.get("find") or {}).get("causal") or {})
    s = (lambda m: m.get("steer") or {})
    acc = _points_figure(models, [
        ("zero-shot baseline (ablate run)", lambda m: m["ablate"]["baseline_accuracy"], "#2ca02c", "solid"),
        ("direction probe (find, best site)", lambda m: f(m).get("direction_acc"), "#1f77b4", "solid"),
        ("L2 probe direction (find, best site)", lambda m: f(m).get("l2_acc"), "#9467bd", "solid"),
        ("best single neuron (find, best site)", lambda m: f(m).get("best_neuron_acc"), "#d62728", "solid"),
        ("random direction (find)", lambda m: f(m).get("random_acc"), "#aaaaaa", "dot")],
        title="SST test accuracy: the model's zero-shot answer, a direction, its best single neuron",
        ytitle="SST test accuracy", tickformat=".0%")
    causal = _points_figure(models, [
        ("direction ablated at the find site", lambda m: _ci(c(m).get("direction")), "#1f77b4", "solid"),
        ("L2 direction ablated there", lambda m: _ci(c(m).get("l2")), "#9467bd", "solid"),
        ("best neuron ablated there", lambda m: _ci(c(m).get("best_unit")), "#d62728", "solid"),
        ("random direction (control)", lambda m: _ci(c(m).get("random")), "#aaaaaa", "dot")],
        title="Causal share at the find run's best site: direction vs best neuron (all positions)",
        ytitle="share of above-chance accuracy removed", tickformat=".0%")
    steer = _points_figure(models, [
        ("direction", lambda m: _slope_ci(s(m).get("direction")), "#1f77b4", "solid"),
        ("best neuron", lambda m: _slope_ci(s(m).get("neuron")), "#d62728", "solid"),
        ("random directions (pooled)", lambda m: _slope_ci(s(m).get("random")), "#aaaaaa", "dot")],
        title="Steering: judged P(positive) per unit α (α in units of the site's typical norm)",
        ytitle="slope of judged P(positive) per unit α")
    return [acc, causal, steer]


def build(folders, *, command: str | None = None) -> Result:
    """The cross-model result from run folders (see the module docstring)."""
    grouped = group_runs(folders)
    models, cmd_rows = [], []
    for name, runs in grouped.items():
        af, ares = runs["ablate"]
        m = {"model": name, "label": Path(name).name if os.sep in name else name, "size": model_size(name),
             "ablate": ablate_numbers(af, ares), "folders": {k: str(p) for k, (p, _) in runs.items()}}
        if "find" in runs:
            m["find"] = find_numbers(*runs["find"])
        if "steer" in runs:
            m["steer"] = steer_numbers(*runs["steer"])
        if "summarize" in runs:
            m["summarize"] = summarize_numbers(*runs["summarize"])
        models.append(m)
        for kind, (p, r) in runs.items():
            cmd_rows.append([m["label"], kind, str(p), r.manifest.get("command"), r.manifest.get("date"),
                             r.manifest.get("git_commit")])
    # smallest model first; a model without a parameter count last, in the order given
    order = sorted(range(len(models)), key=lambda i: (models[i]["size"]["params"] is None,
                                                      models[i]["size"]["params"] or 0, i))
    models = [models[i] for i in order]
    rank = {m["label"]: k for k, m in enumerate(models)}
    cmd_rows.sort(key=lambda r: rank[r[0]])  # stable: each model's runs keep their order
    table = Table(
        title="The same studies across models: baseline, % removed (two protocols), neuron vs direction, steering",
        columns=COLUMNS, rows=[_row(m) for m in models],
        caption=("Every number is read from the saved result of the run named in the next table; nothing is re-run. "
                 "Parameters: the tensors stored in the model folder's safetensors files, counted from their headers "
                 "(a tied embedding counted once); non-embedding: without the token embedding and the unembedding. "
                 "% removed: share of above-chance accuracy removed by ablating every layer's direction at once "
                 "(default protocol: the ablate run's first mode on its SST test sentences at the dev-fitted "
                 "threshold; Tigges protocol: the projection removed on Tigges et al.'s population, threshold 0), "
                 "beside the random-direction control; intervals are the runs' paired bootstraps. find: at its best "
                 "site, SST test accuracy of the best single unit, of the mean-difference direction and of the L2 "
                 "logistic-regression direction, and the share removed by ablating each there (all positions). steer: judged P(positive) per unit α (in units of the "
                 "site's typical norm), least squares over the α grid, bootstrap interval."))
    tables = [table]
    srows = summary_rows(models)
    if srows:
        tables.append(Table(
            title="The summarization table across models: the direction ablated at chosen positions, every layer at once",
            columns=SUMMARY_COLUMNS, rows=srows,
            caption=("From each model's interp patch run (its summarization.json): the share of above-chance SST "
                     "accuracy removed when the direction is ablated (project: projected out; mean: set to its "
                     "reference mean; resample: taken from a reference sentence) at the positions named, beside "
                     "random directions; Tigges subset: the test sentences the model classifies correctly that hold a "
                     "comma. Intervals: paired bootstrap.")))
    commands = Table(title="The runs behind every number", columns=["model", "run", "folder", "command", "date", "git commit"],
                     rows=cmd_rows)
    lines = []
    for m in models:
        a, size = m["ablate"], m["size"]
        p = f"{size['params']:,} parameters" if size["params"] is not None else f"parameters unknown ({size['why']})"
        parts = [f"{m['label']} ({p}): baseline accuracy {a['baseline_accuracy']:.3f}, AUROC {a['baseline_auroc']:.3f} "
                 f"(n={a['n_test']})"]
        for pos in ("all", "commas", "full_stops"):
            if pos in a["default"]:
                parts.append(f"default protocol at {pos}: {_fmt(a['default'][pos]['direction'])} removed "
                             f"(random {_fmt(a['default'][pos]['random'])})")
            if a["tigges"] and a["tigges"]["n"] and pos in ("all", "commas"):
                parts.append(f"Tigges protocol at {pos}: {_fmt(a['tigges'][pos]['direction'])} "
                             f"(random {_fmt(a['tigges'][pos]['random'])})")
        if a["tigges"] and not a["tigges"]["n"]:
            parts.append("Tigges protocol: its filter kept no sentence")
        sm = m.get("summarize")
        if sm:
            at = [c for c in sm["cells"].values() if c["positions"] == "commas"]
            if at:
                parts.append(f"summarization table at commas (n={sm['n_test']}; Tigges subset n={sm['tigges_n']}): "
                             + ", ".join(f"{c['mode']} {_fmt(c['direction'])} (random {_fmt(c['random'])}; subset "
                                         f"{_subset(sm, c, 'tigges_direction')})" for c in at))
        lines.append("; ".join(parts) + ".")
    lines.append("Reference points (Tigges et al. 2023, theirs, not measured here): "
                 + "; ".join(f"{r['model']} {r['all']:.0%} at all positions, {r['commas']:.0%} at commas (n={r['n']:,})"
                             for r in TIGGES_REFERENCE) + ".")
    data = {"models": models, "tigges_reference": list(TIGGES_REFERENCE),
            "params_counted_from": "safetensors headers of the model folder (interp.models.zoo.resolve of the manifest's model)"}
    manifest = make_manifest(command=command, config={"runs": [str(f) for f in folders]},
                             extra={"inputs": [{"folder": str(p), "kind": k, "model": n}
                                               for n, runs in grouped.items() for k, (p, _) in runs.items()]})
    return Result(kind="scale_study", title="Scale study: the same measurements across models", summary="\n\n".join(lines),
                  tables=[*tables, commands],
                  figures=[figure(models), *neuron_figures(models), *([summary_figure(models)] if srows else [])], data=data, manifest=manifest)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("runs", nargs="+", type=Path, help="run folders of interp ablate (one per model), find, steer --eval")
    ap.add_argument("--out", type=Path, required=True, help="folder for result.json and report.html")
    ap.add_argument("--force", action="store_true", help="clear an --out folder that holds another run")
    a = ap.parse_args(argv)
    command = "python analyses/scale_study.py " + " ".join(argv if argv is not None else sys.argv[1:])
    from interp import report
    from interp.runs import RunFolderError

    try:
        res = build(a.runs, command=command)
        with RunFolder(a.out, identity={"command": "analyses/scale_study.py",
                                        "params": {"runs": [str(p) for p in a.runs]}},
                       command=command, force=a.force) as run:
            res.save(run.file("result.json"))
            report.write_report([res], run.file("report.html"), title=res.title)
            run.complete()
    except (ScaleStudyError, RunFolderError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    print(res.summary)
    print(f"wrote {a.out / 'result.json'} and {a.out / 'report.html'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
