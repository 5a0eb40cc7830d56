"""Time-driven work found by indexed queries, never by scanning contacts: date and
inactivity triggers that are due, and segment memberships that time alone may change."""

from __future__ import annotations

from typing import TYPE_CHECKING

from sqlalchemy import select

from connector.engine.entry import entry_key, next_fire_time, trigger_condition_holds
from connector.models import Contact, ScheduledTrigger, SegmentMembership
from connector.services.enrollments import run_now
from connector.services.facts import facts_for
from connector.services.reactions import enroll, react

if TYPE_CHECKING:
    from datetime import datetime

    from sqlalchemy.orm import Session

    from connector.runtime import Runtime
    from connector.workspaces import Live


def fire_due_triggers(rt: Runtime, now: datetime, *, limit: int = 500) -> int:
    """Enroll contacts whose date or inactivity trigger is due; schedule the next firing."""
    to_run: list[int] = []
    fired = 0
    with rt.db.session() as session:
        accounts = session.scalars(
            select(ScheduledTrigger.account_id).where(ScheduledTrigger.fire_at <= now).distinct()
        ).all()
        for account_id in accounts:
            if fired >= limit:
                break
            live = rt.workspaces.live(session, account_id)
            fired += _fire_account(rt, session, live, now, limit - fired, to_run)
    run_now(rt, to_run, now)
    return fired


def _fire_account(
    rt: Runtime, session: Session, live: Live, now: datetime, limit: int, to_run: list[int]
) -> int:
    # Only running flows' triggers are picked up: a paused flow's wait and fire (late)
    # on resume; archiving deletes them (flow_status.py).
    flows = {flow.key: flow for flow in live.flows.runnable(session)}
    rows = session.scalars(
        select(ScheduledTrigger)
        .where(
            ScheduledTrigger.account_id == live.account_id,
            ScheduledTrigger.fire_at <= now,
            ScheduledTrigger.flow_key.in_(flows),
        )
        .order_by(ScheduledTrigger.fire_at)
        .limit(limit)
        .with_for_update(skip_locked=True)
    ).all()
    for row in rows:
        flow = flows[row.flow_key]
        contact = session.get(Contact, row.contact_id)
        if contact is None:
            session.delete(row)
            continue
        facts = facts_for(rt, session, contact, now)
        if trigger_condition_holds(flow, facts, now):
            enrollment = enroll(
                session,
                live.flows,
                flow,
                contact,
                now,
                key=entry_key(flow, None, None, fired_at=row.fire_at),
                context={},
                inbox_event_id=None,
            )
            if enrollment is not None:
                to_run.append(enrollment.id)
        following = next_fire_time(flow, facts, row.fire_at)
        if following is None:
            session.delete(row)
        else:
            row.fire_at = following
    return len(rows)


def recheck_segments(rt: Runtime, now: datetime, *, limit: int = 500) -> int:
    """Re-evaluate contacts whose segment membership may have changed with time."""
    to_run: list[int] = []
    with rt.db.session() as session:
        contact_ids = session.scalars(
            select(SegmentMembership.contact_id)
            .where(SegmentMembership.recheck_at <= now)
            .distinct()
            .limit(limit)
        ).all()
        for contact in session.scalars(select(Contact).where(Contact.id.in_(contact_ids))):
            facts = facts_for(rt, session, contact, now)
            to_run += react(rt, session, contact, facts, [], now)
    run_now(rt, to_run, now)
    return len(contact_ids)


def refresh_contacts(
    rt: Runtime, now: datetime, *, after_id: int = 0, limit: int = 200
) -> list[int]:
    """Re-evaluate segments and time-trigger schedules for the page of contacts after
    `after_id` (after adding a segment, or a date or inactivity flow); returns their ids."""
    to_run: list[int] = []
    with rt.db.session() as session:
        contacts = session.scalars(
            select(Contact).where(Contact.id > after_id).order_by(Contact.id).limit(limit)
        ).all()
        for contact in contacts:
            to_run += react(rt, session, contact, facts_for(rt, session, contact, now), [], now)
        ids = [contact.id for contact in contacts]
    run_now(rt, to_run, now)
    return ids
