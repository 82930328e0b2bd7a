"""analyses/scale_study.py on two tiny random models: one row per model, the right parameter
counts, the numbers of each saved result, the Tigges et al. reference points in the figure, and
bad input refused with one line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import load_analysis
from typer.testing import CliRunner

from interp import metrics

from interp.models import zoo
from interp.cli import app

SMALL = ["--limit", "16", "--dev-limit", "24", "--reference-n", "8", "--n-random", "2", "--n-boot", "50", "--no-progress"]


@pytest.fixture(scope="module")
def script():
    return load_analysis("scale_study")


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """Model A: interp ablate through the CLI (default protocol, a run folder). Model B, Pythia-shaped and narrower: the
    same through the Python API with the Tigges protocol too, saved with Result.save (no run.json)."""
    root = tmp_path_factory.mktemp("scale")
    a = zoo.build_random_model(root / "tiny-a", arch="llama", n_layers=2, d_model=64, seed=0)
    b = zoo.build_random_model(root / "tiny-b", arch="neox", n_layers=2, d_model=48, n_heads=4, seed=5)
    r = CliRunner().invoke(app, ["ablate", "--model", str(a), *SMALL, "--positions", "all,commas",
                                 "--out", str(root / "a-ablate")])
    assert r.exit_code == 0, r.output
    r = CliRunner().invoke(app, ["find", "--model", str(a), "--layers", "0,1", "--data", "toy",
                                 "--methods", "mean_diff,best_neuron", "--dev-limit", "24", "--test-limit", "24",
                                 "--limit", "8", "--reference-n", "8", "--n-random", "2", "--positions", "all",
                                 "--n-boot", "20", "--no-progress", "--out", str(root / "a-find")])
    assert r.exit_code == 0, r.output
    r = CliRunner().invoke(app, ["patch", "--model", str(a), "--no-heatmap", "--modes", "project,mean",
                                 "--positions", "commas,full_stops,sentiment_words,all", *SMALL,
                                 "--out", str(root / "a-patch")])
    assert r.exit_code == 0, r.output
    from interp.experiments.ablate import AblateConfig, run_ablate
    from interp.judge import fit_judge
    from interp.experiments.steer import SteerEvalConfig, run_steer_eval
    from interp.models.transformer import TransformerModel

    cfg = AblateConfig(model=str(b), positions=["all", "commas"], limit=16, dev_limit=24, reference_n=8, n_random=2,
                       n_boot=50, protocol="tigges", tigges_splits=["dev"], tigges_limit=240, tigges_top_k=10_000,
                       das_steps=3, das_batch=8)
    res = run_ablate(TransformerModel.load(str(b)), cfg, progress=False)
    res.save(root / "b-ablate" / "result.json")
    steer = run_steer_eval(TransformerModel.load(str(a)), SteerEvalConfig(alphas=[-1, 0, 1], n_samples=4,
                           max_new_tokens=5, n_random=2, norm_n=8, n_boot=50), progress=False,
                           judge=fit_judge(400, 200, seed=0))
    steer.save(root / "a-steer" / "result.json")
    return {"root": root, "models": {str(a): root / "a-ablate", str(b): root / "b-ablate"},
            "extra": {str(a): {"find": root / "a-find", "steer": root / "a-steer", "patch": root / "a-patch"}}}


def _hf_params(folder: str) -> int:
    from transformers import AutoModelForCausalLM

    return sum(p.numel() for p in AutoModelForCausalLM.from_pretrained(folder).parameters())


def test_one_row_per_model_with_its_numbers(script, runs, tmp_path):
    out = tmp_path / "study"
    folders = [str(p) for p in runs["models"].values()] + [str(p) for e in runs["extra"].values() for p in e.values()]
    assert script.main([*folders, "--out", str(out)]) == 0
    assert json.loads((out / "run.json").read_text())["status"] == "complete"
    assert (out / "report.html").stat().st_size > 1000
    from interp.report.results import Result

    res = Result.load(out / "result.json", require_manifest=True)
    table = res.tables[0]
    assert len(table.rows) == 2
    col = {c: i for i, c in enumerate(table.columns)}
    models = {m["model"]: m for m in res.data["models"]}
    # smallest first: model B (d_model 48) before model A (64)
    assert list(models) == list(runs["models"])[::-1]
    assert [r[col["model"]] for r in table.rows] == [m["label"] for m in models.values()]
    assert table.rows[0][col["parameters"]] < table.rows[1][col["parameters"]]
    for row, (name, folder) in zip(table.rows, reversed(runs["models"].items())):
        saved = json.loads((folder / "result.json").read_text())["data"]
        m = models[name]
        # parameters: the stored tensors, equal to the model's own count
        n = _hf_params(name)
        assert row[col["parameters"]] == m["size"]["params"] == n
        assert 0 < row[col["non-embedding parameters"]] < n
        assert row[col["d_model"]] == json.loads((Path(name) / "config.json").read_text())["hidden_size"]
        # the numbers are the saved result's
        base = saved["conditions"]["baseline"]
        assert row[col["baseline accuracy"]] == base["accuracy"] and row[col["baseline AUROC"]] == base["auroc"]
        assert row[col["SST test n"]] == saved["n_test"] == 16
        for pos, c_dir, c_rnd in (("all", "% removed, all positions [95% CI]", "random: all positions"),
                                  ("commas", "% removed, commas [95% CI]", "random: commas")):
            for what, c in (("direction", c_dir), ("random", c_rnd)):
                e = saved["conditions"][f"mean:{pos}:{what}"]
                assert m["ablate"]["default"][pos][what]["removed"] == e["removed"] or (
                    e["removed"] != e["removed"])  # NaN (baseline at chance) stays NaN
                assert row[col[c]] == metrics.format_removed(e["removed"], *e["removed_ci"])
        # full stops were not asked for: said, not left blank
        assert row[col["% removed, full stops [95% CI]"]] == row[col["random: full stops"]] == "not run"
        t = saved["tigges_protocol"]
        # which directions each protocol removed
        want_dirs = saved["directions_spec"] + f" ({saved['config']['fit_data']}) / "
        want_dirs += "not run" if t is None else "+".join(sorted({d["method"] for d in t["directions"].values()}))
        assert row[col["directions (default / Tigges)"]] == want_dirs
        if t is None:
            assert row[col["Tigges protocol n"]] == "not run" and row[col["Tigges: % lost, commas"]] == "not run"
        else:
            assert row[col["Tigges protocol n"]] == t["n"] > 0
            for pos in ("all", "commas"):
                e = t["conditions"][f"tigges:{pos}:direction"]
                assert row[col[f"Tigges: % lost, {'all positions' if pos == 'all' else 'commas'}"]] == \
                    metrics.format_removed(e["removed"], *e["removed_ci"])
        extra = runs["extra"].get(name, {})
        if "find" not in extra:
            assert row[col["find: best site"]] == "not run" and row[col["causal: direction % removed"]] == "not run"
        else:
            f = json.loads((extra["find"] / "result.json").read_text())["data"]
            site = f["best_site"]
            acc = f["accuracy"]["toy"][site]
            assert row[col["find: best site"]] == site
            assert row[col["best neuron: SST test acc"]] == acc["best_neuron"]["test_acc"]
            assert row[col["direction: SST test acc"]] == acc["mean_diff"]["test_acc"]
            # this find fitted no L2 probe: said, not guessed
            assert row[col["L2 probe direction: SST test acc"]] == row[col["causal: L2 direction % removed"]] == "not run"
            for what, c in (("mean_diff", "causal: direction % removed"), ("best_unit", "causal: best neuron % removed")):
                e = f["causal"]["conditions"][f"all:{what}"]
                assert row[col[c]] == metrics.format_removed(e["removed"], *e["removed_ci"])
        if "steer" not in extra:
            assert row[col["steer: best neuron slope"]] == "not run"
        else:
            slopes = json.loads((extra["steer"] / "result.json").read_text())["data"]["slopes"]
            for what, c in (("direction", "steer: direction slope per unit α [95% CI]"),
                            ("neuron", "steer: best neuron slope"), ("random pooled", "steer: random directions slope")):
                (s,) = [v for v in slopes.values() if v["what"] == what]
                assert row[col[c]] == f"{s['slope']:+.3f} [{s['ci95'][0]:+.3f}, {s['ci95'][1]:+.3f}]"
                assert m["steer"][what.split()[0]]["slope"] == s["slope"]
    assert models[str(list(runs["models"])[1])]["ablate"]["tigges"] is not None  # model B ran it
    # the runs behind the numbers, in the table's order: model B's ablate, then model A's four
    runs_table = res.tables[2]
    assert [r[1] for r in runs_table.rows] == ["ablate", "ablate", "find", "steer", "summarize"]
    assert [r[0] for r in runs_table.rows] == [table.rows[0][0]] + [table.rows[1][0]] * 4
    assert runs_table.rows[1][3].startswith("interp ablate") and runs_table.rows[2][3].startswith("interp find")
    assert runs_table.rows[4][3].startswith("interp patch") and runs_table.rows[4][2] == str(runs["extra"][
        str(list(runs["models"])[0])]["patch"])
    # the summarization table: model A's patch run, every mode and position, commas / full stops / all first
    summ = res.tables[1]
    scol = {c: i for i, c in enumerate(summ.columns)}
    saved = json.loads((runs["extra"][str(list(runs["models"])[0])]["patch"] / "summarization.json").read_text())["data"]
    assert {r[scol["model"]] for r in summ.rows} == {table.rows[1][0]}  # model B ran no patch: no row
    assert [(r[scol["mode"]], r[scol["positions"]]) for r in summ.rows] == [
        (mo, p) for mo in ("project", "mean") for p in ("commas", "full_stops", "all", "sentiment_words")]
    for r in summ.rows:
        e = saved["conditions"][f"{r[scol['mode']]}:{r[scol['positions']]}:direction"]
        rnd = saved["conditions"][f"{r[scol['mode']]}:{r[scol['positions']]}:random"]
        assert r[scol["SST test n"]] == saved["n_test"] == 16 and r[scol["Tigges subset n"]] == saved["tigges_n"]
        assert r[scol["% removed [95% CI]"]] == metrics.format_removed(e["removed"], *e["removed_ci"])
        assert r[scol["random control"]] == metrics.format_removed(rnd["removed"], *rnd["removed_ci"])
        if saved["tigges_n"]:
            assert r[scol["Tigges subset: % removed [95% CI]"]] == metrics.format_removed(
                e["tigges_removed"], *e["tigges_removed_ci"])
        else:
            assert r[scol["Tigges subset: % removed [95% CI]"]] == "no sentence kept"
    assert "summarization table at commas (n=16" in res.summary
    # the figure: measured points at the two parameter counts, log x, and Tigges et al.'s as theirs
    fig = res.figures[0]
    assert fig["layout"]["xaxis"]["type"] == "log"
    for proto, pos, label in (("default", "all", "default protocol, all positions"),
                              ("default", "commas", "default protocol, commas"),
                              ("tigges", "all", "Tigges protocol, all positions"),
                              ("tigges", "commas", "Tigges protocol, commas")):
        want = {}  # a share that is NaN (a tiny model's baseline at chance) is left out of the plot
        for m in models.values():
            block = m["ablate"][proto] if proto == "tigges" else m["ablate"]["default"]
            v = block[pos]["direction"]["removed"] if block else float("nan")
            if v == v:
                want[m["size"]["params"]] = v
        got = [t for t in fig["data"] if t["name"] == label]
        assert (dict(zip(got[0]["x"], got[0]["y"])) if got else {}) == want, label
    # neuron vs direction and steering against size: model A's find and steer numbers, with their intervals
    acc_fig, causal_fig, steer_fig, summ_fig = res.figures[1:]
    e = saved["conditions"]["mean:commas:direction"]["removed"]
    got = [t for t in summ_fig["data"] if t["name"] == "mean at commas"]
    assert (list(got[0]["y"]) if got else []) == ([e] if e == e else [])
    a_name = str(list(runs["models"])[0])
    a_size, fa = models[a_name]["size"]["params"], models[a_name]["find"]
    by_name = {t["name"]: t for t in acc_fig["data"]}
    assert list(by_name["best single neuron (find, best site)"]["x"]) == [a_size]
    assert list(by_name["best single neuron (find, best site)"]["y"]) == [fa["best_neuron_acc"]]
    assert len(by_name["zero-shot baseline (ablate run)"]["x"]) == 2  # both models ran ablate
    d = [t for t in causal_fig["data"] if t["name"] == "direction ablated at the find site"]
    e = fa["causal"]["direction"]
    if e["removed"] == e["removed"]:
        assert list(d[0]["y"]) == [e["removed"]] and list(d[0]["error_y"]["array"]) == [e["ci"][1] - e["removed"]]
    else:  # a random tiny model at chance: its share is NaN and gets no point
        assert d == []
    st = next(t for t in steer_fig["data"] if t["name"] == "direction")
    assert list(st["y"]) == [models[a_name]["steer"]["direction"]["slope"]]
    assert list(st["error_y"]["arrayminus"]) == [models[a_name]["steer"]["direction"]["slope"]
                                                 - models[a_name]["steer"]["direction"]["ci"][0]]
    tig = next(t for t in fig["data"] if t["name"] == "Tigges protocol, all positions")
    assert list(tig["x"]) == [models[str(list(runs["models"])[1])]["size"]["params"]]  # model B's point is there
    refs = {t["name"]: t for t in fig["data"] if t["name"].startswith("Tigges et al.")}
    assert len(refs) == 2 and all("not measured here" in n for n in refs)
    (all_ref,) = [t for n, t in refs.items() if "all positions" in n]
    (comma_ref,) = [t for n, t in refs.items() if "commas" in n]
    assert list(all_ref["x"]) == [1.4e9, 2.8e9] and list(all_ref["y"]) == [0.94, 0.75]
    assert list(comma_ref["y"]) == [0.11, 0.35]
    assert "n=230" in all_ref["text"][0] and "n=1,390" in all_ref["text"][1]


def _one_line_error(script, argv, capsys, *needles):
    assert script.main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and err.startswith("error: ") and "Traceback" not in err, err
    for n in needles:
        assert n in err, (n, err)


def test_bad_input_is_refused_with_one_line(script, runs, tmp_path, capsys):
    a_dir, b_dir = runs["models"].values()
    out = str(tmp_path / "study")
    empty = tmp_path / "empty"
    empty.mkdir()
    _one_line_error(script, [str(empty), "--out", out], capsys, str(empty), "no result.json")
    _one_line_error(script, [str(tmp_path / "nowhere"), "--out", out], capsys, "no such run folder")
    # a run that is not complete
    partial = tmp_path / "partial"
    partial.mkdir()
    (partial / "result.json").write_text((a_dir / "result.json").read_text())
    meta = json.loads((a_dir / "run.json").read_text())
    (partial / "run.json").write_text(json.dumps({**meta, "status": "partial", "reason": "interrupted (Ctrl-C)"}))
    _one_line_error(script, [str(partial), "--out", out], capsys, "partial", "not complete")
    # a result of another kind
    other = tmp_path / "probe"
    other.mkdir()
    d = json.loads((a_dir / "result.json").read_text())
    (other / "result.json").write_text(json.dumps({**d, "kind": "probe"}))
    _one_line_error(script, [str(other), "--out", out], capsys, "'probe' result")
    # a patch run without its summarization table
    heat = tmp_path / "patch"
    heat.mkdir()
    (heat / "result.json").write_text(json.dumps({**d, "kind": "patch"}))
    _one_line_error(script, [str(heat), "--out", out], capsys, "without summarization.json", "--summary")
    # the same kind twice for one model
    _one_line_error(script, [str(a_dir), str(partial.parent / "a-copy"), "--out", out], capsys, "no such run folder")
    twin = tmp_path / "twin"
    twin.mkdir()
    (twin / "result.json").write_text((a_dir / "result.json").read_text())
    _one_line_error(script, [str(a_dir), str(twin), "--out", out], capsys, "a second ablate result")
    assert not Path(out).exists()  # nothing was written


def test_a_tigges_filter_that_kept_nothing_is_said_not_left_as_not_run(script, runs, tmp_path):
    b_dir = list(runs["models"].values())[1]
    d = json.loads((b_dir / "result.json").read_text())
    d["data"]["tigges_protocol"] = {**d["data"]["tigges_protocol"], "n": 0, "conditions": {}}
    empty = tmp_path / "b-empty"
    empty.mkdir()
    (empty / "result.json").write_text(json.dumps(d))
    res = script.build([empty])
    col = {c: i for i, c in enumerate(res.tables[0].columns)}
    (row,) = res.tables[0].rows
    assert row[col["Tigges protocol n"]] == 0
    for c in ("Tigges: % lost, all positions", "Tigges random: all", "Tigges: % lost, commas", "Tigges random: commas"):
        assert row[col[c]] == "no sentence kept"
    e = d["data"]["conditions"]["mean:all:direction"]  # the default protocol's number is there
    assert row[col["% removed, all positions [95% CI]"]] == metrics.format_removed(e["removed"], *e["removed_ci"])
    assert "kept no sentence" in res.summary


def test_the_summarization_rows_carry_the_tigges_subset_numbers(script, runs, tmp_path):
    """A tiny random model keeps no Tigges subset sentence; a result that kept some shows their numbers."""
    a_dir, _ = runs["models"].values()
    patch = runs["extra"][str(list(runs["models"])[0])]["patch"]
    d = json.loads((patch / "summarization.json").read_text())
    d["data"]["tigges_n"] = 6
    for k, c in d["data"]["conditions"].items():
        if k != "baseline":
            c.update(tigges_removed=0.25, tigges_removed_ci=[0.1, 0.4], tigges_accuracy=0.75)
    folder = tmp_path / "a-summ"
    folder.mkdir()
    (folder / "result.json").write_text(json.dumps(d))  # a summarize result saved on its own is read too
    res = script.build([a_dir, folder])
    summ = res.tables[1]
    col = {c: i for i, c in enumerate(summ.columns)}
    assert summ.rows and all(r[col["Tigges subset n"]] == 6 for r in summ.rows)
    assert {r[col["Tigges subset: % removed [95% CI]"]] for r in summ.rows} == {metrics.format_removed(0.25, 0.1, 0.4)}
    assert {r[col["Tigges subset: random"]] for r in summ.rows} == {metrics.format_removed(0.25, 0.1, 0.4)}
    sub = [t for t in res.figures[-1]["data"] if t["name"] == "project at commas, Tigges subset"]
    assert list(sub[0]["y"]) == [0.25] and list(sub[0]["error_y"]["array"]) == [0.4 - 0.25]
