"""The effects of a CRM's contact events (adapters.inbound kinds, from any CRM's
normalizer) on the contact mirror: one small handler per kind, in the caller's transaction.

Each returns the contact to react for and the signals to react with, or None when there
is nothing to react to (a deleted contact, a REDACTED value, a contact the CRM no longer
has). Records the CRM was asked for come in `fetched` (services/crm_fetch.py).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from adapters.inbound import (
    CONTACT_CHANGED,
    CONTACT_CREATED,
    CONTACT_DELETED,
    CONTACT_IMPORTED,
    CONTACT_MERGED,
    CONTACT_RESTORED,
    CONTACT_SYNCED,
)
from adapters.port import CrmContact
from connector.engine.entry import Signal
from connector.models import Account, Contact, InboxEvent, Suppression
from connector.services.contacts import Upsert, normalize_email, upsert_contact
from connector.services.crm_fetch import Fetched
from connector.services.erasure import erase_contact
from connector.services.merging import merge_contacts
from connector.services.suppressions import suppress

CRM_OPT_OUT = "opted out in the CRM"  # also the exit reason flows show
CRM_BOUNCED = "bounced in the CRM"
CRM_REASONS = (CRM_OPT_OUT, CRM_BOUNCED)


@dataclass(frozen=True)
class Change:
    contact: Contact
    signals: list[Signal] = field(default_factory=list)
    start_flows: bool = True  # False: a backfill fills the mirror and segments only


class NotYet(Exception):
    """The record this event needs could not be read now: leave the event for later."""


Handler = Callable[[Session, InboxEvent, Fetched, datetime], Change | None]


def apply_crm_event(session: Session, event: InboxEvent, fetched: Fetched, now: datetime
                    ) -> Change | None:
    if event.account_id in fetched.retry_later:
        raise NotYet(event.kind)
    if event.account_id in fetched.unavailable:
        event.error = fetched.unavailable[event.account_id]
        return None
    return HANDLERS[event.kind](session, event, fetched, now)


def find_by_crm_id(session: Session, account_id: int, crm_id: str) -> Contact | None:
    """The mirror row of a CRM id, following merges to the contact it lives on now."""
    contact = session.scalar(
        select(Contact).where(Contact.account_id == account_id, Contact.crm_id == crm_id)
    )
    seen: set[int] = set()
    while contact is not None and contact.merged_into_id is not None and contact.id not in seen:
        seen.add(contact.id)
        contact = session.get(Contact, contact.merged_into_id)
    return contact


def _created(session: Session, event: InboxEvent, fetched: Fetched, now: datetime
             ) -> Change | None:
    crm_id = str(event.payload["crm_id"])
    record = _record(event, fetched, crm_id)
    if record is None:
        return None  # gone from the CRM already (deleted or merged away)
    if record.merged_into:
        return _converted(session, event.account_id, record.crm_id, record.merged_into, now)
    existing = find_by_crm_id(session, event.account_id, crm_id)
    if existing is not None and existing.deleted_at is not None:
        return None
    upsert = _upsert(session, event.account_id, record, now)
    signals = [Signal(kind="contact.created")] if upsert.created else []
    return Change(upsert.contact, signals + _changed_signals(upsert.changes))


def _changed(session: Session, event: InboxEvent, fetched: Fetched, now: datetime
             ) -> Change | None:
    data = event.payload
    crm_id = str(data["crm_id"])
    if "value" not in data:
        return None  # REDACTED: a sensitive value HubSpot does not show; never stored
    contact = find_by_crm_id(session, event.account_id, crm_id)
    if contact is not None and contact.deleted_at is not None:
        return None
    name, value = str(data["property"]), data["value"]
    if contact is None:
        record = _record(event, fetched, crm_id)
        if record is None:
            return None
        upsert = _upsert(session, event.account_id, record, now)
        # First seen through this change: it is that change, not a new contact.
        return Change(upsert.contact, [_property_signal(name, None, record.properties.get(name))])
    upsert = upsert_contact(session, event.account_id, email=None, crm_id=contact.crm_id,
                            properties={name: value}, now=now)
    email = normalize_email(value) if name == "email" and isinstance(value, str) else None
    if email and "@" in email and not _email_taken(session, contact, email):
        contact.email = email
    return Change(upsert.contact, _changed_signals(upsert.changes))


def _merged(session: Session, event: InboxEvent, fetched: Fetched, now: datetime
            ) -> Change | None:
    winner_id = str(event.payload["crm_id"])
    losers = [str(i) for i in event.payload.get("merged", []) if str(i) != winner_id]
    record = _record(event, fetched, winner_id)
    contacts = [find_by_crm_id(session, event.account_id, i) for i in [winner_id, *losers]]
    present = list(dict.fromkeys(c for c in contacts if c is not None and c.deleted_at is None))
    if not present and record is None:
        return None
    winner = merge_contacts(session, present, winner_crm_id=winner_id, now=now)
    if record is None:
        return Change(winner) if winner is not None else None
    upsert = _upsert(session, event.account_id, record, now)
    return Change(upsert.contact, _changed_signals(upsert.changes))


def _deleted(session: Session, event: InboxEvent, fetched: Fetched, now: datetime
             ) -> Change | None:
    contact = find_by_crm_id(session, event.account_id, str(event.payload["crm_id"]))
    if contact is not None:
        erase_contact(session, contact, now, privacy=bool(event.payload.get("privacy")))
    return None


def _restored(session: Session, event: InboxEvent, fetched: Fetched, now: datetime
              ) -> Change | None:
    crm_id = str(event.payload["crm_id"])
    record = _record(event, fetched, crm_id)
    contact = find_by_crm_id(session, event.account_id, crm_id)
    if record is None:
        return None
    if record.merged_into:
        return _converted(session, event.account_id, record.crm_id, record.merged_into, now)
    if contact is not None and contact.deleted_at is not None:
        contact.deleted_at = None  # its data was erased: it comes back from the CRM
    upsert = _upsert(session, event.account_id, record, now)
    return Change(upsert.contact, _changed_signals(upsert.changes))


def _synced(session: Session, event: InboxEvent, fetched: Fetched, now: datetime
            ) -> Change | None:
    """A reconciliation read the contact: what its missed webhooks would have done."""
    record = record_from(event.payload)
    if record.merged_into:
        return _converted(session, event.account_id, record.crm_id, record.merged_into, now)
    upsert = _upsert_unless_deleted(session, event.account_id, record, now)
    if upsert is None:
        return None
    # New to the mirror: created in the CRM since we were installed (its creation webhook
    # was lost), or older (first seen now): only the former is a new contact.
    account = session.get(Account, event.account_id)
    new = (upsert.created and record.created_at is not None and account is not None
           and record.created_at >= account.created_at)
    signals = [Signal(kind="contact.created")] if new else []
    return Change(upsert.contact, signals + _changed_signals(upsert.changes))


def _imported(session: Session, event: InboxEvent, fetched: Fetched, now: datetime
              ) -> Change | None:
    """A backfill read the contact: the mirror and segments learn it, no flow starts."""
    record = record_from(event.payload)
    if record.merged_into:
        change = _converted(session, event.account_id, record.crm_id, record.merged_into, now)
        return Change(change.contact, [], start_flows=False) if change is not None else None
    upsert = _upsert_unless_deleted(session, event.account_id, record, now)
    return Change(upsert.contact, [], start_flows=False) if upsert is not None else None


def _converted(session: Session, account_id: int, crm_id: str, into: str, now: datetime
               ) -> Change | None:
    """The record became another (a Lead converted to a Contact): its mirror row, with
    its history and enrollments, joins the one it became (services/merging.py: no flow
    step is sent twice). The old record's own fields are not applied (the Lead is closed);
    the new one's arrive with its own record. Nothing to react to."""
    rows = [find_by_crm_id(session, account_id, i) for i in (into, crm_id)]
    present = list(dict.fromkeys(c for c in rows if c is not None and c.deleted_at is None))
    winner = merge_contacts(session, present, winner_crm_id=into, now=now)
    return Change(winner) if winner is not None else None


