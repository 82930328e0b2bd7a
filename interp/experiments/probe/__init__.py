"""Linear probes on the byte mLSTM's final state: is SST sentiment one unit or a direction?

The analysis half of Radford et al. 2017 ("Learning to Generate Reviews and Discovering
Sentiment") on our own IMDB-trained mLSTM (``interp probe-mlstm``):

- :func:`extract_features`: the final cell state ``c`` and hidden state ``h`` after each text
  (OpenAI's preprocessing, ``'\\n ' + text + ' '``), batched by length.
- The probes, :func:`interp.finders.probes.sentiment_probes` (their protocol: the L1 probe with
  ``C`` chosen on SST **dev**, the L2 probe, the best single unit, on features standardised with
  the train set's statistics) and :func:`interp.finders.probes.data_efficiency` (test accuracy
  against the number of labelled training sentences), re-exported here.
- Baselines: :func:`bag_of_words` (tf-idf + logistic regression) and the untrained model
  (same config, random init from the config's seed) through the same probes.
- :func:`probe_splits`: the SST (or in-domain IMDB) train/dev/test splits.
- :func:`probe_report`: all of it on SST train/dev/test as one :class:`~interp.report.results.Result`;
  :func:`checkpoint_comparison`: several such reports side by side.
- :func:`byte_trace`: a unit's (or direction's) value after every byte, for coloured text.
"""

from interp.experiments.probe.baselines import C_GRID_BOW, bag_of_words, untrained_like  # noqa: F401
from interp.experiments.probe.comparison import (_comparison_figures, _untrained_seen,  # noqa: F401
                                                 checkpoint_comparison, checkpoint_meta)
from interp.experiments.probe.features import (END_PAD, FEATURE_NAMES, FEATURES, FRONT_PAD, SITES,  # noqa: F401
                                               _check_which, _texts, extract_features)
from interp.experiments.probe.report import _model_hash, _pick_trace_sentences, _row, probe_report  # noqa: F401
from interp.experiments.probe.splits import IMDB_DEFAULT_LIMIT, PROBE_DATA, _limit, probe_splits  # noqa: F401
from interp.experiments.probe.trace import _unit_vector, byte_trace  # noqa: F401
from interp.finders.probes import (C_GRID_L1, C_GRID_L2, STANDARDISATION, _standardise,  # noqa: F401  (re-exported)
                                   data_efficiency, sentiment_probes, stratified_sample)
from interp.metrics import unit_accuracies  # noqa: F401  (re-exported)

__all__ = [
    "C_GRID_L1",
    "C_GRID_L2",
    "extract_features",
    "byte_trace",
    "untrained_like",
    "unit_accuracies",
    "sentiment_probes",
    "data_efficiency",
    "bag_of_words",
    "probe_report",
    "checkpoint_meta",
    "checkpoint_comparison",
]
