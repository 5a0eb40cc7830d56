"""The engine's import graph: no cycles (type-only imports count), one face per package.

Read from the source with ast, so an `if TYPE_CHECKING:` import or one inside a function
counts like any other.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[4]
ENGINE = ROOT / "connector" / "engine"
PREFIX = "connector.engine"


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imported(path: Path) -> Iterator[tuple[str, str]]:
    """(module, name) for every `from X import name` and (module, "") for `import X`."""
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module:
            assert node.level == 0, f"{path}: relative import"
            for alias in node.names:
                yield node.module, alias.name
        elif isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name, ""


MODULES = {module_name(p): p for p in sorted(ENGINE.rglob("*.py"))}
FACES = {name for name, path in MODULES.items() if path.name == "__init__.py"} - {PREFIX}


def engine_graph() -> dict[str, set[str]]:
    graph: dict[str, set[str]] = {}
    for name, path in MODULES.items():
        edges = graph.setdefault(name, set())
        for module, symbol in imported(path):
            for target in (module, f"{module}.{symbol}"):  # `from pkg import submodule`
                if target in MODULES and target != name:
                    edges.add(target)
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for nxt in sorted(graph[node]):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_the_engine_has_no_import_cycles() -> None:
    assert cycles(engine_graph()) == []


def test_the_cycle_finder_finds_a_type_only_cycle() -> None:
    graph = {"a": {"b"}, "b": {"a"}, "c": {"a"}}
    assert cycles(graph) == [["a", "b"]]


def test_the_engine_package_re_exports_nothing() -> None:
    assert list(imported(ENGINE / "__init__.py")) == []


def test_each_face_imports_its_own_modules_only_and_lists_them() -> None:
    for face in FACES:
        path = MODULES[face]
        modules = {module for module, _ in imported(path)} - {"__future__"}
        assert all(m.startswith(face + ".") for m in modules), (face, modules)
        tree = ast.parse(path.read_text())
        exported = next(
            node.value
            for node in tree.body
            if isinstance(node, ast.Assign) and getattr(node.targets[0], "id", "") == "__all__"
        )
        names = {
            alias.asname or alias.name
            for node in tree.body
            if isinstance(node, ast.ImportFrom)
            for alias in node.names
        } - {"annotations"}
        assert isinstance(exported, ast.List)
        assert {ast.literal_eval(e) for e in exported.elts} == names, face


def test_modules_of_a_package_never_import_their_own_face() -> None:
    for name, path in MODULES.items():
        if path.name == "__init__.py":
            continue
        own = name.rsplit(".", 1)[0]
        if own in FACES:
            assert own not in {module for module, _ in imported(path)}, name


def test_code_outside_the_engine_imports_faces_and_top_level_modules_only() -> None:
    public = FACES | {name for name in MODULES if name.count(".") == 2}  # facts, segments...
    for package in ("connector", "adapters", "webhooks", "bench"):
        for path in sorted((ROOT / package).rglob("*.py")):
            if ENGINE in path.parents:
                continue
            for module, _ in imported(path):
                if module == PREFIX or module.startswith(PREFIX + "."):
                    assert module in public - {PREFIX}, f"{path}: imports {module}"
