"""Signed tracking tokens: they carry a message's random public id and a link index, and
reveal no database id. HMAC-SHA256 keyed by SECRET_KEY, truncated to 128 bits."""

from __future__ import annotations

import base64
import hashlib
import hmac
import struct
from dataclasses import dataclass

_PURPOSES = {"open": b"o", "click": b"c", "unsubscribe": b"u"}
_MAC_BYTES = 16


class BadToken(ValueError):
    """The token was tampered with, truncated, or made for another purpose."""


@dataclass(frozen=True)
class TrackingToken:
    purpose: str
    public_id: str  # hex, 32 chars
    link: int = 0


class TokenSigner:
    def __init__(self, secret_key: str) -> None:
        self._key = hashlib.sha256(b"tracking-tokens:" + secret_key.encode()).digest()

    def dumps(self, token: TrackingToken) -> str:
        body = _PURPOSES[token.purpose] + bytes.fromhex(token.public_id)
        body += struct.pack(">H", token.link)
        mac = hmac.new(self._key, body, hashlib.sha256).digest()[:_MAC_BYTES]
        return base64.urlsafe_b64encode(body + mac).rstrip(b"=").decode()

    def loads(self, text: str, purpose: str) -> TrackingToken:
        if len(text) > 100:
            raise BadToken("token too long")
        try:
            raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
        except (ValueError, TypeError) as exc:
            raise BadToken("token is not base64") from exc
        if len(raw) != 1 + 16 + 2 + _MAC_BYTES:
            raise BadToken("token has the wrong length")
        body, mac = raw[:-_MAC_BYTES], raw[-_MAC_BYTES:]
        expected = hmac.new(self._key, body, hashlib.sha256).digest()[:_MAC_BYTES]
        if not hmac.compare_digest(mac, expected):
            raise BadToken("bad signature")
        if body[:1] != _PURPOSES[purpose]:
            raise BadToken(f"not a {purpose} token")
        (link,) = struct.unpack(">H", body[17:19])
        return TrackingToken(purpose, body[1:17].hex(), link)
