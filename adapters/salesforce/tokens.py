"""One account's current Salesforce session (adapters/tokens.py), refreshed after a 401
INVALID_SESSION_ID: Salesforce's token answer has no `expires_in`, so there is nothing to
refresh ahead of. And the refresh-token grant, the port's RefreshExchange."""

from __future__ import annotations

from collections.abc import Callable

import requests

from adapters.errors import PermanentCRMError
from adapters.port import Credentials, TokenGrant
from adapters.salesforce.auth import TokenEndpoint, token_grant
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
    """The refresh-token grant at the app's token endpoint (auth.py): a RefreshExchange.
    A revoked or expired refresh token (invalid_grant), or a deactivated user or org,
    disconnects the account; a refusal of the app itself (a wrong consumer key or secret)
    does not."""

    def __init__(self, *, login_url: str, client_id: str, client_secret: str | None,
                 session_factory: Callable[[], requests.Session] = requests.Session,
                 timeout: float = 10.0) -> None:
        self._endpoint = TokenEndpoint(login_url=login_url, client_id=client_id,
                                       client_secret=client_secret, timeout=timeout,
                                       session=session_factory())

    def __call__(self, credentials: Credentials) -> TokenGrant:
        what = "refresh token"
        body = self._endpoint.post({"grant_type": "refresh_token",
                                    "refresh_token": credentials.refresh_token or ""},
                                   what=what, disconnects=True)
        return token_grant(body, what=what)
