"""Operators pause, resume and archive flows at run time (an override of the YAML status)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete, update
from sqlalchemy.orm import Session

from connector.db import rowcount
from connector.models import Enrollment, FlowState, ScheduledTrigger
from connector.workspaces import FlowRegistry

STATUSES = ("active", "paused", "archived")


class FlowStatusError(ValueError):
    pass


def set_flow_status(
    session: Session, registry: FlowRegistry, key: str, status: str, now: datetime
) -> str:
    """Store the override; resuming puts held enrollments back on the due index."""
    if status not in STATUSES:
        raise FlowStatusError(f"unknown status {status!r}; expected one of {', '.join(STATUSES)}")
    if registry.get(key) is None:
        known = ", ".join(f.key for f in registry.all()) or "none"
        raise FlowStatusError(f"no flow {key!r} (known: {known})")
    registry.forget_statuses()
    account_id = registry.account_id
    row = session.get(FlowState, (account_id, key))
    if row is None:
        session.add(FlowState(account_id=account_id, flow_key=key, status=status, updated_at=now))
    else:
        row.status, row.updated_at = status, now
    if status == "active":
        # Enrollments held while paused (next_run_at NULL) run now; the engine decides
        # what is next for each (a wait that ran out meanwhile is simply over).
        resumed = rowcount(
            session.execute(
                update(Enrollment)
                .where(
                    Enrollment.account_id == account_id,
                    Enrollment.flow_key == key,
                    Enrollment.state == "active",
                    Enrollment.next_run_at.is_(None),
                )
                .values(next_run_at=now)
            )
        )
        return f"{key}: active ({resumed} held enrollment(s) resumed)"
    if status == "archived":
        session.execute(
            delete(ScheduledTrigger).where(
                ScheduledTrigger.account_id == account_id, ScheduledTrigger.flow_key == key
            )
        )
        # Contacts leave at their next run; make that run now.
        session.execute(
            update(Enrollment)
            .where(
                Enrollment.account_id == account_id,
                Enrollment.flow_key == key,
                Enrollment.state == "active",
            )
            .values(next_run_at=now)
        )
    return f"{key}: {status}"
