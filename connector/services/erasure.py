"""A contact deleted in the CRM: its flows stop and its personal data is erased, while the
counts stay whole (its emails, opens and clicks remain as anonymous rows, so a flow's or
campaign's figures do not change when a contact leaves).

A plain deletion can be undone in the CRM (HubSpot keeps deleted contacts 90 days): the
row keeps its CRM id, and a restore brings the data back from the CRM. A privacy
deletion (GDPR) also forgets the address on the suppression list and the subjects of the
emails sent to it.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete, or_, select, update
from sqlalchemy.orm import Session

from connector.models import (
    Contact,
    ContactEvent,
    CrmWriteback,
    Enrollment,
    InboxEvent,
    ListMembership,
    Message,
    ScheduledTrigger,
    SegmentMembership,
    Suppression,
)

ERASED = ""  # messages.to_email is required: the address is replaced by nothing


def erase_contact(session: Session, contact: Contact, now: datetime, *, privacy: bool) -> None:
    email = contact.email
    _stop_flows(session, contact, now)
    inbox_ids = select(ContactEvent.inbox_event_id).where(ContactEvent.contact_id == contact.id)
    entered_by = select(Enrollment.inbox_event_id).where(Enrollment.contact_id == contact.id)
    session.execute(
        update(InboxEvent)
        .where(or_(InboxEvent.id.in_(inbox_ids), InboxEvent.id.in_(entered_by)))
        .values(payload={})
        .execution_options(synchronize_session=False)
    )
    session.execute(
        update(ContactEvent).where(ContactEvent.contact_id == contact.id).values(properties={})
        .execution_options(synchronize_session=False)
    )
    session.execute(
        update(Enrollment).where(Enrollment.contact_id == contact.id).values(context={})
        .execution_options(synchronize_session=False)
    )
    erased_message = {"to_email": ERASED, "error": None}
    if privacy:
        erased_message["subject"] = None
    session.execute(
        update(Message).where(Message.contact_id == contact.id).values(**erased_message)
        .execution_options(synchronize_session=False)
    )
    session.execute(delete(ListMembership).where(ListMembership.contact_id == contact.id))
    if privacy and email:
        session.execute(delete(Suppression).where(Suppression.account_id == contact.account_id,
                                                  Suppression.email == email))
    contact.email = None
    contact.properties = {}
    contact.timezone = None
    contact.deleted_at = now
    contact.updated_at = now


def _stop_flows(session: Session, contact: Contact, now: datetime) -> None:
    session.execute(
        update(Enrollment)
        .where(Enrollment.contact_id == contact.id, Enrollment.state == "active")
        .values(state="exited", exit_reason="contact deleted in the CRM", finished_at=now,
                next_run_at=None, lease_until=None, lease_owner=None, waiting_for=None)
        .execution_options(synchronize_session=False)
    )
    # Emails not handed to the transport yet are not sent; CRM writes about it are moot.
    session.execute(
        update(Message)
        .where(Message.contact_id == contact.id, Message.status == "pending")
        .values(status="suppressed", error="contact deleted in the CRM")
        .execution_options(synchronize_session=False)
    )
    session.execute(
        update(CrmWriteback)
        .where(CrmWriteback.contact_id == contact.id, CrmWriteback.status == "pending")
        .values(status="failed", last_error="contact deleted in the CRM")
        .execution_options(synchronize_session=False)
    )
    session.execute(delete(ScheduledTrigger).where(ScheduledTrigger.contact_id == contact.id))
    session.execute(
        update(SegmentMembership)
        .where(SegmentMembership.contact_id == contact.id, SegmentMembership.left_at.is_(None))
        .values(left_at=now, recheck_at=None)
        .execution_options(synchronize_session=False)
    )
