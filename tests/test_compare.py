"""Neuron vs direction end to end on tiny models: all four measurements, the report, the CLI."""

import json

import numpy as np
import pytest
from typer.testing import CliRunner

from interp import report
from interp.experiments.find import METHODS, CompareConfig, alignment, compare, gather_features
from interp.report.results import Result

SMALL = dict(train_limit=48, dev_limit=32, test_limit=32, limit=16, reference_n=12, n_random=2, n_boot=50, k=3,
             das_steps=6, das_batch=8, C_grid=[0.1, 1.0], batch_size=16)


@pytest.fixture(scope="module")
def tiny_run(tiny_model):
    return compare(tiny_model, progress=False, **SMALL)


@pytest.fixture(scope="module")
def tiny_mlstm():
    from interp.models.mlstm import MLSTM
    from interp.models.mlstm.adapter import MLSTMModel

    return MLSTMModel(MLSTM(d_hidden=32, seed=0), name="tiny-mlstm")


def test_transformer_run_has_all_four_measurements(tiny_run):
    d = tiny_run.data
    sites = d["sites"]
    assert sites == ["blocks.0.hook_resid_post", "blocks.1.hook_resid_post"]
    assert d["best_site"] in sites
    # (a) accuracy for every method, data source and site; DAS at the best site only
    for src in ("sst_last", "sst_mean", "toy"):
        for s in sites:
            got = set(d["accuracy"][src][s])
            assert set(METHODS) - {"das"} | {"random"} <= got
            for m, r in d["accuracy"][src][s].items():
                assert 0 <= r["test_acc"] <= 1 and 0 <= r["dev_acc"] <= 1
        assert "das" in d["accuracy"][src][d["best_site"]]
        assert "toy_test_acc" in d["accuracy"]["toy"][sites[0]]["mean_diff"]
    # (b) cosines: symmetric, unit diagonal
    cm = d["cosines"]["sst_last"][d["best_site"]]
    M = np.array(cm["matrix"])
    assert M.shape == (len(cm["methods"]),) * 2 and np.allclose(M, M.T) and np.allclose(np.diag(M), 1, atol=1e-6)
    # (c) alignment: neurons are perfectly aligned, directions less
    al = d["alignment"]["sst_last"][d["best_site"]]
    assert al["best_neuron"]["max_abs_cos"] == pytest.approx(1.0) and al["best_neuron"]["participation_ratio"] == pytest.approx(1.0)
    assert al["topk_l1"]["participation_ratio"] <= 3 + 1e-6
    assert 1 <= al["mean_diff"]["participation_ratio"] <= 64 and al["mean_diff"]["max_abs_cos"] < 1
    # (d) causal: every ablation at every position, beside its random controls
    c = d["causal"]
    assert c["site"] == d["best_site"] and c["n_test"] == 16
    for pos in ("all", "commas"):
        for what in ("mean_diff", "das", "leace", "leace_random", "best_unit", "topk_units", "random", "random_units"):
            assert f"{pos}:{what}" in c["conditions"]
    assert c["conditions"]["all:mean_diff"]["positions_touched"] > 0
    # LEACE: the eraser acts (it changes the scores) and its shuffled-label control has one accuracy per draw
    assert c["conditions"]["all:leace"]["positions_touched"] == c["conditions"]["all:mean_diff"]["positions_touched"]
    assert not np.allclose(c["scores"]["baseline"], c["scores"]["all:leace"])
    assert len(c["conditions"]["all:leace_random"]["accuracy_per_draw"]) == 2
    assert "leace" in c["groups"] and any("leace" in row for t in tiny_run.tables for row in map(str, t.rows))
    assert c["conditions"]["all:topk_units"]["n_ablated"] == 3
    assert d["interchange"]["values"].keys() >= {"mean_diff", "whole activation", "random"}
    assert d["das"]["denoising_train"] is not None and len(d["das"]["loss"]) == 6
    # which data was used is stated
    assert d["data"]["primary"] == "sst_last" and d["data"]["sst_train"]["n"] == 48
    assert d["data"]["eval_read"] == {"sst_last": "last", "sst_mean": "mean", "toy": "mean"}


def test_directions_carry_provenance(tiny_run, tmp_path):
    dirs = tiny_run.directions
    key = "toy/blocks.0.hook_resid_post/mean_diff"
    assert key in dirs and dirs[key].data.startswith("toy")
    assert any(k.startswith("das/") for k in dirs)
    n = dirs["sst_last/blocks.0.hook_resid_post/best_neuron"]
    assert n.flags["unit"] == int(np.flatnonzero(n.vector.numpy())[0])
    path = dirs[key].save(tmp_path / key)
    assert path.exists()


