"""`connector flows simulate`: run one contact through one flow on a virtual clock.

It runs the real thing, not a copy: a throwaway SQLite database, an embedded Redis, the
real services, jobs and engine, with the clock jumping from one due moment to the next.
The timeline is read back from the enrollment journal, as the service records it.
"""

from __future__ import annotations

import shutil
import tempfile
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import func, select

from adapters.memory import InMemoryCRM
from connector import runtime as runtime_module
from connector.clock import VirtualClock
from connector.local.inprocess import drain
from connector.local.redis_embedded import EmbeddedRedis
from connector.migrate import upgrade
from connector.models import (
    Enrollment,
    EnrollmentJournal,
    ScheduledTrigger,
    SegmentMembership,
)
from connector.runtime import Runtime, build_runtime
from connector.scheduler import tick
from connector.services.accounts import connect_account
from connector.services.inbox import record_inbox_event
from connector.services.processing import CONTACT_UPDATE, process_inbox_event
from connector.settings import Settings
from connector.workspaces import WorkspaceError, deploy_default

MAX_MOMENTS = 5000


class SimulationError(ValueError):
    """Bad simulation input; the message says which."""


@dataclass(frozen=True)
class SimulatedEvent:
    name: str
    at: datetime
    properties: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class TimelineEntry:
    at: datetime
    step: str | None
    action: str
    template: str | None = None
    detail: dict[str, Any] = field(default_factory=dict)

    def as_json(self) -> dict[str, Any]:
        entry: dict[str, Any] = {
            "at": self.at.isoformat(),
            "step": self.step,
            "action": self.action,
        }
        if self.template:
            entry["template"] = self.template
        if self.detail:
            entry["detail"] = self.detail
        return entry


def simulate(
    settings: Settings,
    flow_file: Path,
    contact: dict[str, Any],
    events: Sequence[SimulatedEvent],
    *,
    start: datetime,
    days: int,
) -> list[TimelineEntry]:
    """The decisions the flow makes for this contact from `start` for `days` days."""
    end = start + timedelta(days=days)
    with _sandbox(settings, flow_file, start) as rt:
        with rt.db.session() as session:
            account, _ = connect_account(
                session,
                rt.vault,
                provider="local",
                external_id="simulation",
                access_token="simulation",
                name="simulation",
                now=start,
            )
        try:
            deploy_default(rt.db, rt.settings, account.id, start)
        except WorkspaceError as exc:
            raise SimulationError(f"the flow cannot run:\n{exc}") from exc
        clock: VirtualClock = rt.clock  # type: ignore[assignment]
        _ingest(rt, account.id, contact, CONTACT_UPDATE, {}, start)
        pending = sorted(events, key=lambda e: e.at)
        for _ in range(MAX_MOMENTS):
            now = clock.now()
            due = _next_due(rt, now)
            upcoming = pending[0].at if pending else None
            moment = min((t for t in (due, upcoming) if t is not None), default=None)
            if moment is None or moment > end:
                break
            clock.set(max(moment, now))
            if pending and pending[0].at <= clock.now():
                event = pending.pop(0)
                _ingest(rt, account.id, contact, event.name, event.properties, event.at)
            tick(rt, clock.now())
            drain(rt.queues)
        else:
            raise SimulationError(
                f"the flow did not settle after {MAX_MOMENTS} scheduling moments "
                "(a loop without a wait?)"
            )
        return _timeline(rt)


