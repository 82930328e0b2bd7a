"""``python -m interp.models.zoo list | pull NAME [--force] | verify NAME [--fold-ln]``
(the ``interp models`` CLI command wraps the same functions)."""

from __future__ import annotations

import json
from typing import Iterable

from interp.models.zoo.pulling import pull
from interp.models.zoo.registry import list_models
from interp.models.zoo.verification import verify


def _main(argv: Iterable[str] | None = None) -> int:
    import argparse

    p = argparse.ArgumentParser(prog="python -m interp.models.zoo", description="interp model zoo")
    sub = p.add_subparsers(dest="cmd", required=True)
    sub.add_parser("list")
    pp = sub.add_parser("pull")
    pp.add_argument("name")
    pp.add_argument("--force", action="store_true")
    pv = sub.add_parser("verify")
    pv.add_argument("name")
    pv.add_argument("--fold-ln", action="store_true", help="also report the diff with fold_ln=True")
    args = p.parse_args(list(argv) if argv is not None else None)
    if args.cmd == "list":
        rows = list_models()
        width = max(len(m["name"]) for m in rows)
        for m in rows:
            print(f"{m['name']:{width}s}  {'pulled' if m['pulled'] else 'not pulled':10s} {m['path']}  ({m['license']})")
    elif args.cmd == "pull":
        print(pull(args.name, force=args.force))
    elif args.cmd == "verify":
        res = verify(args.name, check_fold_ln=args.fold_ln)
        print(json.dumps(res, indent=2, default=str))
        return 0 if res["passed"] else 1
    return 0



if __name__ == "__main__":
    raise SystemExit(_main())
