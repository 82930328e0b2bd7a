"""Old import paths (before the subpackages of issue 17) kept for one release.

Each old module is a three-line file that calls :func:`alias`: it warns once (``DeprecationWarning``)
and puts the new module in its place in ``sys.modules``, so ``import interp.ablate`` and
``interp.ablate.run_ablate`` give the very objects of :mod:`interp.experiments.ablate` (patching
one patches the other). ``python -m OLD`` runs the new module's command line.
"""
from __future__ import annotations

import importlib
import runpy
import sys
import warnings


def alias(old: str, new: str) -> None:
    if old == "__main__":  # python -m interp.zoo: run the new module as the program
        warnings.warn(f"this module moved to {new}: run python -m {new}", DeprecationWarning, stacklevel=2)
        runpy.run_module(new, run_name="__main__", alter_sys=True)
        return
    warnings.warn(f"{old} moved to {new}; import it from there (the old path goes in the next release)",
                  DeprecationWarning, stacklevel=3)
    sys.modules[old] = importlib.import_module(new)
