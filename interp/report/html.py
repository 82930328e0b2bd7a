"""Render :class:`~interp.report.results.Result` objects as one self-contained, offline HTML page.

``render(results)`` gives one HTML page: a table of contents (each result, and under it its
tables, figures and traces), then per result its title, summary, tables, plotly figures, token
traces (per-token coloured text, red negative, white zero, green positive, values on hover, a
legend) and a collapsible manifest; a result's raw ``data`` is named, never printed.
``write_report(results, path)`` writes it. ``Result._repr_html_`` (Jupyter) shows the same
sections through :func:`notebook_html`; ``TokenTrace``/``Table`` display themselves too.
:func:`export_figures` writes the figures as static images (optional: kaleido + a Chromium).

Offline guarantee
-----------------
The page loads nothing from anywhere: plotly's JavaScript is inlined once, in a ``<script>``
in the ``<head>`` (only when some result has a figure), each figure is embedded with
``include_plotlyjs=False, include_mathjax=False``, the CSS uses system fonts and no ``url()``,
and no element has a ``src``/``href`` to another document (the table of contents links are
``#fragments``). A ``Content-Security-Policy`` ``<meta>`` (``default-src 'none'``, inline
scripts and styles, ``data:``/``blob:`` images and workers) makes the browser refuse any
network request the page might still make (``'unsafe-eval'`` is there because plotly's WebGL
traces, e.g. ``scattergl``, compile code with ``Function``: without it they stay blank).

The one exception is text inside the plotly.js bundle itself (plotly.js 4.1.1, from
plotly.py 7.1.0), which holds these ``http(s)://`` strings as code, none of them fetched by
the figures this toolkit makes:

- config defaults: ``topojsonURL`` = ``https://cdn.plot.ly/un/`` (fetched only by ``geo``
  subplots: ``scattergeo``, ``choropleth``) and ``plotlyServerURL`` =
  ``https://cloud.plotly.com/newchart`` (used only by the "send to cloud"/"edit in Chart
  Studio" modebar buttons, which are off by default; we also set ``showSendToCloud: false``);
- map styles and assets for ``map``/``mapbox`` subplots (``scattermap``, ``choroplethmap``,
  ``densitymap`` and the ``*mapbox`` variants): ``basemaps.cartocdn.com`` styles,
  ``tile.openstreetmap.org``, ``server.arcgisonline.com``, ``tilemaps.icgc.cat``,
  ``geoserveis.icgc.cat``, glyphs from ``fonts.openmaptiles.org`` and
  ``tiles.basemaps.cartocdn.com``, icons from ``cdn.jsdelivr.net/npm/@mapbox/maki``;
- links shown as text, never loaded: ``get.webgl.org``, ``wiki.openstreetmap.org``,
  ``www.openstreetmap.org/copyright``, ``plotly.com``, ``maplibre.org``, GitHub and
  licence URLs in comments (``feross.org``, ``getify.mit-license.org``, ``syntheti.cc``,
  ``www.esri.com``);
- XML namespace names (``http://www.w3.org/2000/svg``, ``.../1999/xlink``,
  ``.../2000/xmlns/``, ``.../1999/xhtml``, ``.../XML/1998/namespace``): identifiers, not
  requests.

:data:`PLOTLYJS_URL_HOSTS` lists these hosts; a test fails when a plotly upgrade adds one.
So :func:`render` refuses figures with geo or map traces, and images whose ``source`` is a
remote URL (``ValueError``), and the config we emit (:data:`PLOTLY_CONFIG`) names no URL.

Escaping
--------
All text from results (titles, summaries, table cells, column names, captions, tokens,
manifest) is HTML-escaped, so ``<script>`` in a review shows as text. Figure JSON goes
through ``plotly.io.to_html``, which writes ``<``, ``>`` and ``/`` inside strings as
``\\u003c``, ``\\u003e``, ``\\u002f``, so ``</script>`` in a label cannot end the script;
:func:`render` checks that every embedded script still closes where it should.

Jupyter
-------
A notebook has no page head, so :func:`notebook_html` inlines plotly's JavaScript into the
first output that has a figure in a kernel session (module-level flag) and leaves it out
afterwards: scripts run in the notebook page's global scope (classic Notebook, JupyterLab,
VS Code), where the first output's ``window.Plotly`` stays defined. Under Google Colab,
where each output is its own frame, every output carries the bundle. When the flag and the
page disagree (the browser tab was reloaded while the kernel kept running; the notebook was
reopened), the figures say so in place of the plot; call :func:`reset_notebook_plotlyjs`
and display the result again. Outputs of a saved notebook that Jupyter does not trust run no
scripts at all, so their figures stay empty until re-run (plotly's own offline notebook
renderer behaves the same).
"""

