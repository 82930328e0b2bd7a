"""The ``interp probe-mlstm`` report: features, probes, baselines and the data-efficiency curve on
one model, as tables, figures, per-byte traces and a summary in one :class:`~interp.report.results.Result`."""

from __future__ import annotations

import hashlib
import time
from typing import Optional, Sequence, Union

import numpy as np
import torch

from interp.experiments.probe.baselines import bag_of_words, untrained_like
from interp.experiments.probe.comparison import checkpoint_meta
from interp.experiments.probe.features import FEATURE_NAMES, FEATURES, SITES, _check_which, extract_features
from interp.experiments.probe.splits import probe_splits
from interp.experiments.probe.trace import byte_trace
from interp.finders.probes import C_GRID_L1, C_GRID_L2, STANDARDISATION, data_efficiency, sentiment_probes
from interp.models.mlstm import MLSTM, preprocess
from interp.report.results import Result, Table, TokenTrace, file_sha256, make_manifest

def _model_hash(model: MLSTM) -> str:
    h = hashlib.sha256()
    for k, v in sorted(model.state_dict().items()):
        h.update(k.encode() + b"\0")
        h.update(v.detach().cpu().contiguous().numpy().tobytes())
    return h.hexdigest()


def _pick_trace_sentences(texts: Sequence[str], labels: np.ndarray, lo: int = 60, hi: int = 160) -> list[int]:
    """The first positive and the first negative test sentence of lo..hi characters (a fixed
    rule, not chosen by what the unit does); falls back to the first of each class."""
    picks = []
    for cls in (1, 0):
        rows = [i for i, y in enumerate(labels) if y == cls]
        if not rows:
            continue
        fit = [i for i in rows if lo <= len(texts[i]) <= hi]
        picks.append((fit or rows)[0])
    return picks


def _row(label: str, model: str, site: str, r: dict, kind: str) -> list:
    if kind == "best":
        b = r["best_unit"]
        return [f"best single unit ({b['unit']})", model, site, b["test_acc"], b["dev_acc"], 1, None]
    p = r[kind]
    return [label, model, site, p["test_acc"], p["dev_acc"], p["n_nonzero"], p["C"]]


