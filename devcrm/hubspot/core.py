"""The emulator's state and Python API, without the HTTP server: one app (client id and
secret, webhook config), its portals, tokens, limits, faults and the request log."""

from __future__ import annotations

import secrets
import threading
import time
from collections import Counter
from collections.abc import Callable
from typing import Any

from devcrm.hubspot.auth import TokenStore
from devcrm.hubspot.limits import Faults, RollingLimiter
from devcrm.hubspot.state import Portal
from devcrm.hubspot.webhooks import DEFAULT_SCHEDULE, Subscription, WebhookSender

DEFAULT_APP_ID = 1160452


class Emulation:
    """Everything the HTTP routes and the Python API share (thread-safe)."""

    def __init__(self, client_id: str = "devcrm-client-id",
                 client_secret: str = "devcrm-client-secret", *,
                 rate_limit: tuple[int, float] = (110, 10.0), search_rate: float = 5.0,
                 token_lifetime: int = 1800, app_id: int = DEFAULT_APP_ID,
                 webhook_linger: float = 0.05,
                 webhook_schedule: tuple[float, ...] = DEFAULT_SCHEDULE,
                 webhook_duplicates: bool = False, webhook_timeout: float = 5.0,
                 clock: Callable[[], float] = time.time) -> None:
        # `clock` (epoch seconds) dates records and events and signs webhooks: a demo on a
        # virtual clock passes its own, so HubSpot's world keeps the same time as ours.
        self.clock = clock
        self.client_id, self.client_secret, self.app_id = client_id, client_secret, app_id
        self.portals: dict[int, Portal] = {}
        self.tokens = TokenStore(token_lifetime)
        self.limiter = RollingLimiter(rate_limit[0], rate_limit[1])
        self.search_limiter = RollingLimiter(max(1, round(search_rate)), 1.0)
        self.faults = Faults()
        self.requests: list[tuple[str, str, int, int | None]] = []
        self.counters: Counter[str] = Counter()
        self.webhooks = WebhookSender(app_id=app_id, client_secret=client_secret,
                                      linger=webhook_linger, schedule=webhook_schedule,
                                      duplicate=webhook_duplicates, timeout=webhook_timeout,
                                      clock=clock)
        self._lock = threading.Lock()

    # -- portals and tokens ------------------------------------------------------------
    def add_portal(self, hub_id: int = 12345, private_token: str | None = None,
                   time_zone: str = "US/Eastern") -> Portal:
        """A new portal; its private-app token reaches only it. `time_zone` is the
        account's setting, as /account-info/v3/details answers it."""
        token = private_token or f"pat-na1-{secrets.token_hex(16)}"
        with self._lock:
            if hub_id in self.portals:
                raise ValueError(f"portal {hub_id} exists")
            portal = Portal(hub_id, token, self.webhooks.emit, clock=self.clock)
            portal.time_zone = time_zone
            self.portals[hub_id] = portal
        self.tokens.add_private(token, hub_id)
        return portal

    def portal(self, hub_id: int) -> Portal:
        return self.portals[hub_id]

    def first_hub_id(self) -> int | None:
        with self._lock:
            return next(iter(self.portals), None)

    def issue_code(self, hub_id: int, scopes: list[str] | None = None,
                   redirect_uri: str | None = None) -> str:
        """What the consent screen would hand the app's redirect URI for this portal."""
        if hub_id not in self.portals:
            raise KeyError(hub_id)
        return self.tokens.issue_code(hub_id, scopes, redirect_uri)

    def revoke(self, hub_id: int) -> None:
        """The user uninstalled the app: its tokens and refresh tokens die."""
        self.tokens.revoke(hub_id)

    def expire_tokens(self, hub_id: int) -> int:
        """Expire the portal's OAuth access tokens now (refresh tokens stay good)."""
        return self.tokens.expire(hub_id)

    # -- webhooks ---------------------------------------------------------------------
    def subscribe(self, target_url: str,
                  subscriptions: list[tuple[str, str | None]] | None = None) -> list[Subscription]:
        """Set the app's webhook config: target URL and (type, property name) pairs."""
        return self.webhooks.subscribe(target_url, subscriptions or [("contact.creation", None)])

    @property
    def webhook_deliveries(self) -> list[tuple[int, int | str, int]]:
        return self.webhooks.deliveries

    def drain(self, timeout: float = 10.0) -> bool:
        """Wait until no webhook delivery is pending; False if that took over `timeout`."""
        return self.webhooks.drain(timeout)

    # -- request log --------------------------------------------------------------------
    def record_request(self, method: str, path: str, status: int, hub_id: int | None) -> None:
        with self._lock:
            self.requests.append((method, path, status, hub_id))
            self.counters["requests"] += 1
            self.counters[f"status_{status}"] += 1
            if status == 429:
                self.counters["rate_limited"] += 1

    def stats(self) -> dict[str, Any]:
        with self._lock:
            return {"counters": dict(self.counters), "requests": len(self.requests),
                    "time": time.time()}