@contextmanager
def _sandbox(settings: Settings, flow_file: Path, start: datetime) -> Iterator[Runtime]:
    home = Path(tempfile.mkdtemp(prefix="crmdrip-sim-"))
    try:
        flows = home / "flows"
        flows.mkdir()
        shutil.copy(flow_file, flows / flow_file.name)
        url = f"sqlite:///{home / 'simulation.sqlite3'}"
        upgrade(url)
        with EmbeddedRedis(home / "redis") as redis_server:
            sandboxed = settings.model_copy(
                update={
                    "database_url": url,
                    "flows_dir": flows,
                    "mail_url": f"outbox://{home / 'outbox'}",
                }
            )
            rt = build_runtime(sandboxed, redis_url=redis_server.url, clock=VirtualClock(start))
            rt.outbound_webhooks = False  # a simulation calls nobody
            rt.crm_adapters.update(hubspot=InMemoryCRM(), salesforce=InMemoryCRM())  # nor a CRM
            runtime_module.install(rt)
            try:
                yield rt
            finally:
                runtime_module.install(None)
                rt.close()
    finally:
        shutil.rmtree(home, ignore_errors=True)


def _ingest(
    rt: Runtime,
    account_id: int,
    contact: dict[str, Any],
    name: str,
    properties: dict[str, Any],
    at: datetime,
) -> None:
    with rt.db.session() as session:
        payload = {"contact": contact, "event": name, "properties": properties}
        inbox_id, _ = record_inbox_event(
            session,
            account_id=account_id,
            source="api",
            dedup_key=f"sim:{uuid.uuid4().hex}",
            kind=name,
            payload=payload,
            occurred_at=at,
            now=rt.clock.now(),
        )
    process_inbox_event(rt, inbox_id)
    drain(rt.queues)


def _next_due(rt: Runtime, now: datetime) -> datetime | None:
    """The earliest moment anything is scheduled (a step, a trigger, a recheck)."""
    with rt.db.session() as session:
        candidates = [
            session.scalar(select(func.min(Enrollment.next_run_at))),
            session.scalar(select(func.min(ScheduledTrigger.fire_at))),
            session.scalar(select(func.min(SegmentMembership.recheck_at))),
        ]
    times = [t for t in candidates if t is not None]
    return max(min(times), now) if times else None


def _timeline(rt: Runtime) -> list[TimelineEntry]:
    with rt.db.session() as session:
        rows = session.scalars(select(EnrollmentJournal).order_by(EnrollmentJournal.id)).all()
    return [
        TimelineEntry(
            at=row.at,
            step=row.step_id,
            action=row.action,
            template=row.detail.get("template"),
            detail={k: v for k, v in row.detail.items() if k != "template"},
        )
        for row in rows
    ]


def parse_events(data: Any) -> list[SimulatedEvent]:
    """`--events` JSON: a list of {"event", "at" (ISO 8601 with zone), "properties"?}."""
    if not isinstance(data, list):
        raise SimulationError("--events must be a JSON list of {event, at, properties}")
    events = []
    for index, item in enumerate(data):
        where = f"--events[{index}]"
        if not isinstance(item, dict) or not isinstance(item.get("event"), str):
            raise SimulationError(f"{where}: expected an object with an 'event' name")
        try:
            at = datetime.fromisoformat(str(item.get("at")))
        except ValueError as exc:
            raise SimulationError(f"{where}.at: not an ISO 8601 time: {item.get('at')!r}") from exc
        if at.tzinfo is None:
            raise SimulationError(f"{where}.at: give a time zone, e.g. 2026-01-05T09:00:00Z")
        properties = item.get("properties") or {}
        if not isinstance(properties, dict):
            raise SimulationError(f"{where}.properties: expected an object")
        events.append(SimulatedEvent(item["event"], at, properties))
    return events


def parse_contact(data: Any) -> dict[str, Any]:
    """`--contact` JSON: {"email", "timezone"?, "properties"?}."""
    if not isinstance(data, dict) or not isinstance(data.get("email"), str):
        raise SimulationError("--contact must be a JSON object with an 'email'")
    unknown = set(data) - {"email", "timezone", "properties", "crm_id"}
    if unknown:
        raise SimulationError(f"--contact: unknown key(s) {', '.join(sorted(unknown))}")
    if not isinstance(data.get("properties", {}), dict):
        raise SimulationError("--contact.properties: expected an object")
    return {k: v for k, v in data.items() if v is not None}
