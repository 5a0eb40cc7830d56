"""Webhook ingest budget (DESIGN §7) for Salesforce: notifications/s of the real
`POST /webhooks/salesforce/outbound` (hardened SOAP parse, org routing, the per-account
?token=, normalizing, dedup on the Notification Id, commit before the Ack, Redis wake-up)
vs a bare Flask endpoint doing the same INSERTs and commit and answering the same SOAP Ack
(`bench/salesforce_insert_app.py`), on the same database, same gunicorn settings.

The harness is `bench/ingest.py`'s, imported: the same temp world (embedded Redis, a
migrated SQLite file or `--database-url`, now one connected Salesforce account under a
fresh org id), the same spawned keep-alive clients and alternating rounds. Each request is
an Outbound Message of `--batch` (1 to 100) Contact notifications of that org, built by the
emulator's `devcrm.salesforce.outbound.envelope` exactly as Salesforce sends it, posted to
`?token=<the account's inbound secret>`.

Dedup is measured, not skipped: every client sends each body twice in a row (Salesforce
redelivers a message whose Ack it did not get), so half of the notifications each app
takes are redeliveries. Before the rounds one probe body is sent twice to each app: both
answers must be exactly the SOAP Ack and each app's inbox must grow by one batch, not two.
No RQ worker runs; afterwards the bench checks that the real app's new inbox rows equal the
distinct notifications it Acked, and that a wake-up job is queued.

`--profile` then runs the real app once more in this process under cProfile (Flask's
test client: the app's own work, not gunicorn's), on fresh bodies each sent twice, and
prints its top frames.

The last line is `ratio=<median real notifications/s / median insert-and-commit
notifications/s>` (every Acked notification counts, redeliveries too); the budget is >= 0.8.

    python bench/salesforce_ingest.py [--batch 100] [--quick] [--profile]
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import os
import secrets
import string
import sys
import tempfile
import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

if __package__ in (None, ""):  # run as `python bench/salesforce_ingest.py`
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from bench.ingest import (
    REQUEST_TIMEOUT,
    Backlog,
    BenchError,
    LoadGenerator,
    RoundResult,
    add_load_arguments,
    alternate,
    app_environment,
    backlog,
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

PATH = "/webhooks/salesforce/outbound"
APPS = ("real", "insert")
BUDGET = 0.8
MAX_BATCH = 100  # notifications per Outbound Message, Salesforce's own limit
INSTANCE_URL = "https://bench.my.salesforce.com"
API_VERSION = "59.0"
FIELDS = ["Email", "FirstName", "LastName", "HasOptedOutOfEmail", "LeadSource", "CreatedDate",
          "LastModifiedDate"]  # fmt: skip
STAMP = "2026-01-15T10:00:00.000Z"
HEADERS = {"Content-Type": "text/xml; charset=utf-8", "SOAPAction": '""',
           "User-Agent": "Salesforce - Outbound Notification"}  # fmt: skip
# The real app's rows have the Notification Id as dedup key, the baseline's `bench:<id>`.
REAL_ROWS, BASELINE_ROWS = "04l%", "bench:04l%"
PROFILED_NOTIFICATIONS = 2000  # distinct, each sent twice, under --profile
_BASE62 = string.digits + string.ascii_uppercase + string.ascii_lowercase


# --- requests (built in the client processes) ---------------------------------------------


def sf_id(prefix: str, number: int) -> str:
    """An 18-character Salesforce id: a 3-character key prefix, `number` (< 62**12) in 12
    base-62 digits, and the checksum."""
    from devcrm.salesforce.ids import to18

    digits = []
    for _ in range(12):
        number, digit = divmod(number, 62)
        digits.append(_BASE62[digit])
    return to18(prefix + "".join(reversed(digits)))


def outbound_body(org_id: str, label: str, number: int, batch: int) -> bytes:
    """Outbound Message `number` of a round: `batch` Contact notifications whose
    Notification Ids (and Contact ids) no other round or message has."""
    from devcrm.salesforce.outbound import OutboundConfig, envelope

    base = (zlib.crc32(label.encode()) << 36) + number * batch
    config = OutboundConfig(sf_id("04k", 1), org_id, "", "Contact", FIELDS)
    notifications = [
        (sf_id("04l", base + j), {
            "Id": sf_id("003", base + j), "Email": f"c{base + j}@example.com",
            "FirstName": "Ada", "LastName": f"L{base + j}", "HasOptedOutOfEmail": False,
            "LeadSource": "Web", "CreatedDate": STAMP, "LastModifiedDate": STAMP,
        })
        for j in range(batch)
    ]  # fmt: skip
    return envelope(config, notifications, INSTANCE_URL, API_VERSION).encode()


@dataclass(frozen=True)
class OutboundRequests:
    """Outbound Messages of one org to the endpoint with its token, each sent twice in a
    row by the client that sends it."""

    org_id: str
    path: str  # with ?token=
    concurrency: int  # the clients: request n is client n % concurrency's (n // it)-th
    accepted: int = 200

    def __call__(self, label: str, n: int, batch: int) -> tuple[bytes, dict[str, str]]:
        client, k = n % self.concurrency, n // self.concurrency
        return outbound_body(self.org_id, label, (k // 2) * self.concurrency + client,
                             batch), HEADERS  # fmt: skip


def distinct_acked(rounds: Sequence[RoundResult]) -> int:
    """Distinct notifications in the Acked requests: a client whose every request was
    Acked sent ceil(ok / 2) distinct bodies (each twice in a row, the last maybe once)."""
    return sum((ok + 1) // 2 * r.batch for r in rounds for ok in r.client_ok)


# --- the probe -----------------------------------------------------------------------------


def probe(port: int, path: str, body: bytes, rows_before: int, rows_now: Callable[[], int],
          batch: int, app: str) -> list[str]:  # fmt: skip
    """Send `body` twice: what is wrong with the answers (each must be the exact Ack) or
    the inbox (it must grow by `batch` rows, once)."""
    from adapters.salesforce.events import ACK

    problems = []
    for attempt in (1, 2):
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=REQUEST_TIMEOUT)
        try:
            connection.request("POST", path, body, HEADERS)
            response = connection.getresponse()
            answer = response.read()
        finally:
            connection.close()
        if response.status != 200 or answer != ACK.encode():
            problems.append(f"{app} app, probe send {attempt}: {response.status} "
                            f"{answer[:200]!r} instead of 200 and the Ack")
    grown = rows_now() - rows_before
    if grown != batch:
        problems.append(f"{app} app: a {batch}-notification probe sent twice added {grown} "
                        f"inbox rows instead of {batch}")
    return problems


# --- the profile ---------------------------------------------------------------------------


def profile_real_app(values: dict[str, str], requests: OutboundRequests, label: str,
                     batch: int, out: Path) -> int:  # fmt: skip
    """cProfile the real app in this process (Flask's test client: the app's own work,
    not gunicorn's) taking Outbound Messages, each twice as in the rounds; dumps the stats
    to `out` and returns the requests made."""
    import cProfile

    from connector.app import create_app
    from connector.settings import load_settings

    app = create_app(settings=load_settings(**values))
    client = app.test_client()
    bodies = max(10, PROFILED_NOTIFICATIONS // batch)
    profiler = cProfile.Profile()
    for number in range(bodies):
        body = outbound_body(requests.org_id, label, number, batch)
        for _ in (1, 2):
            profiler.enable()
            answer = client.post(requests.path, data=body, headers=HEADERS)
            profiler.disable()
            if answer.status_code != 200:
                raise BenchError(f"profiling: the real app answered {answer.status_code}: "
                                 f"{answer.get_data()[:200]!r}")
    profiler.dump_stats(out)
    app.extensions["runtime"].close()
    return 2 * bodies


# --- the run -------------------------------------------------------------------------------


@dataclass
class Outcome:
    rounds: list[RoundResult]
    warmups: list[RoundResult]
    before: Backlog  # real rows and queued jobs before the probe
    after: Backlog
    logs: dict[str, str]
    batch: int
    problems: list[str]


def run(args: argparse.Namespace) -> Outcome:
    """Set everything up, probe, run warm-up and alternating rounds, tear everything down."""
    from connector.local.redis_embedded import EmbeddedRedis
    from connector.services.crm_secrets import inbound_secret

    with contextlib.ExitStack() as stack:
        tmp = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="bench-sfingest-")))
        redis_server = stack.enter_context(EmbeddedRedis(tmp / "redis"))
        database_url = args.database_url or f"sqlite:///{tmp / 'connector.sqlite3'}"
        real_port = free_port()
        values = app_environment(tmp, database_url, redis_server.url, real_port)
        # A fresh org per run: a reused scratch database keeps earlier runs' accounts.
        org_id = sf_id("00D", secrets.randbelow(62**12))
        sqlalchemy_url, _ = create_account(values, provider="salesforce", external_id=org_id,
                                           instance_url=INSTANCE_URL)  # fmt: skip
        account_id = newest_account_id(sqlalchemy_url)
        token = inbound_secret(values["SECRET_KEY"], account_id)
        requests = OutboundRequests(org_id, f"{PATH}?token={token}", args.concurrency)

        def rows(like: str) -> Backlog:
            return backlog(sqlalchemy_url, redis_server.url, like)

        before, baseline_before = rows(REAL_ROWS), rows(BASELINE_ROWS)
        env = {**os.environ, **values, "BENCH_ACCOUNT_ID": str(account_id)}
        real = start_server("real", "connector.app:create_app()", real_port, args, env, tmp, stack)
        insert_app = "bench.salesforce_insert_app:create_app()"
        insert = start_server("insert", insert_app, free_port(), args, env, tmp, stack)
        servers = (real, insert)
        run_tag = secrets.token_hex(3)
        body = outbound_body(org_id, f"{run_tag}.probe", 0, args.batch)
        problems = [
            *probe(real.port, requests.path, body, before.inbox_rows,
                   lambda: rows(REAL_ROWS).inbox_rows, args.batch, "real"),
            *probe(insert.port, requests.path, body, baseline_before.inbox_rows,
                   lambda: rows(BASELINE_ROWS).inbox_rows, args.batch, "insert"),
        ]  # fmt: skip
        for problem in problems:
            print(f"FAILED: {problem}", flush=True)
        print(
            f"servers up: real :{real.port}, insert :{insert.port} (gunicorn gthread, "
            f"{args.workers} workers x {args.threads} threads); {args.concurrency} "
            f"connections, {args.rounds} x {args.duration:g}s rounds per app, Outbound "
            f"Messages of {args.batch} Contact notification(s), each sent twice in a row",
            flush=True,
        )
        clients = LoadGenerator(args.concurrency, requests)
        stack.callback(clients.stop)
        clients.start()
        warmups, rounds = alternate(clients, servers, args, run_tag, args.batch, 200)
        clients.stop()
        after = rows(REAL_ROWS)
        logs = {s.name: s.tail() for s in servers if s.log.exists() and s.log.stat().st_size}
        if args.profile:
            from bench.writeback import print_profile

            made = profile_real_app(values, requests, f"{run_tag}.profile", args.batch,
                                    tmp / "real.prof")  # fmt: skip
            print_profile([str(tmp / "real.prof")], f"the real app, {made} requests of "
                          f"{args.batch} notification(s), in process")  # fmt: skip
        return Outcome(rounds, warmups, before, after, logs, args.batch, problems)


def report(outcome: Outcome) -> int:
    """Medians, latencies, sanity checks; the last line is `ratio=...`. Returns the exit code."""
    print("(events = notifications, each body sent twice: half of them redeliveries)")
    medians, failed = report_apps(APPS, outcome.rounds, outcome.warmups, outcome.batch, 200)
    real = [r for r in outcome.warmups + outcome.rounds if r.app == "real"]
    acked = outcome.batch * sum(r.statuses[200] for r in real)
    distinct = distinct_acked(real)
    rows = outcome.after.inbox_rows - outcome.before.inbox_rows - outcome.batch  # the probe's
    queued = outcome.after.queued_jobs - outcome.before.queued_jobs
    print(
        f"real app: {acked} notifications Acked (warm-up included), {distinct} distinct, "
        f"{acked - distinct} redeliveries; {rows} new inbox rows (the probe's left out), "
        f"{queued} wake-up job(s) queued on 'events' (no worker runs here)"
    )
    if rows != distinct or (acked and queued < 1):
        failed = True
        print("FAILED: inbox rows and distinct Acked notifications differ, or nothing queued")
    if outcome.problems:
        failed = True
        print(f"FAILED: the probe: {'; '.join(outcome.problems)}")
    print_logs(outcome.logs)
    print_ratio(medians, BUDGET)
    return 1 if failed else 0


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.ArgumentDefaultsHelpFormatter
    )
    add_load_arguments(parser, batch_help="Contact notifications per Outbound Message (1 to "
                       f"{MAX_BATCH}, Salesforce's limit)")  # fmt: skip
    parser.add_argument("--profile", action="store_true",
                        help="afterwards, cProfile the real app in process and print its top "
                        "frames")  # fmt: skip
    return checked_load_arguments(parser, parser.parse_args(argv), max_batch=MAX_BATCH)


def main(argv: Sequence[str] | None = None) -> int:
    return run_and_report(run, report, parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
