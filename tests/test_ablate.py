"""The ablation experiment end to end, on a tiny random model and a few real SST sentences."""

import json

import numpy as np
import pytest

from interp import report
from interp.experiments.ablate import AblateConfig, run_ablate, tigges_subset
from interp.report.results import Result


@pytest.fixture(scope="module")
def small_run(tiny_model):
    cfg = AblateConfig(model="tiny", limit=48, dev_limit=40, reference_n=24, n_random=3, n_boot=200,
                       positions=["all", "commas"], modes=["mean", "project"], batch_size=16)
    return run_ablate(tiny_model, cfg, progress=False)


def test_result_has_every_condition_with_controls(small_run):
    conds = small_run.data["conditions"]
    for mode in ("mean", "project"):
        for pos in ("all", "commas"):
            for what in ("direction", "random"):
                e = conds[f"{mode}:{pos}:{what}"]
                assert e["positions_touched"] > 0
                assert 0.0 <= e["accuracy"] <= 1.0
                assert len(e["removed_ci"]) == 2
    assert conds["baseline"]["positions_touched"] == 0
    assert len(conds["mean:all:random"]["accuracy_per_draw"]) == 3


def test_commas_touch_only_sentences_with_commas(small_run):
    conds = small_run.data["conditions"]
    assert conds["mean:commas:direction"]["examples_touched"] == small_run.data["examples_with_comma"]
    assert conds["mean:all:direction"]["examples_touched"] == small_run.data["n_test"]


def test_ablation_changes_logit_differences(small_run):
    lds = small_run.data["logit_diffs"]
    assert not np.allclose(lds["baseline"], lds["project:all:direction"])


def test_directions_canonical_and_saved(small_run, tmp_path):
    assert len(small_run.directions) == 2  # one per layer of the tiny model
    for site, d in small_run.directions.items():
        assert d.method == "mean_diff" and d.site == site
        assert d.metrics["toy_train_acc"] >= 0.5  # sign canonical: positive class projects higher
        d.save(tmp_path / site)


def test_result_round_trip_and_report(small_run, tmp_path):
    path = small_run.save(tmp_path / "result.json")
    back = Result.load(path)
    assert back.data["conditions"].keys() == small_run.data["conditions"].keys()
    assert json.loads(path.read_text())["manifest"]["config"]["limit"] == 48
    html = report.write_report([back], tmp_path / "report.html").read_text()
    assert "% removed" in html and "Plotly.newPlot" in html


def test_tigges_subset_is_balanced_correct_and_has_commas():
    correct = np.array([1, 1, 1, 1, 0, 1, 1, 1])
    comma = np.array([1, 1, 0, 1, 1, 1, 1, 1])
    labels = np.array([1, 1, 1, 0, 0, 0, 1, 0])
    idx = tigges_subset(correct, comma, labels, seed=0)
    assert correct[idx].all() and comma[idx].all()
    assert (labels[idx] == 1).sum() == (labels[idx] == 0).sum() == 3


def test_bad_layer_and_prompt(tiny_model):
    with pytest.raises(ValueError, match="layer 5"):
        run_ablate(tiny_model, AblateConfig(layers=[5], limit=8), progress=False)
    with pytest.raises(ValueError, match="unknown prompt"):
        run_ablate(tiny_model, AblateConfig(prompt="nope", limit=8), progress=False)


def test_missing_data_is_a_clear_error(tiny_model, tmp_path, monkeypatch):
    from interp.config import DataNotFoundError

    monkeypatch.setenv("INTERP_DATA_DIR", str(tmp_path))
    with pytest.raises(DataNotFoundError, match="sst"):
        run_ablate(tiny_model, AblateConfig(limit=8, reference_n=8), progress=False)
