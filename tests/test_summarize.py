"""Ablation variants (resample, whole vector) and the summarization experiment end to end (tiny models)."""

import json

import numpy as np
import pytest
import torch
from typer.testing import CliRunner

from interp import positions as P
from interp.interventions import ResampleAblation, VectorAblation, derangement
from interp.models.mlstm import MLSTM
from interp.models.mlstm.adapter import MLSTMModel
from interp.experiments.summarize import MLSTMSummarizeConfig, SummarizeConfig, run_summarize, run_summarize_mlstm

pytestmark = pytest.mark.filterwarnings("ignore:random control")

TEXTS = ["Good, fun, and sweet.", "A dull film, sadly.", "Great acting", "Bad. Very bad, truly."]


def test_derangement_has_no_fixed_point():
    for n in (2, 3, 7, 32):
        for seed in range(5):
            p = derangement(n, torch.Generator().manual_seed(seed))
            assert sorted(p.tolist()) == list(range(n)) and (p != torch.arange(n)).all()
    with pytest.raises(ValueError, match="at least 2"):
        derangement(1, torch.Generator())


def test_resample_from_batch_draws_from_other_examples(tiny_model):
    site = "blocks.0.hook_resid_post"
    b = tiny_model.tokenize(TEXTS)
    u = torch.randn(64, generator=torch.Generator().manual_seed(0))
    u = u / u.norm()
    _, clean = tiny_model.run(b, read=[site])
    iv = ResampleAblation(site, u, P.AllTokens(), source="batch", seed=3)
    bound = iv.bind(b, tiny_model)
    _, after = tiny_model.run(b, interventions=[bound], read=[site])
    where = bound[1]
    perm = iv._perm
    assert (perm != torch.arange(len(b))).all()
    proj_after, proj_clean = after[site] @ u, clean[site] @ u
    for i in range(len(b)):
        j = int(perm[i])
        for t in torch.nonzero(where[i]).flatten().tolist():
            tj = min(t, int(b.lengths[j]) - 1)
            assert proj_after[i, t] == pytest.approx(float(proj_clean[j, tj]), abs=1e-4)
    # the orthogonal complement is untouched
    perp = lambda x: x - (x @ u)[..., None] * u  # noqa: E731
    assert torch.allclose(perp(after[site])[where], perp(clean[site])[where], atol=1e-4)
    assert iv.touched == int(where.sum())


def test_resample_from_reference_pool(tiny_model):
    site = "blocks.1.hook_resid_post"
    b = tiny_model.tokenize(TEXTS)
    u = torch.zeros(64)
    u[5] = 1.0
    pool = torch.tensor([10.0, 20.0, 30.0])
    iv = ResampleAblation(site, u, P.Commas(), pool=pool, seed=0)
    bound = iv.bind(b, tiny_model)
    _, after = tiny_model.run(b, interventions=[bound], read=[site])
    vals = after[site][bound[1]][:, 5]
    assert set(np.round(vals.numpy(), 3).tolist()) <= {10.0, 20.0, 30.0}
    # same seed, same batch: same draws
    iv2 = ResampleAblation(site, u, P.Commas(), pool=pool, seed=0)
    _, again = tiny_model.run(b, interventions=[iv2.bind(b, tiny_model)], read=[site])
    assert torch.equal(again[site], after[site])
    with pytest.raises(ValueError, match="pool"):
        ResampleAblation(site, u, P.Commas())


def test_resample_per_step_on_the_mlstm():
    m = MLSTMModel(MLSTM(d_hidden=16, seed=0))
    b = m.tokenize(TEXTS)
    u = torch.zeros(16)
    u[2] = 1.0
    iv = ResampleAblation("hook_c", u, P.Commas(), pool=torch.tensor([7.0]), seed=0)
    bound = iv.bind(b, m)
    _, after = m.run(b, interventions=[bound], read=["hook_c"])
    assert torch.allclose(after["hook_c"][bound[1]][:, 2], torch.tensor(7.0))
    assert iv.touched == sum(t.count(",") for t in TEXTS)
    # batch source on the mLSTM: a donor's state at the same step
    ivb = ResampleAblation("hook_c", u, P.AllTokens(), source="batch", seed=1)
    _, out = m.run(b, interventions=[ivb.bind(b, m)], read=["hook_c"])
    assert ivb.touched == int(P.AllTokens().mask(b).sum())


def test_vector_ablation_sets_selected_vectors_only(tiny_model):
    site = "blocks.0.hook_resid_post"
    b = tiny_model.tokenize(TEXTS)
    mean = torch.arange(64, dtype=torch.float32)
    iv = VectorAblation(site, P.FullStops(), mean)
    bound = iv.bind(b, tiny_model)
    _, clean = tiny_model.run(b, read=[site])
    _, after = tiny_model.run(b, interventions=[bound], read=[site])
    where = bound[1]
    assert torch.equal(after[site][where], mean.expand(int(where.sum()), 64))
    first = torch.nonzero(where[0]).flatten()[0]
    assert torch.equal(after[site][0, :first], clean[site][0, :first])  # before the first full stop: untouched
    assert iv.examples_touched == sum(1 for t in TEXTS if any(c in t for c in ".!?"))


