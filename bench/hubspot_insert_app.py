"""The baseline for `bench/hubspot_ingest.py`: a bare Flask `POST /webhooks/hubspot` doing
the real endpoint's INSERTs into `inbox_events` (same columns and sizes, one per event,
ON CONFLICT DO NOTHING RETURNING id) and one commit, on the same database through the
same engine settings (`connector.db`).

No signature check, no normalizing, no portal lookup, no Redis wake-up: what the real
endpoint costs beyond this is what the service adds. Its dedup keys start with `bench:`
(64 characters, like the real digests) so the bench can tell its rows apart. The account
comes from `BENCH_ACCOUNT_ID`; the bench sets it.
"""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime, timedelta
from typing import Any

from flask import Flask, jsonify, request

from bench.bare_app import bare_app
from bench.insert_app import inbox_insert

BASELINE_KEY_PREFIX = "bench:"
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def create_app() -> Flask:
    app = bare_app(__name__)
    db, account_id, insert = inbox_insert()

    def row(event: dict[str, Any], now: datetime) -> dict[str, Any]:
        digest = hashlib.sha256(str(event["eventId"]).encode()).hexdigest()
        return {
            "account_id": account_id,
            "source": "hubspot",
            "dedup_key": BASELINE_KEY_PREFIX + digest[: 64 - len(BASELINE_KEY_PREFIX)],
            "kind": "crm.contact.created",
            "payload": {"crm_id": str(event["objectId"])},
            "occurred_at": _EPOCH + timedelta(milliseconds=event["occurredAt"]),
            "received_at": now,
        }

    @app.post("/webhooks/hubspot")
    def receive() -> Any:
        batch = json.loads(request.get_data(cache=False))
        now = datetime.now(UTC)
        with db.engine.begin() as connection:
            stored = sum(
                connection.execute(insert, row(event, now)).scalar() is not None
                for event in batch
            )
        return jsonify({"stored": stored}), 200

    return app
