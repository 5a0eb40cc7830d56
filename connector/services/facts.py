"""Load what the engine may know about a contact (`ContactFacts`) from the database.

Histories are bounded by HISTORY: the rules, goals and caps in use look back at most this
far, and a bounded read keeps one decision well under a millisecond of evaluation.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from connector.engine.facts import HISTORY, ContactFacts, EngagementFact, EventFact, SendFact
from connector.models import (
    Contact,
    ContactEvent,
    EngagementEvent,
    ListMembership,
    Message,
    SegmentMembership,
)
from connector.services.contacts import is_opted_out, opt_out_reason, suppressed_emails

if TYPE_CHECKING:
    from connector.runtime import Runtime

MAX_ROWS = 1000  # per history, newest kept


def load_facts(
    session: Session,
    contact: Contact,
    now: datetime,
    *,
    history: timedelta | None = HISTORY,
    transactional_flows: frozenset[str] = frozenset(),
) -> ContactFacts:
    return load_facts_many(
        session, [contact], now, history=history, transactional_flows=transactional_flows
    )[contact.id]


def load_facts_many(
    session: Session,
    contacts: Sequence[Contact],
    now: datetime,
    *,
    history: timedelta | None = HISTORY,
    transactional_flows: frozenset[str] = frozenset(),
) -> dict[int, ContactFacts]:
    """Facts for several contacts with one query per kind of fact (the scheduler loads a
    whole chunk of due enrollments at once); each history keeps its newest MAX_ROWS."""
    if not contacts:
        return {}
    ids = [c.id for c in contacts]
    # None: some rule counts over all history ("ordered at least once"): no time limit.
    since = now - history if history is not None else datetime.min.replace(tzinfo=UTC)
    events = _newest(
        session,
        ContactEvent,
        ContactEvent.occurred_at,
        ids,
        since,
        ContactEvent.name,
        ContactEvent.occurred_at,
        ContactEvent.properties,
    )
    engagements = _newest(
        session,
        EngagementEvent,
        EngagementEvent.occurred_at,
        ids,
        since,
        EngagementEvent.kind,
        EngagementEvent.occurred_at,
        EngagementEvent.url,
        Message.template,
        Message.flow_key,
        Message.step_id,
        join=(Message, Message.id == EngagementEvent.message_id),
        where=EngagementEvent.kind.in_(("open", "click")),
    )
    sends = _newest(
        session,
        Message,
        Message.created_at,
        ids,
        since,
        Message.created_at,
        Message.flow_key,
        where=Message.status.in_(("pending", "sending", "sent", "uncertain")),
    )
    accounts = {c.account_id for c in contacts}
    lists = _grouped(
        session.execute(
            select(ListMembership.contact_id, ListMembership.list_key).where(
                ListMembership.account_id.in_(accounts), ListMembership.contact_id.in_(ids)
            )
        )
    )
    segments = _grouped(
        session.execute(
            select(SegmentMembership.contact_id, SegmentMembership.segment_key).where(
                SegmentMembership.account_id.in_(accounts),
                SegmentMembership.contact_id.in_(ids),
                SegmentMembership.left_at.is_(None),
            )
        )
    )
    suppressed = suppressed_emails(session, contacts)
    return {
        c.id: ContactFacts(
            email=c.email or "",
            suppressed=is_opted_out(c) or (c.account_id, c.email) in suppressed,
            suppressed_because=opt_out_reason(c)
            or suppressed.get((c.account_id, c.email or ""), "unsubscribed"),
            properties=c.properties,
            contact_id=c.id,
            timezone=c.timezone or "UTC",
            created_at=c.created_at,
            last_active_at=c.last_active_at,
            events=tuple(EventFact(n, at, p) for n, at, p in events.get(c.id, ())),
            engagements=tuple(
                EngagementFact(
                    action="click" if kind == "click" else "open",
                    at=at,
                    template=template,
                    flow=flow,
                    step=step,
                    url=url,
                )
                for kind, at, url, template, flow, step in engagements.get(c.id, ())
            ),
            sends=tuple(
                SendFact(at=at, flow=flow, transactional=flow in transactional_flows)
                for at, flow in sends.get(c.id, ())
            ),
            lists=frozenset(row[0] for row in lists.get(c.id, ())),
            segments=frozenset(row[0] for row in segments.get(c.id, ())),
        )
        for c in contacts
    }


def _newest(
    session: Session,
    model: Any,
    at: Any,
    ids: list[int],
    since: datetime,
    *columns: Any,
    join: tuple[Any, Any] | None = None,
    where: Any = None,
) -> dict[int, list[tuple[Any, ...]]]:
    """Per contact, the newest MAX_ROWS rows since `since`, returned oldest first."""
    rank = (
        func.row_number()
        .over(partition_by=model.contact_id, order_by=(at.desc(), model.id.desc()))
        .label("rank")
    )
    query = select(model.contact_id, model.id, *columns, rank).where(
        model.contact_id.in_(ids), at >= since
    )
    if join is not None:
        query = query.join(*join)
    if where is not None:
        query = query.where(where)
    ranked = query.subquery()
    rows = session.execute(
        select(*ranked.c)
        .where(ranked.c.rank <= MAX_ROWS)
        .order_by(ranked.c.contact_id, ranked.c[at.key], ranked.c.id)
    ).all()
    grouped: dict[int, list[tuple[Any, ...]]] = defaultdict(list)
    for row in rows:
        grouped[row[0]].append(tuple(row[2:-1]))
    return grouped


def _grouped(rows: Any) -> dict[int, list[tuple[Any, ...]]]:
    grouped: dict[int, list[tuple[Any, ...]]] = defaultdict(list)
    for contact_id, *rest in rows:
        grouped[contact_id].append(tuple(rest))
    return grouped


def facts_for(rt: Runtime, session: Session, contact: Contact, now: datetime) -> ContactFacts:
    """The contact's facts as its account's rules need them."""
    workspace = rt.workspaces.live(session, contact.account_id).workspace
    return load_facts(
        session,
        contact,
        now,
        history=workspace.history,
        transactional_flows=workspace.transactional_keys,
    )
