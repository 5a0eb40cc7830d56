"""RQ queues by role, and the jobs that run on them. Redis holds only transport state:
every job is re-derivable from the database (the scheduler re-enqueues what a Redis flush
lost)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any, NamedTuple

from redis import Redis
from rq import Queue, Retry

QUEUE_NAMES = ("events", "send", "crm", "scheduler")

# Transient failures (SMTP 4xx, CRM 429) are retried by RQ; the ledger keeps retries safe.
DEFAULT_RETRY = Retry(max=5, interval=[2, 10, 60, 300, 900])

WAKE_MARKER_MS = 5000


class Job(NamedTuple):
    """A job function by import path (RQ imports it in the worker; nothing here imports
    the jobs, so services can enqueue without depending on them) and the one queue it
    runs on."""

    function: str
    queue: str


PROCESS_INBOX = Job("connector.jobs.process_inbox", "events")
PROCESS_INBOX_BATCH = Job("connector.jobs.process_inbox_batch", "events")
PROCESS_ENGAGEMENT = Job("connector.jobs.process_engagement", "events")
DELIVER_PENDING = Job("connector.jobs.deliver_pending", "send")
# Only jobs queued before sends were chunked are still this one; nothing enqueues it now.
DELIVER_MESSAGE = Job("connector.jobs.deliver_message", "send")
# On the send queue, one chunk per job and one queued per campaign: a flow email waits
# for at most one campaign chunk (the send claim takes flow rows first as well).
ADVANCE_CAMPAIGN = Job("connector.jobs.advance_campaign", "send")
CALL_WEBHOOK = Job("connector.jobs.call_webhook", "crm")
FLUSH_WRITEBACKS = Job("connector.jobs.flush_writebacks", "crm")
RECONCILE_CRM = Job("connector.jobs.reconcile_crm", "crm")
DISPATCH_DUE = Job("connector.jobs.dispatch_due", "scheduler")

JOBS = (
    PROCESS_INBOX,
    PROCESS_INBOX_BATCH,
    PROCESS_ENGAGEMENT,
    DELIVER_PENDING,
    DELIVER_MESSAGE,
    ADVANCE_CAMPAIGN,
    CALL_WEBHOOK,
    FLUSH_WRITEBACKS,
    RECONCILE_CRM,
    DISPATCH_DUE,
)


class Queues:
    def __init__(self, redis: Redis) -> None:
        self.redis = redis
        self.by_name = {name: Queue(name, connection=redis) for name in QUEUE_NAMES}

    def __getitem__(self, name: str) -> Queue:
        return self.by_name[name]

    def all(self) -> list[Queue]:
        return list(self.by_name.values())

    def wake(self, job: Job, *args: Any, marker: str) -> bool:
        """Enqueue `job` unless a run of it is already queued and not yet started.

        The hot path's coalesced wake-up: one SET NX per request instead of one job per
        request. The job deletes `marker` BEFORE it looks for work, so a row committed
        after it looked always finds either a fresh job or a queued one. The expiry only
        covers a lost job (the scheduler's recovery covers the rest).
        """
        if not self.redis.set(marker, b"1", nx=True, px=WAKE_MARKER_MS):
            return False
        self.enqueue(job, *args)
        return True

    def enqueue_in(self, seconds: float, job: Job, *args: Any) -> None:
        """Enqueue `job` after `seconds` (RQ's scheduler, which every worker runs, moves it
        into its queue then)."""
        self.by_name[job.queue].enqueue_in(
            timedelta(seconds=seconds), job.function, *args, retry=DEFAULT_RETRY,
            result_ttl=0, failure_ttl=7 * 24 * 3600,
        )

    def enqueue(self, job: Job, *args: Any, **options: Any) -> None:
        options.setdefault("retry", DEFAULT_RETRY)
        options.setdefault("result_ttl", 0)
        options.setdefault("failure_ttl", 7 * 24 * 3600)
        self.by_name[job.queue].enqueue(job.function, *args, **options)
