"""Verifying a converted model: the bridge (as :func:`~interp.models.zoo.convert.boot` makes it) gives the
Hugging Face model's logits, one text at a time and in a padded batch.
"""

from __future__ import annotations

import gc
import os
from typing import Any, Sequence

from interp.models.zoo.convert import _quiet_transformers, boot
from interp.models.zoo.registry import _folder_of


class VerificationError(RuntimeError):
    """The bridge's logits differ from the Hugging Face model's by more than the tolerance."""



DEFAULT_VERIFY_TEXTS: tuple[str, ...] = (
    "The movie was great, I loved every minute of it.",
    "A dull, lifeless and terrible film.",
    "Review: the acting is not bad at all. Sentiment: Positive",
    "Hello world",
)


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

