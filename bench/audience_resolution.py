"""Audience freeze on PostgreSQL (issue 10): a 100,000-member segment out of 1,000,000
contacts, `freeze_audience` vs one bare INSERT ... SELECT of the same ids.

A scratch database (`--database-url`, its public schema DROPPED and recreated) gets one
account, 1,000,000 contacts and the segment memberships the segment evaluator would have
left: `vip` has 100,000 current members (every 10th contact; one in a hundred of them
deleted since, so 99,000 to freeze), 50,000 former members (left_at set) and `engaged`
333,333 members beside it. Two campaigns of `segment: vip` are scheduled. Each round
times, in alternating order:
- ours: `freeze_audience` (the audience rule through segment_sql, keyset chunks of
  FREEZE_CHUNK_POSTGRES, one transaction each, each counted in SQL and carrying its last
  id forward);
- bare: one `INSERT INTO campaign_recipients SELECT ...` of the same filters (the
  segment's current members, not deleted, not merged, with an email), one transaction;
then checks both froze the same ids, that freeze_audience counted them (its result and
the campaign's audience), and empties both (VACUUM ANALYZE between rounds). Where
freeze_audience's time goes is printed per kind of statement (median seconds a round).

Last line: `ratio=<median bare seconds / median freeze_audience seconds>` (1.0: as fast
as the single statement; higher is better; the chunks buy short transactions and a freeze
that resumes after a crash, so somewhat below 1 is the expected price).

    python -m bench.audience_resolution --database-url postgresql://postgres@127.0.0.1/bench_campaigns
"""

from __future__ import annotations

import argparse
import contextlib
import os
import statistics
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

if __package__ in (None, ""):  # run as `python bench/audience_resolution.py`
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from bench.backlog_memory import reset_postgres
from bench.campaign_send import deploy_campaigns
from bench.ingest import app_environment, create_account, free_port
from bench.world import load_line

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection

    from connector.runtime import Runtime

SEGMENT = "vip"
CONTACTS_SQL = """
INSERT INTO contacts (account_id, email, properties, created_at, updated_at, deleted_at)
SELECT :a, 'person' || g || '@example.com',
       json_build_object('firstname', 'P' || g, 'lifecyclestage',
                         CASE WHEN g % 4 = 0 THEN 'customer' ELSE 'lead' END),
       now(), now(), CASE WHEN g % 1000 = 0 THEN now() END
FROM generate_series(1, :n) AS g
"""
# Position in the generated series = id order within this fresh database's account.
MEMBERS_SQL = """
INSERT INTO segment_memberships (account_id, contact_id, segment_key, entered_at, left_at)
SELECT :a, id, :segment, now(), CASE WHEN :left THEN now() END
FROM (SELECT id, row_number() OVER (ORDER BY id) AS g FROM contacts WHERE account_id = :a) c
WHERE g % :every = :rest
"""
BARE_SQL = """
INSERT INTO campaign_recipients (campaign_id, contact_id, position, state)
SELECT :c, c.id, c.id, 'waiting'
FROM contacts c
WHERE c.account_id = :a AND c.deleted_at IS NULL AND c.merged_into_id IS NULL
  AND c.email IS NOT NULL
  AND EXISTS (SELECT 1 FROM segment_memberships s WHERE s.account_id = :a
              AND s.contact_id = c.id AND s.segment_key = :segment AND s.left_at IS NULL)
"""


def build(rt: Runtime, account_id: int, contacts: int) -> float:
    """The contacts and memberships, in SQL; returns seconds."""
    from sqlalchemy import text

    started = time.perf_counter()
    with rt.db.session() as session:
        session.execute(text(CONTACTS_SQL), {"a": account_id, "n": contacts})
        for segment, every, rest, left in ((SEGMENT, 10, 0, False), (SEGMENT, 20, 5, True),
                                           ("engaged", 3, 0, False)):
            session.execute(text(MEMBERS_SQL), {"a": account_id, "segment": segment,
                                                "every": every, "rest": rest, "left": left})
    vacuum(rt, "contacts", "segment_memberships")
    return time.perf_counter() - started


