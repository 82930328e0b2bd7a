"""Activation patching: exact restoration, the identity for the zero subspace, the metric, sweeps."""

import numpy as np
import pytest
import torch

from interp.interventions import ActivationPatch, orthonormal_basis, patch_subspace
from interp.models.mlstm import MLSTM
from interp.pairs import toy_pairs
from interp.experiments.patch import (LogitDiff, PatchConfig, ProbeScore, denoising, denoising_per_pair, heatmap_figure,
                             patch_sweep, run_patch_toy)
from interp.models.mlstm.adapter import MLSTMModel


@pytest.fixture(scope="module")
def pair_batches(tiny_model):
    return toy_pairs(tiny_model, n=4).tokenize(tiny_model)


@pytest.fixture(scope="module")
def mlstm():
    return MLSTMModel(MLSTM(d_hidden=32, seed=0), name="tiny-mlstm")


@pytest.mark.parametrize("site", ["blocks.0.hook_resid_pre", "blocks.0.hook_resid_post", "blocks.1.hook_resid_post"])
def test_whole_patch_everywhere_restores_clean_exactly(tiny_model, pair_batches, site):
    clean, corrupt = pair_batches
    clean_logits, acts = tiny_model.run(clean, read=[site])
    corrupt_logits, _ = tiny_model.run(corrupt)
    assert not torch.equal(clean_logits, corrupt_logits)
    patch = ActivationPatch(site, acts[site])
    logits, _ = tiny_model.run(corrupt, interventions=[patch.bind(corrupt, tiny_model)])
    assert torch.equal(logits, clean_logits)
    assert patch.touched == int(corrupt.mask.sum()) and patch.examples_touched == len(corrupt)


def test_whole_patch_everywhere_restores_clean_on_the_mlstm(mlstm):
    p = toy_pairs(mlstm, n=4)
    clean, corrupt = p.tokenize(mlstm)
    clean_logits, acts = mlstm.run(clean, read=["hook_c", "hook_h"])
    patches = [ActivationPatch(s, acts[s]) for s in ("hook_c", "hook_h")]
    logits, after = mlstm.run(corrupt, interventions=[q.bind(corrupt, mlstm) for q in patches], read=["hook_c"])
    assert torch.equal(logits, clean_logits)
    assert torch.equal(after["hook_c"], acts["hook_c"])
    # run again with the same bound patches: steps are counted per run
    logits2, _ = mlstm.run(corrupt, interventions=[q.bind(corrupt, mlstm) for q in patches])
    assert torch.equal(logits2, clean_logits)


def test_zero_subspace_is_the_identity(tiny_model, pair_batches):
    clean, corrupt = pair_batches
    site = "blocks.0.hook_resid_post"
    _, acts = tiny_model.run(clean, read=[site])
    corrupt_logits, _ = tiny_model.run(corrupt)
    patch = ActivationPatch(site, acts[site], basis=torch.zeros(0, 64))
    logits, _ = tiny_model.run(corrupt, interventions=[patch.bind(corrupt, tiny_model)])
    assert torch.equal(logits, corrupt_logits)
    # the full space is the whole patch
    full = ActivationPatch(site, acts[site], basis=torch.eye(64))
    clean_logits, _ = tiny_model.run(clean)
    logits, _ = tiny_model.run(corrupt, interventions=[full.bind(corrupt, tiny_model)])
    assert torch.allclose(logits, clean_logits, atol=1e-4)


def test_subspace_patch_algebra():
    g = torch.Generator().manual_seed(0)
    corrupt, clean = torch.randn(5, 7, 16, generator=g), torch.randn(5, 7, 16, generator=g)
    B = orthonormal_basis(torch.randn(3, 16, generator=g))
    out = patch_subspace(corrupt, clean, B)
    assert torch.allclose(out @ B.T, clean @ B.T, atol=1e-5)  # P(patched) = P(clean)
    perp = lambda x: x - (x @ B.T) @ B  # noqa: E731
    assert torch.allclose(perp(out), perp(corrupt), atol=1e-5)  # the rest is the corrupted run's
    assert torch.equal(patch_subspace(corrupt, clean, None), clean)
    assert torch.equal(patch_subspace(corrupt, clean, torch.zeros(0, 16)), corrupt)
    # a rank-deficient set of vectors gives a basis of its span
    v = torch.randn(16, generator=g)
    assert orthonormal_basis(torch.stack([v, 2 * v])).shape == (1, 16)


