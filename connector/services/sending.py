"""The send worker: pending ledger rows in chunks, over the transport's one connection.

At most once (DESIGN §5.3): a chunk's rows move pending -> sending in a committed
transaction before the transport is called. Only a row still `pending` (nothing was
handed to the transport) is ever sent; a row left `sending` is never sent again.

A chunk is three short transactions whatever its size: the claim (with the chunk's
contacts, trigger events and suppressions, DESIGN §5.4), the rendered subjects, links and
Message-IDs (kept before the send, for the tracking of an email whose outcome is lost),
and the outcomes. Rendering and the transport calls run with no transaction open. A
template error fails its own message; an SMTP 4xx puts its own message back to `pending`
with a `next_attempt_at` and the chunk moves on: nothing sleeps in the worker.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from email.message import EmailMessage
from email.utils import parseaddr
from typing import TYPE_CHECKING, Any, Literal

from sqlalchemy import or_, select, update
from sqlalchemy.exc import SQLAlchemyError

from connector.email.errors import (
    DeliveryUnknownError,
    PermanentTransportError,
    RetryableTransportError,
    TemplateError,
)
from connector.email.merge import message_context
from connector.email.mime import build_message, make_message_id
from connector.models import CampaignRun, Contact, Enrollment, Message
from connector.services.contacts import is_opted_out, merge_context, suppressed_emails
from connector.services.suppressions import suppress
from connector.services.writeback import (
    MessageWriteback,
    campaign_names,
    queue_message_writebacks,
)
from connector.tokens import TrackingToken

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from connector.runtime import Runtime
    from connector.workspaces.live import Live

log = logging.getLogger(__name__)

Outcome = Literal[
    "sent", "skipped", "suppressed", "failed", "bounced", "uncertain", "deferred"
]

# Messages per chunk. SQLite has one writer: its claim transaction stays short.
CHUNK = 50
CHUNK_SQLITE = 20
# A send job hands the worker back after this many (and wakes a successor), so the other
# queues are served under a send backlog (round robin, docs/architecture.md).
PER_JOB = 1000
# SMTP 4xx (greylisting, a full mailbox, a server busy): the next attempt of that message,
# by attempts made; after the last one it fails with the server's reply.
BACKOFF = (10, 60, 300, 900, 3600)
# How much of the text body the CRM timeline entry carries.
TIMELINE_TEXT_MAX = 4000


@dataclass(frozen=True)
class Recorded:
    """What became of a transport call: the row's new status, why, the CRM write-back,
    and for a row back to `pending` when to try again."""

    status: str
    error: str | None
    writeback: str | None = None
    next_attempt_at: datetime | None = None
    text: str = ""  # the text body, for the CRM timeline (the row does not keep it)

    def as_json(self) -> str:
        at = self.next_attempt_at.isoformat() if self.next_attempt_at else None
        return json.dumps({"status": self.status, "error": self.error,
                           "writeback": self.writeback, "next_attempt_at": at,
                           "text": self.text})

    @classmethod
    def from_json(cls, raw: str | bytes) -> Recorded:
        data = json.loads(raw)
        at = data.get("next_attempt_at")
        return cls(data["status"], data["error"], data["writeback"],
                   datetime.fromisoformat(at) if at else None, data.get("text", ""))


@dataclass
class _Claimed:
    message: Message
    contact: Contact
    event: Any
    live: Live
    utm: Mapping[str, str] = field(default_factory=dict)  # a campaign's, for its links
    text: str = ""  # set by _prepare


@dataclass
class _Chunk:
    claimed: list[_Claimed] = field(default_factory=list)
    outcomes: dict[int, Outcome] = field(default_factory=dict)


def deliver_pending(rt: Runtime, *, limit: int = PER_JOB) -> int:
    """Send pending messages, oldest first, chunk by chunk, until none is due (or `limit`
    were claimed: then a successor job is woken). Returns how many were claimed."""
    rt.work.send_batch_started()  # before looking: see Queues.wake
    size = CHUNK_SQLITE if rt.db.is_sqlite else CHUNK
    done = 0
    while done < limit:
        outcomes = _deliver_chunk(rt, min(size, limit - done))
        done += len(outcomes)
        if not outcomes:
            return done
    rt.work.wake_send()
    return done


def deliver(rt: Runtime, message_id: int) -> Outcome:
    """One message, the way a chunk sends it (tests, and jobs queued before chunks)."""
    return _deliver_chunk(rt, 1, message_ids=[message_id]).get(message_id, "skipped")


def deliver_messages(rt: Runtime, message_ids: Collection[int]) -> dict[int, Outcome]:
    """Exactly these messages (those still pending and due) as one chunk over one
    connection: a campaign's advance sends the rows it has just written."""
    if not message_ids:
        return {}
    return _deliver_chunk(rt, len(message_ids), message_ids=message_ids)


