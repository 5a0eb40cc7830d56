"""Scheduler budget (DESIGN §7): dispatching the same due steps with 1M vs 10k enrolled.

Two worlds side by side, each a fresh database: "small" (10,000 enrollments) and "large"
(1,000,000), each with exactly the same number of due enrollments (10,000). The rest are
waiting (next_run_at spread over the next 90 days) or finished (next_run_at NULL). Every
enrollment runs a one-step flow, `wait: 30d`, so a due step takes the whole real path
(claim with a lease -> load -> decide -> write) without sending mail.

Timed region: `tick(rt, now, batch=...)` called until a tick advances nothing. Rounds
alternate small, large, small, large, ... so machine noise hits both; between rounds (not
timed) the due set is restored and whatever the dispatch wrote elsewhere (journal, ...) is
deleted. The last line printed is `ratio=<median large / median small>`; the budget is
<= 1.2, i.e. the scheduler finds due work in O(due), never by scanning enrollments.

`--history N` gives every contact N sent and opened messages, N behaviour events and list
and segment memberships (and each enrollment its own contact): the history an account of
that size has, which loading a contact's facts for a step reads. Without it (the default)
those tables are empty and only the scheduler's own path is measured.

Databases: SQLite files in a temp dir by default. `--database-url postgresql+psycopg://...`
runs on PostgreSQL instead: the bench creates (and drops again) its own schemas
`sched_bench_small` and `sched_bench_large` in that database and touches nothing else.
Redis: an embedded server on a unix socket in the temp dir, stopped at the end.
"""

from __future__ import annotations

import argparse
import contextlib
import cProfile
import gc
import io
import logging
import pstats
import random
import shutil
import signal
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from connector.local.redis_embedded import EmbeddedRedis
    from connector.runtime import Runtime

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:  # `python bench/scheduler.py` from anywhere
    sys.path.insert(0, str(REPO))

NOW = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)  # the virtual "now" of every tick
WAIT = timedelta(days=30)  # the flow's only step: a due enrollment sleeps until NOW + WAIT
FLOW_KEY = "bench-sleep"
FLOW_YAML = f"""\
# The scheduler bench's flow: one wait, so a dispatch is claim -> load -> decide -> write.
id: {FLOW_KEY}
name: Scheduler bench
trigger:
  type: event
  event: bench.never-sent
settings:
  reentry: always
steps:
  - id: sleep
    wait: 30d
"""
CONTACTS = 10_000  # default; shared by the enrollments in blocks (at most one each)
CHUNK = 50_000  # rows per executemany / COPY transaction while loading
SEED = 20260105
PG_SCHEMA = "sched_bench_{label}"
# Tables a dispatch must not grow; rows it adds anywhere else are deleted between rounds.
FIXTURE_TABLES = {"accounts", "contacts", "flow_versions", "enrollments", "alembic_version"}


class BenchError(RuntimeError):
    """The bench could not run, or a round did not dispatch exactly the due set."""


@dataclass
class RoundResult:
    label: str
    round_no: int
    seconds: float
    ticks: int
    advanced: int
    claim_seconds: float | None
    written: dict[str, int]


@dataclass
class World:
    """One scenario: its own database, runtime and due set."""

    label: str
    enrolled: int
    due: int
    url: str
    rt: Runtime
    due_rows: list[tuple[int, datetime]] = field(default_factory=list)
    setup: dict[str, float] = field(default_factory=dict)
    high_water: dict[str, int] = field(default_factory=dict)
    results: list[RoundResult] = field(default_factory=list)

    @property
    def is_sqlite(self) -> bool:
        return self.rt.db.is_sqlite


# --- setup ---------------------------------------------------------------------------------


def scenario_url(base_url: str | None, root: Path, label: str) -> str:
    if base_url is None:
        return f"sqlite:///{root / f'{label}.sqlite3'}"
    from sqlalchemy.engine import make_url

    url = make_url(base_url)
    if url.get_backend_name() != "postgresql":
        raise BenchError("--database-url must be a PostgreSQL URL (SQLite is the default)")
    if url.drivername == "postgresql":
        url = url.set(drivername="postgresql+psycopg")
    schema = PG_SCHEMA.format(label=label)
    url = url.update_query_dict({"options": f"-csearch_path={schema}"})
    return url.render_as_string(hide_password=False)