def probe_report(
    model: MLSTM,
    *,
    model_name: str,
    features_from: Sequence[str] = ("c", "h"),
    limit: Optional[int] = None,
    seed: int = 0,
    progress: bool = True,
    untrained: bool = True,
    bow: bool = True,
    curve: bool = True,
    curve_sizes: Sequence[int] = (10, 20, 50, 100, 200, 500, 1000, 2000, 6920),
    curve_seeds: Sequence[int] = (0, 1, 2),
    curve_C: Union[str, float] = "dev",
    batch_size: int = 128,
    model_path: Optional[str] = None,
    command: Optional[str] = None,
    data: str = "sst",
) -> Result:
    """Radford et al.'s SST probes on ``model`` (and baselines) as one :class:`Result`.

    Reads SST train/dev/test (:func:`interp.data.sst`; ``limit``: N random sentences of each
    split, stratified, seeded), or with ``data="imdb"`` whole IMDB reviews (see
    :func:`probe_splits`: the in-domain check for a model trained on IMDB), extracts the final ``c``/``h`` (``features_from``) of the model
    and, with ``untrained``, of a randomly initialised copy (same config and seed); runs
    :func:`sentiment_probes` on each, the :func:`bag_of_words` baseline (``bow``) and the
    :func:`data_efficiency` curve of the trained model's L1 probe (``curve``). The Result has a
    probe table, a table of top units, the data-efficiency figure (log x), a histogram of
    per-unit dev accuracies (trained vs untrained), per-byte traces of the best unit on one
    positive and one negative test sentence, and everything in ``data``; ``data["timings"]``
    holds seconds per stage.
    """
    features_from = _check_which(features_from, FEATURES)
    t_start = time.perf_counter()
    timings: dict[str, float] = {}
    splits = probe_splits(data, limit, seed)
    ds = "SST" if data == "sst" else "IMDB"
    unit_of_text = "sentences" if data == "sst" else "reviews"
    ys = {s: np.asarray(lt.labels).astype(int) for s, lt in splits.items()}
    all_texts = [t for s in ("train", "dev", "test") for t in splits[s].texts]
    bounds = np.cumsum([0] + [len(splits[s]) for s in ("train", "dev", "test")])
    n_bytes = sum(len(preprocess(t, scheme=model.cfg.preprocess)) for t in all_texts)

    def feats(m: MLSTM, label: str) -> dict[str, dict[str, np.ndarray]]:
        t0 = time.perf_counter()
        F = extract_features(m, all_texts, batch_size=batch_size, which=features_from, progress=progress)
        timings[f"features_{label}"] = time.perf_counter() - t0
        return {w: {s: F[w][bounds[i] : bounds[i + 1]] for i, s in enumerate(("train", "dev", "test"))} for w in F}

    def probes(F, label: str) -> dict[str, dict]:
        t0 = time.perf_counter()
        r = {w: sentiment_probes(F[w]["train"], ys["train"], F[w]["dev"], ys["dev"], F[w]["test"], ys["test"],
                                 seed=seed) for w in features_from}
        timings[f"probes_{label}"] = time.perf_counter() - t0
        return r

    model = model.eval()
    F_tr = feats(model, "trained")
    P_tr = probes(F_tr, "trained")
    P_un = None
    if untrained:
        F_un = feats(untrained_like(model), "untrained")
        P_un = probes(F_un, "untrained")
        del F_un
    B = None
    if bow:
        t0 = time.perf_counter()
        B = bag_of_words(splits["train"].texts, ys["train"], splits["dev"].texts, ys["dev"],
                         splits["test"].texts, ys["test"])
        timings["bag_of_words"] = time.perf_counter() - t0
    curves = {}
    if curve:
        t0 = time.perf_counter()
        for w in features_from:
            curves[w] = data_efficiency(F_tr[w]["train"], ys["train"], F_tr[w]["test"], ys["test"], curve_sizes,
                                        curve_seeds, dev_X=F_tr[w]["dev"], dev_y=ys["dev"], C=curve_C,
                                        progress=progress)
        timings["data_efficiency"] = time.perf_counter() - t0

    # ---- tables
    rows = []
    for label, P in (("trained", P_tr), ("untrained", P_un)):
        if P is None:
            continue
        for w in features_from:
            rows.append(_row("L1 logistic regression", label, w, P[w], "l1"))
            rows.append(_row("L2 logistic regression", label, w, P[w], "l2"))
            rows.append(_row("", label, w, P[w], "best"))
    if B is not None:
        rows.append([f"bag of words ({B['vectorizer']}, {B['ngram_range'][0]}-{B['ngram_range'][1]}-grams)", "—",
                     "text", B["test_acc"], B["dev_acc"], B["n_features"], B["C"]])
    n_tr, n_dev, n_te = (len(splits[s]) for s in ("train", "dev", "test"))
    table = Table(
        title=f"{ds} sentiment probes on the mLSTM's state",
        columns=["probe", "model", "site", "test accuracy", "dev accuracy", "non-zero weights", "C"],
        rows=rows,
        caption=((f"SST binary sentences: {n_tr} train, {n_dev} dev, {n_te} test." if data == "sst" else
                  f"IMDB reviews, whole: {n_tr} train and {n_dev} dev (two disjoint balanced samples of IMDB train, "
                  f"whose text the language model read without labels), {n_te} test (IMDB test, never read).")
                 + f" Features: the state after "
                 f"'\\n ' + text + ' ' ({'NVIDIA' if model.cfg.preprocess == 'nvidia' else 'OpenAI'}'s preprocessing; h_mean: h averaged over those bytes), {STANDARDISATION}. L1: liblinear, C in 2^-8…2^0 "
                 f"chosen on dev accuracy, fitted on train. L2: liblinear, C in 2^-12…2^0 chosen on dev. Best single "
                 f"unit: the unit whose dev-fitted threshold (either sign) gives the best dev accuracy. Untrained: "
                 f"same architecture, random init from the config's seed. Bag of words: logistic regression, C "
                 f"chosen on dev. 'non-zero weights' of bag of words = vocabulary size."),
    )
    top_rows = []
    for w in features_from:
        r = P_tr[w]
        l1_top = {t["unit"]: t["weight"] for t in r["l1"]["top_units"]}
        for rank, t in enumerate(r["best_unit"]["top_units_by_dev_acc"][:5]):
            top_rows.append([w, "dev accuracy", rank + 1, t["unit"], t["dev_acc"], t["sign"], l1_top.get(t["unit"])])
        for rank, t in enumerate(r["l1"]["top_units"][:5]):
            top_rows.append([w, "|L1 weight|", rank + 1, t["unit"],
                             r["per_unit_dev_acc"][t["unit"]], None, t["weight"]])
    top_table = Table(
        title="Top units of the trained model",
        columns=["site", "ranked by", "rank", "unit", "unit dev accuracy", "sign", "L1 weight"],
        rows=top_rows,
        caption="Per-unit dev accuracy: best dev-fitted threshold, either sign. L1 weights on standardised features.",
    )

    # ---- figures
    figures = []
    if curves:
        traces = []
        for w, cv in curves.items():
            traces.append(dict(
                type="scatter", mode="lines+markers", name=f"trained mLSTM, {FEATURE_NAMES[w].lower()} (L1)", x=cv["sizes"],
                y=cv["mean"], error_y=dict(type="data", array=cv["std"], visible=True),
            ))
        xs = [min(c["sizes"][0] for c in curves.values()), max(c["sizes"][-1] for c in curves.values())]
        for w in features_from:
            traces.append(dict(type="scatter", mode="lines", name=f"L1, all {n_tr} ({w})", x=xs,
                               y=[P_tr[w]["l1"]["test_acc"]] * 2, line=dict(dash="dot")))
        if B is not None:
            traces.append(dict(type="scatter", mode="lines", name=f"bag of words, all {n_tr}", x=xs,
                               y=[B["test_acc"]] * 2, line=dict(dash="dash", color="grey")))
        cv0 = next(iter(curves.values()))
        figures.append(dict(data=traces, layout=dict(
            title=dict(text=f"{ds} test accuracy vs labelled training {unit_of_text}"),
            xaxis=dict(title=dict(text=f"labelled training {unit_of_text}"), type="log"),
            yaxis=dict(title=dict(text="test accuracy")),
            annotations=[dict(text=f"mean ± std over seeds {cv0['seeds']}; {cv0['C_rule']}", showarrow=False,
                              xref="paper", yref="paper", x=0, y=-0.3, xanchor="left", yanchor="top")],
            margin=dict(b=120),
        )))
    hist = []
    for label, P in (("trained", P_tr), ("untrained", P_un)):
        if P is None:
            continue
        for w in features_from:
            hist.append(dict(type="histogram", name=f"{label} {w}", x=P[w]["per_unit_dev_acc"], opacity=0.6,
                             xbins=dict(size=0.01)))
    figures.append(dict(data=hist, layout=dict(
        title=dict(text=f"Per-unit {ds} dev accuracy (best threshold, either sign)"), barmode="overlay",
        xaxis=dict(title=dict(text="dev accuracy of one unit")), yaxis=dict(title=dict(text="units")),
    )))

    # ---- traces of the best unit
    state_sites = [w for w in features_from if w in SITES]  # a per-byte trace needs a state, not an average
    best_site = max(features_from, key=lambda w: (P_tr[w]["best_unit"]["dev_acc"], w == "c"))
    trace_site = max(state_sites, key=lambda w: (P_tr[w]["best_unit"]["dev_acc"], w == "c")) if state_sites else None
    bu = P_tr[best_site]["best_unit"]
    tu = P_tr[trace_site]["best_unit"] if trace_site else None
    test = splits["test"]
    trace_objs, trace_data = [], []
    hi = 160 if data == "sst" else 600  # IMDB: a short review, so the trace stays readable
    for i in (_pick_trace_sentences(test.texts, ys["test"], hi=hi) if trace_site else []):
        chars, vals = byte_trace(model, test.texts[i], unit=tu["unit"], site=trace_site)
        centred = tu["sign"] * vals - tu["threshold"]  # > 0: this unit votes positive here
        final = float(tu["sign"] * F_tr[trace_site]["test"][i, tu["unit"]] - tu["threshold"])
        label = "positive" if ys["test"][i] == 1 else "negative"
        verdict = "right" if (final > 0) == (ys["test"][i] == 1) else "wrong"
        trace_objs.append(TokenTrace(
            title=f"Unit {tu['unit']} of {trace_site} on a {label} {ds} test {unit_of_text[:-1]}",
            tokens=chars, values=centred.tolist(),
            caption=(f"sign × value − threshold after every character (green: the unit votes positive, red: "
                     f"negative; sign {tu['sign']:+d}, threshold {tu['threshold']:.3g}). After the trailing space "
                     f"it reads {final:+.3g}: {verdict} for this {label} {unit_of_text[:-1]} (test row {i})."),
        ))
        trace_data.append({"test_row": i, "label": int(ys["test"][i]), "text": test.texts[i], "final": final})

    # ---- summary
    ckpt = checkpoint_meta(model_path)
    lines = [f"Radford et al.'s {ds} probes on {model_name} (d_hidden={model.cfg.d_hidden}"
             + (f", {ckpt['chars_seen']:,} training characters, held-out {ckpt['held_out_bpc']:.3f} bpc"
                if ckpt.get("chars_seen") is not None and ckpt.get("held_out_bpc") is not None else "") + ")."]
    for w in features_from:
        r = P_tr[w]
        lines.append(
            f"{FEATURE_NAMES[w]}: L1 probe {r['l1']['test_acc']:.1%} test ({r['l1']['n_nonzero']} units, C={r['l1']['C']:g}), "
            f"L2 probe {r['l2']['test_acc']:.1%}, best single unit {r['best_unit']['unit']} "
            f"{r['best_unit']['test_acc']:.1%} (dev {r['best_unit']['dev_acc']:.1%}), "
            + (f"{r['best_unit_share_of_l2']:.0%} of the L2 probe's above-chance accuracy."
               if r["best_unit_share_of_l2"] is not None else "L2 probe at chance.")
        )
    if P_un is not None:
        lines.append("Untrained model (same size, random init): " + "; ".join(
            f"{w}: L1 {P_un[w]['l1']['test_acc']:.1%}, L2 {P_un[w]['l2']['test_acc']:.1%}, best unit "
            f"{P_un[w]['best_unit']['test_acc']:.1%}" for w in features_from) + ".")
    if B is not None:
        lines.append(f"Bag of words: {B['test_acc']:.1%} test (dev {B['dev_acc']:.1%}).")
    for w, cv in curves.items():
        lines.append(f"Data efficiency ({w}, L1): " + ", ".join(
            f"{n}: {m:.1%}" for n, m in zip(cv["sizes"], cv["mean"])) + ".")
    timings["total"] = time.perf_counter() - t_start
    lines.append(f"{len(all_texts)} {unit_of_text}, {n_bytes:,} bytes; took {timings['total']:.0f} s on "
                 f"{torch.get_num_threads()} torch thread(s).")
    summary = "\n\n".join(lines)

    payload = {
        "model_name": model_name, "d_hidden": model.cfg.d_hidden, "config": model.cfg.to_dict(), "checkpoint": ckpt,
        "data": data,
        "sites": list(features_from), "n": {"train": n_tr, "dev": n_dev, "test": n_te}, "n_bytes": n_bytes,
        "limit": limit, "seed": seed, "standardisation": STANDARDISATION,
        "trained": P_tr, "untrained": P_un, "bag_of_words": B, "data_efficiency": curves,
        "best_unit": {"site": best_site, **{k: bu[k] for k in ("unit", "sign", "threshold", "dev_acc", "test_acc")}},
        "traces": trace_data, "timings": timings, "torch_threads": torch.get_num_threads(),
        "split_indices": {s: (None if lt.indices is None else lt.indices.tolist()) for s, lt in splits.items()},
    }
    model_hash = file_sha256(model_path) if model_path else _model_hash(model)
    manifest = make_manifest(
        command=command,
        config={"data": data, "features_from": list(features_from), "limit": limit, "seed": seed, "untrained": untrained,
                "bow": bow, "curve": curve, "curve_sizes": list(curve_sizes), "curve_seeds": list(curve_seeds),
                "curve_C": curve_C, "batch_size": batch_size, "C_grid_l1": list(C_GRID_L1),
                "C_grid_l2": list(C_GRID_L2), "model_config": model.cfg.to_dict()},
        seeds=sorted({int(seed), *(int(s) for s in curve_seeds)}),
        data_files=[p for s in ("train", "dev", "test") for p in splits[s].sources],
        model=model_name, model_hash=model_hash,
        extra={"model_hash_of": "file" if model_path else "state_dict tensors", "model_path": model_path,
               "timings": timings},
    )
    return Result(kind="probe", title=f"Sentiment probes: {model_name}" + ("" if data == "sst" else f" ({ds})"), summary=summary,
                  tables=[table, top_table], figures=figures, traces=trace_objs, data=payload, manifest=manifest)
