"""Held-out bpc against SST probe accuracy, checkpoint by checkpoint: when does sentiment appear
in the byte mLSTM, and does it appear in one unit or spread over many?

    python analyses/mlstm_curve.py runs/mlstm-512 --out runs/mlstm-512/curve.json
    python analyses/mlstm_curve.py runs/mlstm-512 --out curve.json --append --min-chars 40e6 --no-untrained
    python analyses/mlstm_curve.py runs/mlstm-512 --out curve-imdb.json --data imdb --limit 1000 --every 4

Sites: ``c``, ``h`` (final states) and ``h_mean`` (h averaged over the bytes).

For every snapshot in ``RUN/snapshots`` (and the untrained model of the same config) it extracts
the final cell state c and hidden state h of SST train/dev/test and runs Radford et al.'s probes
(:func:`interp.finders.probes.sentiment_probes`: L1 probe with C chosen on dev, L2 probe, best single
unit). The held-out bpc of each snapshot comes from the run's ``train_log.jsonl``. ``--data imdb``
probes whole IMDB reviews instead (:func:`interp.experiments.probe.probe_splits`: the in-domain check).
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import torch  # noqa: E402

from interp.models.mlstm import MLSTM  # noqa: E402
from interp.experiments.probe import (  # noqa: E402
    PROBE_DATA,
    checkpoint_meta,
    extract_features,
    probe_splits,
    untrained_like,
)
from interp.finders.probes import sentiment_probes  # noqa: E402
from interp.models.mlstm.train import held_out_evaluations  # noqa: E402


def snapshot_millions(p: Path) -> float:
    """Millions of characters in a snapshot's name: chars-0030M -> 30.0, chars-0030.93M -> 30.93."""
    return float(p.stem.split("-")[1].rstrip("M"))


def held_out_data(run: Path, model: MLSTM):
    """The run's held-out text as the trainer evaluated it (bytes, or token ids of a BPE model)."""
    from interp.models.mlstm.train import held_out_of_run

    try:
        return held_out_of_run(run, model.tokenizer)
    except ValueError as e:
        raise SystemExit(str(e)) from None


def probe(model: MLSTM, splits, sites, seed: int, batch_size: int = 128) -> dict:
    feats = {name: extract_features(model, lt.texts, which=sites, progress=False, batch_size=batch_size)
             for name, lt in splits.items()}
    out = {}
    for s in sites:
        r = sentiment_probes(feats["train"][s], splits["train"].labels, feats["dev"][s], splits["dev"].labels,
                             feats["test"][s], splits["test"].labels, seed=seed)
        out[s] = {"l1_test": r["l1"]["test_acc"], "l1_nonzero": r["l1"]["n_nonzero"], "l1_C": r["l1"]["C"],
                  "l2_test": r["l2"]["test_acc"], "best_unit": r["best_unit"]["unit"],
                  "best_unit_test": r["best_unit"]["test_acc"], "best_unit_share_of_l2": r["best_unit_share_of_l2"],
                  "top_l1_units": r["l1"]["top_units"][:5]}
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("run", type=Path)
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--sites", default="c,h")
    ap.add_argument("--every", type=int, default=1, help="probe every k-th snapshot (the last is always probed)")
    ap.add_argument("--min-chars", type=float, default=0, help="skip snapshots trained on fewer characters")
    ap.add_argument("--untrained", action=argparse.BooleanOptionalAction, default=True,
                    help="also probe the untrained model of the same config")
    ap.add_argument("--append", action="store_true",
                    help="keep the rows already in --out (other snapshots or sites) and add these")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--data", choices=PROBE_DATA, default="sst", help="sst sentences or whole imdb reviews")
    ap.add_argument("--limit", type=int, default=None, help="N examples per split (imdb default 1000)")
    ap.add_argument("--batch-size", type=int, default=128)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    sites = tuple(a.sites.split(","))
    splits = probe_splits(a.data, a.limit, a.seed)
    bpc = held_out_evaluations(a.run)
    snaps = sorted((a.run / "snapshots").glob("chars-*.safetensors"), key=snapshot_millions)
    snaps = [p for i, p in enumerate(snaps) if i % a.every == a.every - 1 or p == snaps[-1]]
    snaps = [p for p in snaps if snapshot_millions(p) * 1_000_000 >= a.min_chars]
    old = json.loads(a.out.read_text()) if a.append and a.out.is_file() else {}
    if old and old.get("data", "sst") != a.data:
        raise SystemExit(f"{a.out} holds probes on {old.get('data', 'sst')!r}, not {a.data!r}: use another --out")
    rows = old.get("rows", [])
    by_name = {r["snapshot"]: r for r in rows}

    def dump() -> None:
        a.out.write_text(json.dumps({"run": str(a.run), "data": a.data, "limit": a.limit, "sites": sites, "rows": rows},
                                    indent=1))

    def add(row: dict) -> None:
        """A new row, or new sites merged into the row of the same snapshot."""
        old = by_name.get(row["snapshot"])
        if old is None:
            rows.append(row)
            by_name[row["snapshot"]] = row
        else:
            old["probes"].update(row["probes"])
            old["seconds"] = old.get("seconds", 0) + row["seconds"]
        print(json.dumps(row), flush=True)

    if snaps and a.untrained:
        t = time.time()
        untrained = untrained_like(MLSTM.load(snaps[0]))
        add({"snapshot": "untrained", "chars_seen": 0, "held_out_bpc": None,
             "probes": probe(untrained, splits, sites, a.seed, a.batch_size), "seconds": time.time() - t})
    for p in snaps:
        t = time.time()
        model = MLSTM.load(p)
        meta = checkpoint_meta(p)
        chars = int(meta.get("chars_seen") or 0)
        held_bpc, evaluated = bpc.get(chars), "by the trainer"
        if held_bpc is None and (a.run / "run.json").is_file():  # between two evaluations: the card's value is older
            from interp.models.mlstm.train import evaluate_bpc

            held_bpc, evaluated = evaluate_bpc(model, held_out_data(a.run, model), 64), "here (not a trainer eval point)"
        elif held_bpc is None:  # no run.json to rebuild the held-out text from: the card's last evaluation
            held_bpc, evaluated = meta.get("held_out_bpc"), "the card's last evaluation (no run.json)"
        add({"snapshot": p.stem, "chars_seen": chars, "held_out_bpc": held_bpc, "held_out_bpc_evaluated": evaluated,
             "probes": probe(model, splits, sites, a.seed, a.batch_size), "seconds": time.time() - t})
        dump()
    rows.sort(key=lambda r: r["chars_seen"])
    dump()


if __name__ == "__main__":
    main()
