"""The CRM write-back outbox (DESIGN §5.5): rows are queued in the same transaction as the
fact they report, then flushed in batches through the account's CRM adapter."""

from __future__ import annotations

import functools
import logging
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, cast

from sqlalchemy import Table, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session
from sqlalchemy.sql.dml import ReturningInsert

from adapters.port import CRMAdapter, EmailActivity, PropertyUpdate, Task, WriteResult
from connector.models import Account, Contact, CrmWriteback, Message
from connector.services import outbox

if TYPE_CHECKING:
    from connector.runtime import Runtime

log = logging.getLogger(__name__)

BATCH = 100
BACKOFF = (30, 120, 600, 1800, 3600, 3 * 3600, 6 * 3600)  # then failed, kept visible


def queue_writeback(
    session: Session,
    *,
    account_id: int,
    contact_id: int,
    kind: str,
    dedup_key: str,
    payload: dict[str, Any],
    now: datetime,
) -> bool:
    """Queue one write; a repeated fact (same dedup key) is queued once. One statement
    (INSERT ... ON CONFLICT DO NOTHING): it runs once per email sent, opened, clicked."""
    values = {
        "account_id": account_id,
        "contact_id": contact_id,
        "kind": kind,
        "dedup_key": dedup_key,
        "payload": {**payload, "occurred_at": now.isoformat()},
        "status": "pending",
        "attempts": 0,
        "next_attempt_at": now,
        "created_at": now,
    }
    dialect = session.get_bind().dialect.name
    return session.execute(_insert(dialect), values).scalar() is not None


@functools.cache
def _insert(dialect: str) -> ReturningInsert[Any]:
    table = cast(Table, CrmWriteback.__table__)
    insert = postgresql.insert(table) if dialect == "postgresql" else sqlite.insert(table)
    return insert.on_conflict_do_nothing().returning(table.c.id)


def queue_message_writeback(
    session: Session,
    message: Message,
    kind: str,
    now: datetime,
    *,
    link: int | None = None,
    url: str | None = None,
) -> bool:
    """Queue what happened to one email; the key makes a repeat (a second open) a no-op."""
    payload = {"message": message.public_id, "subject": message.subject or ""}
    if url:
        payload["url"] = url
    suffix = "" if link is None else f":{link}"
    return queue_writeback(
        session,
        account_id=message.account_id,
        contact_id=message.contact_id,
        kind=kind,
        dedup_key=f"{kind}:{message.public_id}{suffix}",
        payload=payload,
        now=now,
    )


def accounts_with_due_writebacks(session: Session, now: datetime) -> list[int]:
    return list(
        session.scalars(
            select(CrmWriteback.account_id)
            .where(CrmWriteback.status == "pending", CrmWriteback.next_attempt_at <= now)
            .distinct()
        )
    )


def flush_writebacks(rt: Runtime, account_id: int) -> int:
    """Send one batch of due writes for an account; returns how many were written.

    Claimed, then written to the CRM with no transaction open, then recorded
    (services/outbox.py): a slow CRM holds up no other writer."""
    now = rt.clock.now()
    claimed = outbox.claim(rt.db, CrmWriteback, now, where=[CrmWriteback.account_id == account_id],
                           limit=BATCH)
    if not claimed.ids:
        return 0
    with rt.db.session() as session:
        account = session.get(Account, account_id)
        rows = session.scalars(
            select(CrmWriteback).where(CrmWriteback.id.in_(claimed.ids)).order_by(CrmWriteback.id)
        ).all()
        contacts = {
            c.id: c
            for c in session.scalars(
                select(Contact).where(Contact.id.in_({r.contact_id for r in rows}))
            )
        }
    if account is None:
        return 0
    results = _write(rt.crm_for(account), rows, contacts)
    outcomes = {
        r.writeback_id: outbox.Outcome(r.ok, r.error, permanent=not r.ok and not r.retryable)
        for r in results
    }
    return outbox.record(rt.db, CrmWriteback, claimed, outcomes, now, backoff=BACKOFF)


def _write(
    crm: CRMAdapter, rows: Sequence[CrmWriteback], contacts: dict[int, Contact]
) -> list[WriteResult]:
    """One adapter call per kind of write in the batch."""
    by_kind: dict[str, list[CrmWriteback]] = {}
    for row in rows:
        by_kind.setdefault(_FAMILY.get(row.kind, "activity"), []).append(row)
    results: list[WriteResult] = []
    if "activity" in by_kind:
        results += crm.write_activities(
            activities=[_activity(row, contacts[row.contact_id]) for row in by_kind["activity"]]
        )
    if "property" in by_kind:
        results += crm.update_properties(
            updates=[
                PropertyUpdate(
                    writeback_id=row.id,
                    contact_crm_id=contacts[row.contact_id].crm_id,
                    email=contacts[row.contact_id].email or "",
                    properties={row.payload["property"]: row.payload["value"]},
                )
                for row in by_kind["property"]
            ]
        )
    if "task" in by_kind:
        results += crm.create_tasks(
            tasks=[_task(row, contacts[row.contact_id]) for row in by_kind["task"]]
        )
    return results


_FAMILY = {"update_property": "property", "create_task": "task"}


def _task(row: CrmWriteback, contact: Contact) -> Task:
    created = datetime.fromisoformat(row.payload["occurred_at"])
    due = row.payload.get("due_seconds")
    return Task(
        writeback_id=row.id,
        contact_crm_id=contact.crm_id,
        email=contact.email or "",
        subject=row.payload["subject"],
        body=row.payload.get("body", ""),
        due_at=created + timedelta(seconds=due) if due is not None else None,
    )


def _activity(row: CrmWriteback, contact: Contact) -> EmailActivity:
    payload = row.payload
    return EmailActivity(
        writeback_id=row.id,
        kind=row.kind,  # type: ignore[arg-type]
        contact_crm_id=contact.crm_id,
        email=contact.email or "",
        subject=payload.get("subject", ""),
        occurred_at=datetime.fromisoformat(payload["occurred_at"]),
        url=payload.get("url"),
    )
