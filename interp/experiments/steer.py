"""Steering a transformer while it writes: add a direction, or hold a neuron, and count the result.

Activation addition (as steering-vectors and repeng do it): at one site, every position after
the first token, prompt and generated tokens alike, gets ``α · r · u`` added, where ``u`` is a
unit direction and ``r`` the site's typical norm (the mean residual norm over real tokens of
SST train prompts, the first token left out: small models carry massive norms there, SmolLM2
about 25,000 against about 200 elsewhere). ``α`` is therefore in units of the typical norm:
``α = 1`` adds a vector as long as a typical residual vector. A neuron hold sets coordinate
``k`` to a value at the same positions.

:func:`run_steer_eval` counts the dial, like ``analyses/mlstm_steer_eval.py`` does for the
mLSTM: ``n_samples`` continuations of a neutral prompt per α, each judged P(positive) by a
tf-idf classifier fitted on IMDB (:mod:`interp.judge`); a dose-response curve over α for the
direction, for the site's best neuron (``±e_k``, the same additive dial, so the two compare at
equal intervention norm), and for seeded random directions (the control); the slope
(P(positive) per unit α) with a paired bootstrap interval; and the fluency cost, the unsteered
model's mean loss per token on the generated text.
"""

from __future__ import annotations

import math
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Sequence

import numpy as np
import torch

from interp import positions as P
from interp.directions import Direction, random_directions
from interp.models.generate import Generation, generate, mean_token_loss
from interp.interventions import _Counting
from interp.models.protocol import Batch, check_site
from interp.positions import Positions

__all__ = ["AddVector", "HoldUnit", "typical_norm", "resolve_direction", "direction_and_site", "toy_best_neuron",
           "steer_site", "steer_samples",
           "parse_alphas", "SteerEvalConfig", "run_steer_eval", "NEUTRAL_PROMPT", "DEFAULT_ALPHAS"]

NEUTRAL_PROMPT = "I thought this movie was"
#: the default α grid, in units of the site's typical norm. On SmolLM2-135M at layer 15, ±0.5 still
#: gives sentences while ±1 already gives broken text (repeated tokens, markup).
DEFAULT_ALPHAS = (-0.5, -0.25, 0.0, 0.25, 0.5)


def _skip_first() -> Positions:
    return P.AllTokens(skip_first=True, allow_empty=True)


@dataclass
class AddVector(_Counting):
    """Activation addition: ``act + vector`` at ``positions`` (default every real token but the first).

    Usable with ``Model.run`` (``bind``) and, as ``fn(act, where, None)``, with
    :func:`interp.models.generate.generate`. Entries outside ``where`` come back bit-identical.
    """

    site: str
    vector: torch.Tensor
    positions: Positions = field(default_factory=_skip_first)
    label: str = ""

    def __post_init__(self) -> None:
        v = torch.as_tensor(self.vector, dtype=torch.float32)
        if v.ndim != 1 or not torch.isfinite(v).all():
            raise ValueError(f"AddVector at {self.site}: the vector must be finite and 1-D, got shape {tuple(v.shape)}")
        self.vector = v

    @property
    def width(self) -> int:
        return self.vector.shape[0]

    def __call__(self, act: torch.Tensor, where: torch.Tensor, batch: Batch | None) -> torch.Tensor:
        if act.shape[-1] != self.width:
            raise ValueError(f"AddVector at {self.site}: vector width {self.width}, activation width {act.shape[-1]}")
        self.touched += int(where.sum())
        v = self.vector.to(device=act.device, dtype=act.dtype)
        return torch.where(where.unsqueeze(-1), act + v, act)


