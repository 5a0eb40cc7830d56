"""What loading an account's definitions costs on the event path, and what the per-process
cache (`connector.workspaces.Workspaces`) saves.

Measured, each as the median of `--rounds` round medians:

- cold: `Workspaces(settings).live(session, account)` on a fresh cache: the account row,
  the workspace version's files, every flow and segment YAML parsed, every template
  compiled (TemplateStore.check_syntax), the flows' snapshot ids;
- warm: the same call on a warm cache within PROFILE_TTL_SECONDS (dict hits), timed over a
  batch of calls and divided;
- profile refresh: warm definitions, expired profile (`forget()`): one SELECT of the account;
- in context: `process_inbox_event` end to end (SQLite file, embedded Redis, the repo's
  default workspace deployed), warm cache vs a fresh `Workspaces` before every event. Warm
  and cold events come in pairs of the same shape (same kind, same step in a contact's
  life, separate contacts) in alternating order, so the history each side builds up and
  the machine's noise hit both alike.

The last line is `ratio=<median event time, warm cache / median event time, cold cache>`:
the baseline (a cold load on every event, i.e. no cache) and the cached path run side by
side, so the ratio is the share of an uncached event that is left once the cache works
(0.2 would mean the cache makes events 5x faster). The "share" line above it says the same
from the other side: a cold load as a part of a warm event.

    python bench/workspace_load.py [--rounds 5] [--events 40] [--profile]
"""

from __future__ import annotations

import argparse
import cProfile
import io
import pstats
import statistics
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from cryptography.fernet import Fernet
from redis import Redis
from sqlalchemy import event as sa_event
from sqlalchemy.orm import Session

from connector.clock import VirtualClock
from connector.db import Database
from connector.local.redis_embedded import EmbeddedRedis
from connector.migrate import upgrade
from connector.runtime import Runtime
from connector.services.accounts import connect_account
from connector.services.inbox import record_inbox_event
from connector.services.processing import process_inbox_event
from connector.settings import Settings, load_settings
from connector.workspaces import Workspaces, deploy_default

ROOT = Path(__file__).resolve().parent.parent
NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
WARM_BATCH = 2000  # warm calls per timed batch: one call is too short for the timer
COLD_BUILDS = 5  # fresh caches per round
REFRESH_SAMPLES = 50  # profile refreshes per round, each in its own session
PROFILE_TOP = 8

# One contact's life, repeated: a new contact from the CRM, a browse, a cart, an order,
# then the CRM marks it a customer (a property change and a segment entry).
LIFE = ("contact.updated", "product.viewed", "cart.updated", "order.completed", "contact.updated")


def build(home: Path, redis_url: str) -> tuple[Runtime, int]:
    url = f"sqlite:///{home / 'bench.sqlite3'}"
    upgrade(url)
    settings = load_settings(
        APP_ENV="test", VAR_DIR=home / "var", DATABASE_URL=url, FLOWS_DIR=ROOT / "flows",
        TEMPLATES_DIR=ROOT / "templates", SEGMENTS_DIR=ROOT / "segments",
        MAIL_URL=f"outbox://{home / 'outbox'}", SECRET_KEY="bench",
        ENCRYPTION_KEYS=Fernet.generate_key().decode(),
    )  # fmt: skip
    rt = Runtime(
        settings=settings,
        db=Database(url),
        redis=Redis.from_url(redis_url),
        clock=VirtualClock(NOW),
    )
    with rt.db.session() as session:
        account, _ = connect_account(
            session,
            rt.vault,
            provider="hubspot",
            external_id="1",
            access_token="t",
            name=None,
            now=NOW,
        )
    deploy_default(rt.db, settings, account.id, NOW)
    return rt, account.id


@contextmanager
def open_session(rt: Runtime) -> Iterator[Session]:
    """A session already in its transaction, as on the event path (SQLite: BEGIN IMMEDIATE
    has run), so a timed call pays for its own statements only."""
    with rt.db.session() as session:
        session.connection()
        yield session


# --- the load itself -----------------------------------------------------------------------


def cold_load(rt: Runtime, account_id: int) -> float:
    """Seconds for one `live()` on a fresh cache."""
    workspaces = Workspaces(rt.settings)
    with open_session(rt) as session:
        started = time.perf_counter()
        workspaces.live(session, account_id)
        return time.perf_counter() - started


def warm_load(workspaces: Workspaces, rt: Runtime, account_id: int) -> float:
    """Seconds per `live()` with definitions and profile cached (one batch, in the TTL)."""
    with open_session(rt) as session:
        workspaces.live(session, account_id)  # profile fresh: the batch stays inside its TTL
        started = time.perf_counter()
        for _ in range(WARM_BATCH):
            workspaces.live(session, account_id)
        return (time.perf_counter() - started) / WARM_BATCH


