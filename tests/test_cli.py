"""The interp command line: clear errors, and a real (tiny) ablate run end to end."""

import json

from typer.testing import CliRunner

from interp.cli import app

runner = CliRunner()


def test_unknown_model_is_a_clear_error():
    r = runner.invoke(app, ["ablate", "--model", "no-such-model", "--limit", "4"])
    assert r.exit_code == 2
    assert "no-such-model" in r.output and "smollm2-135m" in r.output


def test_not_pulled_model_says_how_to_pull(tmp_path, monkeypatch):
    monkeypatch.setenv("INTERP_CACHE_DIR", str(tmp_path))
    r = runner.invoke(app, ["ablate", "--model", "smollm2-135m", "--limit", "4"])
    assert r.exit_code == 2
    assert "interp models pull smollm2-135m" in r.output


def test_models_list_names_every_zoo_model(tmp_path, monkeypatch):
    monkeypatch.setenv("INTERP_CACHE_DIR", str(tmp_path))
    (tmp_path / "models" / "qwen2.5-coder-0.5b").mkdir(parents=True)
    (tmp_path / "models" / "qwen2.5-coder-0.5b" / "interp_model.json").write_text("{}")
    r = runner.invoke(app, ["models", "list"])
    assert r.exit_code == 0, r.output
    rows = {line.split()[0]: line for line in r.output.splitlines() if line.strip()}
    assert {"smollm2-135m", "gemma-3-270m", "qwen2.5-coder-0.5b", "qwen2.5-coder-1.5b", "gpt2-random"} <= set(rows)
    assert rows["qwen2.5-coder-0.5b"].split()[1] == "pulled"
    assert rows["qwen2.5-coder-1.5b"].split()[1:3] == ["not", "pulled"]
    assert "not a base model" in rows["qwen2.5-coder-1.5b"]
    # the status column lines up however long the names are
    cols = {line.index("not pulled") if "not pulled" in line else line.index("pulled") for line in rows.values()}
    assert len(cols) == 1


def test_models_pull_checksum_failure_is_one_clear_line(tmp_path, monkeypatch):
    from interp.models import zoo

    monkeypatch.setenv("INTERP_CACHE_DIR", str(tmp_path))

    def bad_fetch(name, workdir, progress=True):
        raise zoo.ChecksumError(f"size mismatch for {name}.gguf: expected 491,400,064 bytes, got 12")

    monkeypatch.setattr("interp.models.zoo.fetch.fetch_gguf", bad_fetch)
    r = runner.invoke(app, ["models", "pull", "qwen2.5-coder-0.5b"])
    assert r.exit_code == 2 and "Traceback" not in r.output
    assert "size mismatch for qwen2.5-coder-0.5b.gguf" in r.output
    assert not (tmp_path / "models" / "qwen2.5-coder-0.5b").exists()


def test_ablate_on_a_local_model_folder(tiny_model_dir, tmp_path):
    out = tmp_path / "run"
    r = runner.invoke(app, ["ablate", "--model", str(tiny_model_dir), "--limit", "16", "--dev-limit", "24",
                            "--reference-n", "8", "--n-random", "2", "--positions", "all,commas", "--out", str(out)])
    assert r.exit_code == 0, r.output
    res = json.loads((out / "result.json").read_text())
    assert {"baseline", "mean:all:direction", "mean:all:random", "mean:commas:direction",
            "mean:commas:random"} <= set(res["data"]["conditions"])
    assert res["manifest"]["command"].startswith("interp ablate")
    html = (out / "report.html").read_text()
    assert "https://" not in html.split("<script")[0]  # nothing remote in the page head
    assert (out / "directions" / "blocks.0.hook_resid_post.safetensors").exists()


def test_bad_positions_name():
    r = runner.invoke(app, ["ablate", "--model", "smollm2-135m", "--positions", "all,elbows"])
    assert r.exit_code == 2 and "elbows" in r.output and "commas" in r.output
    r = runner.invoke(app, ["ablate", "--model", "smollm2-135m", "--modes", "zero"])
    assert r.exit_code == 2 and "zero" in r.output


def test_report_missing_file(tmp_path):
    r = runner.invoke(app, ["report", str(tmp_path / "nope.json")])
    assert r.exit_code == 2 and "nope.json" in r.output


def test_ablate_then_patch_with_its_saved_directions(tiny_model_dir, tmp_path):
    """The directions/ folder of one run is the --directions of the next; a bad one is one clear line."""
    out = tmp_path / "run"
    r = runner.invoke(app, ["ablate", "--model", str(tiny_model_dir), "--limit", "12", "--dev-limit", "16",
                            "--reference-n", "8", "--n-random", "2", "--positions", "all", "--directions", "logreg_l2",
                            "--out", str(out)])
    assert r.exit_code == 0, r.output
    res = json.loads((out / "result.json").read_text())
    assert {d["method"] for d in res["data"]["directions"].values()} == {"logreg_l2"}
    assert "--directions logreg_l2" in res["manifest"]["command"]
    p = tmp_path / "patch"
    r = runner.invoke(app, ["patch", "--model", str(tiny_model_dir), "--no-heatmap", "--limit", "12", "--dev-limit", "16",
                            "--reference-n", "8", "--n-random", "2", "--positions", "all", "--modes", "project",
                            "--directions", str(out / "directions"), "--out", str(p)])
    assert r.exit_code == 0, r.output
    summ = json.loads((p / "summarization.json").read_text())
    assert {d["method"] for d in summ["data"]["directions"].values()} == {"logreg_l2"}
    assert "logreg_l2 direction" in summ["tables"][0]["caption"]
    (tmp_path / "empty").mkdir()
    r = runner.invoke(app, ["patch", "--model", str(tiny_model_dir), "--no-heatmap", "--layers", "0,1",
                            "--directions", str(tmp_path / "empty")])  # a folder without directions
    assert r.exit_code == 2 and "no saved direction" in r.output and "Traceback" not in r.output
    r = runner.invoke(app, ["ablate", "--directions", "pca"])
    assert r.exit_code == 2 and "neither a finder" in r.output
    r = runner.invoke(app, ["ablate", "--protocol", "theirs"])
    assert r.exit_code == 2 and "unknown protocol" in r.output
