"""Two real workers on one inbox backlog take disjoint chunks (FOR UPDATE SKIP LOCKED):
neither ever waits on a row lock the other holds, and every event is processed once.
(Before, both walked the same rows in lock-step, each waiting on the other's lock.)"""

from __future__ import annotations

import os

import pytest
from sqlalchemy import func, select, text

from connector.models import Contact, InboxEvent
from connector.queues import PROCESS_INBOX_BATCH
from connector.runtime import Runtime
from connector.services.accounts import AccountView
from connector.services.inbox import record_inbox_event
from tests.support.processes import wait_until, worker_process

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        not os.environ.get("TEST_DATABASE_URL"),
        reason="row locks between workers: PostgreSQL (SQLite has one writer at a time)",
    ),
]

EVENTS = 200


def test_two_workers_split_an_inbox_backlog_without_waiting_on_each_other(
    rt: Runtime, account: AccountView, redis_url: str
) -> None:
    with rt.db.session() as session:
        for n in range(EVENTS):
            record_inbox_event(
                session, account_id=account.id, source="api", dedup_key=f"e{n}",
                kind="signed_up", payload={"contact": {"email": f"c{n}@example.com"},
                                           "event": "signed_up"},
                occurred_at=rt.clock.now(), now=rt.clock.now(),
            )
    waits = 0

    def unprocessed() -> int:
        nonlocal waits
        with rt.db.engine.connect() as connection:
            waits += connection.scalar(text(
                "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
                "AND datname = current_database() AND query ILIKE '%inbox_events%'")) or 0
            return connection.scalar(
                select(func.count()).select_from(InboxEvent)
                .where(InboxEvent.processed_at.is_(None))) or 0

    with (worker_process(rt.settings, redis_url, "events", "--no-ticker"),
          worker_process(rt.settings, redis_url, "events", "--no-ticker")):
        rt.queues.enqueue(PROCESS_INBOX_BATCH)
        rt.queues.enqueue(PROCESS_INBOX_BATCH)
        wait_until(lambda: unprocessed() == 0, timeout=60, what="the backlog processed")
    assert waits == 0
    with rt.db.session() as session:
        assert session.scalar(select(func.count()).select_from(Contact)) == EVENTS
