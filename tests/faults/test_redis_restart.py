"""Issue 7: a Redis restart must not end the workers. Real `connector worker` processes, one
idle and one busy with a job, while the embedded Redis is stopped and started again on the
same socket (empty: it keeps nothing); work enqueued afterwards is done within seconds by
the same processes."""

from __future__ import annotations

import sys
import time

import pytest
import redis

from connector.local.redis_embedded import EmbeddedRedis
from tests.faults.conftest import Processes, enqueue, logged, start_worker, wait_for, wait_logged

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not sys.platform.startswith("linux"), reason="needs /proc"),
]

# Longer than redis-py's own retries of a command (10 retries, ~2 s on average, 4.3 s at
# most), so the outage reaches the worker instead of being hidden by the client.
OUTAGE = 5.0


def test_idle_and_busy_workers_resume_after_a_redis_restart(
    processes: Processes,
    redis_client: redis.Redis,
    redis_server: EmbeddedRedis,
    env: dict[str, str],
) -> None:
    busy = start_worker(
        processes, redis_client, env, "send", "--no-ticker", queue="send", name="busy"
    )
    idle = start_worker(
        processes, redis_client, env, "crm", queue="crm", name="idle"
    )  # with a ticker
    enqueue(redis_client, "send", "hold", "long", 1.0)
    wait_for(lambda: "long:started" in logged(redis_client), 10, "the busy worker never started")

    redis_server.stop()  # mid-job: the job ends, and its bookkeeping fails, while Redis is down
    time.sleep(OUTAGE)
    redis_server.start()
    assert not logged(redis_client)  # a restarted embedded Redis keeps nothing

    restarted = time.monotonic()
    enqueue(redis_client, "send", "record", "sent-after-restart")
    enqueue(redis_client, "crm", "record", "crm-after-restart")
    wait_logged(redis_client, "sent-after-restart", 10, busy)
    wait_logged(redis_client, "crm-after-restart", 10, idle)
    assert time.monotonic() - restarted < 10
    # The same processes: nobody restarts a plain `connector worker`; it must recover itself.
    assert busy.running() and idle.running()
    assert "unhandled exception, quitting" not in busy.output() + idle.output()
