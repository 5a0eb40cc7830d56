"""Ingest budget (DESIGN §7): `POST /v1/events` requests/s of the real app vs bare Flask apps.

Three apps run side by side under identical gunicorn settings (workers, threads, gthread):
the real one; `bench/insert_app.py`, a bare endpoint doing the real one's single INSERT
into inbox_events (same columns) and commit on the same database, THE baseline; and
`bench/bare_app.py`, which does no I/O at all (a second line, for scale). Timed rounds
alternate real, insert, bare, real, ... so machine noise hits all three, and the medians
are compared. The last line printed is `ratio=<real rps / insert-and-commit rps>`; the
budget is >= 0.8.

`--batch 100` posts HubSpot-sized batches (a JSON array of 100 events per request) and
compares events/s; the real endpoint is probed first, and while it takes one event per
request the bench says so and measures single events instead.

The real app gets a throw-away world in a temp dir: an embedded Redis (unix socket), a
migrated SQLite file (or `--database-url`), one HubSpot account and its API key. No RQ
worker runs, so each accepted event is verified, persisted and enqueued, and stays queued;
afterwards the bench checks that inbox rows and queued jobs both equal the 202s it got.

The load generator runs in separate processes (spawn context), one keep-alive
`http.client` connection each, so the client does not share a GIL with the servers.
Module-level imports stay light for that reason: every client process re-imports this file.
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import json
import os
import secrets
import signal
import socket
import statistics
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from multiprocessing import get_context
from multiprocessing.connection import Connection
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

if TYPE_CHECKING:
    import subprocess
    from multiprocessing.process import BaseProcess

REPO = Path(__file__).resolve().parent.parent
EVENTS_PATH = "/v1/events"
READY_TIMEOUT = 60.0  # seconds for gunicorn to boot its workers and answer
STOP_TIMEOUT = 15.0
REQUEST_TIMEOUT = 30.0  # gunicorn's own worker timeout is 30 s too
LOG_TAIL_LINES = 40
SAMPLE_BODIES = 3  # non-202 answers whose body is kept for the report, per client and round

T = TypeVar("T")


class BenchError(RuntimeError):
    """The bench could not run (a server did not start, a client died)."""


# --- load generator (runs in the client processes) ---------------------------------------


@dataclass(frozen=True)
class RoundSpec:
    """One timed round as told to every client; times are wall-clock (`time.time()`)."""

    port: int
    label: str
    start_at: float
    duration: float
    batch: int = 1  # events per request; > 1 posts a JSON array


@dataclass
class ClientResult:
    """What one connection saw in one round."""

    ok: int = 0
    statuses: Counter[int] = field(default_factory=Counter)
    errors: Counter[str] = field(default_factory=Counter)
    samples: list[str] = field(default_factory=list)
    latencies: list[float] = field(default_factory=list)  # seconds, 2xx answers only
    finished_at: float = 0.0


def event_body(label: str, i: int) -> bytes:
    """A distinct event per request: the idempotency key never repeats within a run."""
    return json.dumps(
        {
            "contact": {"email": f"user{i}@example.com", "properties": {"firstname": "U"}},
            "event": "product.viewed",
            "properties": {"sku": f"SKU-{i % 50}"},
            "idempotency_key": f"bench-{label}-{i}",
        }
    ).encode()


def batch_body(label: str, i: int, size: int) -> bytes:
    """`size` distinct events in one JSON array, as a HubSpot webhook batch arrives."""
    return b"[" + b",".join(event_body(label, i * size + j) for j in range(size)) + b"]"


class Requests(Protocol):
    """What the clients post: a picklable maker of each request's body and headers (spawned
    clients re-import its module), the path, and the status a good answer has."""

    @property
    def path(self) -> str: ...
    @property
    def accepted(self) -> int: ...
    def __call__(self, label: str, n: int, batch: int) -> tuple[bytes, dict[str, str]]: ...


@dataclass(frozen=True)
class EventRequests:
    """POST /v1/events with the account's API key: single events or JSON arrays."""

    api_key: str
    path: str = EVENTS_PATH
    accepted: int = 202

    def __call__(self, label: str, n: int, batch: int) -> tuple[bytes, dict[str, str]]:
        body = batch_body(label, n, batch) if batch > 1 else event_body(label, n)
        return body, {
            "Authorization": f"Bearer {self.api_key}", "Content-Type": "application/json"
        }  # fmt: skip


