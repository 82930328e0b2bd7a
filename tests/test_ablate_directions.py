"""interp ablate with any direction (a finder by name, LEACE, a folder of saved directions) and
with Tigges et al.'s protocol, on tiny random models (Llama-shaped and Pythia-shaped) and real SST."""

import numpy as np
import pytest
import torch

from interp.experiments.ablate import AblateConfig, run_ablate
from interp.directions import Direction, load_folder
from interp.finders import fit_directions

SMALL = dict(limit=40, dev_limit=32, reference_n=16, n_random=3, n_boot=100, batch_size=16, positions=["all", "commas"])


@pytest.fixture(scope="module")
def saved(tiny_model, tmp_path_factory):
    res = run_ablate(tiny_model, AblateConfig(model="tiny", modes=["project"], **SMALL), progress=False)
    folder = tmp_path_factory.mktemp("dirs")
    for site, d in res.directions.items():
        d.save(folder / site)
    return res, folder


def test_a_folder_of_saved_directions_ablates_the_same_vectors(tiny_model, saved):
    res, folder = saved
    again = run_ablate(tiny_model, AblateConfig(model="tiny", modes=["project"], directions=str(folder), **SMALL),
                       progress=False)
    for site, d in again.directions.items():
        assert torch.allclose(d.vector, res.directions[site].vector, atol=1e-6)
    a, b = res.data["logit_diffs"], again.data["logit_diffs"]
    assert np.allclose(a["project:all:direction"], b["project:all:direction"], atol=1e-4)
    assert again.data["fit"]["folder"] == str(folder)


def test_folder_errors_name_the_problem(tiny_model, saved, tmp_path):
    _, folder = saved
    sites = ["blocks.0.hook_resid_post", "blocks.1.hook_resid_post"]
    # a chosen layer's site missing
    only0 = tmp_path / "only0"
    Direction.load(folder / sites[0]).save(only0 / sites[0])
    with pytest.raises(FileNotFoundError, match="no direction .*blocks.1.hook_resid_post"):
        load_folder(only0, sites, model=tiny_model.name)
    with pytest.raises(FileNotFoundError, match="no direction .*blocks.1"):
        run_ablate(tiny_model, AblateConfig(model="tiny", directions=str(only0), **SMALL), progress=False)
    # another model, another width
    other = tmp_path / "other"
    Direction(torch.randn(64), site=sites[0], model="someone-else").save(other / "a")
    with pytest.raises(ValueError, match="someone-else"):
        load_folder(other, sites[:1], model=tiny_model.name)
    wide = tmp_path / "wide"
    Direction(torch.randn(96), site=sites[0], model=tiny_model.name).save(wide / "a")
    with pytest.raises(ValueError, match="width 96"):
        load_folder(wide, sites[:1], widths={sites[0]: 64}, model=tiny_model.name)
    # two directions for one site: ambiguous unless a method is named
    two = tmp_path / "two"
    Direction(torch.randn(64), site=sites[0], model=tiny_model.name, method="mean_diff").save(two / "x" / "m")
    Direction(torch.randn(64), site=sites[0], model=tiny_model.name, method="das").save(two / "y" / "d")
    with pytest.raises(ValueError, match="2 directions"):
        load_folder(two, sites[:1])
    assert load_folder(two, sites[:1], method="das")[sites[0]].method == "das"
    with pytest.raises(FileNotFoundError, match="no folder"):
        load_folder(tmp_path / "nope", sites)
    # a name that is neither a finder nor a folder; das on SST reads
    with pytest.raises(FileNotFoundError, match="neither a finder"):
        AblateConfig(directions="nope").validate()
    with pytest.raises(ValueError, match="toy"):
        AblateConfig(directions="das", fit_data="sst_last").validate()
    with pytest.raises(ValueError, match="fitting data"):
        AblateConfig(directions="mean_diff", fit_data="imdb").validate()
    with pytest.raises(ValueError, match="protocol"):
        AblateConfig(protocol="nope").validate()


def test_leace_ablation_with_its_shuffled_label_control(tiny_model):
    res = run_ablate(tiny_model, AblateConfig(model="tiny", modes=["mean", "project"], directions="leace", **SMALL),
                     progress=False)
    conds = res.data["conditions"]
    for mode in ("mean", "project"):
        for what in ("direction", "random"):
            assert conds[f"{mode}:all:{what}"]["positions_touched"] > 0
    lds = res.data["logit_diffs"]
    assert not np.allclose(lds["baseline"], lds["mean:all:direction"])
    # the mode sets the point the eraser keeps (reference mean vs the fitting data's): different results
    assert not np.allclose(lds["mean:all:direction"], lds["project:all:direction"])
    assert res.data["fit"]["method"] == "leace" and res.data["fit"]["n_random_erasers"] == 3
    assert all(d.method == "leace" for d in res.directions.values())
    assert "shuffled labels" in res.tables[0].caption


