"""Each account's CRM adapter, built from its stored credentials, the shared rate limiter
and the deployment's app settings: the one place the core names a vendor's adapter.

Adapters are cached per account for the life of the process (they hold an HTTP session
and their credentials; a refreshed token is re-read from the store, so every worker sees
another's refresh)."""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING

from adapters.port import CRMAdapter
from adapters.standalone import StandaloneCRM

if TYPE_CHECKING:
    from redis import Redis

    from connector.clock import Clock
    from connector.crypto import Vault
    from connector.db import Database
    from connector.models import Account
    from connector.settings import Settings


class CrmAdapters:
    def __init__(self, *, settings: Settings, db: Database, vault: Vault, redis: Redis,
                 clock: Clock, fixed: dict[str, CRMAdapter]) -> None:
        self._settings, self._db, self._vault = settings, db, vault
        self._redis, self._clock = redis, clock
        # One adapter for every account of a provider: the in-memory CRM of simulations,
        # the demo's and unit tests' stand-ins.
        self.fixed = fixed
        self._built: dict[int, CRMAdapter] = {}
        self._lock = threading.Lock()

    def for_account(self, account: Account) -> CRMAdapter:
        if account.provider in self.fixed:
            return self.fixed[account.provider]
        with self._lock:
            adapter = self._built.get(account.id)
            if adapter is None:
                adapter = self._built[account.id] = self._build(account)
            return adapter

    def forget(self, account_id: int) -> None:
        """Drop the cached adapter (the account was reinstalled or disconnected)."""
        with self._lock:
            self._built.pop(account_id, None)

    def _build(self, account: Account) -> CRMAdapter:
        if account.provider == "hubspot":
            return self._hubspot(account)
        if account.provider == "salesforce":
            return self._salesforce(account)
        # A standalone account has no CRM: its writes succeed and are not kept.
        return self.fixed.setdefault(account.provider, StandaloneCRM())

    def _salesforce(self, account: Account) -> CRMAdapter:
        from adapters.salesforce.adapter import SalesforceCRM
        from adapters.salesforce.client import SalesforceConfig
        from adapters.salesforce.tokens import RefreshGrant
        from connector.ratelimit import RedisRateLimiter
        from connector.services.credentials import DatabaseCredentialStore

        settings = self._settings
        exchange = None
        if settings.salesforce_client_id:
            exchange = RefreshGrant(login_url=settings.salesforce_login_url,
                                    client_id=settings.salesforce_client_id,
                                    client_secret=settings.salesforce_client_secret,
                                    timeout=settings.crm_request_timeout)
        return SalesforceCRM(
            account_id=account.id,
            store=DatabaseCredentialStore(self._db, self._vault, self._clock),
            limiter=RedisRateLimiter(self._redis),
            config=SalesforceConfig(timeout=settings.crm_request_timeout,
                                    api_share=settings.salesforce_api_share),
            exchange=exchange,
            now=self._clock.now,
        )

    def _hubspot(self, account: Account) -> CRMAdapter:
        from adapters.hubspot.adapter import HubSpotCRM
        from adapters.hubspot.auth import HubSpotOAuth
        from adapters.hubspot.client import HubSpotConfig
        from connector.ratelimit import RedisRateLimiter
        from connector.services.credentials import DatabaseCredentialStore

        settings = self._settings
        oauth = None
        if settings.hubspot_client_id and settings.hubspot_client_secret:
            oauth = HubSpotOAuth(settings.hubspot_client_id, settings.hubspot_client_secret,
                                 settings.hubspot_api_base, settings.hubspot_auth_url,
                                 settings.crm_request_timeout, clock=self._clock)
        config = HubSpotConfig(
            api_base=settings.hubspot_api_base,
            client_id=settings.hubspot_client_id or "",
            client_secret=settings.hubspot_client_secret or "",
            rate_limit=settings.hubspot_rate,
            search_rate=settings.hubspot_search_rate,
            timeout=settings.crm_request_timeout,
        )
        return HubSpotCRM(
            account_id=account.id,
            store=DatabaseCredentialStore(self._db, self._vault, self._clock),
            limiter=RedisRateLimiter(self._redis),
            config=config,
            exchange=oauth.refresh if oauth is not None else None,
            now=self._clock.now,
            prepared=account.crm_prepared_at is not None,
        )
