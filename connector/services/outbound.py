"""Outbound webhook steps: signed JSON POSTs from the durable `webhook_calls` outbox.

Signature (documented for receivers in docs/flows.md): header
`X-Drip-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<raw body>")>`, where
the secret is the account's webhook secret (`connector accounts list --json`).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import urllib.error
import urllib.request
from datetime import datetime
from typing import TYPE_CHECKING

from connector.models import WebhookCall

if TYPE_CHECKING:
    from connector.runtime import Runtime

TIMEOUT = 10.0
BACKOFF = (10, 60, 300, 1800, 3600, 6 * 3600, 12 * 3600)  # then failed, kept visible


class RetryLater(Exception):
    """The receiver failed in a way worth retrying; RQ retries the job."""


def webhook_secret(secret_key: str, account_id: int) -> str:
    return hmac.new(
        secret_key.encode(), f"outbound-webhooks:{account_id}".encode(), hashlib.sha256
    ).hexdigest()


def sign(secret: str, body: bytes, at: datetime) -> str:
    stamp = int(at.timestamp())
    mac = hmac.new(secret.encode(), f"{stamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={stamp},v1={mac}"


def call_webhook(rt: Runtime, call_id: int) -> str:
    """POST one pending call; 2xx done, 4xx (but 408/429) failed for good, else retried."""
    now = rt.clock.now()
    with rt.db.session() as session:
        call = session.get(WebhookCall, call_id)
        if call is None or call.status != "pending":
            return "skipped"
        if not rt.outbound_webhooks:
            call.status, call.done_at, call.last_error = "skipped", now, "not sent: simulation"
            return "skipped"
        body = json.dumps(call.payload, separators=(",", ":"), default=str).encode()
        secret = webhook_secret(rt.settings.secret_key or "", call.account_id)
        request = urllib.request.Request(
            call.url,
            data=body,
            method="POST",
            headers={
                "Content-Type": "application/json",
                "User-Agent": "crm-drip-connector",
                "X-Drip-Signature": sign(secret, body, now),
            },
        )
        status, error = _post(request)
        if status is not None and 200 <= status < 300:
            call.attempts += 1
            call.succeeded(now)
            return "done"
        permanent = status is not None and 400 <= status < 500 and status not in (408, 429)
        call.failed(now, error or f"HTTP {status}", permanent=permanent, backoff=BACKOFF)
        return "failed" if call.status == "failed" else "retry"


def _post(request: urllib.request.Request) -> tuple[int | None, str | None]:
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT) as response:
            return response.status, None
    except urllib.error.HTTPError as exc:
        return exc.code, f"HTTP {exc.code}"
    except (urllib.error.URLError, TimeoutError, OSError) as exc:
        return None, f"{type(exc).__name__}: {exc}"
