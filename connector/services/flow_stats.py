"""Per-flow figures for the admin API: an account's flows, their status and enrollments
by state."""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from connector.models import Enrollment
from connector.workspaces import FlowRegistry

ENROLLMENT_STATES = ("active", "completed", "exited")


@dataclass(frozen=True)
class FlowSummary:
    key: str
    name: str
    version: str
    status: str
    enrollments: dict[str, int] = field(default_factory=dict)


def flow_summaries(session: Session, registry: FlowRegistry) -> list[FlowSummary]:
    """Every flow of the account's registry, with its enrollment counts (one query)."""
    rows = session.execute(
        select(Enrollment.flow_key, Enrollment.state, func.count())
        .where(Enrollment.account_id == registry.account_id)
        .group_by(Enrollment.flow_key, Enrollment.state)
    )
    counts: dict[str, dict[str, int]] = {}
    for flow_key, state, count in rows:
        counts.setdefault(flow_key, {})[state] = count
    statuses = registry.statuses(session)
    return [
        FlowSummary(
            key=flow.key,
            name=flow.name,
            version=flow.version,
            status=statuses[flow.key],
            enrollments={s: counts.get(flow.key, {}).get(s, 0) for s in ENROLLMENT_STATES},
        )
        for flow in registry.all()
    ]
