"""SalesforceEmulator: the emulation served over a threaded HTTP server on 127.0.0.1. Its
Python API (add_org, issue_code, revoke, expire_tokens, outbound, drain, faults, requests)
is in core.Emulation; an org's data and actions are in state.Org."""

from __future__ import annotations

import time
from collections.abc import Callable

from devcrm.salesforce.app import create_app
from devcrm.salesforce.core import Emulation
from devcrm.salesforce.outbound import DEFAULT_SCHEDULE
from devcrm.serving import Served


class SalesforceEmulator(Served, Emulation):
    """A local Salesforce (one connected app, any number of orgs) over real HTTP; port 0
    picks a free port. Also a context manager (start on enter, stop on exit)."""

    def __init__(self, client_id: str = "devcrm-consumer-key",
                 client_secret: str = "devcrm-consumer-secret", *, api_limit: int = 15_000,
                 token_lifetime: float = 7200, query_batch: int = 2000,
                 outbound_schedule: tuple[float, ...] = DEFAULT_SCHEDULE,
                 host: str = "127.0.0.1", port: int = 0,
                 clock: Callable[[], float] = time.time) -> None:
        super().__init__(client_id, client_secret, api_limit=api_limit,
                         token_lifetime=token_lifetime, query_batch=query_batch,
                         outbound_schedule=outbound_schedule, clock=clock)
        self.host, self.port = host, port
        self.app = create_app(self)

    thread_name = "salesforce-emulator"

    def _started(self) -> None:
        self.outbound_sender.base_url = self.url

    def _stopped(self) -> None:
        self.outbound_sender.stop()
