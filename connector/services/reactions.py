"""React to a change in what we know about a contact: segment membership, triggers,
enrollments, early wake-ups of waiting enrollments, time-based trigger schedules.

Every entry point (a behaviour event, a CRM webhook, an open or click, a scheduled trigger,
a segment recheck) ends here, so a contact is handled the same way whatever changed.
All work for the contact happens in the caller's transaction; the enrollments it creates
are returned so the caller can run their first step right after commit.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Sequence
from dataclasses import replace
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import Executable, bindparam, delete, or_, select, update
from sqlalchemy.orm import Session

from connector.engine.entry import Signal, entry_key, flows_triggered, may_reenter, next_fire_time
from connector.engine.facts import ContactFacts
from connector.engine.flows import Flow
from connector.engine.segments import evaluate_all
from connector.models import Contact, Enrollment, ScheduledTrigger, SegmentMembership

if TYPE_CHECKING:
    from connector.runtime import Runtime
    from connector.workspaces import FlowRegistry, Live


def react(
    rt: Runtime,
    session: Session,
    contact: Contact,
    facts: ContactFacts,
    signals: Sequence[Signal],
    now: datetime,
    *,
    inbox_event_id: int | None = None,
    context: dict[str, Any] | None = None,
    remember: dict[int, ContactFacts] | None = None,
    start_flows: bool = True,
) -> list[int]:
    """Apply `signals` (plus the segment changes they cause).

    Returns the enrollments to run now: the new ones and the waiting ones just woken.
    `remember` receives the contact's facts as they are afterwards, so running those
    enrollments right after the commit need not load them again. `start_flows=False`
    (a CRM backfill) updates segments and time-trigger schedules only.
    """
    live = rt.workspaces.live(session, contact.account_id)
    facts, segment_signals = update_segments(live, session, contact, facts, now)
    statuses = live.flows.statuses(session)
    flows = live.flows.runnable(session)
    if not start_flows:
        schedule_time_triggers(session, contact, flows, facts, now)
        if remember is not None:
            remember[contact.id] = facts
        return []
    new: list[int] = []
    for signal in [*signals, *segment_signals]:
        for flow in flows_triggered(flows, signal, facts, now, statuses=statuses):
            # Without an inbox event (a segment change, an open or click), the moment it
            # fired tells re-entries apart.
            enrollment = enroll(
                session,
                live.flows,
                flow,
                contact,
                now,
                key=entry_key(flow, signal, inbox_event_id, fired_at=now),
                context=context if signal.kind == "event" else {},
                inbox_event_id=inbox_event_id,
            )
            if enrollment is not None:
                new.append(enrollment.id)
    woken = wake_waiting(session, contact, [*signals, *segment_signals], now)
    schedule_time_triggers(session, contact, flows, facts, now)
    if remember is not None:
        remember[contact.id] = facts
    return [*new, *woken]


def update_segments(
    live: Live, session: Session, contact: Contact, facts: ContactFacts, now: datetime
) -> tuple[ContactFacts, list[Signal]]:
    """Re-evaluate every segment of the contact's account; store entered/left and recheck
    times."""
    segments = live.workspace.segments
    if not segments:
        return facts, []
    rows = {
        row.segment_key: row
        for row in session.scalars(
            select(SegmentMembership).where(
                SegmentMembership.account_id == contact.account_id,
                SegmentMembership.contact_id == contact.id,
            )
        )
    }
    results = evaluate_all(segments, facts, now)
    signals: list[Signal] = []
    for key, (member, recheck) in results.items():
        row = rows.get(key)
        was_member = row is not None and row.left_at is None
        if member and not was_member:
            if row is None:
                row = SegmentMembership(
                    account_id=contact.account_id,
                    contact_id=contact.id,
                    segment_key=key,
                    entered_at=now,
                )
                session.add(row)
            row.entered_at, row.left_at = now, None
            signals.append(Signal(kind="segment.entered", name=key))
        elif was_member and not member and row is not None:
            row.left_at = now
            signals.append(Signal(kind="segment.left", name=key))
        if row is not None:
            row.recheck_at = recheck
        elif recheck is not None:
            # Not a member, but time alone could make it one: remember when to look again.
            session.add(
                SegmentMembership(
                    account_id=contact.account_id,
                    contact_id=contact.id,
                    segment_key=key,
                    entered_at=now,
                    left_at=now,
                    recheck_at=recheck,
                )
            )
    for key, row in rows.items():
        if key not in results:  # a segment that no longer exists: leave it, stop rechecking
            row.recheck_at = None
            row.left_at = row.left_at or now
    members = frozenset(key for key, (member, _) in results.items() if member)
    return replace(facts, segments=members), signals


def enroll(
    session: Session,
    flows: FlowRegistry,
    flow: Flow,
    contact: Contact,
    now: datetime,
    *,
    key: str,
    context: dict[str, Any] | None,
    inbox_event_id: int | None,
) -> Enrollment | None:
    """Create the enrollment unless this entry key exists or the cooldown forbids it."""
    previous = session.execute(
        _previous_entries(),
        {"account": contact.account_id, "contact": contact.id, "flow": flow.key},
    ).all()
    if any(entry == key for entry, _ in previous):
        return None
    if not may_reenter(flow, previous[0][1] if previous else None, now):
        return None
    enrollment = Enrollment(
        account_id=contact.account_id,
        contact_id=contact.id,
        flow_key=flow.key,
        flow_version_id=flows.version_id(flow.key),
        entry_key=key,
        state="active",
        cursor=0,
        next_run_at=now,
        context=dict(context or {}),
        inbox_event_id=inbox_event_id,
        entered_at=now,
    )
    session.add(enrollment)
    session.flush()
    return enrollment


@functools.cache
def _previous_entries() -> Executable:
    """Built once (run for every flow a signal triggers): a contact's entries into a flow,
    newest first."""
    return (
        select(Enrollment.entry_key, Enrollment.entered_at)
        .where(
            Enrollment.account_id == bindparam("account"),
            Enrollment.contact_id == bindparam("contact"),
            Enrollment.flow_key == bindparam("flow"),
        )
        .order_by(Enrollment.entered_at.desc())
    )


def wake_waiting(
    session: Session, contact: Contact, signals: Iterable[Signal], now: datetime
) -> list[int]:
    """Enrollments waiting for what just happened run now instead of at their timeout."""
    keys = {f"event:{s.name}" for s in signals if s.kind == "event"}
    keys |= {f"segment:{s.name}" for s in signals if s.kind == "segment.entered"}
    if not keys:
        return []
    return list(
        session.scalars(
            update(Enrollment)
            .where(
                Enrollment.account_id == contact.account_id,
                Enrollment.contact_id == contact.id,
                Enrollment.state == "active",
                Enrollment.waiting_for.in_(keys),
                or_(Enrollment.next_run_at.is_(None), Enrollment.next_run_at > now),
            )
            .values(next_run_at=now)
            .returning(Enrollment.id)
            .execution_options(synchronize_session=False)
        )
    )


def schedule_time_triggers(
    session: Session,
    contact: Contact,
    flows: Sequence[Flow],
    facts: ContactFacts,
    now: datetime,
) -> None:
    """Keep one row per (contact, date/inactivity flow) with its next fire time."""
    for flow in flows:
        if flow.trigger.kind not in ("date", "inactivity"):
            continue
        fire_at = next_fire_time(flow, facts, _schedule_from(flow, facts, now))
        where = (
            ScheduledTrigger.account_id == contact.account_id,
            ScheduledTrigger.contact_id == contact.id,
            ScheduledTrigger.flow_key == flow.key,
        )
        row = session.scalar(select(ScheduledTrigger).where(*where))
        if fire_at is None:
            if row is not None:
                session.execute(delete(ScheduledTrigger).where(*where))
        elif row is None:
            session.add(
                ScheduledTrigger(
                    account_id=contact.account_id,
                    contact_id=contact.id,
                    flow_key=flow.key,
                    fire_at=fire_at,
                )
            )
        else:
            row.fire_at = fire_at


def _schedule_from(flow: Flow, facts: ContactFacts, now: datetime) -> datetime:
    """Date triggers look forward from now (no past birthdays); inactivity looks from the
    last activity, so a contact already quiet when the flow goes live enters at once
    (its entry key, the fire time, keeps repeated scheduling from enrolling it twice)."""
    if flow.trigger.kind != "inactivity":
        return now
    anchor = facts.last_active_at or facts.created_at or now
    return min(anchor, now) - timedelta(microseconds=1)
