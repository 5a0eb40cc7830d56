"""SQL pushdown gives exactly the Python evaluator's answers (a differential test), on
SQLite and, in the PostgreSQL pass, on PostgreSQL; and never leaks another account."""

from __future__ import annotations

import random
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from connector.db import Database
from connector.engine.facts import ContactFacts, EngagementFact, EventFact
from connector.engine.rules import evaluate, parse_rule_text
from connector.models import (
    Account,
    Contact,
    ContactEvent,
    EngagementEvent,
    ListMembership,
    Message,
    SegmentMembership,
)
from connector.segment_sql import audience, audience_query

NOW = datetime(2026, 1, 31, 12, 0, 0, 250_000, tzinfo=UTC)
DAY = timedelta(days=1)


def ms(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


# Values chosen to sit on every coercion edge: numeric strings, booleans as text, dates as
# epoch ms / seconds / ISO with and without offsets, invalid dates, window boundaries.
STAGES = ["customer", "lead", "Customer", None, "", "subscriber"]
AMOUNTS = ["59.00", 59, 100, "100.5", "abc", True, None, "1e2", 99.99, "-5", "", " 59", 150]
SIGNUPS = [
    str(ms(NOW - 3 * DAY)),
    ms(NOW - 40 * DAY),
    int((NOW - 10 * DAY).timestamp()),
    "2026-01-01",
    "2025-12-31T23:30:00Z",
    "2026-01-20T10:00:00.123456+01:00",
    "2026-01-20T10:00:00+0100",
    "2026-01-05 08:15",
    "2026-02-30",
    "not a date",
    None,
    ms(NOW - 30 * DAY),  # exactly on the within_last / more_than_ago boundary
    ms(NOW - 30 * DAY) + 1,
    (NOW + 2 * DAY).isoformat(),  # in the future
    "2026-01-01T12:00:00Z",
    True,
]
VIPS = [True, "true", "TRUE", False, "yes", None, "false", 1]
NAMES = ["apple", "Banana", "cherry", "", None, "b", "ápple", 7]
CITIES = [{"city": "Berlin"}, {"city": "Paris"}, "Berlin", None, {"town": "Berlin"}]
TAGS = [["a", "b"], "a;b", ["c"], None]
URLS = [
    "https://example.com/products/shoes?x=1",
    "https://example.com/about",
    "https://example.com/products_x",
    None,
]


def _properties(rng: random.Random) -> dict[str, Any]:
    chosen = {
        "lifecyclestage": rng.choice(STAGES),
        "amount": rng.choice(AMOUNTS),
        "signup": rng.choice(SIGNUPS),
        "vip": rng.choice(VIPS),
        "name": rng.choice(NAMES),
        "address": rng.choice(CITIES),
        "tags": rng.choice(TAGS),
    }
    # Absent and null are both "missing"; keep some of each.
    return {k: v for k, v in chosen.items() if v is not None or rng.random() < 0.5}


def _populate(session: Session, account_id: int, seed: int, contacts: int) -> None:
    rng = random.Random(seed)
    for number in range(contacts):
        contact = Contact(
            account_id=account_id,
            email=f"c{number}@example.com",
            properties=_properties(rng),
            created_at=NOW - 400 * DAY,
            updated_at=NOW,
        )
        session.add(contact)
        session.flush()
        for _ in range(rng.randrange(0, 6)):
            name = rng.choice(["order.completed", "product.viewed", "cart.updated"])
            at = NOW - timedelta(days=rng.choice([0.5, 3, 6.9, 7, 10, 29, 30, 45, 200, 400, -1]))
            props = {"total": rng.choice([50, "150.00", 101, None]),
                     "category": rng.choice(["shoes", "hats"])}  # fmt: skip
            session.add(
                ContactEvent(
                    account_id=account_id,
                    contact_id=contact.id,
                    name=name,
                    occurred_at=at,
                    properties=props,
                )
            )
        for sent in range(rng.randrange(0, 4)):
            flow = rng.choice(["welcome", None])
            message = Message(
                account_id=account_id,
                contact_id=contact.id,
                flow_key=flow,
                step_id=rng.choice(["first-offer", "intro"]) if flow else None,
                template=rng.choice(["first-offer", "welcome-1"]),
                public_id=f"{account_id}-{contact.id}-{sent}",
                status="sent",
                to_email=contact.email or "",
                links=[],
                created_at=NOW - 60 * DAY,
            )
            session.add(message)
            session.flush()
            for _ in range(rng.randrange(0, 3)):
                kind = rng.choice(["open", "click", "unsubscribe"])
                session.add(
                    EngagementEvent(
                        account_id=account_id,
                        contact_id=contact.id,
                        message_id=message.id,
                        kind=kind,
                        url=rng.choice(URLS) if kind == "click" else None,
                        occurred_at=NOW - timedelta(days=rng.choice([1, 5, 7, 13, 14, 20, 40])),
                        machine=kind != "unsubscribe" and rng.random() < 0.3,
                    )
                )
        if rng.random() < 0.4:
            session.add(
                ListMembership(
                    account_id=account_id,
                    contact_id=contact.id,
                    list_key="newsletter",
                    added_at=NOW,
                )
            )
        if rng.random() < 0.4:
            left = NOW - DAY if rng.random() < 0.3 else None
            session.add(
                SegmentMembership(
                    account_id=account_id,
                    contact_id=contact.id,
                    segment_key="vip",
                    entered_at=NOW - 10 * DAY,
                    left_at=left,
                    recheck_at=None,
                )
            )


def _account(session: Session, number: int) -> int:
    account = Account(
        provider="hubspot",
        external_id=str(1000 + number),
        name=f"portal {number}",
        api_key_hash=f"hash-{number}",
        api_key_encrypted=b"x",
        created_at=NOW,
    )
    session.add(account)
    session.flush()
    return account.id


def load_facts(session: Session, ids: Sequence[int]) -> dict[int, ContactFacts]:
    """Facts as the lead's loader builds them: full history, oldest first (then by id)."""
    facts = {}
    for contact in session.scalars(select(Contact).where(Contact.id.in_(ids))):
        events = session.scalars(
            select(ContactEvent)
            .where(ContactEvent.contact_id == contact.id)
            .order_by(ContactEvent.occurred_at, ContactEvent.id)
        )
        engagements = session.execute(
            select(EngagementEvent, Message)
            .join(Message, Message.id == EngagementEvent.message_id)
            .where(EngagementEvent.contact_id == contact.id)
            .where(EngagementEvent.kind.in_(("open", "click")), EngagementEvent.machine.is_(False))
            .order_by(EngagementEvent.occurred_at, EngagementEvent.id)
        )
        lists = session.scalars(
            select(ListMembership.list_key).where(ListMembership.contact_id == contact.id)
        )
        segments = session.scalars(
            select(SegmentMembership.segment_key).where(
                SegmentMembership.contact_id == contact.id, SegmentMembership.left_at.is_(None)
            )
        )
        facts[contact.id] = ContactFacts(
            email=contact.email or "",
            suppressed=False,
            properties=contact.properties,
            contact_id=contact.id,
            events=tuple(EventFact(e.name, e.occurred_at, e.properties) for e in events),
            engagements=tuple(
                EngagementFact(
                    "open" if e.kind == "open" else "click",
                    e.occurred_at,
                    m.template,
                    m.flow_key,
                    m.step_id,
                    None,  # this world's emails are all flows' (campaigns: test_campaign_triggers)
                    e.url,
                )
                for e, m in engagements
            ),
            lists=frozenset(lists),
            segments=frozenset(segments),
        )
    return facts


@pytest.fixture
def world(db: Database) -> tuple[Database, int, int]:
    with db.session() as session:
        mine, other = _account(session, 1), _account(session, 2)
        _populate(session, mine, seed=7, contacts=120)
        _populate(session, other, seed=7, contacts=40)  # the same shapes, another tenant
    return db, mine, other


# (rule, fully pushed to SQL?)
RULES: list[tuple[str, bool]] = [
    ("{property: lifecyclestage, eq: customer}", True),
    ("{property: lifecyclestage, neq: customer}", True),
    ("{property: lifecyclestage, in: [customer, lead]}", True),
    ("{property: lifecyclestage, not_in: [customer, Customer]}", True),
    ("{property: lifecyclestage, exists: true}", True),
    ("{property: lifecyclestage, exists: false}", True),
    ("{property: amount, eq: 59}", True),
    ("{property: amount, eq: '100'}", True),
    ("{property: amount, neq: 59}", True),
    ("{property: amount, gt: 59}", True),
    ("{property: amount, lte: 99.99}", True),
    ("{property: amount, between: [50, 100]}", True),
    ("{property: amount, in: [100, abc, true]}", True),
    ("{property: name, lt: b}", True),
    ("{property: name, gte: b}", True),
    ("{property: name, between: [a, c]}", True),
    ("{property: name, eq: apple}", True),
    ("{property: vip, eq: true}", True),
    ("{property: vip, eq: 'TRUE'}", True),
    ("{property: vip, neq: false}", True),
    ("{property: signup, within_last: 30d}", True),
    ("{property: signup, more_than_ago: 30d}", True),
    ("{property: signup, before: 2026-01-01}", True),
    ("{property: signup, after: '2026-01-01T12:00:00Z'}", True),
    ("{property: signup, exists: true}", True),
    ("{property: address.city, eq: Berlin}", True),
    ("{property: address.city, exists: false}", True),
    ("{property: tags, contains: a}", False),
    ("{event: order.completed}", True),
    ("{event: order.completed, at_least: 2, within: 30d}", True),
    ("{event: order.completed, at_most: 1, within: 30d}", True),
    ("{event: order.completed, exactly: 0}", True),
    ("{event: product.viewed, within: 7d, where: {category: shoes}}", True),
    ("{event: order.completed, where: {total: {gt: 100}}, at_least: 2}", True),
    ("{event: order.completed, last: {total: {gt: 100}}}", True),
    ("{event: order.completed, within: 30d, last: {total: {exists: false}}}", True),
    ("{opened: any, within: 7d}", True),
    ("{clicked: any, at_least: 2}", True),
    ("{clicked: {template: first-offer}, within: 14d}", True),
    ("{clicked: {flow: welcome, step: first-offer, link: 'https://example.com/products/*'}}", True),
    ("{clicked: {link: 'https://example.com/products_?'}}", True),
    ("{clicked: {link: 'https://example.com/[a]bout'}}", False),
    ("{opened: {campaign: black-friday}}", True),
    ("{in_list: newsletter}", True),
    ("{in_segment: vip}", True),
    ("{bucket: {lt: 50}}", False),
    ("{all: [{property: lifecyclestage, eq: customer}, {bucket: {lt: 50}}]}", False),
    ("{any: [{in_list: newsletter}, {property: tags, contains: a}]}", False),
    ("{any: [{in_list: newsletter}, {property: amount, gt: 99}]}", True),
    ("{not: {any: [{event: order.completed, within: 30d}, {in_segment: vip}]}}", True),
    ("{not: {property: amount, gt: 59}}", True),
    ("{not: {bucket: {gte: 30}, salt: x}}", False),
    (
        "{all: [{in_list: newsletter}, {any: [{opened: any, within: 30d}, "
        "{not: {event: product.viewed, within: 7d}}]}, {property: tags, contains: b}]}",
        False,
    ),
]


@pytest.mark.parametrize(("text", "pushed"), RULES, ids=[text for text, _ in RULES])
def test_audience_matches_python_evaluation(
    world: tuple[Database, int, int], text: str, pushed: bool
) -> None:
    db, mine, _ = world
    rule = parse_rule_text(text, "rule.yaml")
    with db.session() as session:
        ids = list(session.scalars(select(Contact.id).where(Contact.account_id == mine)))
        facts = load_facts(session, ids)
        expected = sorted(i for i in ids if evaluate(rule, facts[i], NOW))
        _, residual = audience_query(rule, account_id=mine, now=NOW)
        found = list(
            audience(
                session,
                rule,
                account_id=mine,
                now=NOW,
                load_facts=lambda batch: load_facts(session, batch),
                batch=17,
            )
        )
    assert found == expected
    assert (residual is None) == pushed


def test_the_sample_is_not_degenerate(world: tuple[Database, int, int]) -> None:
    """Each rule splits the contacts: a differential test over all-or-nothing proves little."""
    db, mine, _ = world
    with db.session() as session:
        ids = list(session.scalars(select(Contact.id).where(Contact.account_id == mine)))
        facts = load_facts(session, ids)
    for text, _ in RULES:
        rule = parse_rule_text(text, "rule.yaml")
        passing = sum(evaluate(rule, facts[i], NOW) for i in ids)
        if "campaign" not in text:
            assert 0 < passing < len(ids), text


def test_another_accounts_contacts_never_appear(world: tuple[Database, int, int]) -> None:
    db, mine, other = world
    rule = parse_rule_text(
        "{any: [{in_list: newsletter}, {opened: any}, {bucket: {lt: 100}}]}", "r"
    )
    with db.session() as session:
        theirs = set(session.scalars(select(Contact.id).where(Contact.account_id == other)))
        everyone = set(
            audience(
                session,
                rule,
                account_id=mine,
                now=NOW,
                load_facts=lambda batch: load_facts(session, batch),
            )
        )
        their_own = set(
            audience(
                session,
                rule,
                account_id=other,
                now=NOW,
                load_facts=lambda batch: load_facts(session, batch),
            )
        )
    assert len(everyone) == 120
    assert not everyone & theirs
    assert their_own == theirs


def test_residual_is_checked_against_loaded_facts_only(world: tuple[Database, int, int]) -> None:
    """A candidate the facts loader no longer knows (deleted meanwhile) is left out."""
    db, mine, _ = world
    rule = parse_rule_text("{bucket: {lt: 100}}", "r")
    with db.session() as session:
        query = select(Contact.id).where(Contact.account_id == mine).order_by(Contact.id)
        ids = list(session.scalars(query))

        def partial(batch: Sequence[int]) -> Mapping[int, ContactFacts]:
            return {i: f for i, f in load_facts(session, batch).items() if i % 2}

        found = list(audience(session, rule, account_id=mine, now=NOW, load_facts=partial))
    assert found == [i for i in ids if i % 2]
