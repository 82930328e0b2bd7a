"""interp: is sentiment a neuron or a direction? The public API in one import.

``import interp`` is cheap: it imports nothing heavy (no torch, no TransformerLens). Each name below
is imported from its module the first time it is used (PEP 562), and the submodules
(``interp.zoo``, ``interp.data``, ``interp.positions``, ``interp.report``, …) import as before::

    import interp

    model = interp.load("smollm2-135m")            # a zoo name, a model folder, an mLSTM checkpoint
    res = interp.run_ablate(model, interp.AblateConfig(limit=100))
    res.to_frame()                                 # its tables as pandas DataFrames

See docs/api.md ("One import") for every name.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
import types

#: public name -> the module that defines it
_NAMES: dict[str, str] = {
    # loading and the model classes
    "load": "interp.models.loading",
    "TransformerModel": "interp.models.transformer",
    "MLSTM": "interp.models.mlstm",
    "MLSTMModel": "interp.models.mlstm.adapter",
    # directions and finders
    "Direction": "interp.directions",
    **dict.fromkeys(["MeanDiff", "KMeansDirection", "PCADirection", "LogisticDirection", "BestNeuron", "TopKNeurons",
                     "DAS", "Leace", "make_finder", "fit_directions"], "interp.finders"),
    # position selectors
    **dict.fromkeys(["Positions", "AllTokens", "LastToken", "CharTokens", "Commas", "FullStops", "Punctuation",
                     "Lexicon", "Predicate", "WordLexicon", "SentimentWords", "NoPositionsError"], "interp.positions"),
    # interventions (steering's two live with the steering experiment)
    **dict.fromkeys(["DirectionAblation", "LeaceErasure", "ResampleAblation", "VectorAblation", "ActivationPatch"],
                    "interp.interventions"),
    **dict.fromkeys(["AddVector", "HoldUnit"], "interp.experiments.steer"),
    # the engine and the task
    **dict.fromkeys(["run_sweep", "Condition"], "interp.engine.sweep"),
    "SSTZeroShot": "interp.tasks",
    # the experiments' entry points
    **dict.fromkeys(["run_ablate", "AblateConfig"], "interp.experiments.ablate"),
    **dict.fromkeys(["compare", "CompareConfig"], "interp.experiments.find"),
    **dict.fromkeys(["run_patch_toy", "PatchConfig"], "interp.experiments.patch"),
    **dict.fromkeys(["run_summarize", "SummarizeConfig", "run_summarize_mlstm", "MLSTMSummarizeConfig"],
                    "interp.experiments.summarize"),
    "probe_report": "interp.experiments.probe",
    **dict.fromkeys(["run_steer_eval", "SteerEvalConfig"], "interp.experiments.steer"),
    # results and the report
    **dict.fromkeys(["Result", "Table", "TokenTrace", "write_report"], "interp.report"),
}

#: submodules that are part of the public API (imported as modules, like any other submodule)
_MODULES = ("report",)

__all__ = [*_NAMES, *_MODULES]


def __getattr__(name: str):
    module = _NAMES.get(name)
    if module is not None:
        value = getattr(importlib.import_module(module), name)
    elif not name.startswith("__") and importlib.util.find_spec(f"{__name__}.{name}") is not None:
        value = importlib.import_module(f"{__name__}.{name}")  # a submodule is a submodule, never shadowed
    else:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r} (the public names: dir(interp))")
    globals()[name] = value  # once: later lookups do not come back here
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))


class _Package(types.ModuleType):
    """``interp`` itself. One public name is also an old module path: ``compare`` (the function) and
    ``interp/compare.py`` (the deprecated alias of :mod:`interp.experiments.find`). Importing that
    path must not rebind ``interp.compare`` to the module, so a module is never set over a public name."""

    def __setattr__(self, name, value):
        if name in _NAMES and isinstance(value, types.ModuleType):
            return
        super().__setattr__(name, value)


sys.modules[__name__].__class__ = _Package
