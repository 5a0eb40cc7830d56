"""Run enrollments: apply the pure engine's decisions to the database, one transaction per
enrollment run, journaling each decision (the flow timeline and per-step results).
"""

from __future__ import annotations

import functools
import logging
import secrets
from collections.abc import Collection
from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import Executable, bindparam, select
from sqlalchemy.orm import Session

from connector.db import after_commit
from connector.engine.facts import ContactFacts
from connector.engine.flows import migrate_cursor
from connector.engine.run import (
    CallWebhook,
    Complete,
    CreateTask,
    Decision,
    EnrollmentState,
    Exit,
    Jump,
    Run,
    Send,
    Sleep,
    UpdateProperty,
)
from connector.models import Contact, Enrollment, EnrollmentJournal, Message, WebhookCall
from connector.services.facts import facts_for, load_facts_many
from connector.services.leases import RETRY_FAILED, claim, release, release_after_failure
from connector.services.writeback import queue_writeback

if TYPE_CHECKING:
    from connector.engine.flows import Flow
    from connector.engine.run import Policy
    from connector.runtime import Runtime
    from connector.workspaces import FlowRegistry

log = logging.getLogger(__name__)

# Commits per chunk of enrollments: fewer fsyncs on PostgreSQL; short on SQLite, whose one
# writer at a time would otherwise hold up the web process's inserts.
COMMIT_EVERY = 100
COMMIT_EVERY_SQLITE = 10

def run_now(
    rt: Runtime,
    enrollment_ids: list[int],
    now: datetime,
    *,
    facts: dict[int, ContactFacts] | None = None,
) -> int:
    """Run these enrollments at once (new or woken ones), not at the next tick; `facts`
    are contacts' facts the caller just had (fresh from the transaction that created the
    enrollments), so they are not loaded twice."""
    if not enrollment_ids:
        return 0
    token, ids = claim(rt.db, now, ids=enrollment_ids)
    return run_claimed(rt, ids, token, now, facts=facts)


def run_claimed(
    rt: Runtime,
    enrollment_ids: list[int],
    token: str,
    now: datetime,
    *,
    facts: dict[int, ContactFacts] | None = None,
) -> int:
    """Advance each leased enrollment; one failing enrollment does not stop the batch.

    Enrollments are applied in chunks, one transaction (one commit) per chunk and a
    savepoint per enrollment: a failure rolls back only that enrollment, which is released
    to run again shortly. A chunk whose transaction fails (the database connection
    dropped) releases its leases in a new transaction: nothing waits for a lease to expire.
    """
    sends = 0
    size = COMMIT_EVERY_SQLITE if rt.db.is_sqlite else COMMIT_EVERY
    for start in range(0, len(enrollment_ids), size):
        chunk = enrollment_ids[start : start + size]
        try:
            sends += _run_chunk(rt, chunk, token, now, dict(facts or {}))
        except Exception:
            log.exception("a chunk of %d enrollment(s) failed; releasing them", len(chunk))
            release_after_failure(rt.db, chunk, token, now)
    return sends


def _run_chunk(
    rt: Runtime, chunk: list[int], token: str, now: datetime, known: dict[int, ContactFacts]
) -> int:
    sends = 0
    with rt.db.session() as session:
        facts = known | _chunk_facts(session, rt, chunk, now, skip=known.keys())
        failed = []
        for enrollment_id in chunk:
            try:
                with session.begin_nested():
                    sends += _advance(session, rt, enrollment_id, token, now, facts)
            except Exception:
                log.exception("enrollment %s failed to advance", enrollment_id)
                facts.clear()  # its changes are rolled back: read afresh
                failed.append(enrollment_id)
        if failed:
            release(session, failed, token, retry_at=now + RETRY_FAILED)
    return sends


def _chunk_facts(
    session: Session,
    rt: Runtime,
    enrollment_ids: list[int],
    now: datetime,
    *,
    skip: Collection[int] = (),
) -> dict[int, ContactFacts]:
    """The contacts of a chunk (but those in `skip`), and their facts, in one query per
    kind of fact (per account: each account's rules say how much history they need)."""
    contacts = [
        contact
        for contact in session.scalars(
            select(Contact)
            .join(Enrollment, Enrollment.contact_id == Contact.id)
            .where(Enrollment.id.in_(enrollment_ids))
        )
        .unique()
        .all()
        if contact.id not in skip
    ]
    by_account: dict[int, list[Contact]] = {}
    for contact in contacts:
        by_account.setdefault(contact.account_id, []).append(contact)
    facts: dict[int, ContactFacts] = {}
    for account_id, members in by_account.items():
        workspace = rt.workspaces.live(session, account_id).workspace
        facts |= load_facts_many(
            session,
            members,
            now,
            history=workspace.history,
            transactional_flows=workspace.transactional_keys,
        )
    return facts


