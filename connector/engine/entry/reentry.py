"""Re-entry rules: may a contact enter a flow (again), and under which key.

The services keep enrollments unique on (account, contact, flow key, entry key): "once"
allows one enrollment ever, a dedup value one per value, an event or a firing time one per
event. A cooldown is checked on top with may_reenter().
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from typing import Any

from connector.engine.common import MISSING, canonical_json, lookup, thaw
from connector.engine.entry.signals import Signal
from connector.engine.flows import Cooldown, EventTrigger, Flow

MAX_KEY_LENGTH = 40  # Enrollment.entry_key is a String(40)


def entry_key(
    flow: Flow,
    signal: Signal | None,
    inbox_event_id: int | None,
    fired_at: datetime | None = None,
) -> str:
    """The key that makes an enrollment unique for this contact and flow.

    "once" for reentry once; "dedup:<value>" when the event trigger names a dedup property
    and the event carries it (whatever the reentry mode: one enrollment per order);
    "dedup#<hash>" when that would exceed 40 characters;
    "event:<id>" for the inbox event that caused the entry; "at:<UTC ISO time>" for a
    scheduled trigger (date, inactivity) or any signal without an inbox event, given its
    `fired_at`. Raises ValueError when there is nothing to key on.
    """
    if flow.settings.reentry == "once":
        return "once"
    trigger = flow.trigger
    if (
        isinstance(trigger, EventTrigger)
        and trigger.dedup is not None
        and signal is not None
        and signal.kind == "event"
    ):
        value = lookup(signal.properties, trigger.dedup)
        if value is not MISSING and value is not None and value != "":
            key = f"dedup:{_key_text(value)}"
            if len(key) <= MAX_KEY_LENGTH:
                return key
            # Long values (URLs, long UUID forms) are hashed to fit the entry_key column.
            return "dedup#" + hashlib.sha256(key.encode()).hexdigest()[: MAX_KEY_LENGTH - 6]
    if inbox_event_id is not None:
        return f"event:{inbox_event_id}"
    if fired_at is not None:
        return f"at:{fired_at.astimezone(UTC).isoformat()}"
    raise ValueError("an entry key needs an inbox event id or the time the trigger fired")


def _key_text(value: Any) -> str:
    # 1234 and "1234" are the same order id; anything else is spelt canonically.
    if isinstance(value, str):
        return value
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    return canonical_json(thaw(value))


def may_reenter(flow: Flow, last_entered_at: datetime | None, now: datetime) -> bool:
    """The cooldown rule: with reentry {cooldown: P}, not again before P has passed since
    the last entry. once / always are enforced by entry_key() uniqueness, so True here."""
    reentry = flow.settings.reentry
    if not isinstance(reentry, Cooldown) or last_entered_at is None:
        return True
    return now - last_entered_at >= reentry.period
