"""Neuron vs direction: every finder at every site, compared four ways.

:func:`compare` fits each finder (:mod:`interp.finders`) at each site on each fitting data set,
then measures, per site:

(a) **held-out accuracy** on SST dev/test of each direction's projection, the best single unit's
    and the top-k units' probe (decision threshold fitted on SST dev, balanced; never on test),
    beside random directions;
(b) the **cosine similarity** between every pair of methods;
(c) the **neuron alignment** of each direction: the largest |cosine| with a basis vector (and
    which unit), the participation ratio ``(Σw²)²/Σw⁴`` (1 = one unit, ``(d+2)/3`` for a random
    direction) and the L1/L2 ratio (1 = one unit, about ``√(2d/π)`` for a random direction);
(d) the **causal effect** at the best site (chosen by the mean-difference direction's SST dev
    accuracy): for a model with answer tokens (a transformer) the share of SST zero-shot accuracy
    removed by mean-ablating each direction, the best unit, the top-k units, a bank of random
    directions and of random k-unit sets, and by the LEACE eraser fit on the same activations
    (``leace``; its control ``leace_random``: erasers fit on shuffled labels), at all positions
    and at commas (the
    :mod:`interp.experiments.ablate` machinery); for a model without (the byte mLSTM) the drop of an L2
    probe's accuracy when the same things are mean-ablated in the cell state ``hook_c`` across
    time and the probe re-reads the final state.

Fitting data (``data``; each result says which): ``toy`` (toy reviews over several templates,
read at the adjective; train and test adjectives kept apart, single tokens per tokenizer),
``sst_last`` (SST train sentences read at the last token) and ``sst_mean`` (averaged over the
real tokens after the first). Directions fit on ``sst_last`` are evaluated on the last-token
reads of SST dev/test, the others on the token-mean reads. Activations are gathered once per
data set for all sites in one pass and reduced batch by batch (no cache of every hook).
"""

from __future__ import annotations

import logging
import re
import time
import warnings
from dataclasses import asdict, dataclass, field, replace
from typing import Sequence

import numpy as np
import torch
from tqdm.auto import tqdm

from interp import data as datasets
from interp import metrics, positions as P
from interp.directions import Direction, random_directions
from interp.engine.sweep import Condition, LogitDiff, ProbeScore, run_sweep
from interp.finders import BestNeuron, make_finder
from interp.interventions import ActivationPatch, DirectionAblation, LeaceErasure
from interp.models.protocol import check_site
from interp.report.results import Result, Table, make_manifest
from interp.tasks import SSTZeroShot, batches, toy_dataset

log = logging.getLogger(__name__)

__all__ = ["CompareConfig", "compare", "gather_features", "alignment", "DATA_SOURCES", "METHODS"]

DATA_SOURCES = {
    "toy": "toy reviews over several templates, read at the adjective (train adjectives)",
    "sst_last": "SST train sentences, read at the last token",
    "sst_mean": "SST train sentences, averaged over the real tokens after the first",
}
#: every method, in display order; the neuron methods last
METHODS = ("mean_diff", "kmeans", "pca", "logreg_l2", "logreg_l1", "das", "leace", "best_neuron", "topk_l1",
           "topk_weight")
NEURON_METHODS = ("best_neuron", "topk_l1", "topk_weight")
SITE_KINDS = {"resid_post": "blocks.{L}.hook_resid_post", "mlp_post": "blocks.{L}.mlp.hook_post",
              "resid_pre": "blocks.{L}.hook_resid_pre", "resid_mid": "blocks.{L}.hook_resid_mid"}
RANDOM_WARN = 0.05
COLOURS = {"mean_diff": "#1f77b4", "kmeans": "#ff7f0e", "pca": "#2ca02c", "logreg_l2": "#d62728",
           "logreg_l1": "#9467bd", "das": "#8c564b", "leace": "#7f7f00", "best_neuron": "#e377c2", "topk_l1": "#17becf",
           "topk_weight": "#bcbd22", "random": "#999999"}