def _advance(
    session: Session,
    rt: Runtime,
    enrollment_id: int,
    token: str,
    now: datetime,
    cache: dict[int, ContactFacts],
) -> int:
    """Run one leased enrollment; `cache` holds the chunk's facts, kept current (a second
    enrollment of the same contact sees the first one's sends)."""
    enrollment = session.get(Enrollment, enrollment_id, with_for_update=True)
    if enrollment is None or enrollment.lease_owner != token or enrollment.state != "active":
        return 0
    try:
        flows = rt.workspaces.live(session, enrollment.account_id).flows
        flow = _current_version(session, flows, enrollment, now)
        status = flows.statuses(session).get(flow.key, "archived")
        if status != "active":
            _hold_or_archive(session, enrollment, status, now)
            return 0
        contact = session.get_one(Contact, enrollment.contact_id)
        facts = cache.get(contact.id) or facts_for(rt, session, contact, now)
        sends, cache[contact.id] = _run(session, rt, flow, enrollment, contact, facts, now)
        return sends
    finally:
        # Released with the run's own changes: one UPDATE of the row, not two.
        enrollment.lease_owner, enrollment.lease_until = None, None


def _run(
    session: Session,
    rt: Runtime,
    flow: Flow,
    enrollment: Enrollment,
    contact: Contact,
    facts: ContactFacts,
    now: datetime,
) -> tuple[int, ContactFacts]:
    """Apply the engine's run of this enrollment: the engine decides (and stops a loop
    without a wait), this journals each decision and does its I/O."""
    sends = 0
    state = EnrollmentState(
        cursor=enrollment.cursor,
        entered_at=enrollment.entered_at,
        step_started_at=enrollment.step_started_at,
        context=enrollment.context,
    )
    run = Run(flow, state, facts, now, _policy(session, rt, enrollment))
    for decision in run:
        _journal(session, enrollment, decision, now)
        if isinstance(decision, Sleep):
            if decision.next_cursor != enrollment.cursor:
                enrollment.step_started_at = None  # the next step begins when the wait ends
            else:
                enrollment.step_started_at = enrollment.step_started_at or now
            enrollment.cursor = decision.next_cursor
            enrollment.next_run_at = decision.until
            enrollment.waiting_for = decision.waiting_for
            break
        if isinstance(decision, Exit | Complete):
            enrollment.state = "completed" if isinstance(decision, Complete) else "exited"
            enrollment.exit_reason = decision.reason if isinstance(decision, Exit) else None
            enrollment.finished_at = now
            enrollment.next_run_at = enrollment.waiting_for = None
            break
        if isinstance(decision, Send) and _queue_send(
            session, rt, enrollment, contact, decision, now
        ):
            run.sent()
            sends += 1
        elif isinstance(decision, Send):
            pass  # revisited by a goto: journaled as skipped
        elif isinstance(decision, UpdateProperty):
            contact.properties = {**contact.properties, decision.property: decision.value}
            _crm_write(
                session,
                enrollment,
                decision.step_id,
                "update_property",
                now,
                {"property": decision.property, "value": decision.value},
            )
        elif isinstance(decision, CreateTask):
            _crm_write(
                session,
                enrollment,
                decision.step_id,
                "create_task",
                now,
                {
                    "subject": decision.subject,
                    "body": decision.body or "",
                    "due_seconds": decision.due_in.total_seconds() if decision.due_in else None,
                },
            )
        elif isinstance(decision, CallWebhook):
            _queue_webhook(session, rt, enrollment, contact, flow, decision, now)
        elif not isinstance(decision, Jump):
            raise TypeError(f"unknown decision {decision!r}")
        enrollment.cursor = decision.next_cursor
        enrollment.step_started_at = now
        enrollment.waiting_for = None
    return sends, run.facts


def _policy(session: Session, rt: Runtime, enrollment: Enrollment) -> Policy:
    return rt.workspaces.profile(session, enrollment.account_id).policy


def _current_version(
    session: Session, flows: FlowRegistry, enrollment: Enrollment, now: datetime
) -> Flow:
    """A running enrollment keeps the version it started on, unless its current step
    maps by id into the newest version: then it moves there (lazily, when it next runs)."""
    flow = flows.by_version(session, enrollment.flow_version_id)
    if flows.get(flow.key) is None or flows.version_id(flow.key) == enrollment.flow_version_id:
        return flow
    newest_id = flows.version_id(flow.key)
    newest = flows.by_version(session, newest_id)
    cursor = migrate_cursor(flow, newest, enrollment.cursor)
    if cursor is None:
        return flow
    _journal_row(
        session, enrollment, None, "migrate", now, {"from": flow.version, "to": newest.version}
    )
    enrollment.flow_version_id, enrollment.cursor = newest_id, cursor
    return newest


def _hold_or_archive(session: Session, enrollment: Enrollment, status: str, now: datetime) -> None:
    if status == "paused":
        # Waiting contacts hold: off the due index until the flow is resumed.
        enrollment.next_run_at = None
        _journal_row(session, enrollment, None, "hold", now, {"reason": "flow paused"})
    else:
        enrollment.state, enrollment.exit_reason, enrollment.finished_at = (
            "exited",
            "flow archived",
            now,
        )
        enrollment.next_run_at = None
        _journal_row(session, enrollment, None, "exit", now, {"reason": "flow archived"})


