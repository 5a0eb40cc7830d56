"""From inbox events to enrollments, and from due enrollments to sends.

The decisions come from the pure engine (`connector.engine`); this module only loads the
rows it needs, applies each decision in one transaction and enqueues sends after commit.
"""

from __future__ import annotations

import logging
import secrets
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from connector.db import after_commit
from connector.engine import Complete, Exit, Send, Signal, Sleep, decide, flows_triggered
from connector.models import Contact, Enrollment, InboxEvent, Message
from connector.services.contacts import contact_facts, upsert_contact
from connector.services.leases import claim

if TYPE_CHECKING:
    from connector.engine import Flow
    from connector.runtime import Runtime

log = logging.getLogger(__name__)

# A flow of only sends (no wait) still stops here; the scheduler resumes it next tick.
MAX_DECISIONS_PER_RUN = 50


@dataclass(frozen=True)
class Processed:
    contact_id: int
    contact_created: bool
    enrollment_ids: list[int]


def process_inbox_event(rt: Runtime, inbox_event_id: int) -> Processed | None:
    """Normalize one stored event: contact mirror, trigger matching, new enrollments.

    Idempotent: a processed event is skipped, and enrollment keys make a second run a no-op.
    """
    now = rt.clock.now()
    with rt.db.session() as session:
        event = session.get(InboxEvent, inbox_event_id, with_for_update=True)
        if event is None or event.processed_at is not None:
            return None
        payload = event.payload
        contact_in = payload["contact"]
        contact, created = upsert_contact(
            session,
            event.account_id,
            email=contact_in.get("email"),
            crm_id=contact_in.get("crm_id"),
            properties=contact_in.get("properties") or {},
            timezone=contact_in.get("timezone"),
            now=now,
        )
        signals = [Signal(kind="contact.created")] if created else []
        if event.kind != "contact.updated":
            properties = payload.get("properties") or {}
            signals.append(Signal(kind="event", name=event.kind, properties=properties))
        enrollments = [
            _enroll(session, rt, flow, contact, event, now)
            for signal in signals
            for flow in flows_triggered(rt.flows.active(), signal)
        ]
        event.processed_at = now
        session.flush()
        result = Processed(contact.id, created, [e.id for e in enrollments if e is not None])
    if result.enrollment_ids:
        # The first step runs now (a welcome within a minute), not at the next tick.
        token, ids = claim(rt.db, now, ids=result.enrollment_ids)
        run_claimed(rt, ids, token, now)
    return result


def _enroll(
    session: Session, rt: Runtime, flow: Flow, contact: Contact, event: InboxEvent, now: datetime
) -> Enrollment | None:
    entry_key = "once" if flow.settings.reentry == "once" else f"event:{event.id}"
    exists = session.scalar(
        select(Enrollment.id).where(
            Enrollment.account_id == contact.account_id,
            Enrollment.contact_id == contact.id,
            Enrollment.flow_key == flow.key,
            Enrollment.entry_key == entry_key,
        )
    )
    if exists is not None:
        return None
    context: dict[str, Any] = {}
    if event.kind != "contact.updated":
        context["event"] = {"name": event.kind, **(event.payload.get("properties") or {})}
    enrollment = Enrollment(
        account_id=contact.account_id,
        contact_id=contact.id,
        flow_key=flow.key,
        flow_version_id=rt.flows.version_id(flow.key),
        entry_key=entry_key,
        state="active",
        cursor=0,
        next_run_at=now,
        context=context,
        inbox_event_id=event.id,
        entered_at=now,
    )
    session.add(enrollment)
    session.flush()
    return enrollment


def run_claimed(rt: Runtime, enrollment_ids: list[int], token: str, now: datetime) -> int:
    """Advance each leased enrollment; one failing enrollment does not stop the batch."""
    advanced = 0
    for enrollment_id in enrollment_ids:
        try:
            advanced += advance(rt, enrollment_id, token, now)
        except Exception:
            # The lease expires and the scheduler retries it; the batch goes on.
            log.exception("enrollment %s failed to advance", enrollment_id)
    return advanced


def advance(rt: Runtime, enrollment_id: int, token: str, now: datetime) -> int:
    """Apply engine decisions until the enrollment sleeps or ends; returns sends queued."""
    sends = 0
    with rt.db.session() as session:
        enrollment = session.get(Enrollment, enrollment_id, with_for_update=True)
        if enrollment is None or enrollment.lease_owner != token or enrollment.state != "active":
            return 0
        flow = rt.flows.by_version(session, enrollment.flow_version_id)
        contact = session.get_one(Contact, enrollment.contact_id)
        facts = contact_facts(session, contact)
        for _ in range(MAX_DECISIONS_PER_RUN):
            decision = decide(flow, enrollment.cursor, facts, now)
            if isinstance(decision, Send):
                _queue_send(session, rt, enrollment, contact, decision, now)
                enrollment.cursor = decision.next_cursor
                sends += 1
                continue
            if isinstance(decision, Sleep):
                enrollment.cursor = decision.next_cursor
                enrollment.next_run_at = decision.until
            elif isinstance(decision, Exit | Complete):
                enrollment.state = "completed" if isinstance(decision, Complete) else "exited"
                enrollment.exit_reason = decision.reason if isinstance(decision, Exit) else None
                enrollment.finished_at = now
                enrollment.next_run_at = None
            break
        else:
            enrollment.next_run_at = now
        enrollment.lease_owner = None
        enrollment.lease_until = None
    return sends


def _queue_send(
    session: Session,
    rt: Runtime,
    enrollment: Enrollment,
    contact: Contact,
    send: Send,
    now: datetime,
) -> None:
    # The ledger row is the promise to send at most once for (enrollment, step).
    message = Message(
        account_id=enrollment.account_id,
        contact_id=contact.id,
        enrollment_id=enrollment.id,
        step_id=send.step_id,
        flow_key=enrollment.flow_key,
        template=send.template,
        subject_override=send.subject,
        public_id=secrets.token_hex(16),
        status="pending",
        to_email=contact.email or "",
        created_at=now,
    )
    session.add(message)
    session.flush()
    from connector import jobs

    message_id = message.id
    after_commit(session, lambda: rt.queues.enqueue("send", jobs.deliver_message, message_id))
