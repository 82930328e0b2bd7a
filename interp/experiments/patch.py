"""Activation patching: where does the model carry the information that decides its answer?

Run the clean inputs once and read their activations at every site of interest; then run the
corrupted inputs with the clean activation written in at one (site, position) at a time, whole
or only along a direction or subspace (``patched = corrupt + P(clean) − P(corrupt)``). Everything
goes through the :class:`~interp.models.protocol.Model` protocol, so it works on the mLSTM (per time step)
as on transformers.

The metric is logit-difference **denoising**: with ``s`` a score per pair (the logit difference
positive − negative at the last token, or a probe's decision value),

    denoising = Σ σ (s_patched − s_corrupt) / Σ σ (s_clean − s_corrupt),   σ = sign(s_clean − s_corrupt)

summed over pairs: 0 = the corrupted run's score, 1 = the clean run's. Aligning each pair by its
own sign lets positive→negative and negative→positive pairs be pooled without cancelling.

Sites: any the model lists in ``sites()``: ``blocks.L.hook_resid_pre/_mid/_post``,
``blocks.L.hook_attn_out``, ``blocks.L.hook_mlp_out``, ``blocks.L.mlp.hook_post``; the mLSTM's
``hook_c``, ``hook_h``, gates. Per-head outputs (``blocks.L.attn.hook_z``, (B, T, heads, d_head))
need the bridge in compatibility mode (``TransformerModel.load(name, compatibility_mode=True)``),
are not listed by ``TransformerModel.sites()`` and so are not patched here (not implemented).
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from typing import Callable, Sequence

import numpy as np
import torch

from interp.metrics import denoising, denoising_per_pair  # noqa: F401  (re-exported)
from interp.engine.sweep import Condition, LogitDiff, ProbeScore, reads_of, run_sweep
from interp.interventions import ActivationPatch, orthonormal_basis, patch_subspace
from interp.models.protocol import Batch, check_site
from interp.positions import Positions
from interp.report.results import Result, Table, make_manifest

log = logging.getLogger(__name__)

__all__ = [
    "ActivationPatch", "patch_subspace", "orthonormal_basis", "LogitDiff", "ProbeScore", "denoising",
    "denoising_per_pair", "PatchGrid", "patch_sweep", "heatmap_figure", "PatchConfig", "run_patch_toy",
]


# ------------------------------------------------------------------------------------- scores


# The scores are the engine's readers (one definition, shared by every sweep).
Score = Callable[[Batch, torch.Tensor, dict], torch.Tensor]


_reads = reads_of


# ------------------------------------------------------------------------------------ metric


# ------------------------------------------------------------------------------------- sweep


@dataclass
class PatchGrid:
    """Denoising for every (site, column): ``values[s, c]``; raw scores in ``patched[s, c, pair]``.

    ``exact[s, c]`` is True where the clean and corrupted activations were already identical at
    that (site, column), so the patch is the identity and no run was needed (before the first
    differing token, by causality).
    """

    sites: list[str]
    columns: list[str]
    values: np.ndarray
    patched: np.ndarray
    clean: np.ndarray
    corrupt: np.ndarray
    exact: np.ndarray
    touched: np.ndarray
    basis: str = "whole"
    seconds: float = 0.0

    def value(self, site: str, column: int | str) -> float:
        c = self.columns.index(column) if isinstance(column, str) else column
        return float(self.values[self.sites.index(site), c])

    def to_dict(self) -> dict:
        return {"sites": self.sites, "columns": self.columns, "values": self.values.tolist(),
                "patched": self.patched.tolist(), "clean": self.clean.tolist(), "corrupt": self.corrupt.tolist(),
                "exact": self.exact.tolist(), "touched": self.touched.tolist(), "basis": self.basis,
                "seconds": self.seconds}


def _column_masks(clean: Batch, columns) -> tuple[list[str], list[torch.Tensor]]:
    B, T = clean.mask.shape
    if isinstance(columns, str) and columns == "each":
        masks, names = [], []
        for t in range(T):
            m = torch.zeros(B, T, dtype=torch.bool)
            m[:, t] = True
            masks.append(m & clean.mask)
            names.append(f"{t} {clean.pieces[0][t]!r}" if t < len(clean.pieces[0]) else str(t))
        return names, masks
    if isinstance(columns, dict):
        return list(columns), [torch.as_tensor(m, dtype=torch.bool) & clean.mask for m in columns.values()]
    sels = list(columns)
    if not all(isinstance(s, Positions) for s in sels):
        raise TypeError("columns must be 'each', a {name: (B, T) mask} dict or a list of position selectors")
    return [s.name for s in sels], [s.mask(clean) for s in sels]


def patch_sweep(model, clean: Batch, corrupt: Batch, sites: Sequence[str], score: Score, *,
                columns="each", basis=None, max_rows: int = 256, progress: bool | str = True,
                skip_identical: bool = True, **engine) -> PatchGrid:
    """Patch clean activations into the corrupted run at each (site, column) and score it.

    ``columns``: ``"each"`` (one column per token position; the pairs should share their
    positions, e.g. toy templates), a list of :class:`~interp.positions.Positions` selectors
    (evaluated on the clean batch; pairs of equal length), or ``{name: (B, T) mask}``.
    ``basis``: ``None`` patches whole activations; a (k, d) tensor (or a ``{site: tensor}`` dict)
    patches only the projection on its span (k = 0: nothing). Clean activations are read once;
    the patched runs of several columns go in one batch of at most ``max_rows`` rows (stacked
    by :func:`interp.engine.sweep.run_sweep`, which also starts each patch at its layer).
    """
    t0 = time.time()
    if clean.mask.shape != corrupt.mask.shape or not torch.equal(clean.mask, corrupt.mask):
        raise ValueError("clean and corrupted batches must have the same token lengths row by row (use Pairs.tokenize)")
    sites = list(sites)
    widths = {s: check_site(model, s) for s in sites}
    reads = _reads(score)
    clean_logits, clean_acts = model.run(clean, read=sorted(set(sites) | set(reads)))
    s_clean = score(clean, clean_logits, clean_acts).numpy()
    corrupt_logits, corrupt_acts = model.run(corrupt, read=sorted(set(sites) | set(reads)))
    s_corrupt = score(corrupt, corrupt_logits, corrupt_acts).numpy()
    names, masks = _column_masks(clean, columns)
    N = len(clean)
    S, C = len(sites), len(masks)
    patched = np.tile(s_corrupt, (S, C, 1)).astype(float)
    exact = np.zeros((S, C), dtype=bool)
    touched = np.zeros((S, C), dtype=int)
    conditions, where_of = [], {}
    for si, site in enumerate(sites):
        b = basis.get(site) if isinstance(basis, dict) else basis
        b = None if b is None else orthonormal_basis(b, widths[site])
        for ci, m in enumerate(masks):
            touched[si, ci] = int(m.sum())
            if not m.any():
                continue
            same = torch.equal(clean_acts[site][m], corrupt_acts[site][m])
            if (skip_identical and same) or (b is not None and b.shape[0] == 0):
                exact[si, ci] = True
                continue
            name = f"{site}|{ci}"
            conditions.append(Condition(name, [ActivationPatch(site, clean_acts[site], basis=b, where=m)]))
            where_of[name] = (si, ci)
    if conditions:
        label = progress if isinstance(progress, str) else "patching"
        out = run_sweep(model, corrupt, conditions, score, batch_size=N, max_rows=max(max_rows, N),
                        group_size=max(1, max_rows // N) * 4, progress=label if progress else False, **engine)
        for name, (si, ci) in where_of.items():
            patched[si, ci] = out.scores[name]
    values = np.array([[denoising(s_clean, s_corrupt, patched[si, ci]) for ci in range(C)] for si in range(S)])
    values[touched == 0] = np.nan
    desc = "whole" if basis is None else ("subspace" if not isinstance(basis, dict) else "direction per site")
    return PatchGrid(sites, names, values, patched, s_clean, s_corrupt, exact, touched, basis=desc,
                     seconds=time.time() - t0)


def heatmap_figure(grid: PatchGrid, title: str, row_labels: Sequence[str] | None = None) -> dict:
    """Plotly heatmap (sites × columns) of denoising, 0 white, 1 blue, negative red."""
    import plotly.graph_objects as go

    z = np.where(np.isfinite(grid.values), grid.values, None)
    fig = go.Figure(go.Heatmap(
        z=z.tolist(), x=list(grid.columns), y=list(row_labels or grid.sites), colorscale="RdBu", zmid=0.0,
        zmin=-1.0, zmax=1.0, colorbar=dict(title="denoising"),
        hovertemplate="%{y} @ %{x}: %{z:.3f}<extra></extra>",
    ))
    fig.update_layout(title=title, xaxis_title="position (token of the first clean input)", yaxis_title="site",
                      height=max(320, 22 * len(grid.sites) + 160), yaxis=dict(autorange="reversed"))
    return fig.to_plotly_json()


# -------------------------------------------------------------------- the toy patching experiment


def _score_text(score) -> str:
    if isinstance(score, LogitDiff):
        return f"logit({score.positive!r}) − logit({score.negative!r}) at the last token"
    if isinstance(score, ProbeScore):
        return f"linear probe decision value on the final {score.site}"
    return type(score).__name__


SITE_KINDS = {"resid_pre": "blocks.{L}.hook_resid_pre", "resid_post": "blocks.{L}.hook_resid_post",
              "resid_mid": "blocks.{L}.hook_resid_mid", "attn_out": "blocks.{L}.hook_attn_out",
              "mlp_out": "blocks.{L}.hook_mlp_out"}


@dataclass
class PatchConfig:
    """Toy-template patching heatmaps (layer × position) for a transformer."""

    kinds: list[str] = field(default_factory=lambda: ["resid_post", "attn_out", "mlp_out"])
    directional: bool = True  # also patch only along each layer's toy mean-diff direction (resid_post)
    n_pairs: int | None = 16
    flip: str = "adjective"
    part: str = "test"
    answers: tuple[str, str] = (" good", " bad")
    layers: list[int] | None = None
    max_rows: int = 256
    early: int | None = None  # layers counted as "early" in the sanity check (default: first quarter)
    seed: int = 0

    def validate(self) -> "PatchConfig":
        from interp.pairs import FLIPS

        bad = [k for k in self.kinds if k not in SITE_KINDS]
        if bad:
            raise ValueError(f"unknown site kind(s) {bad}; choose from {', '.join(SITE_KINDS)}")
        if self.flip not in FLIPS:
            raise ValueError(f"flip must be one of {FLIPS}, not {self.flip!r}")
        if self.n_pairs is not None and self.n_pairs < 2:
            raise ValueError("n_pairs must be at least 2")
        return self


def run_patch_toy(model, config: PatchConfig | None = None, *, directions: dict | None = None, score=None,
                  site_groups: dict[str, list[str]] | None = None, progress: bool = True,
                  command: str | None = None, engine: dict | None = None) -> Result:
    """Layer × position denoising heatmaps on toy pairs (sentiment word flipped), per site kind,
    and the sanity check: does patching the sentiment word at early layers restore the clean
    logit difference?

    ``directions``: {site: Direction or vector} for the directional heatmap (patch only along
    the direction); for a transformer they are fit here on toy train prompts
    (:func:`interp.finders.fit.fit_toy_directions`, ``resid_post``) when not given. ``score``: what
    is compared (default: :class:`LogitDiff` of ``config.answers``; the mLSTM passes a
    :class:`ProbeScore`). ``site_groups``: {name: [sites]} heatmaps to draw instead of the
    per-layer site kinds (e.g. ``{"state": ["hook_c", "hook_h"]}`` for the mLSTM).
    """
    from interp.pairs import toy_pairs

    cfg = (config or PatchConfig()).validate()
    t0 = time.time()
    if site_groups is None:
        layers = list(range(model.n_layers)) if cfg.layers is None else list(cfg.layers)
        site_groups = {kind: [SITE_KINDS[kind].format(L=L) for L in layers] for kind in cfg.kinds}
        row_labels = {kind: [f"L{L}" for L in layers] for kind in site_groups}
        dir_sites = [SITE_KINDS["resid_post"].format(L=L) for L in layers]
    else:
        layers = list(range(max(len(v) for v in site_groups.values())))
        row_labels = {k: list(v) for k, v in site_groups.items()}
        dir_sites = list(directions) if directions else []
    pairs = toy_pairs(model, part=cfg.part, flip=cfg.flip, n=cfg.n_pairs)
    clean, corrupt = pairs.tokenize(model)
    diff = pairs.differing_positions(model)
    word_cols = sorted({t for d in diff for t in d})
    if score is None:
        score = LogitDiff.from_words(model, *cfg.answers)
    grids: dict[str, PatchGrid] = {}
    for kind, sites in site_groups.items():
        grids[kind] = patch_sweep(model, clean, corrupt, sites, score, max_rows=cfg.max_rows,
                                  progress=f"patch {kind}" if progress else False, **(engine or {}))
    if cfg.directional and dir_sites:
        if directions is None:
            from interp.finders.fit import fit_toy_directions

            directions, _ = fit_toy_directions(model, dir_sites, progress=progress)
        basis = {s: getattr(directions[s], "vector", directions[s]) for s in dir_sites}
        key = "resid_post:direction" if "resid_post" in site_groups else "direction"
        row_labels[key] = row_labels.get("resid_post", dir_sites)
        grids[key] = patch_sweep(model, clean, corrupt, dir_sites, score, basis=basis, max_rows=cfg.max_rows,
                                 progress="patch direction" if progress else False, **(engine or {}))
    # the sanity check
    early = cfg.early if cfg.early is not None else max(1, len(layers) // 4)
    check_rows, checks = [], {}
    for kind, g in grids.items():
        for col in word_cols:
            vals = [float(g.values[i, col]) for i in range(min(early, len(g.sites)))]
            checks[f"{kind}@{col}"] = vals
            check_rows.append([kind, g.columns[col], f"{row_labels[kind][0]}–{row_labels[kind][min(early, len(g.sites)) - 1]}",
                               min(vals), float(np.mean(vals)), max(vals)])
    g0 = grids[next(iter(grids))]
    gap = float(np.mean(np.abs(g0.clean - g0.corrupt)))
    acc_clean = float(np.mean((g0.clean > 0) == (pairs.labels == 1)))
    acc_corrupt = float(np.mean((g0.corrupt > 0) == (pairs.labels == 0)))
    main = "resid_post" if "resid_post" in grids else next(iter(grids))
    # pass: at some differing position (the word; for bytes, one of its characters), every early
    # layer restores at least 90%
    best_col = max(word_cols, key=lambda c: min(checks[f"{main}@{c}"]))
    lo_best = min(checks[f"{main}@{best_col}"])
    passed = lo_best >= 0.9
    sanity = (f"Sanity check ({main}): patching the sentiment word's position at the first {early} layer(s) "
              f"({row_labels[main][0]}–{row_labels[main][min(early, len(grids[main].sites)) - 1]}) restores "
              + ", ".join(f"{min(checks[f'{main}@{c}']):.1%}–{max(checks[f'{main}@{c}']):.1%} at {grids[main].columns[c]}"
                          for c in word_cols)
              + f" of the clean logit difference: {'PASS' if passed else 'FAIL'} (best position "
              f"{grids[main].columns[best_col]}, at least {lo_best:.1%}; the bar is 90%).")
    figs = [heatmap_figure(g, f"Denoising by patching {k} (clean → corrupted), {model.name}",
                           row_labels=row_labels.get(k)) for k, g in grids.items()]
    table = Table(
        title="Patching the sentiment word at early layers",
        columns=["site kind", "position", "early layers", "min denoising", "mean", "max"],
        rows=check_rows,
        caption=(f"{len(pairs)} toy pairs ({pairs.source}); score: {_score_text(score)}; denoising 0 = corrupted, 1 = clean. Mean |clean − corrupt| gap {gap:.3f}; the "
                 f"clean inputs get the sign right in {acc_clean:.0%} of pairs, the corrupted in {acc_corrupt:.0%}."),
    )
    peak_rows = []
    for kind, g in grids.items():
        for i, label in enumerate(row_labels.get(kind, g.sites)):
            row = g.values[i]
            if np.all(~np.isfinite(row)):
                continue
            j = int(np.nanargmax(row))
            peak_rows.append([kind, label, g.columns[j], float(row[j])])
    peak_table = Table(title="Where each layer's patch restores most", columns=["site kind", "layer / site", "position", "denoising"],
                       rows=peak_rows, caption="Per layer, the position whose patch restores the most.")
    summary = (f"{model.name}: {len(pairs)} toy pairs, {pairs.source}; score: {_score_text(score)}.\n\n"
               + sanity)
    data = {"config": {k: getattr(cfg, k) for k in cfg.__dataclass_fields__}, "pairs": {
        "clean": pairs.clean, "corrupt": pairs.corrupt, "labels": pairs.labels.tolist(), "words": pairs.words,
        "differing_positions": diff, "info": pairs.info}, "grids": {k: g.to_dict() for k, g in grids.items()},
        "sanity": {"early_layers": early, "values": checks, "passed": bool(passed), "best_column": best_col,
                   "min_at_best": lo_best, "word_columns": word_cols},
        "rows": row_labels, "score": _score_text(score), "timing": {"total_s": time.time() - t0, **{k: g.seconds for k, g in grids.items()}}}
    manifest = make_manifest(command=command, config=data["config"], seeds=[cfg.seed], model=model.name,
                             model_hash=getattr(model, "weights_hash", None))
    return Result(kind="patch", title=f"Activation patching on toy pairs: {model.name}", summary=summary,
                  tables=[table, peak_table], figures=figs, data=data, manifest=manifest)
