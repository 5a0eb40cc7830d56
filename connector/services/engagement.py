"""What recipients do: opens, clicks, unsubscribes. Each is stored, fed back to the CRM
outbox, and (for unsubscribes) honoured from the next send on. Opens and clicks are also
behaviour: a job feeds them to the flows ("clicked email A -> send email B").

Every open and click is recorded; one a machine made (a privacy proxy's prefetch, a link
scanner: connector/engine/machine.py) is flagged and goes no further: no CRM write-back,
no flow reaction, no activity. A scanner's click must not send "email B"."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from sqlalchemy import select
from sqlalchemy.orm import Session

from connector.db import Database, after_commit
from connector.engine.entry import Signal
from connector.engine.machine import (
    DEFAULT_THRESHOLDS,
    HUMAN,
    Hit,
    Machine,
    Thresholds,
    Verdict,
    classify,
    is_burst,
)
from connector.models import CampaignRun, Contact, EngagementEvent, Message
from connector.services.enrollments import run_now
from connector.services.facts import facts_for
from connector.services.reactions import react
from connector.services.suppressions import suppress
from connector.services.writeback import queue_message_writeback

if TYPE_CHECKING:
    from connector.runtime import Runtime


class UnknownMessage(LookupError):
    """A well-signed token whose message no longer exists (deleted account)."""


@dataclass(frozen=True)
class Click:
    url: str


def record_open(
    rt: Runtime,
    public_id: str,
    now: datetime,
    *,
    user_agent: str,
    thresholds: Thresholds = DEFAULT_THRESHOLDS,
) -> None:
    with rt.db.session() as session:
        message = _message(session, public_id)
        verdict = classify(Hit("open", user_agent, _since_sent(message, now)), thresholds)
        row = _record(session, message, "open", now, verdict=verdict)
        if verdict == HUMAN:
            _react_later(rt, session, row)
            # Reps need to know it was opened, not how many times: one write-back per message.
            queue_message_writeback(session, message, "email_opened", now,
                                    campaign=_campaign_name(session, message))


def record_click(
    rt: Runtime,
    public_id: str,
    link: int,
    now: datetime,
    *,
    user_agent: str,
    thresholds: Thresholds = DEFAULT_THRESHOLDS,
) -> Click:
    """Returns the original link of that email; an index it never had is refused."""
    with rt.db.session() as session:
        # Locked: a scanner fetches the links in parallel, and each click must see the
        # ones before it to tell a burst.
        message = _message(session, public_id, lock=True)
        if not 0 <= link < len(message.links):
            raise UnknownMessage("that link is not in this email")
        url = message.links[link]
        recent = _clicks_since(session, message, now - thresholds.burst)
        others = len({e.link for e in recent} - {link})
        hit = Hit("click", user_agent, _since_sent(message, now), others)
        verdict = classify(hit, thresholds)
        if is_burst(others, thresholds):
            _flag_burst(recent)
        row = _record(session, message, "click", now, url=url, link=link, verdict=verdict)
        if verdict == HUMAN:
            _react_later(rt, session, row)
            queue_message_writeback(session, message, "email_clicked", now, link=link, url=url,
                                    campaign=_campaign_name(session, message))
    return Click(url)


def process_engagement(rt: Runtime, engagement_event_id: int) -> list[int]:
    """The events worker's side of an open or click: activity, segments, triggers, wake-ups."""
    now = rt.clock.now()
    with rt.db.session() as session:
        engagement = session.get(EngagementEvent, engagement_event_id, with_for_update=True)
        if engagement is None or engagement.processed_at is not None:
            return []
        engagement.processed_at = now
        if engagement.machine:
            return []  # a burst that began with it was seen after it was recorded
        message = session.get_one(Message, engagement.message_id)
        contact = session.get_one(Contact, engagement.contact_id)
        if contact.last_active_at is None or contact.last_active_at < engagement.occurred_at:
            contact.last_active_at = engagement.occurred_at
        signal = Signal(
            kind="engagement",
            properties={
                "action": engagement.kind,
                "template": message.template,
                "flow": message.flow_key,
                "step": message.step_id,
                "campaign": _campaign_key(session, message),
                "url": engagement.url,
            },
        )
        facts = facts_for(rt, session, contact, now)
        to_run = react(rt, session, contact, facts, [signal], now)
    run_now(rt, to_run, now)
    return to_run


def unsubscribe(db: Database, public_id: str, now: datetime) -> str:
    """Suppress the recipient in this account; returns the address for the page."""
    with db.session() as session:
        message = _message(session, public_id)
        if suppress(session, message.account_id, message.to_email, "unsubscribed", now):
            _record(session, message, "unsubscribe", now)
            queue_message_writeback(session, message, "unsubscribed", now)
        return message.to_email


def _campaign_key(session: Session, message: Message) -> str | None:
    """The key of the campaign that sent this email (None for a flow's email), which an
    engagement trigger's `campaign:` matches."""
    if message.campaign_id is None:
        return None
    return session.get_one(CampaignRun, message.campaign_id).key


def _campaign_name(session: Session, message: Message) -> str | None:
    """The name reps know the campaign by (None for a flow's email), for the CRM write-back."""
    if message.campaign_id is None:
        return None
    return session.get_one(CampaignRun, message.campaign_id).name


def _message(session: Session, public_id: str, *, lock: bool = False) -> Message:
    query = select(Message).where(Message.public_id == public_id)
    message = session.scalar(query.with_for_update() if lock else query)
    if message is None:
        raise UnknownMessage("no such message")
    return message


def _since_sent(message: Message, now: datetime) -> timedelta | None:
    return now - message.sent_at if message.sent_at is not None else None


def _clicks_since(session: Session, message: Message, since: datetime) -> list[EngagementEvent]:
    return list(session.scalars(
        select(EngagementEvent).where(
            EngagementEvent.message_id == message.id,
            EngagementEvent.kind == "click",
            EngagementEvent.occurred_at > since,
        )
    ))


def _flag_burst(clicks: list[EngagementEvent]) -> None:
    """The clicks that began a burst were counted as human when they came; they are not.
    One the flows already reacted to stays reacted to (docs/engagement.md: limits)."""
    for click in clicks:
        if not click.machine:
            click.machine, click.machine_reason = True, "link-burst"


def _react_later(rt: Runtime, session: Session, engagement: EngagementEvent) -> None:
    session.flush()
    engagement_id = engagement.id
    after_commit(session, lambda: rt.work.process_engagement(engagement_id))


def _record(
    session: Session,
    message: Message,
    kind: str,
    now: datetime,
    url: str | None = None,
    link: int | None = None,
    verdict: Verdict = HUMAN,
) -> EngagementEvent:
    reason = verdict.reason if isinstance(verdict, Machine) else None
    row = EngagementEvent(
        account_id=message.account_id,
        contact_id=message.contact_id,
        message_id=message.id,
        kind=kind,
        url=url,
        link=link,
        occurred_at=now,
        machine=reason is not None,
        machine_reason=reason,
        # Nothing for the flows to react to: processed as it is recorded.
        processed_at=now if reason is not None else None,
    )
    session.add(row)
    return row
