"""What recipients do: opens, clicks, unsubscribes. Each is stored, fed back to the CRM
outbox, and (for unsubscribes) honoured from the next send on."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from connector.db import Database
from connector.models import EngagementEvent, Message
from connector.services.suppressions import suppress
from connector.services.writeback import queue_message_writeback


class UnknownMessage(LookupError):
    """A well-signed token whose message no longer exists (deleted account)."""


@dataclass(frozen=True)
class Click:
    url: str


def record_open(db: Database, public_id: str, now: datetime) -> None:
    with db.session() as session:
        message = _message(session, public_id)
        _record(session, message, "open", now)
        # Reps need to know it was opened, not how many times: one write-back per message.
        queue_message_writeback(session, message, "email_opened", now)


def record_click(db: Database, public_id: str, link: int, now: datetime) -> Click:
    """Returns the original link of that email; an index it never had is refused."""
    with db.session() as session:
        message = _message(session, public_id)
        if not 0 <= link < len(message.links):
            raise UnknownMessage("that link is not in this email")
        url = message.links[link]
        _record(session, message, "click", now, url=url)
        queue_message_writeback(session, message, "email_clicked", now, link=link, url=url)
    return Click(url)


def unsubscribe(db: Database, public_id: str, now: datetime) -> str:
    """Suppress the recipient in this account; returns the address for the page."""
    with db.session() as session:
        message = _message(session, public_id)
        if suppress(session, message.account_id, message.to_email, "unsubscribed", now):
            _record(session, message, "unsubscribe", now)
            queue_message_writeback(session, message, "unsubscribed", now)
        return message.to_email


def _message(session: Session, public_id: str) -> Message:
    message = session.scalar(select(Message).where(Message.public_id == public_id))
    if message is None:
        raise UnknownMessage("no such message")
    return message


def _record(
    session: Session, message: Message, kind: str, now: datetime, url: str | None = None
) -> None:
    session.add(
        EngagementEvent(
            account_id=message.account_id,
            contact_id=message.contact_id,
            message_id=message.id,
            kind=kind,
            url=url,
            occurred_at=now,
        )
    )
