"""Deliver one ledger row: suppression check, render, track, transport, record.

At most once (DESIGN §5.3): the row moves pending -> sending in a committed transaction
before the transport is called. A retry finds `sending` and never calls the transport
again; only a row still `pending` (nothing was handed to the transport) is sent.
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass
from datetime import datetime
from email.message import EmailMessage
from email.utils import parseaddr
from typing import TYPE_CHECKING, Literal

from sqlalchemy import update
from sqlalchemy.exc import SQLAlchemyError

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
        record_outcome(rt, message_id, Recorded("pending", str(exc)), now)
        raise  # RQ retries with backoff; the row is pending again, safe to send
    except DeliveryUnknownError as exc:
        record_outcome(rt, message_id, Recorded("uncertain", str(exc)), now)
        return "uncertain"
    except PermanentTransportError as exc:
        if exc.hard_bounce:
            record_outcome(rt, message_id, Recorded("bounced", str(exc), "bounced"), now)
            return "bounced"
        record_outcome(rt, message_id, Recorded("failed", str(exc)), now)
        return "failed"
    except Exception as exc:
        # Not one of the transport's own errors: whether bytes reached the server is not
        # known, so at most once wins, visibly.
        log.exception("message %s: unexpected transport error", message_id)
        record_outcome(rt, message_id, Recorded("uncertain", f"{type(exc).__name__}: {exc}"),
                       now)
        return "uncertain"
    record_outcome(rt, message_id, Recorded("sent", None, "email_sent"), now)
    return "sent"


@dataclass(frozen=True)
class Recorded:
    """What became of a transport call: the row's new status, why, the CRM write-back."""

    status: str
    error: str | None
    writeback: str | None = None

    def as_json(self) -> str:
        return json.dumps({"status": self.status, "error": self.error,
                           "writeback": self.writeback})


RECORD_ATTEMPTS = 6  # 0.1 + 0.2 + ... + 1.6 s: a database failover, a dropped connection
OUTCOME_KEY = "connector:outcome:{}"
OUTCOME_TTL = 7 * 24 * 3600


def record_outcome(rt: Runtime, message_id: int, outcome: Recorded, now: datetime) -> None:
    """Record what the transport did, with retries of its own: the email went out (or
    not) whatever happens to the database connection now. Should the database stay away,
    the outcome waits in Redis for the scheduler's sweep (`recover_outcomes`)."""
    for attempt in range(RECORD_ATTEMPTS):
        try:
            with rt.db.session() as session:
                apply_outcome(session, message_id, outcome, now)
            return
        except SQLAlchemyError:
            log.warning("message %s: recording %r failed (attempt %d)", message_id,
                        outcome.status, attempt + 1, exc_info=True)
            time.sleep(0.1 * 2**attempt)
    try:
        rt.redis.set(OUTCOME_KEY.format(message_id), outcome.as_json(), ex=OUTCOME_TTL)
        log.error("message %s: %r kept in Redis for the sweep", message_id, outcome.status)
    except Exception:
        log.exception("message %s: %r could not be recorded anywhere; it will be marked "
                      "uncertain", message_id, outcome.status)


def apply_outcome(session: Session, message_id: int, outcome: Recorded, now: datetime) -> None:
    """Idempotent: only a row still `sending` changes (a retry whose first commit did reach
    the database finds it recorded already)."""
    message = session.get_one(Message, message_id)
    if message.status != "sending":
        return
    message.status, message.error = outcome.status, outcome.error
    if outcome.status == "sent":
        message.sent_at = now
    if outcome.status == "bounced":
        suppress(session, message.account_id, message.to_email, "hard_bounce", now)
    if outcome.writeback:
        queue_message_writeback(session, message, outcome.writeback, now)


def recover_outcomes(rt: Runtime, session: Session, message_ids: list[int], now: datetime
                     ) -> int:
    """Apply the outcomes `record_outcome` had to leave in Redis; returns how many."""
    if not message_ids:
        return 0
    keys = [OUTCOME_KEY.format(i) for i in message_ids]
    applied = 0
    for message_id, raw in zip(message_ids, rt.redis.mget(keys), strict=True):
        if raw is None:
            continue
        data = json.loads(raw)
        apply_outcome(session, message_id,
                      Recorded(data["status"], data["error"], data["writeback"]), now)
        applied += 1
    if applied:
        session.flush()
        rt.redis.delete(*keys)
    return applied


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