def _upsert_unless_deleted(session: Session, account_id: int, record: CrmContact,
                           now: datetime) -> Upsert | None:
    contact = find_by_crm_id(session, account_id, record.crm_id)
    if contact is not None and contact.deleted_at is not None:
        return None
    return _upsert(session, account_id, record, now)


def record_data(record: CrmContact) -> dict[str, Any]:
    """A CRM record as an inbox event's data (a sync stores what it read)."""
    return {
        "crm_id": record.crm_id,
        "email": record.email,
        "properties": record.properties,
        "opted_out": record.opted_out,
        "updated_at": record.updated_at.isoformat() if record.updated_at else None,
        "created_at": record.created_at.isoformat() if record.created_at else None,
        **({"bounced": True} if record.bounced else {}),
        **({"merged_into": record.merged_into} if record.merged_into else {}),
    }


def record_from(data: dict[str, Any]) -> CrmContact:
    def at(value: Any) -> datetime | None:
        return datetime.fromisoformat(value) if value else None

    return CrmContact(
        crm_id=str(data["crm_id"]), email=data.get("email"),
        properties=dict(data.get("properties") or {}), opted_out=bool(data.get("opted_out")),
        updated_at=at(data.get("updated_at")), created_at=at(data.get("created_at")),
        bounced=bool(data.get("bounced")),
        merged_into=str(data["merged_into"]) if data.get("merged_into") else None,
    )


