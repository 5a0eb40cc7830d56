"""The CRM write-back outbox (DESIGN §5.5): rows are queued in the same transaction as the
fact they report, then flushed in batches through the account's CRM adapter."""

from __future__ import annotations

import functools
import logging
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, cast

from sqlalchemy import Table, func, or_, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session
from sqlalchemy.sql.dml import ReturningInsert

from adapters.errors import CRMError, DisconnectedError
from adapters.port import CRMAdapter
from connector.models import Account, CampaignRun, CrmWriteback, Message
from connector.services import outbox
from connector.services.crm_writes import writes_for

if TYPE_CHECKING:
    from connector.runtime import Runtime

log = logging.getLogger(__name__)

# Rows per claim (the adapter splits them into its CRM's batch size), and how long one
# job writes before handing the worker back (a successor carries on).
CLAIM = 200
FLUSH_BUDGET = 20.0
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
    (INSERT ... ON CONFLICT DO NOTHING): it runs once per email opened or clicked."""
    return _queue(session, _row(account_id, contact_id, kind, dedup_key, payload, now))


def _queue(session: Session, values: dict[str, Any]) -> bool:
    dialect = session.get_bind().dialect.name
    return session.execute(_insert(dialect), values).scalar() is not None


@functools.cache
def _insert(dialect: str) -> ReturningInsert[Any]:
    table = cast(Table, CrmWriteback.__table__)
    insert = postgresql.insert(table) if dialect == "postgresql" else sqlite.insert(table)
    return insert.on_conflict_do_nothing().returning(table.c.id)


def _row(account_id: int, contact_id: int, kind: str, dedup_key: str,
         payload: dict[str, Any], now: datetime) -> dict[str, Any]:
    return {
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


def queue_message_writeback(
    session: Session,
    message: Message,
    kind: str,
    now: datetime,
    *,
    link: int | None = None,
    url: str | None = None,
    text: str | None = None,
    campaign: str | None = None,
) -> bool:
    """Queue what happened to one email; the key makes a repeat (a second open) a no-op.
    `campaign` is the name of the campaign that sent it, shown on the CRM timeline."""
    return _queue(session, _message_row(message, kind, now, link=link, url=url, text=text,
                                        campaign=campaign))


@dataclass(frozen=True)
class MessageWriteback:
    """One email's write-back for `queue_message_writebacks`: what happened to it (`kind`,
    e.g. email_sent), the error text of a failure, its campaign's name."""

    message: Message
    kind: str
    text: str | None = None
    campaign: str | None = None


# Rows per statement: 9 columns a row stays far under SQLite's 32,766 bound parameters.
QUEUE_CHUNK = 500


def queue_message_writebacks(session: Session, entries: Sequence[MessageWriteback],
                             now: datetime) -> int:
    """Queue many emails' write-backs (a send chunk's outcomes), the same rows and keys as
    `queue_message_writeback` one by one, in one multi-row INSERT ... ON CONFLICT DO
    NOTHING per QUEUE_CHUNK rows; returns how many were new (a repeat is a no-op)."""
    if not entries:
        return 0
    insert = _insert(session.get_bind().dialect.name)
    queued = 0
    for start in range(0, len(entries), QUEUE_CHUNK):
        rows = [_message_row(e.message, e.kind, now, text=e.text, campaign=e.campaign)
                for e in entries[start:start + QUEUE_CHUNK]]
        # A list of rows with RETURNING: SQLAlchemy renders them as one multi-row VALUES
        # ("insertmanyvalues", whose pages of 1,000 rows hold a whole chunk).
        queued += len(session.execute(insert, rows).all())
    return queued


def _message_row(message: Message, kind: str, now: datetime, *, link: int | None = None,
                 url: str | None = None, text: str | None = None,
                 campaign: str | None = None) -> dict[str, Any]:
    """One email's outbox row: a link's clicks are keyed apart (one write per link)."""
    payload = {"message": message.public_id, "subject": message.subject or ""}
    if url:
        payload["url"] = url
    if text:
        payload["text"] = text
    if campaign:
        payload["campaign"] = campaign
    suffix = "" if link is None else f":{link}"
    return _row(message.account_id, message.contact_id, kind,
                f"{kind}:{message.public_id}{suffix}", payload, now)


def campaign_names(session: Session, messages: Iterable[Message]) -> dict[int, str]:
    """The name of each campaign these emails were sent by, by campaign id, in one query
    (a flow's email has none): what `MessageWriteback.campaign` takes."""
    ids = {m.campaign_id for m in messages if m.campaign_id is not None}
    if not ids:
        return {}
    found = session.execute(select(CampaignRun.id, CampaignRun.name).where(CampaignRun.id.in_(ids)))
    return {campaign_id: name for campaign_id, name in found}


