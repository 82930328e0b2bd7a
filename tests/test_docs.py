"""The docs stay true: every ```python example in docs/*.md runs, docs/cli.md covers every
command and option of ``interp``, links between the docs resolve, and the quickstart notebook is
stored clean.

Examples run in the default test run, each in a fresh namespace with a temporary working
folder, in the order they appear. An example whose first line is ``# doc-test: slow`` needs a
pulled model: it runs only under ``-m slow``, after the zoo models it names are pulled (as the
other slow tests do). Other fenced blocks (bash, text) are not run.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
FENCE = re.compile(r"^```([^\n`]*)\n(.*?)^```[ \t]*$", re.M | re.S)
SLOW = "# doc-test: slow"
RUN_LANGS = {"python"}
OTHER_LANGS = {"", "bash", "console", "text", "json", "toml"}


def _fenced(md: Path):
    text = md.read_text(encoding="utf-8")
    for m in FENCE.finditer(text):
        yield m.group(1).strip(), text.count("\n", 0, m.start(2)) + 1, m.group(2)


def _examples():
    out = []
    for md in sorted(DOCS.glob("*.md")):
        for lang, line, code in _fenced(md):
            if lang not in RUN_LANGS:
                continue
            slow = code.lstrip().startswith(SLOW)
            out.append(pytest.param(md, line, code, slow, id=f"{md.name}:{line}",
                                    marks=[pytest.mark.slow] if slow else []))
    return out


EXAMPLES = _examples()


@pytest.mark.parametrize("md,line,code,slow", EXAMPLES)
def test_doc_example_runs(md, line, code, slow, tmp_path, monkeypatch):
    import torch

    monkeypatch.chdir(tmp_path)  # examples that write files write them here
    threads = torch.get_num_threads()
    if slow:
        from interp.models import zoo

        for name in zoo.REGISTRY:
            if re.search(rf"""["']{re.escape(name)}["']""", code):
                zoo.pull(name, progress=False)
    # line numbers in tracebacks point into the .md file
    compiled = compile("\n" * (line - 1) + code, str(md), "exec")
    try:
        exec(compiled, {"__name__": f"docs_{md.stem}_{line}"})
    finally:
        torch.set_num_threads(threads)


def test_examples_found_and_fences_known():
    """Every docs page is scanned; a block tagged ``py`` or ``python3`` would silently not run."""
    assert {p.values[0].name for p in EXAMPLES} >= {"api.md", "data.md", "models.md"}
    assert len(EXAMPLES) >= 10
    for md in sorted(DOCS.glob("*.md")):
        for lang, line, _ in _fenced(md):
            assert lang in RUN_LANGS | OTHER_LANGS, f"{md.name}:{line}: fence language {lang!r}: use python or bash"


def test_fast_examples_use_no_pulled_model():
    """Examples in the default run build tiny random models; the pulled ones are for slow examples."""
    from interp.models import zoo

    for p in EXAMPLES:
        md, line, code, slow = p.values
        if not slow:
            live = re.sub(r"#.*", "", code)  # comments may show the real call
            used = [n for n in zoo.REGISTRY if re.search(rf"""\(["']{re.escape(n)}["']""", live)]
            assert not used, f"{md.name}:{line} loads {used}: build a random model or mark it '{SLOW}'"


# ---------------------------------------------------------------------------------------------
# docs/cli.md against the real command line


def _commands():
    import typer

    from interp.cli import app

    def walk(cmd, path):
        subs = getattr(cmd, "commands", None)
        if subs:
            for name, sub in subs.items():
                yield from walk(sub, [*path, name])
        else:
            yield " ".join(path), cmd

    return list(walk(typer.main.get_command(app), ["interp"]))


def _sections(text: str) -> dict[str, str]:
    """``## `interp X` `` heading -> the text up to the next ``## `` heading."""
    parts = re.split(r"^## ", text, flags=re.M)
    out = {}
    for part in parts[1:]:
        head, _, body = part.partition("\n")
        m = re.fullmatch(r"`(interp[^`]*)`\s*", head)
        if m:
            out[m.group(1)] = body
    return out


def test_cli_doc_covers_every_command_and_option():
    sections = _sections((DOCS / "cli.md").read_text(encoding="utf-8"))
    commands = _commands()
    assert len(commands) >= 8
    missing = []
    for name, cmd in commands:
        body = sections.get(name)
        if body is None:
            missing.append(f"command `{name}` has no '## `{name}`' section")
            continue
        for param in cmd.params:
            if param.param_type_name == "argument":
                if param.name.upper() not in body:
                    missing.append(f"`{name}`: argument {param.name.upper()}")
                continue
            for opt in [*param.opts, *param.secondary_opts]:
                if not re.search(rf"[`/]{re.escape(opt)}(?![\w-])", body):
                    missing.append(f"`{name}`: option {opt}")
    extra = sorted(set(sections) - {n for n, _ in commands})
    assert not missing, "docs/cli.md is behind `interp --help`:\n" + "\n".join(missing)
    assert not extra, f"docs/cli.md documents commands that do not exist: {extra}"


# ---------------------------------------------------------------------------------------------
# links and the notebook


def test_relative_links_resolve():
    for md in [*sorted(DOCS.glob("*.md")), ROOT / "README.md"]:
        text = md.read_text(encoding="utf-8")
        for target in re.findall(r"\]\(([^)\s]+)\)", text):
            if re.match(r"[a-z]+:", target) or target.startswith("#"):
                continue
            path = target.split("#", 1)[0]
            assert (md.parent / path).exists(), f"{md.relative_to(ROOT)}: broken link {target}"


def test_quickstart_notebook_is_valid_and_stored_without_outputs():
    """Source only: outputs would carry the 4.8 MB plotly bundle (tests/test_notebook.py runs it)."""
    path = DOCS / "quickstart.ipynb"
    nb = json.loads(path.read_text(encoding="utf-8"))
    try:
        import nbformat
    except ImportError:
        pass
    else:
        nbformat.validate(nbformat.reads(path.read_text(encoding="utf-8"), as_version=4))
    code = [c for c in nb["cells"] if c["cell_type"] == "code"]
    assert code and all(c["outputs"] == [] and c["execution_count"] is None for c in code)
    source = "\n".join("".join(c["source"]) for c in code)
    assert "run_ablate" in source and "MLSTMModel" in source and "token_trace_html" in source