def client_main(conn: Connection, client_id: int, concurrency: int, requests: Requests) -> None:
    """Serve RoundSpecs from the parent until told to stop (None) or the pipe closes."""
    try:
        conn.send("ready")
        while True:
            spec = conn.recv()
            if spec is None:
                return
            conn.send(run_round(spec, client_id, concurrency, requests))
    except (EOFError, BrokenPipeError):  # the parent is gone
        return
    except KeyboardInterrupt:  # Ctrl-C reaches the whole process group; the parent cleans up
        return


def run_round(
    spec: RoundSpec, client_id: int, concurrency: int, requests: Requests
) -> ClientResult:
    """Post events back to back on one keep-alive connection for `spec.duration` seconds."""
    result = ClientResult()
    connection: http.client.HTTPConnection | None = None
    end_at = spec.start_at + spec.duration
    time.sleep(max(0.0, spec.start_at - time.time()))
    k = 0
    try:
        while time.time() < end_at:
            body, headers = requests(spec.label, k * concurrency + client_id, spec.batch)
            k += 1
            started = time.perf_counter()
            try:
                if connection is None:
                    connection = http.client.HTTPConnection(
                        "127.0.0.1", spec.port, timeout=REQUEST_TIMEOUT
                    )
                connection.request("POST", requests.path, body=body, headers=headers)
                response = connection.getresponse()
                payload = response.read()
            except (OSError, http.client.HTTPException) as exc:
                result.errors[f"{type(exc).__name__}: {exc}"] += 1
                if connection is not None:
                    connection.close()
                connection = None
                continue
            elapsed = time.perf_counter() - started
            result.statuses[response.status] += 1
            if 200 <= response.status < 300:
                result.ok += 1
                result.latencies.append(elapsed)
            if response.status != requests.accepted and len(result.samples) < SAMPLE_BODIES:
                result.samples.append(f"{response.status}: {payload[:300]!r}")
    finally:
        if connection is not None:
            connection.close()
    result.finished_at = time.time()
    return result


class LoadGenerator:
    """`concurrency` client processes, started once and reused for every round."""

    def __init__(self, concurrency: int, requests: Requests) -> None:
        self.concurrency = concurrency
        self.requests = requests
        self._clients: list[tuple[BaseProcess, Connection]] = []

    def start(self) -> None:
        context = get_context("spawn")
        for client_id in range(self.concurrency):
            parent_end, child_end = context.Pipe()
            process = context.Process(
                target=client_main,
                args=(child_end, client_id, self.concurrency, self.requests),
                name=f"bench-client-{client_id}",
                daemon=True,
            )
            process.start()
            child_end.close()
            self._clients.append((process, parent_end))
        for client, pipe in self._clients:
            if not pipe.poll(READY_TIMEOUT) or pipe.recv() != "ready":
                raise BenchError(f"client {client.name} did not start")

    def run(
        self, port: int, label: str, duration: float, check: Callable[[], None], batch: int = 1
    ) -> tuple[float, list[ClientResult]]:
        """One round against `port`, every client starting at the same instant (returned).

        `check` is called while the clients run and raises to abandon the round (a server died).
        """
        spec = RoundSpec(port, label, time.time() + 0.2, duration, batch)
        for _, pipe in self._clients:
            pipe.send(spec)
        results = []
        deadline = time.monotonic() + 0.2 + duration + REQUEST_TIMEOUT + 10.0
        for process, pipe in self._clients:
            while not pipe.poll(0.25):
                check()
                if time.monotonic() > deadline:
                    raise BenchError(f"client {process.name} did not report back")
            try:
                results.append(pipe.recv())
            except EOFError as exc:
                raise BenchError(f"client {process.name} died (exit {process.exitcode})") from exc
        return spec.start_at, results

    def stop(self) -> None:
        for _, pipe in self._clients:
            with contextlib.suppress(OSError):
                pipe.send(None)
        for process, pipe in self._clients:
            process.join(5.0)
            if process.is_alive():
                process.kill()
                process.join(5.0)
            pipe.close()
        self._clients.clear()


# --- rounds and figures --------------------------------------------------------------------


