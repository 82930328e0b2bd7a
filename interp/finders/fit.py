"""Finders by name (:data:`FINDERS`, :func:`make_finder`), and fitting a direction (or a LEACE
eraser) per site of a model on a named data set (:func:`fit_directions`): shared by the experiments
that take ``--directions NAME --fit-data DATA`` (interp ablate, interp patch)."""

from __future__ import annotations

from typing import Sequence

import numpy as np

from interp.directions import Direction, load_folder
from interp.finders.base import DirectionFinder
from interp.finders.das import fit_das_toy
from interp.finders.leace import Leace
from interp.finders.linear import KMeansDirection, LogisticDirection, MeanDiff, PCADirection
from interp.finders.units import BestNeuron, TopKNeurons

__all__ = ["FINDERS", "make_finder", "FIT_DATA", "FIT_METHODS", "check_fit_options", "fitting_data",
           "FittedDirections", "fit_directions"]


FINDERS = {
    "mean_diff": lambda **kw: MeanDiff(),
    "kmeans": lambda **kw: KMeansDirection(random_state=kw.get("seed", 0)),
    "pca": lambda **kw: PCADirection(),
    "logreg_l2": lambda **kw: LogisticDirection("l2", C=kw.get("C", 1.0), random_state=kw.get("seed", 0)),
    "logreg_l1": lambda **kw: LogisticDirection("l1", C=kw.get("C", 1.0), random_state=kw.get("seed", 0)),
    "best_neuron": lambda **kw: BestNeuron(),
    "leace": lambda **kw: Leace(),
    "topk_l1": lambda **kw: TopKNeurons(k=kw.get("k", 10), by="l1", random_state=kw.get("seed", 0)),
    "topk_weight": lambda **kw: TopKNeurons(k=kw.get("k", 10), by="weight", random_state=kw.get("seed", 0)),
}


def make_finder(name: str, **kw) -> DirectionFinder:
    """A finder by name (``mean_diff``, ``kmeans``, ``pca``, ``logreg_l2``, ``logreg_l1``,
    ``best_neuron``, ``leace``, ``topk_l1``, ``topk_weight``); ``kw``: ``seed``, ``C``, ``k``. DAS is built
    directly (it is fit on a model, not on (X, y))."""
    try:
        return FINDERS[name](**kw)
    except KeyError:
        raise ValueError(f"unknown finder {name!r}; choose from {', '.join([*FINDERS, 'das'])}") from None


#: fitting data sets :func:`fit_directions` knows
FIT_DATA = {
    "toy": "toy reviews (the ablation template), train adjectives, read at the adjective; scored on the test adjectives",
    "sst_last": "SST train sentences, read at the last token; scored on SST dev sentences",
}
#: the finders :func:`fit_directions` knows (DAS is fit on toy pairs by interchange interventions)
FIT_METHODS = ("mean_diff", "das", "logreg_l2", "leace", "best_neuron")


def check_fit_options(method: str, data: str) -> None:
    """ValueError naming a finder or fitting data set :func:`fit_directions` does not know."""
    if method not in FIT_METHODS:
        raise ValueError(f"unknown finder {method!r}; choose from {', '.join(FIT_METHODS)} (or give a folder of "
                         "saved directions)")
    if data not in FIT_DATA:
        raise ValueError(f"unknown fitting data {data!r}; choose from {', '.join(FIT_DATA)}")
    if method == "das" and data != "toy":
        raise ValueError("das is fit on toy clean/corrupted pairs (interchange interventions): use fitting data 'toy'")


