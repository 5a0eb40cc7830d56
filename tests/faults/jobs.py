"""Job functions for the fault tests, imported by real worker processes (RQ imports jobs by
path). They go through the real queues but touch only Redis: each leaves its name in a list,
so a test reads what ran, and in which order."""

from __future__ import annotations

import time

from rq import get_current_job

LOG = "faults:log"


def _connection():  # type: ignore[no-untyped-def]
    job = get_current_job()
    assert job is not None, "only runs inside a worker"
    return job.connection


def record(name: str) -> None:
    """Append `name` to the log."""
    _connection().rpush(LOG, name)


def hold(name: str, seconds: float) -> None:
    """A busy worker: log `name:started`, then keep the worker for `seconds`."""
    record(f"{name}:started")
    time.sleep(seconds)


def fail_once(name: str) -> None:
    """Fail on the first attempt (so RQ schedules the retry), log `name` on the next."""
    attempts = _connection().incr(f"faults:attempts:{name}")
    if attempts == 1:
        raise RuntimeError("the first attempt fails on purpose")
    record(name)