@dataclass
class CompareConfig:
    """What :func:`compare` does. ``layers``/``site_kinds`` build the transformer sites when no
    ``sites`` are given (the mLSTM: ``hook_c``, ``hook_h``)."""

    model: str = ""
    layers: list[int] | None = None
    site_kinds: list[str] = field(default_factory=lambda: ["resid_post"])
    data: list[str] = field(default_factory=lambda: ["sst_last", "sst_mean", "toy"])
    methods: list[str] = field(default_factory=lambda: list(METHODS))
    k: int = 10
    C_grid: list[float] = field(default_factory=lambda: [2.0 ** k for k in (-12, -10, -8, -6, -4, -2, 0)])
    train_limit: int | None = 1000
    dev_limit: int | None = None
    test_limit: int | None = None
    causal: bool = True
    limit: int | None = 300  # SST test sentences for the causal table
    causal_methods: list[str] | None = None  # directions ablated (None: every direction method fitted)
    positions: list[str] = field(default_factory=lambda: ["all", "commas"])
    mode: str = "mean"
    n_random: int = 8
    reference_n: int = 256
    prompt: str = "very"
    das_steps: int = 200
    das_lr: float = 0.01
    das_batch: int = 32
    das_objective: str = "capped"
    das_pairs: int | None = None
    batch_size: int = 32
    n_boot: int = 1000
    seed: int = 0

    def validate(self) -> "CompareConfig":
        bad = [d for d in self.data if d not in DATA_SOURCES]
        if bad or not self.data:
            raise ValueError(f"unknown data source(s) {bad or self.data!r}; choose from {', '.join(DATA_SOURCES)}")
        bad = [m for m in self.methods if m not in METHODS]
        if bad or not self.methods:
            raise ValueError(f"unknown method(s) {bad or self.methods!r}; choose from {', '.join(METHODS)}")
        bad = [k for k in self.site_kinds if k not in SITE_KINDS]
        if bad:
            raise ValueError(f"unknown site kind(s) {bad}; choose from {', '.join(SITE_KINDS)}")
        if self.das_objective not in ("capped", "logit_diff"):
            raise ValueError(f"das_objective must be 'capped' or 'logit_diff', not {self.das_objective!r}")
        if self.mode not in ("mean", "project"):
            raise ValueError(f"mode must be 'mean' or 'project', not {self.mode!r}")
        P.parse_list(self.positions)
        SSTZeroShot(prompt=self.prompt)
        if self.n_random < 1:
            raise ValueError("n_random must be at least 1: every number needs its random control")
        if self.k < 1:
            raise ValueError("k must be at least 1")
        bad = [m for m in (self.causal_methods or []) if m not in METHODS or m in NEURON_METHODS]
        if bad:
            allowed = ", ".join(m for m in METHODS if m not in NEURON_METHODS)
            raise ValueError(f"causal_methods must be direction methods ({allowed}); got {bad} "
                             "(the best unit and the top-k units are always ablated)")
        from interp.validate import check_count, check_sweep_sizes

        check_sweep_sizes(self)
        for name in ("das_steps", "das_batch"):
            check_count(f"--{name.replace('_', '-')}", getattr(self, name))
        return self


# ------------------------------------------------------------------------------------ features


def gather_features(model, texts: Sequence[str], sites: Sequence[str], *, at: Sequence[int] | None = None,
                    batch_size: int = 32, progress: bool | str = False) -> dict[str, dict[str, torch.Tensor]]:
    """Activations per text, for all ``sites`` in one pass, reduced batch by batch.

    Without ``at``: ``{"last": {site: (n, d)}, "mean": {site: (n, d)}}``: the last real token,
    and the mean over real tokens after the first (the first alone for a one-token text). With
    ``at`` (one token index per text): ``{"at": {site: (n, d)}}``. Texts run in length-sorted
    batches; rows come back in the order of ``texts``.
    """
    texts = list(texts)
    widths = {s: check_site(model, s) for s in sites}
    everything = model.tokenize(texts)
    n = len(texts)
    reads = ["at"] if at is not None else ["last", "mean"]
    out = {r: {s: torch.empty(n, widths[s]) for s in sites} for r in reads}
    at_t = torch.as_tensor(np.asarray(at), dtype=torch.long) if at is not None else None
    groups = batches(n, everything.lengths.tolist(), batch_size)
    for idx in tqdm(groups, desc=progress if isinstance(progress, str) else "activations", disable=not progress,
                    leave=False):
        b = everything.select(idx)
        _, acts = model.run(b, read=list(sites))
        rows, ids = torch.arange(len(b)), b.ids
        if at_t is None:
            m = b.mask.clone()
            m[:, 0] = b.lengths == 1
            m = m.unsqueeze(-1).float()
        for s in sites:
            a = acts[s].float().cpu()
            if at_t is not None:
                out["at"][s][ids] = a[rows, at_t[ids]]
            else:
                out["last"][s][ids] = a[rows, b.last]
                out["mean"][s][ids] = (a * m).sum(1) / m.sum(1)
        del acts
    return out


