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
from connector.services import outbox

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
    """POST one pending call; 2xx done, 4xx (but 408/429) failed for good, else retried.

    Claimed first (two workers never POST the same call at once), POSTed with no
    transaction open, then recorded (services/outbox.py)."""
    now = rt.clock.now()
    if not rt.outbound_webhooks:
        return _skip_in_simulation(rt, call_id, now)
    claimed = outbox.claim(rt.db, WebhookCall, now, where=[WebhookCall.id == call_id], limit=1)
    if not claimed.ids:
        return "skipped"  # done, failed, not due, or in flight elsewhere
    with rt.db.session() as session:
        call = session.get_one(WebhookCall, call_id)
        url, payload, account_id = call.url, call.payload, call.account_id
    body = json.dumps(payload, separators=(",", ":"), default=str).encode()
    secret = webhook_secret(rt.settings.secret_key or "", account_id)
    request = urllib.request.Request(
        url,
        data=body,
        method="POST",
        headers={
            "Content-Type": "application/json",
            "User-Agent": "crm-drip-connector",
            "X-Drip-Signature": sign(secret, body, now),
        },
    )
    status, error = _post(request)
    ok = status is not None and 200 <= status < 300
    permanent = status is not None and 400 <= status < 500 and status not in (408, 429)
    outcome = outbox.Outcome(ok, None if ok else error or f"HTTP {status}", permanent)
    outbox.record(rt.db, WebhookCall, claimed, {call_id: outcome}, now, backoff=BACKOFF)
    if ok:
        return "done"
    with rt.db.session() as session:
        return "failed" if session.get_one(WebhookCall, call_id).status == "failed" else "retry"


def _skip_in_simulation(rt: Runtime, call_id: int, now: datetime) -> str:
    with rt.db.session() as session:
        call = session.get(WebhookCall, call_id)
        if call is not None and call.status == "pending":
            call.status, call.done_at, call.last_error = "skipped", now, "not sent: simulation"
    return "skipped"


def _post(request: urllib.request.Request) -> tuple[int | None, str | None]:
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT) as response:
            return response.status, None
    except urllib.error.HTTPError as exc:
        return exc.code, f"HTTP {exc.code}"
    except (urllib.error.URLError, TimeoutError, OSError) as exc:
        return None, f"{type(exc).__name__}: {exc}"
