"""Run folders: where a command writes, safely.

A run folder belongs to one command. :class:`RunFolder` takes a lock (two runs into one folder
at once: the second is refused), refuses a folder that holds another command's run or unrelated
files unless ``force`` (which clears it first), writes every file to a temporary name and renames
it into place, and marks the run complete only after its last file is written. A run that fails
or is interrupted (Ctrl-C) is marked ``partial``: the sweep engine's finished cells stay in the
folder, and re-running the same command resumes from them.

``run.json`` says what the folder holds::

    {"identity_key": "…", "command": "interp ablate …", "identity": {…}, "status": "running|partial|complete", …}
"""

from __future__ import annotations

import errno
import hashlib
import json
import os
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

RUN_FILE = "run.json"
LOCK_FILE = ".interp.lock"


class RunFolderError(ValueError):
    """A run folder that cannot be used as asked (locked, used by another command, unwritable)."""


def stable_key(obj: Any, n: int = 16) -> str:
    """A short stable hash of a JSON-serialisable object (sorted keys)."""
    blob = json.dumps(obj, sort_keys=True, default=str, separators=(",", ":")).encode()
    return hashlib.sha256(blob).hexdigest()[:n]


def atomic_write_bytes(path: str | Path, data: bytes, mode: int = 0o644) -> Path:
    """Write ``data`` to ``path`` through a temporary file in the same folder and a rename, so a
    reader never sees half a file and an interrupted write leaves the old file (or none)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
    return path


def atomic_write_text(path: str | Path, text: str) -> Path:
    return atomic_write_bytes(path, text.encode("utf-8"))


def atomic_write_json(path: str | Path, obj: Any) -> Path:
    return atomic_write_text(path, json.dumps(obj, indent=1, default=str))


def check_writable(path: str | Path) -> Path:
    """The folder ``path`` can be created and written; a clear error naming the blocking path if not.

    Called before any work starts, so an unwritable ``--out`` never costs a run."""
    path = Path(path)
    for parent in [path, *path.parents]:
        if parent.exists():
            if not parent.is_dir():
                raise RunFolderError(f"cannot write to {path}: {parent} is a file, not a folder")
            if not os.access(parent, os.W_OK | os.X_OK):
                raise RunFolderError(f"cannot write to {path}: {parent} is not writable")
            break
    return path


class RunFolder:
    """A locked output folder for one command. Use as a context manager::

        with RunFolder(out, identity={"command": "ablate", "config": cfg}, command=cmd, force=False) as run:
            ... run.write_json("result.json", ...); run.complete()

    ``identity`` is what makes two runs "the same command" (the subcommand and the options that
    change results; not ``--threads`` or ``--progress``). Leaving the block with an exception marks
    the run ``partial`` (its finished cells kept); leaving it without :meth:`complete` does too.
    """

    def __init__(self, path: str | Path, *, identity: dict, command: str | None = None, force: bool = False):
        self.path = Path(path)
        self.identity = identity
        self.key = stable_key(identity)
        self.command = command
        self.force = force
        self._lock_fd: int | None = None
        self._created = False
        self.status: str | None = None
        self.resumed = False
        self._earlier: list[dict] = []  # the sessions of a resumed run before this one
        self._t0: float | None = None  # this session's start (set by open)
        self._started: str | None = None

    # ------------------------------------------------------------------ opening
    def open(self) -> "RunFolder":
        self._t0, self._started = time.time(), _timestamp()
        check_writable(self.path)
        self._created = not self.path.exists()
        try:
            self.path.mkdir(parents=True, exist_ok=True)
        except OSError as e:
            raise RunFolderError(f"cannot create {self.path}: {e.strerror or e}") from None
        self._lock()
        try:
            self._claim()
        except BaseException:
            self._unlock()
            raise
        return self

    def _lock(self) -> None:
        import fcntl

        fd = os.open(self.path / LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as e:
            os.close(fd)
            if e.errno in (errno.EAGAIN, errno.EACCES, errno.EWOULDBLOCK):
                raise RunFolderError(f"another interp run is writing to {self.path} right now; wait for it to finish "
                                     "or choose another --out") from None
            raise
        self._lock_fd = fd

    def _unlock(self) -> None:
        if self._lock_fd is not None:
            import fcntl

            fcntl.flock(self._lock_fd, fcntl.LOCK_UN)
            os.close(self._lock_fd)
            self._lock_fd = None

    def _contents(self) -> list[Path]:
        return [p for p in self.path.iterdir() if p.name != LOCK_FILE]

    def _claim(self) -> None:
        meta = self.read_meta(self.path)
        contents = self._contents()
        if meta is not None and meta.get("identity_key") == self.key and not self.force:
            self.resumed = True  # the same command again: keep its finished cells
            self._earlier = [x for x in meta.get("sessions", []) if isinstance(x, dict)]
        elif contents:
            if not self.force:
                if meta is None:
                    raise RunFolderError(f"{self.path} is not empty and holds no interp run; choose another --out "
                                         "or pass --force to clear it")
                raise RunFolderError(
                    f"{self.path} holds a run of another command ({meta.get('command') or meta.get('identity', {}).get('command')!r}, "
                    f"{meta.get('status')}); choose another --out or pass --force to clear it")
            for p in contents:
                shutil.rmtree(p) if p.is_dir() and not p.is_symlink() else p.unlink()
        self._write_meta("running")

    @staticmethod
    def read_meta(path: str | Path) -> dict | None:
        f = Path(path) / RUN_FILE
        if not f.exists():
            return None
        try:
            meta = json.loads(f.read_text())
        except (OSError, ValueError):
            return {"status": "corrupt", "identity_key": None}
        return meta if isinstance(meta, dict) else {"status": "corrupt", "identity_key": None}

    def _write_meta(self, status: str, **extra) -> None:
        """run.json: who the run is, its status, and every session that worked on it (a resumed run's
        earlier ones kept), so ``wall_s`` is the run's whole wall-clock time, not its last session's."""
        self.status = status
        now = _timestamp()
        this = {"started": self._started, "updated": now, "seconds": round(time.time() - self._t0, 1),
                "pid": os.getpid(), "status": status}
        sessions = [*self._earlier, this]
        meta = {"identity_key": self.key, "identity": self.identity, "command": self.command, "status": status,
                "updated": now, "pid": os.getpid(), "sessions": sessions,
                "wall_s": round(sum(float(x.get("seconds") or 0) for x in sessions), 1), **extra}
        atomic_write_json(self.path / RUN_FILE, meta)

    # ------------------------------------------------------------------ writing
    def file(self, rel: str | Path) -> Path:
        return self.path / rel

    def write_bytes(self, rel: str | Path, data: bytes) -> Path:
        return atomic_write_bytes(self.path / rel, data)

    def write_text(self, rel: str | Path, text: str) -> Path:
        return atomic_write_text(self.path / rel, text)

    def write_json(self, rel: str | Path, obj: Any) -> Path:
        return atomic_write_json(self.path / rel, obj)

    def cells(self, sweep_key: str) -> Path:
        """Folder of one sweep's finished cells (the engine writes and resumes from it)."""
        return self.path / "cells" / sweep_key

    def step(self, name: str, compute):
        """The value of one finished step of the run (``steps/<name>.pt``), computed by ``compute()``
        and saved the first time, loaded when the same command runs again, so a resumed run does
        not redo the work before its sweep (fitting directions, reference means, a filter pass).
        The folder's identity is the command's, so a saved step always belongs to this config.
        An unreadable step file is computed again (with a warning)."""
        path = self.path / "steps" / f"{name}.pt"
        value = load_torch(path, "step") if path.is_file() else None
        if value is None:
            value = compute()
            save_torch(path, value)
        return value

    def complete(self, **extra) -> None:
        """Mark the run complete: call after its last file is written."""
        self._write_meta("complete", **extra)

    def partial(self, reason: str) -> None:
        self._write_meta("partial", reason=reason)

    # ------------------------------------------------------------------ context
    def __enter__(self) -> "RunFolder":
        return self.open()

    def _nothing_written(self) -> bool:
        return all(p.name in (RUN_FILE, LOCK_FILE) for p in self.path.iterdir())

    def __exit__(self, exc_type, exc, tb) -> None:
        try:
            if self.status != "complete" and not self.resumed and self._nothing_written():
                # stopped before anything was written (bad input, a model that would not load): leave
                # no claim behind, so the folder is as it was
                for name in (RUN_FILE, LOCK_FILE):
                    try:
                        (self.path / name).unlink()
                    except FileNotFoundError:
                        pass
                if self._created:
                    try:
                        self.path.rmdir()
                    except OSError:
                        pass
                self.status = None
            elif self.status != "complete":
                if exc_type is KeyboardInterrupt:
                    reason = "interrupted (Ctrl-C)"
                elif exc_type is not None:
                    reason = f"failed: {exc_type.__name__}: {exc}"
                else:
                    reason = "stopped before completion"
                self.partial(reason + "; finished cells are kept: run the same command again to resume")
        finally:
            self._unlock()