def test_denoising_is_zero_at_corrupt_and_one_at_clean():
    clean, corrupt = np.array([2.0, -3.0, 1.0]), np.array([-1.0, 2.0, 0.5])
    assert denoising(clean, corrupt, corrupt) == 0.0
    assert denoising(clean, corrupt, clean) == 1.0
    half = (clean + corrupt) / 2
    assert denoising(clean, corrupt, half) == pytest.approx(0.5)
    assert np.allclose(denoising_per_pair(clean, corrupt, clean), 1.0)
    assert np.allclose(denoising_per_pair(clean, corrupt, corrupt), 0.0)
    assert np.isnan(denoising(np.ones(2), np.ones(2), np.zeros(2)))  # no gap: undefined, not 0


def test_patch_sweep_grid(tiny_model, pair_batches):
    clean, corrupt = pair_batches
    score = LogitDiff.from_words(tiny_model)
    sites = ["blocks.0.hook_resid_post", "blocks.1.hook_resid_post"]
    grid = patch_sweep(tiny_model, clean, corrupt, sites, score, progress=False, max_rows=10)
    T = clean.mask.shape[1]
    assert grid.values.shape == (2, T) and len(grid.columns) == T
    word = int(torch.nonzero(clean.tokens[0] != corrupt.tokens[0])[0])
    assert grid.exact[:, :word].all() and np.allclose(grid.values[:, :word], 0.0)  # before the word: nothing to patch
    assert grid.value(sites[1], T - 1) == pytest.approx(1.0)  # last layer, last token: everything
    zero = patch_sweep(tiny_model, clean, corrupt, sites[:1], score, basis=torch.zeros(0, 64), progress=False)
    assert np.allclose(zero.values, 0.0)
    fig = heatmap_figure(grid, "t")
    assert fig["data"][0]["type"] == "heatmap"


def test_patch_sweep_needs_aligned_pairs(tiny_model, pair_batches):
    clean, corrupt = pair_batches
    with pytest.raises(ValueError, match="same token lengths"):
        patch_sweep(tiny_model, clean, tiny_model.tokenize(["x"] * len(clean)), ["blocks.0.hook_resid_post"],
                    LogitDiff.from_words(tiny_model), progress=False)
    _, acts = tiny_model.run(clean, read=["blocks.0.hook_resid_post"])
    short = tiny_model.tokenize(["x"])
    with pytest.raises(ValueError, match="do not match the batch"):
        ActivationPatch("blocks.0.hook_resid_post", acts["blocks.0.hook_resid_post"]).bind(short)


def test_run_patch_toy_result(tiny_model, tmp_path):
    from interp import report
    from interp.report.results import Result

    res = run_patch_toy(tiny_model, PatchConfig(n_pairs=4, kinds=["resid_post", "attn_out"]), progress=False)
    assert {"resid_post", "attn_out", "resid_post:direction"} == set(res.data["grids"])
    assert len(res.figures) == 3 and "Sanity check" in res.summary
    back = Result.load(res.save(tmp_path / "heatmap.json"))
    assert back.data["sanity"]["word_columns"] == res.data["sanity"]["word_columns"]
    assert "Plotly.newPlot" in report.write_report([back], tmp_path / "r.html").read_text()


def test_probe_score_patching_on_the_mlstm(mlstm):
    score = ProbeScore("hook_c", torch.randn(32, generator=torch.Generator().manual_seed(1)), 0.0)
    res = run_patch_toy(mlstm, PatchConfig(n_pairs=2, directional=False), score=score,
                        site_groups={"state": ["hook_c", "hook_h"]}, progress=False)
    g = res.data["grids"]["state"]
    last = len(g["columns"]) - 1
    assert g["values"][0][last] == pytest.approx(1.0)  # the final c is what the probe reads
