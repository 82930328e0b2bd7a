"""Where the toolkit reads data and keeps its caches: one place, set by environment variables.

- ``INTERP_DATA_DIR``: the data folder (SST, SST trees, GLUE SST-2, IMDB, MR). Defaults to
  ``../shared/data`` relative to the project root, or to the current directory, when that exists.
- ``INTERP_CACHE_DIR``: where pulled and converted models live. Defaults to
  ``~/.cache/interp``.
"""

from __future__ import annotations

import os
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent


class DataNotFoundError(FileNotFoundError):
    """The data folder, or a file expected inside it, is missing."""


def data_dir() -> Path:
    """The data folder. Raises :class:`DataNotFoundError` naming every place looked at."""
    env = os.environ.get("INTERP_DATA_DIR")
    if env:
        path = Path(env).expanduser()
        if not path.is_dir():
            raise DataNotFoundError(f"INTERP_DATA_DIR={env!r} is not a folder")
        return path
    candidates = [PROJECT_ROOT.parent / "shared" / "data", Path.cwd().parent / "shared" / "data"]
    for c in candidates:
        if c.is_dir():
            return c
    looked = ", ".join(str(c) for c in candidates)
    raise DataNotFoundError(
        f"no data folder: set INTERP_DATA_DIR to the folder holding sst/, sst_trees/, "
        f"sst2_glue/, imdb/ and mr/ (looked in: {looked})"
    )


def cache_dir() -> Path:
    """The model cache folder (created on first use)."""
    path = Path(os.environ.get("INTERP_CACHE_DIR", Path.home() / ".cache" / "interp")).expanduser()
    path.mkdir(parents=True, exist_ok=True)
    return path
