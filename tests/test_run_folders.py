"""Issue 15, rows 1-5: output folders that cannot lose or mix results (through the CLI)."""

import json

import pytest
from typer.testing import CliRunner

from interp.cli import app
from interp.runs import RunFolder

runner = CliRunner()


def _refused(r, *needles):
    assert r.exit_code == 2, (r.exit_code, r.output)
    errors = [ln for ln in r.stderr.splitlines() if ln.startswith("error")]
    assert len(errors) == 1 and "Traceback" not in r.output, r.output
    for n in needles:
        assert n in errors[0], (n, errors[0])


def _ablate(model_dir, out, *extra):
    return runner.invoke(app, ["ablate", "--model", str(model_dir), "--limit", "16", "--dev-limit", "24",
                               "--reference-n", "8", "--n-random", "2", "--positions", "all", "--n-boot", "50",
                               "--no-progress", "--out", str(out), *extra])


@pytest.fixture
def no_model_load(monkeypatch):
    from interp.models.transformer import TransformerModel

    def boom(*a, **k):
        raise AssertionError("a model was loaded before the bad input was refused")

    monkeypatch.setattr(TransformerModel, "load", classmethod(boom))


def test_row1_a_second_run_into_a_folder_in_use_is_refused(tiny_model_dir, tmp_path, no_model_load):
    out = tmp_path / "run"
    first = RunFolder(out, identity={"command": "ablate", "params": {}}).open()  # another run, still writing
    try:
        _refused(_ablate(tiny_model_dir, out), "another interp run is writing", str(out))
    finally:
        first.__exit__(None, None, None)


def test_row2_a_used_folder_is_refused_and_force_leaves_no_stale_file(tiny_model_dir, tmp_path):
    out = tmp_path / "run"
    r = _ablate(tiny_model_dir, out, "--layers", "0,1")
    assert r.exit_code == 0, r.output
    assert (out / "directions" / "blocks.0.hook_resid_post.safetensors").exists()
    assert RunFolder.read_meta(out)["status"] == "complete"
    _refused(_ablate(tiny_model_dir, out, "--layers", "1"), "holds a run of another command", "--force")
    r = _ablate(tiny_model_dir, out, "--layers", "1", "--force")
    assert r.exit_code == 0, r.output
    assert not (out / "directions" / "blocks.0.hook_resid_post.safetensors").exists()  # the old run's file is gone
    assert json.loads((out / "result.json").read_text())["data"]["config"]["layers"] == [1]
    # the same command again resumes (here: every cell is done) and gives the same result
    before = json.loads((out / "result.json").read_text())["data"]["logit_diffs"]
    r = _ablate(tiny_model_dir, out, "--layers", "1")
    assert r.exit_code == 0, r.output
    assert json.loads((out / "result.json").read_text())["data"]["logit_diffs"] == before


def test_row2_a_folder_with_other_files_is_refused(tiny_model_dir, tmp_path, no_model_load):
    out = tmp_path / "mine"
    out.mkdir()
    (out / "notes.txt").write_text("keep me")
    _refused(_ablate(tiny_model_dir, out), "holds no interp run")
    assert (out / "notes.txt").read_text() == "keep me"


def test_row3_an_interrupted_run_is_marked_partial_and_report_refuses_it(tiny_model_dir, tmp_path, monkeypatch):
    out = tmp_path / "run"
    from interp import report

    def stop(*a, **k):  # Ctrl-C after result.json, before report.html
        raise KeyboardInterrupt

    monkeypatch.setattr(report, "write_report", stop)
    r = _ablate(tiny_model_dir, out)
    assert r.exit_code != 0
    meta = RunFolder.read_meta(out)
    assert meta["status"] == "partial" and "Ctrl-C" in meta["reason"]
    assert not (out / "report.html").exists()
    monkeypatch.undo()
    _refused(runner.invoke(app, ["report", str(out / "result.json"), "--out", str(tmp_path / "r.html")]),
             "did not complete", "partial")


def test_row4_report_never_overwrites_its_input(tiny_model_dir, tmp_path):
    out = tmp_path / "run"
    assert _ablate(tiny_model_dir, out).exit_code == 0
    before = (out / "result.json").read_text()
    _refused(runner.invoke(app, ["report", str(out / "result.json"), "--out", str(out / "result.json")]),
             "would overwrite the result")
    assert (out / "result.json").read_text() == before
    r = runner.invoke(app, ["report", str(out / "result.json"), "--out", str(tmp_path / "page.html")])
    assert r.exit_code == 0, r.output


