"""The result of :func:`interp.experiments.find.compare`: its tables, figures and summary."""

from __future__ import annotations

from dataclasses import asdict

import numpy as np

from interp import metrics
from interp.directions import random_directions
from interp.experiments.find.config import COLOURS, DATA_SOURCES, METHODS, NEURON_METHODS
from interp.experiments.find.measures import _site_key
from interp.report.results import Result, Table, make_manifest

def _pct_ci(e: dict, key: str) -> str:
    return metrics.format_removed(e[key], *e[key + "_ci"])


def _result(model, cfg, sites, best_site, ref_method, acc, extra, cosines, align, random_align, cross_source,
            interchange, causal, das_info, data_info, timing, directions, command, sources) -> Result:
    import plotly.graph_objects as go

    primary = cfg.data[0]
    tables, figs = [], []
    # data table
    rows = []
    for src in cfg.data:
        if src == "toy":
            n = data_info["toy"]["train"]["n"]
            what = (f"{DATA_SOURCES[src]}; {len(data_info['toy']['train']['templates'])} templates; held-out toy test: "
                    f"{data_info['toy']['test']['n']} prompts with other adjectives")
        else:
            n = data_info["sst_train"]["n"]
            what = DATA_SOURCES[src]
        rows.append([src + (" (primary)" if src == primary else ""), what, n, data_info["eval_read"][src]])
    tables.append(Table(
        title="Fitting data", columns=["data", "what", "n fit", "SST dev/test read"], rows=rows,
        caption=(f"Held-out: SST dev (n={data_info['sst_dev']['n']}; decision thresholds, best-unit choice, best-site "
                 f"choice) and SST test (n={data_info['sst_test']['n']}; reported). The primary data set's directions "
                 "are the ones compared causally.")))

    # (a) accuracy at the best site
    methods_here = [m for m in METHODS if m in acc[primary][best_site]]
    al = align[primary][best_site]
    rows = []
    for m in methods_here + ["random"]:
        r = acc[primary][best_site][m]
        a = al.get(m) if m != "random" else random_align[best_site]
        row = [m, r["dev_acc"], r["test_acc"], r["test_auroc"], r.get("train_acc"), r.get("toy_test_acc")]
        row += [a["max_abs_cos"], a.get("unit"), a["participation_ratio"], a["l1_l2"]] if a else [None] * 4
        row.append(interchange["values"].get(m if m != "random" else "random") if interchange else None)
        others = [acc[d][best_site][m]["test_acc"] if m in acc[d][best_site] else None for d in cfg.data[1:]]
        rows.append(row + others)
    tables.append(Table(
        title=f"At the best site ({best_site}): held-out accuracy, neuron alignment, interchange",
        columns=["method", "SST dev acc", "SST test acc", "test AUROC", "fit-data acc", "toy test acc",
                 "max |cos| with a unit", "unit", "participation ratio", "L1/L2", "toy interchange denoising",
                 *[f"test acc ({d})" for d in cfg.data[1:]]],
        rows=rows,
        caption=(f"Fit on {primary} ({DATA_SOURCES[primary]}); projection read at SST {data_info['eval_read'][primary]} "
                 f"token(s); threshold fitted on SST dev (balanced accuracy). Best site: highest SST dev accuracy of "
                 f"{ref_method}. best_neuron: ±e_k chosen by SST dev accuracy; topk_*: L2 probe restricted to {cfg.k} units "
                 f"(by the L1 path / by |weight|). random: mean of {cfg.n_random} random directions (sign chosen on dev). "
                 f"Participation ratio: 1 for one unit, (d+2)/3 ≈ {(model.sites()[best_site] + 2) / 3:.0f} for a random "
                 f"direction; L1/L2: 1 for one unit. A residual stream's basis is privileged only weakly (norm "
                 f"weights, outlier dimensions); the MLP neurons (blocks.L.mlp.hook_post) are the natural basis for "
                 f"the neuron question. Toy interchange: patching the projection clean→corrupted at the "
                 f"adjective on held-out toy pairs (0 = corrupted, 1 = clean)"
                 + (f"; {interchange['pairs']} pairs." if interchange else " (not run)."))))

    # per-site accuracy table
    all_methods = [m for m in METHODS if any(m in acc[primary][s] for s in sites)] + ["random"]
    tables.append(Table(
        title=f"SST test accuracy per site ({primary})", columns=["site", *all_methods],
        rows=[[s, *[acc[primary][s][m]["test_acc"] if m in acc[primary][s] else None for m in all_methods]] for s in sites],
        caption="Decision threshold fitted on SST dev for every cell; DAS is fit at the best site only."))

    # cosine table
    cm = cosines[primary][best_site]
    tables.append(Table(title=f"Cosine similarity between methods at {best_site} ({primary})",
                        columns=["", *cm["methods"]],
                        rows=[[m, *row] for m, row in zip(cm["methods"], cm["matrix"])],
                        caption="Canonical signs: every direction points to positive sentiment."))
    if cross_source:
        tables.append(Table(
            title=f"The same method fit on different data, at {best_site}: cosine",
            columns=["method", *[f"{a}·{b}" for i, a in enumerate(cfg.data) for b in cfg.data[i + 1:]]],
            rows=[[m, *[M[i][j] for i in range(len(cfg.data)) for j in range(i + 1, len(cfg.data))]]
                  for m, M in cross_source.items()]))

    # causal table
    if causal:
        crow = []
        for sel in causal["positions"]:
            rnd = causal["conditions"].get(f"{sel}:random")
            for what in causal["groups"]:
                e = causal["conditions"][f"{sel}:{what}"]
                crow.append([sel, what, e["n_ablated"], e["examples_touched"], e["accuracy"], _pct_ci(e, "removed"),
                             e["tigges_accuracy"], _pct_ci(e, "tigges_removed")])
        base = causal["conditions"]["baseline"]
        tables.append(Table(
            title=f"Causal: {cfg.mode}-ablating at {causal['site']}, share of above-chance accuracy removed",
            columns=["positions", "ablated", "directions/units", "examples touched", "accuracy", "% removed [95% CI]",
                     "Tigges: accuracy", "Tigges: % removed"],
            rows=crow,
            caption=(f"{causal['behaviour']}; n={causal['n_test']} test sentences, baseline accuracy {base['accuracy']:.3f}; "
                     f"Tigges protocol: {causal['tigges_n']} correct sentences with a comma, balanced. Mean ablation: the "
                     f"projection set to its mean over {causal['reference_n']} SST train texts at the same kind of position. "
                     f"topk_units: the {len(causal['units'])} units of {causal['units_from']} ablated together; random: "
                     f"{cfg.n_random} random directions (example i gets draw i mod {cfg.n_random}); random_units: "
                     f"{cfg.n_random} random sets of {len(causal['units'])} units."
                     + (f" leace: the LEACE eraser (concept-erasure) fit on the same {cfg.data[0]} activations, applied "
                        f"whole (an affine map, not one projection), keeping the "
                        f"{'mean at the same kind of position' if cfg.mode == 'mean' else 'fitting data mean'}; "
                        f"leace_random: {cfg.n_random} erasers fit on the same activations with shuffled labels."
                        if "leace" in causal["groups"] else "")
                     + f" Intervals: paired bootstrap, {cfg.n_boot} resamples.")))

    # figures: accuracy curves
    kinds = sorted({_site_key(s)[0] for s in sites}, key=lambda k: [_site_key(s)[0] for s in sites].index(k))
    layered = all(_site_key(s)[1] is not None for s in sites)
    for src in cfg.data:
        fig = go.Figure()
        for m in all_methods:
            for kind in kinds:
                ss = [s for s in sites if _site_key(s)[0] == kind and m in acc[src][s]]
                if not ss:
                    continue
                x = [_site_key(s)[1] for s in ss] if layered else ss
                fig.add_scatter(x=x, y=[acc[src][s][m]["test_acc"] for s in ss], mode="lines+markers",
                                name=m + (f" ({kind})" if len(kinds) > 1 else ""),
                                line=dict(color=COLOURS.get(m), dash="dot" if m == "random" else
                                          ("dash" if m in NEURON_METHODS else "solid")))
        fig.update_layout(title=f"SST test accuracy of each method's projection, fit on {src}, by site",
                          xaxis_title="layer" if layered else "site", yaxis_title="test accuracy (dev threshold)",
                          height=430)
        figs.append(fig.to_plotly_json())
    # cosine heatmap
    fig = go.Figure(go.Heatmap(z=cm["matrix"], x=cm["methods"], y=cm["methods"], colorscale="RdBu", zmid=0, zmin=-1,
                               zmax=1, text=[[f"{v:.2f}" for v in r] for r in cm["matrix"]], texttemplate="%{text}"))
    fig.update_layout(title=f"Cosine between methods at {best_site} ({primary})", height=480,
                      yaxis=dict(autorange="reversed"))
    figs.append(fig.to_plotly_json())
    # alignment across sites
    fig = go.Figure()
    for m in [m for m in METHODS if any(m in align[primary][s] for s in sites)] + ["random"]:
        for kind in kinds:
            ss = [s for s in sites if _site_key(s)[0] == kind and (m == "random" or m in align[primary][s])]
            if not ss:
                continue
            x = [_site_key(s)[1] for s in ss] if layered else ss
            y = [(random_align[s] if m == "random" else align[primary][s][m])["max_abs_cos"] for s in ss]
            fig.add_scatter(x=x, y=y, mode="lines+markers", name=m + (f" ({kind})" if len(kinds) > 1 else ""),
                            line=dict(color=COLOURS.get(m), dash="dot" if m == "random" else "solid"))
    fig.update_layout(title=f"Neuron alignment: largest |cosine| of each direction with a single unit ({primary})",
                      xaxis_title="layer" if layered else "site", yaxis_title="max |cos(w, e_k)|", height=430,
                      yaxis=dict(range=[0, 1.02]))
    figs.append(fig.to_plotly_json())
    # sorted |w| profile at the best site
    fig = go.Figure()
    top = min(64, model.sites()[best_site])
    for m in [m for m in METHODS if m in align[primary][best_site] and m not in NEURON_METHODS]:
        key = f"{primary}/{best_site}/{m}" if m != "das" else f"das/{best_site}/das"
        w = np.sort(np.abs(directions[key].vector.numpy()))[::-1][:top]
        fig.add_scatter(x=list(range(1, top + 1)), y=(w ** 2).tolist(), mode="lines", name=m,
                        line=dict(color=COLOURS.get(m)))
    r = random_directions(model.sites()[best_site], 1, seed=cfg.seed + 5)[0].numpy()
    fig.add_scatter(x=list(range(1, top + 1)), y=(np.sort(np.abs(r))[::-1][:top] ** 2).tolist(), mode="lines",
                    name="random", line=dict(color=COLOURS["random"], dash="dot"))
    fig.update_layout(title=f"Share of each direction's squared norm in its largest units, at {best_site}",
                      xaxis_title="unit rank", yaxis_title="w_k² (sorted)", yaxis_type="log", height=430)
    figs.append(fig.to_plotly_json())
    # causal bars
    if causal:
        fig = go.Figure()
        for sel in causal["positions"]:
            es = [causal["conditions"][f"{sel}:{w}"] for w in causal["groups"]]
            fig.add_bar(name=f"at {sel}", x=causal["groups"], y=[e["removed"] for e in es],
                        error_y=dict(type="data", array=[e["removed_ci"][1] - e["removed"] for e in es],
                                     arrayminus=[e["removed"] - e["removed_ci"][0] for e in es]))
        fig.update_layout(barmode="group", title=f"Share of above-chance accuracy removed by {cfg.mode}-ablation at "
                          f"{causal['site']}", yaxis_title="% removed", yaxis_tickformat=".0%", height=430)
        figs.append(fig.to_plotly_json())

    # summary
    lines = [f"{model.name}: {len(sites)} sites, fitting data {', '.join(cfg.data)} (primary: {primary}); best site "
             f"{best_site} (by SST dev accuracy of {ref_method})."]
    r = acc[primary][best_site]
    lines.append("SST test accuracy at the best site: " + ", ".join(
        f"{m} {r[m]['test_acc']:.3f}" for m in methods_here + ["random"]) + ".")
    if "mean_diff" in cm["methods"]:
        i = cm["methods"].index("mean_diff")
        lines.append("Cosine with mean_diff: " + ", ".join(
            f"{m} {cm['matrix'][i][j]:+.2f}" for j, m in enumerate(cm["methods"]) if m != "mean_diff") + ".")
    lines.append("Largest |cosine| with a single unit: " + ", ".join(
        f"{m} {al[m]['max_abs_cos']:.2f} (unit {al[m]['unit']})" for m in methods_here if m not in NEURON_METHODS)
        + f"; random directions {random_align[best_site]['max_abs_cos']:.2f}.")
    if causal:
        for sel in causal["positions"]:
            lines.append(f"{cfg.mode}-ablation at {sel} ({causal['site']}): " + ", ".join(
                f"{w} {metrics.format_removed(causal['conditions'][f'{sel}:{w}']['removed'])}"
                for w in causal["groups"]) + " removed.")
        if causal["warnings"]:
            lines.append("Warnings: " + " ".join(causal["warnings"]))
    if das_info and "skipped" in das_info:
        lines.append(f"DAS: {das_info['skipped']}.")
    elif das_info:
        lines.append(f"DAS at {best_site} ({das_info['objective']} objective): denoising on its "
                     f"{das_info['pairs']['n']} training pairs {das_info['denoising_init']:.2f} (random start) -> "
                     f"{das_info['denoising_train']:.2f} after {das_info['steps']} Adam steps"
                     + (f"; held-out toy pairs {interchange['values']['das']:.2f}" if interchange and 'das' in
                        interchange['values'] else "") + ".")
    summary = "\n\n".join(lines)

    data = {"config": asdict(cfg), "sites": sites, "best_site": best_site, "best_site_by": f"SST dev accuracy of {ref_method}",
            "data": data_info, "accuracy": acc, "fit_details": extra, "cosines": cosines, "cross_source_cosines": cross_source,
            "alignment": align, "alignment_random": random_align, "interchange": interchange, "das": das_info,
            "causal": causal, "timing": timing}
    manifest = make_manifest(command=command, config=asdict(cfg), seeds=[cfg.seed], data_files=list(dict.fromkeys(str(x) for x in sources)),
                             model=model.name, model_hash=getattr(model, "weights_hash", None))
    res = Result(kind="find", title=f"Neuron vs direction: {model.name}", summary=summary, tables=tables,
                 figures=figs, data=data, manifest=manifest)
    res.directions = directions
    return res
