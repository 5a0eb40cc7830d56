"""Load what the engine may know about a contact (`ContactFacts`) from the database.

Histories are bounded by HISTORY: the rules, goals and caps in use look back at most this
far, and a bounded read keeps one decision well under a millisecond of evaluation.
"""

from __future__ import annotations

import functools
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import BindParameter, Executable, and_, bindparam, func, select
from sqlalchemy.orm import Session

from connector.engine.facts import HISTORY, ContactFacts, EngagementFact, EventFact, SendFact
from connector.models import (
    CampaignRun,
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
    accounts = sorted({c.account_id for c in contacts})
    statements = _statements()
    histories = {"ids": ids, "since": since, "limit": MAX_ROWS}
    events = _ranked(session.execute(statements.events, histories))
    engagements = _ranked(session.execute(statements.engagements, histories))
    sends = _ranked(session.execute(statements.sends, histories))
    memberships = {"ids": ids, "accounts": accounts}
    lists = _grouped(session.execute(statements.lists, memberships))
    segments = _grouped(session.execute(statements.segments, memberships))
    suppressed = suppressed_emails(session, contacts)
    return {
        c.id: ContactFacts(
            email=c.email or "",
            suppressed=is_opted_out(c) or (c.account_id, c.email) in suppressed,
            # Our own record first (an unsubscribe, a bounce), then the CRM's flag.
            suppressed_because=suppressed.get((c.account_id, c.email or ""))
            or opt_out_reason(c) or "unsubscribed",
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
                    campaign=campaign,
                    url=url,
                )
                for kind, at, url, template, flow, step, campaign
                in engagements.get(c.id, ())
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


@dataclass(frozen=True)
class _Statements:
    events: Executable
    engagements: Executable
    sends: Executable
    lists: Executable
    segments: Executable


@functools.cache
def _statements() -> _Statements:
    """Built once: constructing a statement (and its cache key) cost three times what
    running it did, and facts are loaded for every event and every due step."""
    ids: BindParameter[int] = bindparam("ids", expanding=True)
    accounts: BindParameter[int] = bindparam("accounts", expanding=True)
    return _Statements(
        events=_newest(
            ContactEvent,
            ContactEvent.occurred_at,
            ContactEvent.name,
            ContactEvent.occurred_at,
            ContactEvent.properties,
        ),
        engagements=_newest(
            EngagementEvent,
            EngagementEvent.occurred_at,
            EngagementEvent.kind,
            EngagementEvent.occurred_at,
            EngagementEvent.url,
            Message.template,
            Message.flow_key,
            Message.step_id,
            # The campaign's key, as engagement rules name it (NULL for a flow's email).
            select(CampaignRun.key).where(CampaignRun.id == Message.campaign_id)
            .scalar_subquery().label("campaign"),
            join=(Message, Message.id == EngagementEvent.message_id),
            # A person's only: a privacy proxy's prefetch or a scanner's click is no fact.
            where=and_(EngagementEvent.kind.in_(("open", "click")),
                       EngagementEvent.machine.is_(False)),
        ),
        sends=_newest(
            Message,
            Message.created_at,
            Message.created_at,
            Message.flow_key,
            where=Message.status.in_(("pending", "sending", "sent", "uncertain")),
        ),
        lists=select(ListMembership.contact_id, ListMembership.list_key).where(
            ListMembership.account_id.in_(accounts), ListMembership.contact_id.in_(ids)
        ),
        segments=select(SegmentMembership.contact_id, SegmentMembership.segment_key).where(
            SegmentMembership.account_id.in_(accounts),
            SegmentMembership.contact_id.in_(ids),
            SegmentMembership.left_at.is_(None),
        ),
    )


def _newest(
    model: Any,
    at: Any,
    *columns: Any,
    join: tuple[Any, Any] | None = None,
    where: Any = None,
) -> Executable:
    """Per contact (`ids`), the newest `limit` rows since `since`, oldest first."""
    rank = (
        func.row_number()
        .over(partition_by=model.contact_id, order_by=(at.desc(), model.id.desc()))
        .label("rank")
    )
    query = select(model.contact_id, model.id, *columns, rank).where(
        model.contact_id.in_(bindparam("ids", expanding=True)), at >= bindparam("since")
    )
    if join is not None:
        query = query.join(*join)
    if where is not None:
        query = query.where(where)
    ranked = query.subquery()
    return (
        select(*ranked.c)
        .where(ranked.c.rank <= bindparam("limit"))
        .order_by(ranked.c.contact_id, ranked.c[at.key], ranked.c.id)
    )


def _ranked(rows: Any) -> dict[int, list[tuple[Any, ...]]]:
    """Rows of a `_newest` statement by contact, without the id and the rank."""
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
