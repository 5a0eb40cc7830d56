"""One account's current Salesforce session (adapters/tokens.py), refreshed after a 401
INVALID_SESSION_ID: Salesforce's token answer has no `expires_in`, so there is nothing to
refresh ahead of. And the refresh-token grant, the port's RefreshExchange."""

from __future__ import annotations

from collections.abc import Callable

import requests

from adapters.errors import DisconnectedError, PermanentCRMError, RetryableCRMError
from adapters.port import Credentials, TokenGrant
from adapters.tokens import AccountTokens as BaseTokens

PROVIDER = "salesforce"


class AccountTokens(BaseTokens):
    """Always with the instance URL simple-salesforce needs; the org compared on its
    15-character id (Salesforce gives ids in 15 and 18 character forms)."""

    provider, vendor, home, refused = PROVIDER, "Salesforce", "org", "the session"

    @property
    def org_id(self) -> str:
        return self.current().external_id

    def _check(self, credentials: Credentials) -> None:
        if not credentials.instance_url:
            raise PermanentCRMError(
                f"Salesforce account {credentials.account_id} has no instance URL")

    @staticmethod
    def _same_home(a: str, b: str) -> bool:
        return a[:15] == b[:15]


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
