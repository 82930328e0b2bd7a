"""The house's architecture, checked on its import graph (issue 17).

Every ``import`` / ``from … import`` in ``interp/`` (also those inside functions, which are arrows
too) is resolved to the module it names. The graph must have no circle; no experiment may import
another experiment; the lower floors (models, report) may not import the floors above them; no
module may grow past ``MAX_LINES`` unless it is listed here with the one idea it holds. The
deprecated aliases of the old flat layout (``interp/ablate.py`` and friends) are checked apart:
each must give the very module it names, with a DeprecationWarning.
"""
from __future__ import annotations

import ast
import importlib
import subprocess
import sys
import warnings
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PKG = ROOT / "interp"
MAX_LINES = 520
#: modules allowed past MAX_LINES, each with the one idea it holds
LONG_ONE_IDEA = {
    "interp.cli": "the command line: one typer app, one function per command, each a thin parser over an experiment",
    "interp.models.mlstm.module": "the MLSTM nn.Module: its equations, hook points and step loop, one class",
    "interp.models.mlstm.train": "the resumable trainer: one loop with its exact checkpoint, schedule and evaluation",
}
#: modules under interp/experiments that are not experiments
NOT_EXPERIMENTS = {"interp.experiments", "interp.experiments.options"}
#: what each lower floor may import besides itself
FLOORS = {
    "interp.models": ("interp.models", "interp.config", "interp.validate", "interp.devices", "interp.runs",
                      "interp.data"),
    "interp.report": ("interp.report", "interp.runs", "interp.config"),
    "interp.engine": ("interp.engine", "interp.models", "interp.runs", "interp.config", "interp.validate"),
}


def _module_name(path: Path) -> str:
    rel = path.relative_to(ROOT).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def _is_alias(src: str) -> bool:
    return "from interp._moved import alias" in src


def modules() -> dict[str, tuple[Path, str]]:
    out = {}
    for p in sorted(PKG.rglob("*.py")):
        src = p.read_text()
        out[_module_name(p)] = (p, src)
    return out


def _resolve(name: str, mods: set[str]) -> str | None:
    """The module an imported dotted name is: itself, or its longest module prefix."""
    while name:
        if name in mods:
            return name
        name = name.rpartition(".")[0]
    return None


def import_graph() -> dict[str, set[str]]:
    mods = modules()
    names = set(mods)
    graph: dict[str, set[str]] = {}
    for mod, (path, src) in mods.items():
        if _is_alias(src):
            continue
        is_pkg = path.name == "__init__.py"
        deps: set[str] = set()
        for node in ast.walk(ast.parse(src)):
            targets: list[str] = []
            if isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                if node.level:
                    base = mod if is_pkg else mod.rpartition(".")[0]
                    for _ in range(node.level - 1):
                        base = base.rpartition(".")[0]
                    src_mod = f"{base}.{node.module}" if node.module else base
                else:
                    src_mod = node.module or ""
                # "from pkg import sub" names the submodule when there is one
                targets = [f"{src_mod}.{a.name}" if f"{src_mod}.{a.name}" in names else src_mod for a in node.names]
            for t in targets:
                if t == "interp" or t.startswith("interp."):
                    r = _resolve(t, names)
                    if r and r != mod:
                        deps.add(r)
        graph[mod] = deps
    return graph


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index, low, on, stack, out, counter = {}, {}, set(), [], [], [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in graph.get(v, ()):
            if w not in graph:
                continue
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    sys.setrecursionlimit(10_000)
    for v in graph:
        if v not in index:
            visit(v)
    return out


def _is_experiment(mod: str) -> bool:
    return mod.startswith("interp.experiments.") and mod not in NOT_EXPERIMENTS


def _experiment(mod: str) -> str:
    """The experiment a module belongs to: ``interp.experiments.find.causal`` is part of ``find``."""
    return mod.split(".")[2]


def _floor_of(mod: str) -> str | None:
    return next((f for f in FLOORS if mod == f or mod.startswith(f + ".")), None)


def test_the_graph_is_read_from_real_imports():
    g = import_graph()
    # a few arrows that must be there, so that an empty graph cannot pass the tests below
    assert "interp.engine.sweep" in g["interp.tasks"]
    assert "interp.engine.shard" in g["interp.engine.ray"]  # an import inside a function
    assert "interp.report.results" in g["interp.experiments.ablate"]
    assert len(g) > 40


def test_no_import_circles():
    assert _cycles(import_graph()) == []


def test_an_experiment_package_is_one_experiment():
    assert _experiment("interp.experiments.find.causal") == _experiment("interp.experiments.find") == "find"
    assert not _is_experiment("interp.experiments.options")


def test_the_cycle_finder_finds_a_circle():
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_no_experiment_imports_another():
    g = import_graph()
    arrows = [(a, b) for a, deps in g.items() if _is_experiment(a) for b in deps
              if _is_experiment(b) and _experiment(a) != _experiment(b)]
    assert arrows == [], f"experiment -> experiment imports: {arrows}"


def test_only_the_cli_and_the_public_api_import_experiments():
    g = import_graph()
    allowed = ("interp.cli", "interp")
    arrows = [(a, b) for a, deps in g.items() for b in deps
              if _is_experiment(b) and not _is_experiment(a) and a not in allowed]
    assert arrows == [], f"imports of an experiment from below it: {arrows}"


def test_lower_floors_do_not_import_upper_ones():
    g = import_graph()
    bad = []
    for a, deps in g.items():
        floor = _floor_of(a)
        if floor is None:
            continue
        bad += [(a, b) for b in deps if not any(b == ok or b.startswith(ok + ".") for ok in FLOORS[floor])]
    assert bad == [], f"a lower floor imports an upper one: {bad}"


def test_modules_stay_small_unless_they_hold_one_idea():
    long = {m: src.count("\n") for m, (p, src) in modules().items() if src.count("\n") > MAX_LINES}
    unexplained = {m: n for m, n in long.items() if m not in LONG_ONE_IDEA}
    assert unexplained == {}, f"modules over {MAX_LINES} lines: {unexplained}"


ALIASES = [m for m, (p, src) in modules().items() if _is_alias(src)]


def test_there_are_old_paths_to_keep():
    assert {"interp.ablate", "interp.zoo", "interp.results", "interp.transformer"} <= set(ALIASES)


@pytest.mark.parametrize("old", ALIASES)
def test_old_paths_warn_and_give_the_new_module(old):
    src = modules()[old][1]
    new = ast.literal_eval(src.rsplit("alias(__name__, ", 1)[1].split(")")[0])
    sys.modules.pop(old, None)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        got = importlib.import_module(old)
    assert got is importlib.import_module(new)
    assert any(issubclass(w.category, DeprecationWarning) and new in str(w.message) for w in caught)


def test_old_module_command_lines_still_run():
    out = subprocess.run([sys.executable, "-W", "ignore::DeprecationWarning", "-m", "interp.zoo", "--help"],
                         capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    assert "usage" in out.stdout.lower()