class _RawTexts:
    """A stand-in task for :func:`interp.experiments.ablate.reference_stats`: the texts as they are."""

    def __init__(self, batch_size: int):
        self.batch_size = batch_size

    def make_batches(self, model, texts):
        everything = model.tokenize(list(texts))
        return [everything.select(i) for i in batches(len(everything), everything.lengths.tolist(), self.batch_size)]


# ------------------------------------------------------------------------------------ measures


def alignment(w) -> dict:
    """Neuron alignment of a direction: ``max_abs_cos`` (largest |cosine| with a basis vector),
    ``unit`` (which), ``participation_ratio`` ``(Σw²)²/Σw⁴`` and ``l1_l2`` (``‖w‖₁/‖w‖₂``)."""
    w = np.asarray(w, dtype=np.float64)
    w = w / np.linalg.norm(w)
    a = np.abs(w)
    return {"max_abs_cos": float(a.max()), "unit": int(a.argmax()), "participation_ratio": float(1.0 / (a ** 4).sum()),
            "l1_l2": float(a.sum())}


def _held_out(vec: np.ndarray, Xdev, ydev, Xte, yte, choose_sign: bool = False) -> dict:
    pd, pt = Xdev @ vec, Xte @ vec
    sign = 1.0
    if choose_sign and metrics.auroc(pd, ydev) < 0.5:  # a random direction has no canonical sign
        sign, pd, pt = -1.0, -pd, -pt
    thr = metrics.fit_threshold(pd, ydev)
    return {"dev_acc": metrics.accuracy(pd, ydev, thr), "test_acc": metrics.accuracy(pt, yte, thr),
            "dev_balanced_acc": metrics.balanced_accuracy(pd, ydev, thr), "test_auroc": metrics.auroc(pt, yte),
            "threshold": float(thr), "sign": sign}


def _site_key(site: str) -> tuple[str, int | None]:
    m = re.fullmatch(r"blocks\.(\d+)\.(.+)", site)
    return (m.group(2), int(m.group(1))) if m else (site, None)


def _site_label(site: str) -> str:
    kind, L = _site_key(site)
    return site if L is None else f"L{L} {kind}"


def _default_sites(model, cfg: CompareConfig) -> list[str]:
    sites = model.sites()
    if "hook_c" in sites and "hook_h" in sites and not any(s.startswith("blocks.") for s in sites):
        return ["hook_c", "hook_h"]
    n_layers = int(getattr(model, "n_layers", 0))
    layers = list(range(n_layers)) if cfg.layers is None else list(cfg.layers)
    for L in layers:
        if not 0 <= L < n_layers:
            raise ValueError(f"layer {L} out of range: {model.name} has layers 0..{n_layers - 1}")
    return [SITE_KINDS[k].format(L=L) for k in cfg.site_kinds for L in layers]


def _sample(lt, n: int | None, seed: int, option: str = "--limit"):
    from interp.validate import check_limit

    n = check_limit(option, n, len(lt), lt.name)
    if n is None or n >= len(lt):
        return lt
    return lt.subset(np.sort(np.random.default_rng(seed).permutation(len(lt))[:n]))


# ------------------------------------------------------------------------------------ compare


