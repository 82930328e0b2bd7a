"""Do two ablate results carry the same per-example numbers? Labels and every condition's logit
differences, compared bitwise (for results whose tables changed shape between versions, where
``analyses/same_numbers.py`` reports every table cell as different).

    python analyses/same_logit_diffs.py OLD/result.json NEW/result.json --out comparison.json
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np


def compare(old: dict, new: dict) -> dict:
    out = {"compared": {}}
    out["compared"]["labels"] = "bitwise equal" if np.array_equal(old["data"]["labels"], new["data"]["labels"]) else "differ"
    for k, v in old["data"]["logit_diffs"].items():
        w = new["data"]["logit_diffs"].get(k)
        if w is None:
            out["compared"][f"logit_diffs.{k}"] = "missing in new"
            continue
        x, y = np.asarray(v, float), np.asarray(w, float)
        out["compared"][f"logit_diffs.{k}"] = ("bitwise equal" if x.shape == y.shape and np.array_equal(x, y)
                                               else f"max |diff| {float(np.abs(x - y).max()) if x.shape == y.shape else 'shape'}")
    out["differing"] = sum(v != "bitwise equal" for v in out["compared"].values())
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("old", type=Path)
    ap.add_argument("new", type=Path)
    ap.add_argument("--out", type=Path, default=None)
    a = ap.parse_args()
    res = {"old": str(a.old), "new": str(a.new), **compare(json.loads(a.old.read_text()), json.loads(a.new.read_text()))}
    text = json.dumps(res, indent=1)
    if a.out:
        a.out.write_text(text + "\n")
    print(text)


if __name__ == "__main__":
    main()
