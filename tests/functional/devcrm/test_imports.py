"""The emulator imports in one direction too (type-only imports count)."""

from __future__ import annotations

from tests.support.imports import ROOT, cycles, import_graph, modules_under


def test_no_import_cycles_in_devcrm() -> None:
    assert cycles(import_graph(modules_under([ROOT / "devcrm"]))) == []