def _deliver_chunk(rt: Runtime, size: int, *, message_ids: Collection[int] | None = None
                   ) -> dict[int, Outcome]:
    now = rt.clock.now()
    chunk = _claim(rt, now, size, message_ids)
    if not chunk.claimed:
        return chunk.outcomes
    prepared: list[tuple[_Claimed, EmailMessage]] = []
    rendered: list[dict[str, Any]] = []
    failed: dict[int, str] = {}
    for item in chunk.claimed:
        try:
            mime, fields = _prepare(rt, item)
        except TemplateError as exc:
            # User content failed: this message fails, readable; the chunk carries on.
            failed[item.message.id] = str(exc)
            continue
        except Exception as exc:  # an address build_message refuses, say
            failed[item.message.id] = f"cannot build the message: {exc}"
            continue
        prepared.append((item, mime))
        rendered.append({"id": item.message.id, **fields})
    with rt.db.session() as session:  # committed before the transport call
        if rendered:
            session.execute(update(Message), rendered)
        if failed:
            session.execute(update(Message), [
                {"id": failed_id, "status": "failed", "error": reason}
                for failed_id, reason in failed.items()
            ])
    chunk.outcomes.update(dict.fromkeys(failed, "failed"))
    recorded: dict[int, Recorded] = {}
    unreachable: str | None = None
    for item, mime in prepared:
        message = item.message
        if unreachable is not None:  # not attempted: the server is not there right now
            recorded[message.id] = _retry_later(message, unreachable, now)
            continue
        outcome, connection_failed = _send(rt, message, mime, now)
        recorded[message.id] = replace(outcome, text=item.text) if outcome.writeback else outcome
        if connection_failed:
            unreachable = outcome.error
    record_outcomes(rt, recorded, now)
    for message_id_, outcome in recorded.items():
        chunk.outcomes[message_id_] = _OUTCOME_OF.get(outcome.status, "failed")
    return chunk.outcomes


_OUTCOME_OF: dict[str, Outcome] = {
    "sent": "sent", "pending": "deferred", "uncertain": "uncertain", "bounced": "bounced",
    "failed": "failed",
}