def vacuum(rt: Runtime, *tables: str) -> None:
    from sqlalchemy import text

    with rt.db.engine.connect() as connection:
        autocommit = connection.execution_options(isolation_level="AUTOCOMMIT")
        autocommit.execute(text(f"VACUUM ANALYZE {', '.join(tables)}"))


def scheduled_campaign(rt: Runtime, account_id: int, key: str) -> int:
    """A campaigns row in state `sending` with no audience yet: what freeze_audience
    finds when sending starts (scheduled first so no advance is queued)."""
    from datetime import timedelta

    from sqlalchemy import text

    from connector.services.campaigns import start_campaign

    campaign_id = start_campaign(rt, account_id, key, at=rt.clock.now() + timedelta(days=1))
    with rt.db.session() as session:
        session.execute(text("UPDATE campaigns SET state = 'sending', started_at = now() "
                             "WHERE id = :c"), {"c": campaign_id})
    return campaign_id


@contextlib.contextmanager
def statement_times(rt: Runtime, into: dict[str, list[float]]) -> Iterator[None]:
    """Seconds spent in each kind of statement (its first words) while inside, one entry
    per round added to `into`."""
    from sqlalchemy import event

    spent: dict[str, float] = defaultdict(float)
    began: list[float] = []

    def before(*_args: Any) -> None:
        began.append(time.perf_counter())

    def after(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        spent[" ".join(statement.split()[:4])] += time.perf_counter() - began.pop()

    event.listen(rt.db.engine, "before_cursor_execute", before)
    event.listen(rt.db.engine, "after_cursor_execute", after)
    try:
        yield
    finally:
        event.remove(rt.db.engine, "before_cursor_execute", before)
        event.remove(rt.db.engine, "after_cursor_execute", after)
        for kind, seconds in spent.items():
            into.setdefault(kind, []).append(seconds)


def timed(step: Callable[[], Any]) -> float:
    started = time.perf_counter()
    step()
    return time.perf_counter() - started


def bare_insert(rt: Runtime, account_id: int, campaign_id: int) -> None:
    from sqlalchemy import text

    with rt.db.session() as session:
        session.execute(text(BARE_SQL), {"c": campaign_id, "a": account_id, "segment": SEGMENT})


def frozen_ids(connection: Connection, campaign_id: int) -> tuple[int, int, int | None]:
    """(rows, sum of their contact ids, the campaign's audience column)."""
    from sqlalchemy import text

    row = connection.execute(text("SELECT count(*), coalesce(sum(contact_id), 0) FROM "
                                  "campaign_recipients WHERE campaign_id = :c"),
                             {"c": campaign_id}).one()
    audience = connection.execute(text("SELECT audience FROM campaigns WHERE id = :c"),
                                  {"c": campaign_id}).scalar()
    return int(row[0]), int(row[1]), audience


def empty(rt: Runtime, *campaign_ids: int) -> None:
    from sqlalchemy import text

    with rt.db.session() as session:
        for campaign_id in campaign_ids:
            session.execute(text("DELETE FROM campaign_recipients WHERE campaign_id = :c"),
                            {"c": campaign_id})
            session.execute(text("UPDATE campaigns SET audience = NULL WHERE id = :c"),
                            {"c": campaign_id})
    vacuum(rt, "campaign_recipients")


def run(args: argparse.Namespace) -> int:
    from sqlalchemy import text

    from connector.local.redis_embedded import EmbeddedRedis
    from connector.runtime import build_runtime
    from connector.services.campaigns import start
    from connector.services.campaigns.start import freeze_audience
    from connector.settings import load_settings

    if args.freeze_chunk:  # a what-if: the chunk size the code would use instead
        start.FREEZE_CHUNK_POSTGRES = args.freeze_chunk
    reset_postgres(args.database_url)
    ours_s: list[float] = []
    bare_s: list[float] = []
    sizes: list[int | None] = []
    statements: dict[str, list[float]] = {}
    with contextlib.ExitStack() as stack:
        tmp = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="bench-audience-")))
        redis_server = stack.enter_context(EmbeddedRedis(tmp / "redis"))
        values = app_environment(tmp, args.database_url, redis_server.url, free_port())
        create_account(values)
        rt = build_runtime(load_settings(**values), redis_url=redis_server.url)
        stack.callback(rt.close)
        with rt.db.session() as session:
            account_id = int(session.scalar(text("SELECT max(id) FROM accounts")))
        deploy_campaigns(rt, account_id, ["ours", "bare"], audience=f"segment: {SEGMENT}")
        print(f"{args.contacts:,} contacts and their segment memberships stored in "
              f"{build(rt, account_id, args.contacts):.1f}s", flush=True)
        ours, bare = (scheduled_campaign(rt, account_id, k) for k in ("ours", "bare"))
        def freeze() -> None:
            with statement_times(rt, statements):
                sizes.append(freeze_audience(rt, ours))

        for number in range(1, args.rounds + 1):
            steps = [("ours", freeze, ours_s),
                     ("bare", lambda: bare_insert(rt, account_id, bare), bare_s)]
            for _, step, seconds in steps if number % 2 else steps[::-1]:
                seconds.append(timed(step))
            with rt.db.engine.connect() as connection:
                got, want = frozen_ids(connection, ours), frozen_ids(connection, bare)
            if got[:2] != want[:2] or not got[0]:
                print(f"MISMATCH: freeze_audience froze {got[0]:,} ids (sum {got[1]}), the "
                      f"bare INSERT {want[0]:,} (sum {want[1]})")
                return 1
            if not sizes[-1] == got[2] == got[0]:
                print(f"MISCOUNT: freeze_audience froze {got[0]:,} ids, returned {sizes[-1]} "
                      f"and recorded an audience of {got[2]}")
                return 1
            print(f"round {number}: freeze_audience {ours_s[-1]:.2f}s, bare INSERT ... SELECT "
                  f"{bare_s[-1]:.2f}s ({got[0]:,} recipients each)", flush=True)
            empty(rt, ours, bare)
    m_ours, m_bare = statistics.median(ours_s), statistics.median(bare_s)
    print(f"medians over {args.rounds} round(s); {load_line()}")
    print(f"freeze_audience (chunks of {start.FREEZE_CHUNK_POSTGRES:,}): {m_ours:.2f}s; "
          f"bare INSERT ... SELECT: {m_bare:.2f}s")
    print("where freeze_audience's time goes (median seconds a round, in the database "
          "driver; the rest is commits and Python):")
    for kind, seconds in sorted(statements.items(), key=lambda item: -sum(item[1])):
        print(f"  {statistics.median(seconds):6.3f}s  {kind} ...")
    ratio = m_bare / m_ours if m_ours else 0.0
    print(f"bare / ours: {ratio:.3f} (1.0: as fast as one statement; higher is better)")
    print(f"ratio={ratio:.3f}")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("--database-url", required=True,
                        help="a SCRATCH PostgreSQL database (its public schema is DROPPED), "
                        "e.g. postgresql://postgres@127.0.0.1/bench_campaigns")
    parser.add_argument("--contacts", type=int, default=1_000_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--freeze-chunk", type=int, default=None,
                        help="recipients per freeze chunk instead of the code's "
                        "FREEZE_CHUNK_POSTGRES (to measure another size)")
    parser.add_argument("--quick", action="store_true", help="100,000 contacts, 1 round")
    args = parser.parse_args(argv)
    if args.quick:
        args.contacts, args.rounds = 100_000, 1
    if args.database_url.rstrip("/").rsplit("/", 1)[-1] in ("test", "postgres"):
        parser.error("--database-url must be a scratch database of its own: its schema is "
                     "dropped (not the tests' `test` nor `postgres`)")
    print(f"bench/audience_resolution.py: a {SEGMENT} segment of {args.contacts // 10:,} out of "
          f"{args.contacts:,} contacts, {args.rounds} round(s); {load_line()}", flush=True)
    return run(args)


if __name__ == "__main__":
    sys.exit(main())
