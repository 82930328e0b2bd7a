"""Result (JSON round trip, manifest) and the offline HTML report (escaping, plotly.js once,
no external resources, token-trace colours, size)."""

from __future__ import annotations

import base64
import hashlib
import json
import os
import re
from urllib.parse import urlparse

import numpy as np
import plotly.graph_objects as go
import pytest

from interp import report
from interp.report.html import (
    PLOTLY_CONFIG,
    PLOTLYJS_URL_HOSTS,
    format_cell,
    notebook_html,
    plotlyjs,
    render,
    token_trace_html,
    trace_rgb,
    write_report,
)
from interp.report.results import Result, Table, TokenTrace, file_sha256, make_manifest

XSS = "<script>alert(1)</script>"
MANIFEST_KEYS = {
    "command", "config", "seeds", "data_files", "model", "model_hash", "versions", "python",
    "date", "machine", "git_commit", "git_dirty", "extra",
}


def _fig(n: int = 3, label: str = "a") -> dict:
    return go.Figure(go.Bar(x=[f"{label}{i}" for i in range(n)], y=list(range(n))),
                     layout=dict(title=f"fig {label}")).to_plotly_json()


def _result(title: str = "Sentiment neuron", n_figs: int = 1, manifest: dict | None = None) -> Result:
    return Result(
        kind="find",
        title=title,
        summary="First paragraph.\n\nSecond one,\nwith a line break.",
        tables=[Table("Top units", ["unit", "acc", "note"], [[2388, 0.91234, "best"], [17, None, "x"]], caption="SST dev")],
        figures=[_fig(label=f"f{i}") for i in range(n_figs)],
        traces=[TokenTrace("Neuron 2388", [" The", " film", " was", " awful", "\n", "Great", "!"],
                           [0.1, 0.0, 0.0, -2.0, 0.0, 1.5, 0.3])],
        data={"acc": [0.1, 0.2], "unit": 2388},
        manifest=manifest if manifest is not None else {"command": "test"},
    )


def _without_bundle(page: str) -> str:
    return page.replace(plotlyjs(), "")


@pytest.fixture(autouse=True)
def _fresh_notebook_flag():
    report.reset_notebook_plotlyjs()
    yield
    report.reset_notebook_plotlyjs()


# ---------------------------------------------------------------------------------------------
# Result


def test_save_load_round_trip(tmp_path):
    r = _result(manifest=make_manifest(command="interp find", config={"layer": 0, "path": tmp_path},
                                       seeds=[0, 1], model="mlstm", model_hash="abc"))
    path = r.save(tmp_path / "sub" / "result.json")
    back = Result.load(path)
    assert back == Result.from_dict(r.to_dict())
    assert back.to_dict() == r.to_dict()
    assert back.tables[0] == r.tables[0] and back.traces[0] == r.traces[0]
    assert back.figures == r.figures and back.data == r.data
    assert back.manifest["config"]["path"] == str(tmp_path)
    json.loads(path.read_text())  # plain JSON on disk


def test_save_converts_numpy_and_torch(tmp_path):
    torch = pytest.importorskip("torch")
    r = Result(kind="ablate", title="t",
               tables=[Table("t", ["a"], [[np.float32(0.5)], [np.int64(3)]])],
               traces=[TokenTrace("tr", ["a", "b"], np.array([0.25, -1.0]))],
               data={"arr": np.arange(4).reshape(2, 2), "tensor": torch.tensor([1.5, 2.5]),
                     "scalar": np.float64(0.125), "tup": (1, 2), "flag": np.bool_(True)},
               figures=[go.Figure(go.Scatter(x=np.arange(3), y=np.array([1.0, 2.0, 3.0])))])
    back = Result.load(r.save(tmp_path / "r.json"))
    assert back.data == {"arr": [[0, 1], [2, 3]], "tensor": [1.5, 2.5], "scalar": 0.125, "tup": [1, 2], "flag": True}
    assert back.tables[0].rows == [[0.5], [3]]
    assert back.traces[0].values == [0.25, -1.0]
    y = back.figures[0]["data"][0]["y"]  # plotly's own typed-array form for numpy data
    assert np.frombuffer(base64.b64decode(y["bdata"]), dtype=y["dtype"]).tolist() == [1.0, 2.0, 3.0]


def test_token_trace_length_mismatch():
    with pytest.raises(ValueError):
        TokenTrace("t", ["a", "b"], [1.0])


# ---------------------------------------------------------------------------------------------
# manifest


