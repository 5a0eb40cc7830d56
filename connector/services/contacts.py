"""The contact mirror: upserts by email or CRM id, and the facts the engine needs."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from adapters.registry import opt_out_properties
from connector.models import Contact, ListMembership, Suppression

# CRM opt-out flags honoured before every send (DESIGN §5.4), named by each adapter.
OPT_OUT_PROPERTIES = opt_out_properties()


def normalize_email(email: str | None) -> str | None:
    return email.strip().lower() if email else None


@dataclass(frozen=True)
class Upsert:
    contact: Contact
    created: bool
    # property -> (old, new) for every property whose value changed (not on creation)
    changes: dict[str, tuple[Any, Any]]


def upsert_contact(
    session: Session,
    account_id: int,
    *,
    email: str | None,
    crm_id: str | None,
    properties: dict[str, Any],
    now: datetime,
    timezone: str | None = None,
) -> Upsert:
    """Find the contact by CRM id or email (in that order) and merge properties."""
    email = normalize_email(email)
    keys = []
    if crm_id:
        keys.append(Contact.crm_id == crm_id)
    if email:
        keys.append(Contact.email == email)
    if not keys:
        raise ValueError("a contact needs an email or a crm_id")
    candidates = session.scalars(
        select(Contact).where(Contact.account_id == account_id, or_(*keys))
    ).all()
    contact = next((c for c in candidates if crm_id and c.crm_id == crm_id), None) or next(
        iter(candidates), None
    )
    if contact is None:
        contact = Contact(
            account_id=account_id,
            email=email,
            crm_id=crm_id,
            properties=dict(properties),
            timezone=timezone,
            created_at=now,
            updated_at=now,
        )
        session.add(contact)
        session.flush()
        return Upsert(contact, True, {})
    old = contact.properties
    changes = {k: (old.get(k), v) for k, v in properties.items() if old.get(k) != v}
    if changes:
        contact.properties = {**old, **properties}
    contact.email = contact.email or email
    contact.crm_id = contact.crm_id or crm_id
    contact.timezone = timezone or contact.timezone
    contact.updated_at = now
    return Upsert(contact, False, changes)


def is_suppressed(session: Session, contact: Contact) -> bool:
    return is_opted_out(contact) or bool(suppressed_emails(session, [contact]))


def is_opted_out(contact: Contact) -> bool:
    """A CRM opt-out flag, or no address to send to."""
    return opt_out_reason(contact) is not None


def opt_out_reason(contact: Contact) -> str | None:
    if not contact.email:
        return "no email address"
    if any(_truthy(contact.properties.get(name)) for name in OPT_OUT_PROPERTIES):
        return "opted out in the CRM"
    return None


def suppressed_emails(session: Session, contacts: Sequence[Contact]) -> dict[tuple[int, str], str]:
    """(account, email) -> the suppression's reason, for these contacts' listed addresses."""
    emails = {c.email for c in contacts if c.email}
    if not emails:
        return {}
    rows = session.execute(
        select(Suppression.account_id, Suppression.email, Suppression.reason).where(
            Suppression.account_id.in_({c.account_id for c in contacts}),
            Suppression.email.in_(emails),
        )
    )
    return {(account_id, email): reason for account_id, email, reason in rows}


def merge_context(contact: Contact) -> dict[str, Any]:
    """What templates see as `contact`: CRM properties plus email and crm_id."""
    return {**contact.properties, "email": contact.email, "crm_id": contact.crm_id}


def _truthy(value: object) -> bool:
    return value is True or (isinstance(value, str) and value.strip().lower() == "true")


def join_lists(session: Session, contact: Contact, lists: list[str], now: datetime) -> None:
    """Add the contact to static lists it is not in yet."""
    if not lists:
        return
    present = set(
        session.scalars(
            select(ListMembership.list_key).where(
                ListMembership.account_id == contact.account_id,
                ListMembership.contact_id == contact.id,
            )
        )
    )
    for key in dict.fromkeys(lists):
        if key not in present:
            session.add(
                ListMembership(
                    account_id=contact.account_id, contact_id=contact.id, list_key=key, added_at=now
                )
            )
