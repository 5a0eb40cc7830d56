"""RQ job functions: thin, take ids, idempotent; each calls the service that does the work.

Enqueued by path through `connector.work.Work`, which names each one's queue
(`connector.queues`): nothing in the services imports this module.
"""

from __future__ import annotations

from datetime import datetime

from connector import runtime
from connector.scheduler import tick
from connector.services.campaigns import advance_campaign as advance
from connector.services.engagement import process_engagement as react_to_engagement
from connector.services.outbound import call_webhook as post_webhook
from connector.services.processing import process_inbox_event, process_pending
from connector.services.sending import deliver
from connector.services.sending import deliver_pending as send_pending
from connector.services.sync import reconcile
from connector.services.writeback import flush_writebacks as flush


def process_inbox(inbox_event_id: int) -> None:
    process_inbox_event(runtime.current(), inbox_event_id)


def process_inbox_batch() -> int:
    return process_pending(runtime.current())


def process_engagement(engagement_event_id: int) -> None:
    react_to_engagement(runtime.current(), engagement_event_id)


def deliver_pending() -> int:
    return send_pending(runtime.current())


def deliver_message(message_id: int) -> str:
    """A job queued before sends were chunked (a redeploy with a send backlog)."""
    return deliver(runtime.current(), message_id)


def advance_campaign(campaign_id: int) -> str:
    """One chunk of a sending campaign; returns what became of it."""
    return advance(runtime.current(), campaign_id).outcome


def flush_writebacks(account_id: int) -> int:
    return flush(runtime.current(), account_id)


def reconcile_crm(account_id: int) -> int:
    """The changes the account's CRM did not send (missed webhooks); returns how many were
    new to the inbox."""
    return reconcile(runtime.current(), account_id).stored


def call_webhook(call_id: int) -> str:
    return post_webhook(runtime.current(), call_id)


def dispatch_due(now_iso: str | None = None) -> int:
    rt = runtime.current()
    now = datetime.fromisoformat(now_iso) if now_iso else rt.clock.now()
    return tick(rt, now).advanced