from __future__ import annotations

import functools
import html
import json
import math
import re
import sys
import uuid
from pathlib import Path
from typing import Any, Iterable

from interp.report import results as _results
from interp.report.plotly import (  # noqa: F401  (re-exported: the page's figure parts)
    PLOTLY_CONFIG, PLOTLYJS_URL_HOSTS, REMOTE_TRACE_TYPES, _check_offline_figure, _plotlyjs_tags, figure_html,
    plotlyjs,
)
from interp.report.results import Result, Table, TokenTrace, _figure_dict, to_jsonable

__all__ = [
    "render",
    "write_report",
    "token_trace_html",
    "table_html",
    "format_cell",
    "notebook_html",
    "reset_notebook_plotlyjs",
    "export_figures",
    "plotlyjs",
    "PLOTLY_CONFIG",
    "PLOTLYJS_URL_HOSTS",
    "CSP",
]

#: Content-Security-Policy of the report page: no network at all.
CSP = (
    "default-src 'none'; script-src 'unsafe-inline' 'unsafe-eval'; style-src 'unsafe-inline'; "
    "img-src data: blob:; font-src data:; worker-src blob:; connect-src 'none'; "
    "base-uri 'none'; form-action 'none'"
)

NEG_RGB = (215, 48, 39)  # red, for -vmax
POS_RGB = (26, 152, 80)  # green, for +vmax
NAN_RGB = (221, 221, 221)  # grey, for None / NaN values

_esc = functools.partial(html.escape, quote=True)


# ---------------------------------------------------------------------------------------------
# cells and tables


def _is_number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def format_cell(v: Any) -> str:
    """A table cell as text: floats to 3 significant digits (never dropping integer digits;
    scientific below 1e-3 and from 1e6), ints as they are, None as an empty cell."""
    if hasattr(v, "item") and not isinstance(v, (str, bytes)):  # numpy / torch scalars
        try:
            v = v.item()
        except (TypeError, ValueError):
            pass
    if v is None:
        return ""
    if isinstance(v, bool):
        return str(v)
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        if math.isnan(v):
            return "NaN"
        if math.isinf(v):
            return "∞" if v > 0 else "−∞"
        if v == 0:
            return "0"
        a = abs(v)
        if a < 1e-3 or a >= 1e6:
            return f"{v:.3g}"
        decimals = max(0, 2 - math.floor(math.log10(a)))
        return f"{v:.{decimals}f}"
    return str(v)


def table_html(table: Table, max_rows: int | None = 1000, anchor: str | None = None) -> str:
    """One table as an HTML ``<table>`` (escaped; numbers right-aligned); ``anchor`` gives it an ``id``."""
    head = "".join(f"<th>{_esc(str(c))}</th>" for c in table.columns)
    rows = table.rows if max_rows is None else table.rows[:max_rows]
    body = []
    for row in rows:
        cells = []
        for v in row:
            if hasattr(v, "item") and not isinstance(v, (str, bytes)):
                try:
                    v = v.item()
                except (TypeError, ValueError):
                    pass
            cls = ' class="num"' if _is_number(v) else ""
            cells.append(f"<td{cls}>{_esc(format_cell(v))}</td>")
        body.append("<tr>" + "".join(cells) + "</tr>")
    more = ""
    if max_rows is not None and len(table.rows) > max_rows:
        more = f'<p class="caption">… {len(table.rows) - max_rows} more rows in the saved result.</p>'
    caption = f'<p class="caption">{_esc(table.caption)}</p>' if table.caption else ""
    title = f"<h3>{_esc(table.title)}</h3>" if table.title else ""
    ident = f' id="{_esc(anchor)}"' if anchor else ""
    return (f'<div class="tbl"{ident}>{title}<div class="scroll"><table><thead><tr>{head}</tr></thead>'
            f'<tbody>{"".join(body)}</tbody></table></div>{more}{caption}</div>')


