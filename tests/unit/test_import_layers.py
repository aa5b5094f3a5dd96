"""The import graph of ``src/spoolwatch`` against the layer table in the README.

Every import in ``src/`` is read with :mod:`ast` (imports inside functions and under
``TYPE_CHECKING`` included); ``from package import name`` is an edge to the submodule when
``name`` is one, else to the package. Two rules: no module cycle anywhere, and no import of a
package on the same or a higher layer than the importer's own.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SRC = ROOT / "src"
README = ROOT / "README.md"
PACKAGE = "spoolwatch"


def module_files() -> dict[str, Path]:
    modules = {}
    for path in sorted((SRC / PACKAGE).rglob("*.py")):
        parts = path.relative_to(SRC).with_suffix("").parts
        if parts[-1] == "__init__":
            parts = parts[:-1]
        modules[".".join(parts)] = path
    return modules


def imported(module: str, path: Path, known: set[str]) -> Iterator[tuple[str, int]]:
    """The modules of ``known`` that ``module`` imports, with the line of each import."""
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name in known:
                    yield alias.name, node.lineno
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                source = ".".join([*base, *([node.module] if node.module else [])])
            else:
                source = node.module or ""
            for alias in node.names:
                if f"{source}.{alias.name}" in known:
                    yield f"{source}.{alias.name}", node.lineno
                elif source in known:
                    yield source, node.lineno


def import_graph() -> dict[str, dict[str, int]]:
    files = module_files()
    known = set(files)
    graph: dict[str, dict[str, int]] = {}
    for module, path in files.items():
        edges = graph.setdefault(module, {})
        for target, line in imported(module, path, known):
            if target != module:
                edges.setdefault(target, line)
    return graph


def cycles(graph: dict[str, dict[str, int]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan, iteratively)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    for start in graph:
        if start in index:
            continue
        work = [(start, iter(graph[start]))]
        index[start] = low[start] = len(index)
        stack.append(start)
        on_stack.add(start)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(graph[child])))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    found.append(sorted(component))
    return found


def layer_table() -> dict[str, int]:
    text = README.read_text()
    section = text.split("### Package layout", 1)[1].split("\n## ", 1)[0]
    rows = re.findall(r"^\| `([a-z_]+)` \| (\d+) \|", section, flags=re.MULTILINE)
    return {name: int(layer) for name, layer in rows}


def package_of(module: str) -> str:
    """``spoolwatch.server.app`` → ``server``; the root package is ``spoolwatch``."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else parts[0]


def is_entry_point(module: str) -> bool:
    return module.rsplit(".", 1)[-1] == "__main__"


def test_no_module_imports_one_that_imports_it_back() -> None:
    found = cycles(import_graph())
    assert found == [], "import cycles in src/: " + "; ".join(" <-> ".join(c) for c in found)


def test_every_package_of_src_has_a_layer_in_the_readme() -> None:
    packages = {package_of(m) for m in module_files() if not is_entry_point(m)}
    layers = layer_table()
    assert sorted(packages - set(layers)) == [], "packages missing from the README's table"
    assert sorted(set(layers) - packages) == [], "the README's table names packages not in src/"


def test_imports_point_only_down_the_layers() -> None:
    layers = layer_table()
    upward = []
    for module, edges in import_graph().items():
        if is_entry_point(module):
            continue
        own = package_of(module)
        for target, line in edges.items():
            theirs = package_of(target)
            if own not in layers or theirs not in layers:
                continue  # the test above names packages missing from the table
            if theirs != own and layers[theirs] >= layers[own]:
                upward.append(
                    f"{module}:{line} imports {target} "
                    f"({own} is layer {layers[own]}, {theirs} layer {layers[theirs]})"
                )
    assert upward == [], "imports against the README's layers:\n" + "\n".join(upward)


@pytest.mark.parametrize(
    ("graph", "expected"),
    [
        ({"a": {"b": 1}, "b": {"a": 1}}, [["a", "b"]]),
        ({"a": {"b": 1}, "b": {"c": 1}, "c": {"a": 1}, "d": {"a": 1}}, [["a", "b", "c"]]),
        ({"a": {"b": 1}, "b": {"c": 1}, "c": {}}, []),
    ],
)
def test_the_cycle_finder_finds_loops_and_only_loops(
    graph: dict[str, dict[str, int]], expected: list[list[str]]
) -> None:
    assert cycles(graph) == expected