def test_manifest_keys_and_data_hashes(tmp_path):
    f = tmp_path / "data.txt"
    f.write_bytes(b"a review\n" * 100)
    d = tmp_path / "folder"
    d.mkdir()
    (d / "x.bin").write_bytes(b"\x00\x01")
    m = make_manifest(config={"k": 1}, seeds=[3], data_files=[f, d], model="gpt2", model_hash="h", extra={"note": 1})
    assert MANIFEST_KEYS <= set(m)
    assert m["command"]  # defaults to sys.argv
    assert m["seeds"] == [3] and m["model"] == "gpt2" and m["model_hash"] == "h" and m["extra"] == {"note": 1}
    assert m["data_files"][0] == {"path": str(f), "sha256": hashlib.sha256(b"a review\n" * 100).hexdigest(),
                                  "size": 900}
    assert re.fullmatch(r"[0-9a-f]{64}", m["data_files"][1]["sha256"])
    assert set(m["versions"]) == {"interp", "torch", "transformer_lens", "transformers", "numpy", "scikit-learn", "plotly"}
    assert m["versions"]["numpy"] == np.__version__
    assert m["versions"]["interp"]  # installed or read from pyproject.toml
    assert set(m["machine"]) == {"platform", "processor", "cpu_count", "torch_threads"}
    assert m["date"].endswith("+00:00")
    assert m["git_commit"] is None or re.fullmatch(r"[0-9a-f]{40}", m["git_commit"])
    assert m["git_dirty"] in (True, False, None)
    json.dumps(m)


def test_hash_cache_follows_changes(tmp_path):
    f = tmp_path / "d.txt"
    f.write_bytes(b"one")
    assert file_sha256(f) == hashlib.sha256(b"one").hexdigest()
    assert file_sha256(f) == hashlib.sha256(b"one").hexdigest()  # cached
    f.write_bytes(b"second")
    os.utime(f, ns=(1, 1))
    assert file_sha256(f) == hashlib.sha256(b"second").hexdigest()
    with pytest.raises(FileNotFoundError):
        make_manifest(data_files=[tmp_path / "missing.txt"])


# ---------------------------------------------------------------------------------------------
# report


def test_escaping_everywhere():
    r = Result(
        kind="find", title=f"title {XSS}", summary=f"summary {XSS}",
        tables=[Table(f"table {XSS}", [f"col {XSS}"], [[XSS], [f"cell {XSS}"]], caption=XSS)],
        figures=[go.Figure(go.Bar(x=[XSS, "</script><script>alert(2)</script>"], y=[1, 2]),
                           layout=dict(title=XSS)).to_plotly_json()],
        traces=[TokenTrace(XSS, [" ok", XSS, '"quoted" & amp'], [0.1, -1.0, 0.5], caption=XSS)],
        manifest={"command": XSS},
    )
    for page in (render([r], title=XSS), notebook_html([r])):
        body = _without_bundle(page)
        assert not re.search(r"<script>\s*alert", body, re.I)
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in body
        assert "&quot;quoted&quot; &amp; amp" in body
        # every script we emit closes exactly once: nothing in the data ended one early
        assert len(re.findall(r"<script\b", body, re.I)) == len(re.findall(r"</script", body, re.I))
        # the figure label is in the JSON, with < > / written as \u escapes
        assert "\\u003c\\u002fscript\\u003e\\u003cscript\\u003ealert(2)" in body


def test_plotlyjs_inlined_once_with_three_figures():
    page = render([_result(n_figs=2), _result("second", n_figs=1)])
    js = plotlyjs()
    assert page.count(js[:400]) == 1 and page.count(js[-400:]) == 1
    assert page.count("window.Plotly = Plotly") == 1
    head = page.split("</head>", 1)[0]
    assert js[:400] in head  # in the head, before any figure
    assert page.count("Plotly.newPlot(") == 3
    no_figs = render([Result(kind="train", title="no figures")])
    assert js[:400] not in no_figs and "<script" not in no_figs


def test_no_external_resources():
    page = render([_result(n_figs=2), _result("b", n_figs=1)], title="offline")
    ours = _without_bundle(page)
    assert not re.search(r"""\b(?:src|href|action|poster|data|srcset)\s*=\s*["']?\s*(?:https?:)?//""", ours, re.I)
    assert not re.search(r"""url\(\s*["']?\s*(?:https?:)?//""", ours, re.I)
    assert not re.search(r"<link\b|@import|<iframe\b|<object\b|<embed\b", ours, re.I)
    assert not re.search(r"https?://", ours)  # nothing remote at all, not even as text, in our part
    assert "mathjax" not in ours.lower().replace("mathjaxconfig: 'local'", "")
    assert "Content-Security-Policy" in ours and "default-src 'none'" in ours
    # the config we give plotly names nothing remote, and it is what each figure gets
    assert not any(isinstance(v, str) and "//" in v for v in PLOTLY_CONFIG.values())
    assert ours.count(json.dumps(PLOTLY_CONFIG)) == 3


def test_plotly_bundle_urls_are_the_reviewed_ones():
    """The only http(s) URLs in the page are inside plotly.js; their hosts are the ones reviewed
    in interp.report's docstring (geo topojson, map tiles, links, XML namespaces)."""
    hosts = {urlparse(u).hostname for u in re.findall(r"""https?://[^\s"'`)\\<>{}$]+""", plotlyjs())}
    assert hosts <= PLOTLYJS_URL_HOSTS, f"new hosts in plotly.js, review them: {hosts - PLOTLYJS_URL_HOSTS}"