def reset_pg_schema(base_url: str, label: str, *, create: bool) -> None:
    from sqlalchemy import create_engine, text

    schema = PG_SCHEMA.format(label=label)
    engine = create_engine(base_url.replace("postgresql://", "postgresql+psycopg://", 1))
    try:
        with engine.begin() as connection:
            connection.execute(text(f"DROP SCHEMA IF EXISTS {schema} CASCADE"))
            if create:
                connection.execute(text(f"CREATE SCHEMA {schema}"))
    finally:
        engine.dispose()


def build_world(
    label: str,
    enrolled: int,
    due: int,
    url: str,
    root: Path,
    redis_url: str,
    *,
    contacts: int,
    history: int,
) -> World:
    from cryptography.fernet import Fernet
    from redis import Redis

    from connector.clock import VirtualClock
    from connector.db import Database
    from connector.migrate import upgrade
    from connector.runtime import Runtime
    from connector.services.accounts import connect_account
    from connector.settings import load_settings
    from connector.workspaces import deploy_default

    setup: dict[str, float] = {}
    started = time.perf_counter()
    upgrade(url)
    setup["migrate"] = time.perf_counter() - started

    flows_dir = root / "flows"
    if not flows_dir.is_dir():
        flows_dir.mkdir()
        (flows_dir / f"{FLOW_KEY}.yaml").write_text(FLOW_YAML)
        (root / "segments").mkdir()
    settings = load_settings(
        APP_ENV="test",
        VAR_DIR=root / f"var-{label}",
        DATABASE_URL=url,
        FLOWS_DIR=flows_dir,
        SEGMENTS_DIR=root / "segments",
        TEMPLATES_DIR=REPO / "templates",
        MAIL_URL=f"outbox://{root / f'outbox-{label}'}",
        PUBLIC_BASE_URL="https://drip.example.com",
        SECRET_KEY="bench-secret",
        ENCRYPTION_KEYS=Fernet.generate_key().decode(),
        MAIL_FROM="Bench <bench@example.com>",
    )
    rt = Runtime(
        settings=settings,
        db=Database(url),
        redis=Redis.from_url(redis_url),
        clock=VirtualClock(NOW),
    )
    world = World(label=label, enrolled=enrolled, due=due, url=url, rt=rt, setup=setup)
    try:
        with rt.db.session() as session:
            account, _ = connect_account(
                session,
                rt.vault,
                provider="hubspot",
                external_id="1000001",
                access_token="pat-bench-token",
                name="Bench portal",
                now=NOW,
            )
        deploy_default(rt.db, settings, account.id, NOW)
        with rt.db.session() as session:
            version_id = rt.workspaces.live(session, account.id).flows.version_id(FLOW_KEY)
        load_rows(world, account.id, version_id, contacts, history)
    except BaseException:
        rt.close()
        raise
    return world


def load_rows(world: World, account_id: int, version_id: int, contacts: int, history: int) -> None:
    from sqlalchemy import func, select

    from connector.models import Contact, Enrollment

    db = world.rt.db
    contacts = min(contacts, world.enrolled)
    started = time.perf_counter()
    bulk_insert(world, Contact.__table__, contact_rows(account_id, contacts))
    with db.engine.connect() as connection:
        contact_ids = list(
            connection.scalars(
                select(Contact.id).where(Contact.account_id == account_id).order_by(Contact.id)
            )
        )
    world.setup["contacts"] = time.perf_counter() - started

    started = time.perf_counter()
    rows = enrollment_rows(world.enrolled, world.due, account_id, contact_ids, version_id)
    bulk_insert(world, Enrollment.__table__, rows)
    world.setup["enrollments"] = time.perf_counter() - started

    if history:
        started = time.perf_counter()
        load_history(world, account_id, contact_ids, history)
        world.setup["history"] = time.perf_counter() - started

    started = time.perf_counter()
    analyze(world)
    world.setup["analyze"] = time.perf_counter() - started

    with db.engine.connect() as connection:
        world.due_rows = [
            (row.id, row.next_run_at)
            for row in connection.execute(
                select(Enrollment.id, Enrollment.next_run_at).where(Enrollment.next_run_at <= NOW)
            )
        ]
        total = connection.scalar(select(func.count()).select_from(Enrollment))
    if len(world.due_rows) != world.due or total != world.enrolled:
        raise BenchError(
            f"{world.label}: loaded {total} enrollments with {len(world.due_rows)} due, "
            f"expected {world.enrolled} with {world.due} due"
        )
    world.high_water = high_water(world)


