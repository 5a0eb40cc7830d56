"""A throw-away `connector serve`-like world for the delivery benches.

One temp dir holds an embedded Redis (unix socket), a migrated SQLite file (or a given
scratch PostgreSQL), one HubSpot account with the default workspace, the gunicorn web
process `bench/ingest.py` starts (same settings), and a pool of `connector worker`
processes the bench starts and stops per phase (queues, MAIL_URL and ticker chosen per
phase). The benches talk to it only from the outside: HTTP, the sink, the worker
processes, and plain SQL counts over `inbox_events` and `messages`.

The HTTP clients run in spawned processes (one keep-alive connection each) so they do not
share a GIL with anything; module-level imports stay light because every client process
re-imports this module.
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import http.client
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from multiprocessing import get_context
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
WORKER_READY_TIMEOUT = 60.0
WORKER_STOP_TIMEOUT = 30.0
EVENT_KIND = "signed_up"  # triggers no flow of its own: only the new contact's welcome


# --- HTTP clients (run in spawned processes) -----------------------------------------------


def new_contact_event(email: str) -> bytes:
    """A brand-new contact: its first event creates it, which enters the welcome flow."""
    return json.dumps(
        {
            "contact": {"email": email, "properties": {"firstname": "Ann", "lastname": "Lee"}},
            "event": EVENT_KIND,
            "properties": {"plan": "trial"},
            "idempotency_key": email,
        }
    ).encode()


@dataclass(frozen=True)
class PostPlan:
    port: int
    api_key: str
    emails: tuple[str, ...]
    start_at: float  # wall clock
    interval: float  # seconds between this client's posts; 0: back to back


@dataclass
class Posted:
    """What one client saw: (email, wall time the request was sent, status) per post."""

    sent: list[tuple[str, float, int]] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    behind: float = 0.0  # the most a post started after its planned time (paced clients)


def post_plan(plan: PostPlan) -> Posted:
    """Post each email's event on one keep-alive connection, paced or back to back."""
    headers = {"Authorization": f"Bearer {plan.api_key}", "Content-Type": "application/json"}
    out = Posted()
    connection: http.client.HTTPConnection | None = None
    time.sleep(max(0.0, plan.start_at - time.time()))
    for i, email in enumerate(plan.emails):
        if plan.interval:
            due = plan.start_at + i * plan.interval
            wait = due - time.time()
            if wait > 0:
                time.sleep(wait)
            else:
                out.behind = max(out.behind, -wait)
        sent_at = time.time()
        try:
            if connection is None:
                connection = http.client.HTTPConnection("127.0.0.1", plan.port, timeout=30)
            connection.request("POST", "/v1/events", new_contact_event(email), headers)
            response = connection.getresponse()
            response.read()
            out.sent.append((email, sent_at, response.status))
        except (OSError, http.client.HTTPException) as exc:
            out.errors.append(f"{email}: {type(exc).__name__}: {exc}")
            if connection is not None:
                connection.close()
            connection = None
    if connection is not None:
        connection.close()
    return out


def post_all(
    port: int, api_key: str, emails: Sequence[str], *, clients: int, rate: float = 0.0
) -> tuple[float, Posted]:
    """Post every email's event from `clients` processes; `rate` > 0 paces the total to
    that many posts/s. Returns (wall start, merged result)."""
    with get_context("spawn").Pool(clients) as pool:
        # Every client process up and importing done before the schedule is set.
        pool.map(time.sleep, [0.2] * clients, chunksize=1)
        start_at = time.time() + 0.2
        plans = []
        for c in range(clients):
            offset = c / rate if rate else 0.0
            interval = clients / rate if rate else 0.0
            plans.append(
                PostPlan(port, api_key, tuple(emails[c::clients]), start_at + offset, interval)
            )
        results = pool.map(post_plan, plans, chunksize=1)
    merged = Posted()
    for r in results:
        merged.sent.extend(r.sent)
        merged.errors.extend(r.errors)
        merged.behind = max(merged.behind, r.behind)
    merged.sent.sort(key=lambda s: s[1])
    return start_at, merged


# --- the world -----------------------------------------------------------------------------


def add_world_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--workers",
        type=int,
        default=os.cpu_count() or 1,
        help="connector worker processes (default: one per core)",
    )
    parser.add_argument("--web-workers", type=int, default=2, help="gunicorn workers")
    parser.add_argument(
        "--threads", type=int, default=4, help="gthread threads per gunicorn worker"
    )
    parser.add_argument("--clients", type=int, default=4, help="HTTP client processes")
    parser.add_argument(
        "--postgres",
        metavar="URL",
        help="a SCRATCH PostgreSQL database instead of a temp SQLite file, e.g. "
        "postgresql://postgres@127.0.0.1/bench_pipeline (migrated, gets a new account and "
        "thousands of rows per run)",
    )