def profile_refresh(workspaces: Workspaces, rt: Runtime, account_id: int) -> float:
    """Median seconds of a `live()` whose profile expired: one SELECT of the account row.
    A new session each time: in the same one the row would come from the identity map."""
    samples = []
    for _ in range(REFRESH_SAMPLES):
        with open_session(rt) as session:
            workspaces.forget(account_id)
            started = time.perf_counter()
            workspaces.live(session, account_id)
            samples.append(time.perf_counter() - started)
    return statistics.median(samples)


# --- in context: one inbox event end to end -------------------------------------------------


class Stream:
    """Inbox events for one side (warm or cold); the n-th event of each side has the same
    shape, so a pair costs the same work but for the cache."""

    def __init__(self, side: str) -> None:
        self.side = side
        self.sent = 0

    def next_payload(self) -> tuple[str, dict[str, Any]]:
        n = self.sent
        self.sent += 1
        step = n % len(LIFE)
        kind = LIFE[step]
        contact: dict[str, Any] = {"email": f"{self.side}-{n - step}@example.com"}
        properties: dict[str, Any] = {}
        if step == 0:
            contact["properties"] = {"firstname": "Ann", "lifecyclestage": "lead"}
        elif kind == "product.viewed":
            properties = {"sku": f"SKU-{n % 7}", "price": 19.0}
        elif kind == "cart.updated":
            properties = {"cart_id": f"{self.side}-cart-{n}", "value": 42.0}
        elif kind == "order.completed":
            properties = {"order_id": f"{self.side}-order-{n}", "total": 42.0}
        else:
            contact["properties"] = {"lifecyclestage": "customer"}
        return kind, {"contact": contact, "event": kind, "properties": properties}


def record(rt: Runtime, account_id: int, stream: Stream) -> int:
    kind, payload = stream.next_payload()
    with rt.db.session() as session:
        inbox_id, _ = record_inbox_event(
            session, account_id=account_id, source="api",
            dedup_key=f"{stream.side}-{stream.sent}", kind=kind, payload=payload,
            occurred_at=rt.clock.now(), now=rt.clock.now(),
        )  # fmt: skip
    return inbox_id


def timed_event(rt: Runtime, inbox_id: int, *, cold: bool) -> float:
    if cold:
        rt.__dict__.pop("workspaces", None)  # the cached_property builds a fresh one
    started = time.perf_counter()
    process_inbox_event(rt, inbox_id)
    return time.perf_counter() - started


def event_round(
    rt: Runtime, account_id: int, streams: dict[str, Stream], events: int
) -> tuple[float, float]:
    """Median seconds per event, (warm, cold); events stored first, outside the timing."""
    assert isinstance(rt.clock, VirtualClock)
    pairs = []
    for _ in range(events):
        rt.clock.advance(timedelta(minutes=1))
        pairs.append(
            (
                record(rt, account_id, streams["warm"]),
                record(rt, account_id, streams["cold"]),
                rt.clock.now(),
            )
        )
    samples: dict[bool, list[float]] = {False: [], True: []}
    for i, (warm_id, cold_id, at) in enumerate(pairs):
        rt.clock.set(at)
        first, second = ((False, warm_id), (True, cold_id))
        for cold, inbox_id in (first, second) if i % 2 else (second, first):
            samples[cold].append(timed_event(rt, inbox_id, cold=cold))
    return statistics.median(samples[False]), statistics.median(samples[True])


# --- counting: how often the event path asks --------------------------------------------------


@contextmanager
def counting(rt: Runtime) -> Iterator[Counter[str]]:
    """Calls of Workspaces.live / .profile / ._build and SQL statements, while inside."""
    counts: Counter[str] = Counter()
    originals = {name: getattr(Workspaces, name) for name in ("live", "profile", "_build")}

    def wrap(name: str, original: Callable[..., Any]) -> Callable[..., Any]:
        def counted(*args: Any, **kwargs: Any) -> Any:
            counts[name] += 1
            return original(*args, **kwargs)

        return counted

    def statement(*_args: Any) -> None:
        counts["sql"] += 1

    for name, original in originals.items():
        setattr(Workspaces, name, wrap(name, original))
    sa_event.listen(rt.db.engine, "before_cursor_execute", statement)
    try:
        yield counts
    finally:
        sa_event.remove(rt.db.engine, "before_cursor_execute", statement)
        for name, original in originals.items():
            setattr(Workspaces, name, original)


