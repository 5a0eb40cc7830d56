"""One account's current HubSpot token: loaded from the credential store on first use,
refreshed through the store (once for every worker) ahead of expiry and after a 401."""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import datetime, timedelta

from adapters.errors import DisconnectedError, PermanentCRMError
from adapters.port import Credentials, CredentialStore, RefreshExchange, TokenGrant

PROVIDER = "hubspot"
# HubSpot's access tokens live 30 minutes; refreshing with 5 left keeps a slow batch from
# carrying a token that dies on the way.
REFRESH_AHEAD = timedelta(minutes=5)


class AccountTokens:
    """The credentials of `account_id` only: a store answering another account's or
    another provider's credentials is refused, so one portal's token never reaches another."""

    def __init__(self, *, account_id: int, store: CredentialStore,
                 exchange: RefreshExchange | None, now: Callable[[], datetime]) -> None:
        self._account_id = account_id
        self._store = store
        self._exchange = exchange
        self._now = now
        self._lock = threading.Lock()
        self._credentials: Credentials | None = None
        self._portal: str | None = None

    @property
    def portal(self) -> str:
        """The portal (hub) id the account's tokens belong to."""
        return self.current().external_id

    def current(self) -> Credentials:
        with self._lock:
            if self._credentials is None:
                self._credentials = self._checked(self._store.load(self._account_id))
            credentials = self._credentials
        expires_at = credentials.expires_at
        if (expires_at is not None and credentials.refresh_token is not None
                and expires_at - self._now() < REFRESH_AHEAD):
            return self.refresh(stale=credentials.access_token)
        return credentials

    def refresh(self, *, stale: str) -> Credentials:
        """New credentials after `stale` was refused or is about to expire (the store calls
        the exchange only if no other worker already did)."""
        try:
            fresh = self._store.refresh(self._account_id, stale, self._refresh_exchange)
        except DisconnectedError as exc:
            with self._lock:
                self._credentials = None
            self._store.disconnect(self._account_id, str(exc))
            raise
        with self._lock:
            self._credentials = self._checked(fresh)
            return self._credentials

    def _refresh_exchange(self, credentials: Credentials) -> TokenGrant:
        if self._exchange is None or credentials.refresh_token is None:
            # A private-app token (or an install without a refresh token) cannot be renewed:
            # HubSpot refusing it means the account has lost its access.
            raise DisconnectedError("HubSpot refused the access token and there is no "
                                    "refresh token to renew it")
        return self._exchange(credentials)

    def _checked(self, credentials: Credentials) -> Credentials:
        if credentials.account_id != self._account_id or credentials.provider != PROVIDER:
            raise PermanentCRMError(
                f"the credential store answered {credentials.provider} account "
                f"{credentials.account_id} for HubSpot account {self._account_id}")
        if self._portal is None:
            self._portal = credentials.external_id
        elif credentials.external_id != self._portal:
            raise PermanentCRMError(
                f"account {self._account_id} moved from portal {self._portal} to "
                f"{credentials.external_id}: build a new adapter for the new portal")
        return credentials
