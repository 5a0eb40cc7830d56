"""migrate_cursor(): a running enrollment follows its step into a new version by id."""

from __future__ import annotations

from datetime import timedelta

import pytest

from connector.engine.flows import SendStep, WaitStep, migrate_cursor
from tests.unit.connector.engine.factories import make_flow

OLD = make_flow(SendStep("a", "a"), WaitStep("w", timedelta(days=1)), SendStep("b", "b"))
NEW = make_flow(
    SendStep("intro", "intro"),
    SendStep("a", "a2"),
    SendStep("b", "b"),
    WaitStep("w", timedelta(days=2)),
)


@pytest.mark.parametrize(("cursor", "expected"), [(0, 1), (1, 3), (2, 2), (3, 4)])
def test_steps_map_by_id_and_the_end_to_the_end(cursor: int, expected: int) -> None:
    assert migrate_cursor(OLD, NEW, cursor) == expected


def test_a_removed_step_keeps_the_old_version() -> None:
    assert migrate_cursor(NEW, OLD, 0) is None


def test_a_cursor_outside_the_old_flow_is_an_error() -> None:
    with pytest.raises(ValueError, match=r"outside flow 'f' \(0\.\.3\)"):
        migrate_cursor(OLD, NEW, 4)
