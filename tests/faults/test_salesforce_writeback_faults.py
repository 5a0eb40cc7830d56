"""The org misbehaving while a real `connector worker` flushes a backlog of email_sent
write-backs (two composite creates of 200 and 50 Tasks): 503 pages (retried in-call), the
daily limit spent (REQUEST_LIMIT_EXCEEDED pauses the org for every worker, in Redis, for an
hour: the test stands in for that hour passing), a composite create that hangs past
CRM_REQUEST_TIMEOUT (never sent again: its Tasks are looked for by their marker before
anything is created). Every row ends done, each Task exists once in the org, and no
request is made while the org is paused."""

from __future__ import annotations

import sys
import time
from datetime import UTC, datetime, timedelta

import pytest
import redis
from sqlalchemy import func, select

from connector.models import CrmWriteback
from tests.faults.conftest import Processes, Started, start_worker
from tests.faults.salesforce_world import (
    COMPOSITE,
    QUERY,
    World,
    salesforce_world,
    tasks_by_message,
)
from tests.support.processes import wait_until

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not sys.platform.startswith("linux"), reason="needs /proc"),
]

BACKLOG = 250  # two composite creates of 200 and 50
TIMEOUT = 1.0  # CRM_REQUEST_TIMEOUT


def _worker(world: World, processes: Processes, redis_client: redis.Redis) -> Started:
    env = {**world.env, "CRM_REQUEST_TIMEOUT": str(TIMEOUT)}
    return start_worker(processes, redis_client, env, name="worker")


def _wait_statuses(world: World, worker: Started, account_id: int, expected: dict[str, int],
                   timeout: float = 30) -> float:
    def reached() -> bool:
        assert worker.running(), worker.output()
        return world.statuses(account_id) == expected

    return wait_until(reached, timeout=timeout, what=f"{expected}; {world.statuses()}")


def _held_for(world: World, account_id: int) -> timedelta:
    """How long until the account's first pending row is due again."""
    with world.rt.db.session() as session:
        due = session.scalar(select(func.min(CrmWriteback.next_attempt_at))
                             .where(CrmWriteback.account_id == account_id,
                                    CrmWriteback.status == "pending"))
    return due - datetime.now(UTC) if due is not None else timedelta(0)


def _pending(world: World, account_id: int) -> set[tuple[int, bool]]:
    """(attempts, whether a failure is recorded) of the account's pending rows."""
    with world.rt.db.session() as session:
        rows = session.execute(select(CrmWriteback.attempts, CrmWriteback.last_error)
                               .where(CrmWriteback.account_id == account_id,
                                      CrmWriteback.status == "pending")).all()
    return {(attempts, error is not None) for attempts, error in rows}


def test_503_pages_and_the_daily_limit_are_absorbed_and_every_task_lands_once(
    processes: Processes, redis_client: redis.Redis, env: dict[str, str]
) -> None:
    # Faults come before the daily limit: the 503s cost no request of the day, so the
    # first create is the day's last request and the second is refused.
    with salesforce_world(env, api_limit=1) as world:
        account_id = world.connect()
        messages = world.queue_sent(account_id, BACKLOG, tag="storm")
        world.emu.faults.add(status=503, count=2, path_prefix=COMPOSITE)
        started = time.monotonic()
        worker = _worker(world, processes, redis_client)

        _wait_statuses(world, worker, account_id, {"done": 200, "pending": 50})
        wait_until(lambda: _pending(world, account_id) == {(1, True)}, timeout=10,
                   what=f"the second create refused; {world.emu.requests}")
        assert world.emu.faults.pending() == []
        assert world.requests("POST", COMPOSITE, 503) == 2  # retried in-call
        assert world.requests("POST", COMPOSITE, 403) == 1  # REQUEST_LIMIT_EXCEEDED
        assert redis_client.pttl(world.pause_key(account_id)) > 3_500_000  # an hour
        assert time.monotonic() - started < 20  # in-call retries, not the outbox's backoff

        # The rows' backoff (30 s) runs out while the org is still paused: the worker takes
        # them and holds them until the pause ends, without a request to Salesforce and
        # without spending an attempt (a long outage never turns them "failed").
        asked = len(world.emu.requests)
        assert world.claims_run_out(world.rt.clock.now()) == 50
        wait_until(lambda: _held_for(world, account_id) > timedelta(minutes=50), timeout=20,
                   what="a flush while the org is paused")
        assert _pending(world, account_id) == {(1, True)}
        assert len(world.emu.requests) == asked, world.emu.requests[asked:]

        world.a_day_passes(account_id, redis_client)
        assert world.claims_run_out(world.rt.clock.now()) == 50
        _wait_statuses(world, worker, account_id, {"done": BACKLOG})

        assert tasks_by_message(world.org(account_id)) == dict.fromkeys(messages, 1)
        # Retried rows may have been written: looked for (one query), then created once.
        assert world.requests("GET", QUERY) == 1
        assert world.requests("POST", COMPOSITE) == 5  # 503, 503, 200, 403, 50
        assert world.requests("POST", COMPOSITE, 403) == 1


def test_a_composite_create_hanging_past_the_timeout_lands_once(
    processes: Processes, redis_client: redis.Redis, env: dict[str, str]
) -> None:
    with salesforce_world(env) as world:
        account_id = world.connect()
        messages = world.queue_sent(account_id, BACKLOG, tag="hang")
        # Salesforce takes the first create, but answers after the client gave up on it.
        world.emu.faults.add(delay=TIMEOUT * 3, count=1, path_prefix=COMPOSITE)
        worker = _worker(world, processes, redis_client)

        # Its 200 rows are handed back (retryable, not sent again); the next create goes on.
        _wait_statuses(world, worker, account_id, {"done": 50, "pending": 200})
        wait_until(lambda: world.requests("POST", COMPOSITE, 200) == 2, timeout=TIMEOUT * 3 + 5,
                   what="the hung create landed in the org")
        assert world.requests("POST", COMPOSITE) == 2
        # The outbox retries them after its first backoff (30 s): the test does not wait it.
        assert world.claims_run_out(world.rt.clock.now()) == 200
        took = _wait_statuses(world, worker, account_id, {"done": BACKLOG})
        assert took < 10, f"the retry took {took:.1f} s"

        counts = tasks_by_message(world.org(account_id))
        twice = sorted(m for m, n in counts.items() if n > 1)
        assert set(counts) == set(messages)
        assert twice == [], f"{len(twice)} Tasks were created twice"
        # Found by their markers on the contacts' email Tasks, not created again.
        assert world.requests("GET", QUERY) >= 1
        assert world.requests("POST", COMPOSITE) == 2
