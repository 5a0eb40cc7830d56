"""Worker bootstrap: wire the runtime once, then run, in this one process, an RQ worker, RQ's
scheduler (retries with an interval) as a thread and our ticker, and keep them running
through Redis outages.

Three choices, each for a fault of issue 7:
- Redis going away never ends the process: a job whose bookkeeping failed waits for Redis
  and the loop goes on; if RQ's loop quits anyway, a new one starts (capped backoff).
- RQ's scheduler runs as a thread, not RQ's forked child: a thread cannot outlive the
  process, and a lock left by a dead scheduler is taken over at once, not after 10 minutes.
- Queues are served round robin, `scheduler` and `send` first: no backlog on one queue
  holds the others back.
"""

from __future__ import annotations

import logging
import os
import signal
import socket
import threading
import time
from collections.abc import Sequence
from typing import Any

from redis import Redis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError
from rq import Queue, SimpleWorker, worker_registration
from rq.exceptions import StopRequested
from rq.job import Job
from rq.scheduler import RQScheduler
from rq.worker import DequeueStrategy, WorkerStatus

from connector import runtime as runtime_module
from connector.queues import QUEUE_NAMES
from connector.runtime import Runtime
from connector.scheduler import Ticker

log = logging.getLogger(__name__)

REDIS_DOWN = (RedisConnectionError, RedisTimeoutError)

# Round robin serves the queues in turn (after a job from one queue, the next queue in this
# order comes first), so a backlog on one queue costs the others at most one job each turn.
# The order breaks ties: the scheduler tick (due steps, recovery sweep, `uncertain` marking)
# is one coalesced job per interval and everything late depends on it; sends are what a
# user waits for; events last, because they are the ones that arrive in floods.
DEQUEUE_ORDER = ("scheduler", "send", "crm", "events")

RECONNECT_FIRST, RECONNECT_CAP = 0.1, 2.0  # seconds between Redis pings during an outage
RESTART_FIRST, RESTART_CAP = 0.5, 10.0  # seconds before a new loop after RQ's loop quit
RESTART_RESET_AFTER = 60.0  # a loop that ran this long starts the backoff over


def wait_for_redis(connection: Redis, stopping: threading.Event) -> bool:
    """Ping with a short capped backoff until Redis answers (True) or `stopping` is set."""
    delay = RECONNECT_FIRST
    while not stopping.is_set():
        try:
            connection.ping()
            return True
        except REDIS_DOWN:
            stopping.wait(delay)
            delay = min(delay * 2, RECONNECT_CAP)
    return False


class Worker(SimpleWorker):
    """A SimpleWorker (jobs in this process: they are short, and a forked child would inherit
    the database pool's sockets) that waits out a Redis outage instead of quitting."""

    # RQ's own reconnect loop while idle doubles its wait up to 60 s; a worker should resume
    # within a couple of seconds of Redis coming back.
    max_connection_wait_time = RECONNECT_CAP

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.shutdown_requested = threading.Event()
        self._redis_lost = False

    def request_stop(self, signum: int, frame: Any) -> None:
        self.shutdown_requested.set()
        if self._redis_lost:  # in execute_job's wait: nothing to tell Redis, just stop
            return
        super().request_stop(signum, frame)

    def execute_job(self, job: Job, queue: Queue) -> None:
        try:
            super().execute_job(job, queue)
        except REDIS_DOWN as exc:
            # The job ran (or failed), but RQ could not record it. A restarted Redis lost the
            # job anyway; otherwise RQ's registry cleanup and our sweep find it again (every
            # job is idempotent).
            log.warning("Redis went away during job %s (%s); waiting for it", job.id, exc)
            self._redis_lost = True
            try:
                if not wait_for_redis(self.connection, self.shutdown_requested):
                    raise StopRequested() from exc
            finally:
                self._redis_lost = False
            log.warning("Redis is back; worker %s goes on", self.name)
            self.set_state(WorkerStatus.IDLE)

    def heartbeat(self, timeout: int | None = None, pipeline: Any = None) -> None:
        """RQ's heartbeat, in one round trip; a restarted Redis that forgot this worker
        gets it registered again (`rq info`, the remote-command channel)."""
        if pipeline is not None:
            super().heartbeat(timeout, pipeline)
            return
        with self.connection.pipeline(transaction=False) as own:
            super().heartbeat(timeout, own)
            created = own.execute()[0]  # HSET answers 1 when the worker's hash was gone
        if created:
            with self.connection.pipeline() as again:
                again.hset(self.key, mapping=self.serialize())
                worker_registration.register(self, again)
                again.expire(self.key, self.worker_ttl + 60)
                again.execute()

    def teardown(self) -> None:
        try:
            super().teardown()
        except REDIS_DOWN as exc:
            log.warning("worker %s could not record its exit: Redis is down (%s)", self.name, exc)
            thread = getattr(self, "pubsub_thread", None)
            if thread is not None:  # RQ's unsubscribe() talks to Redis first: stop it here
                thread.stop()
                thread.join(timeout=1)


