"""The HTML report in a real browser: headless Chromium, no network.

A report combining the saved ``interp ablate`` result on SmolLM2-135M
(``analyses/results/ablate-smollm2-135m/result.json``) with a second, freshly made result (a
per-byte trace of an mLSTM unit, a heatmap, a table) is opened with every network route shut
(a dead proxy, a resolver that finds nothing, and the page's own Content-Security-Policy). The
test waits for the figures (virtual time budget), then checks the screenshot, the rendered DOM
(plotly drew an SVG for every figure, the token spans are there, text from results stays text)
and the browser console (no error, nothing blocked).

Chromium is looked up as ``$INTERP_CHROMIUM``, ``chromium``, ``chromium-browser``,
``google-chrome``. Without one these tests are skipped, saying so, unless
``INTERP_REQUIRE_BROWSER=1`` (set by ``.ci/run``, which installs Debian's ``chromium`` first),
where a missing browser fails. The size checks at the top need no browser.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import struct
import subprocess
import zlib
from pathlib import Path
from urllib.parse import urlparse

import plotly.graph_objects as go
import pytest

from interp import report
from interp.report.results import Result, Table, TokenTrace, make_manifest

ROOT = Path(__file__).resolve().parent.parent
SAVED_ABLATE = ROOT / "analyses" / "results" / "ablate-smollm2-135m" / "result.json"
WIDTH, HEIGHT = 1280, 4200
NASTY = "<b>bold?</b> & <script>alert(1)</script>"


# ---------------------------------------------------------------------------------------------
# the report under test


def _second_result() -> Result:
    """A small result of another kind: a per-byte trace of one unit of a fresh (untrained) mLSTM,
    a heatmap and a table, plus text that must stay text in the browser."""
    import torch

    from interp.models.mlstm import MLSTM
    from interp.models.mlstm.adapter import MLSTMModel

    torch.manual_seed(0)
    model = MLSTMModel(MLSTM(d_hidden=16, d_embed=8), name="mlstm-fresh")
    text = "A café scene, naïve and warm: I loved it!"
    batch = model.tokenize([text])
    _, acts = model.run(batch, read=["hook_c"])
    unit = 3
    trace = TokenTrace(f"Cell unit {unit} of a fresh mLSTM, byte by byte", batch.pieces[0],
                       acts["hook_c"][0, :, unit].tolist(),
                       caption="Untrained weights: the colours show the rendering, not a finding.")
    nasty = TokenTrace("Text from data stays text", [" ok", NASTY, " end"], [0.5, -1.0, 0.25])
    heat = go.Figure(go.Heatmap(z=[[0.0, 0.5, 1.0], [1.0, -0.5, 0.0]], x=["a", "b", "c"], y=["L0", "L1"],
                                colorscale="RdBu", zmid=0), layout=dict(title="A small heatmap", height=300))
    return Result(
        kind="trace", title=f"Byte trace {NASTY}", summary=f"One unit, byte by byte.\n\nSummary with {NASTY}.",
        tables=[Table("Units", ["unit", "value at the last byte"], [[unit, float(acts['hook_c'][0, -1, unit])]])],
        figures=[heat.to_plotly_json()], traces=[trace, nasty],
        data={"values": trace.values}, manifest=make_manifest(command="tests/test_browser.py", model=model.name),
    )


@pytest.fixture(scope="module")
def results() -> list[Result]:
    if not SAVED_ABLATE.is_file():
        pytest.skip(f"the saved ablate result is missing: {SAVED_ABLATE}")
    return [Result.load(SAVED_ABLATE), _second_result()]


@pytest.fixture(scope="module")
def page(results, tmp_path_factory) -> Path:
    return report.write_report(results, tmp_path_factory.mktemp("report") / "report.html", title="Browser check")


# ---------------------------------------------------------------------------------------------
# no browser needed


def test_saved_ablate_report_is_small_and_combined(results, page):
    html = page.read_text(encoding="utf-8")
    bundle = report.plotlyjs()
    ablate_alone = report.render(results[:1])
    extra = len(ablate_alone.encode()) - len(bundle.encode())
    assert 0 < extra < 1_000_000, f"the ablate report is {extra} bytes beyond the plotly bundle"
    # the per-example logit differences (hundreds of KB) are named, not dumped
    ablate = results[0]
    diffs = ablate.data["logit_diffs"]["baseline"]
    assert len(json.dumps(ablate.data)) > 300_000
    assert json.dumps(diffs[:3])[1:-1] not in html and repr(diffs[0]) not in html
    assert "Raw data in the saved result" in html and "logit_diffs" in html
    # one page: plotly.js once, in the head; both results, each with its manifest; contents
    assert html.count(bundle[:400]) == 1 and html.count(bundle[-400:]) == 1
    assert bundle[:400] in html.split("</head>", 1)[0]
    assert html.count("<summary>Manifest</summary>") == 2
    assert '<section id="r0">' in html and '<section id="r1">' in html
    toc = html.split("<nav>", 1)[1].split("</nav>", 1)[0]
    assert '<a href="#r0">interp ablate: smollm2-135m</a>' in toc and '<a href="#r1">' in toc
    for anchor in ("r0-tab0", "r0-fig0", "r0-trace0", "r1-fig0", "r1-trace1"):
        assert f'href="#{anchor}"' in toc and f'id="{anchor}"' in html
    assert html.count("Plotly.newPlot(") == 2


def test_report_references_nothing_external(page):
    """The rule of tests/test_report.py, on the file the browser opens."""
    html = page.read_text(encoding="utf-8")
    ours = html.replace(report.plotlyjs(), "")
    assert not re.search(r"""\b(?:src|href|action|poster|data|srcset)\s*=\s*["']?\s*(?:https?:)?//""", ours, re.I)
    assert not re.search(r"""url\(\s*["']?\s*(?:https?:)?//""", ours, re.I)
    assert not re.search(r"<link\b|@import|<iframe\b|<object\b|<embed\b", ours, re.I)
    assert not re.search(r"https?://", ours)
    hosts = {urlparse(u).hostname for u in re.findall(r"""https?://[^\s"'`)\\<>{}$]+""", html)}
    assert hosts <= report.PLOTLYJS_URL_HOSTS, hosts - report.PLOTLYJS_URL_HOSTS


