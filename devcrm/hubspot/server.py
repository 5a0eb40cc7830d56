"""HubSpotEmulator: the emulation served over a threaded HTTP server on 127.0.0.1. Its
Python API (add_portal, issue_code, revoke, expire_tokens, subscribe, drain, faults,
requests, webhook_deliveries) is in core.Emulation; a portal's data and actions are in
state.Portal."""

from __future__ import annotations

import time
from collections.abc import Callable

from devcrm.hubspot.app import create_app
from devcrm.hubspot.core import DEFAULT_APP_ID, Emulation
from devcrm.hubspot.webhooks import DEFAULT_SCHEDULE
from devcrm.serving import Served


class HubSpotEmulator(Served, Emulation):
    """A local HubSpot (one app, any number of portals) over real HTTP; port 0 picks a free
    port. Also a context manager (start on enter, stop on exit)."""

    def __init__(self, client_id: str = "devcrm-client-id",
                 client_secret: str = "devcrm-client-secret", *,
                 rate_limit: tuple[int, float] = (110, 10.0), search_rate: float = 5.0,
                 token_lifetime: int = 1800, app_id: int = DEFAULT_APP_ID,
                 host: str = "127.0.0.1", port: int = 0,
                 webhook_linger: float = 0.05,
                 webhook_schedule: tuple[float, ...] = DEFAULT_SCHEDULE,
                 webhook_duplicates: bool = False, webhook_timeout: float = 5.0,
                 clock: Callable[[], float] = time.time) -> None:
        super().__init__(client_id, client_secret, rate_limit=rate_limit,
                         search_rate=search_rate, token_lifetime=token_lifetime, app_id=app_id,
                         webhook_linger=webhook_linger, webhook_schedule=webhook_schedule,
                         webhook_duplicates=webhook_duplicates, webhook_timeout=webhook_timeout,
                         clock=clock)
        self.host, self.port = host, port
        self.app = create_app(self)

    thread_name = "hubspot-emulator"

    def _stopped(self) -> None:
        self.webhooks.stop()