class World(contextlib.ExitStack):
    """The web process, Redis, database and account; worker pools come and go per phase."""

    def __init__(self, args: argparse.Namespace, *, prefix: str, provider: str = "hubspot"
                 ) -> None:
        """`provider`: the account's CRM. "local" (no CRM: write-backs kept in memory)
        where the bench measures sending alone; HubSpot's write-backs would go to an
        unreachable api.hubapi.com from every worker."""
        super().__init__()
        self.args = args
        self.prefix = prefix
        self.provider = provider
        self.workers: list[subprocess.Popen[bytes]] = []
        self._worker_round = 0

    def __enter__(self) -> World:
        super().__enter__()
        try:
            self._build()
        except BaseException:
            self.close()
            raise
        return self

    def _build(self) -> None:
        from bench.ingest import app_environment, create_account, free_port, start_server
        from connector.local.redis_embedded import EmbeddedRedis

        self.tmp = Path(self.enter_context(tempfile.TemporaryDirectory(prefix=self.prefix)))
        redis_server = self.enter_context(EmbeddedRedis(self.tmp / "redis"))
        self.redis_url = redis_server.url
        database_url = self.args.postgres or f"sqlite:///{self.tmp / 'connector.sqlite3'}"
        port = free_port()
        self.values = app_environment(self.tmp, database_url, self.redis_url, port)
        self.sqlalchemy_url, self.api_key = create_account(self.values, provider=self.provider)
        self.account_id = self._account_id()
        self.env = {**os.environ, **self.values}
        server_args = argparse.Namespace(workers=self.args.web_workers, threads=self.args.threads)
        self.web = start_server(
            "real", "connector.app:create_app()", port, server_args, self.env, self.tmp, self
        )
        self.callback(self.stop_workers)

    @functools.cached_property
    def engine(self) -> Any:
        from sqlalchemy import create_engine

        engine = create_engine(self.sqlalchemy_url)
        self.callback(engine.dispose)
        return engine

    def _account_id(self) -> int:
        """The account create_account just made: the newest one (a scratch PostgreSQL
        database keeps earlier runs' accounts)."""
        return int(self.scalar("SELECT max(id) FROM accounts"))

    def scalar(self, sql: str, **params: Any) -> Any:
        from sqlalchemy import text

        with self.engine.connect() as connection:
            return connection.scalar(text(sql), params)

    # --- counts (plain SQL: the schema, not the services, is the contract here) -----------

    def processed_events(self, email_like: str) -> int:
        return int(
            self.scalar(
                "SELECT count(*) FROM inbox_events WHERE account_id = :a AND dedup_key LIKE :p "
                "AND processed_at IS NOT NULL",
                a=self.account_id,
                p=email_like,
            )
        )

    def messages(self, email_like: str, status: str | None = None) -> int:
        sql = "SELECT count(*) FROM messages WHERE account_id = :a AND to_email LIKE :p"
        if status:
            sql += " AND status = :s"
        return int(self.scalar(sql, a=self.account_id, p=email_like, s=status))

    # --- worker pools ----------------------------------------------------------------------

    def start_workers(
        self, *, mail_url: str, queues: Sequence[str] = (), ticker: bool = True
    ) -> list[subprocess.Popen[bytes]]:
        """`connector worker` x args.workers (the first with the ticker unless told not),
        returning once every one of them has registered with RQ."""
        from redis import Redis
        from rq import Worker

        from connector.local.processes import die_with_parent

        self.stop_workers()
        self._worker_round += 1
        env = {**self.env, "MAIL_URL": mail_url}
        for n in range(self.args.workers):
            argv = [sys.executable, "-m", "connector", "worker", *queues]
            if n > 0 or not ticker:
                argv.append("--no-ticker")
            log = open(self.tmp / f"worker-{self._worker_round}-{n + 1}.log", "wb")  # noqa: SIM115
            self.callback(log.close)
            self.workers.append(
                subprocess.Popen(
                    argv,
                    env=env,
                    cwd=REPO,
                    stdin=subprocess.DEVNULL,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    process_group=0,
                    preexec_fn=functools.partial(die_with_parent, os.getpid()),
                )
            )
        deadline = time.monotonic() + WORKER_READY_TIMEOUT
        with Redis.from_url(self.redis_url) as redis:
            while len(Worker.all(connection=redis)) < len(self.workers):
                self.check_workers()
                if time.monotonic() > deadline:
                    raise RuntimeError("workers did not register with RQ in time")
                time.sleep(0.05)
        return self.workers

    def check_workers(self) -> None:
        for n, process in enumerate(self.workers):
            if process.poll() is not None:
                log = self.tmp / f"worker-{self._worker_round}-{n + 1}.log"
                tail = "\n".join(log.read_text(errors="replace").splitlines()[-30:])
                raise RuntimeError(f"worker {n + 1} exited with {process.returncode}:\n{tail}")

    def stop_workers(self) -> None:
        from connector.local.processes import reap

        for process in self.workers:  # one SIGTERM each: rq reads a second one as "cold"
            with contextlib.suppress(ProcessLookupError):
                process.terminate()
        for process in self.workers:  # (terminate() would send that second one)
            reap(process, WORKER_STOP_TIMEOUT)
        self.workers = []

    def worker_logs(self) -> str:
        """Tracebacks and errors the workers logged so far, for the report."""
        lines = []
        for log in sorted(self.tmp.glob("worker-*.log")):
            for line in log.read_text(errors="replace").splitlines():
                if "Traceback" in line or "Error" in line or "error" in line:
                    lines.append(f"{log.name}: {line}")
        return "\n".join(lines[-20:])


def wait_until(predicate: Any, timeout: float, poll: float = 0.1, check: Any = None) -> bool:
    deadline = time.monotonic() + timeout
    while not predicate():
        if check is not None:
            check()
        if time.monotonic() > deadline:
            return False
        time.sleep(poll)
    return True


def load_line() -> str:
    one, five, fifteen = os.getloadavg()
    return f"load average {one:.2f} {five:.2f} {fifteen:.2f} on {os.cpu_count()} cores"
