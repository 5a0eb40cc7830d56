"""Rate limits (HubSpot's rolling window per portal, search's own per-second limit) and
injected faults."""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from devcrm.hubspot.errors import correlation_id


class RollingLimiter:
    """At most `limit` requests per `window` seconds per key, counted when admitted."""

    def __init__(self, limit: int, window: float,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.limit, self.window, self.clock = limit, window, clock
        self._hits: dict[Any, deque[float]] = {}
        self._lock = threading.Lock()

    def admit(self, key: Any) -> tuple[bool, int]:
        """(admitted, remaining after this request)."""
        now = self.clock()
        with self._lock:
            hits = self._hits.setdefault(key, deque())
            while hits and hits[0] <= now - self.window:
                hits.popleft()
            if len(hits) >= self.limit:
                return False, 0
            hits.append(now)
            return True, self.limit - len(hits)

    def recent(self, key: Any, seconds: float = 1.0) -> int:
        """How many admitted requests of `key` fall in the last `seconds`."""
        since = self.clock() - seconds
        with self._lock:
            return sum(1 for t in self._hits.get(key, ()) if t > since)


def rate_limit_body(policy: str, hub_id: int | None, app_id: int) -> dict[str, Any]:
    """HubSpot's 429 body; `policy` is TEN_SECONDLY_ROLLING or SECONDLY."""
    name = policy.lower() if policy != "SECONDLY" else "secondly"
    return {"status": "error", "message": f"You have reached your {name} limit.",
            "errorType": "RATE_LIMIT", "correlationId": correlation_id(),
            "policyName": policy, "groupName": f"publicapi:oauth:{app_id}:{hub_id or 0}"}


@dataclass
class Fault:
    """Answer the next `count` matching requests with `status` (after `delay` seconds), or
    only delay them when status is None."""

    count: int = 1
    status: int | None = None
    delay: float = 0.0
    path_prefix: str = ""
    method: str | None = None
    body: str | None = None  # "html" or "json"; by default HTML for 502-504, else JSON

    def matches(self, method: str, path: str) -> bool:
        return path.startswith(self.path_prefix) and self.method in (None, method.upper())

    def to_json(self) -> dict[str, Any]:
        return {"count": self.count, "status": self.status, "delay": self.delay,
                "path_prefix": self.path_prefix, "method": self.method, "body": self.body}


class Faults:
    """The queue of configured faults, each consumed one per matching request."""

    def __init__(self) -> None:
        self._faults: list[Fault] = []
        self._lock = threading.Lock()

    def add(self, status: int | None = None, count: int = 1, path_prefix: str = "",
            delay: float = 0.0, method: str | None = None, body: str | None = None) -> Fault:
        if count < 1:
            raise ValueError("count must be at least 1")
        if status is None and delay <= 0:
            raise ValueError("a fault needs a status or a delay")
        fault = Fault(count, status, delay, path_prefix, method.upper() if method else None, body)
        with self._lock:
            self._faults.append(fault)
        return fault

    def take(self, method: str, path: str) -> Fault | None:
        with self._lock:
            for fault in self._faults:
                if fault.matches(method, path):
                    fault.count -= 1
                    if fault.count == 0:
                        self._faults.remove(fault)
                    return fault
        return None

    def clear(self) -> None:
        with self._lock:
            self._faults.clear()

    def pending(self) -> list[dict[str, Any]]:
        with self._lock:
            return [f.to_json() for f in self._faults]