def _journal(session: Session, enrollment: Enrollment, decision: Decision, now: datetime) -> None:
    action, detail = _describe(decision)
    step_id = getattr(decision, "step_id", None)
    _journal_row(session, enrollment, step_id, action, now, detail)


def _journal_row(
    session: Session,
    enrollment: Enrollment,
    step_id: str | None,
    action: str,
    now: datetime,
    detail: dict[str, object],
) -> None:
    session.add(
        EnrollmentJournal(
            account_id=enrollment.account_id,
            enrollment_id=enrollment.id,
            flow_key=enrollment.flow_key,
            step_id=step_id,
            action=action,
            at=now,
            detail=detail,
        )
    )


def _describe(decision: Decision) -> tuple[str, dict[str, object]]:
    if isinstance(decision, Send):
        return "send", {"template": decision.template}
    if isinstance(decision, Sleep):
        return "wait", {
            "until": decision.until.isoformat(),
            "reason": decision.reason,
            **({"waiting_for": decision.waiting_for} if decision.waiting_for else {}),
        }
    if isinstance(decision, Jump):
        return "jump", {"reason": decision.reason, "to": decision.next_cursor}
    if isinstance(decision, Exit):
        return "exit", {"reason": decision.reason}
    if isinstance(decision, Complete):
        return "complete", {}
    if isinstance(decision, UpdateProperty):
        return "update_property", {"property": decision.property, "value": decision.value}
    if isinstance(decision, CreateTask):
        return "create_task", {"subject": decision.subject}
    if isinstance(decision, CallWebhook):
        return "webhook", {"url": decision.url}
    return type(decision).__name__.lower(), {}


def _queue_send(
    session: Session,
    rt: Runtime,
    enrollment: Enrollment,
    contact: Contact,
    send: Send,
    now: datetime,
) -> bool:
    # The ledger row is the promise to send at most once for (enrollment, step): a goto
    # that comes back to a send step does not send it again.
    if _already(session, Message, enrollment, send.step_id):
        _journal_row(
            session,
            enrollment,
            send.step_id,
            "skip",
            now,
            {"reason": "already sent in this enrollment"},
        )
        return False
    message = Message(
        account_id=enrollment.account_id,
        contact_id=contact.id,
        enrollment_id=enrollment.id,
        step_id=send.step_id,
        flow_key=enrollment.flow_key,
        template=send.template,
        subject_override=send.subject,
        sender_override=send.sender,
        public_id=secrets.token_hex(16),
        status="pending",
        to_email=contact.email or "",
        created_at=now,
    )
    session.add(message)
    session.flush()
    message_id = message.id
    after_commit(session, lambda: rt.work.deliver_message(message_id))
    return True


def _already(
    session: Session, model: type[Message] | type[WebhookCall], enrollment: Enrollment, step_id: str
) -> bool:
    found = session.scalar(_one_per_step(model), {"enrollment": enrollment.id, "step": step_id})
    return found is not None


@functools.cache
def _one_per_step(model: type[Message] | type[WebhookCall]) -> Executable:
    """Built once per model (run for every send and webhook step)."""
    return select(model.id).where(
        model.enrollment_id == bindparam("enrollment"), model.step_id == bindparam("step")
    )


def _crm_write(
    session: Session,
    enrollment: Enrollment,
    step_id: str,
    kind: str,
    now: datetime,
    payload: dict[str, object],
) -> None:
    queue_writeback(
        session,
        account_id=enrollment.account_id,
        contact_id=enrollment.contact_id,
        kind=kind,
        dedup_key=f"{kind}:{enrollment.id}:{step_id}",
        payload=payload,
        now=now,
    )


def _queue_webhook(
    session: Session,
    rt: Runtime,
    enrollment: Enrollment,
    contact: Contact,
    flow: Flow,
    call: CallWebhook,
    now: datetime,
) -> None:
    if _already(session, WebhookCall, enrollment, call.step_id):
        _journal_row(
            session,
            enrollment,
            call.step_id,
            "skip",
            now,
            {"reason": "already called in this enrollment"},
        )
        return
    payload = {
        "flow": flow.key,
        "step": call.step_id,
        "enrollment": enrollment.id,
        "contact": {
            "email": contact.email,
            "crm_id": contact.crm_id,
            "properties": contact.properties,
        },
        "event": enrollment.context.get("event"),
        "body": dict(call.body),
        "occurred_at": now.isoformat(),
    }
    row = WebhookCall(
        account_id=enrollment.account_id,
        enrollment_id=enrollment.id,
        step_id=call.step_id,
        url=call.url,
        payload=payload,
        status="pending",
        next_attempt_at=now,
        created_at=now,
    )
    session.add(row)
    session.flush()
    row_id = row.id
    after_commit(session, lambda: rt.work.call_webhook(row_id))