def test_fit_directions_on_sst_last_reads(tiny_model):
    sites = ["blocks.1.hook_resid_post"]
    f = fit_directions(tiny_model, sites, "logreg_l2", "sst_last", limit=40, progress=False)
    d = f.directions[sites[0]]
    assert d.method == "logreg_l2" and d.flags["read_at"] == "last token" and d.flags["fit_data"] == "sst_last"
    assert 0 <= d.metrics["fit_test_acc"] <= 1 and f.info["n_train"] == 40 and f.info["n_test"] == 872
    b = fit_directions(tiny_model, sites, "best_neuron", "toy", progress=False).directions[sites[0]]
    assert int((b.vector != 0).sum()) == 1


@pytest.fixture(scope="module")
def neox(tmp_path_factory):
    from interp.models import zoo
    from interp.models.transformer import TransformerModel

    path = zoo.build_random_model(tmp_path_factory.mktemp("tiny-neox"), arch="neox", n_layers=2, d_model=48,
                                  n_heads=4, seed=5)
    return TransformerModel.load(str(path))


@pytest.fixture(scope="module")
def tigges_run(neox):
    cfg = AblateConfig(model="tiny-neox", modes=["mean"], protocol="tigges", tigges_splits=["dev"], tigges_limit=240,
                       tigges_top_k=10_000, das_steps=3, das_batch=8, **SMALL)
    return run_ablate(neox, cfg, progress=False)


def test_a_tigges_filter_that_keeps_nothing_keeps_the_default_numbers(neox):
    """A model that never has the answer in its top k (Gemma-3-270M at k=10 did this on 600 SST test sentences):
    the Tigges rows say no sentence was kept, and the default protocol's measurements are still the result."""
    cfg = AblateConfig(model="tiny-neox", modes=["mean"], protocol="tigges", directions="mean_diff",
                       tigges_splits=["dev"], tigges_limit=60, tigges_top_k=1, **SMALL)
    with pytest.warns(UserWarning, match="kept no sentence"):
        res = run_ablate(neox, cfg, progress=False)
    t = res.data["tigges_protocol"]
    assert t["n"] == 0 and t["conditions"] == {} and t["counts"]["sentences"] == 60
    assert t["counts"]["correct_top_k"] == 0 and "kept no sentence" in t["summary"]
    assert any("kept no sentence" in w for w in res.data["warnings"])
    assert {"baseline", "mean:all:direction", "mean:all:random"} <= set(res.data["conditions"])
    rows = res.tables[0].rows
    assert [r[0] for r in rows] == ["default", "default", "tigges", "tigges"]
    assert rows[2][4] == 0 and rows[2][5] == "no sentence kept"
    assert res.tables[1].title == "Tigges et al. protocol: no sentence kept"
    assert not any("Tigges et al. protocol" in f["layout"]["title"]["text"] for f in res.figures)


def test_tigges_protocol_on_a_pythia_shaped_model(neox, tigges_run):
    from interp import positions as P
    from interp.tasks import SSTZeroShot

    assert type(neox.bridge.original_model).__name__ == "GPTNeoXForCausalLM"
    t = tigges_run.data["tigges_protocol"]
    labels = np.array(t["labels"])
    # the population: balanced, a multiple of 5 per class, every sentence holds a comma and is right at baseline
    assert (labels == 1).sum() == (labels == 0).sum() and (labels == 1).sum() % 5 == 0 and len(labels) > 0
    assert t["counts"]["sentences"] == 240 and t["prompt"] == "{text} Review Sentiment:"
    base = np.array(t["logit_diffs"]["baseline"]) * np.where(labels == 1, 1, -1)
    assert (base > 0).all() and t["conditions"]["baseline"]["accuracy"] == 1.0
    from interp import data as datasets

    # every layer at once: the direction condition touches (layers x selected positions)
    task = SSTZeroShot(prompt="tigges")
    pooled = datasets.sst("dev")
    pick = np.sort(np.random.default_rng(0 + 3).permutation(len(pooled))[:240])
    kept = [pooled.texts[pick[i]] for i in t["index"]]
    b = neox.tokenize(task.format(kept))
    commas = int(P.Commas(allow_empty=True).counts(b).sum())
    every = int(P.get("all").counts(b).sum())
    assert commas > 0 and all("," in x for x in kept)
    assert t["conditions"]["tigges:commas:direction"]["positions_touched"] == 2 * commas
    assert t["conditions"]["tigges:all:direction"]["positions_touched"] == 2 * every
    assert t["conditions"]["tigges:all:random"]["positions_touched"] == 2 * every
    # DAS per layer (the protocol's own directions) while the default protocol kept mean_diff
    assert {d["method"] for d in t["directions"].values()} == {"das"}
    assert {d.method for d in tigges_run.directions.values()} == {"mean_diff"}
    # reported beside the default protocol, in one result
    first = tigges_run.tables[0]
    assert [r[0] for r in first.rows] == ["default", "default", "tigges", "tigges"]
    assert "Tigges et al. protocol" in tigges_run.tables[1].title
    assert "Tigges et al. protocol" in tigges_run.summary


def test_tigges_result_round_trips_and_renders(tigges_run, tmp_path):
    from interp import report
    from interp.report.results import Result

    back = Result.load(tigges_run.save(tmp_path / "result.json"))
    assert back.data["tigges_protocol"]["conditions"].keys() == tigges_run.data["tigges_protocol"]["conditions"].keys()
    html = report.write_report([back], tmp_path / "report.html").read_text()
    assert "Two protocols side by side" in html and "Tigges et al. protocol" in html
