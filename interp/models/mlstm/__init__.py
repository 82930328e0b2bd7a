"""The multiplicative LSTM (Krause et al. 2016) of the sentiment neuron (Radford et al. 2017), over
bytes or byte-level BPE tokens, hookable per time step.

One module a noun, each importing only those above it (so any of them can be imported first):

- :mod:`~interp.models.mlstm.text`: what a model reads for a text (OpenAI's or NVIDIA's preprocessing, bytes)
- :mod:`~interp.models.mlstm.tokenizer`: bytes or byte-level BPE tokens of that text; the BPE training
  command ``python -m interp.models.mlstm.tokenizer``
- :mod:`~interp.models.mlstm.config`: :class:`MLSTMConfig`, the shape, seed and preprocessing of a model
- :mod:`~interp.models.mlstm.scan`: the fused recurrence with its hand-written backward
- :mod:`~interp.models.mlstm.checkpoint`: weights and card on disk (:meth:`MLSTM.save` / :meth:`MLSTM.load`)
- :mod:`~interp.models.mlstm.module`: :class:`MLSTM`, the ``HookedRootModule`` (equations and hook points there)
- :mod:`~interp.models.mlstm.adapter`: :class:`MLSTMModel`, the model behind :mod:`interp.models.protocol`
- :mod:`~interp.models.mlstm.corpus`: the IMDB training stream and its held-out reviews
- :mod:`~interp.models.mlstm.train`: the resumable trainer (``interp train-mlstm``)
- :mod:`~interp.models.mlstm.convert`: OpenAI's and NVIDIA's published checkpoints read into ours
- :mod:`~interp.models.mlstm.sample`: text sampled with a unit (or a direction) of the cell held

The names below are the ones ``interp.models.mlstm`` offered as a single module; the tokenizers,
corpus, trainer, converters and sampler are imported from their own modules (not loaded here, so
that their command lines run once under ``python -m``).
"""

import interp.models.mlstm.text as _text
from interp.models.mlstm.text import (  # noqa: F401
    PREPROCESSING,
    MissingDependencyError,
    check_preprocessing,
    decode,
    encode,
    encode_batch,
    encode_each,
    preprocess,
    preprocess_nvidia,
    text_bytes,
)
from interp.models.mlstm.config import MLSTMConfig  # noqa: F401
from interp.models.mlstm.scan import _MLSTMScan  # noqa: F401
from interp.models.mlstm.checkpoint import (  # noqa: F401
    FORMAT,
    FORMAT_VERSION,
    CheckpointMismatchError,
    _float_dtype,
    _paths,
    checkpoint_file,
)
from interp.models.mlstm.module import HOOK_NAMES, MLSTM, State  # noqa: F401
from interp.models.mlstm.adapter import MLSTMModel  # noqa: F401

__all__ = ["MLSTMConfig", "MLSTM", "MLSTMModel", "CheckpointMismatchError", "checkpoint_file", "HOOK_NAMES",
           *_text.__all__]
