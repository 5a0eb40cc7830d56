"""Trigger matching: which flows does a contact signal start, and when do scheduled
triggers (date, inactivity) fire?

Pure: a Signal (built by the events worker from a CRM webhook, a behaviour event, a
segment membership change or an engagement) is matched against each flow's trigger by a
per-kind matcher registered on `trigger_matches`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from fnmatch import fnmatchcase
from functools import singledispatch
from typing import Any

from connector.engine.common import (
    anniversary,
    date_target,
    local_day,
    parse_date_value,
    where_matches,
    zone,
)
from connector.engine.entry.signals import Signal
from connector.engine.facts import ContactFacts
from connector.engine.flows import (
    ANY,
    ContactCreated,
    DateTrigger,
    EngagementTrigger,
    EventTrigger,
    Flow,
    InactivityTrigger,
    PropertyChanged,
    SegmentEntered,
    SegmentLeft,
    Trigger,
)
from connector.engine.rules import evaluate

ENGAGEMENT_ACTIONS = {"clicked": "click", "opened": "open"}


def flows_triggered(
    flows: Iterable[Flow],
    signal: Signal,
    facts: ContactFacts | None = None,
    now: datetime | None = None,
    *,
    statuses: Mapping[str, str] | None = None,
) -> list[Flow]:
    """The active flows whose trigger matches `signal` and whose `if:` holds, sorted by key.

    A trigger with `if:` matches only when facts and now are given. A flow is active by
    `statuses` (the effective status, an operator's override included) when given, else
    by its YAML status.
    """
    return sorted(
        (
            flow
            for flow in flows
            if (statuses or {}).get(flow.key, flow.settings.status) == "active"
            and trigger_matches(flow.trigger, signal)
            and trigger_condition_holds(flow, facts, now)
        ),
        key=lambda flow: flow.key,
    )


def trigger_condition_holds(flow: Flow, facts: ContactFacts | None, now: datetime | None) -> bool:
    """Whether the trigger's `if:` rule holds (True when there is none)."""
    condition = flow.trigger.condition
    if condition is None:
        return True
    if facts is None or now is None:
        return False
    return evaluate(condition, facts, now)


@singledispatch
def trigger_matches(trigger: Trigger, signal: Signal) -> bool:
    """Whether `trigger` fires for `signal`; one registered matcher per trigger kind."""
    raise TypeError(f"no matcher for trigger kind {type(trigger).__name__}")


@trigger_matches.register
def _contact_created(trigger: ContactCreated, signal: Signal) -> bool:
    return signal.kind == "contact.created"


@trigger_matches.register
def _event(trigger: EventTrigger, signal: Signal) -> bool:
    if signal.kind != "event" or signal.name != trigger.event:
        return False
    return where_matches(trigger.where, signal.properties)


@trigger_matches.register
def _property_changed(trigger: PropertyChanged, signal: Signal) -> bool:
    if signal.kind != "property.changed" or signal.name != trigger.property:
        return False
    old, new = signal.properties.get("from"), signal.properties.get("to")
    if _as_text(old) == _as_text(new):
        return False  # a rewrite of the same value is no change
    return _value_matches(trigger.from_value, old) and _value_matches(trigger.to_value, new)


def _value_matches(expected: Any, actual: Any) -> bool:
    return expected is ANY or _as_text(expected) == _as_text(actual)


def _as_text(value: Any) -> str | None:
    # CRMs send property values as text (HubSpot sends every value as a string), so
    # from/to compare as text: `to: 5` matches "5", `to: true` matches "true"; an empty
    # value and null are both "no value".
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


@trigger_matches.register
def _segment_entered(trigger: SegmentEntered, signal: Signal) -> bool:
    return signal.kind == "segment.entered" and signal.name == trigger.segment


@trigger_matches.register
def _segment_left(trigger: SegmentLeft, signal: Signal) -> bool:
    return signal.kind == "segment.left" and signal.name == trigger.segment


@trigger_matches.register
def _engagement(trigger: EngagementTrigger, signal: Signal) -> bool:
    properties = signal.properties
    if (
        signal.kind != "engagement"
        or properties.get("action") != ENGAGEMENT_ACTIONS[trigger.action]
    ):
        return False
    for name in ("template", "flow", "step", "campaign"):
        wanted = getattr(trigger, name)
        if wanted is not None and properties.get(name) != wanted:
            return False
    if trigger.link is None:
        return True
    url = properties.get("url")
    return isinstance(url, str) and fnmatchcase(url, trigger.link)


@trigger_matches.register
def _scheduled(trigger: DateTrigger | InactivityTrigger, signal: Signal) -> bool:
    return False  # fired by the scheduler at next_fire_time(), never by a signal


def is_scheduled(flow: Flow) -> bool:
    """Whether the flow's trigger is fired by the scheduler (date, inactivity), not by
    signals: the services keep a next_fire_time() per contact for these."""
    return isinstance(flow.trigger, DateTrigger | InactivityTrigger)


def next_fire_time(flow: Flow, facts: ContactFacts, after: datetime) -> datetime | None:
    """The first time strictly after `after` when a date or inactivity trigger fires for
    this contact (UTC), or None (no such time, or another trigger kind).

    `after` is the last time the trigger fired for this contact or, if it never did, when
    the services started scheduling it (the flow going live, the contact appearing). At
    the due time, call again with fresh facts and fire only if the answer is still due:
    an edited date or a new activity moves it.

    date: the property's day (+ offset, in wall-clock terms) at `at` in the contact's
    timezone; yearly: the first anniversary after `after` (the date itself is not an
    anniversary; 29 February falls on the 28th in common years); not yearly and already
    past: None, so nobody gets "your renewal is in 3 days" late.
    inactivity: last_active_at (else created_at) + for, exact elapsed time; None when that
    is not after `after`, i.e. it already fired for this quiet spell, or the contact was
    already quiet when scheduling started (pass an earlier `after` to catch such contacts
    up: the result is then in the past, meaning "due now").
    """
    trigger = flow.trigger
    after = after.astimezone(UTC)
    if isinstance(trigger, InactivityTrigger):
        since = facts.last_active_at or facts.created_at
        if since is None:
            return None
        due = since.astimezone(UTC) + trigger.period
        return due if due > after else None
    if not isinstance(trigger, DateTrigger):
        return None
    value = parse_date_value(facts.properties.get(trigger.property))
    if value is None:
        return None
    tz = zone(facts.timezone)
    day = local_day(value, tz)
    try:
        if not trigger.yearly:
            due = date_target(day, tz, trigger.offset, trigger.at)
            return due if due > after else None
        # Anniversaries whose offset could still land after `after`, oldest first.
        reach = abs(trigger.offset).days // 365 + 2
        first = max(day.year + 1, after.year - reach)
        for year in range(first, min(first + 2 * reach + 2, 10_000)):
            due = date_target(anniversary(day, year), tz, trigger.offset, trigger.at)
            if due > after:
                return due
    except OverflowError:  # dates at the edge of the calendar (year 1 or 9999)
        pass
    return None