# ---------------------------------------------------------------------------------------------
# token traces


def _finite(v: Any) -> float | None:
    try:
        f = float(v)
    except (TypeError, ValueError):
        return None
    return f if math.isfinite(f) else None


def trace_rgb(value: Any, vmax: float) -> tuple[int, int, int]:
    """Colour of ``value`` on the symmetric scale: -vmax red, 0 white, +vmax green (clipped)."""
    v = _finite(value)
    if v is None:
        return NAN_RGB
    t = max(-1.0, min(1.0, v / vmax)) if vmax > 0 else 0.0
    end = NEG_RGB if t < 0 else POS_RGB
    a = abs(t)
    return tuple(round(255 + (c - 255) * a) for c in end)  # type: ignore[return-value]


def _hex(rgb: tuple[int, int, int]) -> str:
    return "#%02x%02x%02x" % rgb


def _trace_vmax(trace: TokenTrace) -> float:
    if trace.vmax is not None and _finite(trace.vmax) and trace.vmax > 0:
        return float(trace.vmax)
    finite = [abs(f) for f in map(_finite, trace.values) if f is not None]
    m = max(finite, default=0.0)
    return m if m > 0 else 1.0


# Inline styles of a trace's container and legend, so that the HTML of one trace reads the same
# on its own (``IPython.display.HTML(token_trace_html(t))``, ``TokenTrace._repr_html_``) as inside
# a report, whose stylesheet (:data:`CSS`) repeats them.
_TOKENS_STYLE = ("white-space:pre-wrap;font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;"
                 "font-size:.9em;line-height:1.7;border:1px solid #d0d7de;border-radius:4px;padding:8px;"
                 "word-break:break-word;color:#1f2328;background:#fff")
_LEGEND_STYLE = "display:flex;flex-wrap:wrap;align-items:center;gap:6px;font-size:.8em;margin:4px 0"
_BAR_STYLE = "display:inline-block;width:180px;height:10px;border:1px solid #d0d7de"
_MUTED_STYLE = "color:#57606a"


def token_trace_html(trace: TokenTrace, anchor: str | None = None) -> str:
    """Per-token coloured text (pure HTML/CSS): one ``<span>`` per token, background on a
    red (negative) – white – green (positive) scale, the value in its hover title; spaces and
    newlines kept (a newline shows a faint ↵ so its colour is visible; a token with no text, such
    as a byte inside a multi-byte character, a thin block of its colour); a legend below (the
    scale's ends, the data's range, how to read it).

    The snippet carries its own layout styles, so it renders the same inside a report and on
    its own (e.g. ``IPython.display.HTML(token_trace_html(trace))`` in a notebook).
    ``anchor``: an ``id`` for the trace (the report's table of contents links to it)."""
    vmax = _trace_vmax(trace)
    spans = []
    for i, (tok, val) in enumerate(zip(trace.tokens, trace.values)):
        tok = str(tok)
        rgb = trace_rgb(val, vmax)
        f = _finite(val)
        tip = f"{i}: {tok!r} = {f:+.4g}" if f is not None else f"{i}: {tok!r} = n/a"
        style = f"background:{_hex(rgb)}"
        if f is not None and abs(f) / vmax > 0.6:
            style += ";color:#fff"
        if tok:
            text = _esc(tok).replace("\n", '<i class="nl" style="font-style:normal;opacity:.45">↵</i>\n')
        else:  # no text of its own (a byte inside a multi-byte character): a thin block of its colour
            text, style = "", style + ";display:inline-block;width:.3em;height:1.1em;vertical-align:text-bottom"
            tip += " (no text of its own, e.g. a byte inside a multi-byte character)"
        spans.append(f'<span style="{style}" title="{_esc(tip)}">{text}</span>')
    finite = [f for f in map(_finite, trace.values) if f is not None]
    rng = (f"{len(trace.tokens)} tokens; data min {format_cell(min(finite))}, max {format_cell(max(finite))}"
           if finite else f"{len(trace.tokens)} tokens; no finite values")
    legend = (
        f'<div class="legend" style="{_LEGEND_STYLE}">'
        f'<span>{_esc(format_cell(-vmax))}</span>'
        f'<span class="bar" style="{_BAR_STYLE};'
        f'background:linear-gradient(to right,{_hex(NEG_RGB)},#ffffff,{_hex(POS_RGB)})"></span>'
        f'<span>{_esc(format_cell(vmax))}</span>'
        f'<span class="rng" style="{_MUTED_STYLE}">{_esc(rng)}; red negative, green positive, '
        f'grey missing; hover a token for its value</span></div>'
    )
    title = f"<h3>{_esc(trace.title)}</h3>" if trace.title else ""
    caption = f'<p class="caption" style="{_MUTED_STYLE}">{_esc(trace.caption)}</p>' if trace.caption else ""
    ident = f' id="{_esc(anchor)}"' if anchor else ""
    return (f'<div class="trace"{ident}>{title}<div class="tokens" style="{_TOKENS_STYLE}">{"".join(spans)}</div>'
            f'{legend}{caption}</div>')


