"""Memory budget (issue 7): a worker's peak RSS is flat in the backlog (10k vs 100k events).

For each backlog size a fresh world (temp SQLite file or a reset `--postgres` scratch
database, an embedded Redis, one HubSpot account with the default workspace) gets that many
inbox events stored through the service the endpoint uses (`record_inbox_event`, each a new
contact's event exactly as `POST /v1/events` dumps it) and one coalesced wake-up (the
endpoint's `work.wake_inbox()`). Then one real `connector worker` (all queues, ticking,
email to an outbox folder) runs over it for `--seconds` (or until the backlog is done), and
its VmHWM and VmRSS (/proc/<pid>/status) are sampled. The worker never gets through 100k
events in that time today; the point is what holding or walking the backlog costs.

Last line: `ratio=<peak RSS with the large backlog / peak with the small one>` (budget <= 1.1).

    python -m bench.backlog_memory [--small 10000] [--large 100000] [--seconds 90] [--quick]
"""

from __future__ import annotations

import argparse
import contextlib
import os
import secrets
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

if __package__ in (None, ""):  # run as `python bench/backlog_memory.py`
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from bench.ingest import app_environment, create_account, free_port
from bench.world import REPO, load_line

INSERT_CHUNK = 2000  # inbox rows per transaction while building the backlog
SAMPLE_EVERY = 0.2


@dataclass
class Run:
    backlog: int
    insert_seconds: float
    peak_kb: int
    end_rss_kb: int
    processed: int
    seconds: float


def status_kb(pid: int) -> dict[str, int]:
    values = {}
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            key, _, rest = line.partition(":")
            if key in ("VmHWM", "VmRSS"):
                values[key] = int(rest.split()[0])
    return values


def reset_postgres(url: str) -> None:
    """A scratch database starts empty each run: the small backlog's leftovers would
    otherwise be part of the large one."""
    from sqlalchemy import create_engine, text

    from connector.settings import load_settings

    engine = create_engine(load_settings(DATABASE_URL=url).sqlalchemy_url)
    with engine.begin() as connection:
        connection.execute(text("DROP SCHEMA public CASCADE"))
        connection.execute(text("CREATE SCHEMA public"))
    engine.dispose()


def build_backlog(values: dict[str, str], size: int, tag: str) -> tuple[float, str]:
    """`size` inbox events and one wake-up; returns (seconds, sqlalchemy url)."""
    from sqlalchemy import text

    from connector.runtime import build_runtime
    from connector.services.inbox import record_inbox_event
    from connector.settings import load_settings
    from webhooks.events import EventIn

    sqlalchemy_url, _ = create_account(values)
    settings = load_settings(**values)
    rt = build_runtime(settings, redis_url=values["REDIS_URL"])
    try:
        with rt.db.session() as session:
            account_id = int(session.scalar(text("SELECT max(id) FROM accounts")))
        started = time.perf_counter()
        for chunk_start in range(0, size, INSERT_CHUNK):
            now = rt.clock.now()
            with rt.db.session() as session:
                for i in range(chunk_start, min(size, chunk_start + INSERT_CHUNK)):
                    email = f"{tag}-{i}@example.com"
                    event = EventIn.model_validate(
                        {
                            "contact": {"email": email, "properties": {"firstname": "Ann"}},
                            "event": "signed_up",
                            "properties": {"plan": "trial"},
                            "idempotency_key": email,
                        }
                    )
                    record_inbox_event(
                        session,
                        account_id=account_id,
                        source="api",
                        dedup_key=email,
                        kind=event.event,
                        payload=event.model_dump(mode="json", exclude_none=True),
                        occurred_at=now,
                        now=now,
                    )
        rt.work.wake_inbox()
        return time.perf_counter() - started, sqlalchemy_url
    finally:
        rt.close()


def processed(sqlalchemy_url: str) -> int:
    from sqlalchemy import create_engine, text

    engine = create_engine(sqlalchemy_url)
    try:
        with engine.connect() as connection:
            return int(
                connection.scalar(
                    text("SELECT count(*) FROM inbox_events WHERE processed_at IS NOT NULL")
                )
                or 0
            )
    finally:
        engine.dispose()


