"""Direction finders with scikit-learn's estimator contract.

Hyper-parameters go in ``__init__``; ``fit(X, y)`` returns ``self``; fitted state ends in ``_``;
``direction_`` is unit-norm with canonical sign (positive projection = class 1 = positive
sentiment); ``transform`` projects; ``score`` is the accuracy of thresholding the projection at
the midpoint of the two class means learned in ``fit``.

Directions: :class:`MeanDiff`, :class:`KMeansDirection`, :class:`PCADirection`,
:class:`LogisticDirection` (L1 or L2), :class:`DAS` (distributed alignment search: fit on
interchange interventions with :meth:`DAS.fit_interchange`, not on ``(X, y)``). An eraser:
:class:`Leace` (least-squares concept erasure, Belrose et al. 2023, through the
``concept-erasure`` package: an affine map that removes every linearly readable trace of the
label with the least change to X; applied in a model by
:class:`interp.interventions.LeaceErasure`). Neurons:
:class:`BestNeuron` (``direction_ = ±e_k``, ``unit_``) and :class:`TopKNeurons` (``units_``; the
direction is an L2 probe restricted to them). ``finder.to_direction(site, ...)`` gives an
:class:`interp.directions.Direction` with provenance, for saving.

The modules, by kind (import from here, or from the module):

- :mod:`interp.finders.base`: :class:`DirectionFinder` (the contract) and the input checks.
- :mod:`interp.finders.linear`: directions over all units, and the logistic-regression helpers.
- :mod:`interp.finders.units`: :class:`BestNeuron`, :class:`TopKNeurons`.
- :mod:`interp.finders.leace`: :class:`Leace`.
- :mod:`interp.finders.das`: :class:`DAS`, :func:`fit_das_toy`.
- :mod:`interp.finders.fit`: finders by name (:func:`make_finder`, :data:`FINDERS`) and one
  direction per site of a model on a named data set (:func:`fit_directions`).
- :mod:`interp.finders.probes`: Radford et al.'s probes over features with train/dev/test splits
  (:func:`sentiment_probes`: the L1 probe with ``C`` chosen on dev, the L2 probe, the best single
  unit; :func:`data_efficiency`), which ``interp probe-mlstm`` runs on the mLSTM.
"""

from __future__ import annotations

from interp.finders.base import DirectionFinder, NotFittedError
from interp.finders.das import DAS, fit_das_toy
from interp.finders.fit import (FINDERS, FIT_DATA, FIT_METHODS, FittedDirections, check_fit_options, fit_directions,
                                fit_toy_directions, fitting_data, get_directions, make_finder)
from interp.finders.leace import Leace
from interp.finders.linear import KMeansDirection, LogisticDirection, MeanDiff, PCADirection
from interp.finders.probes import data_efficiency, sentiment_probes
from interp.finders.units import BestNeuron, TopKNeurons

__all__ = ["DirectionFinder", "MeanDiff", "KMeansDirection", "PCADirection", "LogisticDirection", "BestNeuron",
           "TopKNeurons", "DAS", "Leace", "FINDERS", "make_finder", "NotFittedError",
           "FIT_DATA", "FIT_METHODS", "check_fit_options", "fitting_data", "FittedDirections", "fit_directions",
           "fit_das_toy", "sentiment_probes", "data_efficiency", "fit_toy_directions", "get_directions"]
