"""The port through which services ask the workers for work: jobs depend on services, never
the reverse. Every call enqueues now; services call it from `db.after_commit` so a job
never sees rows that were rolled back."""

from __future__ import annotations

from connector import queues
from connector.queues import Queues

INBOX_WAKE = "connector:wake:inbox"
INBOX_RETRY = "connector:wake:inbox:retry"
SEND_WAKE = "connector:wake:send"
WRITEBACK_WAKE = "connector:wake:crm:{}"
RECONCILE_MARK = "connector:reconcile:{}"
CAMPAIGN_WAKE = "connector:wake:campaign:{}"


class Work:
    def __init__(self, queues: Queues) -> None:
        self._queues = queues

    def process_inbox(self, inbox_event_id: int) -> None:
        self._queues.enqueue(queues.PROCESS_INBOX, inbox_event_id)

    def wake_inbox(self) -> bool:
        """One batch run for every inbox row committed since the last one started."""
        return self._queues.wake(queues.PROCESS_INBOX_BATCH, marker=INBOX_WAKE)

    def retry_inbox_in(self, seconds: float) -> bool:
        """Run the inbox again in `seconds`: a CRM could not be read (429, 5xx), its events
        wait that long instead of the sweep's minute. One such run queued at a time."""
        if not self._queues.redis.set(INBOX_RETRY, b"1", nx=True, px=int(seconds * 1000)):
            return False
        self._queues.enqueue_in(seconds, queues.PROCESS_INBOX_BATCH)
        return True

    def inbox_batch_started(self) -> None:
        """Called by the batch job before it looks for rows: a row committed from now on
        wakes a new run."""
        self._queues.redis.delete(INBOX_WAKE)

    def process_engagement(self, engagement_event_id: int) -> None:
        self._queues.enqueue(queues.PROCESS_ENGAGEMENT, engagement_event_id)

    def deliver_message(self, message_id: int) -> None:
        """A ledger row is pending: wake the send job (coalesced, like the inbox); it
        claims every due row in chunks, this one among them."""
        self.wake_send()

    def wake_send(self) -> bool:
        return self._queues.wake(queues.DELIVER_PENDING, marker=SEND_WAKE)

    def send_batch_started(self) -> None:
        """Called by the send job before it claims: a row committed from now on wakes a
        new run."""
        self._queues.redis.delete(SEND_WAKE)

    def advance_campaign(self, campaign_id: int) -> bool:
        """The next chunk of a sending campaign: one queued advance per campaign at a
        time (start, resume, the previous chunk and the scheduler's sweep all ask)."""
        return self._queues.wake(queues.ADVANCE_CAMPAIGN, campaign_id,
                                 marker=CAMPAIGN_WAKE.format(campaign_id))

    def campaign_advance_started(self, campaign_id: int) -> None:
        """Called by the advance before it claims: a later ask queues a new one (which may
        run beside it on another worker)."""
        self._queues.redis.delete(CAMPAIGN_WAKE.format(campaign_id))

    def call_webhook(self, call_id: int) -> None:
        self._queues.enqueue(queues.CALL_WEBHOOK, call_id)

    def flush_writebacks(self, account_id: int) -> bool:
        """Write an account's due CRM writes: one queued run per account at a time (the
        scheduler asks every tick; a run goes on while rows are due)."""
        return self._queues.wake(queues.FLUSH_WRITEBACKS, account_id,
                                 marker=WRITEBACK_WAKE.format(account_id))

    def writeback_started(self, account_id: int) -> None:
        self._queues.redis.delete(WRITEBACK_WAKE.format(account_id))

    def reconcile_crm(self, account_id: int, *, every: float) -> bool:
        """Reconcile an account with its CRM: one queued or running at a time (the scheduler
        asks every tick while it is due). The marker lives until a run completes, else
        `every` seconds: a failed run waits that long for the next. Never retried by RQ."""
        if not self._queues.redis.set(RECONCILE_MARK.format(account_id), b"1", nx=True,
                                      px=max(int(every * 1000), 1)):
            return False
        self._queues.enqueue(queues.RECONCILE_CRM, account_id, retry=None,
                             job_timeout=max(int(every), 600))
        return True

    def reconcile_completed(self, account_id: int) -> None:
        self._queues.redis.delete(RECONCILE_MARK.format(account_id))

    def dispatch_due(self) -> None:
        """A scheduler tick; never retried (the next tick comes anyway)."""
        self._queues.enqueue(queues.DISPATCH_DUE, retry=None)
