"""The Result noun: what every analysis (ablate, find, patch, train, steer, ...) returns.

A :class:`Result` holds what a reader needs (title, plain-text summary, tables, plotly
figures, per-token traces), the raw numbers for re-analysis (``data``) and a manifest saying
how it was made (:func:`make_manifest`). It is plain data: :meth:`Result.save` writes one
JSON file and :meth:`Result.load` reads it back equal. :mod:`interp.report.html` renders a list
of results into one self-contained, offline HTML page; ``Result._repr_html_`` shows the same
thing in Jupyter.

JSON notes: numpy scalars/arrays, torch tensors, tuples, sets and ``Path`` objects are
converted on the way out (arrays and tensors become nested lists, paths strings). Non-finite
floats are written as Python's ``json`` writes them (``NaN``, ``Infinity``), which Python's
``json`` (and pandas) read back; strict JSON parsers (JavaScript's ``JSON.parse``) do not.
Figures are kept as plotly gives them: numpy data in a ``go.Figure`` comes out of
``to_plotly_json()`` as plotly's typed arrays (``{"dtype": "f8", "bdata": <base64>}``), which
plotly.js draws; put numbers meant for re-analysis in ``data``.
"""

from __future__ import annotations

import dataclasses
import datetime as _dt
import json
import os
import platform
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable

from interp.runs import file_sha256  # noqa: F401  (re-exported: results name their files by hash)

PROJECT_ROOT = Path(__file__).resolve().parents[2]

SCHEMA = "interp.result/1"

__all__ = ["Table", "TokenTrace", "Result", "make_manifest", "to_jsonable", "file_sha256"]


# ---------------------------------------------------------------------------------------------
# JSON conversion


