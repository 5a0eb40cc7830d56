"""The durable inbox: every inbound event is stored once, deduplicated on its provider's
key, before it has any effect (DESIGN §5.2)."""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Table, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session
from sqlalchemy.sql.dml import ReturningInsert

from connector.models import InboxEvent


@functools.cache
def _insert(dialect: str) -> ReturningInsert[Any]:
    """Built once per dialect: the hot path skips statement construction and the ORM."""
    table = cast(Table, InboxEvent.__table__)
    insert = postgresql.insert(table) if dialect == "postgresql" else sqlite.insert(table)
    return insert.on_conflict_do_nothing().returning(table.c.id)


def record_inbox_event(
    session: Session,
    *,
    account_id: int,
    source: str,
    dedup_key: str,
    kind: str,
    payload: dict[str, Any],
    occurred_at: datetime,
    now: datetime,
) -> tuple[int, bool]:
    """Store the event unless its key was seen; returns (inbox id, created).

    One statement (INSERT ... ON CONFLICT DO NOTHING RETURNING) on the ingest hot path:
    no read-before-write, no savepoint, and concurrent duplicates cannot both win.
    """
    values = {
        "account_id": account_id,
        "source": source,
        "dedup_key": dedup_key,
        "kind": kind,
        "payload": payload,
        "occurred_at": occurred_at,
        "received_at": now,
    }
    connection = session.connection()
    inserted: int | None = connection.execute(_insert(connection.dialect.name), values).scalar()
    if inserted is not None:
        return inserted, True
    existing = session.scalar(
        select(InboxEvent.id).where(
            InboxEvent.account_id == account_id,
            InboxEvent.source == source,
            InboxEvent.dedup_key == dedup_key,
        )
    )
    assert existing is not None, "conflict without a row: the dedup key must be unique"
    return existing, False


@dataclass(frozen=True)
class NewEvent:
    """One event of a batch for `record_inbox_events`."""

    account_id: int
    source: str
    dedup_key: str
    kind: str
    payload: dict[str, Any]
    occurred_at: datetime


def record_inbox_events(session: Session, events: Sequence[NewEvent], *, now: datetime) -> int:
    """Store a batch (a webhook's notifications) in one multi-row INSERT ... ON CONFLICT DO
    NOTHING; returns how many were new. The duplicates' ids are not looked up: a webhook
    only counts them."""
    if not events:
        return 0
    rows = [{"account_id": e.account_id, "source": e.source, "dedup_key": e.dedup_key,
             "kind": e.kind, "payload": e.payload, "occurred_at": e.occurred_at,
             "received_at": now} for e in events]
    connection = session.connection()
    return len(connection.execute(_insert(connection.dialect.name), rows).all())
