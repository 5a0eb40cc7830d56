"""OAuth state: authorization codes (with their PKCE challenge), access tokens that expire
after a lifetime, refresh tokens; revoking an org kills all of them."""

from __future__ import annotations

import base64
import hashlib
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass


@dataclass
class Code:
    org_id: str
    redirect_uri: str | None
    challenge: str | None
    method: str | None


def s256(verifier: str) -> str:
    digest = hashlib.sha256(verifier.encode()).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


class TokenStore:
    """Tokens per org; `lookup` says whose a token is and whether it still works."""

    def __init__(self, lifetime: float, clock: Callable[[], float] = time.time) -> None:
        self.lifetime, self.clock = lifetime, clock
        self._codes: dict[str, Code] = {}
        self._access: dict[str, tuple[str, float]] = {}  # token -> (org, expires at)
        self._refresh: dict[str, str] = {}
        self._lock = threading.Lock()

    def issue_code(self, org_id: str, redirect_uri: str | None = None,
                   challenge: str | None = None, method: str | None = None) -> str:
        code = "aPrx" + secrets.token_urlsafe(24)
        with self._lock:
            self._codes[code] = Code(org_id, redirect_uri, challenge, method)
        return code

    def take_code(self, code: str) -> Code | None:
        """A code works once."""
        with self._lock:
            return self._codes.pop(code, None)

    def issue_access(self, org_id: str) -> str:
        token = f"{org_id[:15]}!AQ" + secrets.token_urlsafe(40)
        with self._lock:
            self._access[token] = (org_id, self.clock() + self.lifetime)
        return token

    def issue_refresh(self, org_id: str) -> str:
        token = "5Aep" + secrets.token_urlsafe(60)
        with self._lock:
            self._refresh[token] = org_id
        return token

    def refresh_owner(self, token: str) -> str | None:
        with self._lock:
            return self._refresh.get(token)

    def lookup(self, token: str) -> str | None:
        """The org a live access token belongs to, else None (unknown, expired, revoked)."""
        with self._lock:
            entry = self._access.get(token)
        if entry is None or self.clock() >= entry[1]:
            return None
        return entry[0]

    def expire(self, org_id: str) -> int:
        with self._lock:
            mine = [t for t, (org, _) in self._access.items() if org == org_id]
            for token in mine:
                self._access[token] = (org_id, 0.0)
            return len(mine)

    def revoke(self, org_id: str) -> None:
        with self._lock:
            self._access = {t: e for t, e in self._access.items() if e[0] != org_id}
            self._refresh = {t: o for t, o in self._refresh.items() if o != org_id}
            self._codes = {c: v for c, v in self._codes.items() if v.org_id != org_id}