@dataclass
class HoldUnit(_Counting):
    """Hold coordinate ``unit`` of the site at ``value`` at ``positions`` (default every real token
    but the first)."""

    site: str
    unit: int
    value: float
    width: int
    positions: Positions = field(default_factory=_skip_first)

    def __post_init__(self) -> None:
        if isinstance(self.unit, bool) or not isinstance(self.unit, (int, np.integer)):
            raise ValueError(f"neuron must be an int, got {self.unit!r}")
        if not 0 <= int(self.unit) < self.width:
            raise ValueError(f"neuron {int(self.unit)} out of range: {self.site} has {self.width} units "
                             f"(0..{self.width - 1})")
        self.unit = int(self.unit)
        try:
            self.value = float(self.value)
        except (TypeError, ValueError):
            raise ValueError(f"value must be a number, got {self.value!r}") from None
        if not math.isfinite(self.value):
            raise ValueError(f"value must be finite, got {self.value}")

    def __call__(self, act: torch.Tensor, where: torch.Tensor, batch: Batch | None) -> torch.Tensor:
        self.touched += int(where.sum())
        out = act.clone()
        col = out[..., self.unit]
        out[..., self.unit] = torch.where(where, torch.full_like(col, self.value), col)
        return out


def parse_alphas(spec: str | Sequence[float]) -> list[float]:
    """``"-1,0,1"`` (or a list) -> finite floats; ValueError naming the bad entry."""
    items = [s.strip() for s in spec.split(",") if s.strip()] if isinstance(spec, str) else list(spec)
    if not items:
        raise ValueError("no alpha given: pass numbers such as -1,0,1")
    out = []
    for s in items:
        try:
            a = float(s)
        except (TypeError, ValueError):
            raise ValueError(f"alpha {s!r} is not a number") from None
        if not math.isfinite(a):
            raise ValueError(f"alpha {s!r} is not finite")
        out.append(a)
    return out


def steer_site(model, layer: int | None, kind: str = "resid_post") -> str:
    """``blocks.{layer}.hook_{kind}`` (default the middle layer), checked against the model."""
    n = model.n_layers
    if layer is None:
        layer = n // 2
    if isinstance(layer, bool) or not isinstance(layer, (int, np.integer)) or not 0 <= int(layer) < n:
        raise ValueError(f"layer {layer!r} out of range: {model.name} has layers 0..{n - 1}")
    site = f"blocks.{int(layer)}.hook_{kind}"
    check_site(model, site)
    return site


def typical_norm(model, site: str, texts: Sequence[str], *, progress: bool = False) -> tuple[float, float]:
    """(mean norm at the first token, mean norm at every other real token) at ``site`` over
    ``texts`` in the SST ``very`` prompt (:func:`interp.experiments.ablate.reference_stats`)."""
    from interp.tasks import reference_stats
    from interp.tasks import SSTZeroShot

    _, _, norms = reference_stats(model, SSTZeroShot(), list(texts), [site], [_skip_first()], progress=progress)
    return norms[site]


def _toy_activations(model, site: str):
    from interp.tasks import ToyTemplates, gather_at

    toy = ToyTemplates()
    tr, te = toy.prompts(model, "train"), toy.prompts(model, "test")
    Xtr = gather_at(model, tr.texts, tr.positions, [site])[site]
    Xte = gather_at(model, te.texts, te.positions, [site])[site]
    return Xtr, tr.labels, Xte, te.labels, len(tr.texts)


def _toy_finder_direction(model, site: str, name: str) -> Direction:
    """Any (X, y) finder fitted on the toy train prompts at ``site``, read at the adjective."""
    from interp.finders import make_finder
    from interp.tasks import TOY_TEMPLATE

    Xtr, ytr, Xte, yte, n = _toy_activations(model, site)
    f = make_finder(name).fit(Xtr, ytr)
    return f.to_direction(site, model=model.name, data=f"toy templates, train adjectives ({n} prompts)",
                          flags={"read_at": "adjective", "template": TOY_TEMPLATE},
                          metrics={"toy_train_acc": f.score(Xtr, ytr), "toy_test_acc": f.score(Xte, yte)})


def toy_best_neuron(model, site: str) -> Direction:
    """The unit at ``site`` whose toy-data value best separates the classes
    (:class:`interp.finders.BestNeuron`), as ``±e_k`` with its canonical sign."""
    return _toy_finder_direction(model, site, "best_neuron")