# ---------------------------------------------------------------------------------------------
# figures

# ---------------------------------------------------------------------------------------------
# results and pages

CSS = """
.interp-report{font-family:system-ui,-apple-system,"Segoe UI",Roboto,"Helvetica Neue",Arial,sans-serif;
 color:#1f2328;background:#fff;line-height:1.45;max-width:1150px;margin:0 auto;padding:0 16px 48px}
.interp-report h1{font-size:1.7em;margin:.6em 0 .3em}
.interp-report h2{font-size:1.35em;margin:1.6em 0 .3em;padding-top:.4em;border-top:1px solid #d0d7de}
.interp-report h3{font-size:1.05em;margin:1.1em 0 .35em}
.interp-report .kind{font-size:.7em;font-weight:600;background:#eef1f4;border-radius:4px;padding:1px 6px;
 margin-right:6px;vertical-align:middle;text-transform:uppercase;letter-spacing:.04em;color:#57606a}
.interp-report .meta,.interp-report .caption,.interp-report .rng{color:#57606a;font-size:.85em}
.interp-report nav ol{padding-left:1.4em}
.interp-report nav ul{padding-left:1.2em;margin:.1em 0 .4em;font-size:.88em;list-style:circle}
.interp-report .scroll{overflow-x:auto}
.interp-report table{border-collapse:collapse;font-size:.9em;margin:.2em 0}
.interp-report th,.interp-report td{border:1px solid #d0d7de;padding:3px 8px;text-align:left;vertical-align:top}
.interp-report th{background:#f6f8fa}
.interp-report td.num{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
.interp-report .fig{margin:.6em 0}
.interp-report .tokens{white-space:pre-wrap;font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;
 font-size:.9em;line-height:1.7;border:1px solid #d0d7de;border-radius:4px;padding:8px;word-break:break-word}
.interp-report .tokens span{border-radius:2px}
.interp-report .tokens span:hover{outline:1px solid #1f2328}
.interp-report .tokens i.nl{font-style:normal;opacity:.45}
.interp-report .legend{display:flex;align-items:center;gap:6px;font-size:.8em;margin:4px 0}
.interp-report .legend .bar{display:inline-block;width:180px;height:10px;border:1px solid #d0d7de}
.interp-report details{margin:.8em 0}
.interp-report details pre{background:#f6f8fa;padding:8px;overflow-x:auto;font-size:.8em;max-height:420px}
.interp-report summary{cursor:pointer;color:#57606a}
"""


def _summary_html(text: str) -> str:
    paras = [p.strip("\n") for p in re.split(r"\n\s*\n", text or "") if p.strip()]
    return "".join(f"<p>{_esc(p).replace(chr(10), '<br>')}</p>" for p in paras)


