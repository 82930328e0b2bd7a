"""The summarization experiment: does sentiment travel through commas and full stops?

Tigges et al. (2023) found that a sentiment direction is partly *summarized* at punctuation:
ablating it at commas alone removes a share of the model's sentiment accuracy. This measures, on
SST, the share of above-chance accuracy removed by ablating the sentiment direction

- at commas only, full stops only, all punctuation, sentiment words only, and everywhere;
- with three direction ablations, each beside the same ablation of seeded random directions:
  ``project`` (projection zeroed), ``mean`` (set to its mean over the same kind of position in a
  reference set), ``resample`` (set to the projection at a random position of the same kind in
  the reference set, i.e. from another example);
- and ``vector``: the whole activation at those positions replaced by the mean activation of
  that position type (no direction, so no random control; it bounds what any direction there
  could carry);

on the full test set (unfiltered) and under the Tigges protocol (sentences the model gets right
that contain a comma, classes balanced).

Transformers (:func:`run_summarize`): per-layer mean-difference toy directions in
``resid_post`` (:func:`interp.finders.fit.fit_toy_directions`), each layer's direction ablated in its
layer, all layers at once; zero-shot accuracy at the dev-fitted threshold. The mLSTM
(:func:`run_summarize_mlstm`): a unit and a direction in ``c`` and in ``h`` ablated at the
selected time steps; accuracy of an L2 logistic probe fitted on the final state of SST train,
re-read under the intervention.
"""

from interp.experiments.summarize.common import (DIRECTION_MODES, MODES, RANDOM_WARN,  # noqa: F401
                                                 SUMMARY_POSITIONS, Reference, _fmt_ci, _selector_stats,
                                                 _subsample, _summary_line, _summary_table, ablations,
                                                 evaluate_conditions, reference_pass, score_conditions)
from interp.experiments.summarize.mlstm import (MLSTMSummarizeConfig, _batches, final_states,  # noqa: F401
                                                fit_l2_probe, run_summarize_mlstm)
from interp.experiments.summarize.transformer import (SummarizeConfig, _directions_text,  # noqa: F401
                                                      _token_traces, run_summarize)

__all__ = ["SummarizeConfig", "MLSTMSummarizeConfig", "run_summarize", "run_summarize_mlstm", "reference_pass",
           "evaluate_conditions", "score_conditions", "final_states", "fit_l2_probe", "Reference",
           "SUMMARY_POSITIONS", "MODES"]