def _claim(rt: Runtime, now: datetime, size: int, message_ids: Collection[int] | None
           ) -> _Chunk:
    """Claim up to `size` due pending rows (FOR UPDATE SKIP LOCKED: two workers take
    disjoint chunks) and load what rendering them needs; suppressed ones end here.

    Flow rows first: a campaign's rows are its advance job's to send (a chunk each), and
    the send job only takes those left over (an SMTP 4xx retry, an advance that died)
    once no flow email waits behind them."""
    due = (
        select(Message.id)
        .where(Message.status == "pending",
               or_(Message.next_attempt_at.is_(None), Message.next_attempt_at <= now))
        .limit(size)
        .with_for_update(skip_locked=True)
    )
    if message_ids is not None:
        due = due.where(Message.id.in_(message_ids)).order_by(Message.id)
    else:
        due = due.order_by(Message.campaign_id.is_not(None), Message.id)
    chunk = _Chunk()
    with rt.db.session() as session:
        ids = session.scalars(
            update(Message)
            .where(Message.id.in_(due.scalar_subquery()))
            .values(status="sending", sending_at=now, attempts=Message.attempts + 1)
            .returning(Message.id)
            .execution_options(synchronize_session=False)
        ).all()
        if not ids:
            return chunk
        messages = session.scalars(
            select(Message).where(Message.id.in_(ids)).order_by(Message.id)
        ).all()
        contacts = {c.id: c for c in session.scalars(
            select(Contact).where(Contact.id.in_({m.contact_id for m in messages})))}
        enrollment_ids = {m.enrollment_id for m in messages if m.enrollment_id is not None}
        contexts: dict[int, dict[str, Any]] = {
            enrollment_id: context for enrollment_id, context in session.execute(
                select(Enrollment.id, Enrollment.context)
                .where(Enrollment.id.in_(enrollment_ids)))
        } if enrollment_ids else {}
        # Suppression right before the send (DESIGN §5.4), for the whole chunk at once.
        suppressed = suppressed_emails(session, list(contacts.values()))
        utms = _campaign_utms(session, {m.campaign_id for m in messages})
        lives: dict[int, Live] = {}
        for message in messages:
            contact = contacts[message.contact_id]
            if is_opted_out(contact) or (contact.account_id, contact.email) in suppressed:
                message.status = "suppressed"
                chunk.outcomes[message.id] = "suppressed"
                continue
            if message.account_id not in lives:
                lives[message.account_id] = rt.workspaces.live(session, message.account_id)
            context = contexts.get(message.enrollment_id) if message.enrollment_id else None
            chunk.claimed.append(_Claimed(message, contact, (context or {}).get("event"),
                                          lives[message.account_id],
                                          utms.get(message.campaign_id, {})))
    return chunk


def _campaign_utms(session: Session, campaign_ids: set[int | None]
                   ) -> dict[int | None, dict[str, str]]:
    """The UTM parameters of the campaigns these messages belong to (fixed at start)."""
    ids = {i for i in campaign_ids if i is not None}
    if not ids:
        return {}
    return {campaign_id: dict(plan.get("utm") or {}) for campaign_id, plan in session.execute(
        select(CampaignRun.id, CampaignRun.plan).where(CampaignRun.id.in_(ids)))}


def _send(rt: Runtime, message: Message, mime: EmailMessage, now: datetime
          ) -> tuple[Recorded, bool]:
    """One transport call: what it did, as the outcome to record, and whether the server
    could not be reached at all (no reply code: the rest of the chunk waits too)."""
    try:
        rt.transport.send(mime)
    except RetryableTransportError as exc:
        return _retry_later(message, str(exc), now), exc.smtp_code is None
    except DeliveryUnknownError as exc:
        return Recorded("uncertain", str(exc)), False
    except PermanentTransportError as exc:
        if exc.hard_bounce:
            return Recorded("bounced", str(exc), "bounced"), False
        return Recorded("failed", str(exc), "email_failed"), False
    except Exception as exc:
        # Not one of the transport's own errors: whether bytes reached the server is not
        # known, so at most once wins, visibly.
        log.exception("message %s: unexpected transport error", message.id)
        return Recorded("uncertain", f"{type(exc).__name__}: {exc}"), False
    return Recorded("sent", None, "email_sent"), False


def _retry_later(message: Message, reason: str, now: datetime) -> Recorded:
    """Back to `pending` after the backoff of its attempts so far (the claim counted this
    one), or failed once they are used up."""
    if message.attempts > len(BACKOFF):
        return Recorded("failed", f"gave up after {message.attempts} attempts: {reason}")
    delay = timedelta(seconds=BACKOFF[max(message.attempts, 1) - 1])
    return Recorded("pending", reason, next_attempt_at=now + delay)


RECORD_ATTEMPTS = 6  # 0.1 + 0.2 + ... + 1.6 s: a database failover, a dropped connection
OUTCOME_KEY = "connector:outcome:{}"
OUTCOME_TTL = 7 * 24 * 3600