def test_result_round_trip_and_report(tiny_run, tmp_path):
    back = Result.load(tiny_run.save(tmp_path / "result.json"))
    assert back.kind == "find" and back.data["best_site"] == tiny_run.data["best_site"]
    html = report.write_report([back], tmp_path / "report.html").read_text()
    assert "Neuron vs direction" in html and "Cosine" in html and "Plotly.newPlot" in html


def test_mlstm_run(tiny_mlstm):
    res = compare(tiny_mlstm, progress=False, data=["sst_last", "toy"], **SMALL)
    d = res.data
    assert d["sites"] == ["hook_c", "hook_h"]
    assert d["das"]["skipped"]  # no answer tokens: DAS is not run, and says so
    assert "das" not in d["accuracy"]["sst_last"]["hook_c"]
    c = d["causal"]
    assert c["site"] == "hook_c" and c["probe"]["site"] == "hook_c"
    for what in ("mean_diff", "leace", "leace_random", "best_unit", "topk_units", "random", "random_units"):
        assert f"all:{what}" in c["conditions"] and f"commas:{what}" in c["conditions"]
    assert not np.allclose(c["scores"]["baseline"], c["scores"]["all:leace"])  # the eraser in the state, every step
    # ablating across time at every byte reaches the final state the probe reads
    assert not np.allclose(c["scores"]["baseline"], c["scores"]["all:logreg_l2"])
    assert d["cosines"]["toy"]["hook_h"]["methods"][0] == "mean_diff"


def test_gather_features_reads(tiny_model):
    texts = ["a good film.", "bad", "it was fine, really"]
    F = gather_features(tiny_model, texts, ["blocks.0.hook_resid_post"], batch_size=2)
    _, acts = tiny_model.run(tiny_model.tokenize(texts[:1]), read=["blocks.0.hook_resid_post"])
    a = acts["blocks.0.hook_resid_post"][0]
    assert np.allclose(F["last"]["blocks.0.hook_resid_post"][0], a[-1], atol=1e-5)
    assert np.allclose(F["mean"]["blocks.0.hook_resid_post"][0], a[1:].mean(0), atol=1e-5)


def test_alignment_of_neuron_and_uniform():
    e = np.zeros(16)
    e[3] = -2
    assert alignment(e) == {"max_abs_cos": 1.0, "unit": 3, "participation_ratio": 1.0, "l1_l2": 1.0}
    u = np.ones(16)
    a = alignment(u)
    assert a["participation_ratio"] == pytest.approx(16) and a["l1_l2"] == pytest.approx(4)


def test_config_errors():
    with pytest.raises(ValueError, match="data source"):
        CompareConfig(data=["imdb"]).validate()
    with pytest.raises(ValueError, match="method"):
        CompareConfig(methods=["svm"]).validate()
    with pytest.raises(ValueError, match="n_random"):
        CompareConfig(n_random=0).validate()


def test_cli_find_help_and_run(tiny_model_dir, tmp_path):
    from interp.cli import app

    runner = CliRunner()
    r = runner.invoke(app, ["find", "--help"])
    assert r.exit_code == 0 and "--mlstm" in r.output and "--layers" in r.output
    r = runner.invoke(app, ["find", "--model", "x", "--data", "imdb"])
    assert r.exit_code == 2 and "imdb" in r.output
    out = tmp_path / "run"
    r = runner.invoke(app, ["find", "--model", str(tiny_model_dir), "--layers", "0", "--data", "toy,sst_last",
                            "--methods", "mean_diff,pca,best_neuron,topk_l1", "--train-limit", "32", "--dev-limit", "24",
                            "--test-limit", "24", "--limit", "8", "--reference-n", "8", "--n-random", "2", "--k", "2",
                            "--positions", "all", "--n-boot", "20", "--no-progress", "--out", str(out)])
    assert r.exit_code == 0, r.output
    res = json.loads((out / "result.json").read_text())
    assert res["manifest"]["command"].startswith("interp find") and res["data"]["data"]["primary"] == "toy"
    assert (out / "report.html").exists()
    assert (out / "directions" / "toy" / "blocks.0.hook_resid_post" / "mean_diff.safetensors").exists()
