"""OAuth codes, access and refresh tokens, and private-app tokens: which portal a bearer
token reaches, and whether it has expired."""

from __future__ import annotations

import secrets
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field

DEFAULT_SCOPES = ("oauth", "crm.objects.contacts.read", "crm.objects.contacts.write",
                  "crm.schemas.contacts.write")


@dataclass
class AccessToken:
    token: str
    hub_id: int
    expires_at: float
    scopes: list[str]
    refresh_token: str | None = None


@dataclass
class Grant:
    """What a code or refresh token stands for: a portal and its scopes."""

    hub_id: int
    scopes: list[str]
    redirect_uri: str | None = None
    created_at: float = field(default_factory=time.time)


class TokenStore:
    """Thread-safe token bookkeeping for the one app."""

    def __init__(self, lifetime: int, clock: Callable[[], float] = time.time) -> None:
        self.lifetime = lifetime
        self.clock = clock
        self._lock = threading.Lock()
        self._codes: dict[str, Grant] = {}
        self._refresh: dict[str, Grant] = {}
        self._access: dict[str, AccessToken] = {}
        self._private: dict[str, int] = {}

    def add_private(self, token: str, hub_id: int) -> None:
        with self._lock:
            self._private[token] = hub_id

    def issue_code(self, hub_id: int, scopes: list[str] | None = None,
                   redirect_uri: str | None = None) -> str:
        code = str(uuid.uuid4())
        with self._lock:
            self._codes[code] = Grant(hub_id, list(scopes or DEFAULT_SCOPES), redirect_uri)
        return code

    def redeem_code(self, code: str) -> Grant | None:
        """Codes are single-use: the grant, removed, or None."""
        with self._lock:
            return self._codes.pop(code, None)

    def code_grant(self, code: str) -> Grant | None:
        with self._lock:
            return self._codes.get(code)

    def new_refresh(self, grant: Grant) -> str:
        token = str(uuid.uuid4())
        with self._lock:
            self._refresh[token] = Grant(grant.hub_id, grant.scopes)
        return token

    def refresh_grant(self, token: str) -> Grant | None:
        with self._lock:
            return self._refresh.get(token)

    def delete_refresh(self, token: str) -> bool:
        with self._lock:
            return self._refresh.pop(token, None) is not None

    def new_access(self, grant: Grant, refresh_token: str | None) -> AccessToken:
        # Real tokens are opaque strings of up to ~300 characters.
        token = "C" + secrets.token_urlsafe(96)
        access = AccessToken(token, grant.hub_id, self.clock() + self.lifetime,
                             list(grant.scopes), refresh_token)
        with self._lock:
            self._access[token] = access
        return access

    def lookup(self, token: str) -> tuple[int | None, float | None, AccessToken | None]:
        """(hub id, seconds since expiry if expired, the OAuth token) for a bearer token;
        hub id None when unknown."""
        with self._lock:
            if token in self._private:
                return self._private[token], None, None
            access = self._access.get(token)
        if access is None:
            return None, None, None
        late = self.clock() - access.expires_at
        return access.hub_id, (late if late >= 0 else None), access

    def expire(self, hub_id: int) -> int:
        """Make every access token of a portal expire now (tests of refresh-on-401)."""
        now = self.clock()
        with self._lock:
            tokens = [a for a in self._access.values() if a.hub_id == hub_id]
            for access in tokens:
                access.expires_at = min(access.expires_at, now)
        return len(tokens)

    def revoke(self, hub_id: int) -> None:
        """The app was uninstalled: the portal's OAuth tokens, refresh tokens and codes die."""
        with self._lock:
            for store in (self._codes, self._refresh):
                for key in [k for k, g in store.items() if g.hub_id == hub_id]:
                    del store[key]
            for key in [k for k, a in self._access.items() if a.hub_id == hub_id]:
                del self._access[key]
