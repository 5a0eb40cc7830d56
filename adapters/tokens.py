"""One account's current credentials, for any adapter: loaded from the credential store on
first use, refreshed through the store (once for every worker), a refused refresh
disconnecting the account. Only that account's credentials are accepted: a store answering
another account's, another provider's, or another portal's or org's is refused, so one
customer's token never reaches another's data. Each provider's `tokens.py` says what its
vendor calls things and what else it checks."""

from __future__ import annotations

import threading
from typing import ClassVar

from adapters.errors import DisconnectedError, PermanentCRMError
from adapters.port import Credentials, CredentialStore, RefreshExchange, TokenGrant


class AccountTokens:
    provider: ClassVar[str]
    vendor: ClassVar[str]  # "HubSpot": how errors name the CRM
    home: ClassVar[str]  # what the external id names: "portal", "org"
    refused: ClassVar[str]  # what the CRM refused when it cannot be renewed

    def __init__(self, *, account_id: int, store: CredentialStore,
                 exchange: RefreshExchange | None) -> None:
        self._account_id = account_id
        self._store = store
        self._exchange = exchange
        self._lock = threading.Lock()
        self._credentials: Credentials | None = None
        self._home: str | None = None

    def current(self) -> Credentials:
        with self._lock:
            if self._credentials is None:
                self._credentials = self._checked(self._store.load(self._account_id))
            return self._credentials

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
            # A token given by hand (a private app) cannot be renewed: the CRM refusing it
            # means the account has lost its access.
            raise DisconnectedError(f"{self.vendor} refused {self.refused} and there is no "
                                    "refresh token to renew it")
        return self._exchange(credentials)

    def _checked(self, credentials: Credentials) -> Credentials:
        if credentials.account_id != self._account_id or credentials.provider != self.provider:
            raise PermanentCRMError(
                f"the credential store answered {credentials.provider} account "
                f"{credentials.account_id} for {self.vendor} account {self._account_id}")
        self._check(credentials)
        if self._home is None:
            self._home = credentials.external_id
        elif not self._same_home(credentials.external_id, self._home):
            raise PermanentCRMError(
                f"account {self._account_id} moved from {self.home} {self._home} to "
                f"{credentials.external_id}: build a new adapter for the new {self.home}")
        return credentials

    def _check(self, credentials: Credentials) -> None:
        """What else the provider needs of its credentials."""

    @staticmethod
    def _same_home(a: str, b: str) -> bool:
        return a == b