def resolve_direction(model, spec: str | Path | Direction, site: str | None) -> Direction:
    """A direction from a finder name fitted on the toy data (``mean_diff``: the toy direction
    of :func:`interp.finders.fit.fit_toy_directions`; ``best_neuron``, ``logreg_l2``, ...), a saved
    direction file (:meth:`Direction.load`), or a :class:`Direction`. ``site=None`` takes a
    file's own site. Raises ValueError / FileNotFoundError in one line."""
    from interp.finders import FINDERS

    if isinstance(spec, Direction):
        d = spec
    elif isinstance(spec, str) and spec in FINDERS:
        if site is None:
            raise ValueError("a finder name needs a site (a layer)")
        if spec == "mean_diff":
            from interp.finders.fit import fit_toy_directions

            return fit_toy_directions(model, [site], progress=False)[0][site]
        return _toy_finder_direction(model, site, spec)
    elif isinstance(spec, str) and spec == "das":
        raise ValueError("das is fitted on interchange interventions, not on (X, y): run `interp find` and pass "
                         "its saved das direction file")
    else:
        path = Path(spec)
        if not (path.exists() or Path(str(path) + ".safetensors").exists()):
            raise FileNotFoundError(f"direction {str(spec)!r} is neither a finder ({', '.join(FINDERS)}) nor a saved "
                                    "direction file (.safetensors beside its .json)")
        try:
            d = Direction.load(path)
        except FileNotFoundError:
            raise
        except Exception as e:  # a damaged file: safetensors, JSON or field errors
            raise ValueError(f"cannot read direction file {path}: {type(e).__name__}: {e}".splitlines()[0]) from None
    target = site or d.site
    width = check_site(model, target)
    d.check_width(width, target)
    if site is not None and d.site and d.site != site:
        raise ValueError(f"the direction was fitted at {d.site}, not at {site}: choose the layer it belongs to")
    return d


def direction_and_site(model, spec, layer: int | None) -> tuple[Direction, str]:
    """The direction and the site it steers: ``blocks.{layer}.hook_resid_post`` (default the middle
    layer), or, for a saved direction file with ``layer=None``, the file's own site."""
    from interp.finders import FINDERS

    if layer is None and not (isinstance(spec, str) and spec in FINDERS):
        d = resolve_direction(model, spec, None)
        return d, d.site
    site = steer_site(model, layer)
    return resolve_direction(model, spec, site), site


def steer_samples(model, *, direction="mean_diff", layer: int | None = None, alphas: Sequence[float] = (-0.5, 0, 0.5),
                  neuron: int | None = None, value: float | None = None, prompt: str = NEUTRAL_PROMPT,
                  n_samples: int = 2, max_new_tokens: int = 40, temperature: float = 1.0, seed: int = 0,
                  norm_n: int = 64) -> tuple[str, list[tuple[str, Generation]]]:
    """Samples for ``interp steer --model``: per α, ``n_samples`` continuations with ``α · norm · u``
    added (``u`` from :func:`direction_and_site`); or, with ``neuron`` and ``value``, with that unit
    held. The same seeds at every α. Returns (site, [(label, Generation)])."""
    from interp import data as datasets

    if (neuron is None) != (value is None):
        raise ValueError("--neuron and --value go together: hold neuron K at value V")
    if neuron is not None:
        site = steer_site(model, layer)
        iv = HoldUnit(site, neuron, value, width=model.sites()[site])
        g = generate(model, [prompt] * n_samples, max_new_tokens=max_new_tokens, temperature=temperature, seed=seed,
                     interventions=[(site, iv)])
        return site, [(f"neuron {neuron} of {site} held at {float(value):g}", g)]
    alphas = parse_alphas(alphas)
    d, site = direction_and_site(model, direction, layer)
    train = datasets.sst("train")
    idx = np.random.default_rng(seed).choice(len(train), size=min(norm_n, len(train)), replace=False)
    _, norm = typical_norm(model, site, [train.texts[i] for i in idx])
    out = []
    for a in alphas:
        ivs = [(site, AddVector(site, a * norm * d.vector))] if a != 0 else []
        g = generate(model, [prompt] * n_samples, max_new_tokens=max_new_tokens, temperature=temperature, seed=seed,
                     interventions=ivs)
        out.append((f"alpha {a:+g} x typical norm {norm:.1f} along the {d.method or 'given'} direction at {site}", g))
    return site, out


