"""The I/O baseline for `bench/ingest.py`: a bare Flask endpoint doing the real endpoint's
one INSERT into `inbox_events` (same columns, ON CONFLICT DO NOTHING RETURNING id) and
commit, on the same database, through the same engine settings (`connector.db`).

No auth, no validation, no Redis wake-up: what is left of the real endpoint's time once
this is taken away is what the service adds. A JSON array body is stored as that many
rows in one transaction (the baseline of 100-event batches). The account comes from
`BENCH_ACCOUNT_ID`; the bench sets it.
"""

from __future__ import annotations

import json
import os
import uuid
from datetime import UTC, datetime
from typing import Any, cast

from flask import Flask, jsonify, request
from sqlalchemy import Table
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.sql import Executable

from bench.bare_app import bare_app
from connector.db import Database
from connector.models import InboxEvent


def inbox_insert() -> tuple[Database, int, Executable]:
    """The database (the real app's settings and engine), `BENCH_ACCOUNT_ID`, and the real
    endpoint's INSERT into inbox_events: ON CONFLICT DO NOTHING RETURNING id."""
    # The same URL coercion (postgres:// -> psycopg) as the real app's settings.
    from connector.settings import load_settings

    db = Database(load_settings().sqlalchemy_url)
    account_id = int(os.environ["BENCH_ACCOUNT_ID"])
    table = cast(Table, InboxEvent.__table__)
    dialect = postgresql if db.engine.dialect.name == "postgresql" else sqlite
    return db, account_id, dialect.insert(table).on_conflict_do_nothing().returning(table.c.id)


def create_app() -> Flask:
    app = bare_app(__name__)
    db, account_id, insert = inbox_insert()

    def row(event: dict[str, Any], now: datetime) -> dict[str, Any]:
        return {
            "account_id": account_id,
            "source": "api",
            "dedup_key": event.get("idempotency_key") or f"auto:{uuid.uuid4().hex}",
            "kind": event.get("event", ""),
            "payload": event,
            "occurred_at": now,
            "received_at": now,
        }

    @app.post("/v1/events")
    def post_event() -> Any:
        body = json.loads(request.get_data(cache=False))
        now = datetime.now(UTC)
        events = body if isinstance(body, list) else [body]
        with db.engine.begin() as connection:
            for event in events:
                connection.execute(insert, row(event, now))
        return jsonify({"status": "accepted", "duplicate": False}), 202

    return app
