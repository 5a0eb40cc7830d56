"""The emulator's state and Python API, without the HTTP server: one connected app (client
id and secret), its orgs, tokens, the daily API limit, faults, Outbound Messages, open query
cursors and the request log."""

from __future__ import annotations

import itertools
import threading
import time
from collections.abc import Callable
from typing import Any

from devcrm.salesforce.auth import TokenStore
from devcrm.salesforce.ids import IdMaker, to18
from devcrm.salesforce.limits import DailyLimiter, Faults
from devcrm.salesforce.outbound import DEFAULT_SCHEDULE, OutboundConfig, OutboundSender
from devcrm.salesforce.state import Org

API_VERSION = "59.0"


class Emulation:
    """Everything the HTTP routes and the Python API share (thread-safe)."""

    def __init__(self, client_id: str = "devcrm-consumer-key",
                 client_secret: str = "devcrm-consumer-secret", *, api_limit: int = 15_000,
                 token_lifetime: float = 7200, query_batch: int = 2000,
                 outbound_schedule: tuple[float, ...] = DEFAULT_SCHEDULE,
                 clock: Callable[[], float] = time.time) -> None:
        # `clock` (epoch seconds) dates records and drives token expiry and the daily
        # window, so a demo on a virtual clock keeps Salesforce's time in step with ours.
        self.clock = clock
        self.client_id, self.client_secret = client_id, client_secret
        self.query_batch = query_batch
        self.orgs: dict[str, Org] = {}
        self.tokens = TokenStore(token_lifetime, clock)
        self.limiter = DailyLimiter(api_limit, clock)
        self.faults = Faults()
        self.requests: list[tuple[str, str, int, str | None]] = []
        self.cursors: dict[str, tuple[list[dict[str, Any]], str]] = {}
        self._ids = IdMaker()
        self._org_salt = itertools.count(1)
        self.outbound_sender = OutboundSender(self._ids, version=API_VERSION,
                                              schedule=outbound_schedule)
        self._lock = threading.Lock()

    @property
    def url(self) -> str:
        raise NotImplementedError

    # -- orgs and tokens -----------------------------------------------------------------
    def add_org(self, org_id: str | None = None, time_zone: str = "America/Los_Angeles"
                ) -> Org:
        """A new org with one user and a ready access token (`org.access_token`);
        `time_zone` is its default timezone (Organization.TimeZoneSidKey)."""
        ids = IdMaker(next(self._org_salt))
        org_id = to18(org_id) if org_id else ids.new("Organization")
        with self._lock:
            if org_id in self.orgs:
                raise ValueError(f"org {org_id} exists")
            org = Org(org_id, ids.new("User"), ids, self._changed, clock=self.clock)
            org.time_zone = time_zone
            self.orgs[org_id] = org
        org.access_token = self.tokens.issue_access(org_id)
        return org

    def org(self, org_id: str) -> Org:
        return self.orgs[org_id]

    def first_org(self) -> Org | None:
        with self._lock:
            return next(iter(self.orgs.values()), None)

    def issue_code(self, org: Org, redirect_uri: str | None = None,
                   code_challenge: str | None = None) -> str:
        """What the consent screen would hand the app's redirect URI for this org."""
        return self.tokens.issue_code(org.org_id, redirect_uri, code_challenge,
                                      "S256" if code_challenge else None)

    def revoke(self, org: Org) -> None:
        """The admin revoked the app: the org's tokens and refresh tokens die."""
        self.tokens.revoke(org.org_id)

    def expire_tokens(self, org: Org) -> int:
        """Expire the org's access tokens now (refresh tokens stay good)."""
        return self.tokens.expire(org.org_id)

    def identity_url(self, org: Org) -> str:
        return f"{self.url}/id/{org.org_id}/{org.user_id}"

    # -- outbound messages ---------------------------------------------------------------
    def outbound(self, org: Org, target_url: str, object: str = "Contact",
                 fields: list[str] | None = None) -> OutboundConfig:
        """An Outbound Message action: every create or change of `object` in the org is
        sent to `target_url` with these fields (Id always)."""
        if object not in ("Contact", "Lead"):
            raise ValueError("Outbound Messages here are for Contact or Lead")
        self.outbound_sender.base_url = self.url
        return self.outbound_sender.configure(org.org_id, target_url, object,
                                              fields or ["Email", "FirstName", "LastName"])

    @property
    def outbound_deliveries(self) -> list[tuple[int, int | str, int]]:
        return self.outbound_sender.deliveries

    def drain(self, timeout: float = 10.0) -> bool:
        """Wait until no Outbound Message is pending; False if that took over `timeout`."""
        return self.outbound_sender.drain(timeout)

    def _changed(self, org: Org, sobject: str, record: dict[str, Any]) -> None:
        self.outbound_sender.notify(org.org_id, sobject, record)

    # -- query cursors -------------------------------------------------------------------
    def open_cursor(self, org_id: str, rows: list[dict[str, Any]]) -> str:
        locator = self._ids.new("QueryLocator")
        with self._lock:
            self.cursors[locator] = (rows, org_id)
        return locator

    # -- request log ---------------------------------------------------------------------
    def record_request(self, method: str, path: str, status: int, org_id: str | None) -> None:
        with self._lock:
            self.requests.append((method, path, status, org_id))
