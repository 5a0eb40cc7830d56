"""The durable inbox: every inbound event is stored once, deduplicated on its provider's
key, before it has any effect (DESIGN §5.2)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from connector.models import InboxEvent


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
) -> tuple[InboxEvent, bool]:
    """Insert the event, or return the stored one if this key was seen (created=False)."""
    existing = _find(session, account_id, source, dedup_key)
    if existing is not None:
        return existing, False
    row = InboxEvent(
        account_id=account_id,
        source=source,
        dedup_key=dedup_key,
        kind=kind,
        payload=payload,
        occurred_at=occurred_at,
        received_at=now,
    )
    try:
        with session.begin_nested():
            session.add(row)
    except IntegrityError:
        # A concurrent delivery of the same event won the insert.
        existing = _find(session, account_id, source, dedup_key)
        if existing is None:
            raise
        return existing, False
    return row, True


def _find(session: Session, account_id: int, source: str, dedup_key: str) -> InboxEvent | None:
    return session.scalar(
        select(InboxEvent).where(
            InboxEvent.account_id == account_id,
            InboxEvent.source == source,
            InboxEvent.dedup_key == dedup_key,
        )
    )