def to_jsonable(obj: Any) -> Any:
    """``obj`` as plain JSON types (dict/list/str/int/float/bool/None), recursively.

    Handles numpy scalars and arrays, torch tensors, plotly figures (``to_plotly_json``),
    dataclasses, ``Path``, tuples and sets (as lists), and mappings with non-string keys
    (keys become ``str``). Anything else raises ``TypeError``.
    """
    if obj is None or isinstance(obj, (bool, str)):
        return obj
    if isinstance(obj, int):
        return int(obj)
    if isinstance(obj, float):
        return float(obj)
    if isinstance(obj, dict):
        return {(k if isinstance(k, str) else str(to_jsonable(k))): to_jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [to_jsonable(v) for v in obj]
    if isinstance(obj, (set, frozenset)):
        items = [to_jsonable(v) for v in obj]
        try:
            return sorted(items)
        except TypeError:
            return items
    if isinstance(obj, os.PathLike):
        return os.fspath(obj)
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        if hasattr(obj, "to_dict"):
            return obj.to_dict()
        return to_jsonable(dataclasses.asdict(obj))
    # torch, without importing it when it isn't loaded
    torch = sys.modules.get("torch")
    if torch is not None and isinstance(obj, torch.Tensor):
        t = obj.detach().cpu()
        if t.dtype == torch.bfloat16 or t.dtype == torch.float16:
            t = t.float()
        return t.tolist()
    np = sys.modules.get("numpy")
    if np is not None:
        if isinstance(obj, np.ndarray):
            return to_jsonable(obj.tolist())
        if isinstance(obj, np.generic):
            return to_jsonable(obj.item())
    if hasattr(obj, "to_plotly_json"):
        return to_jsonable(obj.to_plotly_json())
    if isinstance(obj, (_dt.datetime, _dt.date)):
        return obj.isoformat()
    raise TypeError(f"cannot convert {type(obj).__name__} to JSON: {obj!r:.80}")


def _figure_dict(fig: Any) -> dict:
    """A plotly figure (``go.Figure`` or its dict) as a plain JSON-able dict."""
    if hasattr(fig, "to_plotly_json"):
        fig = fig.to_plotly_json()
    if not isinstance(fig, dict):
        raise TypeError(f"a figure must be a plotly figure or its dict, not {type(fig).__name__}")
    return to_jsonable(fig)


# ---------------------------------------------------------------------------------------------
# the nouns


#: The HTML view of these objects, handed in by :mod:`interp.report.html` when it is imported (the data
#: model does not import its view; importing anything under ``interp.report`` imports both).
_VIEW = None


def set_view(module) -> None:
    """Called once by :mod:`interp.report.html`: the module whose functions render tables, traces, results."""
    global _VIEW
    _VIEW = module


def _view():
    if _VIEW is None:  # only reachable if this file was loaded outside its package
        raise RuntimeError("interp.report.html is not loaded: import interp.report")
    return _VIEW


class ResultFileError(ValueError):
    """A file that is not a saved :class:`Result` (not JSON, not an object, a missing part, cut rows)."""


@dataclass
class Table:
    """A titled table: ``columns`` names, ``rows`` of cells (str, int, float or None)."""

    title: str
    columns: list[str]
    rows: list[list]
    caption: str = ""

    def to_dict(self) -> dict:
        return {
            "title": self.title,
            "columns": [str(c) for c in self.columns],
            "rows": to_jsonable([list(r) for r in self.rows]),
            "caption": self.caption,
        }

    @classmethod
    def from_dict(cls, d: dict) -> "Table":
        if not isinstance(d, dict) or not isinstance(d.get("columns"), list) or not isinstance(d.get("rows"), list):
            raise ResultFileError("a table without its columns and rows lists")
        columns = list(d["columns"])
        for i, r in enumerate(d["rows"]):
            if not isinstance(r, list) or len(r) != len(columns):
                got = len(r) if isinstance(r, list) else type(r).__name__
                raise ResultFileError(f"table {d.get('title', '')!r}: row {i} has {got} cells for {len(columns)} columns "
                                      f"(the file is cut or edited)")
        return cls(title=str(d.get("title", "")), columns=columns, rows=[list(r) for r in d["rows"]],
                   caption=d.get("caption", ""))

    def _repr_html_(self) -> str:
        report = _view()
        return f'<div class="interp-report"><style>{report.CSS}</style>{report.table_html(self)}</div>'


@dataclass
class TokenTrace:
    """Per-token values over a text, drawn as coloured text (red negative, white 0, green positive).

    ``tokens`` are decoded strings (leading spaces and newlines are kept as they are);
    ``values`` one float per token (``None``/NaN are drawn grey). ``vmax`` fixes the symmetric
    colour scale ``[-vmax, vmax]``; by default it is the largest ``|value|``.
    """

    title: str
    tokens: list[str]
    values: list[float]
    caption: str = ""
    vmax: float | None = None

    def __post_init__(self) -> None:
        if len(self.tokens) != len(self.values):
            raise ValueError(f"TokenTrace {self.title!r}: {len(self.tokens)} tokens but {len(self.values)} values")

    def to_dict(self) -> dict:
        return {
            "title": self.title,
            "tokens": [str(t) for t in self.tokens],
            "values": to_jsonable(list(self.values)),
            "caption": self.caption,
            "vmax": None if self.vmax is None else float(self.vmax),
        }

    @classmethod
    def from_dict(cls, d: dict) -> "TokenTrace":
        return cls(title=d["title"], tokens=list(d["tokens"]), values=list(d["values"]),
                   caption=d.get("caption", ""), vmax=d.get("vmax"))

    def _repr_html_(self) -> str:
        """Jupyter shows the coloured text (see :func:`interp.report.html.token_trace_html`)."""
        report = _view()
        return report.token_trace_html(self)


@dataclass
class Result:
    """What an analysis returns: text, tables, figures and traces for people, ``data`` for re-analysis.

    ``kind``: the analysis ("ablate", "find", "patch", "train", "steer", ...).
    ``summary``: plain text; paragraphs separated by blank lines (it is HTML-escaped, not markup).
    ``figures``: plotly figure dicts (``fig.to_plotly_json()``; a ``go.Figure`` is accepted too).
    ``data``: JSON-able raw numbers (numpy/torch are converted on save).
    ``manifest``: from :func:`make_manifest`.
    """

    kind: str
    title: str
    summary: str = ""
    tables: list[Table] = field(default_factory=list)
    figures: list[dict] = field(default_factory=list)
    traces: list[TokenTrace] = field(default_factory=list)
    data: dict = field(default_factory=dict)
    manifest: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        """Plain JSON types only; ``Result.from_dict(r.to_dict()) == r`` for JSON-typed contents."""
        return {
            "schema": SCHEMA,
            "kind": self.kind,
            "title": self.title,
            "summary": self.summary,
            "tables": [t.to_dict() for t in self.tables],
            "figures": [_figure_dict(f) for f in self.figures],
            "traces": [t.to_dict() for t in self.traces],
            "data": to_jsonable(self.data),
            "manifest": to_jsonable(self.manifest),
        }

    @classmethod
    def from_dict(cls, d: dict) -> "Result":
        if not isinstance(d, dict):
            raise ResultFileError(f"a JSON {type(d).__name__}, not an interp result (an object with schema, kind, "
                                  f"title, tables, manifest)")
        schema = d.get("schema", SCHEMA)
        if not str(schema).startswith("interp.result/"):
            raise ResultFileError(f"not an interp result (schema={schema!r})")
        missing = [k for k in ("kind", "title") if not isinstance(d.get(k), str)]
        if missing:
            raise ResultFileError(f"not an interp result: no {' or '.join(missing)}")
        for key, typ in (("tables", list), ("figures", list), ("traces", list), ("data", dict), ("manifest", dict)):
            if key in d and not isinstance(d[key], typ):
                raise ResultFileError(f"not an interp result: {key} is a {type(d[key]).__name__}, not a {typ.__name__}")
        return cls(
            kind=d["kind"],
            title=d["title"],
            summary=d.get("summary", ""),
            tables=[Table.from_dict(t) for t in d.get("tables", [])],
            figures=list(d.get("figures", [])),
            traces=[TokenTrace.from_dict(t) for t in d.get("traces", [])],
            data=dict(d.get("data", {})),
            manifest=dict(d.get("manifest", {})),
        )

    @classmethod
    def combine(cls, results: "list[Result]", *, kind: str | None = None, title: str | None = None) -> "Result":
        """One result holding several (e.g. ``interp patch``'s heatmaps and summarization table):
        their summaries, tables, figures and traces in order, ``data`` keyed by each one's kind,
        the first one's manifest (each one's under ``data[kind]["manifest"]``)."""
        if not results:
            raise ValueError("nothing to combine")
        return cls(kind=kind or results[0].kind, title=title or results[0].title,
                   summary="\n\n".join(r.summary for r in results if r.summary),
                   tables=[t for r in results for t in r.tables], figures=[f for r in results for f in r.figures],
                   traces=[t for r in results for t in r.traces],
                   data={r.kind: {**r.data, "manifest": r.manifest} for r in results},
                   manifest=dict(results[0].manifest))

    def save(self, path: str | os.PathLike) -> Path:
        """Write the result as one JSON file (parents created; written atomically). Returns the path."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        text = json.dumps(self.to_dict(), indent=1, ensure_ascii=False)
        from interp.runs import atomic_write_text

        return atomic_write_text(path, text + "\n")

    @classmethod
    def load(cls, path: str | os.PathLike, *, require_manifest: bool = False) -> "Result":
        """Read what :meth:`save` wrote. :class:`ResultFileError` (one line, naming the file) for a
        folder, a file that is not JSON or not a result, cut table rows, and (``require_manifest``)
        a result without its manifest; FileNotFoundError when there is no such file."""
        path = Path(path)
        if path.is_dir():
            hint = f" (it holds {path / 'result.json'})" if (path / "result.json").is_file() else ""
            raise ResultFileError(f"{path} is a folder, not a result file: give its result.json{hint}")
        if not path.is_file():
            raise FileNotFoundError(f"no such result file: {path}")
        try:
            d = json.loads(path.read_text(encoding="utf-8"))
        except (json.JSONDecodeError, UnicodeDecodeError) as e:
            raise ResultFileError(f"{path} is not a result file: not JSON ({e})") from None
        try:
            res = cls.from_dict(d)
        except ResultFileError as e:
            raise ResultFileError(f"{path}: {e}") from None
        except (KeyError, TypeError, ValueError) as e:
            raise ResultFileError(f"{path}: not a readable interp result ({type(e).__name__}: {e})") from None
        if require_manifest and not res.manifest:
            raise ResultFileError(f"{path}: the result has no manifest (command, versions, data hashes), so it cannot "
                                  f"be reported as a measured result; re-run the command that wrote it")
        return res

    def to_frame(self, table: str | int | None = None):
        """The tables as pandas DataFrames: ``table`` (a title, or an index into ``tables``) gives
        that one; no argument gives ``{title: DataFrame}`` of every table, in order (a repeated
        title gets `` (i)``, its index, appended). Columns are the table's columns and cells are as
        stored: numbers stay numbers (a numeric column with an empty cell holds NaN there), text
        stays text. An unknown title or index: one line listing the titles."""
        try:
            import pandas as pd
        except ImportError:
            raise ImportError("Result.to_frame needs pandas (it comes with TransformerLens): pip install pandas") \
                from None

        def frame(t: Table):
            return pd.DataFrame([list(r) for r in t.rows], columns=[str(c) for c in t.columns])

        if table is None:
            frames = {}
            for i, t in enumerate(self.tables):
                frames[t.title if t.title not in frames else f"{t.title} ({i})"] = frame(t)
            return frames
        if isinstance(table, bool) or not isinstance(table, (str, int)):
            raise TypeError(f"to_frame takes a table's title or index, not {type(table).__name__}")
        titles = "; ".join(f"{i}: {t.title!r}" for i, t in enumerate(self.tables)) or "none"
        if isinstance(table, int):
            if not -len(self.tables) <= table < len(self.tables):
                raise IndexError(f"result {self.title!r} has {len(self.tables)} tables, so no table {table}; "
                                 f"its tables: {titles}")
            return frame(self.tables[table])
        for t in self.tables:
            if t.title == table:
                return frame(t)
        raise ValueError(f"result {self.title!r} has no table {table!r}; its tables: {titles}")

    def _repr_html_(self) -> str:
        report = _view()
        return report.notebook_html([self])


# ---------------------------------------------------------------------------------------------
# the manifest

# (resolved path, mtime_ns, size) -> sha256 hex; files are hashed once per change

_VERSION_PACKAGES = ("interp", "torch", "transformer_lens", "transformers", "numpy", "scikit-learn", "plotly")


def _package_version(name: str) -> str | None:
    from importlib import metadata

    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        pass
    if name == "interp":
        mod = sys.modules.get("interp")
        v = getattr(mod, "__version__", None)
        if v:
            return str(v)
        try:  # running from a checkout that isn't pip-installed
            import tomllib

            return tomllib.loads((PROJECT_ROOT / "pyproject.toml").read_text())["project"]["version"]
        except Exception:
            return None
    return None


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as fh:
            for line in fh:
                if line.lower().startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _torch_threads() -> int | None:
    try:
        import torch
    except Exception:
        return None
    return int(torch.get_num_threads())


def _git(*args: str) -> str | None:
    try:
        out = subprocess.run(["git", "-C", str(PROJECT_ROOT), *args], capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout if out.returncode == 0 else None


def _git_state() -> tuple[str | None, bool | None]:
    """(commit, dirty) of the project checkout; (None, None) when it isn't a git checkout.

    Dirty means ``git status --porcelain`` lists anything: modified, staged or untracked
    (not ignored) files. A repository with no commit yet gives (None, dirty).
    """
    if (_git("rev-parse", "--is-inside-work-tree") or "").strip() != "true":
        return None, None
    head = _git("rev-parse", "--verify", "-q", "HEAD")
    status = _git("status", "--porcelain")
    return (head.strip() or None) if head else None, (bool(status.strip()) if status is not None else None)


def make_manifest(
    *,
    command: str | None = None,
    config: dict | None = None,
    seeds: list[int] | None = None,
    data_files: Iterable[str | os.PathLike] = (),
    model: str | None = None,
    model_hash: str | None = None,
    extra: dict | None = None,
) -> dict:
    """How a result was made, as a JSON-able dict.

    Keys: ``command`` (default ``" ".join(sys.argv)``), ``config``, ``seeds``, ``data_files``
    (list of ``{"path", "sha256", "size"}``; hashes cached per path+mtime+size), ``model``,
    ``model_hash``, ``versions`` (interp, torch, transformer_lens, transformers, numpy,
    scikit-learn, plotly; ``None`` when not installed; read from package metadata, nothing is
    imported), ``python``, ``date`` (UTC, ISO 8601), ``machine`` (platform, processor,
    cpu_count, torch_threads), ``git_commit`` and ``git_dirty`` (of the project checkout; both
    ``None`` outside git) and ``extra``.
    """
    files = []
    for f in data_files:
        p = Path(f)
        files.append({"path": str(p), "sha256": file_sha256(p), "size": p.stat().st_size if p.is_file() else None})
    commit, dirty = _git_state()
    return {
        "command": command if command is not None else " ".join(sys.argv),
        "config": to_jsonable(config) if config is not None else None,
        "seeds": [int(s) for s in seeds] if seeds is not None else None,
        "data_files": files,
        "model": model,
        "model_hash": model_hash,
        "versions": {name: _package_version(name) for name in _VERSION_PACKAGES},
        "python": platform.python_version(),
        "date": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "machine": {
            "platform": platform.platform(),
            "processor": _cpu_model(),
            "cpu_count": os.cpu_count(),
            "torch_threads": _torch_threads(),
        },
        "git_commit": commit,
        "git_dirty": dirty,
        "extra": to_jsonable(extra) if extra is not None else {},
    }

