"""POST /webhooks/hubspot: HubSpot's webhook batches. Verify the raw bytes (signature v3,
or v1/v2 where HubSpot still sends them) -> parse strictly -> normalize each event ->
store the routed ones in the inbox, all in one transaction -> wake the inbox after commit
-> 200 with counts.

HubSpot retries any 4xx/5xx for a day, so only the whole request is refused (401, 400,
413); inside a good batch an event we ignore, cannot route or cannot read is counted and
answered 200 with the rest."""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from flask import Blueprint, jsonify, request
from sqlalchemy.orm import Session
from werkzeug.exceptions import BadRequest

from adapters.hubspot.events import normalize
from adapters.hubspot.signature import SignatureError, signed_uri, verify_request
from adapters.inbound import CrmEvent, Ignored, Malformed
from connector.crm_routes import CrmRoutes
from connector.db import after_commit
from connector.models import UnroutedDelivery
from connector.services.inbox import NewEvent, record_inbox_events
from webhooks.http import error, parse_json, read_raw_body, runtime

log = logging.getLogger(__name__)

bp = Blueprint("hubspot_webhooks", __name__)

SOURCE = "hubspot"
NOT_CONFIGURED = "webhooks are not configured: set HUBSPOT_CLIENT_SECRET"


@bp.post("/webhooks/hubspot")
def receive() -> Any:
    rt = runtime()
    secret = rt.settings.hubspot_client_secret
    if not secret:
        return error(401, NOT_CONFIGURED)
    body = read_raw_body()  # 413 past MAX_EVENT_BYTES, chunked too
    now = rt.clock.now()
    try:
        verify_request(
            secret,
            request.headers,
            method=request.method,
            uri=signed_uri(rt.settings.base_url, request.path, request.query_string),
            body=body,
            now=now,
        )
    except SignatureError as exc:
        return error(401, str(exc))
    batch = parse_json(body)  # 400 naming what is wrong
    if not isinstance(batch, list) or not all(isinstance(e, dict) for e in batch):
        raise BadRequest("body is not a JSON array of event objects (HubSpot's batch)")
    with rt.db.session() as session:
        counts = store_batch(session, batch, now=now, routes=rt.crm_routes)
        if counts["stored"]:
            after_commit(session, rt.work.wake_inbox)
    return jsonify(counts), 200


def store_batch(session: Session, batch: Iterable[Any], *, now: datetime,
                routes: CrmRoutes) -> dict[str, int]:
    """Normalize every event and store the routed ones; returns the counts HubSpot's
    answer carries. The caller's transaction holds it all: nothing half-written."""
    counts = dict.fromkeys(("stored", "duplicates", "ignored", "unrouted", "malformed"), 0)
    events: list[CrmEvent] = []
    for raw in batch:
        event = normalize(raw)
        if isinstance(event, CrmEvent):
            events.append(event)
        elif isinstance(event, Ignored):
            counts["ignored"] += 1
        else:
            counts["malformed"] += 1
            _log_malformed(event, raw)
    accounts = routes.connected(SOURCE, {e.portal for e in events})
    unrouted: dict[str, list[CrmEvent]] = defaultdict(list)
    routed: list[NewEvent] = []
    for event in events:
        account_id = accounts.get(event.portal)
        if account_id is None:
            unrouted[event.portal].append(event)
        else:
            routed.append(NewEvent(account_id, SOURCE, event.dedup_key, event.kind,
                                   event.data, event.occurred_at))
    counts["stored"] = record_inbox_events(session, routed, now=now)
    counts["duplicates"] = len(routed) - counts["stored"]
    for portal, held in unrouted.items():
        session.add(UnroutedDelivery(
            source=SOURCE,
            external_id=portal,
            events=len(held),
            kinds=sorted({e.kind for e in held}),
            received_at=now,
        ))
        counts["unrouted"] += len(held)
    return counts


def _log_malformed(event: Malformed, raw: Any) -> None:
    portal = raw.get("portalId") if isinstance(raw, dict) else None
    log.warning("hubspot webhook: malformed event skipped (portal %.40r): %s",
                portal, event.reason)
