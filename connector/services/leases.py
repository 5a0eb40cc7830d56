"""Claiming enrollments with a lease, so any number of workers never run a step twice.

Due rows are found through the `next_run_at` index, in batches; PostgreSQL skips rows
another worker has locked (FOR UPDATE SKIP LOCKED), SQLite serialises writers anyway
(BEGIN IMMEDIATE), and a lease that is not released (a dead worker) expires.
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from datetime import datetime, timedelta

from sqlalchemy import or_, select, update

from connector.db import Database
from connector.models import Enrollment

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
        .with_for_update(skip_locked=True)
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
