"""The durable outboxes' one way of calling out (webhook calls, CRM write-backs):
claim -> commit -> call -> record. No transaction is open while a receiver or a CRM
takes its time (on SQLite an open transaction holds every writer up), and a claim is
what keeps two workers from making the same call.

A claim pushes the row's `next_attempt_at` to the end of the claim and counts the
attempt. A worker that dies mid-call leaves the row due again once the claim runs out,
so the call is retried: at least once, and receivers deduplicate (docs/flows.md).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, select, update
from sqlalchemy.exc import SQLAlchemyError

from connector.db import Database
from connector.models import OutboxRow

log = logging.getLogger(__name__)

CLAIM = timedelta(minutes=2)  # longer than any call's timeout
RECORD_ATTEMPTS = 5


@dataclass(frozen=True)
class Claimed:
    ids: list[int]
    until: datetime  # the claim's mark on the rows: only its holder records them


@dataclass(frozen=True)
class Outcome:
    ok: bool
    error: str | None = None
    permanent: bool = False  # a failure no retry can fix (kept visible as failed)
    record_id: str | None = None  # what the receiver called it (a CRM record id)


def claim(
    db: Database,
    model: type[OutboxRow],
    now: datetime,
    *,
    where: Sequence[ColumnElement[bool]] = (),
    limit: int,
) -> Claimed:
    """Claim up to `limit` due rows in a transaction of their own (committed on return)."""
    table: Any = model
    until = now + CLAIM
    due = (
        select(table.id)
        .where(table.status == "pending", table.next_attempt_at <= now, *where)
        .order_by(table.id)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    with db.session() as session:
        ids = session.scalars(
            update(table)
            .where(table.id.in_(due.scalar_subquery()))
            .values(next_attempt_at=until, attempts=table.attempts + 1)
            .returning(table.id)
            .execution_options(synchronize_session=False)
        ).all()
    return Claimed(sorted(ids), until)


def release(db: Database, model: type[OutboxRow], claimed: Claimed, now: datetime, *,
            due: datetime | None = None) -> None:
    """Give the claimed rows back untouched (no call was made): due again at `due` (at
    once by default), the attempt not counted."""
    table: Any = model
    with db.session() as session:
        session.execute(
            update(table)
            .where(table.id.in_(claimed.ids), table.next_attempt_at == claimed.until)
            .values(next_attempt_at=due or now, attempts=table.attempts - 1)
            .execution_options(synchronize_session=False)
        )


def record(
    db: Database,
    model: type[OutboxRow],
    claimed: Claimed,
    outcomes: Mapping[int, Outcome],
    now: datetime,
    *,
    backoff: tuple[int, ...],
) -> int:
    """Record each claimed row's outcome (no outcome: a failure to retry); returns how
    many succeeded. Retried on its own: the call was made, whatever the database does."""
    for attempt in range(RECORD_ATTEMPTS):
        try:
            return _record(db, model, claimed, outcomes, now, backoff)
        except SQLAlchemyError:
            if attempt == RECORD_ATTEMPTS - 1:
                log.exception("outbox %s: outcomes lost; the rows are retried when their "
                              "claim runs out", model.__name__)
                return 0
            time.sleep(0.1 * 2**attempt)
    return 0


def _record(
    db: Database,
    model: type[OutboxRow],
    claimed: Claimed,
    outcomes: Mapping[int, Outcome],
    now: datetime,
    backoff: tuple[int, ...],
) -> int:
    table: Any = model
    succeeded = 0
    with db.session() as session:
        rows = session.scalars(
            select(table).where(
                table.id.in_(claimed.ids),
                table.status == "pending",
                table.next_attempt_at == claimed.until,  # still ours
            )
        ).all()
        for row in rows:
            outcome = outcomes.get(row.id, Outcome(False, "no outcome for this row"))
            if outcome.ok:
                row.succeeded(now)
                if outcome.record_id is not None and hasattr(row, "record_id"):
                    row.record_id = outcome.record_id
                succeeded += 1
            else:
                row.failed(now, outcome.error or "failed", permanent=outcome.permanent,
                           backoff=backoff)
    return succeeded
