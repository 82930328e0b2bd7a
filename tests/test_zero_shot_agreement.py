"""analyses/zero_shot_agreement.py on tiny random models: the same model twice agrees with itself
exactly, a different model does not, and a second run keeps the scored models."""

from __future__ import annotations

import json
import shutil

import pytest
from conftest import load_analysis

from interp.models import zoo



@pytest.fixture(scope="module")
def script():
    return load_analysis("zero_shot_agreement")


def test_agreement_of_a_model_with_itself_and_with_another(script, tiny_model_dir, tmp_path, capsys):
    twin = tmp_path / "twin"
    shutil.copytree(tiny_model_dir, twin)
    other = zoo.build_random_model(tmp_path / "other", arch="llama", n_layers=2, d_model=64, seed=1)
    out = tmp_path / "agree.json"
    argv = ["--models", f"{tiny_model_dir},{twin},{other}", "--limit", "16", "--dev-limit", "8",
            "--n-boot", "100", "--threads", "1", "--no-progress", "--out", str(out)]
    assert script.main(argv) == 0
    d = json.loads(out.read_text())
    assert d["n_test"] == 16 and d["n_dev"] == 8 and len(d["test_indices"]) == 16
    a, b, c = str(tiny_model_dir), str(twin), str(other)
    pairs = {(p["a"], p["b"]): p for p in d["pairs"]}
    assert set(pairs) == {(a, b), (a, c), (b, c)}
    same = pairs[(a, b)]
    assert same["sign_agreement_at_0"] == 1.0 and same["label_agreement_at_dev_thresholds"] == 1.0
    assert same["pearson_ld"] == pytest.approx(1.0) and same["spearman_ld"] == pytest.approx(1.0)
    assert same["auroc_b_minus_a"] == 0.0 and same["auroc_b_minus_a_95"] == [0.0, 0.0]
    diff = pairs[(a, c)]
    assert diff["pearson_ld"] < 0.99 and 0 <= diff["sign_agreement_at_0"] <= 1
    assert diff["both_right_at_dev_thresholds"] + diff["only_a_right"] + diff["only_b_right"] <= 1
    for r in d["per_model"].values():
        assert 0 <= r["accuracy_at_dev_threshold"] <= 1 and r["auroc_95"][0] <= r["auroc"] <= r["auroc_95"][1]
        assert r["prepends_bos"] is True
    assert d["manifest"]["config"]["dev_limit"] == 8
    # a second run with the same settings scores nothing again
    capsys.readouterr()
    assert script.main(argv) == 0
    assert capsys.readouterr().err.count("kept from") == 3
    assert json.loads(out.read_text())["pairs"] == d["pairs"]


def test_agreement_needs_two_models(script, tmp_path):
    with pytest.raises(SystemExit):
        script.main(["--models", "smollm2-135m", "--out", str(tmp_path / "x.json")])
    with pytest.raises(SystemExit):
        script.main(["--models", "a,b", "--limit", "-1", "--out", str(tmp_path / "x.json")])
