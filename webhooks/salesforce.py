"""Salesforce's change notifications in: SOAP Outbound Messages and JSON Flow callouts.

`POST /webhooks/salesforce/outbound[?token=<secret>]`: an Outbound Message (reference/
salesforce.md). Parsed by the hardened parser (a DTD or an entity: 400 at once), routed on
OrganizationId (15- or 18-character, matched on the 15-character prefix), each
Notification stored as one `crm.contact.synced` inbox event keyed on its Notification Id,
all in one transaction; the inbox is woken after commit and only then is the SOAP Ack
answered. Salesforce retries anything but an Ack for 24 hours, so an org not connected
here is Acked and recorded as an `UnroutedDelivery`. The `token` is optional: when the
admin puts it in the endpoint URL (docs/salesforce-events.md) it must be the account's
`inbound_secret` (401 otherwise).

`POST /webhooks/salesforce/events`: JSON a Flow HTTP callout or Apex sends:

    {"org_id": "00D...", "events": [{"id": "<unique, at most 56 characters>",
      "type": "contact.created" | "contact.changed" | "contact.deleted"
              | "lead.created" | "lead.changed" | "lead.deleted",
      "record": {"Id": "003...", "Email": "...", "HasOptedOutOfEmail": false, ...},
      "occurred_at": "2026-12-02T06:15:55Z" (optional)}]}

signed in `X-Drip-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>." + body>`
with the account's `inbound_secret`, t within 5 minutes; 1 to 100 events; answered 200
with counts. Missing or bad signature, or an org not connected: 401."""

from __future__ import annotations

import hashlib
import hmac
import logging
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from typing import Any

from flask import Blueprint, Response, jsonify, request
from sqlalchemy.orm import Session
from werkzeug.exceptions import BadRequest

from adapters.inbound import CONTACT_SYNCED, CrmEvent, Ignored, Malformed
from adapters.salesforce import valid_org_id
from adapters.salesforce.events import (
    ACK,
    MAX_NOTIFICATIONS,
    RecordEvent,
    SoapError,
    normalize_callout,
    normalize_record,
    parse_outbound,
)
from adapters.salesforce.ids import both_forms
from connector.crm_routes import CrmRoutes
from connector.db import after_commit
from connector.models import UnroutedDelivery
from connector.services.crm_events import record_data
from connector.services.crm_secrets import inbound_secret
from connector.services.inbox import NewEvent, record_inbox_events
from webhooks.http import error, parse_json, read_raw_body, runtime

log = logging.getLogger(__name__)

bp = Blueprint("salesforce_webhooks", __name__)

