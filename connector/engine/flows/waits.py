"""Wait kinds: a fixed duration, a time of day, a date, or an event / segment entry.

Times of day and dates are taken in the contact's timezone (see schedule.py).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import time, timedelta
from typing import Any, ClassVar

from connector.engine.common import FrozenMap, format_time, parse_time, thaw
from connector.engine.flows.steps import SECOND, StepBase

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")  # date.weekday() order
ON_TIMEOUT_KEYWORDS = ("next", "exit")


@dataclass(frozen=True)
class WaitStep(StepBase):
    """Pause the enrollment for a fixed, positive, whole-second duration."""

    id: str
    duration: timedelta
    kind: ClassVar[str] = "wait"
    waits: ClassVar[bool] = True

    def __post_init__(self) -> None:
        if self.duration <= timedelta(0) or self.duration % SECOND:
            raise ValueError(f"step {self.id!r}: a wait must be a positive number of seconds")

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "id": self.id, "seconds": self.duration // SECOND}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> WaitStep:
        return cls(id=data["id"], duration=timedelta(seconds=data["seconds"]))


@dataclass(frozen=True)
class WaitUntilStep(StepBase):
    """Wait for the next `at` (on one of `weekdays`, 0 = Monday; None = any day) in the
    contact's timezone."""

    id: str
    at: time
    weekdays: frozenset[int] | None = None
    kind: ClassVar[str] = "wait_until"
    waits: ClassVar[bool] = True

    def __post_init__(self) -> None:
        if self.weekdays is not None:
            object.__setattr__(self, "weekdays", frozenset(self.weekdays))
            if not self.weekdays or not self.weekdays <= set(range(7)):
                raise ValueError(f"step {self.id!r}: weekdays must be a non-empty set of 0..6")

    def to_dict(self) -> dict[str, Any]:
        days = None if self.weekdays is None else [WEEKDAYS[d] for d in sorted(self.weekdays)]
        return {"kind": self.kind, "id": self.id, "at": format_time(self.at), "weekdays": days}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> WaitUntilStep:
        days = data["weekdays"]
        weekdays = None if days is None else frozenset(WEEKDAYS.index(d) for d in days)
        return cls(id=data["id"], at=parse_time(data["at"]), weekdays=weekdays)


@dataclass(frozen=True)
class WaitUntilDateStep(StepBase):
    """Wait until a date (+ offset, at `at` if given) read from a contact property or from
    a property of the event that started the enrollment; exactly one of the two is set."""

    id: str
    property: str | None = None
    event_property: str | None = None
    offset: timedelta = timedelta(0)
    at: time | None = None
    years: int = 0  # calendar years added to the date first (29 Feb -> 28 Feb)
    kind: ClassVar[str] = "wait_until_date"
    waits: ClassVar[bool] = True

    def __post_init__(self) -> None:
        if (self.property is None) == (self.event_property is None):
            raise ValueError(f"step {self.id!r}: give exactly one of property, event_property")

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "id": self.id,
            "property": self.property,
            "event_property": self.event_property,
            "offset_seconds": self.offset // SECOND,
            "at": None if self.at is None else format_time(self.at),
            # Written only when set, so existing flows keep their version.
            **({"years": self.years} if self.years else {}),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> WaitUntilDateStep:
        at = None if data["at"] is None else parse_time(data["at"])
        offset = timedelta(seconds=data["offset_seconds"])
        return cls(
            data["id"], data["property"], data["event_property"], offset, at, data.get("years", 0)
        )


@dataclass(frozen=True)
class WaitForStep(StepBase):
    """Wait for an event (matching `where`) or for segment membership, at most `timeout`;
    then go on, exit, or go to the step named by `on_timeout`."""

    id: str
    timeout: timedelta
    event: str | None = None
    where: Mapping[str, Any] = field(default_factory=FrozenMap)
    segment: str | None = None
    on_timeout: str = "next"
    # "step": only what happens once this step is reached counts; "entry": anything since
    # the enrollment began (an order can ship before the flow reaches its shipping step).
    since: str = "step"
    kind: ClassVar[str] = "wait_for"
    waits: ClassVar[bool] = True

    def __post_init__(self) -> None:
        object.__setattr__(self, "where", FrozenMap(self.where))
        if (self.event is None) == (self.segment is None):
            raise ValueError(f"step {self.id!r}: wait for exactly one of event, segment")
        if self.where and self.event is None:
            raise ValueError(f"step {self.id!r}: `where` filters need an event")
        if self.timeout <= timedelta(0):
            raise ValueError(f"step {self.id!r}: the timeout must be positive")
        if self.since not in ("step", "entry"):
            raise ValueError(f"step {self.id!r}: since must be step or entry")

    def jumps(self) -> tuple[str, ...]:
        return () if self.on_timeout in ON_TIMEOUT_KEYWORDS else (self.on_timeout,)

    @property
    def waiting_for(self) -> str:
        return f"event:{self.event}" if self.event is not None else f"segment:{self.segment}"

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "id": self.id,
            "event": self.event,
            "where": thaw(self.where),
            "segment": self.segment,
            "timeout_seconds": self.timeout // SECOND,
            "on_timeout": self.on_timeout,
            # Written only when not the default, so existing flows keep their version.
            **({"since": self.since} if self.since != "step" else {}),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> WaitForStep:
        timeout = timedelta(seconds=data["timeout_seconds"])
        return cls(
            data["id"],
            timeout,
            data["event"],
            data["where"],
            data["segment"],
            data["on_timeout"],
            data.get("since", "step"),
        )
