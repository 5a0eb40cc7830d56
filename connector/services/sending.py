"""Deliver one ledger row: suppression check, render, track, transport, record.

At most once (DESIGN §5.3): the row moves pending -> sending in a committed transaction
before the transport is called. A retry finds `sending` and never calls the transport
again; only a row still `pending` (nothing was handed to the transport) is sent.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import parseaddr
from typing import TYPE_CHECKING, Literal

from sqlalchemy import update

from connector.db import rowcount
from connector.email.errors import (
    DeliveryUnknownError,
    PermanentTransportError,
    RetryableTransportError,
    TemplateError,
)
from connector.email.links import add_open_pixel, track_links
from connector.email.merge import message_context
from connector.email.mime import build_message, make_message_id
from connector.models import Contact, Enrollment, Message
from connector.services.contacts import is_suppressed, merge_context
from connector.services.suppressions import suppress
from connector.services.writeback import queue_message_writeback
from connector.tokens import TrackingToken

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from connector.runtime import Runtime

log = logging.getLogger(__name__)

Outcome = Literal["sent", "skipped", "suppressed", "failed", "bounced", "uncertain"]


@dataclass(frozen=True)
class Prepared:
    mime: EmailMessage
    subject: str


def deliver(rt: Runtime, message_id: int) -> Outcome:
    now = rt.clock.now()
    with rt.db.session() as session:
        claimed = rowcount(
            session.execute(
                update(Message)
                .where(Message.id == message_id, Message.status == "pending")
                .values(status="sending", sending_at=now, attempts=Message.attempts + 1)
            )
        )
        if not claimed:
            return "skipped"  # sent, failed, or in flight elsewhere
        message = session.get_one(Message, message_id)
        contact = session.get_one(Contact, message.contact_id)
        if is_suppressed(session, contact):
            message.status = "suppressed"
            return "suppressed"
        try:
            prepared = _prepare(session, rt, message, contact)
        except TemplateError as exc:
            # User content failed: this message fails, readable; the worker carries on.
            message.status, message.error = "failed", str(exc)
            return "failed"
    # Committed as `sending` before the transport call.
    try:
        rt.transport.send(prepared.mime)
    except RetryableTransportError as exc:
        _finish(rt, message_id, status="pending", error=str(exc))
        raise  # RQ retries with backoff; the row is pending again, safe to send
    except DeliveryUnknownError as exc:
        _finish(rt, message_id, status="uncertain", error=str(exc))
        return "uncertain"
    except PermanentTransportError as exc:
        status: Outcome = "bounced" if exc.hard_bounce else "failed"
        with rt.db.session() as session:
            message = session.get_one(Message, message_id)
            message.status, message.error = status, str(exc)
            if exc.hard_bounce:
                suppress(session, message.account_id, message.to_email, "hard_bounce", now)
                queue_message_writeback(session, message, "bounced", now)
        return status
    with rt.db.session() as session:
        message = session.get_one(Message, message_id)
        message.status, message.sent_at, message.error = "sent", now, None
        queue_message_writeback(session, message, "email_sent", now)
    return "sent"


def _prepare(session: Session, rt: Runtime, message: Message, contact: Contact) -> Prepared:
    base = rt.settings.base_url
    public_id = message.public_id

    def url(purpose: str, path: str, link: int = 0) -> str:
        return f"{base}/{path}/{rt.signer.dumps(TrackingToken(purpose, public_id, link))}"

    unsubscribe_url = url("unsubscribe", "u")
    event = None
    if message.enrollment_id is not None:
        enrollment = session.get_one(Enrollment, message.enrollment_id)
        event = enrollment.context.get("event")
    live = rt.workspaces.live(session, message.account_id)
    identity = live.profile.identity
    rendered = live.workspace.templates.render(
        message.template,
        message_context(
            contact=merge_context(contact),
            event=event,
            unsubscribe_url=unsubscribe_url,
            company_name=identity.company_name,
            company_address=identity.company_address,
        ),
    )
    html, links = track_links(rendered.html, lambda index, _url: url("click", "t/c", index))
    html = add_open_pixel(html, url("open", "t/o"))
    subject = message.subject_override or rendered.subject
    sender = message.sender_override or identity.mail_from
    domain = parseaddr(sender)[1].rpartition("@")[2] or "localhost"
    message_id_header = make_message_id(domain)
    mime = build_message(
        sender=sender,
        to=message.to_email,
        subject=subject,
        html=html,
        text=rendered.text,
        message_id=message_id_header,
        unsubscribe_url=unsubscribe_url,
        extra_headers={"Reply-To": identity.reply_to} if identity.reply_to else None,
    )
    message.subject, message.links, message.message_id_header = subject, links, message_id_header
    return Prepared(mime, subject)


def _finish(rt: Runtime, message_id: int, *, status: str, error: str) -> None:
    with rt.db.session() as session:
        session.execute(
            update(Message).where(Message.id == message_id).values(status=status, error=error)
        )