# ---------------------------------------------------------------------------------------------
# in the browser


def _find_chromium() -> str | None:
    names = [os.environ["INTERP_CHROMIUM"]] if os.environ.get("INTERP_CHROMIUM") else []
    names += ["chromium", "chromium-browser", "google-chrome", "google-chrome-stable"]
    for name in names:
        path = shutil.which(name)
        if path:
            return path
    return None


@pytest.fixture(scope="module")
def chromium() -> str:
    exe = _find_chromium()
    if exe is None:
        msg = ("no Chromium/Chrome found (looked for $INTERP_CHROMIUM, chromium, chromium-browser, google-chrome); "
               "install one (Debian: apt-get install chromium) to run the browser check")
        if os.environ.get("INTERP_REQUIRE_BROWSER") == "1":
            pytest.fail(msg + " (INTERP_REQUIRE_BROWSER=1)")
        pytest.skip(msg)
    return exe


def _run(exe: str, url: str, action: list[str], workdir: Path) -> tuple[str, str]:
    """Chromium headless on ``url`` with the network shut; returns (stdout, stderr)."""
    profile = workdir / f"profile-{action[0].lstrip('-').split('=')[0]}"
    cmd = [
        exe, "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
        "--disable-background-networking", "--disable-component-update", "--disable-sync",
        "--disable-default-apps", "--disable-extensions", "--no-first-run", "--no-default-browser-check",
        "--hide-scrollbars", "--mute-audio", f"--user-data-dir={profile}",
        # no network: every request goes to a dead proxy, and no host name resolves
        "--proxy-server=127.0.0.1:9", "--proxy-bypass-list=<-loopback>", "--host-resolver-rules=MAP * ~NOTFOUND",
        # the console (errors, CSP violations) is written to stderr
        "--enable-logging=stderr", "--v=0",
        f"--window-size={WIDTH},{HEIGHT}", "--virtual-time-budget=10000",
        *action, url,
    ]
    env = {**os.environ, "HOME": str(workdir)}  # no crash reports or caches in the real home
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=180, env=env, cwd=workdir)
    assert out.returncode == 0, f"chromium exited {out.returncode}:\n{out.stderr[-3000:]}"
    return out.stdout, out.stderr