def _timestamp() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S%z")


def save_torch(path: str | Path, obj: Any) -> Path:
    """``torch.save`` through :func:`atomic_write_bytes`: a reader never sees half a file."""
    import io

    import torch

    buf = io.BytesIO()
    torch.save(obj, buf)
    return atomic_write_bytes(path, buf.getvalue())


def load_torch(path: str | Path, what: str, check=None):
    """What :func:`save_torch` wrote, or ``None`` (with a warning naming ``what``) when the file is
    torn, foreign or fails ``check(obj)``: the caller computes it again."""
    import logging

    import torch

    try:
        obj = torch.load(path, weights_only=False)
        if check is not None and not check(obj):
            raise ValueError(f"not a {what}")
        return obj
    except Exception as e:  # a torn or foreign file: recompute it
        logging.getLogger(__name__).warning("ignoring unreadable %s %s (%s); it is run again", what, path, e)
        return None


def saved_step(engine: dict | None, name: str, compute):
    """``compute()``, saved as a step of the run folder in ``engine["run"]`` (the sweep keywords an
    experiment is handed) so that a resumed run loads it; without a run folder, just ``compute()``."""
    run = (engine or {}).get("run")
    return run.step(name, compute) if run is not None else compute()


__all__ = ["RunFolder", "RunFolderError", "saved_step", "save_torch", "load_torch", "atomic_write_bytes", "atomic_write_text", "atomic_write_json",
           "check_writable", "stable_key"]


_HASH_CACHE: dict[tuple[str, int, int], str] = {}


def file_sha256(path: str | os.PathLike) -> str:
    """sha256 of a file, cached on (path, mtime, size) so repeated calls don't re-read it.

    A folder hashes to the sha256 of its sorted ``"relative/path\\0<file sha256>\\n"`` lines
    (hidden files included, symlinks followed).
    """
    p = Path(path).resolve()
    if p.is_dir():
        h = hashlib.sha256()
        for f in sorted(x for x in p.rglob("*") if x.is_file()):
            h.update(f"{f.relative_to(p).as_posix()}\0{file_sha256(f)}\n".encode())
        return h.hexdigest()
    st = p.stat()  # FileNotFoundError for a missing file, on purpose
    key = (str(p), st.st_mtime_ns, st.st_size)
    digest = _HASH_CACHE.get(key)
    if digest is None:
        h = hashlib.sha256()
        with open(p, "rb") as fh:
            for chunk in iter(lambda: fh.read(1 << 20), b""):
                h.update(chunk)
        digest = h.hexdigest()
        _HASH_CACHE[key] = digest
    return digest
