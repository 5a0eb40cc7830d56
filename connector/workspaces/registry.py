"""The flows one account runs: the live workspace's flows with their snapshot ids, the
operator's statuses, and older versions (read from the database) for enrollments that
started on them."""

from __future__ import annotations

import time
from collections.abc import Mapping

from sqlalchemy import select
from sqlalchemy.orm import Session

from connector.engine.flows import Flow, flow_from_dict
from connector.models import Account, FlowState, FlowVersion

STATUS_TTL_SECONDS = 1.0


class FlowRegistry:
    def __init__(
        self, account_id: int, flows: Mapping[str, Flow], version_ids: Mapping[str, int]
    ) -> None:
        self.account_id = account_id
        self._flows = dict(flows)
        self._version_ids = dict(version_ids)
        self._by_version_id: dict[int, Flow] = {version_ids[k]: f for k, f in flows.items()}
        self._statuses: tuple[float, dict[str, str]] | None = None

    @classmethod
    def load(cls, session: Session, account_id: int, flows: Mapping[str, Flow]) -> FlowRegistry:
        """The registry of `flows`, whose snapshots the deploy wrote."""
        if not flows:
            return cls(account_id, {}, {})
        rows = session.execute(
            select(FlowVersion.flow_key, FlowVersion.version, FlowVersion.id).where(
                FlowVersion.account_id == account_id, FlowVersion.flow_key.in_(flows)
            )
        ).all()
        ids = {(key, version): id_ for key, version, id_ in rows}
        missing = [k for k, f in flows.items() if (k, f.version) not in ids]
        if missing:
            raise LookupError(
                f"account {account_id}: no snapshot of flow(s) {', '.join(missing)}; "
                "deploy the workspace again"
            )
        return cls(account_id, flows, {k: ids[(k, f.version)] for k, f in flows.items()})

    def all(self) -> list[Flow]:
        return [self._flows[k] for k in sorted(self._flows)]

    def get(self, key: str) -> Flow | None:
        return self._flows.get(key)

    def statuses(self, session: Session) -> dict[str, str]:
        """Each flow's effective status: an operator's override, else the YAML's.

        Read at most once a second per process: every step asks, and a pause or resume
        taking a second to reach every worker is fine.
        """
        now = time.monotonic()
        if self._statuses is None or now - self._statuses[0] > STATUS_TTL_SECONDS:
            overrides = dict(
                session.execute(
                    select(FlowState.flow_key, FlowState.status).where(
                        FlowState.account_id == self.account_id
                    )
                ).all()
            )
            statuses = {k: overrides.get(k, f.settings.status) for k, f in self._flows.items()}
            if self._disconnected(session):
                # Uninstalled or revoked: nothing starts, waiting contacts hold, and a
                # reinstall carries on where they were.
                statuses = {k: "paused" if s == "active" else s for k, s in statuses.items()}
            self._statuses = (now, statuses)
        return self._statuses[1]

    def _disconnected(self, session: Session) -> bool:
        status = session.scalar(select(Account.status).where(Account.id == self.account_id))
        return status == "disconnected"

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
            if row is None or row.account_id != self.account_id:
                raise LookupError(f"flow version {version_id} does not exist")
            flow = self._by_version_id[version_id] = flow_from_dict(row.definition)
        return flow
