import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import importlib.util
from pathlib import Path

import pytest

ANALYSES = Path(__file__).resolve().parents[1] / "analyses"


def load_analysis(name: str):
    """An ``analyses/<name>.py`` script as a module (the scripts are not a package)."""
    spec = importlib.util.spec_from_file_location(name, ANALYSES / f"{name}.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def pytest_collection_modifyitems(config, items):
    """Tests marked ``gpu`` need CUDA: skipped, with the reason, on a machine without it."""
    import torch

    if torch.cuda.is_available():
        return
    skip = pytest.mark.skip(reason="needs a CUDA GPU (none on this machine)")
    for item in items:
        if "gpu" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory):
    """A random-init 2-layer Llama-shaped model with a small BPE tokenizer (no hub)."""
    from interp.models import zoo

    return zoo.build_random_model(tmp_path_factory.mktemp("tiny-llama"), arch="llama", n_layers=2, d_model=64, seed=0)


@pytest.fixture(scope="session")
def tiny_model(tiny_model_dir):
    from interp.models.transformer import TransformerModel

    return TransformerModel.load(str(tiny_model_dir))
