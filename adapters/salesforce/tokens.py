"""One account's current Salesforce session: loaded from the credential store on first use,
refreshed through the store (once for every worker) after a 401 INVALID_SESSION_ID.
Salesforce's token answer has no `expires_in`, so there is nothing to refresh ahead of."""

from __future__ import annotations

import threading
from collections.abc import Callable

import requests

from adapters.errors import DisconnectedError, PermanentCRMError, RetryableCRMError
from adapters.port import Credentials, CredentialStore, RefreshExchange, TokenGrant

PROVIDER = "salesforce"


class AccountTokens:
    """The credentials of `account_id` only (another account's or provider's are refused),
    and always with the instance URL simple-salesforce needs."""

    def __init__(self, *, account_id: int, store: CredentialStore,
                 exchange: RefreshExchange | None) -> None:
        self._account_id = account_id
        self._store = store
        self._exchange = exchange
        self._lock = threading.Lock()
        self._credentials: Credentials | None = None
        self._org: str | None = None

    @property
    def org_id(self) -> str:
        return self.current().external_id

    def current(self) -> Credentials:
        with self._lock:
            if self._credentials is None:
                self._credentials = self._checked(self._store.load(self._account_id))
            return self._credentials

    def refresh(self, *, stale: str) -> Credentials:
        """New credentials after `stale` was refused (the store calls the exchange only if
        no other worker already did); a refused refresh disconnects the account."""
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
            raise DisconnectedError("Salesforce refused the session and there is no refresh "
                                    "token to renew it")
        return self._exchange(credentials)

    def _checked(self, credentials: Credentials) -> Credentials:
        if credentials.account_id != self._account_id or credentials.provider != PROVIDER:
            raise PermanentCRMError(
                f"the credential store answered {credentials.provider} account "
                f"{credentials.account_id} for Salesforce account {self._account_id}")
        if not credentials.instance_url:
            raise PermanentCRMError(f"Salesforce account {self._account_id} has no instance URL")
        if self._org is None:
            self._org = credentials.external_id
        elif credentials.external_id[:15] != self._org[:15]:
            raise PermanentCRMError(
                f"account {self._account_id} moved from org {self._org} to "
                f"{credentials.external_id}: build a new adapter for the new org")
        return credentials


class RefreshGrant:
    """The refresh-token grant at `{login_url}/services/oauth2/token`: a RefreshExchange.
    Salesforce answers 400 invalid_grant for a revoked or expired refresh token."""

    def __init__(self, *, login_url: str, client_id: str, client_secret: str | None,
                 session_factory: Callable[[], requests.Session] = requests.Session,
                 timeout: float = 10.0) -> None:
        self._url = login_url.rstrip("/") + "/services/oauth2/token"
        self._client_id, self._client_secret = client_id, client_secret
        self._session = session_factory()
        self._timeout = timeout

    def __call__(self, credentials: Credentials) -> TokenGrant:
        form = {"grant_type": "refresh_token", "client_id": self._client_id,
                "refresh_token": credentials.refresh_token or ""}
        if self._client_secret:
            form["client_secret"] = self._client_secret
        try:
            response = self._session.post(self._url, data=form, timeout=self._timeout)
        except requests.RequestException as exc:
            raise RetryableCRMError(f"Salesforce token refresh: no answer ({exc})") from exc
        try:
            body = response.json()
        except ValueError:
            body = {}
        if response.status_code >= 500:
            raise RetryableCRMError(f"Salesforce token refresh: {response.status_code}")
        if response.status_code != 200 or not isinstance(body, dict) \
                or not body.get("access_token"):
            error = body.get("error") if isinstance(body, dict) else None
            raise DisconnectedError(
                f"Salesforce refused the refresh token ({error or response.status_code})")
        return TokenGrant(access_token=str(body["access_token"]),
                          refresh_token=body.get("refresh_token") or None,
                          expires_at=None, instance_url=body.get("instance_url") or None)
