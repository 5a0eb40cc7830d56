"""The events worker: turn one stored inbox event into contact, history and flow changes."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from connector.email.merge import event_context
from connector.engine.entry import Signal
from connector.engine.facts import ContactFacts
from connector.models import Contact, ContactEvent, InboxEvent
from connector.services.contacts import join_lists, upsert_contact
from connector.services.crm_events import KINDS as CRM_KINDS
from connector.services.crm_events import NotYet, apply_crm_event
from connector.services.crm_fetch import MAX_RETRY_AFTER, NOTHING, Fetched, fetch_records
from connector.services.enrollments import run_now
from connector.services.facts import facts_for
from connector.services.reactions import react

if TYPE_CHECKING:
    from connector.runtime import Runtime

log = logging.getLogger(__name__)

# An inbox event of this kind only updates the contact mirror (CRM syncs, identify calls).
CONTACT_UPDATE = "contact.updated"


@dataclass(frozen=True)
class Processed:
    contact_id: int
    contact_created: bool
    enrollment_ids: list[int]  # new or woken, run right away
    facts: ContactFacts  # the contact's, after the event: what running them starts from


def process_inbox_event(rt: Runtime, inbox_event_id: int) -> Processed | None:
    """Idempotent: a processed event is skipped, and entry keys make a re-run a no-op."""
    with rt.db.session() as session:
        peek = session.get(InboxEvent, inbox_event_id)
        if peek is None or peek.processed_at is not None:
            return None
        session.expunge(peek)
    fetched = fetch_records(rt, [peek])  # no transaction open while the CRM answers
    now = rt.clock.now()
    with rt.db.session() as session:
        event = session.get(InboxEvent, inbox_event_id, with_for_update=True)
        if event is None or event.processed_at is not None:
            return None
        try:
            result = apply_event(rt, session, event, now, fetched)
        except NotYet:
            return None  # the sweep brings it back
    # The first step runs now (a welcome within a minute), not at the next tick.
    if result is not None:
        run_now(rt, result.enrollment_ids, now, facts={result.contact_id: result.facts})
    return result


def apply_event(rt: Runtime, session: Session, event: InboxEvent, now: datetime,
                fetched: Fetched = NOTHING) -> Processed | None:
    """The contact, history and flow changes of one event, in the caller's transaction;
    marks it processed. The enrollments to run are returned, to run after the commit.
    A CRM event may have nothing to react to (None); one whose CRM record could not be
    read raises NotYet and stays unprocessed."""
    if event.kind in CRM_KINDS:
        change = apply_crm_event(session, event, fetched, now)
        event.processed_at = now
        if change is None:
            return None
        session.flush()
        return _react(rt, session, event, change.contact, change.signals, {}, False, now,
                      start_flows=change.start_flows)
    payload = event.payload
    contact_in = payload["contact"]
    upsert = upsert_contact(
        session,
        event.account_id,
        email=contact_in.get("email"),
        crm_id=contact_in.get("crm_id"),
        properties=contact_in.get("properties") or {},
        timezone=contact_in.get("timezone"),
        now=now,
    )
    contact = upsert.contact
    join_lists(session, contact, contact_in.get("lists") or [], now)
    signals = [Signal(kind="contact.created")] if upsert.created else []
    signals += [
        Signal(kind="property.changed", name=name, properties={"from": old, "to": new})
        for name, (old, new) in upsert.changes.items()
    ]
    context: dict[str, Any] = {}
    if event.kind != CONTACT_UPDATE:
        properties = payload.get("properties") or {}
        session.add(
            ContactEvent(
                account_id=event.account_id,
                contact_id=contact.id,
                name=event.kind,
                occurred_at=event.occurred_at,
                properties=properties,
                inbox_event_id=event.id,
            )
        )
        if contact.last_active_at is None or contact.last_active_at < event.occurred_at:
            contact.last_active_at = event.occurred_at
        signals.append(Signal(kind="event", name=event.kind, properties=properties))
        # `at` lets a flow wait relative to the event ("a year after the purchase").
        context = {"event": event_context(event.kind, properties, event.occurred_at)}
    event.processed_at = now
    session.flush()
    return _react(rt, session, event, contact, signals, context, upsert.created, now)


def _react(rt: Runtime, session: Session, event: InboxEvent, contact: Contact,
           signals: list[Signal], context: dict[str, Any], created: bool, now: datetime,
           *, start_flows: bool = True) -> Processed:
    facts = facts_for(rt, session, contact, now)
    remembered: dict[int, ContactFacts] = {}
    to_run = react(
        rt, session, contact, facts, signals, now, inbox_event_id=event.id, context=context,
        remember=remembered, start_flows=start_flows,
    )
    return Processed(contact.id, created, to_run, remembered[contact.id])


BATCH = 200
# Events per transaction: fewer commits on PostgreSQL; short on SQLite, whose one writer at
# a time would otherwise hold up the web process's inserts.
CHUNK = 50
CHUNK_SQLITE = 10
# CRM events whose records are read together (HubSpot's batch read takes 100).
FETCH_WINDOW = 100


def process_pending(rt: Runtime, *, limit: int = BATCH) -> int:
    """Process every unprocessed inbox event, oldest first, until none is left.

    Chunks are claimed with FOR UPDATE SKIP LOCKED and processed in one transaction (a
    savepoint per event): two workers on the inbox take disjoint chunks instead of
    walking the same rows in lock-step. A failing event rolls back alone and is kept for
    the scheduler's sweep; this run walks past it (by id), never in circles.

    The CRM records CRM events need are read before a chunk's transaction opens, for a
    window of up to FETCH_WINDOW of them at once (one batch read per account).
    """
    rt.work.inbox_batch_started()  # before looking: see Queues.wake
    size = min(limit, CHUNK_SQLITE if rt.db.is_sqlite else CHUNK)
    done, after = 0, 0
    fetched, fresh = NOTHING, False
    wait: float | None = None  # a CRM could not be read: run again this much later
    while True:
        if not fresh:
            fetched, fresh = fetch_records(rt, _peek(rt, after, FETCH_WINDOW)), True
            if fetched.retry_after is not None:
                wait = max(wait or 0.0, fetched.retry_after)
        now = rt.clock.now()
        to_run: list[int] = []
        facts: dict[int, ContactFacts] = {}
        with rt.db.session() as session:
            events = session.scalars(
                select(InboxEvent)
                .where(InboxEvent.processed_at.is_(None), InboxEvent.id > after)
                .order_by(InboxEvent.id)
                .limit(size)
                .with_for_update(skip_locked=True)
            ).all()
            if not events:
                break
            uncovered = next((i for i, e in enumerate(events)
                              if e.kind in CRM_KINDS and e.id not in fetched.events), None)
            if uncovered is not None and (uncovered > 0 or not fetched.just_read):
                # Committed after the window was read: the next turn reads for it.
                events, fresh = events[:uncovered], False
            for event in events:
                try:
                    with session.begin_nested():
                        result = apply_event(rt, session, event, now, fetched)
                    done += 1
                    if result is not None:
                        to_run += result.enrollment_ids
                        # A contact's later event in the chunk supersedes its earlier facts.
                        facts[result.contact_id] = result.facts
                except NotYet:
                    pass  # its CRM could not be read: the sweep brings it back
                except Exception:
                    log.exception("inbox event %s failed; kept for the sweep", event.id)
        fetched.just_read = False
        if events:
            after = events[-1].id
            run_now(rt, to_run, now, facts=facts)
    if wait is not None:
        rt.work.retry_inbox_in(min(wait, MAX_RETRY_AFTER))
    return done


def _peek(rt: Runtime, after: int, size: int) -> list[InboxEvent]:
    """The next CRM events, read without locking: their CRM records are fetched before
    a chunk's transaction opens."""
    with rt.db.session() as session:
        events = session.scalars(
            select(InboxEvent)
            .where(InboxEvent.processed_at.is_(None), InboxEvent.id > after,
                   InboxEvent.kind.in_(CRM_KINDS))
            .order_by(InboxEvent.id)
            .limit(size)
        ).all()
        session.expunge_all()
    return list(events)