def measure(args: argparse.Namespace, size: int) -> Run:
    import functools

    from connector.local.processes import die_with_parent, terminate
    from connector.local.redis_embedded import EmbeddedRedis

    if args.postgres:
        reset_postgres(args.postgres)
    with contextlib.ExitStack() as stack:
        tmp = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="bench-backlog-")))
        redis_server = stack.enter_context(EmbeddedRedis(tmp / "redis"))
        database_url = args.postgres or f"sqlite:///{tmp / 'connector.sqlite3'}"
        values = app_environment(tmp, database_url, redis_server.url, free_port())
        tag = "mem" + secrets.token_hex(3)
        insert_seconds, sqlalchemy_url = build_backlog(values, size, tag)
        log = stack.enter_context(open(tmp / "worker.log", "wb"))
        worker = subprocess.Popen(
            [sys.executable, "-m", "connector", "worker"],
            env={**os.environ, **values},
            cwd=REPO,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            process_group=0,
            preexec_fn=functools.partial(die_with_parent, os.getpid()),
        )
        stack.callback(terminate, worker, 5.0)  # mid-batch: warm shutdown would wait it out
        started = time.monotonic()
        peak = rss = 0
        next_count = started + 2.0
        done = 0
        while time.monotonic() - started < args.seconds:
            if worker.poll() is not None:
                tail = (tmp / "worker.log").read_text(errors="replace").splitlines()[-20:]
                raise RuntimeError(f"worker exited {worker.returncode}:\n" + "\n".join(tail))
            kb = status_kb(worker.pid)
            rss, peak = kb.get("VmRSS", 0), max(peak, kb.get("VmHWM", 0))
            if time.monotonic() >= next_count:
                done = processed(sqlalchemy_url)
                next_count = time.monotonic() + 2.0
                if done >= size:
                    break
            time.sleep(SAMPLE_EVERY)
        kb = status_kb(worker.pid)
        peak = max(peak, kb.get("VmHWM", 0))
        elapsed = time.monotonic() - started
        done = processed(sqlalchemy_url)
    return Run(size, insert_seconds, peak, kb.get("VmRSS", rss), done, elapsed)


def show(run: Run) -> str:
    return (
        f"backlog {run.backlog:>7,}: peak RSS (VmHWM) {run.peak_kb / 1024:.1f} MB (VmRSS at "
        f"the end {run.end_rss_kb / 1024:.1f} MB); "
        f"{run.processed:,} events processed in {run.seconds:.0f}s "
        f"({run.processed / run.seconds:.1f}/s); backlog stored in {run.insert_seconds:.1f}s"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0],
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument("--small", type=int, default=10_000)
    parser.add_argument("--large", type=int, default=100_000)
    parser.add_argument(
        "--seconds",
        type=float,
        default=90.0,
        help="seconds the worker runs over each backlog (less if it finishes)",
    )
    parser.add_argument("--quick", action="store_true", help="20 s per backlog")
    parser.add_argument(
        "--postgres",
        metavar="URL",
        help="a SCRATCH PostgreSQL database: its public schema is DROPPED and recreated "
        "before each backlog",
    )
    args = parser.parse_args(argv)
    if args.quick:
        args.seconds = 20.0
    print(
        f"bench/backlog_memory.py: one connector worker over {args.small:,} and then "
        f"{args.large:,} queued events, {args.seconds:g}s each; "
        f"{'PostgreSQL' if args.postgres else 'SQLite'}; {load_line()}",
        flush=True,
    )
    runs = []
    for size in (args.small, args.large):
        runs.append(measure(args, size))
        print(show(runs[-1]), flush=True)
    ratio = runs[1].peak_kb / runs[0].peak_kb if runs[0].peak_kb else 0.0
    print(f"{load_line()}")
    print(
        f"peak {args.large:,} / peak {args.small:,}: {ratio:.3f} "
        f"(budget <= 1.1: {'met' if ratio <= 1.1 else 'NOT met'})"
    )
    print(f"ratio={ratio:.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
