"""One contact's activity, for the CRM app card: flows, emails, opens and clicks."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from connector.models import Contact, EngagementEvent, Enrollment, Message
from connector.services.contacts import normalize_email

# The newest rows of each kind; a card shows the recent past, not the whole history.
MAX_ROWS = 100


@dataclass(frozen=True)
class EnrollmentActivity:
    flow: str
    state: str
    entered_at: datetime
    finished_at: datetime | None
    exit_reason: str | None


@dataclass(frozen=True)
class MessageActivity:
    id: str  # the message's public id: never a database id
    flow: str | None
    template: str
    subject: str | None
    status: str
    created_at: datetime
    sent_at: datetime | None


@dataclass(frozen=True)
class EngagementActivity:
    kind: str  # open | click | unsubscribe | bounce | ...
    message: str
    template: str
    url: str | None
    occurred_at: datetime


@dataclass(frozen=True)
class ContactActivity:
    contact: Contact
    enrollments: list[EnrollmentActivity]
    messages: list[MessageActivity]
    engagement: list[EngagementActivity]


def find_contact(
    session: Session, account_id: int, *, crm_id: str | None = None, email: str | None = None
) -> Contact | None:
    """The account's contact with this CRM id, else with this email."""
    if crm_id:
        return session.scalar(
            select(Contact).where(Contact.account_id == account_id, Contact.crm_id == crm_id)
        )
    if email:
        return session.scalar(
            select(Contact).where(
                Contact.account_id == account_id, Contact.email == normalize_email(email)
            )
        )
    return None


def contact_activity(session: Session, contact: Contact, limit: int = MAX_ROWS) -> ContactActivity:
    """Newest first, at most `limit` of each kind; every query is scoped to the account."""
    account = contact.account_id
    enrollments = session.scalars(
        select(Enrollment)
        .where(Enrollment.account_id == account, Enrollment.contact_id == contact.id)
        .order_by(Enrollment.entered_at.desc(), Enrollment.id.desc())
        .limit(limit)
    )
    messages = session.scalars(
        select(Message)
        .where(Message.account_id == account, Message.contact_id == contact.id)
        .order_by(Message.created_at.desc(), Message.id.desc())
        .limit(limit)
    )
    engagement = session.execute(
        select(EngagementEvent, Message.public_id, Message.template)
        .join(Message, Message.id == EngagementEvent.message_id)
        .where(EngagementEvent.account_id == account, EngagementEvent.contact_id == contact.id)
        .order_by(EngagementEvent.occurred_at.desc(), EngagementEvent.id.desc())
        .limit(limit)
    )
    return ContactActivity(
        contact=contact,
        enrollments=[
            EnrollmentActivity(e.flow_key, e.state, e.entered_at, e.finished_at, e.exit_reason)
            for e in enrollments
        ],
        messages=[
            MessageActivity(
                m.public_id, m.flow_key, m.template, m.subject, m.status, m.created_at, m.sent_at
            )
            for m in messages
        ],
        engagement=[
            EngagementActivity(event.kind, public_id, template, event.url, event.occurred_at)
            for event, public_id, template in engagement
        ],
    )
