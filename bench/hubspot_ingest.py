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
import statistics
import sys
import tempfile
import time
import zlib
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

if __package__ in (None, ""):  # run as `python bench/hubspot_ingest.py`
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from bench.ingest import (
    BenchError,
    LoadGenerator,
    RoundResult,
    Server,
    app_environment,
    create_account,
    free_port,
    merge,
    newest_account_id,
    percentile,
    print_header,
    print_round,
    sigterm_as_exit,
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
            "objectId": event_id % 10**12,
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

        def servers_alive() -> None:
            for server in servers:
                if server.process.poll() is not None:
                    raise BenchError(
                        f"gunicorn for the {server.name} app exited with "
                        f"{server.process.returncode} during the run; its log ends with:\n"
                        f"{server.tail()}"
                    )

        def timed(server: Server, number: int, label: str, duration: float) -> RoundResult:
            started_at, results = clients.run(
                server.port, label, duration, servers_alive, args.batch
            )
            return merge(server.name, number, started_at, results, args.batch, requests.accepted)

        run_tag = secrets.token_hex(3)
        warmups = [timed(s, 0, f"{run_tag}.w{s.name}", args.warmup) for s in servers]
        print_header()
        rounds: list[RoundResult] = []
        for number in range(1, args.rounds + 1):
            for server in servers:
                result = timed(server, number, f"{run_tag}.r{number}{server.name}", args.duration)
                rounds.append(result)
                print_round(result)
        clients.stop()
        after = real_rows(sqlalchemy_url, account_id)
        logs = {s.name: s.tail() for s in servers if s.log.exists() and s.log.stat().st_size}
        return Outcome(rounds, warmups, before, after, logs, args.batch)


def report(outcome: Outcome) -> int:
    """Medians, latencies, sanity checks; the last line is `ratio=...`. Returns the exit code."""
    failed = False
    medians: dict[str, float] = {}
    print()
    for app in APPS:
        rounds = [r for r in outcome.rounds if r.app == app]
        latencies = [x for r in rounds for x in r.latencies]
        medians[app] = statistics.median(r.eps for r in rounds)
        print(
            f"{app}: median {medians[app]:.1f} events/s "
            f"({medians[app] / outcome.batch:.1f} req/s) over {len(rounds)} rounds; latency "
            f"p50 {percentile(latencies, 50) * 1000:.2f} ms, "
            f"p99 {percentile(latencies, 99) * 1000:.2f} ms"
        )
    for app in APPS:
        every = [r for r in outcome.warmups + outcome.rounds if r.app == app]
        statuses: Counter[int] = Counter()
        errors: Counter[str] = Counter()
        for r in every:
            statuses.update(r.statuses)
            errors.update(r.errors)
        bad = {s: n for s, n in statuses.items() if s != 200}
        if bad or errors:
            failed = True
            print(
                f"FAILED: {app} app: non-200 answers {dict(sorted(bad.items()))}, "
                f"connection errors {dict(errors)}"
            )
            for sample in [s for r in every for s in r.samples][:5]:
                print(f"  e.g. {sample}")
    accepted = outcome.batch * sum(
        r.statuses[200] for r in outcome.warmups + outcome.rounds if r.app == "real"
    )
    rows = outcome.rows_after - outcome.rows_before
    print(f"real app: {accepted} events answered 200 (warm-up included), {rows} new inbox rows")
    if accepted != rows:
        failed = True
        print("FAILED: events answered 200 and inbox rows differ")
    for name, tail in outcome.logs.items():
        print(f"gunicorn log of the {name} app (warnings and up) ends with:")
        print("  " + tail.replace("\n", "\n  "))
    ratio = medians["real"] / medians["insert"] if medians["insert"] else 0.0
    print(
        f"real / bare INSERT+commit endpoint: {ratio:.2f} "
        f"(budget >= {BUDGET}: {'met' if ratio >= BUDGET else 'NOT met'})"
    )
    print(f"ratio={ratio:.2f}")
    return 1 if failed else 0


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.ArgumentDefaultsHelpFormatter
    )
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers, both apps")
    parser.add_argument("--threads", type=int, default=4, help="gthread threads per worker")
    parser.add_argument(
        "--concurrency", type=int, default=8,
        help="keep-alive connections in total, one client process each",
    )  # fmt: skip
    parser.add_argument("--duration", type=float, default=5.0, help="seconds per timed round")
    parser.add_argument("--rounds", type=int, default=3, help="timed rounds per app")
    parser.add_argument("--warmup", type=float, default=1.0, help="untimed seconds per app")
    parser.add_argument(
        "--batch", type=int, default=1, metavar="N",
        help="events per signed request (HubSpot sends up to 100)",
    )  # fmt: skip
    parser.add_argument(
        "--quick", action="store_true", help="1 round of 2 s per app, 0.5 s warm-up"
    )
    parser.add_argument(
        "--database-url", metavar="URL",
        help="a SCRATCH database instead of a temp SQLite file (migrated, gets an account "
        "and thousands of inbox rows)",
    )  # fmt: skip
    args = parser.parse_args(argv)
    if args.quick:
        args.rounds, args.duration, args.warmup = 1, 2.0, 0.5
    for name in ("workers", "threads", "concurrency", "rounds", "batch"):
        if getattr(args, name) < 1:
            parser.error(f"--{name} must be at least 1")
    if args.duration <= 0 or args.warmup <= 0:
        parser.error("--duration and --warmup must be positive")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        with sigterm_as_exit():
            outcome = run(args)
    except BenchError as exc:
        print(f"bench failed: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    return report(outcome)


if __name__ == "__main__":
    sys.exit(main())
