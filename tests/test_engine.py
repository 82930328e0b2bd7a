"""The sweep engine: equal to the plain loop it replaced, prefix reuse equal to the full run,
resumable run folders, Ray equal to local, conditions as data."""

import json

import numpy as np
import pytest
import torch

from interp import positions as P
from interp.directions import random_directions
from interp.engine import Condition, LogitDiff, ProbeScore, from_config, merge_batches, run_sweep
from interp.interventions import ActivationPatch, DirectionAblation, ResampleAblation
from interp.models.mlstm import MLSTM
from interp.models.mlstm.adapter import MLSTMModel
from interp.runs import RunFolder, RunFolderError

TEXTS = [f"this movie was {w}, i think. really {w} and {v}." for w in ("good", "bad", "fine", "awful", "great", "dull")
         for v in ("yes", "no", "maybe", "so")]


def reference_loop(model, batches, conditions, reader):
    """What every experiment did before the engine: for each batch, for each condition, one run."""
    n = sum(len(b) for b in batches)
    out = {c.name: np.full(n, np.nan) for c in conditions}
    for b in batches:
        for c in conditions:
            logits, acts = model.run(b, interventions=[iv.bind(b, model) for iv in c.interventions],
                                     read=list(getattr(reader, "read", ()) or ()))
            out[c.name][b.ids.numpy()] = reader(b, logits, acts).numpy()
    return out


def sst_like_conditions(model, n_random=3):
    """ablate's shape: one direction per layer, ablated at every layer at once, at two selectors."""
    conds = [Condition("baseline", [])]
    d = model.d_model
    for sel in ("all", "commas"):
        for what in ("direction", "random"):
            ivs = []
            for L in range(model.n_layers):
                vecs = random_directions(d, 1 if what == "direction" else n_random, seed=L + (0 if what == "direction" else 50))
                ivs.append(DirectionAblation(f"blocks.{L}.hook_resid_post", vecs, P.get(sel, allow_empty=True), mode="project"))
            conds.append(Condition(f"{sel}:{what}", ivs))
    return conds


def per_layer_conditions(model):
    """One condition per layer (a per-layer sweep): the case prefix reuse is for."""
    return [Condition(f"L{L}", [DirectionAblation(f"blocks.{L}.hook_resid_post", random_directions(model.d_model, 1, L),
                                                  P.get("all"), mode="project")]) for L in range(model.n_layers)]


@pytest.fixture(scope="module")
def examples(tiny_model):
    return tiny_model.tokenize(TEXTS)


@pytest.fixture(scope="module")
def reader(tiny_model):
    return LogitDiff(5, 7)


def _batches(model, batch, size):
    from interp.tasks import batches

    return [batch.select(i) for i in batches(len(batch), batch.lengths.tolist(), size)]


def test_engine_equals_the_plain_loop(tiny_model, examples, reader):
    conds = sst_like_conditions(tiny_model)
    ref = reference_loop(tiny_model, _batches(tiny_model, examples, 8), conds, reader)
    for reuse in (False, True):
        out = run_sweep(tiny_model, examples, conds, reader, batch_size=8, prefix_reuse=reuse, progress=False)
        for c in conds:
            assert np.array_equal(out[c.name], ref[c.name]), (reuse, c.name)


def test_counters_match_the_plain_loop(tiny_model, examples, reader):
    conds = sst_like_conditions(tiny_model)
    reference_loop(tiny_model, _batches(tiny_model, examples, 8), conds, reader)
    expected = [[(iv.touched, iv.examples_touched, iv.examples_seen) for iv in c.interventions] for c in conds]
    run_sweep(tiny_model, examples, conds, reader, batch_size=8, progress=False)
    got = [[(iv.touched, iv.examples_touched, iv.examples_seen) for iv in c.interventions] for c in conds]
    assert got == expected
    assert conds[1].interventions[0].examples_touched == len(TEXTS)


