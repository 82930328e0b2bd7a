"""Every bad input is refused with one line before work starts, or gives a correct result
(issue 15, rows 6-23). CLI checks go through typer's runner and assert the one ``error:`` line on
stderr and exit status 2; the Python API raises ``interp.validate.InputError`` (a ValueError) or
another interp error naming the problem."""

from __future__ import annotations

import json
import math
import os
import shutil
import stat

import numpy as np
import pytest
from typer.testing import CliRunner

from interp import data, metrics
from interp.cli import app, verify_summary
from interp.config import data_dir

runner = CliRunner()


def _refused(r, *needles: str) -> str:
    """Exit 2 and exactly one line on stderr, ``error: ...`` containing every needle."""
    assert r.exit_code == 2, (r.exit_code, r.output)
    lines = [ln for ln in r.stderr.splitlines() if ln.strip()]
    errors = [ln for ln in lines if ln.startswith("error")]
    assert len(errors) == 1 and lines[-1] == errors[0] and errors[0].startswith("error: "), r.stderr
    assert "Traceback" not in r.output
    for n in needles:
        assert n in errors[0], (n, errors[0])
    return errors[0]


@pytest.fixture
def no_model_load(monkeypatch):
    """Any attempt to load a transformer fails the test: the refusal must come before."""
    from interp.models.transformer import TransformerModel

    def boom(*a, **k):
        raise AssertionError("a model was loaded before the bad input was refused")

    monkeypatch.setattr(TransformerModel, "load", classmethod(boom))


def _small_sst(folder, *, drop_commas: bool = False, n: int = 40):
    """A data folder with the first ``n`` rows of each real SST split (optionally without commas)."""
    src = data_dir() / "sst"
    (folder / "sst").mkdir(parents=True)
    for split in ("train", "dev", "test"):
        lines = (src / f"{split}_binary_sent.csv").read_text(encoding="utf-8").splitlines(keepends=True)
        body = [ln for ln in lines[1:] if not (drop_commas and "," in ln.split(",", 1)[1])][:n]
        (folder / "sst" / f"{split}_binary_sent.csv").write_text(lines[0] + "".join(body), encoding="utf-8")
    return folder


# ------------------------------------------------------------------ row 6: sentence limits


@pytest.mark.parametrize("value, needle", [("-5", "at least 4 (or 0 for all), got -5"), ("1", "at least 4"),
                                           ("100000", "larger than SST test (1,821 rows)")])
def test_row6_limit_refused_before_the_model_loads(tiny_model_dir, no_model_load, value, needle):
    r = runner.invoke(app, ["ablate", "--model", str(tiny_model_dir), "--limit", value])
    _refused(r, "--limit", needle)


def test_row6_limit_api_no_negative_slicing(tiny_model):
    from interp.experiments.ablate import AblateConfig, run_ablate
    from interp.experiments.summarize import _subsample
    from interp.validate import InputError, check_limit

    with pytest.raises(InputError, match="at least 4"):
        run_ablate(tiny_model, AblateConfig(limit=-1815), progress=False)
    with pytest.raises(InputError, match="larger than"):
        _subsample(data.sst("dev"), 100_000, 0)
    dev = data.sst("dev")
    assert check_limit("--limit", 0, len(dev)) is None and len(_subsample(dev, 0, 0)) == len(dev) == 872
    assert len(_subsample(dev, 4, 0)) == 4


def test_row6_same_minimum_everywhere():
    from interp.experiments.find import CompareConfig
    from interp.validate import MIN_LIMIT

    assert MIN_LIMIT == 4
    for cmd in (["ablate"], ["patch"], ["find"], ["probe-mlstm", "nowhere"]):
        r = runner.invoke(app, [*cmd, "--limit", "3"])
        _refused(r, "--limit must be at least 4")
    with pytest.raises(ValueError, match="--test-limit must be at least 4"):
        CompareConfig(test_limit=-2).validate()


# ------------------------------------------------------------------ row 7: data files


