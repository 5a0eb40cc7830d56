"""One account's current HubSpot token (adapters/tokens.py), refreshed ahead of expiry as
well as after a 401."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

from adapters.port import Credentials, CredentialStore, RefreshExchange
from adapters.tokens import AccountTokens as BaseTokens

PROVIDER = "hubspot"
# HubSpot's access tokens live 30 minutes; refreshing with 5 left keeps a slow batch from
# carrying a token that dies on the way.
REFRESH_AHEAD = timedelta(minutes=5)


class AccountTokens(BaseTokens):
    provider, vendor, home, refused = PROVIDER, "HubSpot", "portal", "the access token"

    def __init__(self, *, account_id: int, store: CredentialStore,
                 exchange: RefreshExchange | None, now: Callable[[], datetime]) -> None:
        super().__init__(account_id=account_id, store=store, exchange=exchange)
        self._now = now

    @property
    def portal(self) -> str:
        """The portal (hub) id the account's tokens belong to."""
        return self.current().external_id

    def current(self) -> Credentials:
        credentials = super().current()
        expires_at = credentials.expires_at
        if (expires_at is not None and credentials.refresh_token is not None
                and expires_at - self._now() < REFRESH_AHEAD):
            return self.refresh(stale=credentials.access_token)
        return credentials
