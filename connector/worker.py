"""Worker bootstrap: wire the runtime once, then run an RQ worker (and the ticker)."""

from __future__ import annotations

import logging
from collections.abc import Sequence

from rq import SimpleWorker

from connector import runtime as runtime_module
from connector.queues import QUEUE_NAMES
from connector.runtime import Runtime
from connector.scheduler import Ticker

log = logging.getLogger(__name__)


def run_worker(
    rt: Runtime, queues: Sequence[str] = QUEUE_NAMES, *, ticker: bool = True, burst: bool = False
) -> bool:
    """Blocks until SIGTERM/SIGINT (RQ finishes the job in hand: Heroku's 30 s grace)."""
    unknown = set(queues) - set(QUEUE_NAMES)
    if unknown:
        raise ValueError(
            f"unknown queue(s): {', '.join(sorted(unknown))}; known: {', '.join(QUEUE_NAMES)}"
        )
    runtime_module.install(rt)
    # SimpleWorker runs jobs in this process: no fork per job (our jobs are short), and
    # no forked child inheriting the database pool's sockets.
    worker = SimpleWorker([rt.queues[name] for name in queues], connection=rt.redis)
    tick = Ticker(rt, rt.settings.scheduler_interval) if ticker else None
    if tick:
        tick.start()
    try:
        # with_scheduler: RQ's own scheduler moves retries-with-backoff back into queues.
        return worker.work(burst=burst, with_scheduler=True, logging_level="WARNING")
    finally:
        if tick:
            tick.stop()