def test_row7_data_file_cut_mid_row_label_and_md5(tmp_path, monkeypatch):
    src = data_dir()
    (tmp_path / "sst").mkdir()
    text = (src / "sst" / "test_binary_sent.csv").read_bytes()
    (tmp_path / "sst" / "test_binary_sent.csv").write_bytes(text[: len(text) // 2])  # cut mid-row
    monkeypatch.setenv("INTERP_DATA_DIR", str(tmp_path))
    with pytest.raises(data.DataFileError, match="ends in the middle of a row"):
        data.sst("test")
    # a label 7
    lines = text.decode().splitlines(keepends=True)
    lines[5] = "7" + lines[5][1:]
    (tmp_path / "sst" / "test_binary_sent.csv").write_text("".join(lines))
    with pytest.raises(data.DataFileError, match=r":6: label 7 is not one of 0, 1"):
        data.sst("test")
    # whole file again, but MD5SUMS of the real folder: a changed byte is refused
    shutil.copy(src / "MD5SUMS", tmp_path / "MD5SUMS")
    good = bytearray(text)
    good[100] = ord("X") if good[100] != ord("X") else ord("Y")
    (tmp_path / "sst" / "test_binary_sent.csv").write_bytes(bytes(good))
    with pytest.raises(data.DataFileError, match="does not match .*MD5SUMS"):
        data.sst("test")
    (tmp_path / "sst" / "test_binary_sent.csv").write_bytes(text)
    assert len(data.sst("test")) == 1821  # the real file passes its MD5


def test_row7_cli_refuses_a_cut_data_file(tmp_path, monkeypatch, tiny_model_dir, no_model_load):
    _small_sst(tmp_path)
    p = tmp_path / "sst" / "dev_binary_sent.csv"
    p.write_bytes(p.read_bytes()[:-7])
    monkeypatch.setenv("INTERP_DATA_DIR", str(tmp_path))
    _refused(runner.invoke(app, ["ablate", "--model", str(tiny_model_dir)]), "dev_binary_sent.csv", "cut short")


# ------------------------------------------------------------------ row 8: texts


@pytest.mark.parametrize("texts, needle", [("A great film.", "not one str"), (b"bytes", "not one bytes"),
                                           ([b"x"], "text 0 is bytes"), ([None], "text 0 is NoneType"),
                                           ([""], "text 0 is empty"), (["ok", "   "], "text 1 is empty"),
                                           ([], "no texts")])
def test_row8_evaluate_refuses_bad_texts(tiny_model, texts, needle):
    from interp.tasks import SSTZeroShot
    from interp.validate import InputError

    with pytest.raises(InputError, match=needle):
        SSTZeroShot().evaluate(tiny_model, texts, progress=False)


# ------------------------------------------------------------------ row 9: the NaN rule


def test_row9_nan_rule_in_metrics():
    assert metrics.format_removed(float("nan"), -1.0, 3.0) == metrics.UNDEFINED == "undefined: baseline at or below chance"
    assert metrics.format_removed(0.25, 0.1, 0.4) == "25.0% [10.0%, 40.0%]"
    at_chance = np.array([1, 0, 1, 0, 1, 0])  # baseline accuracy 0.5
    assert all(math.isnan(x) for x in metrics.bootstrap_removed(at_chance, at_chance[::-1].copy(), 200, 0))


def test_row9_limit_1_refused_and_undefined_printed_as_such(tiny_model_dir, tmp_path):
    _refused(runner.invoke(app, ["ablate", "--model", str(tiny_model_dir), "--limit", "1"]), "at least 4")
    out = tmp_path / "run"
    r = runner.invoke(app, ["ablate", "--model", str(tiny_model_dir), "--limit", "16", "--dev-limit", "16",
                            "--reference-n", "8", "--n-random", "2", "--positions", "all", "--layers", "0,1",
                            "--n-boot", "100", "--out", str(out)])
    assert r.exit_code == 0, r.output
    res = json.loads((out / "result.json").read_text())
    acc0 = res["data"]["conditions"]["baseline"]["accuracy"]
    table = res["tables"][0]
    removed_cols = [i for i, c in enumerate(table["columns"]) if "removed" in c]
    cells = [row[i] for row in table["rows"] for i in removed_cols]
    assert all(isinstance(c, str) and "nan" not in c.lower() for c in cells)
    if acc0 <= 0.5:  # this random model is at or below chance on these 16 sentences
        assert metrics.UNDEFINED in cells and metrics.UNDEFINED in r.stdout
        assert "warning: baseline accuracy" in r.stderr
    assert "nan%" not in r.output


# ------------------------------------------------------------------ row 10: --model with --mlstm


def test_row10_patch_model_and_mlstm(tmp_path, no_model_load):
    _refused(runner.invoke(app, ["patch", "--model", "x", "--mlstm", str(tmp_path)]), "--model or --mlstm, not both")


# ------------------------------------------------------------------ rows 11, 17: report inputs


def _saved_result(tmp_path):
    from interp.report.results import Result, Table, make_manifest

    r = Result(kind="ablate", title="t", tables=[Table("tab", ["a", "b"], [[1, 2], [3, 4]])],
               manifest=make_manifest(command="interp ablate"))
    return json.loads(r.save(tmp_path / "r.json").read_text())


def test_row11_report_refuses_missing_manifest_and_cut_rows(tmp_path):
    d = _saved_result(tmp_path)
    assert runner.invoke(app, ["report", str(tmp_path / "r.json"), "--out", str(tmp_path / "ok.html")]).exit_code == 0
    no_manifest = dict(d, manifest={})
    (tmp_path / "m.json").write_text(json.dumps(no_manifest))
    _refused(runner.invoke(app, ["report", str(tmp_path / "m.json")]), "m.json", "no manifest")
    cut = json.loads(json.dumps(d))
    cut["tables"][0]["rows"][1] = [3]
    (tmp_path / "c.json").write_text(json.dumps(cut))
    _refused(runner.invoke(app, ["report", str(tmp_path / "c.json")]), "c.json", "row 1 has 1 cells for 2 columns")
    assert not (tmp_path / "report.html").exists()


@pytest.mark.parametrize("content, needle", [("[1, 2]", "a JSON list, not an interp result"),
                                             ('{"hello": 1}', "not an interp result"),
                                             ("not json at all", "not JSON"), ("", "not JSON")])
def test_row17_report_on_things_that_are_not_results(tmp_path, content, needle):
    p = tmp_path / "x.json"
    p.write_text(content)
    _refused(runner.invoke(app, ["report", str(p)]), "x.json", needle)


def test_row17_report_on_a_folder(tmp_path):
    _refused(runner.invoke(app, ["report", str(tmp_path)]), "is a folder, not a result file")


# ------------------------------------------------------------------ row 12: context length


def test_row12_text_longer_than_the_context(tiny_model):
    from interp.tasks import SSTZeroShot
    from interp.validate import InputError

    with pytest.raises(InputError, match=r"more than the context of .* \(512 tokens\)"):
        SSTZeroShot().evaluate(tiny_model, ["great " * 20_000], progress=False)


# ------------------------------------------------------------------ row 13: option values


@pytest.mark.parametrize("args, needle", [
    (["--layers", "a"], "--layers: 'a' is not a layer number"),
    (["--layers", "99"], "layer 99 is out of range"),
    (["--layers", "-1"], "layers count from 0"),
    (["--layers", "0,0"], "given twice"),
    (["--reference-n", "0"], "--reference-n must be at least 1"),
    (["--threads", "-1"], "--threads must be at least 1"),
    (["--n-random", "0"], "n_random must be at least 1"),
    (["--n-boot", "0"], "--n-boot must be at least 1"),
    (["--batch-size", "0"], "--batch-size must be at least 1"),
])
def test_row13_bad_values_refused_before_the_model_loads(tiny_model_dir, no_model_load, args, needle):
    _refused(runner.invoke(app, ["ablate", "--model", str(tiny_model_dir), *args]), needle)


@pytest.mark.parametrize("cmd", [["patch"], ["find"]])
def test_row13_layers_checked_in_patch_and_find(tiny_model_dir, no_model_load, cmd):
    _refused(runner.invoke(app, [*cmd, "--model", str(tiny_model_dir), "--layers", "99"]), "layer 99 is out of range",
             "layers 0..1")
    _refused(runner.invoke(app, [*cmd, "--model", str(tiny_model_dir), "--layers", "x"]), "'x' is not a layer number")


# ------------------------------------------------------------------ row 14: model folders


def test_row14_model_folders(tmp_path, monkeypatch, no_model_load):
    empty = tmp_path / "empty"
    empty.mkdir()
    _refused(runner.invoke(app, ["ablate", "--model", str(empty)]), "has no config.json")
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "config.json").write_text("{not json")
    _refused(runner.invoke(app, ["ablate", "--model", str(bad)]), "config.json is not valid JSON")
    (bad / "config.json").write_text('{"hidden_size": 4}')
    _refused(runner.invoke(app, ["find", "--model", str(bad)]), "has no model_type")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hub"))
    _refused(runner.invoke(app, ["ablate", "--model", "pythia-14m"]), "not in the local Hugging Face cache",
             "HF_HUB_OFFLINE")


def test_row14_broken_weights_are_an_interp_error(tmp_path, tiny_model_dir):
    from interp.models.transformer import TransformerModel
    from interp.models.zoo import ModelFolderError

    broken = tmp_path / "broken"
    shutil.copytree(tiny_model_dir, broken)
    for f in broken.glob("*.safetensors"):
        f.write_bytes(b"\0" * 10)
    with pytest.raises(ModelFolderError, match="cannot load model"):
        TransformerModel.load(str(broken))


# ------------------------------------------------------------------ row 15: data folder, selectors


def test_row15_empty_data_folder_before_the_model_loads(tmp_path, monkeypatch, tiny_model_dir, no_model_load):
    monkeypatch.setenv("INTERP_DATA_DIR", str(tmp_path))
    _refused(runner.invoke(app, ["ablate", "--model", str(tiny_model_dir)]), "data folder not found", "INTERP_DATA_DIR")
    monkeypatch.setenv("INTERP_DATA_DIR", str(tmp_path / "missing"))
    _refused(runner.invoke(app, ["patch", "--model", str(tiny_model_dir)]), "is not a folder")


def test_row15_selector_without_a_match_is_one_line(tmp_path, monkeypatch, tiny_model_dir):
    monkeypatch.setenv("INTERP_DATA_DIR", str(_small_sst(tmp_path / "d", drop_commas=True)))
    r = runner.invoke(app, ["ablate", "--model", str(tiny_model_dir), "--positions", "commas", "--reference-n", "8",
                            "--n-random", "2", "--layers", "0", "--no-progress", "--out", str(tmp_path / "o")])
    _refused(r, "selector 'commas' matched nothing")


# ------------------------------------------------------------------ row 16: mLSTM checkpoints


def _bad_checkpoints(tmp_path):
    from interp.models.mlstm import MLSTM

    good = MLSTM(d_hidden=16, d_embed=8, seed=0).save(tmp_path / "good" / "model")
    raw = good.read_bytes()
    out = {}
    for kind, content in (("empty", b""), ("truncated", raw[: len(raw) // 2]), ("random", os.urandom(4096))):
        folder = tmp_path / kind
        folder.mkdir()
        (folder / "model.safetensors").write_bytes(content)
        shutil.copy(good.with_suffix(".json"), folder / "model.json")
        out[kind] = folder
    return out


@pytest.mark.parametrize("kind", ["empty", "truncated", "random"])
def test_row16_damaged_mlstm_checkpoint_in_every_command(tmp_path, kind):
    folder = _bad_checkpoints(tmp_path)[kind]
    for cmd in (["probe-mlstm", str(folder)], ["steer", str(folder), "--unit", "0", "--value", "1"],
                ["find", "--mlstm", str(folder)], ["patch", "--mlstm", str(folder)]):
        _refused(runner.invoke(app, cmd), "model.safetensors", "copy it again")


def test_row16_patch_mlstm_with_a_card_that_does_not_match(tmp_path):
    from interp.models.mlstm import MLSTM

    path = MLSTM(d_hidden=16, d_embed=8, seed=0).save(tmp_path / "m")
    card = json.loads((tmp_path / "m.json").read_text())
    card["config"]["d_hidden"] = 32
    (tmp_path / "m.json").write_text(json.dumps(card))
    _refused(runner.invoke(app, ["patch", "--mlstm", str(path)]), "m.safetensors", "W_mx")


# ------------------------------------------------------------------ row 18


def test_row18_models_verify_nosuch_and_nothing_to_do(tiny_model_dir, no_model_load):
    _refused(runner.invoke(app, ["models", "verify", "nosuch"]), "unknown model 'nosuch'")
    _refused(runner.invoke(app, ["patch", "--model", str(tiny_model_dir), "--no-heatmap", "--no-summary"]),
             "nothing to do")


# ------------------------------------------------------------------ row 19: --quick


def test_row19_quick_is_quick_and_options_win(tiny_model_dir, tmp_path):
    out = tmp_path / "q"
    r = runner.invoke(app, ["ablate", "--model", str(tiny_model_dir), "--quick", "--positions", "all",
                            "--dev-limit", "24", "--no-progress", "--out", str(out)])
    assert r.exit_code == 0, r.output
    saved = json.loads((out / "result.json").read_text())
    cfg = saved["data"]["config"]
    command = saved["manifest"]["command"]  # reproduces the run: what --quick chose is spelled out
    assert "--quick" in command and "--reference-n 32" in command and "--layers 0,1" in command
    assert (cfg["limit"], cfg["reference_n"], cfg["n_random"], cfg["n_boot"]) == (100, 32, 4, 500)
    assert cfg["dev_limit"] == 24  # given: wins over --quick
    assert cfg["layers"] == [0, 1]  # three evenly spread layers of a 2-layer model: 0 and 1
    help_text = runner.invoke(app, ["ablate", "--help"]).output
    assert "--quick" in help_text and "quick look" in help_text


# ------------------------------------------------------------------ row 20: names, flags, -h, --version


def test_row20_consistent_options_help_and_version():
    import typer.main

    cmds = typer.main.get_command(app).commands
    opts = {name: {o for p in c.params for o in (*p.opts, *p.secondary_opts)} for name, c in cmds.items()}
    for name in ("ablate", "patch", "find"):
        assert {"--modes", "--n-boot", "--progress", "--no-progress", "--limit", "--quick"} <= opts[name], name
    for name in ("probe-mlstm", "train-mlstm"):
        assert "--progress" in opts[name]
    assert "--mode" in opts["find"]  # the old name still works...
    _refused(runner.invoke(app, ["find", "--mode", "zero"]), "zero")
    assert "--mode " not in runner.invoke(app, ["find", "--help"]).output  # ...but is not shown
    r = runner.invoke(app, ["--version"])
    assert r.exit_code == 0 and r.output.startswith("interp ")
    h = runner.invoke(app, ["ablate", "-h"])
    assert h.exit_code == 0 and "--per-layer" in h.output
    assert "<bool>" not in h.output and "--include-first" in h.output
    assert "<bool>" not in runner.invoke(app, ["patch", "--help"]).output


def test_row20_debug_shows_the_traceback():
    r = runner.invoke(app, ["--debug", "ablate", "--layers", "a"])
    assert r.exit_code != 2 and r.exception is not None and "is not a layer number" in str(r.exception)


# ------------------------------------------------------------------ row 21: outputs


def test_row21_patch_writes_result_json(tiny_model_dir, tmp_path):
    out = tmp_path / "p"
    r = runner.invoke(app, ["patch", "--model", str(tiny_model_dir), "--no-summary", "--pairs", "4", "--kinds",
                            "resid_post", "--no-progress", "--out", str(out)])
    assert r.exit_code == 0, r.output
    from interp.report.results import Result

    res = Result.load(out / "result.json", require_manifest=True)
    assert res.kind == "patch" and "patch" in res.data and res.manifest["command"].startswith("interp patch")
    assert (out / "heatmap.json").is_file() and (out / "report.html").is_file()


def test_row21_models_verify_summary_and_file_modes(tiny_model_dir, tmp_path):
    r = runner.invoke(app, ["models", "verify", str(tiny_model_dir)])
    assert r.exit_code == 0, r.output
    assert r.output.startswith("PASSED: ") and "max |logit diff|" in r.output and "{" not in r.output
    fake = {"passed": False, "folder": "f", "atol": 1e-4, "max_abs_logit_diff": 0.5, "batch_max_abs_logit_diff": 0.5,
            "per_text": [{"text": "Hi", "n_tokens": 2, "max_abs_logit_diff": 0.5}]}
    assert verify_summary(fake).startswith("FAILED: f")
    import torch

    from interp.directions import Direction

    st = Direction(torch.tensor([1.0, 0.0]), site="s", model="m", method="x").save(tmp_path / "d" / "s")
    mode = lambda p: stat.S_IMODE(p.stat().st_mode)  # noqa: E731
    assert mode(st) == mode(st.with_suffix(".json"))


# ------------------------------------------------------------------ rows 22, 23: phases, warnings, layers


def test_row22_23_progress_warnings_and_per_layer_rows(tiny_model_dir, tmp_path):
    out = tmp_path / "a"
    r = runner.invoke(app, ["ablate", "--model", str(tiny_model_dir), "--layers", "0,1", "--per-layer", "--limit", "16",
                            "--dev-limit", "16", "--reference-n", "8", "--n-random", "2", "--positions", "all",
                            "--n-boot", "100", "--out", str(out)])
    assert r.exit_code == 0, r.output
    assert "toy directions" in r.stderr  # the toy-direction phase has a progress bar
    warn = [ln for ln in r.stderr.splitlines() if "warning" in ln.lower()]
    assert all(ln.startswith("warning: ") for ln in warn) and "UserWarning" not in r.stderr and ".py:" not in r.stderr
    res = json.loads((out / "result.json").read_text())
    assert {"mean:all@L0:direction", "mean:all@L1:direction", "mean:all@L0:random"} <= set(res["data"]["conditions"])
    table = res["tables"][0]
    col = table["columns"].index("layers")
    assert [row[col] for row in table["rows"]] == ["0", "1"]
    assert res["data"]["conditions"]["mean:all@L1:direction"]["layers"] == [1]
    # without --per-layer: one row, and it says which layers
    out2 = tmp_path / "b"
    r = runner.invoke(app, ["ablate", "--model", str(tiny_model_dir), "--layers", "0,1", "--limit", "16",
                            "--dev-limit", "16", "--reference-n", "8", "--n-random", "2", "--positions", "all",
                            "--n-boot", "100", "--no-progress", "--out", str(out2)])
    assert r.exit_code == 0, r.output
    t2 = json.loads((out2 / "result.json").read_text())["tables"][0]
    assert [row[t2["columns"].index("layers")] for row in t2["rows"]] == ["0,1"]
    assert "layers 0,1:" in r.stdout


def test_row12_max_tokens_cuts_and_the_result_records_it(tiny_model, tiny_model_dir, tmp_path, no_model_load):
    from interp.tasks import SSTZeroShot

    long_text = "great " * 2000
    try:
        tiny_model.max_tokens = 32
        b = tiny_model.tokenize(SSTZeroShot().format([long_text, "short"]))
        assert int(b.lengths[0]) == 32 and int(b.lengths[1]) < 32
        assert b.tokens[0, 0] == tiny_model.bos_token_id and tiny_model.truncated == {SSTZeroShot().format([long_text])[0]}
        assert b.pieces[0][-1].strip() == "very"  # the prompt's end is kept
    finally:
        tiny_model.max_tokens, tiny_model.truncated = None, set()
    _refused(runner.invoke(app, ["ablate", "--model", str(tiny_model_dir), "--max-tokens", "4"]), "--max-tokens must be at least 64")
    _refused(runner.invoke(app, ["ablate", "--model", str(tiny_model_dir), "--max-tokens", "9999"]), "at most 512")
    _refused(runner.invoke(app, ["find", "--mlstm", str(tmp_path), "--max-tokens", "64"]), "for transformers")


def test_row12_max_tokens_in_a_run(tiny_model_dir, tmp_path):
    out = tmp_path / "t"
    r = runner.invoke(app, ["ablate", "--model", str(tiny_model_dir), "--max-tokens", "64", "--limit", "40", "--dev-limit",
                            "8", "--reference-n", "8", "--n-random", "2", "--positions", "all", "--layers", "0",
                            "--n-boot", "50", "--no-progress", "--seed", "3", "--out", str(out)])
    assert r.exit_code == 0, r.output
    rec = json.loads((out / "result.json").read_text())["data"]["max_tokens"]
    assert rec["max_tokens"] == 64 and rec["texts_truncated"] > 0
    assert f"warning: --max-tokens 64: {rec['texts_truncated']} texts were cut" in r.stderr
