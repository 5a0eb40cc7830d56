"""The webhook sender: turns portal changes into HubSpot events for the app's
subscriptions, batches them per portal (<= 100 per POST, after a short linger), signs each
POST (v3, and v1 as HubSpot also sends) and retries failed batches on a schedule."""

from __future__ import annotations

import base64
import hashlib
import heapq
import hmac
import itertools
import json
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import requests

from devcrm.hubspot.state import Change

MAX_BATCH = 100
DEFAULT_SCHEDULE = (0.2, 0.5, 1.0, 2.0, 4.0, 8.0, 8.0, 8.0, 8.0)  # waits between 10 tries


def sign_v3(secret: str, method: str, uri: str, body: str, timestamp: str) -> str:
    digest = hmac.new(secret.encode(), f"{method}{uri}{body}{timestamp}".encode(), hashlib.sha256)
    return base64.b64encode(digest.digest()).decode()


def sign_v1(secret: str, body: str) -> str:
    return hashlib.sha256(f"{secret}{body}".encode()).hexdigest()


@dataclass
class Subscription:
    id: int
    subscription_type: str
    property_name: str | None

    def wants(self, change: Change) -> bool:
        if change["subscriptionType"] != self.subscription_type:
            return False
        return self.property_name is None or change.get("propertyName") == self.property_name


@dataclass(order=True)
class _Retry:
    due: float
    seq: int
    batch: _Batch = field(compare=False)


@dataclass
class _Batch:
    hub_id: int
    events: list[dict[str, Any]]
    url: str
    attempt: int = 0


class WebhookSender:
    """Background delivery of the app's webhook events (one target URL, as HubSpot apps)."""

    def __init__(self, *, app_id: int, client_secret: str, linger: float = 0.05,
                 schedule: tuple[float, ...] = DEFAULT_SCHEDULE, concurrency: int = 10,
                 timeout: float = 5.0, duplicate: bool = False,
                 clock: Callable[[], float] = time.time) -> None:
        self.app_id, self.client_secret = app_id, client_secret
        self.clock = clock
        self.linger, self.schedule, self.timeout = linger, schedule, timeout
        self.duplicate = duplicate
        self.target_url: str | None = None
        self.subscriptions: list[Subscription] = []
        self.deliveries: list[tuple[int, int | str, int]] = []
        self.bodies: list[list[dict[str, Any]]] = []
        self._ids = itertools.count(1)
        self._event_ids = itertools.count(100_000_001)
        self._seq = itertools.count()
        self._pending: dict[int, list[dict[str, Any]]] = {}
        self._first_pending_at: float | None = None
        self._retries: list[_Retry] = []
        self._in_flight = 0
        self._cond = threading.Condition()
        self._stopped = False
        self._pool = ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="hs-webhook")
        self._session = requests.Session()
        self._thread = threading.Thread(target=self._run, name="hs-webhook-dispatch", daemon=True)
        self._thread.start()

    def subscribe(self, target_url: str,
                  subscriptions: list[tuple[str, str | None]]) -> list[Subscription]:
        """Replace the app's webhook config (target URL and subscription list)."""
        with self._cond:
            self.target_url = target_url
            self.subscriptions = [Subscription(next(self._ids), kind, prop)
                                  for kind, prop in subscriptions]
            return list(self.subscriptions)

    def emit(self, hub_id: int, changes: list[Change]) -> None:
        """Queue the events these changes produce for the current subscriptions."""
        with self._cond:
            if self.target_url is None or not changes:
                return
            events = [self._event(hub_id, sub, change) for change in changes
                      for sub in self.subscriptions if sub.wants(change)]
            if not events:
                return
            self._pending.setdefault(hub_id, []).extend(events)
            if self._first_pending_at is None:
                self._first_pending_at = time.monotonic()
            self._cond.notify_all()

    def drain(self, timeout: float = 10.0) -> bool:
        """Wait until nothing is pending, waiting for a retry or in flight; False on timeout."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while self._pending or self._retries or self._in_flight:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._cond.wait(min(left, 0.05))
        return True

    def stop(self) -> None:
        with self._cond:
            self._stopped = True
            self._cond.notify_all()
        self._thread.join(timeout=5)
        self._pool.shutdown(wait=False, cancel_futures=True)
        self._session.close()

    def _event(self, hub_id: int, sub: Subscription, change: Change) -> dict[str, Any]:
        event = {"eventId": next(self._event_ids), "subscriptionId": sub.id, "portalId": hub_id,
                 "appId": self.app_id, **change}
        event["sourceId"] = change.get("sourceId") or str(self.app_id)
        event["attemptNumber"] = 0
        return event

    def _run(self) -> None:
        while True:
            with self._cond:
                if self._stopped:
                    return
                now = time.monotonic()
                ready: list[_Batch] = []
                first = self._first_pending_at
                if first is not None and now - first >= self.linger:
                    for hub_id, events in self._pending.items():
                        for start in range(0, len(events), MAX_BATCH):
                            ready.append(_Batch(hub_id, events[start:start + MAX_BATCH],
                                                self.target_url or ""))
                    self._pending.clear()
                    self._first_pending_at = None
                while self._retries and self._retries[0].due <= now:
                    ready.append(heapq.heappop(self._retries).batch)
                copies = 2 if self.duplicate else 1
                for batch in ready:
                    for _ in range(copies if batch.attempt == 0 else 1):
                        self._in_flight += 1
                        self._pool.submit(self._deliver, batch)
                first = self._first_pending_at
                waits = [self.linger - (now - first)] if first is not None else []
                waits += [self._retries[0].due - now] if self._retries else []
                self._cond.wait(max(0.001, min(waits)) if waits else 0.5)

    def _deliver(self, batch: _Batch) -> None:
        outcome: int | str
        try:
            events = [{**e, "attemptNumber": batch.attempt} for e in batch.events]
            body = json.dumps(events)
            url = batch.url
            timestamp = str(int(self.clock() * 1000))
            headers = {"Content-Type": "application/json",
                       "User-Agent": "HubSpot Connect 2.0 (http://dev.hubspot.com/) - devcrm",
                       "X-HubSpot-Request-Timestamp": timestamp,
                       "X-HubSpot-Signature-v3": sign_v3(self.client_secret, "POST", url, body,
                                                         timestamp),
                       "X-HubSpot-Signature": sign_v1(self.client_secret, body),
                       "X-HubSpot-Signature-Version": "v1"}
            with self._cond:
                self.bodies.append(events)
            try:
                answer = self._session.post(url, data=body.encode(), headers=headers,
                                            timeout=self.timeout)
                outcome = answer.status_code
                ok = 200 <= answer.status_code < 300
            except requests.RequestException as exc:
                outcome, ok = type(exc).__name__, False
            with self._cond:
                self.deliveries.append((batch.attempt, outcome, len(events)))
                if not ok and batch.attempt < len(self.schedule) and not self._stopped:
                    due = time.monotonic() + self.schedule[batch.attempt]
                    retry = _Batch(batch.hub_id, batch.events, url, batch.attempt + 1)
                    heapq.heappush(self._retries, _Retry(due, next(self._seq), retry))
        finally:
            with self._cond:
                self._in_flight -= 1
                self._cond.notify_all()