def count_calls(rt: Runtime, account_id: int, streams: dict[str, Stream]) -> list[str]:
    """One lifetime of a contact (every kind of event), warm and cold, counted per event."""
    assert isinstance(rt.clock, VirtualClock)
    lines = []
    for side in ("warm", "cold"):
        per_event = []
        for _ in LIFE:
            rt.clock.advance(timedelta(minutes=1))
            inbox_id = record(rt, account_id, streams[side])
            with counting(rt) as counts:
                timed_event(rt, inbox_id, cold=side == "cold")
            # profile() is also called by live(): report the calls from outside it apart.
            per_event.append(
                f"live {counts['live']}, profile {counts['profile'] - counts['live']}"
                f", builds {counts['_build']}, SQL {counts['sql']}"
            )
        lines.append(
            f"{side}: "
            + "; ".join(f"{kind} [{c}]" for kind, c in zip(LIFE, per_event, strict=True))
        )
    return lines


def profile_cold(settings: Settings, rt: Runtime, account_id: int) -> str:
    workspaces = Workspaces(settings)
    with open_session(rt) as session:
        profiler = cProfile.Profile()
        profiler.enable()
        workspaces.live(session, account_id)
        profiler.disable()
    out = io.StringIO()
    pstats.Stats(profiler, stream=out).sort_stats("cumulative").print_stats(PROFILE_TOP)
    return out.getvalue().strip()


# --- the run -----------------------------------------------------------------------------------


def us(seconds: float) -> str:
    return f"{seconds * 1e6:,.1f} us"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--events", type=int, default=40, help="event pairs per round")
    parser.add_argument(
        "--profile",
        action="store_true",
        help=f"cProfile one cold build, print the top {PROFILE_TOP} cumulative",
    )
    args = parser.parse_args()
    if args.rounds < 1 or args.events < 1:
        parser.error("--rounds and --events must be at least 1")
    cold, warm, refresh, ev_warm, ev_cold = [], [], [], [], []
    with tempfile.TemporaryDirectory(prefix="crmdrip-wsbench-") as tmp:
        home = Path(tmp)
        with EmbeddedRedis(home / "redis") as redis_server:
            rt, account_id = build(home, redis_server.url)
            cached = Workspaces(rt.settings)
            with open_session(rt) as session:
                live = cached.live(session, account_id)
            files = live.workspace.files
            print(
                f"default workspace: {len(live.workspace.flows)} flows, "
                f"{len(live.workspace.segments)} segments, "
                f"{len(live.workspace.templates.names())} templates; {len(files)} files, "
                f"{sum(len(t) for t in files.values()):,} characters"
            )
            streams = {side: Stream(side) for side in ("warm", "cold")}
            event_round(rt, account_id, streams, min(args.events, len(LIFE)))  # warm-up
            for round_ in range(1, args.rounds + 1):
                cold.append(
                    statistics.median(cold_load(rt, account_id) for _ in range(COLD_BUILDS))
                )
                warm.append(warm_load(cached, rt, account_id))
                refresh.append(profile_refresh(cached, rt, account_id))
                w, c = event_round(rt, account_id, streams, args.events)
                ev_warm.append(w)
                ev_cold.append(c)
                print(
                    f"round {round_}: cold load {us(cold[-1])}, warm {us(warm[-1])}, "
                    f"profile refresh {us(refresh[-1])}; event warm {us(w)}, cold {us(c)}"
                )
            print(
                "calls per event (live = Workspaces.live, profile = direct profile() calls, "
                "SQL = statements):"
            )
            for line in count_calls(rt, account_id, streams):
                print(f"  {line}")
            profile = profile_cold(rt.settings, rt, account_id) if args.profile else None
            rt.db.dispose()
            rt.redis.close()
    c, w, r = statistics.median(cold), statistics.median(warm), statistics.median(refresh)
    ew, ec = statistics.median(ev_warm), statistics.median(ev_cold)
    n = args.rounds
    print(
        f"medians over {n} rounds: cold load {us(c)} ({COLD_BUILDS} builds a round); "
        f"warm live() {us(w)} ({WARM_BATCH} calls a round); "
        f"profile refresh {us(r)} ({REFRESH_SAMPLES} a round)"
    )
    print(
        f"medians over {n} rounds of {args.events} events each: event with warm cache "
        f"{us(ew)}, with a cold cache {us(ec)} (+{us(ec - ew)})"
    )
    print(
        f"share: a cold load is {c / ew:.0%} of a warm event's time, "
        f"{c / ec:.0%} of a cold one's; a profile refresh is {r / ew:.1%} of a warm event"
    )
    if profile is not None:
        print(f"cProfile of one cold build (top {PROFILE_TOP} by cumulative time):")
        print(profile)
    print(f"ratio={ew / ec:.3f}")


if __name__ == "__main__":
    main()
