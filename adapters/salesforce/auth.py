"""Salesforce OAuth, the web-server flow with PKCE: the verifier and its S256 challenge, the
authorize URL, the token endpoint every grant posts to (one error mapping for the
authorization code here and the refresh token in tokens.py), and the code exchange, whose
answer names the org through its identity URL (`.../id/<orgId>/<userId>`)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from collections.abc import Mapping, Sequence
from typing import Any, NamedTuple
from urllib.parse import quote, urlencode, urlsplit

import requests

from adapters.errors import DisconnectedError, PermanentCRMError, RetryableCRMError
from adapters.http import json_object
from adapters.port import TokenGrant
from adapters.salesforce import valid_org_id
from adapters.salesforce.ids import is_id
from adapters.salesforce.transport import is_loopback

AUTHORIZE_PATH = "/services/oauth2/authorize"
TOKEN_PATH = "/services/oauth2/token"
# What Salesforce answers (400) for a grant it no longer honours: a revoked or expired
# refresh token, a deactivated user or org. Any other refusal is the deployment's (a wrong
# consumer key or secret): it must not cost every org its tokens.
REFUSED_GRANT = frozenset({"invalid_grant", "inactive_user", "inactive_org"})
# Too many token requests for the org or the app: it heals by itself.
TRY_LATER = frozenset({"rate_limit_exceeded"})
_MESSAGE = 200  # characters of Salesforce's own text kept in an error


class Pkce(NamedTuple):
    verifier: str  # kept with the state, sent with the code
    challenge: str  # sent to the authorize URL


def new_pkce() -> Pkce:
    """A fresh verifier (86 URL-safe characters; RFC 7636 asks for 43 to 128) and its
    S256 challenge."""
    verifier = secrets.token_urlsafe(64)
    return Pkce(verifier, s256(verifier))


def s256(verifier: str) -> str:
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def authorize_url(login_url: str, *, client_id: str, redirect_uri: str, scopes: Sequence[str],
                  state: str, code_challenge: str) -> str:
    """Where the admin logs in and approves the app; scopes space-separated (as %20)."""
    query = {"response_type": "code", "client_id": client_id, "redirect_uri": redirect_uri,
             "scope": " ".join(scopes), "state": state, "code_challenge": code_challenge,
             "code_challenge_method": "S256"}
    return (login_url.rstrip("/") + AUTHORIZE_PATH + "?"
            + urlencode(query, safe="", quote_via=quote))


def is_salesforce_origin(url: str) -> bool:
    """An origin the connector may send tokens to: https, or plain http on this machine
    (a local emulator); scheme and host only, no path, query or user."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    secure = parts.scheme == "https" or (parts.scheme == "http" and is_loopback(host))
    return (secure and bool(host) and parts.path in ("", "/") and not parts.query
            and not parts.fragment and "@" not in parts.netloc)


class Authorized(NamedTuple):
    """What the code exchange answered: the tokens (with the instance URL), whose org and
    which user approved."""

    grant: TokenGrant
    org_id: str
    user_id: str


class TokenEndpoint:
    """`{login_url}/services/oauth2/token` for one connected app: posts a grant's form with
    the app's credentials and answers the JSON. Raises RetryableCRMError for no answer, a
    429, a 5xx or rate_limit_exceeded; DisconnectedError for a refused grant when
    `disconnects` (the refresh token: the org took its access back); PermanentCRMError for
    anything else."""

    def __init__(self, *, login_url: str, client_id: str, client_secret: str | None,
                 timeout: float, session: requests.Session | None = None) -> None:
        self.url = login_url.rstrip("/") + TOKEN_PATH
        self.client_id = client_id
        self._client_secret = client_secret
        self._timeout = timeout
        self._post = session.post if session is not None else requests.post

    def post(self, form: Mapping[str, str], *, what: str, disconnects: bool) -> dict[str, Any]:
        data = {**form, "client_id": self.client_id}
        if self._client_secret:
            data["client_secret"] = self._client_secret
        try:
            # No redirects: a 307 would post the secret wherever it pointed.
            response = self._post(self.url, data=data, headers={"Accept": "application/json"},
                                  timeout=self._timeout, allow_redirects=False)
        except requests.RequestException as exc:
            raise RetryableCRMError(f"Salesforce's token endpoint did not answer for the {what} "
                                    f"({exc})") from exc
        body = json_object(response)
        if response.status_code == 200:
            if not isinstance(body.get("access_token"), str) or not body["access_token"]:
                raise PermanentCRMError("Salesforce's token endpoint answered no access_token "
                                        f"for the {what}")
            return body
        raise self._error(response, body, what=what, disconnects=disconnects)

    def check_signature(self, body: Mapping[str, Any]) -> None:
        """Salesforce signs `id + issued_at` with the consumer secret (HMAC-SHA256, base64):
        with a secret configured, an answer it did not sign is refused."""
        if not self._client_secret:
            return
        signed = f"{body.get('id', '')}{body.get('issued_at', '')}".encode()
        expected = base64.b64encode(hmac.new(self._client_secret.encode(), signed,
                                             hashlib.sha256).digest()).decode()
        given = body.get("signature")
        if not isinstance(given, str) or not hmac.compare_digest(expected, given):
            raise PermanentCRMError("Salesforce's token answer is not signed with this app's "
                                    "consumer secret (SALESFORCE_CLIENT_SECRET)")

    @staticmethod
    def _error(response: requests.Response, body: Mapping[str, Any], *, what: str,
               disconnects: bool) -> Exception:
        status = response.status_code
        code = str(body.get("error") or status)
        message = str(body.get("error_description") or response.reason or "no message")
        said = f"{code}: {message[:_MESSAGE]}"
        if status == 429 or status >= 500 or code in TRY_LATER:
            retry_after = response.headers.get("Retry-After", "")
            return RetryableCRMError(f"Salesforce's token endpoint answered {status} for the "
                                     f"{what} ({said})",
                                     retry_after=float(retry_after) if retry_after.isdigit()
                                     else None)
        if disconnects and code in REFUSED_GRANT:
            return DisconnectedError(f"Salesforce refused the {what} ({said})")
        return PermanentCRMError(f"Salesforce's token endpoint answered {status} for the "
                                 f"{what} ({said})")


