"""Neuron vs direction: every finder at every site, compared four ways.

:func:`compare` fits each finder (:mod:`interp.finders`) at each site on each fitting data set,
then measures, per site:

(a) **held-out accuracy** on SST dev/test of each direction's projection, the best single unit's
    and the top-k units' probe (decision threshold fitted on SST dev, balanced; never on test),
    beside random directions;
(b) the **cosine similarity** between every pair of methods;
(c) the **neuron alignment** of each direction: the largest |cosine| with a basis vector (and
    which unit), the participation ratio ``(Σw²)²/Σw⁴`` (1 = one unit, ``(d+2)/3`` for a random
    direction) and the L1/L2 ratio (1 = one unit, about ``√(2d/π)`` for a random direction);
(d) the **causal effect** at the best site (chosen by the mean-difference direction's SST dev
    accuracy): for a model with answer tokens (a transformer) the share of SST zero-shot accuracy
    removed by mean-ablating each direction, the best unit, the top-k units, a bank of random
    directions and of random k-unit sets, and by the LEACE eraser fit on the same activations
    (``leace``; its control ``leace_random``: erasers fit on shuffled labels), at all positions
    and at commas (the
    :mod:`interp.experiments.ablate` machinery); for a model without (the byte mLSTM) the drop of an L2
    probe's accuracy when the same things are mean-ablated in the cell state ``hook_c`` across
    time and the probe re-reads the final state.

Fitting data (``data``; each result says which): ``toy`` (toy reviews over several templates,
read at the adjective; train and test adjectives kept apart, single tokens per tokenizer),
``sst_last`` (SST train sentences read at the last token) and ``sst_mean`` (averaged over the
real tokens after the first). Directions fit on ``sst_last`` are evaluated on the last-token
reads of SST dev/test, the others on the token-mean reads. Activations are gathered once per
data set for all sites in one pass and reduced batch by batch (no cache of every hook).
"""

from interp.experiments.find.causal import _answers, _causal, _fit_das, _interchange_all, _toy_pairs  # noqa: F401
from interp.experiments.find.config import (COLOURS, DATA_SOURCES, METHODS, NEURON_METHODS,  # noqa: F401
                                            RANDOM_WARN, SITE_KINDS, CompareConfig)
from interp.experiments.find.features import _RawTexts, _sample, gather_features  # noqa: F401
from interp.experiments.find.measures import _default_sites, _held_out, _site_key, _site_label, alignment  # noqa: F401
from interp.experiments.find.result import _pct_ci, _result  # noqa: F401
from interp.experiments.find.run import compare  # noqa: F401

__all__ = ["CompareConfig", "compare", "gather_features", "alignment", "DATA_SOURCES", "METHODS"]
