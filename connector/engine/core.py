"""Decide what an enrollment does next, one decision at a time.

Pure: the flow, the cursor (index of the NEXT step to run), facts about the contact and the
time come in; a Decision comes out. The caller applies it, stores `next_cursor` and calls
again (after a Send) or sleeps until `Sleep.until`. Step kinds register their handler.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import singledispatch
from types import MappingProxyType
from typing import Any, TypeAlias

from connector.engine.definitions import ExitStep, Flow, SendStep, Step, WaitStep

EXIT_UNSUBSCRIBED = "unsubscribed"
EXIT_STEP = "exit step"


@dataclass(frozen=True)
class ContactFacts:
    """What the engine may know about the contact when it decides."""

    email: str
    suppressed: bool
    properties: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))


@dataclass(frozen=True)
class Send:
    """Send `template` now, then continue at `next_cursor`."""

    step_id: str
    template: str
    subject: str | None
    next_cursor: int


@dataclass(frozen=True)
class Sleep:
    """A wait step: resume at `until` (UTC) with the cursor at `next_cursor`."""

    step_id: str
    until: datetime
    next_cursor: int


@dataclass(frozen=True)
class Exit:
    """Leave the flow early; `step_id` is None when no step caused it (e.g. unsubscribed)."""

    step_id: str | None
    reason: str


@dataclass(frozen=True)
class Complete:
    """The enrollment ran past its last step."""


Decision: TypeAlias = Send | Sleep | Exit | Complete


def decide(flow: Flow, cursor: int, contact: ContactFacts, now: datetime) -> Decision:
    """The next thing the enrollment at `cursor` does; `now` must be timezone-aware."""
    if now.tzinfo is None or now.utcoffset() is None:
        raise ValueError(f"now must be timezone-aware, got naive {now.isoformat()}")
    if isinstance(cursor, bool) or not 0 <= cursor <= len(flow.steps):
        raise ValueError(f"cursor {cursor!r} is outside flow {flow.key!r} (0..{len(flow.steps)})")
    # Past the last step there is nothing left to stop: a contact who unsubscribed after
    # the final email still completed the flow.
    if cursor == len(flow.steps):
        return Complete()
    if contact.suppressed and flow.settings.exit_on_unsubscribe:
        return Exit(step_id=None, reason=EXIT_UNSUBSCRIBED)
    return run_step(flow.steps[cursor], cursor, now)


def run_until_blocked(
    flow: Flow, cursor: int, contact: ContactFacts, now: datetime
) -> list[Decision]:
    """Consecutive decisions from `cursor` up to the first Sleep, Exit or Complete."""
    decisions: list[Decision] = []
    while True:  # ends: every Send moves the cursor forward and the end is Complete
        decision = decide(flow, cursor, contact, now)
        decisions.append(decision)
        if not isinstance(decision, Send):
            return decisions
        cursor = decision.next_cursor


@singledispatch
def run_step(step: Step, cursor: int, now: datetime) -> Decision:
    """The decision for one step kind; one registered handler per kind."""
    raise TypeError(f"no handler for step kind {type(step).__name__}")


@run_step.register
def _send(step: SendStep, cursor: int, now: datetime) -> Decision:
    return Send(step.id, step.template, step.subject, next_cursor=cursor + 1)


@run_step.register
def _wait(step: WaitStep, cursor: int, now: datetime) -> Decision:
    # Elapsed time, in UTC: Python adds to (and compares) datetimes of one zone by wall
    # clock, so in a DST zone `now + 1 day` would be 23 or 25 real hours.
    return Sleep(step.id, now.astimezone(UTC) + step.duration, next_cursor=cursor + 1)


@run_step.register
def _exit(step: ExitStep, cursor: int, now: datetime) -> Decision:
    return Exit(step_id=step.id, reason=EXIT_STEP)