class RetryScheduler(threading.Thread):
    """RQ's scheduler (moves scheduled jobs and retries with an interval into their queues)
    as a thread of the worker process instead of RQ's forked child, which a SIGKILLed worker
    left running, re-parented to pid 1, renewing its locks (issue 7).

    One scheduler per queue holds `rq:scheduler-lock:<queue>` (a TTL of 61 s). A holder that
    died keeps the others out for that long, and RQ retries a lock only every 10 minutes;
    here every scheduler retries each second and takes over the lock of a holder that no
    longer shows signs of life (its `ALIVE` key, refreshed each second, expired; or it ran
    on this host under a pid that is gone). Relies on rq 3's lock value, the scheduler name.
    """

    ALIVE = "connector:rq-scheduler:alive:"
    ALIVE_TTL_MS = 5000
    _RELEASE_IF_HELD_BY = (
        "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) end "
        "return 0"
    )

    def __init__(self, queues: Sequence[Queue], connection: Redis, interval: int = 1) -> None:
        super().__init__(name="rq-scheduler", daemon=True)
        self.interval = interval
        self.redis = connection
        self.scheduler = RQScheduler(
            queues, connection=connection, interval=interval, logging_level="WARNING"
        )
        self.queue_names = {q.name for q in queues}
        self.stopped = threading.Event()
        self.host = socket.gethostname()

    def run(self) -> None:
        down = False
        while not self.stopped.is_set():
            try:
                self.step()
                if down:
                    log.warning("scheduler: Redis is back")
                down = False
            except REDIS_DOWN as exc:
                if not down:  # once per outage, not every second
                    log.warning("scheduler: Redis is down (%s); retrying every second", exc)
                down = True
            except Exception:
                log.exception("scheduler: this round failed; retrying")
            self.stopped.wait(self.interval)
        try:
            self.scheduler.release_locks()
            self.redis.delete(self.ALIVE + self.scheduler.name)
        except REDIS_DOWN:
            pass  # the locks expire by themselves

    def step(self) -> None:
        """One round: show we live, get the locks we lack, move what is due."""
        scheduler = self.scheduler
        self.redis.set(
            self.ALIVE + scheduler.name, f"{self.host} {os.getpid()}", px=self.ALIVE_TTL_MS
        )
        if scheduler.acquired_locks != self.queue_names:
            self._take_over_dead_locks()
            scheduler.acquire_locks()
        if scheduler.acquired_locks:
            scheduler.heartbeat()  # refreshes our locks; re-takes those a Redis restart lost
            scheduler.enqueue_scheduled_jobs()

    def run_once(self) -> None:
        """For burst workers: move what is due now if no other scheduler does, and let go."""
        try:
            self._take_over_dead_locks()
            if self.scheduler.acquire_locks():
                self.scheduler.enqueue_scheduled_jobs()
            self.scheduler.release_locks()
        except REDIS_DOWN as exc:
            log.warning("scheduler: Redis is down (%s); scheduled jobs not moved", exc)

    def stop(self) -> None:
        self.stopped.set()

    def _take_over_dead_locks(self) -> None:
        for name in self.queue_names - self.scheduler.acquired_locks:
            key = RQScheduler.get_locking_key(name)
            holder = _text(self.redis.get(key))
            if holder is None or holder == self.scheduler.name:
                continue
            if self._is_dead(holder):
                log.warning("scheduler: taking over the lock of dead scheduler %s", key)
                self.redis.eval(self._RELEASE_IF_HELD_BY, 1, key, holder)

    def _is_dead(self, holder: str) -> bool:
        alive = _text(self.redis.get(self.ALIVE + holder))
        if alive is None:
            return True
        host, _, pid = alive.partition(" ")
        if host != self.host or not pid.isdigit():
            return False
        try:
            os.kill(int(pid), 0)
        except ProcessLookupError:
            return True
        except PermissionError:
            return False
        return False