@pytest.fixture(scope="module")
def small_run(tiny_model):
    cfg = SummarizeConfig(limit=40, dev_limit=30, reference_n=16, n_random=2, n_boot=100, batch_size=16)
    return run_summarize(tiny_model, cfg, progress=False)


def test_summarization_table_has_every_selector_mode_and_control(small_run):
    conds = small_run.data["conditions"]
    for mode in ("project", "mean", "resample"):
        for pos in ("commas", "full_stops", "punctuation", "sentiment_words", "all"):
            for what in ("direction", "random"):
                e = conds[f"{mode}:{pos}:{what}"]
                assert 0.0 <= e["accuracy"] <= 1.0 and len(e["removed_ci"]) == 2
    for pos in ("commas", "all"):
        assert f"vector:{pos}:vector" in conds and f"vector:{pos}:random" not in conds
    counts = small_run.data["selector_counts"]
    assert conds["mean:commas:direction"]["examples_touched"] == counts["commas"]["examples"]
    assert conds["mean:all:direction"]["examples_touched"] == small_run.data["n_test"]
    assert len(small_run.tables[0].rows) == 4 * 5
    assert small_run.traces and small_run.traces[0].tokens


def test_summarization_round_trip_and_report(small_run, tmp_path):
    from interp import report
    from interp.report.results import Result

    back = Result.load(small_run.save(tmp_path / "s.json"))
    assert back.data["conditions"].keys() == small_run.data["conditions"].keys()
    html = report.write_report([back], tmp_path / "r.html").read_text()
    assert "sentiment_words" in html and "Plotly.newPlot" in html


def test_summarization_on_the_mlstm():
    m = MLSTMModel(MLSTM(d_hidden=32, seed=0), name="tiny-mlstm")
    cfg = MLSTMSummarizeConfig(train_limit=80, dev_limit=30, limit=30, reference_n=12, n_random=2, n_boot=50,
                               positions=["commas", "sentiment_words", "all"], modes=["project", "mean", "resample"],
                               batch_size=32)
    res = run_summarize_mlstm(m, cfg, progress=False)
    conds = res.data["conditions"]
    for t in ("unit", "direction"):
        for s in ("hook_c", "hook_h"):
            for mode in ("project", "mean", "resample"):
                assert f"{t}@{s}:{mode}:commas:random" in conds
    # ablating the probe's own feature everywhere changes the probe's scores
    assert not np.allclose(res.data["scores"]["baseline"], res.data["scores"]["direction@hook_c:project:all:direction"])
    assert len(res.tables) == 4 and 0.0 <= res.data["probe"]["dev_acc"] <= 1.0


def test_cli_patch_end_to_end(tiny_model_dir, tmp_path):
    from interp.cli import app

    out = tmp_path / "run"
    r = CliRunner().invoke(app, ["patch", "--model", str(tiny_model_dir), "--limit", "12", "--dev-limit", "16",
                                 "--reference-n", "8", "--n-random", "2", "--pairs", "2", "--kinds", "resid_post",
                                 "--positions", "commas,all", "--modes", "mean,resample", "--out", str(out)])
    assert r.exit_code == 0, r.output
    heat = json.loads((out / "heatmap.json").read_text())
    summ = json.loads((out / "summarization.json").read_text())
    assert "resid_post" in heat["data"]["grids"] and "resample:commas:random" in summ["data"]["conditions"]
    assert summ["manifest"]["command"].startswith("interp patch")
    assert (out / "report.html").exists()


def test_cli_patch_bad_options():
    from interp.cli import app

    r = CliRunner().invoke(app, ["patch", "--modes", "zero"])
    assert r.exit_code == 2 and "zero" in r.output
    r = CliRunner().invoke(app, ["patch", "--positions", "elbows"])
    assert r.exit_code == 2 and "elbows" in r.output
    r = CliRunner().invoke(app, ["patch", "--flip", "verb"])
    assert r.exit_code == 2 and "flip" in r.output


def test_sentence_limits_zero_means_all_and_negative_is_an_error():
    from interp import data
    from interp.experiments.summarize import _subsample

    dev = data.sst("dev")
    assert len(_subsample(dev, 0, 0)) == len(dev) == len(_subsample(dev, None, 0))
    small = _subsample(dev, 10, 0)
    assert len(small) == 10 and list(small.indices) == sorted(small.indices)
    with pytest.raises(ValueError, match="at least 4"):
        _subsample(dev, -3, 0)