def test_prefix_reuse_equals_the_full_run_bitwise_and_runs_fewer_layers(tiny_model, examples, reader):
    conds = per_layer_conditions(tiny_model) + [Condition("baseline", [])]
    full = run_sweep(tiny_model, examples, conds, reader, batch_size=8, prefix_reuse=False, progress=False)
    reuse = run_sweep(tiny_model, examples, conds, reader, batch_size=8, prefix_reuse=True, progress=False)
    assert reuse.stats["prefix_reuse"].startswith("checked")
    for c in conds:
        assert np.array_equal(full[c.name], reuse[c.name]), c.name
    assert reuse.stats["layer_tokens"] < full.stats["layer_tokens"]


def test_prefix_reuse_with_row_subsets_and_stacking(tiny_model, examples, reader):
    rows = np.arange(0, len(TEXTS), 3)
    conds = [Condition(c.name, c.interventions, rows=rows) for c in per_layer_conditions(tiny_model)]
    full = run_sweep(tiny_model, examples, conds, reader, batch_size=8, max_rows=32, prefix_reuse=False, progress=False)
    reuse = run_sweep(tiny_model, examples, conds, reader, batch_size=8, max_rows=32, prefix_reuse=True, progress=False)
    base = run_sweep(tiny_model, examples, [Condition("baseline", [])], reader, batch_size=8, progress=False)
    others = np.setdiff1d(np.arange(len(TEXTS)), rows)
    for c in conds:
        assert np.array_equal(full[c.name], reuse[c.name])
        assert np.array_equal(full[c.name][others], base["baseline"][others])  # rows it cannot change: baseline
    # stacked conditions give the unstacked numbers (to float32 rounding: the forward is wider)
    single = run_sweep(tiny_model, examples, conds, reader, batch_size=8, max_rows=8, prefix_reuse=False, progress=False)
    for c in conds:
        np.testing.assert_allclose(full[c.name], single[c.name], rtol=1e-5, atol=1e-6)


def test_a_stopped_run_resumes_to_the_same_result_with_fewer_forwards(tiny_model, examples, reader, tmp_path):
    conds = sst_like_conditions(tiny_model)
    kw = dict(batch_size=8, shard_size=8, group_size=2, progress=False)
    plain = run_sweep(tiny_model, examples, conds, reader, **kw)
    ident = {"command": "test", "n": len(TEXTS)}
    with pytest.raises(RuntimeError, match="fail_after"):
        with RunFolder(tmp_path / "run", identity=ident) as run:
            run_sweep(tiny_model, examples, conds, reader, run=run, fail_after=4, **kw)
    meta = RunFolder.read_meta(tmp_path / "run")
    assert meta["status"] == "partial" and "resume" in meta["reason"]
    assert not (tmp_path / "run" / "result.json").exists()
    with RunFolder(tmp_path / "run", identity=ident) as run:
        assert run.resumed
        again = run_sweep(tiny_model, examples, conds, reader, run=run, **kw)
        run.complete()
    assert again.stats["cells_resumed"] == 4
    assert again.stats["forwards"] < plain.stats["forwards"]
    for c in conds:
        assert np.array_equal(again[c.name], plain[c.name])
    # counters are restored from the saved cells too
    fresh = sst_like_conditions(tiny_model)
    run_sweep(tiny_model, examples, fresh, reader, **kw)
    assert [[iv.touched for iv in c.interventions] for c in conds] == [[iv.touched for iv in c.interventions] for c in fresh]


def test_a_torn_cell_is_run_again(tiny_model, examples, reader, tmp_path):
    conds = per_layer_conditions(tiny_model)
    ident = {"command": "torn"}
    with RunFolder(tmp_path / "r", identity=ident) as run:
        first = run_sweep(tiny_model, examples, conds, reader, run=run, batch_size=8, shard_size=8, progress=False)
        cells = sorted(run.cells(first.stats["sweep_key"]).glob("*.pt"))
        cells[0].write_bytes(cells[0].read_bytes()[:20])
        again = run_sweep(tiny_model, examples, conds, reader, run=run, batch_size=8, shard_size=8, progress=False)
    assert again.stats["cells_resumed"] == len(cells) - 1
    for c in conds:
        assert np.array_equal(first[c.name], again[c.name])