# --------------------------------------------------------------------------------------------
# the counted evaluation


@dataclass
class SteerEvalConfig:
    """What :func:`run_steer_eval` does; :meth:`validate` checks it before any model work."""

    layer: int | None = None  # None: the middle layer
    direction: str = "mean_diff"  # a finder name (fitted on the toy data) or a saved direction file
    alphas: list[float] = field(default_factory=lambda: list(DEFAULT_ALPHAS))
    n_samples: int = 32
    max_new_tokens: int = 40
    temperature: float = 1.0
    prompt: str = NEUTRAL_PROMPT
    n_random: int = 3
    neuron: bool = True  # the best neuron's dial beside the direction's
    norm_n: int = 64  # SST train sentences for the typical norm
    judge_train: int = 25000
    judge_test: int = 5000
    batch_size: int = 32
    n_boot: int = 2000
    seed: int = 0

    def validate(self) -> "SteerEvalConfig":
        self.alphas = parse_alphas(self.alphas)
        if 0.0 not in self.alphas:
            raise ValueError("the alpha grid must hold 0 (the unsteered baseline every dial is read against)")
        if len(set(self.alphas)) < 2:
            raise ValueError("the alpha grid needs at least two distinct values for a slope")
        for name, lo in (("n_samples", 2), ("max_new_tokens", 1), ("n_random", 1), ("norm_n", 1),
                         ("batch_size", 1), ("n_boot", 10), ("judge_train", 2), ("judge_test", 2)):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < lo:
                raise ValueError(f"{name} must be an int >= {lo}, got {v!r}"
                                 + (": every number needs its random control" if name == "n_random" else ""))
        if not (isinstance(self.temperature, (int, float)) and math.isfinite(self.temperature) and self.temperature >= 0):
            raise ValueError(f"temperature must be a finite number >= 0, got {self.temperature!r}")
        if not isinstance(self.prompt, str) or not self.prompt.strip():
            raise ValueError("prompt must be a non-empty text")
        return self


def _slope(alphas: np.ndarray, P_: np.ndarray) -> float:
    """Least-squares slope of P (n_alpha, n) on alpha, every sample at every alpha."""
    a = np.repeat(alphas, P_.shape[1])
    y = P_.reshape(-1)
    a = a - a.mean()
    return float((a * (y - y.mean())).sum() / (a * a).sum())


def _slope_ci(alphas: np.ndarray, P_: np.ndarray, n_boot: int, seed: int) -> tuple[float, float, float]:
    """Slope with a paired bootstrap interval: resample sample indices (a sample keeps its seed,
    hence its random numbers, at every alpha). ``P_`` may be (k, n_alpha, n): k pooled dials."""
    P3 = P_[None] if P_.ndim == 2 else P_
    k, na, n = P3.shape
    flat = lambda X: np.concatenate([X[j] for j in range(k)], axis=1)  # noqa: E731  (n_alpha, k*n)
    point = _slope(alphas, flat(P3))
    rng = np.random.default_rng(seed)
    boots = np.array([_slope(alphas, flat(P3[:, :, rng.integers(0, n, n)])) for _ in range(n_boot)])
    lo, hi = np.quantile(boots, [0.025, 0.975])
    return point, float(lo), float(hi)


