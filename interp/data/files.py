"""The data folder's files: where they are, whether they are whole, and their hashes.

A loader finds its folder and file through :func:`interp.config.data_dir` (environment variable
``INTERP_DATA_DIR``), called when the loader runs, never at import time. A missing folder or
file raises :class:`interp.config.DataNotFoundError` naming the exact path looked for; a file
that is there but damaged (cut short, not matching the folder's ``MD5SUMS``, holding a label
that cannot be right) raises :class:`DataFileError`; a wrong split raises :class:`ValueError`
listing the valid ones.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from interp import config
from interp.config import DataNotFoundError
from interp.runs import file_sha256

ENV_VAR = "INTERP_DATA_DIR"

SPLITS: dict[str, tuple[str, ...]] = {
    "sst": ("train", "dev", "test"),
    "sst_trees": ("train", "dev", "test"),
    "sst2_glue": ("train", "dev"),
    "imdb": ("train", "test", "unsup"),
}


# --------------------------------------------------------------------------- paths


def _where(root: Path) -> str:
    return f"set {ENV_VAR} to the folder that holds it (data folder now: {root})"


def _folder(name: str) -> Path:
    root = config.data_dir()
    path = root / name
    if not path.is_dir():
        raise DataNotFoundError(f"data folder not found: {path}; {_where(root)}")
    return path


def _file(folder: Path, name: str, *, lines: bool = True) -> Path:
    path = folder / name
    if not path.is_file():
        raise DataNotFoundError(f"data file not found: {path}; {_where(folder.parent)}")
    verify_file(path, lines=lines)
    return path


class DataFileError(ValueError):
    """A data file is there but damaged: cut short, not matching the folder's ``MD5SUMS``, or
    holding a row or label that cannot be right."""


_VERIFIED: dict[tuple[str, int, int], None] = {}


def _md5sums(root: Path) -> dict[str, str]:
    """``MD5SUMS`` of the data folder as {relative path: md5}; empty when there is none."""
    path = root / "MD5SUMS"
    if not path.is_file():
        return {}
    out = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        parts = line.strip().split(maxsplit=1)
        if len(parts) == 2:
            out[parts[1].lstrip("*").removeprefix("./")] = parts[0].lower()
    return out


def verify_file(path: Path, *, lines: bool = True) -> None:
    """Refuse a damaged data file, once per file (and size and mtime) per process: a text file
    whose last row has no line end (cut mid-row), or a file whose MD5 differs from the data
    folder's ``MD5SUMS`` entry. Files ``MD5SUMS`` does not list are checked for the line end only."""
    st = path.stat()
    key = (str(path.resolve()), st.st_size, st.st_mtime_ns)
    if key in _VERIFIED:
        return
    if st.st_size == 0:
        raise DataFileError(f"data file {path} is empty; copy it again from the source (see data.md)")
    if lines:
        with open(path, "rb") as f:
            f.seek(-1, 2)
            if f.read(1) != b"\n":
                raise DataFileError(f"data file {path} ends in the middle of a row (no final line end): it was cut "
                                    f"short; copy it again from the source (see data.md)")
    try:
        root = config.data_dir()
        rel = path.resolve().relative_to(root.resolve()).as_posix()
    except (ValueError, DataNotFoundError):
        root, rel = None, None
    if root is not None:
        expected = _md5sums(root).get(rel)
        if expected is not None:
            h = hashlib.md5()
            with open(path, "rb") as f:
                for chunk in iter(lambda: f.read(1 << 20), b""):
                    h.update(chunk)
            if h.hexdigest() != expected:
                raise DataFileError(f"data file {path} does not match {root / 'MD5SUMS'} (md5 {h.hexdigest()}, "
                                    f"expected {expected}): it is damaged or changed; copy it again from the source")
    _VERIFIED[key] = None


def _label(path: Path, lineno: int, value: str, allowed: tuple[int, ...] = (0, 1)) -> int:
    try:
        label = int(value)
    except ValueError:
        raise DataFileError(f"{path}:{lineno}: label {value!r} is not a number") from None
    if label not in allowed:
        raise DataFileError(f"{path}:{lineno}: label {label} is not one of {', '.join(map(str, allowed))}")
    return label


def _check_split(dataset: str, split: str) -> None:
    valid = SPLITS[dataset]
    if split not in valid:
        raise ValueError(f"unknown {dataset} split {split!r}; valid splits: {', '.join(valid)}")


# --------------------------------------------------------------------------- hashing


def _sources_sha256(sources: tuple[Path, ...]) -> str:
    """One file: its plain sha256 (what ``sha256sum`` prints). Several files or folders:
    the sha256 of ``sha256sum``-style lines ``<hex>  <path>`` over every file, in order,
    paths relative to each source's parent."""
    if len(sources) == 1 and sources[0].is_file():
        return file_sha256(sources[0])
    h = hashlib.sha256()
    for src in sources:
        files = sorted(p for p in src.rglob("*") if p.is_file()) if src.is_dir() else [src]
        for p in files:
            rel = p.relative_to(src.parent).as_posix()
            h.update(f"{file_sha256(p)}  {rel}\n".encode())
    return h.hexdigest()