def token_grant(body: Mapping[str, Any], *, what: str) -> TokenGrant:
    """A token answer as a grant. No expiry: Salesforce answers none, the session is
    refreshed when the API answers 401."""
    refresh = body.get("refresh_token")
    instance = body.get("instance_url")
    if instance is not None and not (isinstance(instance, str)
                                     and is_salesforce_origin(instance)):
        raise PermanentCRMError(f"Salesforce answered the {what} with an instance_url that "
                                f"is not an https origin: {str(instance)[:_MESSAGE]!r}")
    return TokenGrant(access_token=str(body["access_token"]),
                      refresh_token=refresh if isinstance(refresh, str) and refresh else None,
                      expires_at=None, instance_url=instance or None)


def identity_ids(identity_url: object) -> tuple[str, str]:
    """(org id, user id) from the identity URL, e.g.
    `https://login.salesforce.com/id/00D.../005...`, each a valid Salesforce id."""
    if not isinstance(identity_url, str):
        raise PermanentCRMError("Salesforce's token answer has no identity URL (id)")
    parts = urlsplit(identity_url).path.strip("/").split("/")
    if (len(parts) != 3 or parts[0] != "id" or not valid_org_id(parts[1])
            or not is_id(parts[1]) or not parts[2].startswith("005") or not is_id(parts[2])):
        raise PermanentCRMError("Salesforce's identity URL names no org and user: "
                                f"{identity_url[:_MESSAGE]!r}")
    return parts[1], parts[2]


class SalesforceOAuth:
    """One connected app's web-server flow at one login URL (production, sandbox, My Domain
    or an emulator)."""

    def __init__(self, *, login_url: str, client_id: str, client_secret: str | None,
                 timeout: float, session: requests.Session | None = None) -> None:
        self.login_url = login_url
        self.endpoint = TokenEndpoint(login_url=login_url, client_id=client_id,
                                      client_secret=client_secret, timeout=timeout,
                                      session=session)

    def authorize_url(self, *, redirect_uri: str, scopes: Sequence[str], state: str,
                      code_challenge: str) -> str:
        return authorize_url(self.login_url, client_id=self.endpoint.client_id,
                             redirect_uri=redirect_uri, scopes=scopes, state=state,
                             code_challenge=code_challenge)

    def exchange_code(self, code: str, *, redirect_uri: str, code_verifier: str) -> Authorized:
        """Trade the login's code and the PKCE verifier for tokens; PermanentCRMError when
        Salesforce refuses them (a used code, a wrong verifier) or answers an unusable
        grant (unsigned, no instance URL, no org in the identity URL)."""
        what = "authorization code"
        body = self.endpoint.post({"grant_type": "authorization_code", "code": code,
                                   "redirect_uri": redirect_uri,
                                   "code_verifier": code_verifier},
                                  what=what, disconnects=False)
        self.endpoint.check_signature(body)
        grant = token_grant(body, what=what)
        if grant.instance_url is None:
            raise PermanentCRMError(f"Salesforce answered the {what} without an instance_url")
        org_id, user_id = identity_ids(body.get("id"))
        return Authorized(grant, org_id, user_id)