def _text(value: Any) -> str | None:
    return value.decode() if isinstance(value, bytes) else value


def run_worker(
    rt: Runtime, queues: Sequence[str] = QUEUE_NAMES, *, ticker: bool = True, burst: bool = False
) -> bool:
    """Blocks until SIGTERM/SIGINT (RQ finishes the job in hand: Heroku's 30 s grace); in
    burst mode, until the queues are empty. Call from the main thread (signal handlers)."""
    unknown = set(queues) - set(QUEUE_NAMES)
    if unknown:
        raise ValueError(
            f"unknown queue(s): {', '.join(sorted(unknown))}; known: {', '.join(QUEUE_NAMES)}"
        )
    runtime_module.install(rt)
    ordered = [rt.queues[name] for name in sorted(set(queues), key=DEQUEUE_ORDER.index)]
    scheduler = RetryScheduler(ordered, rt.redis)
    if burst:
        scheduler.run_once()
        return new_worker(ordered, rt.redis).work(**_WORK)
    tick = Ticker(rt, rt.settings.scheduler_interval) if ticker else None
    scheduler.start()
    if tick:
        tick.start()
    try:
        return _work_until_stopped(ordered, rt.redis)
    finally:
        scheduler.stop()
        if tick:
            tick.stop()
        scheduler.join(timeout=2)


_WORK: dict[str, Any] = {
    "logging_level": "WARNING",
    "dequeue_strategy": DequeueStrategy.ROUND_ROBIN,
}


def new_worker(queues: Sequence[Queue], connection: Redis) -> Worker:
    return Worker(list(queues), connection=connection)


def _work_until_stopped(queues: Sequence[Queue], connection: Redis) -> bool:
    """RQ's work loop, started again whenever it ends without being asked to stop."""
    stopping = threading.Event()
    worked = False
    delay = RESTART_FIRST
    while True:
        worker = new_worker(queues, connection)
        started = time.monotonic()
        reason = "it quit (see the error above)"
        try:
            worked = worker.work(**_WORK) or worked
        except REDIS_DOWN as exc:
            reason = f"Redis is down ({exc})"
        if worker.shutdown_requested.is_set():
            return worked
        # Between loops RQ's handlers are gone with the loop: a signal just ends the wait.
        for signum in (signal.SIGINT, signal.SIGTERM):
            signal.signal(signum, lambda *_: stopping.set())
        if time.monotonic() - started > RESTART_RESET_AFTER:
            delay = RESTART_FIRST
        log.error("the RQ worker loop ended: %s; starting a new one in %.1fs", reason, delay)
        if stopping.wait(delay) or not wait_for_redis(connection, stopping):
            return worked
        delay = min(delay * 2, RESTART_CAP)
