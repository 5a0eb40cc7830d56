"""Issue 7: a SIGKILLed worker must leave nothing behind (RQ's scheduler used to run in a
forked child that survived it, re-parented to pid 1, holding `rq:scheduler-lock:*`), and a
retry RQ scheduled with an interval must still be moved back to its queue, promptly, by
the next worker."""

from __future__ import annotations

import signal
import sys
import time

import pytest
import redis
from rq import Queue, Retry
from rq.registry import ScheduledJobRegistry

from connector.worker import RetryScheduler
from tests.faults.conftest import (
    Processes,
    alive,
    cmdline,
    enqueue,
    logged,
    start_worker,
    wait_for,
    wait_logged,
)

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not sys.platform.startswith("linux"), reason="needs /proc"),
]


def test_sigkilled_worker_leaves_no_process_and_its_retry_runs_on_the_next(
    processes: Processes, redis_client: redis.Redis, env: dict[str, str]
) -> None:
    first = start_worker(processes, redis_client, env, name="first")
    # The scheduler holds its locks once it runs (a forked child or a thread, as may be).
    wait_for(lambda: redis_client.keys("rq:scheduler-lock:*"), 10, "no scheduler took its locks")
    enqueue(redis_client, "send", "fail_once", "retried", retry=Retry(max=2, interval=2))
    registry = ScheduledJobRegistry("send", connection=redis_client)
    wait_for(lambda: registry.count == 1, 10, "the first attempt did not schedule a retry")

    children = processes.descendants(first)
    first.popen.send_signal(signal.SIGKILL)
    assert first.popen.wait(5) == -signal.SIGKILL
    time.sleep(0.5)  # a PDEATHSIG'd child gets its signal at once; give it time to exit
    survivors = {pid: cmdline(pid) for pid in children if alive(pid)}
    assert survivors == {}, f"processes outlived the SIGKILLed worker: {survivors}"

    assert "retried" not in logged(redis_client)
    started = time.monotonic()
    second = start_worker(processes, redis_client, env, name="second")
    # The dead scheduler's lock would keep every other scheduler out for its TTL (61 s),
    # and RQ's workers retry a lock only every 10 minutes.
    wait_logged(redis_client, "retried", 10, second)
    assert time.monotonic() - started < 10


def test_a_lock_whose_holder_shows_no_sign_of_life_is_taken_over(redis_client: redis.Redis) -> None:
    # The other half of the takeover: a holder on another host (no pid to check) that
    # stopped refreshing its alive key; one with a fresh key keeps its lock.
    queues = [Queue("send", connection=redis_client), Queue("crm", connection=redis_client)]
    redis_client.set("rq:scheduler-lock:send", "gone-elsewhere", ex=61)
    redis_client.set("rq:scheduler-lock:crm", "alive-elsewhere", ex=61)
    redis_client.set(RetryScheduler.ALIVE + "alive-elsewhere", "other-host 1", px=5000)
    scheduler = RetryScheduler(queues, redis_client)
    scheduler.step()
    assert scheduler.scheduler.acquired_locks == {"send"}
    assert redis_client.get("rq:scheduler-lock:crm") == b"alive-elsewhere"
