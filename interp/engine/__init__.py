"""The one sweep engine: every experiment's loop over batches × conditions (:func:`run_sweep`).

:mod:`.sweep` plans, caches and runs sweeps (prefix reuse, stacking, resumable cells); :mod:`.ray`
runs the same shards on Ray actors.
"""
from interp.engine.sweep import *  # noqa: F401,F403
from interp.engine.sweep import __all__  # noqa: F401