def compare(model, sites: Sequence[str] | None = None, *, config: CompareConfig | None = None,
            progress: bool = True, command: str | None = None, engine: dict | None = None, **overrides) -> Result:
    """Fit every method at every site and compare them (see the module docstring).

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
    if train is not None:
        F["train"] = gather_features(model, train.texts, sites, progress="SST train" if progress else False, **kw)
    F["dev"] = gather_features(model, dev.texts, sites, progress="SST dev" if progress else False, **kw)
    F["test"] = gather_features(model, test.texts, sites, progress="SST test" if progress else False, **kw)
    toy = {}
    if "toy" in cfg.data:
        for part in ("train", "test"):
            toy[part] = toy_dataset(model, part)
            F[f"toy_{part}"] = gather_features(model, toy[part].texts, sites, at=toy[part].positions,
                                               progress=f"toy {part}" if progress else False, **kw)
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


# ------------------------------------------------------------------------------------ DAS


def _toy_pairs(model, part: str, n: int | None):
    from interp.pairs import toy_pairs

    pairs = toy_pairs(model, part=part, flip="adjective", same_length=False, n=n)
    clean, corrupt = pairs.tokenize(model)
    where = (clean.tokens != corrupt.tokens) & clean.mask.bool()
    return pairs, clean, corrupt, where


def _answers(model) -> tuple[str, str, tuple[int, int]]:
    pos, neg = " good", " bad"  # the toy template ends "This movie is": as interp.experiments.patch
    return pos, neg, (model.single_token(pos), model.single_token(neg))


def _fit_das(model, site: str, cfg: CompareConfig, progress: bool) -> dict:
    from interp.finders import fit_das_toy

    f, info = fit_das_toy(model, site, steps=cfg.das_steps, lr=cfg.das_lr, batch_size=cfg.das_batch,
                          objective=cfg.das_objective, seed=cfg.seed, n_pairs=cfg.das_pairs, progress=progress)
    return {"vector": f.direction_, "threshold": f.threshold_, **info, "denoising_init": f.denoising_init_,
            "denoising_train": f.denoising_, "denoising_train_capped": f.denoising_capped_, "loss": f.loss_}


def _interchange_all(model, site: str, vecs: dict[str, np.ndarray], cfg: CompareConfig) -> dict:
    """Denoising on held-out toy pairs (test adjectives) when only the projection on each direction
    is patched (clean → corrupted) at the adjective, and for the whole activation there."""
    from interp.metrics import denoising

    pairs, clean, corrupt, where = _toy_pairs(model, "test", None)
    _, _, (pos_id, neg_id) = _answers(model)
    c_logits, c_acts = model.run(clean, read=[site])
    k_logits, _ = model.run(corrupt)
    s_clean = (c_logits[:, pos_id] - c_logits[:, neg_id]).float().numpy()
    s_corrupt = (k_logits[:, pos_id] - k_logits[:, neg_id]).float().numpy()
    out = {"pairs": len(pairs), "source": pairs.source, "values": {}}
    todo = {**{m: torch.tensor(v, dtype=torch.float32) for m, v in vecs.items()}, "whole activation": None}
    n_rand = min(cfg.n_random, 4)
    out["n_random"] = n_rand
    R = random_directions(model.sites()[site], n_rand, seed=cfg.seed + 99)
    for j in range(n_rand):
        todo[f"random#{j}"] = R[j]
    sweep = [Condition(name, [ActivationPatch(site, c_acts[site], basis=basis, where=where)]) for name, basis in todo.items()]
    patched = run_sweep(model, corrupt, sweep, LogitDiff(pos_id, neg_id), batch_size=len(corrupt), progress=False).scores
    rnd = []
    for name in todo:
        val = denoising(s_clean, s_corrupt, patched[name])
        if name.startswith("random#"):
            rnd.append(val)
        else:
            out["values"][name] = val
    out["values"]["random"] = float(np.mean(rnd))
    return out


# ------------------------------------------------------------------------------------ causal


def _causal(model, site: str, vecs: dict[str, np.ndarray], extra: dict, cfg: CompareConfig, zero_shot: bool,
            progress: bool, train_for_probe, leace=None, engine: dict | None = None) -> dict:
    d = model.sites()[site]
    selectors = [P.get(p, allow_empty=True) for p in cfg.positions]
    rng = np.random.default_rng(cfg.seed)
    train_all = datasets.sst("train")
    ref_idx = rng.choice(len(train_all), size=min(cfg.reference_n, len(train_all)), replace=False)
    ref_texts = [train_all.texts[i] for i in ref_idx]
    task = SSTZeroShot(prompt=cfg.prompt, batch_size=cfg.batch_size) if zero_shot else _RawTexts(cfg.batch_size)
    from interp.tasks import reference_stats, tigges_subset

    ref_means, ref_counts, _ = reference_stats(model, task, ref_texts, [site], selectors, progress=progress)

    # what to ablate: each direction, the best unit, the top-k units; controls: random directions, random k units
    groups: dict[str, list[torch.Tensor]] = {}  # name -> list of (d,) or (n_random, d) tensors, one ablation each
    for m in METHODS:
        if m == "leace":  # not a direction ablation: the eraser, below
            continue
        if m in vecs and m not in NEURON_METHODS and (cfg.causal_methods is None or m in cfg.causal_methods):
            groups[m] = [torch.tensor(vecs[m], dtype=torch.float32)]
    if "best_neuron" in vecs:
        groups["best_unit"] = [torch.tensor(vecs["best_neuron"], dtype=torch.float32)]
    topk_from = next((m for m in ("topk_l1", "topk_weight") if m in extra and "units_" in extra[m]), None)
    units = list(extra[topk_from]["units_"]) if topk_from else []
    eye = torch.eye(d)
    if units:
        groups["topk_units"] = [eye[u] for u in units]
    groups["random"] = [random_directions(d, cfg.n_random, seed=cfg.seed * 100_003 + 11)]
    if units:
        g = torch.Generator().manual_seed(cfg.seed + 13)
        R = torch.stack([torch.randperm(d, generator=g)[: len(units)] for _ in range(cfg.n_random)])  # (n_random, k)
        groups["random_units"] = [eye[R[:, j]] for j in range(len(units))]

    conditions: dict[str, list] = {"baseline": []}
    meta: dict[str, dict] = {"baseline": {"what": "none", "positions": ""}}
    for sel in selectors:
        for what, vs in groups.items():
            ivs = [DirectionAblation(site, v, sel, mode=cfg.mode,
                                     reference_mean=ref_means[sel.name][site] if cfg.mode == "mean" else None,
                                     label=f"{what}@{site}") for v in vs]
            conditions[f"{sel.name}:{what}"] = ivs
            meta[f"{sel.name}:{what}"] = {"what": what, "positions": sel.name, "n_ablated": len(vs)}
        if leace is not None and (cfg.causal_methods is None or "leace" in cfg.causal_methods):
            # LEACE: the affine eraser fit on the same activations; with mode "mean" it keeps the mean at
            # this kind of position (the reference mean), else the fitting data's mean
            ref = ref_means[sel.name][site] if cfg.mode == "mean" else None
            for what, es in (("leace", leace[0]), ("leace_random", leace[1])):
                conditions[f"{sel.name}:{what}"] = [LeaceErasure.from_erasers(site, es, sel, reference_mean=ref,
                                                                              label=f"{what}@{site}")]
                meta[f"{sel.name}:{what}"] = {"what": what, "positions": sel.name, "n_ablated": 1}
    if leace is not None and (cfg.causal_methods is None or "leace" in cfg.causal_methods):
        groups["leace"], groups["leace_random"] = [], []  # listed in the table's order

    train, Ftr, dev, Fdev = train_for_probe  # the SST train/dev samples and their features
    test = datasets.sst("test")
    from interp.validate import check_limit

    check_limit("--limit", cfg.limit, len(test), test.name)
    if cfg.limit:
        test = test.subset(np.random.default_rng(cfg.seed + 2).permutation(len(test))[: cfg.limit])
    labels = np.asarray(test.labels)
    if zero_shot:
        dev_scores = task.evaluate(model, dev.texts, progress="dev baseline" if progress else False,
                                   **(engine or {}))["baseline"]
        threshold = metrics.fit_threshold(dev_scores, dev.labels)
        everything = model.tokenize(task.format(test.texts))
        reader = task.reader(model)
        behaviour = (f"SST zero-shot, prompt {task.template!r} -> {task.positive!r}/{task.negative!r}, "
                     "logit difference with the dev-fitted threshold")
        probe_info = None
    else:
        # the probe: L2 logistic regression on the final state at `site` (SST train, last token)
        from interp.finders import LogisticDirection

        probe = LogisticDirection("l2", C=list(cfg.C_grid), random_state=cfg.seed).fit(
            Ftr["last"][site].numpy(), np.asarray(train.labels))
        w = torch.tensor(probe.direction_, dtype=torch.float32)
        dev_scores = (Fdev["last"][site] @ w).numpy()
        threshold = metrics.fit_threshold(dev_scores, dev.labels)
        everything = model.tokenize(test.texts)
        reader = ProbeScore(site, w)
        behaviour = (f"L2 probe (C={probe.C_:g}) on the final {site} (SST train, {len(train)} sentences), "
                     "dev-fitted threshold; ablations in the state at every step they select")
        probe_info = {"C": probe.C_, "site": site, "n_train": len(train)}

    # A condition only runs on the sentences its selector touches: elsewhere the ablation is the
    # identity, so the score is the baseline's (commas: about half of SST).
    touched_rows = {sel.name: np.flatnonzero(sel.counts(everything).numpy() > 0) for sel in selectors}
    sweep = [Condition(name, ivs, rows=None if name == "baseline" else touched_rows[meta[name]["positions"]])
             for name, ivs in conditions.items()]
    scores = run_sweep(model, everything, sweep, reader, batch_size=cfg.batch_size,
                       progress="causal sweep" if progress else False, **(engine or {})).scores
    plan = {c.name: (np.arange(len(test)) if c.rows is None else c.rows) for c in sweep}
    commas = P.Commas(allow_empty=True)
    comma_counts = commas.counts(everything).numpy()
    correct = {k: (metrics.predictions(v, threshold) == labels).astype(int) for k, v in scores.items()}
    subset = tigges_subset(correct["baseline"], comma_counts > 0, labels, cfg.seed)
    rows: dict[str, dict] = {}
    warn = []
    for name, ivs in conditions.items():
        touched = sum(iv.touched for iv in ivs)
        if ivs and touched == 0 and meta[name]["positions"] != "commas":
            raise P.NoPositionsError(f"condition {name} touched no position on the test set")
        full = metrics.bootstrap_removed(correct["baseline"], correct[name], cfg.n_boot, cfg.seed)
        sub = (metrics.bootstrap_removed(correct["baseline"][subset], correct[name][subset], cfg.n_boot, cfg.seed)
               if len(subset) else (float("nan"),) * 3)
        e = {**meta[name], "accuracy": float(correct[name].mean()), "removed": full[0], "removed_ci": [full[1], full[2]],
             "tigges_accuracy": float(correct[name][subset].mean()) if len(subset) else float("nan"),
             "tigges_removed": sub[0], "tigges_removed_ci": [sub[1], sub[2]],
             "positions_touched": touched, "examples_touched": ivs[0].examples_touched if ivs else 0,
             "examples_run": int(len(plan[name])),
             "mean_score": float(np.mean(scores[name]))}
        if meta[name]["what"] in ("random", "random_units", "leace_random"):
            k = cfg.n_random
            e["accuracy_per_draw"] = [float(correct[name][np.arange(len(labels)) % k == j].mean()) for j in range(k)]
            if e["removed"] > RANDOM_WARN:
                msg = (f"random control {name}: share of above-chance accuracy removed "
                       f"{metrics.format_removed(e['removed'])}; the intervention "
                       "itself is destructive here, whatever the direction")
                warn.append(msg)
                warnings.warn(msg, stacklevel=3)
        rows[name] = e
    return {"site": site, "behaviour": behaviour, "threshold": float(threshold), "n_test": int(len(labels)),
            "tigges_n": int(len(subset)), "examples_with_comma": int((comma_counts > 0).sum()),
            "reference_n": len(ref_texts), "reference_positions": ref_counts, "units": units, "units_from": topk_from,
            "mode": cfg.mode, "positions": [s.name for s in selectors], "conditions": rows, "groups": list(groups),
            "probe": probe_info, "warnings": warn, "scores": {k: v.tolist() for k, v in scores.items()},
            "labels": labels.tolist()}


# ------------------------------------------------------------------------------------ result


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