@pytest.fixture(scope="module")
def browser(chromium, page, tmp_path_factory) -> dict:
    work = tmp_path_factory.mktemp("chromium")
    shot = work / "report.png"
    _, err_shot = _run(chromium, page.as_uri(), [f"--screenshot={shot}"], work)
    dom, err_dom = _run(chromium, page.as_uri(), ["--dump-dom"], work)
    keep = os.environ.get("INTERP_BROWSER_ARTIFACTS")  # a folder to keep the page, screenshot and DOM in
    if keep:
        Path(keep).mkdir(parents=True, exist_ok=True)
        for f in (page, shot):
            shutil.copy(f, Path(keep) / f.name)
        (Path(keep) / "dom.html").write_text(dom, encoding="utf-8")
    return {"shot": shot, "dom": dom, "console": _console(err_shot) + _console(err_dom)}


def _console(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if ":CONSOLE" in line]


def _png(path: Path) -> tuple[int, int, bytes]:
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    pos, idat, width, height = 8, [], 0, 0
    while pos < len(data):
        (n,), kind = struct.unpack(">I", data[pos:pos + 4]), data[pos + 4:pos + 8]
        body = data[pos + 8:pos + 8 + n]
        if kind == b"IHDR":
            width, height = struct.unpack(">II", body[:8])
        elif kind == b"IDAT":
            idat.append(body)
        pos += 12 + n
    return width, height, zlib.decompress(b"".join(idat))


def test_screenshot(browser):
    shot = browser["shot"]
    width, height, raw = _png(shot)
    assert (width, height) == (WIDTH, HEIGHT)
    assert shot.stat().st_size > 50_000, "screenshot suspiciously small: a blank page?"
    assert len(set(raw)) > 64, "the screenshot is nearly uniform"


def test_figures_drawn(browser, results):
    dom = browser["dom"]
    n_figs = sum(len(r.figures) for r in results)
    assert dom.count('class="main-svg"') >= n_figs
    for i, r in enumerate(results):
        for j in range(len(r.figures)):
            div = re.search(rf'<div[^>]*\bid="r{i}-fig{j}"[^>]*>', dom)
            assert div and "js-plotly-plot" in div.group(0), f"figure r{i}-fig{j} was not drawn"
    visible = re.sub(r"<script\b.*?</script>", "", dom, flags=re.S | re.I)
    assert "figure not drawn" not in visible  # the fallback message shows only without plotly.js
    assert dom.count('class="point"') >= 4  # the ablate bar chart's bars
    assert 'class="hm"' in dom  # the heatmap's image


def test_token_spans_and_escaping(browser, results):
    dom = browser["dom"]
    n_tokens = sum(len(t.tokens) for r in results for t in r.traces)
    spans = re.findall(r'<span style="background:#[0-9a-f]{6}[^"]*" title="\d+: ', dom)
    assert len(spans) == n_tokens
    assert dom.count('<div class="tokens"') == sum(len(r.traces) for r in results)
    assert dom.count('<div class="legend"') == sum(len(r.traces) for r in results)
    # text from a result stayed text: no <b> or <script> element came out of it
    assert "&lt;b&gt;bold?&lt;/b&gt; &amp; &lt;script&gt;alert(1)&lt;/script&gt;" in dom
    assert "<b>bold?</b>" not in dom and "<script>alert(1)" not in dom


def test_console_clean(browser):
    """No script error and no blocked request: the page works offline as written."""
    assert browser["console"] == [], "\n".join(browser["console"])


# ---------------------------------------------------------------------------------------------
# optional: static images through kaleido (not a dependency; skipped without it)


def test_static_png_export_offline(chromium, results, tmp_path):
    pytest.importorskip("kaleido", reason="optional: pip install kaleido for static figure export")
    paths = report.export_figures(results, tmp_path / "figs", format="png", width=900)
    names = [p.name for p in paths]
    assert names[0] == "00-interp-ablate-smollm2-135m-fig0.png" and len(names) == 2
    assert names[1].startswith("01-byte-trace-b-bold-b-script") and names[1].endswith("-fig0.png")
    for p in paths:
        width, height, raw = _png(p)
        assert width == 900 and height > 200 and len(set(raw)) > 16
