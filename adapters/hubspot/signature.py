"""HubSpot request signatures (webhooks, app-card `hubspot.fetch` calls): pure checks of
the raw bytes against the app's client secret, with the time passed in.

v3 (HMAC-SHA256, base64, over method + URI + body + timestamp) is the one to use; v1
(SHA-256 of secret + body) and v2 (SHA-256 of secret + method + URI + body) are still
sent for some subscriptions and carry no timestamp. `hubspot.utils.signature` signs the
same way, but its check takes a timestamp from the future and an undecoded URI."""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
from datetime import UTC, datetime, timedelta
from typing import Protocol

V3_HEADER = "X-HubSpot-Signature-v3"
TIMESTAMP_HEADER = "X-HubSpot-Request-Timestamp"
LEGACY_HEADER = "X-HubSpot-Signature"  # v1 or v2, as X-HubSpot-Signature-Version says
VERSION_HEADER = "X-HubSpot-Signature-Version"
MAX_SKEW = timedelta(minutes=5)
MAX_SIGNATURE_CHARS = 200

# HubSpot decodes exactly these escapes in the URI it signs (its docs list them).
_DECODED = {"%3A": ":", "%2F": "/", "%3F": "?", "%40": "@", "%21": "!", "%24": "$",
            "%27": "'", "%28": "(", "%29": ")", "%2A": "*", "%2C": ",", "%3B": ";"}
_ESCAPE = re.compile("|".join(_DECODED), re.IGNORECASE)
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


class Headers(Protocol):
    """A request's headers, looked up by name (a dict, or Werkzeug's case-blind ones)."""

    def get(self, key: str) -> str | None: ...


class SignatureError(ValueError):
    """The request is not signed by HubSpot with this secret; the message says why."""


def signed_uri(base_url: str, path: str, query: bytes | str = b"") -> str:
    """The URI HubSpot signed: the public base URL (scheme and host as HubSpot called
    them, not the socket's behind a proxy) + path + the raw query string, with HubSpot's
    listed escapes decoded."""
    if isinstance(query, bytes):
        query = query.decode("latin-1")
    uri = base_url.rstrip("/") + path + (f"?{query}" if query else "")
    return _ESCAPE.sub(lambda m: _DECODED[m.group().upper()], uri)


def v3_signature(secret: str, *, method: str, uri: str, body: bytes, timestamp: str) -> str:
    message = method.upper().encode() + uri.encode() + body + timestamp.encode()
    digest = hmac.new(secret.encode(), message, hashlib.sha256).digest()
    return base64.b64encode(digest).decode()


def v2_signature(secret: str, *, method: str, uri: str, body: bytes) -> str:
    return hashlib.sha256(secret.encode() + method.upper().encode() + uri.encode() + body
                          ).hexdigest()


def v1_signature(secret: str, *, body: bytes) -> str:
    return hashlib.sha256(secret.encode() + body).hexdigest()


def verify_v3(secret: str, *, method: str, uri: str, body: bytes, signature: str | None,
              timestamp: str | None, now: datetime) -> None:
    """Raises SignatureError unless `signature` is HubSpot's v3 signature of this request
    and `timestamp` (epoch ms) is within five minutes of `now`, either side."""
    if not signature:
        raise SignatureError(f"missing {V3_HEADER} header")
    if not timestamp:
        raise SignatureError(f"missing {TIMESTAMP_HEADER} header")
    sent_at = _timestamp(timestamp)
    if sent_at < now - MAX_SKEW:
        raise SignatureError(f"{TIMESTAMP_HEADER} is more than 5 minutes old (replay?)")
    if sent_at > now + MAX_SKEW:
        raise SignatureError(f"{TIMESTAMP_HEADER} is more than 5 minutes in the future")
    expected = v3_signature(secret, method=method, uri=uri, body=body, timestamp=timestamp)
    _compare(expected, signature, "v3")


def verify_v2(secret: str, *, method: str, uri: str, body: bytes, signature: str | None
              ) -> None:
    if not signature:
        raise SignatureError(f"missing {LEGACY_HEADER} header")
    _compare(v2_signature(secret, method=method, uri=uri, body=body), signature, "v2")


def verify_v1(secret: str, *, body: bytes, signature: str | None) -> None:
    if not signature:
        raise SignatureError(f"missing {LEGACY_HEADER} header")
    _compare(v1_signature(secret, body=body), signature, "v1")


def verify_request(secret: str, headers: Headers, *, method: str, uri: str,
                   body: bytes, now: datetime, legacy: bool = True) -> str:
    """Check whichever signature the request carries (v3 when present; v1/v2 only when
    `legacy`) and return its version; SignatureError when none is valid."""
    if headers.get(V3_HEADER) or headers.get(TIMESTAMP_HEADER) or not legacy:
        verify_v3(secret, method=method, uri=uri, body=body, signature=headers.get(V3_HEADER),
                  timestamp=headers.get(TIMESTAMP_HEADER), now=now)
        return "v3"
    signature = headers.get(LEGACY_HEADER)
    if not signature:
        raise SignatureError(f"missing {V3_HEADER} (or {LEGACY_HEADER}) header")
    version = (headers.get(VERSION_HEADER) or "v1").strip().lower()
    if version == "v1":
        verify_v1(secret, body=body, signature=signature)
    elif version == "v2":
        verify_v2(secret, method=method, uri=uri, body=body, signature=signature)
    else:
        raise SignatureError(f"unknown {VERSION_HEADER} {version[:20]!r} (v1, v2 or v3)")
    return version


def _timestamp(text: str) -> datetime:
    text = text.strip()
    if not (text.isascii() and text.isdigit()) or len(text) > 15:
        raise SignatureError(f"{TIMESTAMP_HEADER} is not milliseconds since the epoch")
    return _EPOCH + timedelta(milliseconds=int(text))


def _compare(expected: str, given: str, version: str) -> None:
    if len(given) > MAX_SIGNATURE_CHARS or not hmac.compare_digest(
        expected.encode(), given.strip().encode("utf-8", "replace")
    ):
        raise SignatureError(f"{version} signature does not match (forged, or signed with "
                             "another secret, URI or body)")