def contact_rows(account_id: int, contacts: int) -> Iterator[dict[str, Any]]:
    for i in range(contacts):
        yield {
            "account_id": account_id,
            "email": f"bench-{i}@example.com",
            "crm_id": f"crm-{i}",
            "properties": {"firstname": f"Bench {i}"},
            "timezone": "Europe/Paris",
            "last_active_at": None,
            "created_at": NOW - timedelta(days=100),
            "updated_at": NOW - timedelta(days=100),
        }


def enrollment_rows(
    enrolled: int, due: int, account_id: int, contact_ids: list[int], version_id: int
) -> Iterator[dict[str, Any]]:
    """`due` rows due within the last hour (scattered over the id space), the rest waiting
    over the next 90 days or (one in five) finished; deterministic for a given size."""
    rng = random.Random(SEED + enrolled)
    due_at = set(rng.sample(range(enrolled), due))
    per_contact = -(-enrolled // len(contact_ids))
    for i in range(enrolled):
        state, cursor, finished_at = "active", 0, None
        if i in due_at:
            next_run_at: datetime | None = NOW - timedelta(seconds=rng.randrange(1, 3600))
        elif rng.random() < 0.2:
            state, cursor, finished_at, next_run_at = "completed", 1, NOW - timedelta(days=1), None
        else:
            # Half a second off the whole second: never equal to NOW + WAIT, which is
            # how the verification tells a dispatched row from a waiting one.
            next_run_at = NOW + timedelta(
                seconds=rng.randrange(60, 90 * 86400), microseconds=500_000
            )
        yield {
            "account_id": account_id,
            "contact_id": contact_ids[i // per_contact],
            "flow_key": FLOW_KEY,
            "flow_version_id": version_id,
            "entry_key": f"bench:{i:09d}",
            "state": state,
            "cursor": cursor,
            "next_run_at": next_run_at,
            "lease_until": None,
            "lease_owner": None,
            "waiting_for": None,
            "step_started_at": None,
            "context": {},
            "inbox_event_id": None,
            "entered_at": NOW - timedelta(days=2),
            "finished_at": finished_at,
            "exit_reason": None,
        }


def load_history(world: World, account_id: int, contact_ids: list[int], per_contact: int) -> None:
    """What contacts of a live account have: per contact `per_contact` sent messages (each
    opened once) and behaviour events, one list and one segment membership. The same per
    contact in both worlds, so only the table sizes differ."""
    from sqlalchemy import select

    from connector.models import (
        ContactEvent,
        EngagementEvent,
        ListMembership,
        Message,
        SegmentMembership,
    )

    def messages() -> Iterator[dict[str, Any]]:
        for n, contact_id in enumerate(contact_ids):
            for k in range(per_contact):
                at = NOW - timedelta(days=1 + k, seconds=n % 86400)
                yield {
                    "account_id": account_id,
                    "contact_id": contact_id,
                    "enrollment_id": None,
                    "step_id": "hello",
                    "flow_key": "bench-other",
                    "template": "welcome",
                    "public_id": f"{n:016x}{k:016x}",
                    "status": "sent",
                    "to_email": f"bench-{n}@example.com",
                    "subject": "Hello",
                    "links": [],
                    "attempts": 1,
                    "created_at": at,
                    "sending_at": at,
                    "sent_at": at,
                }

    bulk_insert(world, Message.__table__, messages())
    with world.rt.db.engine.connect() as connection:
        sent = connection.execute(
            select(Message.id, Message.contact_id, Message.created_at).order_by(Message.id)
        ).all()
    opened = "processed_at" in EngagementEvent.__table__.c
    bulk_insert(
        world,
        EngagementEvent.__table__,
        (
            {
                "account_id": account_id,
                "contact_id": contact_id,
                "message_id": message_id,
                "kind": "open",
                "url": None,
                "occurred_at": at + timedelta(hours=1),
                **({"processed_at": at + timedelta(hours=1)} if opened else {}),
            }
            for message_id, contact_id, at in sent
        ),
    )
    bulk_insert(
        world,
        ContactEvent.__table__,
        (
            {
                "account_id": account_id,
                "contact_id": contact_id,
                "name": "order.completed",
                "occurred_at": NOW - timedelta(days=2 + k, seconds=n % 86400),
                "properties": {"order_id": f"o-{n}-{k}", "total": 42},
                "inbox_event_id": None,
            }
            for n, contact_id in enumerate(contact_ids)
            for k in range(per_contact)
        ),
    )
    bulk_insert(
        world,
        ListMembership.__table__,
        (
            {
                "account_id": account_id,
                "contact_id": contact_id,
                "list_key": "newsletter",
                "added_at": NOW - timedelta(days=50),
            }
            for contact_id in contact_ids
        ),
    )
    bulk_insert(
        world,
        SegmentMembership.__table__,
        (
            {
                "account_id": account_id,
                "contact_id": contact_id,
                "segment_key": "customers",
                "entered_at": NOW - timedelta(days=50),
                "left_at": None,
                "recheck_at": None,
            }
            for contact_id in contact_ids
        ),
    )


def chunks(rows: Iterator[dict[str, Any]], size: int) -> Iterator[list[dict[str, Any]]]:
    chunk: list[dict[str, Any]] = []
    for row in rows:
        chunk.append(row)
        if len(chunk) == size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def bulk_insert(world: World, table: Any, rows: Iterator[dict[str, Any]]) -> None:
    """Chunks of CHUNK rows, one transaction each: Core executemany on SQLite (datetimes
    stored exactly as the ORM stores them), COPY on PostgreSQL."""
    if world.is_sqlite:
        insert_sqlite(world, table, rows)
    else:
        insert_copy(world, table, rows)


def insert_sqlite(world: World, table: Any, rows: Iterator[dict[str, Any]]) -> None:
    from sqlalchemy import insert

    statement = insert(table)
    with world.rt.db.engine.connect() as connection:
        raw = connection.connection.driver_connection
        assert raw is not None
        # A bigger page cache for the load only: the unique and due indexes take random
        # inserts. Set back afterwards: the pooled connection is reused by the rounds.
        raw.execute("PRAGMA cache_size=-262144")
        try:
            for chunk in chunks(rows, CHUNK):
                connection.execute(statement, chunk)  # autobegins (BEGIN IMMEDIATE)
                connection.commit()
        finally:
            raw.execute("PRAGMA cache_size=-2000")


def insert_copy(world: World, table: Any, rows: Iterator[dict[str, Any]]) -> None:
    """PostgreSQL: COPY through psycopg, many times faster than executemany."""
    import json

    with world.rt.db.engine.connect() as connection:
        raw = connection.connection.driver_connection
        assert raw is not None
        for chunk in chunks(rows, CHUNK):
            columns = list(chunk[0])
            sql = f"COPY {table.name} ({', '.join(columns)}) FROM STDIN"
            with raw.cursor() as cursor, cursor.copy(sql) as copy:
                for row in chunk:
                    copy.write_row(
                        [json.dumps(v) if isinstance(v, dict | list) else v for v in row.values()]
                    )
            raw.commit()


def analyze(world: World) -> None:
    engine = world.rt.db.engine
    if world.is_sqlite:
        with engine.begin() as connection:
            connection.exec_driver_sql("ANALYZE")
        checkpoint(world)
    else:
        # VACUUM too: sets hint bits and the visibility map, so no round pays for them.
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            connection.exec_driver_sql("VACUUM (ANALYZE) enrollments")


def checkpoint(world: World) -> None:
    """SQLite: empty the WAL, so every round starts from the same files."""
    with world.rt.db.engine.connect() as connection:
        raw = connection.connection.driver_connection
        assert raw is not None
        raw.execute("PRAGMA wal_checkpoint(TRUNCATE)")  # autocommit connection, no BEGIN


def output_tables(world: World) -> list[Any]:
    from connector.models import Base

    return [
        t for t in reversed(Base.metadata.sorted_tables)
        if t.name not in FIXTURE_TABLES and "id" in t.c
    ]  # fmt: skip


def high_water(world: World) -> dict[str, int]:
    """max(id) per table a dispatch may write to; rows above it were written by a round."""
    from sqlalchemy import func, select

    with world.rt.db.engine.connect() as connection:
        return {
            t.name: connection.scalar(select(func.coalesce(func.max(t.c.id), 0))) or 0
            for t in output_tables(world)
        }


def restore(world: World) -> dict[str, int]:
    """Put the due set back (due, no lease) and delete what the last dispatch wrote."""
    from sqlalchemy import bindparam, delete, func, select, update

    from connector.models import Enrollment

    table = Enrollment.__table__
    written: dict[str, int] = {}
    with world.rt.db.engine.begin() as connection:
        for t in output_tables(world):
            above = t.c.id > world.high_water[t.name]
            count = connection.scalar(select(func.count()).select_from(t).where(above)) or 0
            if count:
                written[t.name] = count
                connection.execute(delete(t).where(above))
        connection.execute(
            update(table)
            .where(table.c.id == bindparam("b_id"))
            .values(
                next_run_at=bindparam("b_next"),
                state="active",
                cursor=0,
                lease_owner=None,
                lease_until=None,
                waiting_for=None,
                step_started_at=None,
                finished_at=None,
                exit_reason=None,
            ),
            [{"b_id": i, "b_next": at} for i, at in world.due_rows],
        )
    engine = world.rt.db.engine
    if world.is_sqlite:
        checkpoint(world)
    else:
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            connection.exec_driver_sql("VACUUM (ANALYZE) enrollments")
    world.rt.redis.flushdb()  # our own embedded server: nothing a round left queued stays
    return written


# --- measurement ---------------------------------------------------------------------------


class ClaimTimer:
    """Time spent inside `claim` during ticks (the scheduler module's own reference)."""

    def __init__(self) -> None:
        import connector.scheduler as scheduler

        self.module = scheduler
        self.original: Callable[..., Any] | None = getattr(scheduler, "claim", None)
        self.times: list[float] = []

    def __enter__(self) -> ClaimTimer:
        original = self.original
        if original is not None:

            def timed(*args: Any, **kwargs: Any) -> Any:
                started = time.perf_counter()
                try:
                    return original(*args, **kwargs)
                finally:
                    self.times.append(time.perf_counter() - started)

            self.module.claim = timed  # type: ignore[attr-defined]
        return self

    def __exit__(self, *exc: object) -> None:
        if self.original is not None:
            self.module.claim = self.original  # type: ignore[attr-defined]


def dispatch_all(world: World, batch: int) -> tuple[float, int, int, list[float]]:
    """The timed region: tick until a tick advances nothing."""
    from connector.scheduler import tick

    ticks = advanced = 0
    gc.collect()  # start each round with the same garbage (none)
    with ClaimTimer() as timer:
        started = time.perf_counter()
        while True:
            report = tick(world.rt, NOW, batch=batch)
            ticks += 1
            advanced += report.advanced
            if report.advanced == 0:
                break
        seconds = time.perf_counter() - started
    return seconds, ticks, advanced, timer.times


def verify(world: World, advanced: int) -> tuple[str, list[str]]:
    """Exactly the due set advanced, each once: all sleep until NOW + WAIT, none is due or
    leased, and no other row moved."""
    from sqlalchemy import func, select

    from connector.models import Enrollment

    e = Enrollment
    problems = []
    with world.rt.db.engine.connect() as connection:

        def count(*where: Any) -> int:
            return connection.scalar(select(func.count()).select_from(e).where(*where)) or 0

        slept = count(e.next_run_at == NOW + WAIT, e.state == "active", e.cursor == 1)
        still_due = count(e.next_run_at <= NOW)
        leased = count(e.lease_owner.is_not(None))
        finished = count(e.state != "active")
    expected_finished = world.enrolled - world.due - count_waiting(world)
    if advanced != world.due:
        problems.append(f"ticks claimed {advanced} enrollments, expected {world.due}")
    if slept != world.due:
        problems.append(
            f"{slept} enrollments sleep until now+30d at cursor 1, expected {world.due}"
        )
    if still_due:
        problems.append(f"{still_due} enrollments are still due")
    if leased:
        problems.append(f"{leased} enrollments still hold a lease")
    if finished != expected_finished:
        problems.append(f"{finished} enrollments finished, expected {expected_finished}")
    counts = f"claimed={advanced} asleep_30d={slept} due_left={still_due} leased={leased}"
    return counts, problems


_waiting_cache: dict[str, int] = {}


def count_waiting(world: World) -> int:
    """Active enrollments due in the future as loaded (untouched by any round)."""
    if world.label not in _waiting_cache:
        from sqlalchemy import func, select

        from connector.models import Enrollment

        with world.rt.db.engine.connect() as connection:
            _waiting_cache[world.label] = (
                connection.scalar(
                    select(func.count())
                    .select_from(Enrollment)
                    .where(Enrollment.next_run_at > NOW, Enrollment.state == "active")
                )
                or 0
            )
    return _waiting_cache[world.label]


def run_round(world: World, round_no: int, batch: int) -> RoundResult:
    count_waiting(world)  # before the first round moves due rows into the future
    seconds, ticks, advanced, claims = dispatch_all(world, batch)
    counts, problems = verify(world, advanced)
    written = restore(world)
    claim_seconds = sum(claims) if claims else None
    result = RoundResult(world.label, round_no, seconds, ticks, advanced, claim_seconds, written)
    world.results.append(result)
    # The last claim found nothing due: what looking costs, whatever the table size.
    claim = (
        f" claim={sum(claims):.3f}s ({100 * sum(claims) / seconds:.1f}%, "
        f"{1000 * statistics.median(claims[:-1] or claims):.1f} ms/batch, "
        f"empty {1000 * claims[-1]:.1f} ms)"
        if claims
        else ""
    )
    extra = "".join(f" {name}+{n}" for name, n in written.items())
    print(
        f"  round {round_no} {world.label:<5} enrolled={world.enrolled:>9,} "
        f"time={seconds:7.3f}s {world.due / seconds:8,.0f} steps/s "
        f"ticks={ticks}{claim} | {counts}{extra}",
        flush=True,
    )
    if problems:
        raise BenchError(f"{world.label} round {round_no}: " + "; ".join(problems))
    return result


def warm_up(world: World, batch: int) -> None:
    """One small tick (statement caches, connections, flow lookups), then restore."""
    from connector.scheduler import tick

    tick(world.rt, NOW, batch=min(50, batch, world.due))
    restore(world)


# --- query plans and profile ---------------------------------------------------------------


@contextlib.contextmanager
def captured_statements(world: World) -> Iterator[list[tuple[str, Any]]]:
    from sqlalchemy import event

    statements: list[tuple[str, Any]] = []

    def capture(conn: Any, cursor: Any, statement: str, parameters: Any, *_: Any) -> None:
        statements.append((statement, parameters))

    engine = world.rt.db.engine
    event.listen(engine, "before_cursor_execute", capture)
    try:
        yield statements
    finally:
        event.remove(engine, "before_cursor_execute", capture)


def claim_plan(world: World, batch: int) -> str:
    """The plan of the statement `claim` really sends (captured, then EXPLAINed)."""
    from sqlalchemy import update

    from connector.models import Enrollment
    from connector.services.leases import claim

    with captured_statements(world) as statements:
        token, ids = claim(world.rt.db, NOW, limit=batch)
    with world.rt.db.engine.begin() as connection:  # give the leases back
        connection.execute(
            update(Enrollment)
            .where(Enrollment.lease_owner == token)
            .values(lease_owner=None, lease_until=None)
        )
    claims = [s for s in statements if "enrollments" in s[0] and "lease_owner" in s[0]]
    if not claims:
        return "(claim sent no statement on enrollments; nothing to explain)"
    statement, parameters = claims[0]
    lines = [f"claimed {len(ids)} with: " + " ".join(statement.split())]
    with world.rt.db.engine.connect() as connection:
        if world.is_sqlite:
            plan = connection.exec_driver_sql("EXPLAIN QUERY PLAN " + statement, parameters)
            lines += [f"  {row[3]}" for row in plan]
        else:
            plan = connection.exec_driver_sql("EXPLAIN " + statement, parameters)
            lines += [f"  {row[0]}" for row in plan]
            connection.rollback()
            # The real thing, rolled back: actual rows and buffers touched.
            plan = connection.exec_driver_sql("EXPLAIN (ANALYZE, BUFFERS) " + statement, parameters)
            lines += ["  -- EXPLAIN (ANALYZE, BUFFERS), rolled back:"]
            lines += [f"  {row[0]}" for row in plan]
        connection.rollback()
    return "\n".join(lines)


@contextlib.contextmanager
def timed_statements(world: World) -> Iterator[dict[str, list[Any]]]:
    """Per distinct SQL text: [calls, seconds in execute, one set of parameters]. SQLite
    runs a statement up to its first row inside execute, so a scan shows up here."""
    from sqlalchemy import event

    stats: dict[str, list[Any]] = {}

    def before(conn: Any, *_: Any) -> None:
        conn.info["bench_started"] = time.perf_counter()

    def after(conn: Any, cursor: Any, statement: str, parameters: Any, *_: Any) -> None:
        seconds = time.perf_counter() - conn.info.pop("bench_started", time.perf_counter())
        entry = stats.setdefault(" ".join(statement.split()), [0, 0.0, statement, parameters])
        entry[0] += 1
        entry[1] += seconds

    engine = world.rt.db.engine
    event.listen(engine, "before_cursor_execute", before)
    event.listen(engine, "after_cursor_execute", after)
    try:
        yield stats
    finally:
        event.remove(engine, "before_cursor_execute", before)
        event.remove(engine, "after_cursor_execute", after)


def explain(world: World, statement: str, parameters: Any) -> list[str]:
    word = statement.split(None, 1)[0].upper()
    if word not in ("SELECT", "UPDATE", "DELETE", "INSERT", "WITH"):
        return []
    with world.rt.db.engine.connect() as connection:
        try:
            if world.is_sqlite:
                rows = connection.exec_driver_sql("EXPLAIN QUERY PLAN " + statement, parameters)
                return [str(row[3]) for row in rows]
            return [
                str(row[0])
                for row in connection.exec_driver_sql("EXPLAIN " + statement, parameters)
            ]
        except Exception as exc:  # a plan is a nicety; never fail the bench over it
            return [f"(no plan: {type(exc).__name__})"]
        finally:
            connection.rollback()


def profile_tick(world: World, batch: int, top: int) -> str:
    """One tick under cProfile, with the SQL it sent ranked by time and the top plans."""
    from connector.scheduler import tick

    profiler = cProfile.Profile()
    with timed_statements(world) as stats:
        started = time.perf_counter()
        profiler.enable()
        report = tick(world.rt, NOW, batch=batch)
        profiler.disable()
        seconds = time.perf_counter() - started
    restore(world)
    out = io.StringIO()
    calls = sum(entry[0] for entry in stats.values())
    sql_seconds = sum(entry[1] for entry in stats.values())
    out.write(
        f"one tick advanced {report.advanced} in {seconds:.3f}s (profiled); {calls} SQL "
        f"statements, {sql_seconds:.3f}s in execute. Costliest SQL:\n"
    )
    ranked = sorted(stats.values(), key=lambda entry: -entry[1])
    for rank, (count, total, statement, parameters) in enumerate(ranked[:12]):
        text = " ".join(statement.split())
        out.write(
            f"  {1000 * total:8.1f} ms {count:5d}x {1e6 * total / count:8.0f} us  "
            f"{text[:150]}{'...' if len(text) > 150 else ''}\n"
        )
        if rank < 6:
            out.writelines(
                f"      plan: {line}\n" for line in explain(world, statement, parameters)
            )
    out.write("cProfile, by cumulative time:\n")
    pstats.Stats(profiler, stream=out).sort_stats("cumulative").print_stats(top)
    return out.getvalue()


# --- main ----------------------------------------------------------------------------------


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="bench/scheduler.py",
        description=(
            "Cost of dispatching the same due steps with many vs few enrollments "
            "(DESIGN §7 budget: <= 1.2). Prints `ratio=<large/small>` last."
        ),
    )
    parser.add_argument(
        "--enrolled-large", type=int, default=1_000_000, help="enrollments in the large world"
    )
    parser.add_argument(
        "--enrolled-small", type=int, default=10_000, help="enrollments in the small world"
    )
    parser.add_argument(
        "--due", type=int, default=10_000, help="due enrollments in each world (default 10000)"
    )
    parser.add_argument(
        "--contacts",
        type=int,
        default=None,
        help=(
            "contacts per world, each holding a block of its enrollments "
            "(default 10000; with --history one per enrollment)"
        ),
    )
    parser.add_argument(
        "--history",
        type=int,
        default=0,
        metavar="N",
        help=(
            "give every contact N sent (and opened) messages and N behaviour events, one "
            "list and one segment membership: tables that grow with the account, which "
            "the step's fact loading reads (default 0: the bare scheduler path)"
        ),
    )
    parser.add_argument(
        "--rounds", type=int, default=3, help="timed rounds per world, alternating (default 3)"
    )
    parser.add_argument(
        "--batch", type=int, default=500, help="tick batch size, as the scheduler's (500)"
    )
    parser.add_argument(
        "--database-url",
        default=None,
        help=(
            "a PostgreSQL database to run in (schemas sched_bench_small/_large are created "
            "and dropped there); default: SQLite files in a temp dir"
        ),
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help="smoke run: 200k vs 10k enrolled, 2k due, 1 round (overrides the sizes)",
    )
    parser.add_argument(
        "--profile",
        action="store_true",
        help="after the rounds, profile one tick per world: its SQL ranked by time, with plans",
    )
    parser.add_argument(
        "--no-plan", action="store_true", help="skip printing the claim's query plans"
    )
    args = parser.parse_args(argv)
    if args.quick:
        args.enrolled_large, args.enrolled_small, args.due, args.rounds = 200_000, 10_000, 2_000, 1
    for name in ("enrolled_large", "enrolled_small", "due", "contacts", "rounds", "batch"):
        if getattr(args, name) is not None and getattr(args, name) < 1:
            parser.error(f"--{name.replace('_', '-')} must be at least 1")
    if args.history < 0:
        parser.error("--history cannot be negative")
    if args.due > min(args.enrolled_small, args.enrolled_large):
        parser.error("--due cannot exceed the enrollments of either world")
    return args


@contextlib.contextmanager
def sigterm_as_exit() -> Iterator[None]:
    """A SIGTERM unwinds like Ctrl-C does, so temp dirs, schemas and Redis are cleaned up."""

    def handle(signum: int, frame: FrameType | None) -> Any:
        raise SystemExit(128 + signum)

    previous = signal.signal(signal.SIGTERM, handle)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def run(args: argparse.Namespace) -> float:
    from connector.local.redis_embedded import EmbeddedRedis

    root = Path(tempfile.mkdtemp(prefix="sched-bench-"))
    redis_server: EmbeddedRedis | None = None
    worlds: list[World] = []
    labels = {"small": args.enrolled_small, "large": args.enrolled_large}
    try:
        redis_server = EmbeddedRedis(root / "redis")
        redis_url = redis_server.start()
        backend = "PostgreSQL" if args.database_url else "SQLite"
        print(
            f"scheduler bench on {backend}: {args.due:,} due steps, "
            f"{args.enrolled_small:,} vs {args.enrolled_large:,} enrolled, batch {args.batch}, "
            f"{args.rounds} round(s)"
            + (f", history {args.history} per contact" if args.history else ""),
            flush=True,
        )
        for label, enrolled in labels.items():
            if args.database_url:
                reset_pg_schema(args.database_url, label, create=True)
            url = scenario_url(args.database_url, root, label)
            started = time.perf_counter()
            world = build_world(
                label,
                enrolled,
                args.due,
                url,
                root,
                redis_url,
                contacts=args.contacts or (enrolled if args.history else CONTACTS),
                history=args.history,
            )
            worlds.append(world)
            phases = " ".join(f"{k}={v:.1f}s" for k, v in world.setup.items())
            print(
                f"setup {label:<5} enrolled={enrolled:>9,} due={args.due:,}: "
                f"{time.perf_counter() - started:.1f}s ({phases})",
                flush=True,
            )
        if not args.no_plan:
            for world in worlds:
                print(f"claim plan, {world.label} ({world.enrolled:,} enrolled):")
                print(claim_plan(world, args.batch), flush=True)
        for world in worlds:
            warm_up(world, args.batch)
        print("timed rounds (tick until a tick advances nothing):", flush=True)
        for round_no in range(1, args.rounds + 1):
            for world in worlds:
                run_round(world, round_no, args.batch)
        medians = {w.label: statistics.median(r.seconds for r in w.results) for w in worlds}
        for world in worlds:
            claims = [r.claim_seconds for r in world.results if r.claim_seconds is not None]
            claim = f", claim median {statistics.median(claims):.3f}s" if claims else ""
            print(
                f"median {world.label:<5} {medians[world.label]:.3f}s "
                f"({world.due / medians[world.label]:,.0f} steps/s){claim}"
            )
        if args.profile:
            for world in worlds:
                print(f"profile of one tick, {world.label} ({world.enrolled:,} enrolled):")
                print(profile_tick(world, args.batch, 25), flush=True)
        return medians["large"] / medians["small"]
    finally:
        for world in worlds:
            with contextlib.suppress(Exception):
                world.rt.close()
        if args.database_url:
            for label in labels:
                with contextlib.suppress(Exception):
                    reset_pg_schema(args.database_url, label, create=False)
        if redis_server is not None:
            redis_server.stop()
        shutil.rmtree(root, ignore_errors=True)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    try:
        with sigterm_as_exit():
            ratio = run(args)
    except BenchError as exc:
        print(f"bench failed: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    print(f"ratio={ratio:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
