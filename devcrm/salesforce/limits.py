"""The org's daily API request limit (a rolling 24 hours, counted per admitted request, as
Sforce-Limit-Info reports it) and injected faults (shared with the HubSpot emulator)."""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable

from devcrm.hubspot.limits import Fault, Faults

__all__ = ["DailyLimiter", "Fault", "Faults"]
DAY = 86_400.0


class DailyLimiter:
    """At most `limit` API requests per org in any 24 hours of `clock`."""

    def __init__(self, limit: int, clock: Callable[[], float] = time.time) -> None:
        self.limit, self.clock = limit, clock
        self._hits: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def admit(self, org_id: str) -> tuple[bool, int]:
        """(admitted, requests used in the window including this one)."""
        now = self.clock()
        with self._lock:
            hits = self._hits.setdefault(org_id, deque())
            while hits and hits[0] <= now - DAY:
                hits.popleft()
            if len(hits) >= self.limit:
                return False, len(hits)
            hits.append(now)
            return True, len(hits)

    def used(self, org_id: str) -> int:
        now = self.clock()
        with self._lock:
            return sum(1 for t in self._hits.get(org_id, ()) if t > now - DAY)
