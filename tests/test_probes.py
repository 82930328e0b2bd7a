"""Sentiment probes, byte traces, steering and their CLI commands (tiny models, synthetic features
with a planted unit, a few hundred real SST sentences). Runs in well under a minute on 2 cores."""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from sklearn.linear_model import LogisticRegression
from typer.testing import CliRunner

from interp import metrics
from interp.cli import app
from interp.directions import neuron
from interp.models.mlstm import MLSTM, encode, preprocess
from interp.experiments.probe import (
    C_GRID_L1,
    _standardise,
    bag_of_words,
    byte_trace,
    checkpoint_comparison,
    data_efficiency,
    extract_features,
    probe_report,
    probe_splits,
    sentiment_probes,
    unit_accuracies,
    untrained_like,
)
from interp.report.results import Result
from interp.models.mlstm.sample import check_hold, sample

runner = CliRunner()
PLANTED = 5


@pytest.fixture(scope="module", autouse=True)
def _one_thread():
    old = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(old)


@pytest.fixture(scope="module")
def tiny():
    return MLSTM(d_hidden=16, d_embed=8, seed=3).eval()


def _planted(n, seed, d=16, strength=2.0):
    """Features where only unit PLANTED carries the label, with a negative sign."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, n)
    X = rng.standard_normal((n, d)) * rng.uniform(0.5, 3.0, d)  # units on different scales
    X[:, PLANTED] = rng.standard_normal(n) - strength * (2 * y - 1)
    return X.astype(np.float32), y


@pytest.fixture(scope="module")
def planted():
    return _planted(600, 0), _planted(300, 1), _planted(400, 2)


# --------------------------------------------------------------------------- probes


def test_probes_recover_a_planted_unit(planted):
    (Xtr, ytr), (Xdv, ydv), (Xte, yte) = planted
    r = sentiment_probes(Xtr, ytr, Xdv, ydv, Xte, yte, seed=0)
    assert r["l1"]["top_units"][0]["unit"] == PLANTED
    assert r["l1"]["top_units"][0]["weight"] < 0  # high value = negative
    assert r["l1"]["test_acc"] > 0.9 and r["l2"]["test_acc"] > 0.9
    b = r["best_unit"]
    assert b["unit"] == PLANTED and b["sign"] == -1
    assert b["test_acc"] > 0.9 and b["dev_acc"] > 0.9
    assert 0.9 < r["best_unit_share_of_l2"] < 1.1
    assert max(r["per_unit_dev_acc"]) == pytest.approx(b["dev_acc"])
    assert r["l1"]["n_nonzero"] <= 16 and len(r["l1"]["coef"]) == 16
    assert "train" in r["standardisation"]
    json.dumps(r)  # plain JSON types


def test_C_and_unit_are_chosen_on_dev_never_on_test(planted):
    (Xtr, ytr), (Xdv, ydv), (Xte, yte) = planted
    r = sentiment_probes(Xtr, ytr, Xdv, ydv, Xte, yte, seed=0)
    # dev accuracies per C, recomputed independently (Radford et al.'s seeds: seed + i)
    Ztr, Zdv = _standardise(Xtr, Xdv)[0]
    dev = [LogisticRegression(C=C, l1_ratio=1.0, solver="liblinear", random_state=i, max_iter=1000)
           .fit(Ztr, ytr).score(Zdv, ydv) for i, C in enumerate(C_GRID_L1)]
    assert r["l1"]["dev_acc_by_C"] == pytest.approx(dev)
    assert r["l1"]["C"] == C_GRID_L1[int(np.argmax(dev))]
    # scrambling the test labels changes the test scores and nothing that was chosen
    rng = np.random.default_rng(0)
    r2 = sentiment_probes(Xtr, ytr, Xdv, ydv, Xte, rng.permutation(yte), seed=0)
    for k in ("l1", "l2"):
        assert r2[k]["C"] == r[k]["C"] and r2[k]["coef"] == r[k]["coef"]
    assert {k: r2["best_unit"][k] for k in ("unit", "sign", "threshold")} == \
           {k: r["best_unit"][k] for k in ("unit", "sign", "threshold")}
    assert r2["l1"]["test_acc"] < 0.7
    # ... while other dev labels do change the choice of unit
    ydv2 = (Xdv[:, 2] > np.median(Xdv[:, 2])).astype(int)
    r3 = sentiment_probes(Xtr, ytr, Xdv, ydv2, Xte, yte, seed=0)
    assert r3["best_unit"]["unit"] == 2 and r3["best_unit"]["sign"] == 1


def test_unit_accuracies_match_fit_threshold():
    rng = np.random.default_rng(0)
    X = np.round(rng.standard_normal((80, 6)), 1)  # ties
    y = rng.integers(0, 2, 80)
    X[:, 3] -= 2 * y
    for balanced in (False, True):
        acc, sign = unit_accuracies(X, y, balanced=balanced)
        score = metrics.balanced_accuracy if balanced else metrics.accuracy
        for u in range(6):
            s = sign[u] * X[:, u]
            assert acc[u] == pytest.approx(score(s, y, metrics.fit_threshold(s, y, balanced=balanced)))
        assert np.argmax(acc) == 3 and sign[3] == -1


def test_data_efficiency_shapes_and_growth(planted):
    (Xtr, ytr), (Xdv, ydv), (Xte, yte) = planted
    r = data_efficiency(Xtr, ytr, Xte, yte, sizes=(4, 20, 100, 5000), seeds=(0, 1), dev_X=Xdv, dev_y=ydv)
    assert r["sizes"] == [4, 20, 100, 600]  # clipped to the train set
    assert [len(a) for a in r["acc"]] == [2, 2, 2, 1]  # the whole train set is fitted once
    assert len(r["mean"]) == 4 and [len(c) for c in r["C"]] == [2, 2, 2, 1] and r["std"][-1] == 0
    assert r["mean"][-1] > 0.8 and r["mean"][-1] >= r["mean"][0]
    assert "dev" in r["C_rule"]
    fixed = data_efficiency(Xtr, ytr, Xte, yte, sizes=(50,), seeds=(0,), C=0.5)
    assert fixed["C"] == [[0.5]] and "fixed" in fixed["C_rule"]
    with pytest.raises(ValueError, match="dev_X"):
        data_efficiency(Xtr, ytr, Xte, yte, sizes=(50,))


# --------------------------------------------------------------------------- features and traces

TEXTS = ["Great film!", "a dull , lifeless mess", "Café crème — très bon &amp; 5€", "x",
         "It is not a bad movie at all, really; I liked it.\nSecond line."]


def test_extract_features_equals_unbatched_runs(tiny):
    F = extract_features(tiny, TEXTS, batch_size=2, progress=False)
    assert set(F) == {"c", "h"} and F["c"].shape == (len(TEXTS), 16) and F["c"].dtype == np.float32
    with torch.inference_mode():
        for i, t in enumerate(TEXTS):
            c, h = tiny.features(encode(t)[None])
            np.testing.assert_allclose(F["c"][i], c[0].numpy(), atol=1e-5)
            np.testing.assert_allclose(F["h"][i], h[0].numpy(), atol=1e-5)
    F1 = extract_features(tiny, TEXTS, batch_size=128, which="h", progress=False)
    assert set(F1) == {"h"}
    np.testing.assert_allclose(F1["h"], F["h"], atol=1e-5)
    with pytest.raises(ValueError, match="which"):
        extract_features(tiny, TEXTS, which=("m",), progress=False)
    with pytest.raises(ValueError, match="text 1"):
        extract_features(tiny, ["ok", "   "], progress=False)


def test_h_mean_is_the_hidden_state_averaged_over_every_byte(tiny):
    F = extract_features(tiny, TEXTS, batch_size=2, which=("h_mean", "c"), progress=False)
    assert set(F) == {"h_mean", "c"}
    with torch.inference_mode():
        for i, t in enumerate(TEXTS):
            H, (c, _) = tiny.scan(encode(t)[None])
            assert H.shape[1] == len(preprocess(t))
            np.testing.assert_allclose(F["h_mean"][i], H[0].mean(0).numpy(), atol=1e-5)
            np.testing.assert_allclose(F["c"][i], c[0].numpy(), atol=1e-5)
    # padding does not leak into the average: one long batch == batches of one
    F1 = extract_features(tiny, TEXTS, batch_size=1, which="h_mean", progress=False)
    np.testing.assert_allclose(F1["h_mean"], F["h_mean"], atol=1e-5)
    with pytest.raises(ValueError, match="h_mean"):
        byte_trace(tiny, "fine", unit=1, site="h_mean")  # an average has no per-byte trace


def test_byte_trace_one_value_per_character(tiny):
    text = "Café crème &amp; 5€ ok"
    chars, vals = byte_trace(tiny, text, unit=4)
    body = preprocess(text)[2:-1].decode("utf-8")  # "Café crème & 5€ ok"
    assert "".join(chars) == body and len(chars) == len(body) == len(vals)
    # the value after a multi-byte character is the one after its last byte
    _, cache = tiny.run_with_cache(encode(text)[None], names_filter="hook_c")
    c = cache["hook_c"][0, :, 4].detach().numpy()
    data = preprocess(text)
    e_acute_end = data.index("é".encode()) + 1
    assert vals[chars.index("é")] == pytest.approx(c[e_acute_end])
    assert vals[-1] == pytest.approx(c[len(data) - 2])  # last character before the trailing space
    chars_p, vals_p = byte_trace(tiny, text, unit=4, keep_pads=True)
    assert len(chars_p) == len(chars) + 3 and chars_p[:2] == ["\n", " "] and chars_p[-1] == " "
    _, vd = byte_trace(tiny, text, direction=neuron(4, 16, "hook_c"))
    np.testing.assert_allclose(vd, vals, atol=1e-6)
    _, vh = byte_trace(tiny, text, direction=torch.ones(16), site="h")
    assert len(vh) == len(chars)
    for bad in (dict(unit=16), dict(unit=1, direction=torch.ones(16)), dict(direction=torch.ones(5)), {}):
        with pytest.raises(ValueError):
            byte_trace(tiny, text, **bad)


def test_untrained_like_is_a_fresh_init(tiny):
    trained = MLSTM(d_hidden=16, d_embed=8, seed=3)
    with torch.no_grad():
        trained.W_out.add_(1.0)
    fresh = untrained_like(trained)
    assert fresh.cfg == trained.cfg
    for k, v in fresh.state_dict().items():
        assert torch.equal(v, tiny.state_dict()[k])


# --------------------------------------------------------------------------- steering


def test_steer_hold_changes_samples_and_is_deterministic(tiny):
    base = sample(tiny, prompt="This movie", n_bytes=60, seed=1)
    assert base.startswith("This movie") and base == sample(tiny, prompt="This movie", n_bytes=60, seed=1)
    assert base != sample(tiny, prompt="This movie", n_bytes=60, seed=2)
    pos = sample(tiny, prompt="This movie", n_bytes=60, seed=1, hold={"unit": 3, "value": 3.0})
    neg = sample(tiny, prompt="This movie", n_bytes=60, seed=1, hold={"unit": 3, "value": -3.0})
    assert pos != base and neg != base and pos != neg
    assert pos == sample(tiny, prompt="This movie", n_bytes=60, seed=1, hold={"unit": 3, "value": 3.0})
    # holding the direction e_3 is holding unit 3
    via_dir = sample(tiny, prompt="This movie", n_bytes=60, seed=1,
                     hold={"direction": neuron(3, 16, "hook_c").vector * 2.0, "value": 3.0})
    assert via_dir == pos
    assert sample(tiny, n_bytes=0) == ""
    greedy = sample(tiny, n_bytes=20, temperature=0.0, seed=0)
    assert greedy == sample(tiny, n_bytes=20, temperature=0.0, seed=99)


@pytest.mark.parametrize("hold, match", [
    ({"unit": 3, "value": 1.0, "site": "h"}, "unknown key"),
    ({"neuron": 3, "value": 1.0}, "unknown key"),
    ({"unit": 16, "value": 1.0}, "out of range"),
    ({"unit": -1, "value": 1.0}, "out of range"),
    ({"unit": 2.5, "value": 1.0}, "int"),
    ({"unit": 3}, "value"),
    ({"unit": 3, "value": "big"}, "number"),
    ({"unit": 3, "value": float("nan")}, "finite"),
    ({"direction": torch.ones(15), "value": 1.0}, "width"),
    ({"direction": torch.zeros(16), "value": 1.0}, "zero"),
    ({"unit": 3, "direction": torch.ones(16), "value": 1.0}, "exactly one"),
    ({"value": 1.0}, "exactly one"),
    ([3, 1.0], "dict"),
])
def test_bad_hold_spec_is_a_value_error(tiny, hold, match):
    with pytest.raises(ValueError, match=match):
        sample(tiny, n_bytes=5, hold=hold)
    assert check_hold(None, 16) is None


# --------------------------------------------------------------------------- baselines and report


def test_bag_of_words_on_real_sst_is_quick_and_above_70_on_dev():
    from interp import data as D

    tr, dv = D.sst("train"), D.sst("dev")
    t0 = time.perf_counter()
    r = bag_of_words(tr.texts, tr.labels, dv.texts, dv.labels, ngram_range=(1, 1), C_grid=(1.0, 4.0))
    assert time.perf_counter() - t0 < 20
    assert r["dev_acc"] > 0.70 and r["test_acc"] is None and r["C"] in (1.0, 4.0)


def test_probe_report_on_a_tiny_model(tiny):
    res = probe_report(tiny, model_name="tiny", limit=120, progress=False, curve_sizes=(10, 40), curve_seeds=(0,))
    probe_rows = res.tables[0].rows
    assert len(probe_rows) == 13  # (L1, L2, unit) x (c, h) x (trained, untrained) + bag of words
    assert res.tables[0].columns[2:] == ["site", "test accuracy", "dev accuracy", "non-zero weights", "C"]
    assert any(str(r[0]).startswith("best single unit (") for r in probe_rows)
    assert res.figures[0]["layout"]["xaxis"]["type"] == "log"
    assert len(res.traces) == 2 and all(len(t.tokens) == len(t.values) for t in res.traces)
    d = res.data
    assert d["n"] == {"train": 120, "dev": 120, "test": 120}
    assert set(d["trained"]) == {"c", "h"} and d["best_unit"]["site"] in ("c", "h")
    assert d["trained"]["c"]["l1"]["C"] in C_GRID_L1
    assert res.manifest["model"] == "tiny" and len(res.manifest["data_files"]) == 3
    assert "timings" in d and d["timings"]["total"] > 0


def test_probe_report_with_h_mean_and_checkpoint_comparison(tiny, tmp_path):
    path = tiny.save(tmp_path / "m" / "model", meta={"chars_seen": 1234, "held_out_bpc": 7.5})
    res = probe_report(tiny, model_name="tiny", features_from=("h_mean",), limit=80, progress=False, curve=False,
                       bow=False, model_path=str(path))
    assert set(res.data["trained"]) == {"h_mean"} and res.traces == []  # no per-byte trace of an average
    assert res.data["checkpoint"] == {"chars_seen": 1234, "held_out_bpc": 7.5}
    assert "1,234 training characters" in res.summary and "Mean h" in res.summary
    other = probe_report(untrained_like(tiny), model_name="fresh", features_from=("c",), limit=80, progress=False,
                         curve=False, bow=False, untrained=False)
    comp = checkpoint_comparison([other, res], command="interp probe-mlstm x --compare y")
    rows = comp.tables[0].rows
    assert [r[0] for r in rows] == ["fresh", "tiny", f"untrained, {tiny.cfg.d_hidden} units"]
    r = rows[1]
    assert r[2:5] == [1234, 7.5, "h_mean"]
    assert r[5] == res.data["trained"]["h_mean"]["l1"]["test_acc"] and r[7] == res.data["trained"]["h_mean"]["l2"]["test_acc"]
    assert comp.manifest["command"] == "interp probe-mlstm x --compare y"
    bars = comp.figures[0]["data"]
    assert [b["name"] for b in bars] == ["L1 probe", "L2 probe", "best single unit"]
    assert bars[1]["x"] == ["fresh · c", "tiny · h_mean", f"untrained, {tiny.cfg.d_hidden} units · h_mean"]
    assert bars[1]["y"] == [r[7] for r in rows]
    assert len(comp.figures) == 1  # neither run computed a data-efficiency curve: no empty plot
    with pytest.raises(ValueError, match="probe results"):
        checkpoint_comparison([comp])
    with pytest.raises(ValueError, match="at least one"):
        checkpoint_comparison([])


def test_imdb_probe_splits_are_balanced_disjoint_and_keep_test_apart():
    S = probe_splits("imdb", limit=40, seed=1)
    assert [S[k].name for k in ("train", "dev", "test")] == ["imdb/train", "imdb/train", "imdb/test"]
    assert all(len(S[k]) == 40 and S[k].n_pos == 20 for k in S)
    assert not set(S["train"].indices) & set(S["dev"].indices)  # dev is other reviews than train
    assert all(len(t) > 100 for t in S["test"].texts)  # whole reviews, not sentences
    again = probe_splits("imdb", limit=40, seed=1)
    assert again["dev"].indices.tolist() == S["dev"].indices.tolist()
    assert probe_splits("imdb", limit=40, seed=2)["train"].indices.tolist() != S["train"].indices.tolist()
    with pytest.raises(ValueError, match="unknown probe data 'amazon'"):
        probe_splits("amazon")
    with pytest.raises(ValueError, match="too large"):
        probe_splits("imdb", limit=20_000)


def test_probe_report_on_imdb_reviews(tiny):
    res = probe_report(tiny, model_name="tiny", limit=24, data="imdb", progress=False, untrained=False,
                       features_from=("c",), curve_sizes=(10, 24), curve_seeds=(0,))
    d = res.data
    assert d["data"] == "imdb" and d["n"] == {"train": 24, "dev": 24, "test": 24}
    assert res.title.endswith("(IMDB)") and res.tables[0].title.startswith("IMDB sentiment probes")
    assert "IMDB reviews, whole" in res.tables[0].caption and "IMDB probes on tiny" in res.summary
    assert d["data_efficiency"]["c"]["sizes"] == [10, 24]
    assert [t["label"] for t in d["traces"]] == [1, 0] and all(len(t["text"]) <= 600 for t in d["traces"])
    assert res.manifest["config"]["data"] == "imdb"
    assert [Path(f["path"]).name for f in res.manifest["data_files"]][-1].startswith("test")
    sst = probe_report(tiny, model_name="tiny", limit=40, progress=False, untrained=False, features_from=("c",),
                       curve=False, bow=False)
    with pytest.raises(ValueError, match="one data set"):
        checkpoint_comparison([sst, res])


def test_checkpoint_comparison_of_the_shipped_probe_results_overlays_data_efficiency():
    """On the committed probe runs of two mLSTM-512 checkpoints: one curve per model and feature set,
    with the sizes and means each run measured, and the bag-of-words line once."""
    root = Path(__file__).resolve().parents[1] / "analyses" / "results"
    runs = [Result.load(root / n / "result.json") for n in ("probe-mlstm-512-31M", "probe-mlstm-512-85M")]
    comp = checkpoint_comparison(runs)
    curves = comp.figures[1]["data"]
    named = {c["name"]: c for c in curves}
    for r in runs:
        for w, cv in r.data["data_efficiency"].items():
            c = named[f"{r.data['model_name']} · {w}"]
            assert c["x"] == cv["sizes"] and c["y"] == cv["mean"]
    assert [c["name"] for c in curves].count("bag of words") == 1
    assert named["bag of words"]["y"][0] == runs[0].data["bag_of_words"]["test_acc"]
    # both runs probed the same random init: its rows appear once
    names = [r[0] for r in comp.tables[0].rows]
    assert names.count("untrained, 512 units") == 3
    assert len(comp.figures[0]["data"][0]["x"]) == 9


# --------------------------------------------------------------------------- CLI


@pytest.mark.parametrize("cmd", ["train-mlstm", "probe-mlstm", "steer"])
def test_cli_help(cmd):
    r = runner.invoke(app, [cmd, "--help"])
    assert r.exit_code == 0, r.output
    assert "Usage" in r.output


@pytest.mark.parametrize("args", [["probe-mlstm"], ["steer", "--unit", "1", "--value", "2"]])
def test_cli_missing_checkpoint(tmp_path, args):
    missing = tmp_path / "nope" / "model.safetensors"
    r = runner.invoke(app, [args[0], str(missing), *args[1:]])
    assert r.exit_code == 2 and "no mLSTM checkpoint" in r.output and "nope" in r.output
    r = runner.invoke(app, [args[0], str(tmp_path), *args[1:]])  # a folder without model.safetensors
    assert r.exit_code == 2 and "model.safetensors" in r.output


def test_cli_probe_and_steer_on_a_tiny_checkpoint(tiny, tmp_path):
    run = tmp_path / "run"
    tiny.save(run / "model")
    out = tmp_path / "probe"
    r = runner.invoke(app, ["probe-mlstm", str(run), "--out", str(out), "--limit", "60", "--no-curve", "--no-bow",
                            "--no-untrained", "--sites", "c", "--no-progress", "--threads", "1"])
    assert r.exit_code == 0, r.output
    res = json.loads((out / "result.json").read_text())
    assert res["kind"] == "probe" and res["manifest"]["command"].startswith("interp probe-mlstm")
    assert len(res["manifest"]["model_hash"]) == 64 and res["data"]["sites"] == ["c"]
    assert (out / "report.html").stat().st_size > 1000
    r = runner.invoke(app, ["steer", str(run / "model.safetensors"), "--unit", "2", "--value", "4", "--n-bytes", "30"])
    assert r.exit_code == 0, r.output
    assert "held at +4" in r.output and "held at -4" in r.output
    r = runner.invoke(app, ["steer", str(run), "--unit", "16", "--value", "4"])
    assert r.exit_code == 2 and "out of range" in r.output
    r = runner.invoke(app, ["probe-mlstm", str(run), "--sites", "c,m"])
    assert r.exit_code == 2 and "m" in r.output
    # a second run shown side by side with the first
    out2 = tmp_path / "probe2"
    r = runner.invoke(app, ["probe-mlstm", str(run), "--out", str(out2), "--limit", "60", "--no-curve", "--no-bow",
                            "--no-untrained", "--sites", "h_mean", "--no-progress", "--compare",
                            str(out / "result.json")])
    assert r.exit_code == 0, r.output
    # the manifest's command reproduces the run: a repeatable option spelled once per value
    cmd = json.loads((out2 / "result.json").read_text())["manifest"]["command"]
    assert f"--compare {out / 'result.json'}" in cmd and "PosixPath" not in cmd
    comp = json.loads((out2 / "comparison.json").read_text())
    assert comp["kind"] == "probe_comparison" and [row[4] for row in comp["tables"][0]["rows"]] == ["c", "h_mean"]
    assert "mLSTM checkpoints side by side" in (out2 / "report.html").read_text()
    r = runner.invoke(app, ["probe-mlstm", str(run), "--compare", str(tmp_path / "missing.json")])
    assert r.exit_code == 2 and "missing.json" in r.output
    r = runner.invoke(app, ["probe-mlstm", str(run), "--compare", str(out2 / "comparison.json")])
    assert r.exit_code == 2 and "not a probe-mlstm result" in r.output
    r = runner.invoke(app, ["probe-mlstm", str(run), "--data", "amazon"])
    assert r.exit_code == 2 and "unknown --data 'amazon'" in r.output
    r = runner.invoke(app, ["probe-mlstm", str(run), "--data", "imdb", "--compare", str(out / "result.json")])
    assert r.exit_code == 2 and "compare like with like" in r.output


# --------------------------------------------------------------------------- analyses/mlstm_curve.py


@pytest.mark.slow  # a subprocess each: ~8 s of interpreter and torch start-up
def test_mlstm_curve_script_probes_each_snapshot_and_keeps_data_sets_apart(tiny, tmp_path):
    """The bpc-vs-probe curve script on a run folder of two tiny snapshots: one row per snapshot with
    the held-out bpc from the training log; appending IMDB rows to an SST file is refused."""
    import subprocess
    import sys

    run = tmp_path / "run"
    tiny.save(run / "snapshots" / "chars-0001M", meta={"chars_seen": 1_000_000})
    untrained_like(tiny).save(run / "snapshots" / "chars-0002M", meta={"chars_seen": 2_000_000})
    (run / "train_log.jsonl").write_text(json.dumps({"chars_seen": 1_000_000, "held_out_bpc": 6.5}) + "\n"
                                         + json.dumps({"chars_seen": 2_000_000, "held_out_bpc": None}) + "\n")
    script = Path(__file__).resolve().parents[1] / "analyses" / "mlstm_curve.py"
    out = tmp_path / "curve.json"
    cmd = [sys.executable, str(script), str(run), "--out", str(out), "--sites", "c", "--limit", "40",
           "--no-untrained", "--threads", "1"]
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert p.returncode == 0, p.stderr
    d = json.loads(out.read_text())
    assert d["data"] == "sst" and d["limit"] == 40
    assert [r["snapshot"] for r in d["rows"]] == ["chars-0001M", "chars-0002M"]
    assert d["rows"][0]["held_out_bpc"] == 6.5 and d["rows"][1]["held_out_bpc"] is None
    c = d["rows"][0]["probes"]["c"]
    assert 0 <= c["l1_test"] <= 1 and 0 <= c["best_unit"] < tiny.cfg.d_hidden
    p = subprocess.run(cmd[:-2] + ["--append", "--data", "imdb"], capture_output=True, text=True, timeout=300)
    assert p.returncode != 0 and "holds probes on 'sst'" in p.stderr


@pytest.mark.slow  # a subprocess each: ~8 s of interpreter and torch start-up
def test_mlstm_zero_shot_script_scores_every_pair_with_the_untrained_control(tiny, tmp_path):
    import subprocess
    import sys

    tiny.save(tmp_path / "m" / "model")
    script = Path(__file__).resolve().parents[1] / "analyses" / "mlstm_zero_shot.py"
    out = tmp_path / "zs.json"
    p = subprocess.run([sys.executable, str(script), str(tmp_path / "m"), "--limit", "40", "--threads", "1",
                        "--out", str(out)], capture_output=True, text=True, timeout=300)
    assert p.returncode == 0, p.stderr
    d = json.loads(out.read_text())
    assert d["data"] == "sst" and d["n"] == {"dev": 40, "test": 40}
    assert set(d["results"]) == {"trained", "untrained"}
    rows = d["results"]["trained"]
    assert len(rows) == 5 and "sum of the pairs" in rows
    assert all(0 <= r["acc_threshold_dev"] <= 1 and 0 <= r["auroc"] <= 1 for r in rows.values())
    assert d["manifest"]["command"].startswith("python") and len(d["manifest"]["model_hash"]) == 64
    assert "acc@dev" in p.stdout
    p = subprocess.run([sys.executable, str(script), str(tmp_path / "none"), "--out", str(out)],
                       capture_output=True, text=True, timeout=60)
    assert p.returncode != 0 and "no mLSTM checkpoint" in p.stderr


@pytest.mark.slow  # a subprocess: interpreter and torch start-up, IMDB read for the judge
def test_mlstm_steer_eval_script_counts_the_judged_sentiment_of_held_samples(tiny, tmp_path):
    import subprocess
    import sys

    from interp.directions import Direction

    tiny.save(tmp_path / "m" / "model")
    v = torch.zeros(tiny.cfg.d_hidden)
    v[3] = 1.0
    Direction(vector=v, site="hook_c", method="planted", data="test").save(tmp_path / "dir")
    Direction(vector=v, site="hook_h", method="wrong_site").save(tmp_path / "hdir")
    script = Path(__file__).resolve().parents[1] / "analyses" / "mlstm_steer_eval.py"
    out = tmp_path / "se.json"
    base = [sys.executable, str(script), str(tmp_path / "m"), "--n-samples", "3", "--n-bytes", "20",
            "--n-random", "1", "--judge-train", "300", "--judge-test", "100", "--threads", "1", "--out", str(out)]
    p = subprocess.run(base + ["--unit", "2", "--direction", str(tmp_path / "dir.safetensors")],
                       capture_output=True, text=True, timeout=300)
    assert p.returncode == 0, p.stderr
    d = json.loads(out.read_text())
    names = [r["target"] for r in d["table"]]
    assert names[0] == "unit 2" and names[1].startswith("planted direction")
    assert sum(n.startswith("random unit") for n in names) == 1 and sum(n.startswith("random direction") for n in names) == 1
    for r in d["table"]:
        assert r["high"] > r["low"] and 0 <= r["p_pos_high"] <= 1 and r["ci_lo"] <= r["shift"] <= r["ci_hi"]
    c = d["conditions"]["unit 2"]
    assert len(c["high"]["p_pos"]) == 3 and len(d["conditions"]["nothing held"]["p_pos"]) == 3
    assert 0.5 < d["judge_imdb_test_acc"] <= 1
    p = subprocess.run(base + ["--direction", str(tmp_path / "hdir.safetensors")], capture_output=True, text=True,
                       timeout=300)
    assert p.returncode != 0 and "hook_c" in p.stderr
    p = subprocess.run(base, capture_output=True, text=True, timeout=300)
    assert p.returncode != 0 and "--unit or --direction" in p.stderr