@pytest.mark.parametrize("fig", [
    go.Figure(go.Scattergeo(lon=[0], lat=[0])),
    go.Figure(go.Scattermap(lon=[0], lat=[0])),
    go.Figure(go.Scatter(x=[0], y=[0]), layout=dict(images=[dict(source="https://example.com/x.png")])),
])
def test_remote_figures_refused(fig):
    with pytest.raises(ValueError, match="offline|remote"):
        render([Result(kind="find", title="t", figures=[fig.to_plotly_json()])])


def test_token_trace_colours_and_whitespace():
    trace = TokenTrace("t", [" neg", " zero", " pos\n", "  two spaces", "nan"], [-2.0, 0.0, 1.0, 0.5, float("nan")])
    out = token_trace_html(trace)
    colours = re.findall(r'<span style="background:#([0-9a-f]{6})', out)
    rgb = [tuple(int(c[i:i + 2], 16) for i in (0, 2, 4)) for c in colours]
    neg, zero, pos, half, nan = rgb
    assert neg[0] > 180 and neg[0] - neg[1] > 100 and neg[0] - neg[2] > 100  # red
    assert zero == (255, 255, 255)
    assert pos[1] - pos[0] > 40 and pos[1] - pos[2] > 20 and pos != (255, 255, 255)  # green (half scale)
    assert half[1] > half[0] and half[1] > half[2]
    assert nan[0] == nan[1] == nan[2] != 255  # grey for missing values
    assert trace_rgb(-1.0, 1.0) == report.NEG_RGB and trace_rgb(1.0, 1.0) == report.POS_RGB
    assert trace_rgb(5.0, 1.0) == report.POS_RGB  # clipped
    # whitespace kept as is; the stylesheet keeps it visible
    assert ">  two spaces</span>" in out and "> neg</span>" in out and "\n</span>" in out
    assert "white-space:pre-wrap" in report.CSS
    # hover title with the value; legend with the scale ends and data range
    assert 'title="0: &#x27; neg&#x27; = -2"' in out
    assert 'class="legend"' in out and "-2.00" in out and "2.00" in out and "max 1.00" in out
    # fixed vmax
    fixed = token_trace_html(TokenTrace("t", ["a"], [1.0], vmax=4.0))
    assert "4.00" in fixed


def test_html_beyond_bundle_is_small():
    rng = np.random.default_rng(0)
    results = []
    for i in range(3):
        results.append(Result(
            kind="patch", title=f"r{i}", summary="s " * 200,
            tables=[Table("t", ["a", "b", "c"], rng.normal(size=(30, 3)).tolist())],
            figures=[go.Figure(go.Scatter(y=rng.normal(size=200))).to_plotly_json(),
                     go.Figure(go.Heatmap(z=rng.normal(size=(20, 20)))).to_plotly_json()],
            traces=[TokenTrace("tr", [f" w{j}" for j in range(300)], rng.normal(size=300).tolist())],
            manifest=make_manifest(command="x"),
        ))
    page = render(results)
    extra = len(page.encode()) - len(plotlyjs().encode())
    assert extra < 400_000, extra


def test_format_cell():
    assert format_cell(0.91234) == "0.912"
    assert format_cell(12.3456) == "12.3"
    assert format_cell(123456.7) == "123457"
    assert format_cell(0.000123) == "0.000123"
    assert format_cell(1.5e7) == "1.5e+07"
    assert format_cell(0.0) == "0" and format_cell(3) == "3" and format_cell(None) == ""
    assert format_cell(np.float32(0.5)) == "0.500" and format_cell(True) == "True"
    assert format_cell(float("nan")) == "NaN"


def test_summary_paragraphs_and_toc():
    page = render([_result("A"), _result("B & C")])
    assert "<p>First paragraph.</p><p>Second one,<br>with a line break.</p>" in page
    assert '<a href="#r0">A</a>' in page and '<a href="#r1">B &amp; C</a>' in page
    assert '<section id="r1">' in page
    assert "<details><summary>Manifest</summary>" in page
    assert '<td class="num">0.912</td>' in page


def test_notebook_inlines_plotlyjs_once_per_session():
    r = _result()
    js = plotlyjs()[:400]
    first, second = notebook_html([r]), r._repr_html_()
    assert js in first and js not in second
    ids = lambda h: set(re.findall(r'id="([^"]+)"', h))  # noqa: E731
    assert ids(first).isdisjoint(ids(second))  # outputs never clash
    assert "figure not drawn" in second  # says so if the page lost plotly.js
    report.reset_notebook_plotlyjs()
    assert js in notebook_html([r])
    assert js not in notebook_html([Result(kind="x", title="no figs")])


def test_write_report(tmp_path):
    path = write_report([_result()], tmp_path / "out" / "report.html", title="T")
    text = path.read_text(encoding="utf-8")
    assert text.startswith("<!DOCTYPE html>") and "<title>T</title>" in text
