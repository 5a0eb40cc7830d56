"""Issue 7: a backlog on one queue must not starve the others. A real worker on all queues
finds hundreds of event jobs queued before one send and one scheduler job: those two run
within the first few jobs, long before the events are drained."""

from __future__ import annotations

import sys

import pytest
import redis

from tests.faults.conftest import Processes, enqueue, logged, wait_for

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not sys.platform.startswith("linux"), reason="needs /proc"),
]

BACKLOG = 300


def test_sends_and_scheduler_ticks_run_before_an_events_backlog_is_drained(
    processes: Processes, redis_client: redis.Redis, env: dict[str, str]
) -> None:
    for n in range(BACKLOG):  # all queued before the worker starts: no timing involved
        enqueue(redis_client, "events", "record", f"event-{n}")
    enqueue(redis_client, "send", "record", "send")
    enqueue(redis_client, "scheduler", "record", "tick")
    # No ticker: its own ticks would be the scheduler's first jobs and prove nothing here.
    worker = processes.connector("worker", "--no-ticker", env=env)

    def both_ran() -> bool:
        assert worker.running(), worker.output()
        return {"send", "tick"} <= set(logged(redis_client))

    wait_for(both_ran, 20, "the send and scheduler jobs did not run")
    ran = logged(redis_client)
    # Each queue gets its turn (RQ's round robin): both within the first few jobs.
    assert ran.index("send") < 5 and ran.index("tick") < 5, ran[:10]
    assert redis_client.llen("rq:queue:events") > BACKLOG // 2
