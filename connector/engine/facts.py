"""What the engine may know about a contact when it evaluates a rule or decides a step.

Plain frozen data, loaded by the services from the database (a bounded recent history),
built by hand in tests and in `flows simulate`. Nothing here does I/O.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from types import MappingProxyType
from typing import Any, Literal

# The least history facts cover: a year of "ordered in the last 365 days", plus slack for
# waits and caps; rules that look further back ask for more.
HISTORY = timedelta(days=400)


def _empty() -> Mapping[str, Any]:
    return MappingProxyType({})


@dataclass(frozen=True)
class EventFact:
    """A behaviour event the contact performed (`order.completed`, `product.viewed`...)."""

    name: str
    at: datetime
    properties: Mapping[str, Any] = field(default_factory=_empty)


@dataclass(frozen=True)
class EngagementFact:
    """A person's open or click of one of our emails, with where that email came from
    (a machine's, flagged by connector/engine/machine.py, is never a fact)."""

    action: Literal["open", "click"]
    at: datetime
    template: str
    flow: str | None = None
    step: str | None = None
    campaign: str | None = None
    url: str | None = None  # the original link, for clicks


@dataclass(frozen=True)
class SendFact:
    """An email we sent the contact (for frequency caps)."""

    at: datetime
    flow: str | None
    transactional: bool


@dataclass(frozen=True)
class ContactFacts:
    """Facts about one contact. Histories are ordered oldest first and bounded by the
    loader (the longest window any rule uses), so evaluation stays well under 1 ms."""

    email: str
    suppressed: bool
    # Why the contact may not be mailed (journaled as the exit reason): "unsubscribed",
    # "hard_bounce", "opted out in the CRM", "no email address"...
    suppressed_because: str = "unsubscribed"
    properties: Mapping[str, Any] = field(default_factory=_empty)
    contact_id: int = 0  # stable random buckets and A/B splits hash this
    timezone: str = "UTC"  # IANA name; sends, quiet hours and dates use it
    created_at: datetime | None = None
    last_active_at: datetime | None = None  # last open, click or behaviour event (inactivity)
    events: tuple[EventFact, ...] = ()
    engagements: tuple[EngagementFact, ...] = ()
    sends: tuple[SendFact, ...] = ()
    lists: frozenset[str] = frozenset()
    segments: frozenset[str] = frozenset()  # segments the contact is in right now
