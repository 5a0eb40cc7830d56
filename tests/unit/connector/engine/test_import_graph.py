"""The engine's import graph: no cycles (type-only imports count), one face per package.

Read from the source with ast, so an `if TYPE_CHECKING:` import or one inside a function
counts like any other.
"""

from __future__ import annotations

import ast

from tests.support.imports import ROOT, cycles, import_graph, imported, modules_under

ENGINE = ROOT / "connector" / "engine"
PREFIX = "connector.engine"
MODULES = modules_under([ENGINE])
FACES = {name for name, path in MODULES.items() if path.name == "__init__.py"} - {PREFIX}


def engine_graph() -> dict[str, set[str]]:
    return import_graph(MODULES)


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
