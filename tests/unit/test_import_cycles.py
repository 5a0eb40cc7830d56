"""The whole code base imports in one direction: no cycles between any of its modules
(type-only imports count), so jobs depend on services and never the reverse."""

from __future__ import annotations

from tests.support.imports import ROOT, cycles, import_graph, modules_under


def test_no_import_cycles_anywhere() -> None:
    modules = {
        name: path
        for name, path in modules_under(
            ROOT / p for p in ("connector", "adapters", "webhooks")
        ).items()
        if ".migrations" not in name  # alembic loads revisions by path
    }
    assert cycles(import_graph(modules)) == []