def _meta_line(r: Result) -> str:
    m = r.manifest or {}
    bits = []
    if m.get("date"):
        bits.append(str(m["date"]))
    if m.get("model"):
        bits.append(f"model {m['model']}")
    if m.get("git_commit"):
        bits.append(f"git {str(m['git_commit'])[:10]}" + (" (dirty)" if m.get("git_dirty") else ""))
    return f'<p class="meta">{_esc(" · ".join(bits))}</p>' if bits else ""


def result_html(r: Result, anchor: str, max_table_rows: int | None = 1000) -> str:
    """One result's section (no plotly.js)."""
    parts = [f'<section id="{_esc(anchor)}"><h2><span class="kind">{_esc(r.kind)}</span>{_esc(r.title)}</h2>',
             _meta_line(r), _summary_html(r.summary)]
    parts += [table_html(t, max_table_rows, anchor=f"{anchor}-tab{j}") for j, t in enumerate(r.tables)]
    parts += [figure_html(f, f"{anchor}-fig{j}") for j, f in enumerate(r.figures)]
    parts += [token_trace_html(t, anchor=f"{anchor}-trace{j}") for j, t in enumerate(r.traces)]
    if r.manifest:
        manifest = json.dumps(to_jsonable(r.manifest), indent=2, ensure_ascii=False, default=str)
        parts.append(f"<details><summary>Manifest</summary><pre>{_esc(manifest)}</pre></details>")
    if r.data:  # named, never dumped: it can be megabytes of per-example numbers
        keys = ", ".join(str(k) for k in r.data)
        try:
            size = f" ({_size(len(json.dumps(to_jsonable(r.data), ensure_ascii=False, default=str)))} as JSON)"
        except (TypeError, ValueError):
            size = ""
        parts.append(f'<p class="meta">Raw data in the saved result{_esc(size)}, not shown here: {_esc(keys)}</p>')
    parts.append("</section>")
    return "\n".join(p for p in parts if p)


def _size(n: int) -> str:
    for unit in ("bytes", "KB", "MB"):
        if n < 1000 or unit == "MB":
            return f"{n} {unit}" if unit == "bytes" else f"{n:.3g} {unit}"
        n /= 1000
    return f"{n:.3g} GB"  # pragma: no cover


def _figure_title(fig: Any) -> str:
    d = fig.to_plotly_json() if hasattr(fig, "to_plotly_json") else fig
    t = ((d or {}).get("layout") or {}).get("title") if isinstance(d, dict) else None
    if isinstance(t, dict):
        t = t.get("text")
    return re.sub(r"<[^>]*>", " ", t).strip() if isinstance(t, str) else ""


def _toc_entry(r: Result, anchor: str) -> str:
    """One result in the table of contents, with its tables, figures and traces below it."""
    subs = [(f"{anchor}-tab{j}", t.title or f"table {j + 1}") for j, t in enumerate(r.tables)]
    subs += [(f"{anchor}-fig{j}", _figure_title(f) or f"figure {j + 1}") for j, f in enumerate(r.figures)]
    subs += [(f"{anchor}-trace{j}", t.title or f"token trace {j + 1}") for j, t in enumerate(r.traces)]
    sub = "".join(f'<li><a href="#{_esc(a)}">{_esc(text)}</a></li>' for a, text in subs)
    return (f'<li><a href="#{_esc(anchor)}">{_esc(r.title)}</a> <span class="meta">({_esc(r.kind)})</span>'
            + (f"<ul>{sub}</ul>" if len(subs) > 1 else "") + "</li>")


def _as_list(results: Result | Iterable[Result]) -> list[Result]:
    if isinstance(results, Result):
        return [results]
    out = list(results)
    for r in out:
        if not isinstance(r, Result):
            raise TypeError(f"expected Result, got {type(r).__name__}")
    return out


def render(results: Result | Iterable[Result], title: str = "interp report", *,
           max_table_rows: int | None = 1000) -> str:
    """One self-contained HTML page for ``results`` (see the module docstring for the offline
    and escaping guarantees). plotly.js is inlined once, in the head, when any result has a
    figure; a page without figures carries no JavaScript at all."""
    results = _as_list(results)
    toc = "".join(_toc_entry(r, f"r{i}") for i, r in enumerate(results))
    sections = "\n".join(result_html(r, f"r{i}", max_table_rows) for i, r in enumerate(results))
    need_js = any(r.figures for r in results)
    return (
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
        f'<meta http-equiv="Content-Security-Policy" content="{CSP}">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{_esc(title)}</title>\n<style>{CSS}</style>\n"
        + (_plotlyjs_tags() if need_js else "")
        + "</head>\n<body>\n<div class=\"interp-report\">\n"
        f"<h1>{_esc(title)}</h1>\n<nav><h3>Contents</h3><ol>{toc}</ol></nav>\n"
        f"{sections}\n</div>\n</body>\n</html>\n"
    )