SOURCE = "salesforce"
SIGNATURE_HEADER = "X-Drip-Signature"
MAX_SKEW = timedelta(minutes=5)
MAX_SIGNATURE_CHARS = 200
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def sign_callout(secret: str, body: bytes, at: datetime) -> str:
    """The `X-Drip-Signature` value of `body` sent at `at` (what the Flow's Apex computes)."""
    stamp = int(at.timestamp())
    mac = hmac.new(secret.encode(), f"{stamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={stamp},v1={mac}"


@bp.post("/webhooks/salesforce/outbound")
def outbound() -> Any:
    rt = runtime()
    body = read_raw_body()  # 413 past MAX_EVENT_BYTES, chunked too
    now = rt.clock.now()
    try:
        message = parse_outbound(body)
    except SoapError as exc:
        return error(400, f"not a Salesforce Outbound Message: {exc}")
    account_id = route(rt.crm_routes, message.organization_id)
    token = request.args.get("token")
    if account_id is not None and token is not None and not hmac.compare_digest(
        token.encode("utf-8", "replace"),
        inbound_secret(rt.settings.secret_key or "", account_id).encode(),
    ):
        return error(401, "token does not match this org's secret (see docs/salesforce-events.md)")
    events: list[RecordEvent | Ignored | Malformed] = [
        normalize_record(n.fields, sobject_type=n.sobject_type, org_id=message.organization_id,
                         dedup_key=n.id, received_at=now, created_fallback=now)
        for n in message.notifications
    ]
    with rt.db.session() as session:
        counts = store(session, events, account_id=account_id,
                       org_id=message.organization_id, now=now)
        if counts["stored"]:
            after_commit(session, rt.work.wake_inbox)
    # Committed: only now may Salesforce forget the message.
    log.info("salesforce outbound message from %s: %s", message.organization_id, counts)
    return Response(ACK, status=200, content_type="text/xml; charset=utf-8")


@bp.post("/webhooks/salesforce/events")
def callout_events() -> Any:
    rt = runtime()
    body = read_raw_body()
    now = rt.clock.now()
    header = request.headers.get(SIGNATURE_HEADER)
    if not header:
        return error(401, f"missing {SIGNATURE_HEADER} header")
    payload = parse_json(body)  # 400 naming what is wrong
    if not isinstance(payload, dict):
        raise BadRequest('body is not a JSON object {"org_id": ..., "events": [...]}')
    org_id, events = payload.get("org_id"), payload.get("events")
    if not isinstance(org_id, str) or not valid_org_id(org_id):
        raise BadRequest("org_id is missing or not a Salesforce org id (00D...)")
    if not isinstance(events, list) or not 0 < len(events) <= MAX_NOTIFICATIONS:
        raise BadRequest(f"events is missing or not a list of 1 to {MAX_NOTIFICATIONS} events")
    account_id = route(rt.crm_routes, org_id)
    if account_id is None:
        return error(401, f"org {org_id} is not connected here (its signature cannot be checked)")
    problem = verify_callout(inbound_secret(rt.settings.secret_key or "", account_id),
                             header, body, now)
    if problem:
        return error(401, problem)
    normalized = [normalize_callout(e, org_id=org_id, received_at=now) for e in events]
    with rt.db.session() as session:
        counts = store(session, normalized, account_id=account_id, org_id=org_id, now=now)
        if counts["stored"]:
            after_commit(session, rt.work.wake_inbox)
    return jsonify(counts), 200


def route(routes: CrmRoutes, org_id: str) -> int | None:
    """The connected account of an org, whichever id form it was connected with."""
    found = routes.connected(SOURCE, both_forms(org_id) | {org_id})
    return min(found.values()) if found else None


def verify_callout(secret: str, header: str, body: bytes, now: datetime) -> str | None:
    """Why `header` is not a valid signature of `body` at `now`, or None when it is."""
    if len(header) > MAX_SIGNATURE_CHARS:
        return f"{SIGNATURE_HEADER} is too long"
    parts = dict(p.strip().partition("=")[::2] for p in header.split(","))
    stamp, given = parts.get("t", ""), parts.get("v1", "")
    if not (stamp.isascii() and stamp.isdigit() and len(stamp) <= 12) or not given:
        return f"{SIGNATURE_HEADER} is not t=<unix seconds>,v1=<hex>"
    sent_at = _EPOCH + timedelta(seconds=int(stamp))
    if abs(sent_at - now) > MAX_SKEW:
        return f"{SIGNATURE_HEADER} t is more than 5 minutes from now (replay, or a clock off)"
    expected = sign_callout(secret, body, sent_at).partition(",v1=")[2]
    if not hmac.compare_digest(expected.encode(), given.encode("utf-8", "replace")):
        return (f"{SIGNATURE_HEADER} does not match (forged, or signed with another secret "
                "or body)")
    return None


def store(session: Session, events: Iterable[RecordEvent | CrmEvent | Ignored | Malformed],
          *, account_id: int | None, org_id: str, now: datetime) -> dict[str, int]:
    """Store the understood events for `account_id` (an UnroutedDelivery when None) in the
    caller's transaction; returns the counts."""
    counts = dict.fromkeys(("stored", "duplicates", "ignored", "unrouted", "malformed"), 0)
    understood: list[CrmEvent] = []
    for event in events:
        if isinstance(event, RecordEvent):
            understood.append(CrmEvent(event.org_id, CONTACT_SYNCED, event.dedup_key,
                                       event.occurred_at, record_data(event.record)))
        elif isinstance(event, CrmEvent):
            understood.append(event)
        elif isinstance(event, Ignored):
            counts["ignored"] += 1
        else:
            counts["malformed"] += 1
            log.warning("salesforce webhook: malformed event skipped (org %s): %s",
                        org_id, event.reason)
    if account_id is None:
        if understood:
            session.add(UnroutedDelivery(source=SOURCE, external_id=org_id,
                                         events=len(understood),
                                         kinds=sorted({e.kind for e in understood}),
                                         received_at=now))
        counts["unrouted"] = len(understood)
        return counts
    stored = record_inbox_events(session, [
        NewEvent(account_id, SOURCE, e.dedup_key, e.kind, e.data, e.occurred_at)
        for e in understood], now=now)
    counts["stored"], counts["duplicates"] = stored, len(understood) - stored
    return counts
