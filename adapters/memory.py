"""An in-memory CRM: the fake at the edge for unit tests and the demo, until the HubSpot
and Salesforce adapters land. It keeps what was written, per contact, in order."""

from __future__ import annotations

import threading
from collections import defaultdict
from collections.abc import Sequence
from typing import Any

from adapters.port import EmailActivity, PropertyUpdate, Task, WriteResult


class InMemoryCRM:
    provider = "memory"

    def __init__(self) -> None:
        self.timeline: dict[str, list[EmailActivity]] = defaultdict(list)
        self.properties: dict[str, dict[str, Any]] = {}
        self.tasks: list[Task] = []
        self._lock = threading.Lock()

    def write_activities(self, *, activities: Sequence[EmailActivity]) -> list[WriteResult]:
        with self._lock:
            for activity in activities:
                self.timeline[activity.contact_crm_id or activity.email].append(activity)
        return [WriteResult(a.writeback_id, ok=True) for a in activities]

    def update_properties(self, *, updates: Sequence[PropertyUpdate]) -> list[WriteResult]:
        with self._lock:
            for update in updates:
                key = update.contact_crm_id or update.email
                self.properties.setdefault(key, {}).update(update.properties)
        return [WriteResult(u.writeback_id, ok=True) for u in updates]

    def create_tasks(self, *, tasks: Sequence[Task]) -> list[WriteResult]:
        with self._lock:
            self.tasks.extend(tasks)
        return [WriteResult(t.writeback_id, ok=True) for t in tasks]