def record_outcomes(rt: Runtime, outcomes: dict[int, Recorded], now: datetime) -> None:
    """Record what the transport did, in one transaction, with retries of its own: the
    emails went out (or not) whatever happens to the database connection now. Should the
    database stay away, the outcomes wait in Redis for the scheduler's sweep
    (`recover_outcomes`)."""
    if not outcomes:
        return
    for attempt in range(RECORD_ATTEMPTS):
        try:
            with rt.db.session() as session:
                apply_outcomes(session, outcomes, now)
            return
        except SQLAlchemyError:
            log.warning("recording %d outcome(s) failed (attempt %d)", len(outcomes),
                        attempt + 1, exc_info=True)
            time.sleep(0.1 * 2**attempt)
    try:
        rt.redis.mset({OUTCOME_KEY.format(i): o.as_json() for i, o in outcomes.items()})
        for message_id in outcomes:
            rt.redis.expire(OUTCOME_KEY.format(message_id), OUTCOME_TTL)
        log.error("%d outcome(s) kept in Redis for the sweep", len(outcomes))
    except Exception:
        log.exception("messages %s: outcomes could not be recorded anywhere; they will be "
                      "marked uncertain", sorted(outcomes))


def apply_outcomes(session: Session, outcomes: Mapping[int, Recorded], now: datetime) -> None:
    """Idempotent: only a row still `sending` changes (a retry whose first commit did reach
    the database finds it recorded already). One query loads the rows, one flush updates
    them, one statement queues their CRM write-backs."""
    with session.no_autoflush:
        messages = session.scalars(select(Message).where(
            Message.id.in_(list(outcomes)), Message.status == "sending")).all()
        names = campaign_names(session, messages)
        writebacks = []
        for message in messages:
            outcome = outcomes[message.id]
            message.status, message.error = outcome.status, outcome.error
            message.next_attempt_at = outcome.next_attempt_at
            if outcome.status == "sent":
                message.sent_at = now
            if outcome.status == "bounced":
                suppress(session, message.account_id, message.to_email, "hard_bounce", now)
            if outcome.writeback:
                writebacks.append(MessageWriteback(
                    message, outcome.writeback, text=outcome.text,
                    campaign=names.get(message.campaign_id or 0)))
        queue_message_writebacks(session, writebacks, now)


def recover_outcomes(rt: Runtime, session: Session, message_ids: list[int], now: datetime
                     ) -> int:
    """Apply the outcomes `record_outcomes` had to leave in Redis; returns how many."""
    if not message_ids:
        return 0
    keys = [OUTCOME_KEY.format(i) for i in message_ids]
    kept = {message_id: Recorded.from_json(raw)
            for message_id, raw in zip(message_ids, rt.redis.mget(keys), strict=True)
            if raw is not None}
    if kept:
        apply_outcomes(session, kept, now)
        session.flush()
        rt.redis.delete(*keys)
    return len(kept)


def _prepare(rt: Runtime, item: _Claimed) -> tuple[EmailMessage, dict[str, Any]]:
    """The MIME message, and the columns it sets on the row (subject, links, Message-ID)."""
    message, live = item.message, item.live
    base = rt.settings.base_url
    public_id = message.public_id

    def url(purpose: str, path: str, link: int = 0) -> str:
        return f"{base}/{path}/{rt.signer.dumps(TrackingToken(purpose, public_id, link))}"

    unsubscribe_url = url("unsubscribe", "u")
    identity = live.profile.identity
    rendered = live.workspace.templates.render_tracked(
        message.template,
        message_context(
            contact=merge_context(item.contact),
            event=item.event,
            unsubscribe_url=unsubscribe_url,
            company_name=identity.company_name,
            company_address=identity.company_address,
        ),
        click=lambda index, _url: url("click", "t/c", index),
        pixel=url("open", "t/o"),
        utm=item.utm,
    )
    links = rendered.links
    subject = message.subject_override or rendered.subject
    sender = message.sender_override or identity.mail_from
    domain = parseaddr(sender)[1].rpartition("@")[2] or "localhost"
    message_id_header = make_message_id(domain)
    mime = build_message(
        sender=sender,
        to=message.to_email,
        subject=subject,
        html=rendered.html,
        text=rendered.text,
        message_id=message_id_header,
        unsubscribe_url=unsubscribe_url,
        extra_headers={"Reply-To": identity.reply_to} if identity.reply_to else None,
    )
    message.subject, message.links, message.message_id_header = subject, links, message_id_header
    item.text = rendered.text[:TIMELINE_TEXT_MAX]
    return mime, {"subject": subject, "links": links, "message_id_header": message_id_header}
