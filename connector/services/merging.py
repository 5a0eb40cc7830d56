"""Two CRM contacts became one (a HubSpot merge, a Salesforce lead conversion): the mirror
keeps one row, keyed by the winner's CRM id, and everything of the others moves to it:
enrollments, emails and their engagement, behaviour history, lists, write-backs.

No double sends: where both made the same entry into a flow (a flow entered once), the
enrollment that finished, or else the one that entered first, goes on and the other exits
("merged"). The others stay as tombstones (no email, no properties,
`merged_into_id` set) so a late event for their old CRM ids finds the winner.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from connector.models import (
    Contact,
    ContactEvent,
    CrmWriteback,
    EngagementEvent,
    Enrollment,
    ListMembership,
    Message,
    ScheduledTrigger,
    SegmentMembership,
)

MOVED = (Message, EngagementEvent, ContactEvent, CrmWriteback)


def merge_contacts(session: Session, contacts: Sequence[Contact], *, winner_crm_id: str,
                   now: datetime) -> Contact | None:
    """Fold `contacts` into the one keyed `winner_crm_id` (or the first, re-keyed to it);
    returns the winner."""
    if not contacts:
        return None
    winner = next((c for c in contacts if c.crm_id == winner_crm_id), contacts[0])
    losers = [c for c in contacts if c.id != winner.id]
    properties: dict[str, object] = {}
    for loser in losers:
        properties.update(loser.properties)
        if loser.last_active_at is not None and (
            winner.last_active_at is None or loser.last_active_at > winner.last_active_at
        ):
            winner.last_active_at = loser.last_active_at
        _move(session, loser, winner, now)
        _tombstone(loser, winner, now)
    session.flush()  # the losers' emails and CRM ids are free before the winner takes them
    winner.crm_id = winner_crm_id
    winner.properties = {**properties, **winner.properties}
    winner.updated_at = now
    return winner


def _move(session: Session, loser: Contact, winner: Contact, now: datetime) -> None:
    for model in MOVED:
        session.execute(
            update(model).where(model.contact_id == loser.id).values(contact_id=winner.id)
            .execution_options(synchronize_session=False)
        )
    _move_enrollments(session, loser, winner, now)
    winner_lists = set(session.scalars(
        select(ListMembership.list_key).where(ListMembership.contact_id == winner.id)
    ))
    for membership in session.scalars(
        select(ListMembership).where(ListMembership.contact_id == loser.id)
    ):
        if membership.list_key in winner_lists:
            session.delete(membership)
        else:
            membership.contact_id = winner.id
    # Segments and time triggers are the winner's to recompute (react does, after this).
    session.execute(delete(SegmentMembership).where(SegmentMembership.contact_id == loser.id))
    session.execute(delete(ScheduledTrigger).where(ScheduledTrigger.contact_id == loser.id))


def _move_enrollments(session: Session, loser: Contact, winner: Contact, now: datetime) -> None:
    """The same entry into the same flow on both (a flow entered once): one goes on."""
    theirs = {
        (e.flow_key, e.entry_key): e
        for e in session.scalars(select(Enrollment).where(Enrollment.contact_id == winner.id))
    }
    for enrollment in session.scalars(
        select(Enrollment).where(Enrollment.contact_id == loser.id).order_by(Enrollment.id)
    ).all():
        twin = theirs.get((enrollment.flow_key, enrollment.entry_key))
        if twin is not None:
            keep = _survivor(twin, enrollment)
            for pair in (twin, enrollment):
                if pair is not keep and pair.state == "active":
                    _exit(pair, now)
            enrollment.entry_key = f"merged:{enrollment.id}"
        enrollment.contact_id = winner.id


def _survivor(first: Enrollment, second: Enrollment) -> Enrollment:
    """A finished one wins (it already sent what the flow sends), else the one that
    entered first."""
    for candidate in (first, second):
        if candidate.state == "completed":
            return candidate
    return min(first, second, key=lambda e: (e.entered_at, e.id))


def _exit(enrollment: Enrollment, now: datetime) -> None:
    enrollment.state = "exited"
    enrollment.exit_reason = "merged"
    enrollment.finished_at = now
    enrollment.next_run_at = None
    enrollment.lease_until = enrollment.lease_owner = None


def _tombstone(loser: Contact, winner: Contact, now: datetime) -> None:
    loser.email = None
    loser.properties = {}
    loser.timezone = None
    loser.deleted_at = now
    loser.merged_into_id = winner.id
    loser.updated_at = now
