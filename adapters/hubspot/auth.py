"""HubSpot OAuth: the consent URL, the code exchange and the token refresh, on the
current token endpoint (`POST /oauth/2026-03/token`; v1 is deprecated and sunsets
2027-02-16, and it is the only one the client library wraps, so this is plain HTTP)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any, NamedTuple, Protocol
from urllib.parse import quote

import requests

from adapters.errors import DisconnectedError, PermanentCRMError, RetryableCRMError
from adapters.http import json_object
from adapters.port import Credentials, TokenGrant

TOKEN_PATH = "/oauth/2026-03/token"
# What HubSpot answers for a refresh token it no longer honours (revoked, app uninstalled);
# v1 says it in `status`, the OAuth 2 spelling in `error`, the v3 shape in `category`.
REFUSED_REFRESH = frozenset({"BAD_REFRESH_TOKEN", "invalid_grant", "INVALID_GRANT"})


class Clock(Protocol):
    def now(self) -> datetime: ...


class Installed(NamedTuple):
    """What the code exchange answered: the tokens, whose portal, which scopes."""

    grant: TokenGrant
    hub_id: str
    scopes: tuple[str, ...]


def authorize_url(auth_url: str, *, client_id: str, redirect_uri: str, scopes: Sequence[str],
                  optional_scopes: Sequence[str] = (), state: str) -> str:
    """The consent screen's URL; scopes are space-separated (urlencoded as %20)."""
    query: dict[str, str] = {"client_id": client_id, "redirect_uri": redirect_uri,
                             "scope": " ".join(scopes)}
    if optional_scopes:
        query["optional_scope"] = " ".join(optional_scopes)
    query["state"] = state
    separator = "&" if "?" in auth_url else "?"
    # Spaces as %20 (HubSpot's docs), not urlencode's "+".
    return auth_url + separator + "&".join(f"{k}={quote(v, safe='')}" for k, v in query.items())


def parse_token_response(body: Mapping[str, Any], now: datetime) -> Installed:
    """A token endpoint's JSON as a grant expiring `expires_in` seconds after `now`.
    HubSpot's reference shows both snake_case and camelCase keys: either is read."""
    access = body.get("access_token", body.get("accessToken"))
    if not isinstance(access, str) or not access:
        raise PermanentCRMError("HubSpot's token endpoint answered no access_token")
    refresh = body.get("refresh_token", body.get("refreshToken"))
    expires_in = body.get("expires_in", body.get("expiresIn"))
    expires_at = None
    if isinstance(expires_in, int | float) and not isinstance(expires_in, bool):
        expires_at = now + timedelta(seconds=float(expires_in))
    hub_id = body.get("hub_id", body.get("hubId"))
    scopes = body.get("scopes") or ()
    return Installed(
        grant=TokenGrant(access_token=access,
                         refresh_token=refresh if isinstance(refresh, str) and refresh else None,
                         expires_at=expires_at),
        hub_id="" if hub_id is None or isinstance(hub_id, bool) else str(hub_id),
        scopes=tuple(str(s) for s in scopes) if isinstance(scopes, list) else (),
    )


class HubSpotOAuth:
    """One HubSpot app's OAuth client. `refresh` is a port `RefreshExchange`."""

    def __init__(self, client_id: str, client_secret: str, api_base: str, auth_url: str,
                 timeout: float, *, clock: Clock,
                 session: requests.Session | None = None) -> None:
        self.client_id = client_id
        self._client_secret = client_secret
        self.api_base = api_base.rstrip("/")
        self.auth_url = auth_url
        self.timeout = timeout
        self._clock = clock
        self._post = session.post if session is not None else requests.post

    def authorize_url(self, redirect_uri: str, scopes: Sequence[str],
                      optional_scopes: Sequence[str], state: str) -> str:
        return authorize_url(self.auth_url, client_id=self.client_id, redirect_uri=redirect_uri,
                             scopes=scopes, optional_scopes=optional_scopes, state=state)

    def exchange_code(self, code: str, redirect_uri: str) -> Installed:
        """Trade the consent screen's code for tokens; unpacks as (grant, hub_id, scopes)."""
        installed = self._token({"grant_type": "authorization_code", "code": code,
                                 "redirect_uri": redirect_uri}, refreshing=False)
        if not installed.hub_id.isdigit():
            raise PermanentCRMError("HubSpot's token endpoint answered no hub_id")
        return installed

    def refresh(self, credentials: Credentials) -> TokenGrant:
        """A new access token for these credentials; DisconnectedError when HubSpot refuses
        the refresh token (the app was uninstalled or the token revoked)."""
        if not credentials.refresh_token:
            raise DisconnectedError("no refresh token stored: install the app again")
        installed = self._token({"grant_type": "refresh_token",
                                 "refresh_token": credentials.refresh_token}, refreshing=True)
        grant = installed.grant
        if grant.refresh_token is None:  # HubSpot may not repeat it: the old one still holds
            grant = TokenGrant(grant.access_token, credentials.refresh_token, grant.expires_at)
        return grant

    def _token(self, form: dict[str, str], *, refreshing: bool) -> Installed:
        # v3 takes everything in the form body (v1 took some of it in the query string,
        # where secrets end up in logs).
        data = {**form, "client_id": self.client_id, "client_secret": self._client_secret}
        now = self._clock.now()  # before asking: the token cannot outlive the expiry we keep
        try:
            response = self._post(self.api_base + TOKEN_PATH, data=data,
                                  headers={"Accept": "application/json"}, timeout=self.timeout)
        except requests.Timeout as exc:
            raise RetryableCRMError(f"HubSpot's token endpoint timed out: {exc}") from exc
        except requests.RequestException as exc:
            raise RetryableCRMError(f"HubSpot's token endpoint is unreachable: {exc}") from exc
        body = json_object(response)
        if response.status_code == 200:
            return parse_token_response(body, now)
        raise _error(response, body, refreshing=refreshing)


def _error(response: requests.Response, body: Mapping[str, Any], *, refreshing: bool
           ) -> Exception:
    status = response.status_code
    message = str(body.get("message") or body.get("error_description") or body.get("error")
                  or response.reason or "no message")
    codes = {str(body.get(k)) for k in ("status", "error", "category") if body.get(k)}
    what = f"HubSpot's token endpoint answered {status}"
    if status == 429 or status >= 500:
        retry_after = response.headers.get("Retry-After", "")
        return RetryableCRMError(f"{what}: {message}",
                                 retry_after=float(retry_after) if retry_after.isdigit() else None)
    if refreshing and status == 400 and codes & REFUSED_REFRESH:
        return DisconnectedError(f"HubSpot refused the refresh token: {message}")
    return PermanentCRMError(f"{what} ({', '.join(sorted(codes)) or 'error'}): {message}")