def fitting_data(model, sites: Sequence[str], data: str = "toy", *, limit: int | None = 1000, seed: int = 0,
                 batch_size: int = 32, progress: bool = False) -> dict:
    """Activations to fit on, per site: ``{"X": {site: (n, d)}, "y", "X_test": {site: (m, d)},
    "y_test", "info"}`` for a data set of :data:`FIT_DATA` (``limit``: SST train sentences, a
    seeded sample; SST dev is the held-out part, all of it)."""
    from interp.tasks import TOY_TEMPLATE, ToyTemplates, gather_at

    if data not in FIT_DATA:
        raise ValueError(f"unknown fitting data {data!r}; choose from {', '.join(FIT_DATA)}")
    sites = list(sites)
    if data == "toy":
        toy = ToyTemplates()
        train, test = toy.prompts(model, "train"), toy.prompts(model, "test")
        X = gather_at(model, train.texts, train.positions, sites, batch_size=batch_size,
                      progress="toy directions (train)" if progress else False)
        Xt = gather_at(model, test.texts, test.positions, sites, batch_size=batch_size,
                       progress="toy directions (test)" if progress else False)
        info = {"data": data, "what": FIT_DATA[data], "read_at": "adjective", "template": TOY_TEMPLATE,
                "train_words": sorted(set(train.words)), "test_words": sorted(set(test.words)),
                "n_train": len(train.texts), "n_test": len(test.texts)}
        return {"X": X, "y": np.asarray(train.labels), "X_test": Xt, "y_test": np.asarray(test.labels), "info": info}
    from interp import data as datasets

    tr = datasets.sst("train")
    if limit is not None and limit < len(tr):
        tr = tr.subset(np.sort(np.random.default_rng(seed).permutation(len(tr))[:limit]))
    dev = datasets.sst("dev")

    def last_token(texts):
        lengths = model.tokenize(list(texts)).lengths
        return gather_at(model, list(texts), (lengths - 1).tolist(), sites, batch_size=batch_size)

    info = {"data": data, "what": FIT_DATA[data], "read_at": "last token", "n_train": len(tr), "n_test": len(dev),
            "limit": limit, "seed": seed}
    return {"X": last_token(tr.texts), "y": np.asarray(tr.labels), "X_test": last_token(dev.texts),
            "y_test": np.asarray(dev.labels), "info": info}


class FittedDirections:
    """What :func:`fit_directions` returns: ``directions`` (site -> :class:`~interp.directions.Direction`),
    ``erasers`` (site -> fitted :class:`Leace`, for ``leace``), ``random_erasers`` (site -> LEACE
    erasers fit on shuffled labels: the matched random control), ``info`` (JSON-able: data,
    method, per-site scores)."""

    def __init__(self, directions, erasers, random_erasers, info):
        self.directions, self.erasers, self.random_erasers, self.info = directions, erasers, random_erasers, info