def test_mlstm_conditions_equal_the_plain_loop_and_step_reuse_equals_the_full_run():
    model = MLSTMModel(MLSTM(d_hidden=16, seed=0), name="tiny-mlstm")
    ex = model.tokenize(TEXTS[:10])
    reader = ProbeScore("hook_c", torch.randn(16, generator=torch.Generator().manual_seed(0)))
    conds = [Condition("baseline", []),
             Condition("commas", [DirectionAblation("hook_c", random_directions(16, 1, 0), P.Commas(), mode="project")]),
             Condition("full stops", [DirectionAblation("hook_h", random_directions(16, 1, 2), P.FullStops(), mode="project")]),
             Condition("resample", [ResampleAblation("hook_h", random_directions(16, 1, 1), P.get("all"), source="batch", seed=3)])]
    ref = reference_loop(model, _batches(model, ex, 4), conds, reader)
    full = run_sweep(model, ex, conds, reader, batch_size=4, prefix_reuse=False, progress=False)
    reuse = run_sweep(model, ex, conds, reader, batch_size=4, progress=False)
    assert reuse.stats["prefix_reuse"].startswith("checked")
    assert reuse.stats["layer_tokens"] < full.stats["layer_tokens"]  # comma/full-stop conditions start late
    for c in conds:
        assert np.array_equal(full[c.name], ref[c.name]), c.name
        assert np.array_equal(reuse[c.name], ref[c.name]), c.name


def test_mlstm_step_prefix_rows_that_end_early_keep_their_scores():
    model = MLSTMModel(MLSTM(d_hidden=16, seed=1), name="tiny-mlstm")
    ex = model.tokenize(["a short one.", "a much longer text, with a comma far into it, yes."])
    reader = ProbeScore("hook_h", torch.randn(16, generator=torch.Generator().manual_seed(1)))
    conds = [Condition("commas", [DirectionAblation("hook_c", random_directions(16, 1, 0), P.Commas(), mode="project")])]
    ref = reference_loop(model, [ex], conds, reader)
    model._prefix_checked = None
    out = run_sweep(model, ex, conds, reader, batch_size=2, progress=False)
    assert out.stats["prefix_reuse"].startswith("checked")
    assert np.array_equal(out["commas"], ref["commas"])


def test_stacked_patches_equal_one_at_a_time(tiny_model, pair_batches_engine):
    clean, corrupt = pair_batches_engine
    site = "blocks.1.hook_resid_pre"
    _, acts = tiny_model.run(clean, read=[site])
    T = clean.mask.shape[1]
    conds = []
    for t in range(1, T):
        m = torch.zeros_like(clean.mask)
        m[:, t] = True
        conds.append(Condition(f"t{t}", [ActivationPatch(site, acts[site], where=m & clean.mask)]))
    reader = LogitDiff(5, 7)
    one = reference_loop(tiny_model, [corrupt], conds, reader)
    out = run_sweep(tiny_model, corrupt, conds, reader, batch_size=len(corrupt), max_rows=64, progress=False)
    for c in conds:
        np.testing.assert_allclose(out[c.name], one[c.name], rtol=1e-5, atol=1e-6)


@pytest.fixture(scope="module")
def pair_batches_engine(tiny_model):
    from interp.pairs import toy_pairs

    return toy_pairs(tiny_model, part="test", flip="adjective", n=4).tokenize(tiny_model)


def test_conditions_are_data_with_stable_keys(tiny_model):
    a = sst_like_conditions(tiny_model)[1]
    b = sst_like_conditions(tiny_model)[1]
    assert a.key == b.key
    other = Condition(a.name, [DirectionAblation(a.interventions[0].site, random_directions(tiny_model.d_model, 1, 999),
                                                 P.get("all"), mode="project")])
    assert other.key != a.key
    blob = json.dumps(a.to_dict())
    back = Condition.from_dict(json.loads(blob))
    assert back.key == a.key
    assert torch.equal(back.interventions[0].directions, a.interventions[0].directions)
    assert back.interventions[0].positions == a.interventions[0].positions
    with pytest.raises(ValueError, match="non-interp"):
        from_config({"__type__": "os.system"})