@dataclass
class RoundResult:
    app: str
    number: int
    ok: int
    elapsed: float
    statuses: Counter[int]
    errors: Counter[str]
    samples: list[str]
    latencies: list[float]
    batch: int = 1
    accepted: int = 202  # the status of a good answer
    client_ok: list[int] = field(default_factory=list)  # 2xx answers of each client

    @property
    def rps(self) -> float:
        return self.ok / self.elapsed if self.elapsed > 0 else 0.0

    @property
    def eps(self) -> float:
        """Events/s: requests/s times the events in each."""
        return self.rps * self.batch

    @property
    def failures(self) -> int:
        return sum(n for status, n in self.statuses.items() if status != self.accepted) + sum(
            self.errors.values()
        )


def merge(
    app: str,
    number: int,
    started_at: float,
    results: Sequence[ClientResult],
    batch: int = 1,
    accepted: int = 202,
) -> RoundResult:
    """One round's figures from every client's: rps = all 2xx / (last answer - start)."""
    statuses: Counter[int] = Counter()
    errors: Counter[str] = Counter()
    samples: list[str] = []
    latencies: list[float] = []
    for r in results:
        statuses.update(r.statuses)
        errors.update(r.errors)
        samples.extend(r.samples)
        latencies.extend(r.latencies)
    elapsed = max(r.finished_at for r in results) - started_at
    return RoundResult(
        app, number, sum(r.ok for r in results), elapsed, statuses, errors, samples, latencies,
        batch, accepted, [r.ok for r in results],
    )  # fmt: skip


def percentile(values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100); NaN for no values."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q / 100 * len(ordered)) - 1))]


ROW = "{:>5}  {:<6}  {:>8}  {:>8}  {:>8}  {:>9}  {:>10}  {:>8}  {:>8}"


def print_header() -> None:
    print(
        ROW.format(
            "round", "app", "2xx", "failed", "elapsed", "req/s", "events/s", "p50 ms", "p99 ms"
        )
    )


def print_round(r: RoundResult) -> None:
    print(
        ROW.format(
            r.number,
            r.app,
            r.ok,
            r.failures,
            f"{r.elapsed:.2f}s",
            f"{r.rps:.1f}",
            f"{r.eps:.1f}",
            f"{percentile(r.latencies, 50) * 1000:.2f}",
            f"{percentile(r.latencies, 99) * 1000:.2f}",
        ),
        flush=True,
    )


def alternate(
    clients: LoadGenerator,
    servers: Sequence[Server],
    args: argparse.Namespace,
    run_tag: str,
    batch: int,
    accepted: int = 202,
) -> tuple[list[RoundResult], list[RoundResult]]:
    """A warm-up per server, then `args.rounds` rounds alternating the servers, each printed;
    returns (warm-ups, rounds). A server that exits meanwhile abandons the run."""

    def servers_alive() -> None:
        for server in servers:
            if server.process.poll() is not None:
                raise BenchError(
                    f"gunicorn for the {server.name} app exited with "
                    f"{server.process.returncode} during the run; its log ends with:\n"
                    f"{server.tail()}"
                )

    def timed(server: Server, number: int, label: str, duration: float) -> RoundResult:
        started_at, results = clients.run(server.port, label, duration, servers_alive, batch)
        return merge(server.name, number, started_at, results, batch, accepted)

    warmups = [timed(s, 0, f"{run_tag}.w{s.name}", args.warmup) for s in servers]
    print_header()
    rounds: list[RoundResult] = []
    for number in range(1, args.rounds + 1):
        for server in servers:
            result = timed(server, number, f"{run_tag}.r{number}{server.name}", args.duration)
            rounds.append(result)
            print_round(result)
    return warmups, rounds


