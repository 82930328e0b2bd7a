"""analyses/collect_runs.sh: a finished run's records are copied (cells, steps and report left out),
a run that is not complete is skipped and said."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[1] / "analyses" / "collect_runs.sh"


def _run_folder(root: Path, name: str, status: str, extra=()) -> Path:
    d = root / name
    (d / "cells").mkdir(parents=True)
    (d / "cells" / "abc.pt").write_bytes(b"x")
    (d / "run.json").write_text(json.dumps({"status": status}))
    for f in ("result.json", "report.html", *extra):
        (d / f).write_text(f"{name}/{f}")
    return d


def test_copies_the_records_of_finished_runs_only(tmp_path):
    done = _run_folder(tmp_path, "m-patch", "complete", ["summarization.json"])
    ablate = _run_folder(tmp_path, "m-ablate", "complete")
    (ablate / "directions").mkdir()
    (ablate / "directions" / "d.json").write_text("{}")
    partial = _run_folder(tmp_path, "m-find", "partial")
    dest = tmp_path / "out"
    r = subprocess.run(["bash", str(SCRIPT), str(dest), str(done), str(ablate), str(partial)],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert sorted(p.name for p in (dest / "m-patch").iterdir()) == ["result.json", "run.json", "summarization.json"]
    assert (dest / "m-patch" / "summarization.json").read_text() == "m-patch/summarization.json"
    assert sorted(p.name for p in (dest / "m-ablate").iterdir()) == ["directions", "result.json", "run.json"]
    assert not (dest / "m-find").exists()
    assert f"skipped {partial}: its run is not complete" in r.stderr