def test_sweep_input_errors(tiny_model, examples, reader):
    with pytest.raises(ValueError, match="at least one condition"):
        run_sweep(tiny_model, examples, [], reader, progress=False)
    with pytest.raises(ValueError, match="unknown engine"):
        run_sweep(tiny_model, examples, [Condition("b", [])], reader, engine="slurm", progress=False)
    with pytest.raises(ValueError, match="repeat"):
        run_sweep(tiny_model, examples, [Condition("b", []), Condition("b", [])], reader, progress=False)


def test_merge_batches_restores_order(tiny_model, examples):
    parts = _batches(tiny_model, examples, 5)
    merged = merge_batches(parts)
    assert merged.texts == examples.texts
    assert torch.equal(merged.tokens[merged.mask], examples.tokens[examples.mask])


# ------------------------------------------------------------------------------- run folders


def test_run_folder_refuses_another_command_unless_forced(tmp_path):
    with RunFolder(tmp_path / "out", identity={"command": "ablate", "layers": [0]}) as run:
        run.write_json("result.json", {"a": 1})
        run.complete()
    with pytest.raises(RunFolderError, match="another command"):
        RunFolder(tmp_path / "out", identity={"command": "ablate", "layers": [1]}).open()
    with RunFolder(tmp_path / "out", identity={"command": "ablate", "layers": [1]}, force=True) as run:
        assert not (tmp_path / "out" / "result.json").exists()  # --force clears the old run's files
        run.complete()


def test_run_folder_lock_refuses_a_second_writer(tmp_path):
    first = RunFolder(tmp_path / "out", identity={"command": "x"}).open()
    try:
        with pytest.raises(RunFolderError, match="another interp run is writing"):
            RunFolder(tmp_path / "out", identity={"command": "x"}).open()
    finally:
        first.__exit__(None, None, None)


def test_run_folder_refuses_unrelated_files_and_unwritable_paths(tmp_path):
    (tmp_path / "notes").mkdir()
    (tmp_path / "notes" / "mine.txt").write_text("keep me")
    with pytest.raises(RunFolderError, match="holds no interp run"):
        RunFolder(tmp_path / "notes", identity={"command": "x"}).open()
    (tmp_path / "file").write_text("")
    with pytest.raises(RunFolderError, match="is a file"):
        RunFolder(tmp_path / "file" / "out", identity={"command": "x"}).open()


def test_interrupt_marks_the_run_partial(tmp_path):
    with pytest.raises(KeyboardInterrupt):
        with RunFolder(tmp_path / "out", identity={"command": "x"}) as run:
            run.write_json("heatmap.json", {"done": True})  # a part finished before the stop
            raise KeyboardInterrupt
    meta = RunFolder.read_meta(tmp_path / "out")
    assert meta["status"] == "partial" and "Ctrl-C" in meta["reason"]
    assert (tmp_path / "out" / "heatmap.json").exists()


def test_a_run_that_fails_before_writing_leaves_no_claim(tmp_path):
    with pytest.raises(ValueError):
        with RunFolder(tmp_path / "out", identity={"command": "x"}):
            raise ValueError("bad input")
    assert not (tmp_path / "out").exists()
    with RunFolder(tmp_path / "out", identity={"command": "another"}) as run:  # free for another command
        run.complete()


# ------------------------------------------------------------------------------------- ray


@pytest.mark.slow
def test_ray_equals_local(tiny_model_dir):
    pytest.importorskip("ray")
    from interp.models.transformer import TransformerModel

    model = TransformerModel.load(str(tiny_model_dir))
    ex = model.tokenize(TEXTS)
    conds = sst_like_conditions(model)
    reader = LogitDiff(5, 7)
    local = run_sweep(model, ex, conds, reader, batch_size=8, shard_size=8, progress=False)
    counts = [[iv.touched for iv in c.interventions] for c in conds]
    ray_out = run_sweep(model, ex, conds, reader, batch_size=8, shard_size=8, progress=False, engine="ray", workers=2)
    assert ray_out.stats["workers"] == 2
    for c in conds:
        assert np.array_equal(local[c.name], ray_out[c.name]), c.name
    assert [[iv.touched for iv in c.interventions] for c in conds] == counts


