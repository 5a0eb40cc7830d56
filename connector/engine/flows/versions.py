"""Moving a running enrollment to a newer version of its flow.

An enrollment keeps the version it started on unless its position maps by step id: the
step it is about to run exists in the new version too.
"""

from __future__ import annotations

from connector.engine.flows.flow import Flow


def migrate_cursor(old: Flow, new: Flow, cursor: int) -> int | None:
    """The index in `new` of the step at `cursor` in `old`; past the end maps to past the
    end; None when that step id is gone (the enrollment then stays on `old`)."""
    if not 0 <= cursor <= len(old.steps):
        raise ValueError(f"cursor {cursor!r} is outside flow {old.key!r} (0..{len(old.steps)})")
    if cursor == len(old.steps):
        return len(new.steps)
    try:
        return new.step_index(old.steps[cursor].id)
    except KeyError:
        return None
