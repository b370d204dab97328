"""The shape of the package, checked from its source: short functions, imports that flow one way,
a CLI whose light commands stay light, and benchmarks that use only public names."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

from .helpers import ROOT, clean_env

PACKAGE = ROOT / "src" / "itsqa"
MODULES = sorted(PACKAGE.glob("*.py"))
LONGEST_FUNCTION = 80


def _tree(path: Path) -> ast.Module:
    return ast.parse(path.read_text(encoding="utf-8"), filename=str(path))


def _module_level_imports(tree: ast.Module) -> list[ast.ImportFrom]:
    """The `from ...` statements run when the module is imported: in its body, or in a try or
    an if at module level, but not under `if TYPE_CHECKING:` (never run) nor in a function."""
    found: list[ast.ImportFrom] = []

    def visit(body: list[ast.stmt]) -> None:
        for node in body:
            if isinstance(node, ast.ImportFrom):
                found.append(node)
            elif isinstance(node, ast.If):
                test = node.test
                if not (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING"
                        or isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"):
                    visit(node.body)
                visit(node.orelse)
            elif isinstance(node, ast.Try):
                for part in (node.body, node.orelse, node.finalbody,
                             *(h.body for h in node.handlers)):
                    visit(part)

    visit(tree.body)
    return found


def _package_imports(path: Path) -> set[str]:
    """The package's modules that `path` imports at module level (`from . import x`,
    `from .x import y`); a name that is no module of its own is the package's __init__."""
    names = {p.stem for p in MODULES}
    out: set[str] = set()
    for node in _module_level_imports(_tree(path)):
        if node.level != 1:
            continue
        if node.module:
            out.add(node.module.split(".")[0])
        else:
            out.update(a.name if a.name in names else "__init__" for a in node.names)
    out.discard(path.stem)
    return out


def import_graph() -> dict[str, set[str]]:
    return {p.stem: _package_imports(p) for p in MODULES}


def find_cycle(graph: dict[str, set[str]]) -> list[str]:
    """A cycle of the graph as the list of its nodes (first repeated last), or [] if none."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(node: str) -> list[str]:
        state[node] = 1
        path.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return path[path.index(nxt):] + [nxt]
            if nxt not in state:
                found = visit(nxt)
                if found:
                    return found
        path.pop()
        state[node] = 2
        return []

    for node in sorted(graph):
        if node not in state:
            found = visit(node)
            if found:
                return found
    return []


def test_no_function_or_method_is_longer_than_80_lines() -> None:
    too_long = []
    for path in MODULES:
        for node in ast.walk(_tree(path)):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                assert node.end_lineno is not None
                lines = node.end_lineno - node.lineno + 1
                if lines > LONGEST_FUNCTION:
                    too_long.append(f"{path.name}:{node.lineno} {node.name} ({lines} lines)")
    assert not too_long, too_long


def test_the_cycle_finder_finds_a_cycle() -> None:
    """The check below would pass vacuously if the finder never found one."""
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b", "c"}, "b": {"c"}, "c": set()}) == []


def test_the_package_imports_form_no_cycle() -> None:
    graph = import_graph()
    assert {"retrieval", "ranking", "store", "cli"} <= set(graph)
    assert "store" in graph["retrieval"]  # the graph is really read
    cycle = find_cycle(graph)
    assert not cycle, " -> ".join(cycle)


def test_the_cli_and_the_eval_command_do_not_import_each_other_at_module_level() -> None:
    graph = import_graph()
    assert "cli" not in graph["cli_eval"], "cli_eval.py imports cli.py"
    assert "cli_eval" not in graph["cli"], "cli.py imports cli_eval.py"


@pytest.mark.slow  # a new interpreter
def test_the_sources_command_does_not_import_the_ask_stack() -> None:
    code = ("import sys; from itsqa.catalog import list_sources; import itsqa.cli; "
            "print(sorted(m for m in sys.modules if m.startswith(('itsqa.retrieval',"
            "'itsqa.embedding','itsqa.ranking','faiss','onnxruntime','torch'))))")
    proc = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=clean_env(),
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "[]", proc.stdout


def test_benchmarks_import_no_private_name_from_itsqa() -> None:
    scripts = sorted((ROOT / "benchmarks").glob("*.py"))
    assert scripts
    private = []
    for path in scripts:
        for node in ast.walk(_tree(path)):
            if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module and (
                    node.module == "itsqa" or node.module.startswith("itsqa.")):
                private += [f"{path.name}:{node.lineno} {node.module}.{a.name}"
                            for a in node.names if a.name.startswith("_")]
            elif isinstance(node, ast.Import):
                # `import itsqa._x` reaches a private module
                private += [f"{path.name}:{node.lineno} {a.name}" for a in node.names
                            if a.name.startswith("itsqa.")
                            and any(p.startswith("_") for p in a.name.split(".")[1:])]
    assert not private, private