def write_report(results: Result | Iterable[Result], path: str | Path, title: str = "interp report",
                 **kwargs: Any) -> Path:
    """Write :func:`render` output to ``path`` (parents created). Returns the path."""
    from interp.runs import atomic_write_text

    path = Path(path)
    return atomic_write_text(path, render(results, title=title, **kwargs))  # never half a page


# ---------------------------------------------------------------------------------------------
# static figures (optional: kaleido and a Chrome/Chromium)


def _slug(text: str, n: int = 40) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")[:n].strip("-") or "result"


def export_figures(results: Result | Iterable[Result], folder: str | Path, *, format: str = "png",
                   width: int = 1000, height: int | None = None, scale: float = 1.0) -> list[Path]:
    """Write every figure of ``results`` as a static image (``png``, ``svg``, ``pdf``, ``jpeg``,
    ``webp``) into ``folder``, named ``<result index>-<title>-fig<j>.<format>``; returns the paths.

    Optional: needs ``pip install kaleido`` (1.x) and a Chrome or Chromium on the machine
    (kaleido finds it; ``$INTERP_CHROMIUM`` or ``$BROWSER_PATH`` name one). It works offline:
    kaleido draws with plotly.py's own plotly.js, and MathJax (which it would fetch from a CDN)
    is turned off. Each figure's own height is used unless ``height`` is given (450 otherwise).
    """
    import os

    try:
        import kaleido
    except ImportError:
        raise RuntimeError("static figure export needs kaleido (pip install kaleido) and a Chrome/Chromium; "
                           "the HTML report needs neither") from None
    if os.environ.get("INTERP_CHROMIUM") and not os.environ.get("BROWSER_PATH"):
        os.environ["BROWSER_PATH"] = os.environ["INTERP_CHROMIUM"]
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for i, r in enumerate(_as_list(results)):
        for j, fig in enumerate(r.figures):
            d = _figure_dict(fig)
            _check_offline_figure(d, f"result {i} figure {j}")
            h = height or (d.get("layout") or {}).get("height") or 450
            data = kaleido.calc_fig_sync(d, opts={"format": format, "width": width, "height": h, "scale": scale},
                                         kopts={"mathjax": False})
            path = folder / f"{i:02d}-{_slug(r.title)}-fig{j}.{format}"
            path.write_bytes(data if isinstance(data, bytes) else bytes(data))
            paths.append(path)
    return paths


# ---------------------------------------------------------------------------------------------
# Jupyter

_notebook_plotlyjs_sent = False


def reset_notebook_plotlyjs() -> None:
    """Make the next :func:`notebook_html` with a figure inline plotly.js again (after a page
    reload, or when figures say plotly.js is not loaded)."""
    global _notebook_plotlyjs_sent
    _notebook_plotlyjs_sent = False


def notebook_html(results: Result | Iterable[Result]) -> str:
    """HTML for a notebook output: the sections of :func:`render` without page or contents;
    plotly.js inlined in the first output with a figure of this kernel session (every output
    under Colab). Element ids are unique per call, so outputs never clash."""
    global _notebook_plotlyjs_sent
    results = _as_list(results)
    prefix = "interp-" + uuid.uuid4().hex[:10]
    body = "\n".join(result_html(r, f"{prefix}-r{i}") for i, r in enumerate(results))
    js = ""
    if any(r.figures for r in results) and (not _notebook_plotlyjs_sent or "google.colab" in sys.modules):
        js = _plotlyjs_tags()
        _notebook_plotlyjs_sent = True
    return f'<div class="interp-report"><style>{CSS}</style>\n{js}{body}\n</div>'


_results.set_view(sys.modules[__name__])