def run_steer_eval(model, config: SteerEvalConfig | None = None, *, progress: bool = True,
                   command: str | None = None, judge=None):
    """The counted dial: direction vs best neuron vs random directions, judged by the IMDB judge.

    ``judge``: an already fitted ``(pipeline, imdb_test_accuracy)`` to reuse (default: fit one with
    :func:`interp.judge.fit_judge`). Returns an :class:`interp.report.results.Result` (kind ``steer``).
    """
    from tqdm.auto import tqdm

    from interp import data as datasets
    from interp.judge import fit_judge, judge_sources
    from interp.metrics import bootstrap_mean
    from interp.report.results import Result, Table, make_manifest

    cfg = (config or SteerEvalConfig()).validate()
    t0 = time.time()
    direction, site = direction_and_site(model, cfg.direction, cfg.layer)
    width = model.sites()[site]
    train = datasets.sst("train")
    rng = np.random.default_rng(cfg.seed)
    norm_texts = [train.texts[i] for i in rng.choice(len(train), size=min(cfg.norm_n, len(train)), replace=False)]
    norm_first, norm = typical_norm(model, site, norm_texts)
    targets: list[tuple[str, str, torch.Tensor, dict]] = [
        ("direction", f"{direction.method or 'direction'} direction", direction.vector, direction.meta())]
    if cfg.neuron:
        bn = toy_best_neuron(model, site)
        k = int(bn.flags["unit"])
        targets.append(("neuron", f"best neuron {k} ({'+' if bn.vector[k] > 0 else '-'}e_{k})", bn.vector, bn.meta()))
    for j, v in enumerate(random_directions(width, cfg.n_random, seed=cfg.seed * 100_003 + 17)):
        targets.append(("random", f"random direction {j}", v, {"seed": cfg.seed * 100_003 + 17, "row": j}))
    judge, judge_acc = judge if judge is not None else fit_judge(cfg.judge_train, cfg.judge_test, cfg.seed)

    prompts = [cfg.prompt] * cfg.n_samples
    alphas = np.asarray(sorted(set(cfg.alphas)), dtype=float)
    gen_kw = dict(max_new_tokens=cfg.max_new_tokens, temperature=cfg.temperature, seed=cfg.seed,
                  batch_size=cfg.batch_size)
    runs: dict[tuple[str, float], Generation] = {}
    jobs = [(name, a) for _, name, _, _ in targets for a in alphas if a != 0]
    bar = tqdm(total=len(jobs) + 1, desc="steered generation", disable=not progress)
    base = generate(model, prompts, **gen_kw)
    bar.update(1)
    touched = {}
    for what, name, vec, _ in targets:
        for a in alphas:
            if a == 0:
                runs[(name, 0.0)] = base
                continue
            iv = AddVector(site, float(a) * norm * vec, label=f"{name} α={a:g}")
            runs[(name, float(a))] = generate(model, prompts, interventions=[(site, iv)], **gen_kw)
            touched[(name, float(a))] = iv.touched
            bar.update(1)
    bar.close()

    # judge and fluency, per sample
    p_pos: dict[tuple[str, float], np.ndarray] = {}
    loss: dict[tuple[str, float], np.ndarray] = {}
    cache: dict[int, tuple[np.ndarray, np.ndarray]] = {}
    for key, g in tqdm(runs.items(), desc="judge and fluency loss", disable=not progress):
        if id(g) not in cache:
            cache[id(g)] = (judge.predict_proba(g.texts)[:, 1], np.asarray(mean_token_loss(model, g,
                                                                                         batch_size=cfg.batch_size)))
        p_pos[key], loss[key] = cache[id(g)]
    base_loss = loss[(targets[0][1], 0.0)]

    rows, curve = [], {}
    for what, name, _, _ in targets:
        curve[name] = []
        for a in alphas:
            key = (name, float(a))
            pm, plo, phi = bootstrap_mean(p_pos[key], cfg.n_boot, cfg.seed)
            dl = loss[key] - base_loss
            ok = np.isfinite(dl)
            lm, llo, lhi = bootstrap_mean(dl[ok], cfg.n_boot, cfg.seed) if ok.sum() > 1 else (float("nan"),) * 3
            entry = {"target": name, "what": what, "alpha": float(a), "added_norm": abs(float(a)) * norm,
                     "p_pos": pm, "p_pos_ci": [plo, phi], "loss": float(np.nanmean(loss[key])),
                     "loss_cost": lm, "loss_cost_ci": [llo, lhi], "positions_touched": touched.get(key, 0)}
            curve[name].append(entry)
            rows.append([name, float(a), f"{pm:.3f} [{plo:.3f}, {phi:.3f}]", entry["loss"],
                         f"{lm:+.3f} [{llo:+.3f}, {lhi:+.3f}]"])
    slopes = {}
    for what, name, _, _ in targets:
        P_ = np.stack([p_pos[(name, float(a))] for a in alphas])
        slopes[name] = {"what": what, "slope": _slope_ci(alphas, P_, cfg.n_boot, cfg.seed)}
    rand_names = [name for what, name, _, _ in targets if what == "random"]
    P_rand = np.stack([np.stack([p_pos[(n, float(a))] for a in alphas]) for n in rand_names])
    slopes["random directions, pooled"] = {"what": "random pooled", "slope": _slope_ci(alphas, P_rand, cfg.n_boot,
                                                                                        cfg.seed)}
    amin, amax = float(alphas[0]), float(alphas[-1])

    def at(name, a, key):
        return next(e[key] for e in curve[name] if e["alpha"] == a)

    def cost_at(name, a):
        m, (lo, hi) = at(name, a, "loss_cost"), at(name, a, "loss_cost_ci")
        return f"{m:+.3f} [{lo:+.3f}, {hi:+.3f}]"

    slope_rows = []
    for name, s in slopes.items():
        m, lo, hi = s["slope"]
        per = name in curve
        slope_rows.append([name, f"{m:+.3f} [{lo:+.3f}, {hi:+.3f}]", at(name, amin, "p_pos") if per else None,
                           at(name, amax, "p_pos") if per else None, cost_at(name, amin) if per else "",
                           cost_at(name, amax) if per else ""])
    base_p = bootstrap_mean(p_pos[(targets[0][1], 0.0)], cfg.n_boot, cfg.seed)
    caption = (f"{cfg.n_samples} samples of {cfg.max_new_tokens} new tokens per α after {cfg.prompt!r} "
               f"(temperature {cfg.temperature:g}, sample i seeded the same at every α), at {site}; α in units of the "
               f"site's typical norm {norm:.1f} (mean over real tokens of {len(norm_texts)} SST train prompts, first "
               f"token left out; it has {norm_first:.1f}), added at every position after the first. Judge (reads prompt + "
               f"continuation): tf-idf logistic regression on {cfg.judge_train} IMDB train reviews, {judge_acc:.1%} on {cfg.judge_test} IMDB "
               f"test reviews. Intervals: bootstrap over samples, {cfg.n_boot} resamples (paired across α for the slope).")
    slope_table = Table(
        title="Steering dial: judged P(positive) per unit α (least squares over the α grid)",
        columns=["dial", "slope per unit α [95% CI]", f"P(pos) at α={amin:g}", f"P(pos) at α={amax:g}",
                 f"fluency cost at α={amin:g} (Δ loss/token, nats)", f"fluency cost at α={amax:g}"],
        rows=slope_rows, caption=caption)
    curve_table = Table(
        title="Dose-response: judged P(positive) and the fluency cost per α",
        columns=["dial", "α", "P(positive) [95% CI]", "loss/token (unsteered model)", "Δ loss vs α=0 [95% CI]"],
        rows=rows, caption="Loss: the unsteered model's mean next-token loss on the generated tokens, given the prompt.")
    setup_rows = [[name, what, meta.get("method", ""), meta.get("metrics", {}).get("toy_train_acc"),
                   meta.get("metrics", {}).get("toy_test_acc")] for what, name, _, meta in targets if what != "random"]
    setup_table = Table(title="The dials' directions", columns=["dial", "kind", "method", "toy train acc", "toy test acc"],
                        rows=setup_rows,
                        caption=f"Random control: {cfg.n_random} seeded isotropic unit directions at {site}, "
                                "added with the same α·norm.")
    ex_rows = []
    for what, name, _, _ in targets[:2]:
        for a in alphas:
            ex_rows.append([name, float(a), runs[(name, float(a))].texts[0]])
    examples = Table(title="Sample 0 at every α (same seed)", columns=["dial", "α", "text"], rows=ex_rows)
    fig = _dose_figure(curve, alphas, site, norm)
    d_s, n_s = slopes[targets[0][1]]["slope"], slopes.get(targets[1][1], {}).get("slope") if cfg.neuron else None
    r_s = slopes["random directions, pooled"]["slope"]
    summary = (f"{model.name}, {site} (typical norm {norm:.1f}): unsteered P(positive) {base_p[0]:.3f} "
               f"[{base_p[1]:.3f}, {base_p[2]:.3f}] over {cfg.n_samples} samples.\n\n"
               f"Slope of judged P(positive) per unit α: {targets[0][1]} {d_s[0]:+.3f} [{d_s[1]:+.3f}, {d_s[2]:+.3f}]"
               + (f"; {targets[1][1]} {n_s[0]:+.3f} [{n_s[1]:+.3f}, {n_s[2]:+.3f}]" if n_s else "")
               + f"; {cfg.n_random} random directions pooled {r_s[0]:+.3f} [{r_s[1]:+.3f}, {r_s[2]:+.3f}].\n\n"
               + "Fluency cost (Δ loss/token vs α=0, nats) at α=" + f"{amin:g} / {amax:g}: "
               + "; ".join(f"{n} {cost_at(n, amin)} / {cost_at(n, amax)}"
                           for n in [targets[0][1], *([targets[1][1]] if cfg.neuron else []), rand_names[0]])
               + f" (unsteered loss {float(np.nanmean(base_loss)):.3f}).")
    seconds = time.time() - t0
    data = {
        "config": asdict(cfg), "site": site, "typical_norm": norm, "first_token_norm": norm_first,
        "judge_imdb_test_acc": judge_acc, "alphas": alphas.tolist(),
        "targets": [{"name": n, "what": w, "direction": meta, "vector": v.tolist() if w != "random" else None}
                    for w, n, v, meta in targets],
        "curve": curve, "slopes": {k: {"what": v["what"], "slope": v["slope"][0], "ci95": list(v["slope"][1:])}
                                   for k, v in slopes.items()},
        "samples": {f"{n}|{a:g}": {"p_pos": p_pos[(n, a)].tolist(), "loss": loss[(n, a)].tolist(),
                                   "texts": runs[(n, a)].continuations} for (n, a) in runs},
        "timing": {"total_s": seconds, "generations": len(jobs) + 1},
    }
    manifest = make_manifest(command=command, config=asdict(cfg), seeds=[cfg.seed],
                             data_files=[*train.sources, *judge_sources()], model=model.name,
                             model_hash=getattr(model, "weights_hash", None), extra={"seconds": seconds})
    return Result(kind="steer", title=f"interp steer --eval: {model.name}", summary=summary,
                  tables=[slope_table, curve_table, setup_table, examples], figures=[fig], data=data, manifest=manifest)


