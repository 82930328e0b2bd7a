"""The ``compare`` recipe (``interp find``): features, every finder at every site, DAS, the four
measurements, the result. What it measures: :mod:`interp.experiments.find`."""

from __future__ import annotations

import logging
import time
from dataclasses import replace
from typing import Sequence

import numpy as np
import torch
from tqdm.auto import tqdm

from interp import data as datasets
from interp import metrics
from interp.directions import Direction, random_directions
from interp.experiments.find.causal import _causal, _fit_das, _interchange_all
from interp.experiments.find.config import DATA_SOURCES, METHODS, CompareConfig
from interp.experiments.find.features import _sample, gather_features
from interp.experiments.find.measures import _default_sites, _held_out, alignment
from interp.experiments.find.result import _result
from interp.finders import BestNeuron, make_finder
from interp.models.protocol import check_site
from interp.report.results import Result
from interp.runs import saved_step
from interp.tasks import SSTZeroShot, toy_dataset

log = logging.getLogger("interp.experiments.find")


def compare(model, sites: Sequence[str] | None = None, *, config: CompareConfig | None = None,
            progress: bool = True, command: str | None = None, engine: dict | None = None, **overrides) -> Result:
    """Fit every method at every site and compare them (see :mod:`interp.experiments.find`).

    ``config`` fields may be overridden by keyword (``data=["toy"]``, ``methods=[...]``,
    ``limit=100``, ``seed=1``, ...). Returns a :class:`~interp.report.results.Result` of kind ``find``
    with the four measurements in ``data`` (``accuracy``, ``cosines``, ``alignment``,
    ``causal``), its tables and figures; ``result.directions`` maps
    ``"{data}/{site}/{method}"`` to every fitted :class:`~interp.directions.Direction` (not
    serialised in the JSON; the CLI saves them beside it). ``engine``: keywords for
    :func:`interp.engine.sweep.run_sweep` in the causal sweep (``run``, ``engine``, ``ray_address``, …).
    """
    cfg = replace(config or CompareConfig(), **overrides).validate()
    t0 = time.time()
    timing: dict[str, float] = {}
    sites = list(sites) if sites is not None else _default_sites(model, cfg)
    if not sites:
        raise ValueError("no sites to compare")
    widths = {s: check_site(model, s) for s in sites}
    zero_shot = hasattr(model, "single_token")  # answer tokens: SST zero-shot; otherwise a probe
    if zero_shot:
        SSTZeroShot(prompt=cfg.prompt).answer_ids(model)  # fail early
    rng_seed = cfg.seed
    primary = cfg.data[0]

    # ---- data: SST train subset, dev, test (raw sentences), toy train/test at the adjective
    t = time.time()
    need_sst_train = any(d.startswith("sst") for d in cfg.data) or not zero_shot
    train = _sample(datasets.sst("train"), cfg.train_limit, rng_seed, "--train-limit") if need_sst_train else None
    dev = _sample(datasets.sst("dev"), cfg.dev_limit, rng_seed + 1, "--dev-limit")
    test = _sample(datasets.sst("test"), cfg.test_limit, rng_seed + 2, "--test-limit")
    kw = dict(batch_size=cfg.batch_size)
    F: dict[str, dict] = {}
    # each feature set is a saved step of the run folder: a resumed run does not read them again
    if train is not None:
        F["train"] = saved_step(engine, "features_train", lambda: gather_features(
            model, train.texts, sites, progress="SST train" if progress else False, **kw))
    F["dev"] = saved_step(engine, "features_dev", lambda: gather_features(
        model, dev.texts, sites, progress="SST dev" if progress else False, **kw))
    F["test"] = saved_step(engine, "features_test", lambda: gather_features(
        model, test.texts, sites, progress="SST test" if progress else False, **kw))
    toy = {}
    if "toy" in cfg.data:
        for part in ("train", "test"):
            toy[part] = toy_dataset(model, part)
            F[f"toy_{part}"] = saved_step(engine, f"features_toy_{part}", lambda part=part: gather_features(
                model, toy[part].texts, sites, at=toy[part].positions,
                progress=f"toy {part}" if progress else False, **kw))
    timing["features_s"] = time.time() - t
    ydev, ytest = np.asarray(dev.labels), np.asarray(test.labels)
    data_info = {
        "sst_train": {"n": len(train), "limit": cfg.train_limit, "seed": rng_seed,
                      "indices": train.indices.tolist() if train.indices is not None else None} if train is not None else None,
        "sst_dev": {"n": len(dev), "limit": cfg.dev_limit}, "sst_test": {"n": len(test), "limit": cfg.test_limit},
        "toy": {p: {"n": len(ts), "templates": ts.info["templates"], "words": ts.info["words"],
                    "dropped": ts.info["dropped"]} for p, ts in toy.items()},
        "sources": {d: DATA_SOURCES[d] for d in cfg.data},
        "eval_read": {d: ("last" if d == "sst_last" else "mean") for d in cfg.data},
        "primary": primary,
    }

    def fit_data(src: str, site: str):
        if src == "toy":
            return F["toy_train"]["at"][site].numpy(), toy["train"].labels
        read = "last" if src == "sst_last" else "mean"
        return F["train"][read][site].numpy(), np.asarray(train.labels)

    def eval_data(src: str, site: str):
        read = "last" if src == "sst_last" else "mean"
        return F["dev"][read][site].numpy(), F["test"][read][site].numpy()

    # ---- (a) fit and score every method at every site
    t = time.time()
    fit_methods = [m for m in cfg.methods if m != "das"]
    vecs: dict[str, dict[str, dict[str, np.ndarray]]] = {d: {s: {} for s in sites} for d in cfg.data}
    acc: dict[str, dict[str, dict[str, dict]]] = {d: {s: {} for s in sites} for d in cfg.data}
    extra: dict[str, dict[str, dict[str, dict]]] = {d: {s: {} for s in sites} for d in cfg.data}
    directions: dict[str, Direction] = {}
    erasers: dict[str, dict[str, object]] = {d: {} for d in cfg.data}  # the fitted LEACE erasers, by data and site
    todo = [(d, s) for d in cfg.data for s in sites]
    for src, site in tqdm(todo, desc="fitting", disable=not progress, leave=False):
        Xtr, ytr = fit_data(src, site)
        Xdev, Xte = eval_data(src, site)
        for method in fit_methods:
            if method == "best_neuron":
                f = BestNeuron().fit(Xtr, ytr, X_dev=Xdev, y_dev=ydev)
            else:
                f = make_finder(method, seed=cfg.seed, C=list(cfg.C_grid), k=min(cfg.k, widths[site])).fit(Xtr, ytr)
            v = f.direction_
            vecs[src][site][method] = v
            if method == "leace":
                erasers[src][site] = f
            r = _held_out(v, Xdev, ydev, Xte, ytest)
            r["train_acc"] = f.score(Xtr, ytr)
            if src == "toy":
                r["toy_test_acc"] = f.score(F["toy_test"]["at"][site].numpy(), toy["test"].labels)
            acc[src][site][method] = r
            ex = {k: (getattr(f, k).tolist() if isinstance(getattr(f, k), np.ndarray) else getattr(f, k))
                  for k in ("unit_", "sign_", "units_", "C_", "n_nonzero_", "purity_", "explained_variance_ratio_")
                  if hasattr(f, k)}
            extra[src][site][method] = ex
            directions[f"{src}/{site}/{method}"] = f.to_direction(
                site, model=model.name, method=method, data=f"{src}: {DATA_SOURCES[src]}", seed=cfg.seed,
                flags={"eval_read": data_info["eval_read"][src], **{k.rstrip("_"): v for k, v in ex.items()}},
                metrics={k: r[k] for k in ("dev_acc", "test_acc", "test_auroc", "train_acc")})
        # random control: mean over n_random directions, sign and threshold on dev
        R = random_directions(widths[site], cfg.n_random, seed=cfg.seed * 100_003 + sites.index(site)).numpy().astype(np.float64)
        rs = [_held_out(r, Xdev, ydev, Xte, ytest, choose_sign=True) for r in R]
        acc[src][site]["random"] = {k: float(np.mean([x[k] for x in rs])) for k in ("dev_acc", "test_acc", "test_auroc")}
    timing["fit_s"] = time.time() - t

    # ---- the best site: by the SST dev accuracy of the first method (mean_diff by default)
    ref_method = "mean_diff" if "mean_diff" in fit_methods else (fit_methods[0] if fit_methods else None)
    if ref_method is None:
        best_site = sites[0]
    else:
        best_site = max(sites, key=lambda s: (acc[primary][s][ref_method]["dev_acc"], -sites.index(s)))

    # ---- DAS at the best site (toy pairs, interchange interventions)
    das_info = None
    if "das" in cfg.methods:
        if not zero_shot:
            das_info = {"skipped": "DAS needs answer tokens (a logit difference); this model has none"}
            log.info("%s: DAS skipped: %s", model.name, das_info["skipped"])
        else:
            t = time.time()
            das_info = _fit_das(model, best_site, cfg, progress)
            v = das_info.pop("vector")
            for src in cfg.data:
                Xdev, Xte = eval_data(src, best_site)
                Xtr, ytr = fit_data(src, best_site)
                r = _held_out(v, Xdev, ydev, Xte, ytest)
                r["train_acc"] = float(metrics.accuracy(Xtr @ v, ytr, das_info["threshold"]))
                acc[src][best_site]["das"] = r
                vecs[src][best_site]["das"] = v
                extra[src][best_site]["das"] = {k: das_info[k] for k in ("denoising_train", "denoising_init", "steps")}
            directions[f"das/{best_site}/das"] = Direction(
                torch.tensor(v, dtype=torch.float32), site=best_site, model=model.name, method="das",
                data=f"toy pairs ({das_info['pairs']['source']}), interchange interventions at the adjective",
                seed=cfg.seed, flags={k: das_info[k] for k in ("steps", "lr", "batch", "objective", "answers")},
                metrics={"denoising_train": das_info["denoising_train"]})
            timing["das_s"] = time.time() - t

    # ---- (b) cosines, (c) alignment
    cosines = {}
    align: dict[str, dict[str, dict[str, dict]]] = {d: {s: {} for s in sites} for d in cfg.data}
    random_align = {}
    for src in cfg.data:
        cosines[src] = {}
        for site in sites:
            names = [m for m in METHODS if m in vecs[src][site]]
            V = np.stack([vecs[src][site][m] for m in names])
            cosines[src][site] = {"methods": names, "matrix": (V @ V.T).tolist()}
            for m in names:
                align[src][site][m] = alignment(vecs[src][site][m])
    for site in sites:
        R = random_directions(widths[site], max(cfg.n_random, 32), seed=cfg.seed * 100_003 + 7 + sites.index(site))
        al = [alignment(r) for r in R.numpy()]
        random_align[site] = {k: float(np.mean([a[k] for a in al])) for k in ("max_abs_cos", "participation_ratio", "l1_l2")}
    cross_source = None
    if len(cfg.data) > 1:
        cross_source = {}
        for m in [m for m in METHODS if all(m in vecs[d][best_site] for d in cfg.data)]:
            V = np.stack([vecs[d][best_site][m] for d in cfg.data])
            cross_source[m] = (V @ V.T).tolist()

    # ---- toy interchange (held-out adjectives) for every method at the best site
    interchange = None
    if zero_shot and cfg.causal:
        t = time.time()
        interchange = _interchange_all(model, best_site, {m: vecs[primary][best_site][m] for m in vecs[primary][best_site]}, cfg)
        timing["interchange_s"] = time.time() - t

    # ---- (d) causal
    causal = None
    if cfg.causal:
        t = time.time()
        site_c = best_site
        if not zero_shot and "hook_c" in sites:
            site_c = "hook_c"
        leace_fit = None
        if site_c in erasers[primary]:  # the eraser, and its control fit on the same activations, labels shuffled
            Xtr, ytr = fit_data(primary, site_c)
            g = np.random.default_rng(cfg.seed + 29)
            from interp.finders import Leace

            leace_fit = (erasers[primary][site_c], [Leace().fit(Xtr, g.permutation(ytr)) for _ in range(cfg.n_random)])
        causal = _causal(model, site_c, vecs[primary][site_c], extra[primary][site_c], cfg, zero_shot,
                         progress, train_for_probe=(train, F.get("train"), dev, F["dev"]), leace=leace_fit,
                         engine=engine)
        timing["causal_s"] = time.time() - t
    timing["total_s"] = time.time() - t0

    return _result(model, cfg, sites, best_site, ref_method, acc, extra, cosines, align, random_align, cross_source,
                   interchange, causal, das_info, data_info, timing, directions, command,
                   sources=[*(train.sources if train is not None else ()), *dev.sources, *test.sources])
