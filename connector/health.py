"""/healthz (process up), /readyz (database and Redis reachable), /metrics (Prometheus)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from flask import Blueprint, Response, jsonify
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector
from sqlalchemy import func, select, text

from connector.models import CrmWriteback, Enrollment, InboxEvent, Message
from connector.runtime import Runtime
from webhooks.http import runtime

bp = Blueprint("health", __name__)


@bp.get("/healthz")
def healthz() -> Any:
    return jsonify({"status": "ok"})


@bp.get("/readyz")
def readyz() -> Any:
    rt = runtime()
    checks: dict[str, str] = {}
    try:
        with rt.db.engine.connect() as connection:
            connection.execute(text("SELECT 1"))
        checks["database"] = "ok"
    except Exception as exc:
        checks["database"] = f"error: {type(exc).__name__}"
    try:
        rt.redis.ping()
        checks["redis"] = "ok"
    except Exception as exc:
        checks["redis"] = f"error: {type(exc).__name__}"
    ready = all(v == "ok" for v in checks.values())
    return jsonify({"status": "ok" if ready else "unavailable", **checks}), 200 if ready else 503


@bp.get("/metrics")
def metrics() -> Response:
    # Gauges are read from the source of truth at scrape time, so every web process
    # reports the same numbers and no multiprocess registry is needed.
    registry = CollectorRegistry(auto_describe=False)
    registry.register(StateCollector(runtime()))
    return Response(generate_latest(registry), mimetype="text/plain; version=0.0.4")


class StateCollector(Collector):
    def __init__(self, rt: Runtime) -> None:
        self.rt = rt

    def collect(self) -> Iterator[GaugeMetricFamily]:
        queue = GaugeMetricFamily("connector_queue_jobs", "Jobs waiting in RQ", labels=["queue"])
        for q in self.rt.queues.all():
            queue.add_metric([q.name], q.count)
        yield queue
        with self.rt.db.session() as session:
            yield _by(session, "connector_messages", "Messages by status", Message.status)
            yield _by(session, "connector_enrollments", "Enrollments by state", Enrollment.state)
            yield _by(
                session,
                "connector_crm_writebacks",
                "CRM write-backs by status",
                CrmWriteback.status,
            )
            backlog = session.scalar(select(func.count()).where(InboxEvent.processed_at.is_(None)))
            yield GaugeMetricFamily(
                "connector_inbox_backlog", "Inbox events not yet processed", value=backlog or 0
            )


def _by(session: Any, name: str, doc: str, column: Any) -> GaugeMetricFamily:
    family = GaugeMetricFamily(name, doc, labels=[column.key])
    for value, count in session.execute(select(column, func.count()).group_by(column)):
        family.add_metric([value], count)
    return family
