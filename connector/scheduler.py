"""The scheduler tick: due enrollment steps in batches, plus recovery of whatever work
Redis lost (the database is the source of truth, DESIGN §5.1).

One `dispatch_due` job handles a batch; there is never one Redis job per future step.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError
from sqlalchemy import and_, or_, select, update

from connector.models import EngagementEvent, InboxEvent, Message, WebhookCall
from connector.queues import DISPATCH_DUE
from connector.services.campaigns import start_due_campaigns, wake_sending_campaigns
from connector.services.enrollments import run_claimed
from connector.services.leases import claim
from connector.services.schedules import fire_due_triggers, recheck_segments
from connector.services.sending import recover_outcomes
from connector.services.sync import accounts_due_for_reconcile
from connector.services.writeback import accounts_with_due_writebacks

if TYPE_CHECKING:
    from connector.runtime import Runtime

log = logging.getLogger(__name__)

BATCH = 500
# Work older than this with no effect yet is assumed lost from Redis and re-enqueued.
# Re-enqueueing is safe: every job is idempotent (inbox processed_at, ledger status).
STALE_AFTER = timedelta(seconds=60)
# A row left `sending` this long had its worker die during the transport call. Whether the
# server accepted it is unknowable; at most once wins, so it is marked, never re-sent.
SENDING_TIMEOUT = timedelta(minutes=10)
TICK_LOCK = "connector:scheduler:tick"


@dataclass(frozen=True)
class TickReport:
    advanced: int
    sends_queued: int
    triggers_fired: int
    segments_rechecked: int
    requeued: int
    reconciles_queued: int = 0
    campaigns_woken: int = 0  # scheduled ones started, sending ones given an advance


def tick(rt: Runtime, now: datetime, *, batch: int = BATCH) -> TickReport:
    """Advance up to `batch` due enrollments and re-enqueue stale work."""
    token, ids = claim(rt.db, now, limit=batch)
    sends = run_claimed(rt, ids, token, now) if ids else 0
    # Each phase is independent: one failing (a bad row, a bug) must not stop the others,
    # least of all the recovery of lost work.
    fired = _guarded("scheduled triggers", fire_due_triggers, rt, now, limit=batch)
    rechecked = _guarded("segment rechecks", recheck_segments, rt, now, limit=batch)
    requeued = _guarded("recovery", requeue_lost_work, rt, now)
    reconciles = _guarded("CRM reconciliation", queue_reconciliations, rt, now)
    campaigns = _guarded("scheduled campaigns", start_due_campaigns, rt, now)
    campaigns += _guarded("campaign advances", wake_sending_campaigns, rt, now)
    return TickReport(
        advanced=len(ids),
        sends_queued=sends,
        triggers_fired=fired,
        segments_rechecked=rechecked,
        requeued=requeued,
        reconciles_queued=reconciles,
        campaigns_woken=campaigns,
    )


def _guarded(what: str, phase: Callable[..., int], *args: Any, **kwargs: Any) -> int:
    try:
        return phase(*args, **kwargs)
    except Exception:
        log.exception("scheduler: %s failed this tick", what)
        return 0


def queue_reconciliations(rt: Runtime, now: datetime) -> int:
    """A reconciliation for each connected CRM account whose watermark is an interval old
    (it heals missed webhooks); one per account at a time (Work.reconcile_crm)."""
    every = rt.settings.crm_reconcile_every
    with rt.db.session() as session:
        due = accounts_due_for_reconcile(session, now, timedelta(seconds=every))
    return sum(rt.work.reconcile_crm(account_id, every=every) for account_id in due)


def requeue_lost_work(rt: Runtime, now: datetime) -> int:
    stale = now - STALE_AFTER
    with rt.db.session() as session:
        inbox = session.scalars(
            select(InboxEvent.id)
            .where(InboxEvent.processed_at.is_(None), InboxEvent.received_at < stale)
            .limit(BATCH)
        ).all()
        # A pending row whose wake-up Redis lost, or whose backoff (an SMTP 4xx) is over.
        pending = session.scalars(
            select(Message.id)
            .where(
                Message.status == "pending",
                or_(
                    and_(Message.next_attempt_at.is_(None), Message.created_at < stale),
                    Message.next_attempt_at <= now,
                ),
            )
            .limit(BATCH)
        ).all()
        engagements = session.scalars(
            select(EngagementEvent.id)
            .where(
                EngagementEvent.processed_at.is_(None),
                EngagementEvent.kind.in_(("open", "click")),
                EngagementEvent.occurred_at < stale,
            )
            .limit(BATCH)
        ).all()
        webhooks = session.scalars(
            select(WebhookCall.id)
            .where(
                WebhookCall.status == "pending",
                WebhookCall.next_attempt_at <= now,
                WebhookCall.created_at < stale,
            )
            .limit(BATCH)
        ).all()
        accounts = accounts_with_due_writebacks(session, now)
        in_flight = session.scalars(
            select(Message.id)
            .where(Message.status == "sending", Message.sending_at < stale)
            .limit(BATCH)
        ).all()
        recover_outcomes(rt, session, list(in_flight), now)
        session.execute(
            update(Message)
            .where(Message.status == "sending", Message.sending_at < now - SENDING_TIMEOUT)
            .values(
                status="uncertain",
                error="no outcome recorded: the worker died (or lost the database) during "
                "the transport call; not re-sent (at most once)",
            )
        )
    for inbox_id in inbox:
        rt.work.process_inbox(inbox_id)
    if pending:
        rt.work.wake_send()  # one send job claims them all, in chunks
    for engagement_id in engagements:
        rt.work.process_engagement(engagement_id)
    for call_id in webhooks:
        rt.work.call_webhook(call_id)
    for account_id in accounts:
        rt.work.flush_writebacks(account_id)
    return len(inbox) + len(pending) + len(engagements) + len(webhooks)


class Ticker(threading.Thread):
    """Enqueues `dispatch_due` every interval. A Redis lock lets one ticker in the whole
    deployment win each interval, however many workers run it, and no tick is enqueued
    while one is still waiting in its queue: ticks never pile up behind a backlog (one
    queued tick does all the due work there is when it runs)."""

    def __init__(self, rt: Runtime, interval: float) -> None:
        super().__init__(name="scheduler-ticker", daemon=True)
        self.rt, self.interval = rt, interval
        self.stopped = threading.Event()

    def run(self) -> None:
        redis_down = False
        while not self.stopped.wait(self.interval):
            try:
                self._tick()
                if redis_down:
                    log.warning("scheduler ticks resume: Redis is back")
                redis_down = False
            except (RedisConnectionError, RedisTimeoutError) as exc:
                if not redis_down:  # once per outage, not a traceback every interval
                    log.warning("scheduler ticks wait for Redis (%s)", exc)
                redis_down = True
            except Exception:
                log.exception("scheduler tick could not be enqueued; retrying next interval")

    def _tick(self) -> None:
        if self.rt.queues[DISPATCH_DUE.queue].count:
            return  # the scheduler queue holds nothing but ticks: one is waiting already
        lock_ms = max(int(self.interval * 1000), 100)
        if self.rt.redis.set(TICK_LOCK, "1", nx=True, px=lock_ms):
            self.rt.work.dispatch_due()

    def stop(self) -> None:
        self.stopped.set()
