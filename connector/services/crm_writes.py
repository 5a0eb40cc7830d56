"""From outbox rows to the port's inputs: what each queued write-back asks of the CRM.

- email_sent / email_failed / bounced -> an email activity on the contact's timeline,
  naming the campaign that sent it (a bounce of an email already written updates that
  record);
- email_opened / email_clicked -> the contact's engagement summary as of now (counts and
  last times computed here, so a retry or a reordering cannot double a count);
- unsubscribed -> an opt-out where the CRM keeps them;
- update_property -> a property update; create_task -> a task for the owner.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from adapters.errors import DisconnectedError, NotSentError, RetryableCRMError
from adapters.port import (
    ActivityKind,
    CRMWriter,
    EmailActivity,
    EngagementSummary,
    OptOut,
    PropertyUpdate,
    Task,
    WriteResult,
)
from connector.models import Contact, CrmWriteback, EngagementEvent, Enrollment, Message

log = logging.getLogger(__name__)

ACTIVITIES: dict[str, ActivityKind] = {
    "email_sent": "email_sent", "email_failed": "email_failed", "bounced": "bounced",
}
ENGAGEMENT = frozenset({"email_opened", "email_clicked"})


@dataclass
class Sent:
    results: list[WriteResult] = field(default_factory=list)
    # Rows whose call was not made (the CRM paused, no slot): writeback id -> seconds
    # until they may be tried again. Their attempt does not count.
    held: dict[int, float] = field(default_factory=dict)


@dataclass
class Writes:
    activities: list[EmailActivity] = field(default_factory=list)
    summaries: list[EngagementSummary] = field(default_factory=list)
    updates: list[PropertyUpdate] = field(default_factory=list)
    tasks: list[Task] = field(default_factory=list)
    opt_outs: list[OptOut] = field(default_factory=list)

    def send(self, crm: CRMWriter) -> Sent:
        """One adapter call per kind of write. A kind whose call fails as a whole (429,
        5xx, a timeout) gets no results: its rows are retried with backoff; one whose call
        was not made at all is held until the CRM may be called again."""
        sent = Sent()
        for inputs, write in (
            (self.activities, lambda: crm.write_activities(activities=self.activities)),
            (self.summaries, lambda: crm.write_engagement(summaries=self.summaries)),
            (self.updates, lambda: crm.update_properties(updates=self.updates)),
            (self.tasks, lambda: crm.create_tasks(tasks=self.tasks)),
            (self.opt_outs, lambda: crm.record_opt_outs(opt_outs=self.opt_outs)),
        ):
            if not inputs:
                continue
            try:
                sent.results += write()
            except DisconnectedError:
                raise
            except NotSentError as exc:
                log.info("CRM write of %d input(s) held, not sent: %s", len(inputs), exc)
                sent.held.update(dict.fromkeys((i.writeback_id for i in inputs),
                                               exc.retry_after or 0.0))
            except RetryableCRMError as exc:
                log.warning("CRM write of %d input(s) failed, retried later: %s",
                            len(inputs), exc)
        return sent


def writes_for(session: Session, rows: Sequence[CrmWriteback], now: datetime) -> Writes:
    ids = {r.contact_id for r in rows}
    contacts = {c.id: c for c in session.scalars(select(Contact).where(Contact.id.in_(ids)))}
    writes = Writes()
    sent_records = _sent_records(session, [r for r in rows if r.kind in ACTIVITIES])
    engaged = {r.contact_id for r in rows if r.kind in ENGAGEMENT}
    summaries = _summaries(session, engaged) if engaged else {}
    for row in rows:
        contact = contacts[row.contact_id]
        crm_id, email = contact.crm_id, contact.email or ""
        payload = row.payload
        if row.kind in ACTIVITIES:
            writes.activities.append(EmailActivity(
                writeback_id=row.id, kind=ACTIVITIES[row.kind], contact_crm_id=crm_id,
                email=email, subject=payload.get("subject", ""), text=payload.get("text", ""),
                campaign=payload.get("campaign"),
                occurred_at=_at(row), message_id=payload.get("message", ""),
                record_id=sent_records.get(payload.get("message", "")) if row.kind != "email_sent"
                else None,
                maybe_written=row.attempts > 1,  # the claim counted this attempt
            ))
        elif row.kind in ENGAGEMENT:
            writes.summaries.append(EngagementSummary(
                writeback_id=row.id, contact_crm_id=crm_id, email=email,
                **summaries[row.contact_id],
            ))
        elif row.kind == "unsubscribed":
            writes.opt_outs.append(OptOut(writeback_id=row.id, contact_crm_id=crm_id,
                                          email=email, occurred_at=_at(row)))
        elif row.kind == "update_property":
            writes.updates.append(PropertyUpdate(
                writeback_id=row.id, contact_crm_id=crm_id, email=email,
                properties={payload["property"]: payload["value"]},
            ))
        elif row.kind == "create_task":
            due = payload.get("due_seconds")
            writes.tasks.append(Task(
                writeback_id=row.id, contact_crm_id=crm_id, email=email,
                subject=payload["subject"], body=payload.get("body", ""),
                due_at=_at(row) + timedelta(seconds=due) if due is not None else None,
            ))
        else:
            log.error("write-back %s: unknown kind %r", row.id, row.kind)
    return writes


def _at(row: CrmWriteback) -> datetime:
    return datetime.fromisoformat(row.payload["occurred_at"])


def _sent_records(session: Session, rows: Sequence[CrmWriteback]) -> dict[str, str]:
    """The CRM record each email's `email_sent` write created: a later bounce updates it."""
    keys = [f"email_sent:{r.payload.get('message')}" for r in rows if r.kind != "email_sent"]
    if not keys:
        return {}
    found = session.execute(
        select(CrmWriteback.dedup_key, CrmWriteback.record_id).where(
            CrmWriteback.account_id == rows[0].account_id,
            CrmWriteback.dedup_key.in_(keys),
            CrmWriteback.record_id.is_not(None),
        )
    )
    return {key.removeprefix("email_sent:"): record for key, record in found if record}


