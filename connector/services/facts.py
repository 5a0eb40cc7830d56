"""Load what the engine may know about a contact (`ContactFacts`) from the database.

Histories are bounded by HISTORY: the rules, goals and caps in use look back at most this
far, and a bounded read keeps one decision well under a millisecond of evaluation.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from sqlalchemy import select
from sqlalchemy.orm import Session

from connector.engine.facts import ContactFacts, EngagementFact, EventFact, SendFact
from connector.models import (
    Contact,
    ContactEvent,
    EngagementEvent,
    ListMembership,
    Message,
    SegmentMembership,
)
from connector.services.contacts import is_suppressed

if TYPE_CHECKING:
    from connector.runtime import Runtime

HISTORY = timedelta(days=400)  # a year of "ordered in the last 365 days", plus slack
MAX_ROWS = 1000  # per history, newest kept


def load_facts(
    session: Session,
    contact: Contact,
    now: datetime,
    *,
    history: timedelta | None = HISTORY,
    transactional_flows: frozenset[str] = frozenset(),
) -> ContactFacts:
    # None: some rule counts over all history ("ordered at least once"): no time limit.
    since = now - history if history is not None else datetime.min.replace(tzinfo=UTC)
    events = session.execute(
        select(ContactEvent.name, ContactEvent.occurred_at, ContactEvent.properties)
        .where(ContactEvent.contact_id == contact.id, ContactEvent.occurred_at >= since)
        .order_by(ContactEvent.occurred_at.desc(), ContactEvent.id.desc())
        .limit(MAX_ROWS)
    ).all()
    engagements = session.execute(
        select(
            EngagementEvent.kind,
            EngagementEvent.occurred_at,
            EngagementEvent.url,
            Message.template,
            Message.flow_key,
            Message.step_id,
        )
        .join(Message, Message.id == EngagementEvent.message_id)
        .where(
            EngagementEvent.contact_id == contact.id,
            EngagementEvent.kind.in_(("open", "click")),
            EngagementEvent.occurred_at >= since,
        )
        .order_by(EngagementEvent.occurred_at.desc(), EngagementEvent.id.desc())
        .limit(MAX_ROWS)
    ).all()
    sends = session.execute(
        select(Message.created_at, Message.flow_key)
        .where(
            Message.contact_id == contact.id,
            Message.created_at >= since,
            Message.status.in_(("pending", "sending", "sent", "uncertain")),
        )
        .order_by(Message.created_at.desc())
        .limit(MAX_ROWS)
    ).all()
    # account_id leads the unique indexes of both tables (and every query is per tenant).
    lists = session.scalars(
        select(ListMembership.list_key).where(
            ListMembership.account_id == contact.account_id,
            ListMembership.contact_id == contact.id,
        )
    ).all()
    segments = session.scalars(
        select(SegmentMembership.segment_key).where(
            SegmentMembership.account_id == contact.account_id,
            SegmentMembership.contact_id == contact.id,
            SegmentMembership.left_at.is_(None),
        )
    ).all()
    return ContactFacts(
        email=contact.email or "",
        suppressed=is_suppressed(session, contact),
        properties=contact.properties,
        contact_id=contact.id,
        timezone=contact.timezone or "UTC",
        created_at=contact.created_at,
        last_active_at=contact.last_active_at,
        events=tuple(EventFact(n, at, p) for n, at, p in reversed(events)),
        engagements=tuple(
            EngagementFact(
                action="click" if kind == "click" else "open",
                at=at,
                template=template,
                flow=flow,
                step=step,
                url=url,
            )
            for kind, at, url, template, flow, step in reversed(engagements)
        ),
        sends=tuple(
            SendFact(at=at, flow=flow, transactional=flow in transactional_flows)
            for at, flow in reversed(sends)
        ),
        lists=frozenset(lists),
        segments=frozenset(segments),
    )


def facts_for(rt: Runtime, session: Session, contact: Contact, now: datetime) -> ContactFacts:
    """The contact's facts as this deployment's rules need them."""
    return load_facts(
        session, contact, now, history=rt.history, transactional_flows=rt.flows.transactional_keys()
    )
