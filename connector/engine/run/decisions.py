"""What decide() takes besides the flow and the facts (the enrollment's state, the
deployment's policy) and what it returns (one Decision).

Every decision that moves on carries `next_cursor`: the services store it and, when it
differs from the current cursor, set `step_started_at` to the decision's `now`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, TypeAlias

from connector.engine.common import FrozenMap

EXIT_UNSUBSCRIBED = "unsubscribed"
EXIT_STEP = "exit step"
EXIT_CRITERIA = "exit criteria"
EXIT_WAIT_TIMEOUT = "wait_for timeout"
EXIT_LOOP = "loop without a wait"  # the run loop's guard (loop.py); lint reports such loops
GOAL_PREFIX = "goal:"
HOLDOUT_PREFIX = "holdout:"

SLEEP_WAIT = "wait"
SLEEP_WAIT_UNTIL = "wait until"
SLEEP_QUIET_HOURS = "quiet hours"
SLEEP_FREQUENCY_CAP = "frequency cap"
SLEEP_WAIT_FOR = "wait for"


@dataclass(frozen=True)
class EnrollmentState:
    """Where an enrollment stands. `cursor` is the index of the NEXT step to run;
    `step_started_at` is when that step was first reached (None: now); `context` holds
    {"event": {"name": ..., **properties}} of the trigger event, or nothing."""

    cursor: int
    entered_at: datetime
    step_started_at: datetime | None = None
    context: Mapping[str, Any] = field(default_factory=FrozenMap)

    def __post_init__(self) -> None:
        object.__setattr__(self, "context", FrozenMap(self.context))


@dataclass(frozen=True)
class Policy:
    """Deployment-wide rules: at most N marketing sends per contact per rolling window."""

    frequency_cap: tuple[int, timedelta] | None = None

    def __post_init__(self) -> None:
        if self.frequency_cap is not None:
            limit, window = self.frequency_cap
            if limit < 1 or window <= timedelta(0):
                raise ValueError("a frequency cap needs a limit >= 1 and a positive window")


@dataclass(frozen=True)
class Send:
    """Send `template` now, then continue at `next_cursor`."""

    step_id: str
    template: str
    subject: str | None
    sender: str | None
    next_cursor: int


@dataclass(frozen=True)
class Sleep:
    """Do nothing until `until` (UTC), then decide again at `next_cursor`.

    For quiet hours, the frequency cap and wait_for the cursor stays (next_cursor is the
    current cursor). `waiting_for` ("event:<name>" / "segment:<key>") says what should wake
    the enrollment early.
    """

    step_id: str
    until: datetime
    next_cursor: int
    reason: str
    waiting_for: str | None = None


@dataclass(frozen=True)
class Jump:
    """Move to `next_cursor` now (branch, split, holdout passed, goto, wait_for over, date
    wait with no date): journal it and decide again with step_started_at reset."""

    step_id: str
    next_cursor: int
    reason: str


@dataclass(frozen=True)
class UpdateProperty:
    """Write a CRM property of the contact, then continue at `next_cursor`."""

    step_id: str
    property: str
    value: Any
    next_cursor: int


@dataclass(frozen=True)
class CreateTask:
    """Create a CRM task for the contact's owner, then continue at `next_cursor`."""

    step_id: str
    subject: str
    body: str | None
    due_in: timedelta | None
    next_cursor: int


@dataclass(frozen=True)
class CallWebhook:
    """POST `body` (signed) to `url`, then continue at `next_cursor`. `body` is a plain,
    JSON-ready dict."""

    step_id: str
    url: str
    body: Mapping[str, Any]
    next_cursor: int


@dataclass(frozen=True)
class Exit:
    """Leave the flow early; `step_id` is None when no step caused it (unsubscribed, a goal,
    the exit criteria)."""

    step_id: str | None
    reason: str


@dataclass(frozen=True)
class Complete:
    """The enrollment ran past its last step."""


Decision: TypeAlias = (
    Send | Sleep | Jump | UpdateProperty | CreateTask | CallWebhook | Exit | Complete
)
MovesOn: TypeAlias = Send | Jump | UpdateProperty | CreateTask | CallWebhook
BLOCKING = (Sleep, Exit, Complete)
