"""Webhook ingest budget (DESIGN §7) for HubSpot: `POST /webhooks/hubspot` requests/s of
the real app, signature v3 checked, vs a bare Flask endpoint doing the same INSERTs and
commit (`bench/hubspot_insert_app.py`) on the same database, same gunicorn settings.

The harness is `bench/ingest.py`'s, imported: the same temp world (embedded Redis, a
migrated SQLite file or `--database-url`, one connected HubSpot account, now with
HUBSPOT_CLIENT_SECRET), the same spawned keep-alive clients and alternating rounds. Each
request is a JSON array of `--batch` (default 1) `contact.creation` events of the
account's portal, signed at send time the way HubSpot signs (hubspot-api-client's
`Signature.get_signature`, v3, over PUBLIC_BASE_URL + path). No RQ worker runs; afterwards
the bench checks that the real app's inbox rows equal the events it answered 200 for.

The last line is `ratio=<median real events/s / median insert-and-commit events/s>`;
the budget is >= 0.8.

    python bench/hubspot_ingest.py [--batch 100] [--quick]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import secrets
import sys
import tempfile
import time
import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

if __package__ in (None, ""):  # run as `python bench/hubspot_ingest.py`
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from bench.ingest import (
    LoadGenerator,
    RoundResult,
    add_load_arguments,
    alternate,
    app_environment,
    checked_load_arguments,
    create_account,
    free_port,
    newest_account_id,
    print_logs,
    print_ratio,
    report_apps,
    run_and_report,
    start_server,
)

PATH = "/webhooks/hubspot"
SECRET = "bench-hubspot-client-secret"
APPS = ("real", "insert")
BUDGET = 0.8


# --- requests (built in the client processes) ---------------------------------------------


@dataclass(frozen=True)
class WebhookRequests:
    """Signed HubSpot webhook batches of `contact.creation` events for one portal."""

    portal: int
    public_base_url: str
    secret: str = SECRET
    path: str = PATH
    accepted: int = 200

    def __call__(self, label: str, n: int, batch: int) -> tuple[bytes, dict[str, str]]:
        from hubspot.utils.signature import Signature

        # eventId distinct per label (round) and request number: no event repeats in a run.
        base = zlib.crc32(label.encode()) * 10**9 + n * batch
        now_ms = int(time.time() * 1000)
        body = json.dumps([self.event(base + j, now_ms) for j in range(batch)])
        timestamp = str(now_ms)
        signature = Signature.get_signature(
            self.secret, body, "v3", http_uri=self.public_base_url + self.path,
            http_method="POST", timestamp=timestamp,
        )  # fmt: skip
        return body.encode(), {
            "X-HubSpot-Signature-v3": signature,
            "X-HubSpot-Request-Timestamp": timestamp,
            "Content-Type": "application/json",
        }

    def event(self, event_id: int, occurred_ms: int) -> dict[str, object]:
        """One event as HubSpot sends it (tests/fixtures/webhooks/hubspot/contact_creation)."""
        return {
            "eventId": event_id,
            "subscriptionId": 2501,
            "portalId": self.portal,
            "appId": 1160452,
            "occurredAt": occurred_ms,
            "subscriptionType": "contact.creation",
            "attemptNumber": 0,
            "objectId": event_id % 10**12 + 1,  # HubSpot ids start at 1 (0 is malformed)
            "changeFlag": "CREATED",
            "changeSource": "CRM_UI",
            "sourceId": "userId:45678",
        }


# --- the run -------------------------------------------------------------------------------


@dataclass
class Outcome:
    rounds: list[RoundResult]
    warmups: list[RoundResult]
    rows_before: int
    rows_after: int
    logs: dict[str, str]
    batch: int


def real_rows(sqlalchemy_url: str, account_id: int) -> int:
    """The account's HubSpot inbox rows written by the real endpoint (not the baseline's)."""
    from sqlalchemy import func, select

    from bench.hubspot_insert_app import BASELINE_KEY_PREFIX
    from connector.db import Database
    from connector.models import InboxEvent

    db = Database(sqlalchemy_url)
    try:
        with db.engine.connect() as connection:
            count = select(func.count()).where(
                InboxEvent.account_id == account_id,
                InboxEvent.source == "hubspot",
                InboxEvent.dedup_key.not_like(f"{BASELINE_KEY_PREFIX}%"),
            )
            return int(connection.scalar(count) or 0)
    finally:
        db.dispose()


def portal_of(sqlalchemy_url: str, account_id: int) -> int:
    from sqlalchemy import select

    from connector.db import Database
    from connector.models import Account

    db = Database(sqlalchemy_url)
    try:
        with db.engine.connect() as connection:
            portal = select(Account.external_id).where(Account.id == account_id)
            return int(connection.execute(portal).scalar_one())
    finally:
        db.dispose()


def run(args: argparse.Namespace) -> Outcome:
    """Set everything up, run warm-up and alternating rounds, tear everything down."""
    from connector.local.redis_embedded import EmbeddedRedis

    with contextlib.ExitStack() as stack:
        tmp = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="bench-hsingest-")))
        redis_server = stack.enter_context(EmbeddedRedis(tmp / "redis"))
        database_url = args.database_url or f"sqlite:///{tmp / 'connector.sqlite3'}"
        real_port = free_port()
        values = app_environment(tmp, database_url, redis_server.url, real_port)
        values["HUBSPOT_CLIENT_SECRET"] = SECRET
        sqlalchemy_url, _ = create_account(values)
        account_id = newest_account_id(sqlalchemy_url)
        requests = WebhookRequests(portal_of(sqlalchemy_url, account_id),
                                   values["PUBLIC_BASE_URL"])  # fmt: skip
        before = real_rows(sqlalchemy_url, account_id)
        env = {**os.environ, **values, "BENCH_ACCOUNT_ID": str(account_id)}
        real = start_server("real", "connector.app:create_app()", real_port, args, env, tmp, stack)
        insert_app = "bench.hubspot_insert_app:create_app()"
        insert = start_server("insert", insert_app, free_port(), args, env, tmp, stack)
        servers = (real, insert)
        print(
            f"servers up: real :{real.port}, insert :{insert.port} (gunicorn gthread, "
            f"{args.workers} workers x {args.threads} threads); {args.concurrency} "
            f"connections, {args.rounds} x {args.duration:g}s rounds per app, {args.batch} "
            "signed contact.creation event(s) per request",
            flush=True,
        )
        clients = LoadGenerator(args.concurrency, requests)
        stack.callback(clients.stop)
        clients.start()
        run_tag = secrets.token_hex(3)
        warmups, rounds = alternate(clients, servers, args, run_tag, args.batch, requests.accepted)
        clients.stop()
        after = real_rows(sqlalchemy_url, account_id)
        logs = {s.name: s.tail() for s in servers if s.log.exists() and s.log.stat().st_size}
        return Outcome(rounds, warmups, before, after, logs, args.batch)


def report(outcome: Outcome) -> int:
    """Medians, latencies, sanity checks; the last line is `ratio=...`. Returns the exit code."""
    medians, failed = report_apps(APPS, outcome.rounds, outcome.warmups, outcome.batch, 200)
    accepted = outcome.batch * sum(
        r.statuses[200] for r in outcome.warmups + outcome.rounds if r.app == "real"
    )
    rows = outcome.rows_after - outcome.rows_before
    print(f"real app: {accepted} events answered 200 (warm-up included), {rows} new inbox rows")
    if accepted != rows:
        failed = True
        print("FAILED: events answered 200 and inbox rows differ")
    print_logs(outcome.logs)
    print_ratio(medians, BUDGET)
    return 1 if failed else 0


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.ArgumentDefaultsHelpFormatter
    )
    add_load_arguments(parser, batch_help="events per signed request (1 to 100: HubSpot "
                       "sends up to 100)")  # fmt: skip
    return checked_load_arguments(parser, parser.parse_args(argv), max_batch=100)


def main(argv: Sequence[str] | None = None) -> int:
    return run_and_report(run, report, parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