def test_row5_an_unwritable_out_is_refused_before_any_work(tiny_model_dir, tmp_path, no_model_load):
    (tmp_path / "afile").write_text("")
    _refused(_ablate(tiny_model_dir, tmp_path / "afile" / "run"), "is a file, not a folder")


def test_row5_ctrl_c_in_patch_after_the_heatmap_keeps_it(tiny_model_dir, tmp_path, monkeypatch):
    import interp.experiments.summarize as S

    def stop(*a, **k):
        raise KeyboardInterrupt

    monkeypatch.setattr(S, "run_summarize", stop)
    out = tmp_path / "patch"
    r = runner.invoke(app, ["patch", "--model", str(tiny_model_dir), "--pairs", "2", "--kinds", "resid_post",
                            "--limit", "8", "--dev-limit", "8", "--reference-n", "8", "--n-random", "2",
                            "--no-progress", "--out", str(out)])
    assert r.exit_code != 0
    assert (out / "heatmap.json").exists()  # the finished part is saved
    assert RunFolder.read_meta(out)["status"] == "partial"
    assert not (out / "result.json").exists()  # nothing that looks complete


# ------------------------------------------------------------- device, dtype and engine options


def test_device_dtype_and_engine_options_reach_the_model(tiny_model_dir, tmp_path, monkeypatch):
    import torch

    from interp.models.transformer import TransformerModel

    seen = {}
    real = TransformerModel.load.__func__

    def spy(cls, name, **kw):
        seen.update(kw)
        raise KeyboardInterrupt  # enough: the options arrived

    monkeypatch.setattr(TransformerModel, "load", classmethod(spy))
    _ablate(tiny_model_dir, tmp_path / "r", "--dtype", "bfloat16", "--device", "cpu")
    assert seen["dtype"] == torch.bfloat16 and seen["device"] == "cpu" and seen["device_map"] is None
    monkeypatch.setattr(TransformerModel, "load", classmethod(real))


def test_bad_device_dtype_and_engine_are_refused_before_loading(tiny_model_dir, tmp_path, no_model_load):
    import torch

    if not torch.cuda.is_available():
        _refused(_ablate(tiny_model_dir, tmp_path / "a", "--device", "cuda"), "no CUDA GPU")
    _refused(_ablate(tiny_model_dir, tmp_path / "b", "--dtype", "fp8"), "unknown dtype")
    _refused(_ablate(tiny_model_dir, tmp_path / "c", "--device-map", "auto", "--device", "cpu"), "needs --device cuda")
    _refused(_ablate(tiny_model_dir, tmp_path / "d", "--engine", "slurm"), "unknown --engine")
    _refused(_ablate(tiny_model_dir, tmp_path / "e", "--workers", "2"), "are for --engine ray")
    assert not any((tmp_path / x).exists() for x in "abcde")  # no claim left behind


def test_a_resumed_ablate_skips_its_finished_steps_and_gives_the_same_result(tiny_model, tmp_path, monkeypatch):
    """The work before the sweep (directions, reference means, the Tigges filter and its DAS directions) is
    saved in the run folder as it finishes; running the same config again loads it instead of redoing it."""
    import numpy as np

    from interp.experiments import ablate as A

    cfg = A.AblateConfig(model="tiny", positions=["all", "commas"], limit=16, dev_limit=24, reference_n=8, n_random=2,
                         n_boot=50, protocol="tigges", tigges_splits=["dev"], tigges_limit=120, tigges_top_k=10_000,
                         das_steps=2, das_batch=4)
    ident = {"command": "test-ablate", "config": "steps"}
    with RunFolder(tmp_path / "run", identity=ident) as run:
        first = A.run_ablate(tiny_model, cfg, progress=False, engine={"run": run})
    steps = sorted(p.name for p in (tmp_path / "run" / "steps").iterdir())
    assert steps == ["directions.pt", "reference_stats.pt", "tigges_directions.pt", "tigges_population.pt"]

    def redone(*a, **k):
        raise AssertionError("a finished step was computed again")

    for name in ("get_directions", "reference_stats", "tigges_population"):
        monkeypatch.setattr(A, name, redone)
    with RunFolder(tmp_path / "run", identity=ident) as run:
        again = A.run_ablate(tiny_model, cfg, progress=False, engine={"run": run})
        assert run.resumed
    for k, v in first.data["conditions"].items():
        assert again.data["conditions"][k]["accuracy"] == v["accuracy"], k
    assert again.data["tigges_protocol"]["index"] == first.data["tigges_protocol"]["index"]
    for k, v in first.data["tigges_protocol"]["logit_diffs"].items():
        np.testing.assert_array_equal(again.data["tigges_protocol"]["logit_diffs"][k], v)
    # a step file that cannot be read is done again, not trusted
    (tmp_path / "run" / "steps" / "reference_stats.pt").write_bytes(b"not a torch file")
    monkeypatch.undo()
    with RunFolder(tmp_path / "run", identity=ident) as run:
        third = A.run_ablate(tiny_model, cfg, progress=False, engine={"run": run})
    assert third.data["conditions"]["baseline"]["accuracy"] == first.data["conditions"]["baseline"]["accuracy"]
    import torch

    assert len(torch.load(tmp_path / "run" / "steps" / "reference_stats.pt", weights_only=False)) == 3


