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
import os
from datetime import UTC, datetime, timedelta
from typing import Any, cast

from flask import Flask, jsonify, request
from sqlalchemy import Table
from sqlalchemy.dialects import postgresql, sqlite

from connector.db import Database
from connector.models import InboxEvent

BASELINE_KEY_PREFIX = "bench:"
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def create_app() -> Flask:
    app = Flask(__name__)
    # The same URL coercion (postgres:// -> psycopg) as the real app's settings.
    from connector.settings import load_settings

    db = Database(load_settings().sqlalchemy_url)
    account_id = int(os.environ["BENCH_ACCOUNT_ID"])
    table = cast(Table, InboxEvent.__table__)
    dialect = postgresql if db.engine.dialect.name == "postgresql" else sqlite
    insert = dialect.insert(table).on_conflict_do_nothing().returning(table.c.id)

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

    @app.get("/healthz")
    def healthz() -> Any:
        return jsonify({"status": "ok"})

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