def _dose_figure(curve: dict, alphas: np.ndarray, site: str, norm: float) -> dict:
    from plotly.subplots import make_subplots

    fig = make_subplots(rows=1, cols=2, subplot_titles=("judged P(positive)", "fluency cost: Δ loss/token vs α=0"))
    colours = {"direction": "#1f77b4", "neuron": "#d62728", "random": "#aaaaaa"}
    for name, entries in curve.items():
        what = entries[0]["what"]
        xs = [e["alpha"] for e in entries]
        for col, key in ((1, "p_pos"), (2, "loss_cost")):
            ys = [e[key] for e in entries]
            lo = [e[key] - e[key + "_ci"][0] for e in entries]
            hi = [e[key + "_ci"][1] - e[key] for e in entries]
            fig.add_scatter(x=xs, y=ys, mode="lines+markers", name=name, legendgroup=name, showlegend=col == 1,
                            line=dict(color=colours[what], width=1 if what == "random" else 2.5), row=1, col=col,
                            error_y=dict(type="data", array=hi, arrayminus=lo, thickness=1))
    fig.update_xaxes(title_text=f"α (units of the typical norm {norm:.0f})")
    fig.update_yaxes(range=[0, 1], row=1, col=1)
    fig.update_layout(title=f"Steering at {site}: direction vs best neuron vs random directions", height=460)
    return fig.to_plotly_json()