def fit_directions(model, sites: Sequence[str], method: str = "mean_diff", data: str = "toy", *,
                   limit: int | None = 1000, seed: int = 0, n_random_erasers: int = 0, das_steps: int = 200,
                   das_lr: float = 0.01, das_batch: int = 32, das_objective: str = "capped",
                   das_pairs: int | None = None, batch_size: int = 32, progress: bool = True) -> FittedDirections:
    """One direction per site, by finder ``method`` (:data:`FIT_METHODS`) on fitting data ``data``
    (:data:`FIT_DATA`), each with its provenance and its accuracy on the fitting data and on the
    held-out part (``fit_train_acc``, ``fit_test_acc``; ``toy_*`` too for toy data). ``leace``
    also returns the fitted erasers (and ``n_random_erasers`` shuffled-label ones per site);
    ``das`` is fit per site on toy pairs (:func:`fit_das_toy`)."""
    check_fit_options(method, data)
    sites = list(sites)
    F = fitting_data(model, sites, data, limit=limit, seed=seed, batch_size=batch_size, progress=progress)
    y, yt = F["y"], F["y_test"]
    directions, erasers, random_erasers, per_site = {}, {}, {}, {}
    flags = {"read_at": F["info"]["read_at"], "fit_data": data, "bos": bool(getattr(model, "bos_token_id", None) is not None)}
    if data == "toy":
        flags["template"] = F["info"]["template"]
    data_text = f"{data}: {FIT_DATA[data]} ({F['info']['n_train']} fit, {F['info']['n_test']} held out)"
    iterator = sites
    if progress:
        from tqdm.auto import tqdm

        iterator = tqdm(sites, desc=f"fitting {method} on {data}", leave=False)
    for s in iterator:
        X, Xt = F["X"][s].numpy(), F["X_test"][s].numpy()
        extra: dict = {}
        if method == "das":
            f, das_info = fit_das_toy(model, s, steps=das_steps, lr=das_lr, batch_size=das_batch,
                                      objective=das_objective, seed=seed, n_pairs=das_pairs, progress=progress)
            extra = {"denoising_train": f.denoising_, "denoising_init": f.denoising_init_}
            f.n_features_in_ = X.shape[1]
            # re-centre the threshold on the fitting data, so that the held-out score means what it does elsewhere
            p = X @ f.direction_
            f.threshold_ = float((p[y == 1].mean() + p[y == 0].mean()) / 2)
            das_flags = {k: das_info[k] for k in ("steps", "lr", "batch", "objective", "answers")}
            das_flags["pairs"] = das_info["pairs"]["n"]
        else:
            f = make_finder(method, seed=seed).fit(X, y)
            das_flags = {}
        m = {"fit_train_acc": f.score(X, y), "fit_test_acc": f.score(Xt, yt), **extra}
        if data == "toy":
            m.update(toy_train_acc=m["fit_train_acc"], toy_test_acc=m["fit_test_acc"])
        d = f.to_direction(s, model=model.name, method=method, seed=seed,
                           data=data_text if method != "das" else "toy pairs (train adjectives, flip=adjective), "
                           "interchange interventions at the adjective",
                           flags={**flags, **das_flags}, metrics=m)
        directions[s] = d
        per_site[s] = m
        if method == "leace":
            erasers[s] = f
            if n_random_erasers:
                rng = np.random.default_rng(seed * 7919 + sites.index(s))
                random_erasers[s] = [Leace().fit(X, rng.permutation(y)) for _ in range(n_random_erasers)]
    info = {**F["info"], "method": method, "per_site": per_site}
    if method == "leace":
        info["leace_rank"] = {s: e.rank_ for s, e in erasers.items()}
        info["n_random_erasers"] = n_random_erasers
    return FittedDirections(directions, erasers, random_erasers, info)


def get_directions(model, sites: list[str], spec: str, cfg, *, n_random_erasers: int = 0,
                   progress: bool = True) -> FittedDirections:
    """The directions an experiment ablates, per site: fit by a named finder on ``cfg.fit_data``
    (with ``cfg``'s DAS settings), or loaded from a folder of saved directions (matched by site;
    ``cfg.direction_method`` picks one method). ``cfg``: any config with those fields
    (:class:`interp.experiments.options.AblationOptions` and its subclasses)."""
    from pathlib import Path

    if spec in FIT_METHODS:
        return fit_directions(model, sites, spec, cfg.fit_data, limit=cfg.fit_limit, seed=cfg.seed,
                              n_random_erasers=n_random_erasers, das_steps=cfg.das_steps, das_lr=cfg.das_lr,
                              das_batch=cfg.das_batch, das_pairs=cfg.das_pairs, progress=progress)
    widths = {s: model.sites()[s] for s in sites}
    dirs = load_folder(Path(spec), sites, widths=widths, model=model.name, method=cfg.direction_method)
    info = {"data": "saved", "folder": str(spec), "method": cfg.direction_method or "as saved",
            "per_site": {s: {"method": d.method, "data": d.data, **d.metrics} for s, d in dirs.items()}}
    return FittedDirections(dirs, {}, {}, info)


def fit_toy_directions(model, sites: list[str], *, progress: bool = True) -> tuple[dict[str, Direction], dict]:
    """Mean-difference direction per site from toy train prompts, scored on toy test prompts
    (:func:`interp.finders.fit_directions` with ``mean_diff`` on ``toy``)."""
    fitted = fit_directions(model, sites, "mean_diff", "toy", progress=progress)
    return fitted.directions, fitted.info