def report_apps(
    apps: Sequence[str],
    rounds: Sequence[RoundResult],
    warmups: Sequence[RoundResult],
    batch: int,
    accepted: int = 202,
) -> tuple[dict[str, float], bool]:
    """Print each app's median rate and latency, then every app that got an answer other
    than `accepted` or a connection error; returns (median events/s by app, any failed)."""
    failed = False
    medians: dict[str, float] = {}
    print()
    for app in apps:
        timed = [r for r in rounds if r.app == app]
        latencies = [x for r in timed for x in r.latencies]
        medians[app] = statistics.median(r.eps for r in timed)
        print(
            f"{app}: median {medians[app]:.1f} events/s "
            f"({medians[app] / batch:.1f} req/s) over {len(timed)} rounds; latency "
            f"p50 {percentile(latencies, 50) * 1000:.2f} ms, "
            f"p99 {percentile(latencies, 99) * 1000:.2f} ms"
        )
    for app in apps:
        every = [r for r in [*warmups, *rounds] if r.app == app]
        statuses: Counter[int] = Counter()
        errors: Counter[str] = Counter()
        for r in every:
            statuses.update(r.statuses)
            errors.update(r.errors)
        bad = {s: n for s, n in statuses.items() if s != accepted}
        if bad or errors:
            failed = True
            print(
                f"FAILED: {app} app: non-{accepted} answers {dict(sorted(bad.items()))}, "
                f"connection errors {dict(errors)}"
            )
            for sample in [s for r in every for s in r.samples][:5]:
                print(f"  e.g. {sample}")
    return medians, failed


def print_logs(logs: dict[str, str]) -> None:
    for name, tail in logs.items():
        print(f"gunicorn log of the {name} app (warnings and up) ends with:")
        print("  " + tail.replace("\n", "\n  "))


def print_ratio(medians: dict[str, float], budget: float = 0.8) -> None:
    """The verdict and the last line, `ratio=<median real / median insert>`."""
    ratio = medians["real"] / medians["insert"] if medians["insert"] else 0.0
    print(
        f"real / bare INSERT+commit endpoint: {ratio:.2f} "
        f"(budget >= {budget}: {'met' if ratio >= budget else 'NOT met'})"
    )
    print(f"ratio={ratio:.2f}")


# --- servers -------------------------------------------------------------------------------


@dataclass
class Server:
    name: str
    port: int
    process: subprocess.Popen[bytes]
    log: Path

    def tail(self, lines: int = LOG_TAIL_LINES) -> str:
        try:
            text = self.log.read_text(errors="replace")
        except FileNotFoundError:
            return "(no log written)"
        return "\n".join(text.splitlines()[-lines:]) or "(log is empty)"


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def gunicorn_argv(app: str, port: int, args: argparse.Namespace, log: Path) -> list[str]:
    """The same server settings for both apps; only the app spec, port and log differ."""
    argv = [
        sys.executable, "-m", "gunicorn",
        "--bind", f"127.0.0.1:{port}",
        "--workers", str(args.workers),
        "--threads", str(args.threads),
        "--worker-class", "gthread",
        "--log-level", "warning",
        # Tracebacks and worker output go to a file the bench can quote when something fails.
        "--error-logfile", str(log),
        "--capture-output",
        "--chdir", str(REPO),  # so `bench.bare_app` imports
    ]  # fmt: skip
    if _has_control_socket():
        # gunicorn >= 25 listens on ~/.gunicorn/gunicorn.ctl by default: two servers would
        # fight over it, and the bench must leave nothing behind.
        argv.append("--no-control-socket")
    return [*argv, app]


def _has_control_socket() -> bool:
    from gunicorn.config import Config  # type: ignore[import-untyped]

    return "control_socket_disable" in Config().settings


def start_server(
    name: str,
    app: str,
    port: int,
    args: argparse.Namespace,
    env: dict[str, str],
    tmp: Path,
    stack: contextlib.ExitStack,
) -> Server:
    """Spawn gunicorn (it dies with us), register its stop, and wait for GET /healthz."""
    from connector.local.processes import spawn, terminate

    log = tmp / f"gunicorn-{name}.log"
    process = spawn(gunicorn_argv(app, port, args, log), env=env, cwd=REPO, name=f"{name} app")
    stack.callback(terminate, process, STOP_TIMEOUT)
    server = Server(name, port, process, log)
    wait_until_ready(server, "/healthz", require_ok=name != "bare")
    return server


