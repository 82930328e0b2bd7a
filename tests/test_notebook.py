"""docs/quickstart.ipynb runs top to bottom in a real Jupyter kernel (nbclient).

Marked slow: it loads the pulled SmolLM2-135M (pulled here if missing) and runs a small
``run_ablate`` (about 1–2 minutes on two cores). The kernel is this interpreter, through a
temporary kernel spec, so the notebook sees the same installed ``interp`` as the tests.
``INTERP_THREADS`` is passed on (the notebook sets torch's threads from it).
"""

from __future__ import annotations

import json
import os
import re
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOK = ROOT / "docs" / "quickstart.ipynb"


def _kernel_spec(folder: Path) -> None:
    """A ``python3`` kernel spec running this interpreter, found first through JUPYTER_PATH."""
    spec = folder / "kernels" / "python3"
    spec.mkdir(parents=True)
    (spec / "kernel.json").write_text(json.dumps({
        "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "Python 3 (interp tests)", "language": "python",
    }))


def test_quickstart_notebook_runs(tmp_path, monkeypatch):
    nbformat = pytest.importorskip("nbformat", reason="pip install -e '.[dev]' (nbformat)")
    nbclient = pytest.importorskip("nbclient", reason="pip install -e '.[dev]' (nbclient)")
    pytest.importorskip("ipykernel", reason="pip install -e '.[dev]' (ipykernel)")
    from interp.models import zoo

    zoo.pull("smollm2-135m", progress=False)
    _kernel_spec(tmp_path / "jupyter")
    monkeypatch.setenv("JUPYTER_PATH", os.pathsep.join([str(tmp_path / "jupyter"), os.environ.get("JUPYTER_PATH", "")]))
    monkeypatch.setenv("INTERP_QUICKSTART_OUT", str(tmp_path / "out"))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("OMP_WAIT_POLICY", "PASSIVE")

    nb = nbformat.read(NOTEBOOK, as_version=4)
    client = nbclient.NotebookClient(nb, timeout=900, kernel_name="python3", allow_errors=False,
                                     resources={"metadata": {"path": str(NOTEBOOK.parent)}})
    client.execute()  # raises CellExecutionError, with the cell and its traceback, on any error

    outputs = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs]
    assert not [o for o in outputs if o.output_type == "error"]
    html = [o["data"]["text/html"] for o in outputs if "text/html" in o.get("data", {})]
    assert len(html) == 3  # the result, the token trace, the byte trace
    result_html, trace_html, byte_html = html
    # the ablate result: its tables (the main one with the random control), its figure, its manifest
    assert result_html.count("<table>") == 2 and "random: % removed" in result_html
    assert "Plotly.newPlot(" in result_html and "<summary>Manifest</summary>" in result_html
    # per-token traces with their legends, one span per token
    for h in (trace_html, byte_html):
        assert 'class="legend"' in h and len(re.findall(r'<span style="background:#', h)) > 10
    assert "byte by byte" in byte_html
    # the files the notebook wrote
    assert (tmp_path / "out" / "result.json").is_file() and (tmp_path / "out" / "report.html").is_file()
