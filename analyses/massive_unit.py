"""How large one residual unit is at the last token of SST sentences, against the rest (a check
behind docs/findings.md's scale-study section: Qwen2.5-Coder-0.5B's SST mean-difference direction
at layer 6 is unit 62).

    python analyses/massive_unit.py --model qwen2.5-coder-0.5b --layer 6 --unit 62 --n 16
"""

from __future__ import annotations

import argparse
import json
import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", required=True)
    ap.add_argument("--layer", type=int, required=True)
    ap.add_argument("--unit", type=int, required=True)
    ap.add_argument("--n", type=int, default=16, help="the first N SST dev sentences")
    ap.add_argument("--threads", type=int, default=1)
    a = ap.parse_args(argv)
    import torch

    import interp
    from interp.data import sst

    torch.set_num_threads(a.threads)
    m = interp.load(a.model)
    texts = list(sst("dev").texts[: a.n])
    b = m.tokenize(texts)  # the raw sentences, as interp find's sst_last reads them
    site = f"blocks.{a.layer}.hook_resid_post"
    _, acts = m.run(b, read=[site])
    x = acts[site]
    last = x[torch.arange(len(texts)), b.last]
    others = [i for i in range(x.shape[-1]) if i != a.unit]
    out = {"model": a.model, "site": site, "unit": a.unit, "n": len(texts),
           "last_token_pieces": sorted({p[-1] for p in b.pieces}),
           "last: |unit| mean": last[:, a.unit].abs().mean().item(),
           "last: median |unit| over all units": last.abs().median().item(),
           "last: largest |other unit|": last[:, others].abs().max().item(),
           "last: mean norm": last.norm(dim=-1).mean().item(),
           "token 2: |unit| mean": x[:, 2, a.unit].abs().mean().item(),
           "token 2: mean norm": x[:, 2].norm(dim=-1).mean().item()}
    print(json.dumps(out, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