def accounts_with_due_writebacks(session: Session, now: datetime) -> list[int]:
    """Connected accounts with writes due (a disconnected one's wait for its reinstall)."""
    return list(
        session.scalars(
            select(CrmWriteback.account_id)
            .join(Account, Account.id == CrmWriteback.account_id)
            .where(CrmWriteback.status == "pending", CrmWriteback.next_attempt_at <= now,
                   Account.status == "connected")
            .distinct()
        )
    )


def flush_writebacks(rt: Runtime, account_id: int, *, budget: float = FLUSH_BUDGET) -> int:
    """Write an account's due rows batch after batch, for up to `budget` seconds; returns
    how many were written. The adapter's rate limiter (shared by every worker) paces it."""
    rt.work.writeback_started(account_id)
    written, started = 0, time.monotonic()
    while time.monotonic() - started < budget:
        done, claimed = flush_batch(rt, account_id)
        written += done
        if claimed < CLAIM:
            break
    else:
        rt.work.flush_writebacks(account_id)  # more due: a successor carries on
    return written


def flush_batch(rt: Runtime, account_id: int) -> tuple[int, int]:
    """Claim one batch of due rows, write it through the account's adapter with no
    transaction open, record each outcome (services/outbox.py): (written, claimed)."""
    now = rt.clock.now()
    claimed = outbox.claim(rt.db, CrmWriteback, now, where=[CrmWriteback.account_id == account_id],
                           limit=CLAIM)
    if not claimed.ids:
        return 0, 0
    with rt.db.session() as session:
        account = session.get(Account, account_id)
        rows = session.scalars(
            select(CrmWriteback).where(CrmWriteback.id.in_(claimed.ids)).order_by(CrmWriteback.id)
        ).all()
        inputs = writes_for(session, rows, now)
        if account is not None:
            session.expunge(account)
    if account is None or account.status != "connected":
        outbox.release(rt.db, CrmWriteback, claimed, now)
        return 0, 0  # nothing more for this account now
    crm = rt.crm_for(account)
    try:
        if account.crm_prepared_at is None:
            _prepare(rt, crm, account_id)
        sent = inputs.send(crm)
    except DisconnectedError:
        log.warning("account %s: disconnected; its CRM writes wait for a reinstall", account_id)
        outbox.release(rt.db, CrmWriteback, claimed, now)
        return 0, 0
    except CRMError as exc:
        # `prepare` failed (a 5xx, a missing scope): every row waits its backoff, visibly.
        failed = {i: outbox.Outcome(False, f"preparing the CRM: {exc}") for i in claimed.ids}
        outbox.record(rt.db, CrmWriteback, claimed, failed, now, backoff=BACKOFF)
        return 0, 0
    if sent.held:  # the CRM was not called for these: no attempt spent, no backoff step
        wait = timedelta(seconds=max(sent.held.values()))
        outbox.release(rt.db, CrmWriteback, outbox.Claimed(list(sent.held), claimed.until),
                       now, due=now + wait)
        claimed = outbox.Claimed([i for i in claimed.ids if i not in sent.held],
                                 claimed.until)
    outcomes = {
        r.writeback_id: outbox.Outcome(r.ok, r.error, permanent=not r.ok and not r.retryable,
                                       record_id=r.record_id)
        for r in sent.results
    }
    return outbox.record(rt.db, CrmWriteback, claimed, outcomes, now, backoff=BACKOFF), len(
        claimed.ids)


def _prepare(rt: Runtime, crm: CRMAdapter, account_id: int) -> None:
    """Before an account's first write: what the connector writes must exist in the CRM
    (HubSpot: the app's property group and properties)."""
    crm.prepare()
    with rt.db.session() as session:
        account = session.get(Account, account_id)
        if account is not None:
            account.crm_prepared_at = rt.clock.now()


@dataclass(frozen=True)
class WritebackReport:
    """An account's CRM writes: how many of each kind are pending, done or failed, and the
    newest failures with the CRM's reason (kept, never dropped)."""

    counts: dict[tuple[str, str], int]
    failures: list[CrmWriteback]


def writeback_report(session: Session, account_id: int, *, limit: int = 20) -> WritebackReport:
    counts = {
        (kind, status): count
        for kind, status, count in session.execute(
            select(CrmWriteback.kind, CrmWriteback.status, func.count())
            .where(CrmWriteback.account_id == account_id)
            .group_by(CrmWriteback.kind, CrmWriteback.status)
        )
    }
    failures = session.scalars(
        select(CrmWriteback)
        .where(CrmWriteback.account_id == account_id,
               or_(CrmWriteback.status == "failed", CrmWriteback.last_error.is_not(None)))
        .order_by(CrmWriteback.id.desc())
        .limit(limit)
    ).all()
    return WritebackReport(counts, list(failures))
