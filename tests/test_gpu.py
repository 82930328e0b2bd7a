"""GPU paths: run with ``python -m pytest -m gpu`` on a machine with CUDA (skipped elsewhere)."""

import numpy as np
import pytest
import torch

from interp.engine import LogitDiff, run_sweep

pytestmark = pytest.mark.gpu


def _sweep(model):
    from tests.test_engine import TEXTS, sst_like_conditions

    return run_sweep(model, model.tokenize(TEXTS), sst_like_conditions(model), LogitDiff(5, 7), batch_size=8,
                     progress=False)


def test_cuda_float32_matches_the_cpu(tiny_model_dir):
    from interp.models.transformer import TransformerModel

    cpu = _sweep(TransformerModel.load(str(tiny_model_dir)))
    gpu_model = TransformerModel.load(str(tiny_model_dir), device="cuda")
    assert gpu_model.device.type == "cuda"
    gpu = _sweep(gpu_model)
    for k in cpu.scores:
        np.testing.assert_allclose(gpu[k], cpu[k], rtol=1e-3, atol=1e-4)
    assert gpu.stats["prefix_reuse"].startswith("checked")


@pytest.mark.parametrize("dtype", ["bfloat16", "float16"])
def test_half_precision_reaches_the_model_and_metrics_stay_float32(tiny_model_dir, dtype):
    from interp.models.transformer import TransformerModel

    model = TransformerModel.load(str(tiny_model_dir), device="cuda", dtype=dtype)
    assert next(model.bridge.original_model.parameters()).dtype == getattr(torch, dtype)
    cpu = _sweep(TransformerModel.load(str(tiny_model_dir)))
    half = _sweep(model)
    for k in cpu.scores:
        assert half[k].dtype == np.float32
        assert np.corrcoef(half[k], cpu[k])[0, 1] > 0.99


def test_device_map_auto_spreads_and_matches(tiny_model_dir):
    from interp.models.transformer import TransformerModel

    model = TransformerModel.load(str(tiny_model_dir), device="cuda", device_map="auto")
    cpu = _sweep(TransformerModel.load(str(tiny_model_dir)))
    out = _sweep(model)
    for k in cpu.scores:
        np.testing.assert_allclose(out[k], cpu[k], rtol=1e-3, atol=1e-4)