def test_a_resumed_find_reads_no_features_again(tiny_model, tmp_path, monkeypatch):
    """interp find saves each feature set (SST train/dev/test, toy train/test) as a step of its run folder."""
    import numpy as np

    from interp.experiments.find import CompareConfig
    from interp.experiments.find import run as F

    cfg = CompareConfig(layers=[0, 1], data=["sst_last", "toy"], methods=["mean_diff", "best_neuron"], train_limit=40,
                        dev_limit=24, test_limit=24, limit=8, reference_n=8, n_random=2, positions=["all"], n_boot=20,
                        causal_methods=["mean_diff"])
    ident = {"command": "test-find", "config": "steps"}
    with RunFolder(tmp_path / "run", identity=ident) as run:
        first = F.compare(tiny_model, config=cfg, progress=False, engine={"run": run})
    steps = sorted(p.stem for p in (tmp_path / "run" / "steps").iterdir())
    assert steps == ["features_dev", "features_test", "features_toy_test", "features_toy_train", "features_train"]

    def redone(*a, **k):
        raise AssertionError("features were read again")

    monkeypatch.setattr(F, "gather_features", redone)
    with RunFolder(tmp_path / "run", identity=ident) as run:
        again = F.compare(tiny_model, config=cfg, progress=False, engine={"run": run})
    site = first.data["best_site"]
    assert again.data["best_site"] == site
    for m, v in first.data["accuracy"]["sst_last"][site].items():
        np.testing.assert_equal(again.data["accuracy"]["sst_last"][site][m]["test_acc"], v["test_acc"])


def test_run_json_keeps_every_session_of_a_resumed_run(tmp_path, monkeypatch):
    """A run stopped and resumed: run.json lists both sessions and wall_s is their sum, not the last one's."""
    from interp import runs

    now = [1000.0]
    monkeypatch.setattr(runs.time, "time", lambda: now[0])
    out, ident = tmp_path / "run", {"command": "x", "params": {"a": 1}}
    with pytest.raises(RuntimeError):
        with RunFolder(out, identity=ident) as run:  # opened at 1000
            run.write_text("cell.txt", "done")
            now[0] = 1030.0
            raise RuntimeError("stopped")  # partial at 1030
    meta = RunFolder.read_meta(out)
    assert meta["status"] == "partial" and [s["seconds"] for s in meta["sessions"]] == [30.0] and meta["wall_s"] == 30.0
    now[0] = 2000.0
    with RunFolder(out, identity=ident) as run:  # resumed at 2000, complete at 2005
        assert run.resumed
        now[0] = 2005.0
        run.complete()
    meta = RunFolder.read_meta(out)
    assert meta["status"] == "complete"
    assert [(s["seconds"], s["status"]) for s in meta["sessions"]] == [(30.0, "partial"), (5.0, "complete")]
    assert meta["wall_s"] == 35.0
    # --force starts afresh: the cleared run's sessions are not carried over
    with RunFolder(out, identity={"command": "y", "params": {}}, force=True) as run:
        now[0] = 2007.0
        run.complete()
    assert [s["seconds"] for s in RunFolder.read_meta(out)["sessions"]] == [2.0]