def _summaries(session: Session, contact_ids: set[int]) -> dict[int, dict[str, Any]]:
    """Each contact's engagement with our emails, one query per fact. Opens and clicks are
    a person's: a proxy's prefetch or a scanner's click (`machine`) is not engagement."""
    summary: dict[int, dict[str, Any]] = {
        c: {"opens": 0, "clicks": 0, "last_open_at": None, "last_click_at": None,
            "last_clicked_url": None, "last_email_subject": None, "active_flows": []}
        for c in contact_ids
    }
    counts = session.execute(
        select(EngagementEvent.contact_id, EngagementEvent.kind, func.count(),
               func.max(EngagementEvent.occurred_at))
        .where(EngagementEvent.contact_id.in_(contact_ids),
               EngagementEvent.kind.in_(("open", "click")), EngagementEvent.machine.is_(False))
        .group_by(EngagementEvent.contact_id, EngagementEvent.kind)
    )
    for contact_id, kind, count, last in counts:
        summary[contact_id]["opens" if kind == "open" else "clicks"] = count
        summary[contact_id]["last_open_at" if kind == "open" else "last_click_at"] = last
    newest_click = (
        select(EngagementEvent.contact_id, EngagementEvent.url)
        .where(EngagementEvent.contact_id.in_(contact_ids), EngagementEvent.kind == "click",
               EngagementEvent.machine.is_(False))
        .order_by(EngagementEvent.contact_id, EngagementEvent.occurred_at.desc(),
                  EngagementEvent.id.desc())
    )
    for contact_id, url in session.execute(newest_click):
        summary[contact_id]["last_clicked_url"] = summary[contact_id]["last_clicked_url"] or url
    subjects = session.execute(
        select(Message.contact_id, Message.subject)
        .where(Message.contact_id.in_(contact_ids), Message.status == "sent")
        .order_by(Message.contact_id, Message.sent_at.desc(), Message.id.desc())
    )
    for contact_id, subject in subjects:
        summary[contact_id]["last_email_subject"] = (
            summary[contact_id]["last_email_subject"] or subject
        )
    flows = session.execute(
        select(Enrollment.contact_id, Enrollment.flow_key)
        .where(Enrollment.contact_id.in_(contact_ids), Enrollment.state == "active")
        .distinct()
        .order_by(Enrollment.contact_id, Enrollment.flow_key)
    )
    for contact_id, flow_key in flows:
        summary[contact_id]["active_flows"].append(flow_key)
    return summary
