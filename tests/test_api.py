"""The public API: ``import interp`` (cheap, lazy, every name resolves, submodules not shadowed),
``interp.load`` (the right adapter for a zoo name, a folder, an mLSTM checkpoint; one clear line
for a source that needs converting or for nothing at all) and ``Result.to_frame``."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import types
from pathlib import Path

import pytest
import torch

import interp
from interp.models import zoo
from interp.models.loading import load, model_kind

ROOT = Path(__file__).resolve().parent.parent


# ------------------------------------------------------------------------------ import interp


def _fresh_python(code: str) -> str:
    env = {**os.environ, "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, cwd=ROOT, timeout=120)
    assert out.returncode == 0, out.stderr
    return out.stdout.strip()


def test_import_interp_imports_nothing_heavy():
    got = json.loads(_fresh_python(
        "import json, sys, interp\n"
        "heavy = ['torch', 'transformer_lens', 'transformers', 'numpy', 'pandas', 'sklearn', 'plotly']\n"
        "print(json.dumps({'file': interp.__file__, 'loaded': [m for m in heavy if m in sys.modules],\n"
        "                  'interp': sorted(m for m in sys.modules if m.startswith('interp'))}))"))
    assert Path(got["file"]).resolve() == ROOT / "interp" / "__init__.py"  # this checkout's package
    assert got["loaded"] == [] and got["interp"] == ["interp"]


def test_a_name_imports_its_module_on_first_use_only():
    got = json.loads(_fresh_python(
        "import json, sys, interp\n"
        "before = 'interp.report.results' in sys.modules\n"
        "r = interp.Result\n"
        "print(json.dumps([before, 'interp.report.results' in sys.modules, 'Result' in vars(interp),\n"
        "                  'interp.experiments.ablate' in sys.modules]))"))
    assert got == [False, True, True, False]  # Result came with its module, and nothing else did


def test_every_public_name_resolves_to_its_module_object():
    assert len(interp.__all__) == len(set(interp.__all__)) >= 45
    listed = dir(interp)
    for name in interp.__all__:
        assert name in listed, name
        value = getattr(interp, name)
        if isinstance(value, types.ModuleType):
            assert value.__name__ == f"interp.{name}"
            continue
        module = sys.modules[value.__module__]
        assert getattr(module, name) is value, name
        assert value.__module__.startswith("interp."), (name, value.__module__)


def test_public_names_are_the_ones_the_docs_promise():
    from interp import positions as P
    from interp.interventions import ActivationPatch, DirectionAblation, LeaceErasure
    from interp.models.mlstm.adapter import MLSTMModel
    from interp.models.transformer import TransformerModel
    from interp.report.html import write_report

    assert interp.TransformerModel is TransformerModel and interp.MLSTMModel is MLSTMModel
    assert interp.load is load and interp.write_report is write_report
    assert (interp.DirectionAblation, interp.LeaceErasure, interp.ActivationPatch) == (
        DirectionAblation, LeaceErasure, ActivationPatch)
    assert interp.Commas is P.Commas and interp.AllTokens is P.AllTokens
    assert interp.report is sys.modules["interp.report"]
    assert callable(interp.compare) and callable(interp.run_ablate) and callable(interp.probe_report)


def test_submodules_are_not_shadowed():
    from interp import data, positions as P, zoo as old_zoo

    assert isinstance(data, types.ModuleType) and data.__name__ == "interp.data"
    assert isinstance(P, types.ModuleType) and P.__name__ == "interp.positions"
    assert old_zoo is zoo  # the deprecated path still gives the moved module
    assert interp.positions is P and interp.data is data
    assert interp.tasks is sys.modules["interp.tasks"]  # a submodule not in __all__ still imports


def test_an_old_module_path_does_not_rebind_a_public_name():
    """``interp/compare.py`` (deprecated path of interp.experiments.find) and ``interp.compare`` (the function)."""
    got = json.loads(_fresh_python(
        "import json, sys, warnings, interp\n"
        "warnings.simplefilter('ignore')\n"
        "import interp.compare\n"
        "from interp.compare import CompareConfig\n"
        "from interp import compare\n"
        "print(json.dumps([callable(interp.compare), compare is interp.compare,\n"
        "                  sys.modules['interp.compare'].__name__, CompareConfig is interp.CompareConfig]))"))
    assert got == [True, True, "interp.experiments.find", True]


def test_unknown_attribute_is_an_attribute_error_naming_it():
    with pytest.raises(AttributeError, match="has no attribute 'no_such_thing'"):
        interp.no_such_thing
    assert not hasattr(interp, "__version_info__")  # dunders never try a submodule import
    with pytest.raises(ImportError, match="no_such_thing"):
        exec("from interp import no_such_thing", {})


# ------------------------------------------------------------------------------ interp.load


@pytest.fixture(scope="module")
def mlstm_run(tmp_path_factory):
    """A saved byte mLSTM in a run folder (``run1/model.safetensors`` + ``model.json``) and its network."""
    from interp.models.mlstm import MLSTM

    net = MLSTM(d_hidden=16, d_embed=8, seed=0).eval()
    folder = tmp_path_factory.mktemp("mlstm") / "run1"
    net.save(folder / "model")
    return folder, net


def _logits(model, texts=("A fine, warm film.", "Dull.")):
    with torch.no_grad():
        return model.run(model.tokenize(list(texts)))[0]


def test_load_a_transformer_folder_with_options(tiny_model_dir, tiny_model):
    m = interp.load(tiny_model_dir, dtype="bfloat16")
    assert type(m) is interp.TransformerModel and m.name == str(tiny_model_dir)
    assert next(m.bridge.original_model.parameters()).dtype == torch.bfloat16
    assert m.load_spec["dtype"] == "bfloat16" and m.load_spec["device"] == "cpu"
    f32 = interp.load(str(tiny_model_dir))
    assert torch.equal(_logits(f32), _logits(tiny_model))


@pytest.mark.parametrize("given", ["folder", "model.safetensors", "model.json", "model"])
def test_load_an_mlstm_checkpoint_however_it_is_named(mlstm_run, given):
    folder, net = mlstm_run
    m = interp.load(folder if given == "folder" else folder / given)
    assert type(m) is interp.MLSTMModel and m.name == "run1"
    assert m.load_spec == {"kind": "mlstm", "path": str(folder / "model.safetensors"), "name": "run1"}
    with torch.no_grad():
        ref = interp.MLSTMModel(net).run(m.tokenize(["A fine, warm film.", "Dull."]))[0]
    assert torch.equal(_logits(m), ref)


def test_load_passes_mlstm_options_and_refuses_transformer_ones(mlstm_run):
    folder, _ = mlstm_run
    m = interp.load(folder, dtype="bfloat16", device="cpu", name="mine")
    assert m.mlstm.W_out.dtype == torch.bfloat16 and m.name == "mine"
    assert m.load_spec["dtype"] == "bfloat16" and m.load_spec["device"] == "cpu"
    with pytest.raises(ValueError, match="device_map is for transformers"):
        interp.load(folder, device_map="auto")
    with pytest.raises(TypeError, match="not prepend_bos"):
        interp.load(folder, prepend_bos=False)
    with pytest.raises(ValueError, match="unknown model kind 'rnn'"):
        interp.load(folder, kind="rnn")


def test_a_zoo_name_goes_through_the_zoo(tmp_path, monkeypatch):
    assert model_kind("smollm2-135m") == "transformer"
    monkeypatch.setenv("INTERP_CACHE_DIR", str(tmp_path / "empty-cache"))
    with pytest.raises(zoo.ModelNotPulledError, match="run: interp models pull smollm2-135m"):
        interp.load("smollm2-135m")


def test_unknown_names_and_hub_names_offline_are_one_line(monkeypatch):
    with pytest.raises(zoo.UnknownModelError, match="unknown model 'no-such-model'") as e:
        interp.load("no-such-model")
    assert "\n" not in str(e.value)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(zoo.ModelFolderError, match="not in the local Hugging Face cache"):
        interp.load("EleutherAI/pythia-no-such-size")


def test_sources_that_need_converting_name_the_command(tmp_path):
    openai = tmp_path / "openai" / "model"
    openai.mkdir(parents=True)
    (openai / "0.npy").write_bytes(b"")
    nvidia = tmp_path / "mlstm.pt"
    nvidia.write_bytes(b"")
    for src, fmt in ((openai, "openai"), (openai.parent, "openai"), (openai / "0.npy", "openai"), (nvidia, "nvidia"),
                     (tmp_path, "nvidia")):
        with pytest.raises(ValueError) as e:
            interp.load(src)
        msg = str(e.value)
        assert "interp models convert-mlstm" in msg and f"--format {fmt}" in msg and "\n" not in msg, (src, msg)


def test_what_is_no_model_is_one_line(tmp_path, tiny_model_dir):
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(ValueError, match="is not a model folder: it has no config.json"):
        interp.load(empty)
    with pytest.raises(FileNotFoundError, match="no such model file"):
        interp.load(tmp_path / "gone" / "model.safetensors")
    with pytest.raises(ValueError, match="one file of the Hugging Face model folder"):
        interp.load(Path(tiny_model_dir) / "config.json")
    (tmp_path / "notes.txt").write_text("hello")
    with pytest.raises(ValueError, match="is not a model file"):
        interp.load(tmp_path / "notes.txt")
    with pytest.raises(TypeError, match="not int"):
        interp.load(3)
    run = tmp_path / "training"  # a training run folder before its first checkpoint
    run.mkdir()
    (run / "train_log.jsonl").write_text("")
    with pytest.raises(FileNotFoundError, match="written by interp train-mlstm"):
        interp.load(run)


def test_a_broken_mlstm_checkpoint_names_its_file(tmp_path):
    from interp.models.mlstm import MLSTM, CheckpointMismatchError

    st = MLSTM(d_hidden=16, d_embed=8, seed=0).save(tmp_path / "run" / "model")
    st.write_bytes(st.read_bytes()[:100])
    with pytest.raises(CheckpointMismatchError, match=str(st)):
        interp.load(tmp_path / "run")


def test_ray_specs_load_through_the_same_loader(mlstm_run, tiny_model_dir, tiny_model):
    from interp.engine.ray import load_model, model_spec

    folder, _ = mlstm_run
    m = interp.load(folder, dtype="float32")
    again = load_model(model_spec(m))
    assert again.name == "run1" and torch.equal(_logits(again), _logits(m))
    plain = interp.MLSTMModel.load(folder / "model.safetensors")  # its spec has no name: the old one is kept
    assert load_model(model_spec(plain)).name == plain.name == "model"
    t = load_model(model_spec(interp.load(tiny_model_dir)))
    assert type(t) is interp.TransformerModel and torch.equal(_logits(t), _logits(tiny_model))
    with pytest.raises(ValueError, match="unknown model kind 'rnn'"):
        load_model({"kind": "rnn", "path": "x"})


@pytest.mark.slow
def test_load_the_default_zoo_model():
    m = interp.load("smollm2-135m")
    assert type(m) is interp.TransformerModel and (m.n_layers, m.d_model) == (30, 576)


# ------------------------------------------------------------------------------ Result.to_frame


@pytest.fixture(scope="module")
def mlstm_result(mlstm_run):
    """A real result: the summarization run on the tiny mLSTM, loaded and run through the public names."""
    folder, _ = mlstm_run
    cfg = interp.MLSTMSummarizeConfig(train_limit=60, dev_limit=20, limit=20, reference_n=8, n_random=2, n_boot=20,
                                      positions=["commas", "all"], modes=["project"], batch_size=32)
    return interp.run_summarize_mlstm(interp.load(folder), cfg, progress=False)


def _cells_equal(frame, table):
    import math

    assert list(frame.columns) == [str(c) for c in table.columns] and len(frame) == len(table.rows)
    for got, want in zip(frame.itertuples(index=False), table.rows):
        for g, w in zip(got, want):
            if w is None or (isinstance(w, float) and math.isnan(w)):
                assert g is None or g != g  # None, or NaN in a numeric column
            else:
                assert g == w and isinstance(g, str) == isinstance(w, str), (g, w)


def test_to_frame_of_a_run(mlstm_result):
    res = mlstm_result
    assert len(res.tables) >= 2
    frames = res.to_frame()
    assert list(frames) == [t.title for t in res.tables]
    for t, (title, frame) in zip(res.tables, frames.items()):
        _cells_equal(frame, t)
        _cells_equal(res.to_frame(title), t)
    _cells_equal(res.to_frame(1), res.tables[1])
    _cells_equal(res.to_frame(-1), res.tables[-1])
    numeric = [c for c, v in zip(res.tables[0].columns, res.tables[0].rows[0]) if isinstance(v, (int, float))
               and not isinstance(v, bool)]
    assert numeric and all(res.to_frame(0)[c].dtype.kind in "if" for c in numeric)  # numbers stay numbers


def test_to_frame_of_a_committed_result():
    res = interp.Result.load(ROOT / "analyses" / "results" / "ablate-smollm2-135m" / "result.json")
    df = res.to_frame(0)
    _cells_equal(df, res.tables[0])
    assert df["accuracy"].dtype == "float64" and df["examples touched"].dtype == "int64"
    assert df.loc[df["positions"] == "all", "mode"].tolist()[0] == res.tables[0].rows[0][0]


def test_to_frame_refuses_unknown_tables_in_one_line(mlstm_result):
    res = mlstm_result
    with pytest.raises(ValueError, match="has no table 'nope'; its tables: 0: ") as e:
        res.to_frame("nope")
    assert res.tables[0].title in str(e.value) and "\n" not in str(e.value)
    with pytest.raises(IndexError, match=f"has {len(res.tables)} tables, so no table 99"):
        res.to_frame(99)
    with pytest.raises(TypeError, match="title or index, not float"):
        res.to_frame(1.0)
    empty = interp.Result(kind="x", title="empty")
    assert empty.to_frame() == {}
    with pytest.raises(ValueError, match="its tables: none"):
        empty.to_frame("a")


def test_to_frame_keeps_repeated_titles_apart():
    t = interp.Table("same", ["a"], [[1]])
    res = interp.Result(kind="x", title="x", tables=[t, interp.Table("same", ["b"], [[2.5]])])
    frames = res.to_frame()
    assert list(frames) == ["same", "same (1)"] and frames["same (1)"]["b"].tolist() == [2.5]


def test_to_frame_without_pandas_says_so(monkeypatch):
    monkeypatch.setitem(sys.modules, "pandas", None)
    with pytest.raises(ImportError, match="Result.to_frame needs pandas"):
        interp.Result(kind="x", title="x", tables=[interp.Table("t", ["a"], [[1]])]).to_frame()