HANDLERS: dict[str, Handler] = {
    CONTACT_CREATED: _created,
    CONTACT_CHANGED: _changed,
    CONTACT_MERGED: _merged,
    CONTACT_DELETED: _deleted,
    CONTACT_RESTORED: _restored,
    CONTACT_SYNCED: _synced,
    CONTACT_IMPORTED: _imported,
}
KINDS = frozenset(HANDLERS)


def _record(event: InboxEvent, fetched: Fetched, crm_id: str) -> CrmContact | None:
    if not fetched.has(event.account_id, crm_id):
        raise NotYet(f"{event.kind}: the CRM record of {crm_id} was not read")
    return fetched.record(event.account_id, crm_id)


def _upsert(session: Session, account_id: int, record: CrmContact, now: datetime) -> Upsert:
    upsert = upsert_contact(session, account_id, email=record.email, crm_id=record.crm_id,
                            properties=record.properties, now=now)
    email = normalize_email(record.email)
    contact = upsert.contact
    if email and contact.email != email and not _email_taken(session, contact, email):
        contact.email = email  # the CRM's address wins (it changed there)
    if contact.email:
        _crm_flags(session, contact.account_id, contact.email, record, now)
    return upsert


def _crm_flags(session: Session, account_id: int, email: str, record: CrmContact,
               now: datetime) -> None:
    """The CRM's "do not email" and "bounced" flags as a suppression (checked before every
    send; the opt-out wins when both are set); a flag the CRM lifts is lifted here too, and
    no other kind of suppression (an unsubscribe, our own bounce) is touched."""
    wanted = CRM_OPT_OUT if record.opted_out else CRM_BOUNCED if record.bounced else None
    session.execute(delete(Suppression).where(
        Suppression.account_id == account_id, Suppression.email == email,
        Suppression.reason.in_([r for r in CRM_REASONS if r != wanted]),
    ))
    if wanted is not None:
        suppress(session, account_id, email, wanted, now)


def _email_taken(session: Session, contact: Contact, email: str) -> bool:
    return session.scalar(
        select(Contact.id).where(Contact.account_id == contact.account_id,
                                 Contact.email == email, Contact.id != contact.id)
    ) is not None


def _changed_signals(changes: dict[str, tuple[Any, Any]]) -> list[Signal]:
    return [_property_signal(name, old, new) for name, (old, new) in changes.items()]


def _property_signal(name: str, old: Any, new: Any) -> Signal:
    return Signal(kind="property.changed", name=name, properties={"from": old, "to": new})
