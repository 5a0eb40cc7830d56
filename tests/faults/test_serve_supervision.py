"""Issue 7: `connector serve` restarts a worker that died (it used to stop everything and
exit), says why in its log, and the work queued meanwhile gets done."""

from __future__ import annotations

import os
import signal
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest
import redis

from connector.local.processes import Supervisor
from tests.faults.conftest import (
    Processes,
    answers_ready,
    children,
    cmdline,
    enqueue,
    wait_for,
    wait_logged,
)
from tests.support.smtp import free_port

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not sys.platform.startswith("linux"), reason="needs /proc"),
]


def test_serve_restarts_a_sigkilled_worker(
    processes: Processes, redis_client: redis.Redis, env: dict[str, str]
) -> None:
    port = free_port()
    serve = processes.connector("serve", env={**env, "PORT": str(port)}, name="serve")

    def workers() -> set[int]:
        assert serve.running(), serve.output()
        processes.descendants(serve)  # remembered, so none can outlive the test
        return {p for p in children(serve.pid) if "connector worker" in cmdline(p)}

    def ready() -> bool:
        return answers_ready(port)

    wait_for(ready, 30, "connector serve did not become ready")
    enqueue(redis_client, "events", "record", "before")
    wait_logged(redis_client, "before", 10, serve)
    (first,) = workers()

    os.kill(first, signal.SIGKILL)
    wait_for(lambda: "restarting" in serve.output(), 5, "serve did not log the restart")
    line = next(line for line in serve.output().splitlines() if "restarting" in line)
    assert "worker-1" in line and "SIGKILL" in line, line
    # Enqueued once the dead worker is reaped: a job pushed while Redis still sees the dead
    # worker's BLPOP goes to that worker and is lost to RQ (the scheduler's sweep re-enqueues
    # such work from the database).
    enqueue(redis_client, "send", "record", "while-restarting")
    wait_for(lambda: workers() - {first}, 10, "serve did not start another worker")
    wait_logged(redis_client, "while-restarting", 10, serve)
    assert serve.running()


def test_supervisor_restarts_with_a_growing_backoff_and_reports_the_others(
    tmp_path: Path,
) -> None:
    runs = tmp_path / "runs"
    crash = ["sh", "-c", f"echo run >> {runs}; exit 3"]
    with Supervisor() as supervisor:
        supervisor.start("crashy", crash, restart=True)
        supervisor.start("once", ["sh", "-c", "exit 0"])
        started = time.monotonic()
        assert _supervise_until(supervisor, lambda: runs.exists() and _count(runs) >= 3) == "once"
        # Restarts after 0.5 s, then 1 s: never a spin, never the end.
        assert _count(runs) >= 3 and time.monotonic() - started >= 1.5


def _count(path: Path) -> int:
    return len(path.read_text().splitlines())


def _supervise_until(supervisor: Supervisor, done: Callable[[], bool]) -> str | None:
    not_restarted = None
    deadline = time.monotonic() + 10
    while not done():
        assert time.monotonic() < deadline, "no restarts"
        not_restarted = supervisor.supervise() or not_restarted
        time.sleep(0.05)
    return not_restarted
