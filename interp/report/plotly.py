"""plotly figures in an offline page: plotly.js inlined from plotly.py's own bundle, each figure's
``<div>`` and ``<script>``, and the checks that keep a figure from reaching the network (map traces,
remote images, unbalanced ``<script>`` tags). The review of the bundle's URL strings is in
:mod:`interp.report.html`'s docstring.
"""
from __future__ import annotations

import functools
import json
import re
from typing import Any

from interp.report.results import _figure_dict

#: plotly.js config for every figure: nothing remote, no logo, no "send to cloud", no MathJax.
PLOTLY_CONFIG: dict = {"responsive": True, "displaylogo": False, "showSendToCloud": False, "typesetMath": False}

#: Hosts of every http(s) URL string inside the plotly.js bundle (plotly.js 4.1.1 / plotly.py
#: 7.1.0), as reviewed in the module docstring. tests/test_report.py fails when an upgrade adds
#: one, so that the offline review is redone.
PLOTLYJS_URL_HOSTS = frozenset({
    "www.w3.org",  # XML namespaces
    "cdn.plot.ly", "cloud.plotly.com",  # topojsonURL, plotlyServerURL defaults
    "basemaps.cartocdn.com", "tiles.basemaps.cartocdn.com", "tile.openstreetmap.org",  # map subplots
    "server.arcgisonline.com", "tilemaps.icgc.cat", "geoserveis.icgc.cat",
    "fonts.openmaptiles.org", "cdn.jsdelivr.net",
    "get.webgl.org", "wiki.openstreetmap.org", "www.openstreetmap.org", "plotly.com",  # shown as text
    "maplibre.org", "github.com", "feross.org", "getify.mit-license.org", "syntheti.cc", "www.esri.com",
})

# plotly trace types that fetch topojson / map tiles, styles, glyphs or icons from the network
REMOTE_TRACE_TYPES = frozenset({
    "scattergeo", "choropleth",
    "scattermap", "choroplethmap", "densitymap",
    "scattermapbox", "choroplethmapbox", "densitymapbox",
})


@functools.lru_cache(maxsize=1)
def plotlyjs() -> str:
    """plotly.js, as shipped with plotly.py (checked to hold no ``</script``)."""
    import plotly.offline

    js = plotly.offline.get_plotlyjs()
    if "</script" in js.lower():  # would end our <script> early; never seen, but cheap to check
        raise RuntimeError("plotly.js bundle contains '</script'; cannot inline it")
    return js


def _plotlyjs_tags() -> str:
    return ("<script>window.PlotlyConfig = {MathJaxConfig: 'local'};</script>\n"
            f"<script>{plotlyjs()}</script>\n")


_SCRIPT_OPEN = re.compile(r"<script\b", re.I)
_SCRIPT_CLOSE = re.compile(r"</script", re.I)


def _check_offline_figure(fig: dict, where: str) -> None:
    for tr in fig.get("data") or []:
        if isinstance(tr, dict):
            if tr.get("type") in REMOTE_TRACE_TYPES:
                raise ValueError(f"{where}: trace type {tr['type']!r} loads map data from the network; "
                                 "the report must work offline")
            if _is_remote(tr.get("source")):
                raise ValueError(f"{where}: image trace source is a remote URL")
    layout = fig.get("layout") or {}
    for im in layout.get("images") or []:
        if isinstance(im, dict) and _is_remote(im.get("source")):
            raise ValueError(f"{where}: layout image source is a remote URL")


def _is_remote(src: Any) -> bool:
    return isinstance(src, str) and bool(re.match(r"\s*(https?:)?//", src, re.I))


def figure_html(fig: Any, div_id: str) -> str:
    """One figure as a ``<div>`` and the ``<script>`` that draws it (plotly.js not included)."""
    import plotly.io as pio

    d = _figure_dict(fig)
    _check_offline_figure(d, div_id)
    out = pio.to_html(
        d,
        include_plotlyjs=False,
        include_mathjax=False,
        full_html=False,
        config=PLOTLY_CONFIG,
        div_id=div_id,
        default_width="100%",
        default_height=450,
        validate=False,
    )
    # every <script> must close exactly once: text in the figure cannot break out
    if len(_SCRIPT_OPEN.findall(out)) != len(_SCRIPT_CLOSE.findall(out)):
        raise RuntimeError(f"{div_id}: figure HTML has unbalanced <script> tags")
    missing = ("<script>if(!window.Plotly){var d=document.getElementById(%s);if(d){d.style.height='auto';"
               "d.textContent='(figure not drawn: plotly.js is not loaded in this page; in Jupyter call "
               "interp.report.html.reset_notebook_plotlyjs() and display the result again)';}}</script>"
               % json.dumps(div_id))
    return f'<div class="fig">{out}{missing}</div>'