def test_ray_needs_a_loadable_model():
    from interp.engine.ray import model_spec

    with pytest.raises(ValueError, match="not loaded from a name or path"):
        model_spec(MLSTMModel(MLSTM(d_hidden=8, seed=0)))


# ------------------------------------------------------------------------- device and dtype


def test_dtype_reaches_the_model_and_projections_stay_float32(tiny_model_dir):
    from interp.models.transformer import TransformerModel

    half = TransformerModel.load(str(tiny_model_dir), dtype="bfloat16")
    assert next(half.bridge.original_model.parameters()).dtype == torch.bfloat16
    assert half.load_spec["dtype"] == "bfloat16"
    full = TransformerModel.load(str(tiny_model_dir))
    ex = full.tokenize(TEXTS[:8])
    conds = sst_like_conditions(full)
    a = run_sweep(full, ex, conds, LogitDiff(5, 7), batch_size=8, progress=False)
    b = run_sweep(half, half.tokenize(TEXTS[:8]), sst_like_conditions(half), LogitDiff(5, 7), batch_size=8, progress=False)
    for k in a.scores:
        assert b[k].dtype == np.float64 or b[k].dtype == np.float32
        assert np.corrcoef(a[k], b[k])[0, 1] > 0.95  # bf16 rounding, same behaviour


def test_set_projection_computes_in_float32():
    from interp.interventions import set_projection

    act = (torch.randn(2, 3, 16) * 100).to(torch.bfloat16)
    u = torch.nn.functional.normalize(torch.randn(16), dim=0)
    out = set_projection(act, torch.ones(2, 3, dtype=torch.bool), u, 0.0)
    assert out.dtype == torch.bfloat16
    ref = act.float() - (act.float() @ u)[..., None] * u
    assert torch.equal(out, ref.to(torch.bfloat16))


def test_device_and_dtype_errors():
    from interp.devices import check_device_map, parse_dtype, resolve_device

    assert resolve_device("cpu") == "cpu"
    assert resolve_device("auto") in ("cpu", "cuda")
    with pytest.raises(ValueError, match="unknown device"):
        resolve_device("gpu0")
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match="no CUDA GPU"):
            resolve_device("cuda:1")
    with pytest.raises(ValueError, match="unknown dtype"):
        parse_dtype("fp8")
    with pytest.raises(ValueError, match="needs --device cuda"):
        check_device_map("auto", "cpu")


def test_two_conditions_that_do_the_same_thing_keep_their_own_scores(tiny_model, examples, reader):
    a = per_layer_conditions(tiny_model)[1]
    twin = Condition("twin", a.interventions)
    assert twin.key == a.key
    conds = [a, Condition("base", [])] + [Condition(f"pad{i}", []) for i in range(3)] + [twin]
    out = run_sweep(tiny_model, examples, conds, reader, batch_size=8, group_size=2, progress=False)
    assert np.array_equal(out[a.name], out["twin"])
    assert not np.array_equal(out[a.name], out["base"])


def test_a_model_that_cannot_replay_falls_back_to_full_runs(tiny_model_dir, examples, reader, monkeypatch):
    from interp.models.transformer import TransformerModel

    model = TransformerModel.load(str(tiny_model_dir))
    conds = per_layer_conditions(model)
    full = run_sweep(model, examples, conds, reader, batch_size=8, prefix_reuse=False, progress=False)

    def no_replay(*a, **k):
        raise RuntimeError("cannot find the decoder's list of layers")

    monkeypatch.setattr(model, "capture", no_replay)
    out = run_sweep(model, examples, conds, reader, batch_size=8, progress=False)
    assert out.stats["prefix_reuse"].startswith("off: RuntimeError")
    for c in conds:
        assert np.array_equal(out[c.name], full[c.name])
