"""Do two saved results carry the same numbers? (e.g. a result from before the sweep engine and
the same command run through it.)

    python analyses/same_numbers.py OLD/result.json NEW/result.json [--out FILE]

Compares every table cell, every condition's summary entries and every per-example array in
``data`` (logit differences, scores): prints the largest absolute difference of each kind and
exits 1 when a table cell or summary number differs. ``--only PATH`` (repeatable, dotted, e.g.
``data.logit_diffs``) compares just those parts and exits 1 when any of them differs: for results
whose tables changed shape between versions, where every cell would count as different.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path


def _walk(a, b, path, diffs):
    if isinstance(a, dict) and isinstance(b, dict):
        for k in sorted(set(a) | set(b)):
            if k in ("timing", "manifest", "seconds", "total_s", "sweep_s", "sweep"):
                continue
            if k not in a or k not in b:
                diffs.append((path + [k], "missing on one side", math.inf))
                continue
            _walk(a[k], b[k], path + [k], diffs)
    elif isinstance(a, list) and isinstance(b, list):
        if len(a) != len(b):
            diffs.append((path, f"lengths {len(a)} vs {len(b)}", math.inf))
            return
        for i, (x, y) in enumerate(zip(a, b)):
            _walk(x, y, path + [i], diffs)
    elif isinstance(a, (int, float)) and isinstance(b, (int, float)) and not isinstance(a, bool):
        if not (a == b or (math.isnan(a) and math.isnan(b))):
            diffs.append((path, f"{a!r} vs {b!r}", abs(a - b)))
    elif a != b:
        diffs.append((path, f"{a!r} vs {b!r}", math.inf))


def _get(d, dotted: str):
    for k in dotted.split("."):
        d = d.get(k) if isinstance(d, dict) else None
    return d


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("old")
    ap.add_argument("new")
    ap.add_argument("--out")
    ap.add_argument("--only", action="append", default=None, metavar="PATH",
                    help="compare only this dotted part (repeatable), e.g. data.logit_diffs")
    a = ap.parse_args()
    old, new = (json.loads(Path(p).read_text()) for p in (a.old, a.new))
    report = {}
    for part in a.only or ("tables", "data"):
        diffs: list = []
        _walk(_get(old, part), _get(new, part), part.split("."), diffs)
        report[part] = {"n_different": len(diffs), "largest": max((d[2] for d in diffs), default=0.0),
                        "first": [(".".join(map(str, p)), what) for p, what, _ in diffs[:10]]}
        print(f"{part}: {len(diffs)} differing values, largest difference {report[part]['largest']:.3g}")
        for p, what in report[part]["first"]:
            print(f"   {p}: {what}")
    if a.out:
        Path(a.out).write_text(json.dumps({"old": a.old, "new": a.new, **report}, indent=1))
    failed = report.values() if a.only else [report["tables"]]
    sys.exit(1 if any(r["n_different"] for r in failed) else 0)


if __name__ == "__main__":
    main()
