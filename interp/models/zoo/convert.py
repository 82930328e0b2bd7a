"""GGUF -> float32 Hugging Face folder, and booting a folder as a TransformerLens bridge.

The GGUF's metadata (:func:`gguf_metadata`) is checked against the registry's shape facts
(:func:`check_spec`); the converted config is checked (and fixed) against the metadata and the registry's
expectations (:func:`check_config`); :func:`convert_gguf` de-quantizes and saves. The rope-theta fixes live
here too: in the saved ``config.json`` (:func:`_add_legacy_rope_keys`) and in the bridge's cfg
(:func:`_fix_bridge_cfg`, called by :func:`boot`).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from interp.models.zoo.registry import ModelSpec, resolve


# --------------------------------------------------------------------------------------------
# GGUF metadata and shape facts
# --------------------------------------------------------------------------------------------


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



# --------------------------------------------------------------------------------------------
# Config checks and rope settings
# --------------------------------------------------------------------------------------------


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



# --------------------------------------------------------------------------------------------
# GGUF -> Hugging Face folder
# --------------------------------------------------------------------------------------------


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
# boot
# --------------------------------------------------------------------------------------------


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

