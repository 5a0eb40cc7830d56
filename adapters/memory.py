"""An in-memory CRM: the fake at the edge for unit tests and the demo, until the HubSpot
and Salesforce adapters land. It keeps what was written, per contact, in order."""

from __future__ import annotations

import threading
from collections import defaultdict
from collections.abc import Sequence

from adapters.port import EmailActivity, WriteResult


class InMemoryCRM:
    provider = "memory"

    def __init__(self) -> None:
        self.timeline: dict[str, list[EmailActivity]] = defaultdict(list)
        self._lock = threading.Lock()

    def write_activities(self, *, activities: Sequence[EmailActivity]) -> list[WriteResult]:
        with self._lock:
            for activity in activities:
                self.timeline[activity.contact_crm_id or activity.email].append(activity)
        return [WriteResult(a.writeback_id, ok=True) for a in activities]

    def written(self) -> list[EmailActivity]:
        with self._lock:
            return [a for items in self.timeline.values() for a in items]
