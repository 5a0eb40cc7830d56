"""The flows this process runs: loaded from FLOWS_DIR, each version snapshotted in the
database so a running enrollment keeps the definition it started on."""

from __future__ import annotations

import time
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from connector.clock import SystemClock
from connector.db import Database
from connector.engine.flows import Flow, flow_from_dict, flow_to_dict
from connector.engine.loader import load_flows
from connector.models import FlowState, FlowVersion

STATUS_TTL_SECONDS = 1.0


class FlowRegistry:
    def __init__(self, flows: dict[str, Flow], version_ids: dict[str, int]) -> None:
        self._flows = flows
        self._version_ids = version_ids
        self._by_version_id: dict[int, Flow] = {version_ids[k]: f for k, f in flows.items()}
        self._statuses: tuple[float, dict[str, str]] | None = None

    @classmethod
    def load(cls, directory: Path, db: Database) -> FlowRegistry:
        flows = load_flows(directory) if directory.is_dir() else {}
        version_ids = {key: _snapshot(db, flow) for key, flow in flows.items()}
        return cls(flows, version_ids)

    def all(self) -> list[Flow]:
        return [self._flows[k] for k in sorted(self._flows)]

    def get(self, key: str) -> Flow | None:
        return self._flows.get(key)

    def transactional_keys(self) -> frozenset[str]:
        return frozenset(k for k, f in self._flows.items() if f.settings.transactional)

    def statuses(self, session: Session) -> dict[str, str]:
        """Each flow's effective status: an operator's override, else the YAML's.

        Read at most once a second per process: every step asks, and a pause or resume
        taking a second to reach every worker is fine.
        """
        now = time.monotonic()
        if self._statuses is None or now - self._statuses[0] > STATUS_TTL_SECONDS:
            overrides = dict(session.execute(select(FlowState.flow_key, FlowState.status)).all())
            statuses = {k: overrides.get(k, f.settings.status) for k, f in self._flows.items()}
            self._statuses = (now, statuses)
        return self._statuses[1]

    def forget_statuses(self) -> None:
        """After changing a status in this process, read it afresh next time."""
        self._statuses = None

    def runnable(self, session: Session) -> list[Flow]:
        """Flows that take new entries (paused and archived ones do not)."""
        statuses = self.statuses(session)
        return [f for f in self.all() if statuses[f.key] == "active"]

    def version_id(self, key: str) -> int:
        return self._version_ids[key]

    def by_version(self, session: Session, version_id: int) -> Flow:
        """The definition an enrollment runs on (older versions are read from the DB)."""
        flow = self._by_version_id.get(version_id)
        if flow is None:
            row = session.get(FlowVersion, version_id)
            if row is None:
                raise LookupError(f"flow version {version_id} does not exist")
            flow = self._by_version_id[version_id] = flow_from_dict(row.definition)
        return flow


def _snapshot(db: Database, flow: Flow) -> int:
    query = select(FlowVersion.id).where(
        FlowVersion.flow_key == flow.key, FlowVersion.version == flow.version
    )
    for _attempt in range(2):
        with db.session() as session:
            existing = session.scalar(query)
            if existing is not None:
                return existing
            try:
                row = FlowVersion(
                    flow_key=flow.key,
                    version=flow.version,
                    definition=flow_to_dict(flow),
                    created_at=SystemClock().now(),
                )
                session.add(row)
                session.flush()
                return row.id
            except IntegrityError:
                # Another process snapshotted the same version at the same moment.
                session.rollback()
    raise RuntimeError(f"could not snapshot flow {flow.key} version {flow.version}")
