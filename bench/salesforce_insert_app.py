"""The baseline for `bench/salesforce_ingest.py`: a bare Flask `POST
/webhooks/salesforce/outbound` that reads an Outbound Message with the stdlib's
ElementTree, does the real endpoint's INSERTs into `inbox_events` (one per Notification,
keyed on its Notification Id, ON CONFLICT DO NOTHING RETURNING id) and one commit, on the
same database through the same engine settings (`connector.db`), and answers the same
SOAP Ack.

No hardening (ElementTree with no DTD or entity refusal, no depth or size limits), no
shape checks, no org routing or token check, no normalizing, no Redis wake-up: what the
real endpoint costs beyond this is what the service adds. Its dedup keys are
`bench:<Notification Id>` so the bench can tell its rows apart. The account comes from
`BENCH_ACCOUNT_ID`; the bench sets it.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from xml.etree import ElementTree

from flask import Flask, Response, request

from adapters.inbound import CONTACT_SYNCED
from adapters.salesforce.events import ACK, OUTBOUND_NS, SOBJECT_NS
from bench.bare_app import bare_app
from bench.insert_app import inbox_insert

BASELINE_KEY_PREFIX = "bench:"
_NOTIFICATION = f"{{{OUTBOUND_NS}}}Notification"
_ID = f"{{{OUTBOUND_NS}}}Id"
_SOBJECT = f"{{{OUTBOUND_NS}}}sObject"
_FIELD_PREFIX = f"{{{SOBJECT_NS}}}"


def create_app() -> Flask:
    app = bare_app(__name__)
    db, account_id, insert = inbox_insert()

    def row(notification: ElementTree.Element, now: datetime) -> dict[str, Any]:
        sobject = notification.find(_SOBJECT)
        fields = {f.tag.removeprefix(_FIELD_PREFIX): f.text or ""
                  for f in (sobject if sobject is not None else ())}  # fmt: skip
        return {
            "account_id": account_id,
            "source": "salesforce",
            "dedup_key": BASELINE_KEY_PREFIX + (notification.findtext(_ID) or ""),
            "kind": CONTACT_SYNCED,
            "payload": {"crm_id": fields.pop("Id", ""), "properties": fields},
            "occurred_at": now,
            "received_at": now,
        }

    @app.post("/webhooks/salesforce/outbound")
    def receive() -> Any:
        envelope = ElementTree.fromstring(request.get_data(cache=False))
        now = datetime.now(UTC)
        with db.engine.begin() as connection:
            for notification in envelope.iter(_NOTIFICATION):
                connection.execute(insert, row(notification, now))
        return Response(ACK, status=200, content_type="text/xml; charset=utf-8")

    return app