def wait_until_ready(server: Server, path: str, *, require_ok: bool) -> None:
    deadline = time.monotonic() + READY_TIMEOUT
    last = "no answer"
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise BenchError(
                f"gunicorn for the {server.name} app exited with {server.process.returncode} "
                f"before answering on port {server.port}; its log ends with:\n{server.tail()}"
            )
        connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=2.0)
        try:
            connection.request("GET", path)
            response = connection.getresponse()
            response.read()
            if response.status == 200 or not require_ok:
                return
            last = f"GET {path} answered {response.status}"
        except (OSError, http.client.HTTPException) as exc:
            last = f"{type(exc).__name__}: {exc}"
        finally:
            connection.close()
        time.sleep(0.1)
    raise BenchError(
        f"gunicorn for the {server.name} app did not answer GET {path} in {READY_TIMEOUT:.0f}s "
        f"({last}); its log ends with:\n{server.tail()}"
    )


# --- the world of the real app -------------------------------------------------------------


def app_environment(tmp: Path, database_url: str, redis_url: str, port: int) -> dict[str, str]:
    """The variables connector/settings.py reads, pointing everything into `tmp`."""
    from cryptography.fernet import Fernet

    return {
        "APP_ENV": "development",
        "VAR_DIR": str(tmp / "var"),
        "DATABASE_URL": database_url,
        "REDIS_URL": redis_url,
        "FLOWS_DIR": str(REPO / "flows"),
        "TEMPLATES_DIR": str(REPO / "templates"),
        "MAIL_URL": f"outbox://{tmp / 'outbox'}",
        "SECRET_KEY": "bench",
        "ENCRYPTION_KEYS": Fernet.generate_key().decode(),
        "PUBLIC_BASE_URL": f"http://127.0.0.1:{port}",
    }


def newest_account_id(sqlalchemy_url: str) -> int:
    """The account create_account just made (a scratch database keeps earlier ones)."""
    from sqlalchemy import func, select

    from connector.db import Database
    from connector.models import Account

    db = Database(sqlalchemy_url)
    try:
        with db.engine.connect() as connection:
            return int(connection.scalar(select(func.max(Account.id))) or 0)
    finally:
        db.dispose()


