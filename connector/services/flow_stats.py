"""Per-flow figures for the admin API: status and one account's enrollments by state."""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from connector.flow_registry import FlowRegistry
from connector.models import Enrollment

ENROLLMENT_STATES = ("active", "completed", "exited")


@dataclass(frozen=True)
class FlowSummary:
    key: str
    name: str
    version: str
    status: str
    enrollments: dict[str, int] = field(default_factory=dict)


def flow_summaries(session: Session, registry: FlowRegistry, account_id: int) -> list[FlowSummary]:
    """Every flow of the registry, with this account's enrollment counts (one query).

    The registry and the statuses are deployment-wide today; only the counts are the
    account's own.
    """
    rows = session.execute(
        select(Enrollment.flow_key, Enrollment.state, func.count())
        .where(Enrollment.account_id == account_id)
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
