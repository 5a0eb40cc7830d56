"""RQ queues by role. Redis holds only transport state: every job is re-derivable from the
database (the scheduler re-enqueues what a Redis flush lost)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from redis import Redis
from rq import Queue, Retry

QUEUE_NAMES = ("events", "send", "crm", "scheduler")

# Transient failures (SMTP 4xx, CRM 429) are retried by RQ; the ledger keeps retries safe.
DEFAULT_RETRY = Retry(max=5, interval=[2, 10, 60, 300, 900])


WAKE_MARKER_MS = 5000


class Queues:
    def __init__(self, redis: Redis) -> None:
        self.redis = redis
        self.by_name = {name: Queue(name, connection=redis) for name in QUEUE_NAMES}

    def __getitem__(self, name: str) -> Queue:
        return self.by_name[name]

    def all(self) -> list[Queue]:
        return list(self.by_name.values())

    def wake(self, name: str, func: Callable[[], Any], *, marker: str) -> bool:
        """Enqueue `func` unless a run of it is already queued and not yet started.

        The hot path's coalesced wake-up: one SET NX per request instead of one job per
        request. The job deletes `marker` BEFORE it looks for work, so a row committed
        after it looked always finds either a fresh job or a queued one. The expiry only
        covers a lost job (the scheduler's recovery covers the rest).
        """
        if not self.redis.set(marker, b"1", nx=True, px=WAKE_MARKER_MS):
            return False
        self.enqueue(name, func)
        return True

    def enqueue(self, name: str, func: Callable[..., Any], *args: Any, **options: Any) -> None:
        options.setdefault("retry", DEFAULT_RETRY)
        options.setdefault("result_ttl", 0)
        options.setdefault("failure_ttl", 7 * 24 * 3600)
        self.by_name[name].enqueue(func, *args, **options)