def probe_batches(port: int, api_key: str, size: int) -> tuple[bool, str]:
    """Whether the real endpoint takes a `size`-event JSON array: (accepted, its answer)."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=REQUEST_TIMEOUT)
    try:
        headers = {"Authorization": f"Bearer {api_key}", "Content-Type": "application/json"}
        connection.request("POST", EVENTS_PATH, batch_body("probe", 0, size), headers)
        response = connection.getresponse()
        answer = response.read()[:200].decode(errors="replace")
    finally:
        connection.close()
    return response.status == 202, f"{response.status} {answer}"


def create_account(
    values: dict[str, str],
    *,
    provider: str = "hubspot",
    external_id: str | None = None,
    instance_url: str | None = None,
) -> tuple[str, str]:
    """Migrate the database, connect one account with the default workspace (a new
    HubSpot portal unless told another provider and its id); returns (sqlalchemy url, API
    key)."""
    from connector.clock import SystemClock
    from connector.crypto import Vault
    from connector.db import Database
    from connector.migrate import upgrade
    from connector.services.accounts import connect_account
    from connector.settings import load_settings
    from connector.workspaces import deploy_default

    settings = load_settings(**values)
    # A new portal (or org: callers pass a fresh id) per run: on a reused scratch database
    # an earlier run's account is encrypted with an earlier run's ENCRYPTION_KEYS and
    # could not be read back.
    external_id = external_id or str(1_000_000 + secrets.randbelow(10**9))
    upgrade(settings.sqlalchemy_url)
    db = Database(settings.sqlalchemy_url)
    try:
        with db.session() as session:
            view, _ = connect_account(
                session, Vault(settings.fernet_keys), provider=provider,
                external_id=external_id, access_token="bench", instance_url=instance_url,
                name="bench", now=SystemClock().now(),
            )  # fmt: skip
        deploy_default(db, settings, view.id, SystemClock().now())
    finally:
        db.dispose()
    return settings.sqlalchemy_url, view.api_key


@dataclass
class Backlog:
    inbox_rows: int
    queued_jobs: int


def backlog(sqlalchemy_url: str, redis_url: str, dedup_like: str = "%") -> Backlog:
    """Rows in inbox_events (those whose dedup key is LIKE `dedup_like`: the insert
    baseline writes into the same table) and jobs waiting in the RQ `events` queue (one
    batch job serves every event stored while it waits)."""
    from redis import Redis
    from rq import Queue
    from sqlalchemy import func, select

    from connector.db import Database
    from connector.models import InboxEvent

    db = Database(sqlalchemy_url)
    try:
        with db.engine.connect() as connection:
            count = select(func.count()).where(InboxEvent.dedup_key.like(dedup_like))
            rows = connection.scalar(count) or 0
    finally:
        db.dispose()
    with Redis.from_url(redis_url) as redis:
        queued = Queue("events", connection=redis).count
    return Backlog(int(rows), int(queued))


# --- the run -------------------------------------------------------------------------------


APPS = ("real", "insert", "bare")


@dataclass
class Outcome:
    rounds: list[RoundResult]
    warmups: list[RoundResult]
    before: Backlog
    after: Backlog
    logs: dict[str, str]
    batch: int = 1
    batch_note: str = ""


def run(args: argparse.Namespace) -> Outcome:
    """Set everything up, run warm-up and alternating rounds, tear everything down."""
    from connector.local.redis_embedded import EmbeddedRedis

    with contextlib.ExitStack() as stack:
        tmp = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="bench-ingest-")))
        redis_server = stack.enter_context(EmbeddedRedis(tmp / "redis"))
        database_url = args.database_url or f"sqlite:///{tmp / 'connector.sqlite3'}"
        real_port = free_port()
        values = app_environment(tmp, database_url, redis_server.url, real_port)
        sqlalchemy_url, api_key = create_account(values)
        # In every idempotency key, so a reused scratch database never answers "duplicate".
        run_tag = secrets.token_hex(3)
        real_rows = f"bench-{run_tag}.%real-%"
        before = backlog(sqlalchemy_url, redis_server.url, real_rows)
        env = {
            **os.environ, **values, "BENCH_ACCOUNT_ID": str(newest_account_id(sqlalchemy_url))
        }  # fmt: skip
        real = start_server("real", "connector.app:create_app()", real_port, args, env, tmp, stack)
        insert_app = "bench.insert_app:create_app()"
        insert = start_server("insert", insert_app, free_port(), args, env, tmp, stack)
        bare_app = "bench.bare_app:create_app()"
        bare = start_server("bare", bare_app, free_port(), args, env, tmp, stack)
        servers = (real, insert, bare)
        batch, batch_note = 1, ""
        if args.batch > 1:
            accepted, answer = probe_batches(real.port, api_key, args.batch)
            if accepted:
                batch = args.batch
                batch_note = f"{batch}-event batches: the real endpoint accepts them"
            else:
                batch_note = (
                    f"{args.batch}-event batches are NOT accepted by /v1/events yet (a "
                    f"{args.batch}-event array answered {answer.strip()!r}): single events "
                    "measured instead"
                )
            print(batch_note, flush=True)
        print(
            f"servers up: real :{real.port}, insert :{insert.port}, bare :{bare.port} "
            f"(gunicorn gthread, {args.workers} workers x {args.threads} threads); "
            f"{args.concurrency} connections, {args.rounds} x {args.duration:g}s rounds per app"
            f", {batch} event(s) per request",
            flush=True,
        )

        clients = LoadGenerator(args.concurrency, EventRequests(api_key))
        stack.callback(clients.stop)
        clients.start()
        warmups, rounds = alternate(clients, servers, args, run_tag, batch)
        clients.stop()
        after = backlog(sqlalchemy_url, redis_server.url, real_rows)
        logs = {s.name: s.tail() for s in servers if s.log.exists() and s.log.stat().st_size}
        return Outcome(rounds, warmups, before, after, logs, batch, batch_note)


def report(outcome: Outcome) -> int:
    """Medians, latencies, sanity checks; the last line is `ratio=...`. Returns the exit code."""
    medians, failed = report_apps(APPS, outcome.rounds, outcome.warmups, outcome.batch)
    accepted = outcome.batch * sum(
        r.statuses[202] for r in outcome.warmups + outcome.rounds if r.app == "real"
    )
    rows = outcome.after.inbox_rows - outcome.before.inbox_rows
    queued = outcome.after.queued_jobs - outcome.before.queued_jobs
    print(
        f"real app: {accepted} answers 202 (warm-up included), {rows} new inbox_events rows, "
        f"{queued} batch job(s) queued on 'events' (wake-ups coalesce: no worker runs here)"
    )
    if accepted != rows or (accepted and queued < 1):
        failed = True
        print("FAILED: 202s and inbox rows differ, or nothing was queued to process them")
    print_logs(outcome.logs)
    if outcome.batch_note:
        print(outcome.batch_note)
    no_io = medians["real"] / medians["bare"] if medians["bare"] else 0.0
    print(f"real / bare no-I/O endpoint: {no_io:.2f} (for scale only)")
    print_ratio(medians)
    return 1 if failed else 0


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=(
            "Requests/s of POST /v1/events through the real app vs two bare Flask endpoints "
            "under the same gunicorn settings, in alternating rounds: bench/insert_app.py "
            "(the same one INSERT into inbox_events and commit, same database: the "
            "baseline) and bench/bare_app.py (read the JSON body, answer 202: for scale). "
            "Prints a line per round, medians, p50/p99 latency, checks that every 202 left "
            "an inbox row and a queued job, and ends with the line `ratio=<median real "
            "events/s / median insert-and-commit events/s>` (budget: >= 0.8). Everything "
            "lives in a temp dir (embedded Redis on a unix socket, a SQLite file, gunicorn "
            "logs) removed at exit; only 127.0.0.1 is used. Exit "
            "status 1 if any request failed or the counts disagree."
        ),
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    add_load_arguments(
        parser, batch_help="events per request, as a JSON array (HubSpot sends up to 100); "
        "probed first",
    )  # fmt: skip
    return checked_load_arguments(parser, parser.parse_args(argv))


def add_load_arguments(parser: argparse.ArgumentParser, *, batch_help: str) -> None:
    """The options of every ingest bench: gunicorn settings, load, rounds, batch, database."""
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers, every app")
    parser.add_argument("--threads", type=int, default=4, help="gthread threads per worker")
    parser.add_argument(
        "--concurrency", type=int, default=8,
        help="keep-alive connections in total, one client process each",
    )  # fmt: skip
    parser.add_argument("--duration", type=float, default=5.0, help="seconds per timed round")
    parser.add_argument("--rounds", type=int, default=3, help="timed rounds per app")
    parser.add_argument(
        "--warmup", type=float, default=1.0,
        help="untimed seconds per app before the first round (workers boot, caches fill)",
    )  # fmt: skip
    parser.add_argument("--batch", type=int, default=1, metavar="N", help=batch_help)
    parser.add_argument(
        "--quick", action="store_true",
        help="smoke run: 1 round of 2 s per app, 0.5 s warm-up (overrides the above)",
    )  # fmt: skip
    parser.add_argument(
        "--database-url", metavar="URL",
        help="use this database instead of a temp SQLite file, e.g. "
        "postgresql://user@127.0.0.1/bench_scratch. It MUST be a scratch database: the bench "
        "migrates it to head, adds an account and leaves thousands of inbox_events rows",
    )  # fmt: skip


def checked_load_arguments(
    parser: argparse.ArgumentParser, args: argparse.Namespace, *, max_batch: int | None = None
) -> argparse.Namespace:
    """`args` with `--quick` applied; a number out of range stops with the option's name."""
    if args.quick:
        args.rounds, args.duration, args.warmup = 1, 2.0, 0.5
    for name in ("workers", "threads", "concurrency", "rounds"):
        if getattr(args, name) < 1:
            parser.error(f"--{name} must be at least 1")
    if max_batch is not None and not 1 <= args.batch <= max_batch:
        parser.error(f"--batch must be 1 to {max_batch}")
    if args.duration <= 0 or args.warmup <= 0:
        parser.error("--duration and --warmup must be positive")
    return args


@contextlib.contextmanager
def sigterm_as_exit() -> Iterator[None]:
    """A SIGTERM unwinds like Ctrl-C does, so the temp dir and children are cleaned up."""

    def handle(signum: int, frame: FrameType | None) -> Any:
        raise SystemExit(128 + signum)

    previous = signal.signal(signal.SIGTERM, handle)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def run_and_report(
    run: Callable[[argparse.Namespace], T], report: Callable[[T], int], args: argparse.Namespace
) -> int:
    """`report(run(args))`, SIGTERM and Ctrl-C unwinding cleanly; the exit code."""
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


def main(argv: Sequence[str] | None = None) -> int:
    return run_and_report(run, report, parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
