"""Claiming enrollments with a lease, so any number of workers never run a step twice.

Due rows are found through the `next_run_at` index, in batches; PostgreSQL skips rows
another worker has locked (FOR UPDATE SKIP LOCKED), SQLite serialises writers anyway
(BEGIN IMMEDIATE), and a lease that is not released (a dead worker) expires.
"""

from __future__ import annotations

import logging
import secrets
import time
from collections.abc import Sequence
from datetime import datetime, timedelta

from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session

from connector.db import Database, rowcount
from connector.models import Enrollment

log = logging.getLogger(__name__)

LEASE = timedelta(minutes=5)


def claim(
    db: Database, now: datetime, *, ids: Sequence[int] | None = None, limit: int = 500
) -> tuple[str, list[int]]:
    """Lease due enrollments (all due, or only `ids`); returns (lease token, claimed ids)."""
    token = secrets.token_hex(16)
    due = (
        select(Enrollment.id)
        .where(
            Enrollment.next_run_at <= now,
            or_(Enrollment.lease_until.is_(None), Enrollment.lease_until < now),
        )
        .order_by(Enrollment.next_run_at)
        .limit(limit)
        # FOR NO KEY UPDATE: a send inserting a ledger row for an enrollment (which takes a
        # key-share lock on it through the foreign key) must not make claimers skip it.
        .with_for_update(skip_locked=True, key_share=True)
    )
    if ids is not None:
        due = due.where(Enrollment.id.in_(ids))
    statement = (
        update(Enrollment)
        .where(Enrollment.id.in_(due.scalar_subquery()))
        .values(lease_owner=token, lease_until=now + LEASE)
        .returning(Enrollment.id)
        .execution_options(synchronize_session=False)
    )
    with db.session() as session:
        claimed = sorted(session.scalars(statement).all())
    return token, claimed


# A run that failed is tried again this soon (a broken enrollment must not spin, a
# transient fault must not wait for the lease to expire).
RETRY_FAILED = timedelta(seconds=15)
RELEASE_ATTEMPTS = 5


def release(
    session: Session, ids: Sequence[int], token: str, *, retry_at: datetime | None = None
) -> int:
    """Give back this run's leases on `ids` (still due: the next tick claims them again)."""
    values: dict[str, object] = {"lease_owner": None, "lease_until": None}
    if retry_at is not None:
        values["next_run_at"] = retry_at
    return rowcount(
        session.execute(
            update(Enrollment)
            .where(Enrollment.id.in_(ids), Enrollment.lease_owner == token)
            .values(**values)
            .execution_options(synchronize_session=False)
        )
    )


def release_after_failure(db: Database, ids: Sequence[int], token: str, now: datetime) -> None:
    """After a run whose transaction failed (a dropped connection, a lost commit): release
    its leases in a new one, trying a few times, so its enrollments run again in seconds,
    not after the five minutes of the lease."""
    for attempt in range(1, RELEASE_ATTEMPTS + 1):
        try:
            with db.session() as session:
                release(session, ids, token, retry_at=now + RETRY_FAILED)
            return
        except Exception:
            if attempt == RELEASE_ATTEMPTS:
                log.exception("could not release %d lease(s); they expire in %s", len(ids), LEASE)
                return
            time.sleep(0.1 * 2**attempt)
