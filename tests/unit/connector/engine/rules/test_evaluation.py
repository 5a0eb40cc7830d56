"""Behaviour, engagement, membership, bucket and composite rules; recheck times; history
windows; serialisation."""

from __future__ import annotations

import json
from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from connector.engine.facts import ContactFacts, EngagementFact, EventFact
from connector.engine.rules import (
    Rule,
    bucket_of,
    evaluate,
    history_window,
    parse_rule_text,
    recheck_at,
    referenced_events,
    referenced_lists,
    referenced_properties,
    referenced_segments,
    rule_from_dict,
    rule_to_dict,
)

NOW = datetime(2026, 1, 31, 12, 0, tzinfo=UTC)
DAY = timedelta(days=1)


def rule(text: str) -> Rule:
    return parse_rule_text(text, "rule.yaml")


def facts(**kwargs: Any) -> ContactFacts:
    return ContactFacts(email="a@example.com", suppressed=False, **kwargs)


def order(days_ago: float, **properties: Any) -> EventFact:
    return EventFact("order.completed", NOW - timedelta(days=days_ago), properties)


def click(days_ago: float, template: str = "t", **more: Any) -> EngagementFact:
    return EngagementFact("click", NOW - timedelta(days=days_ago), template, **more)


def opened(days_ago: float, template: str = "t", **more: Any) -> EngagementFact:
    return EngagementFact("open", NOW - timedelta(days=days_ago), template, **more)


# -- events -------------------------------------------------------------------------------

EVENTS = (
    order(40, total=250),
    EventFact("product.viewed", NOW - 2 * DAY, {"category": "shoes", "price": "89.90"}),
    order(20, total="59.00"),
    EventFact("product.viewed", NOW - 8 * DAY, {"category": "hats"}),
    order(3, total=120, items=[{"sku": "A"}]),
)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("{event: order.completed}", True),
        ("{event: order.shipped}", False),
        ("{event: order.completed, at_least: 3}", True),
        ("{event: order.completed, at_least: 4}", False),
        ("{event: order.completed, at_least: 2, within: 30d}", True),
        ("{event: order.completed, at_least: 3, within: 30d}", False),
        ("{event: order.completed, at_most: 2, within: 30d}", True),
        ("{event: order.completed, at_most: 1, within: 30d}", False),
        ("{event: order.completed, exactly: 1, within: 7d}", True),
        ("{event: order.completed, exactly: 0, within: 1d}", True),
        ("{event: order.completed, at_least: 1, at_most: 2}", False),
        ("{event: product.viewed, within: 7d, where: {category: shoes}}", True),
        ("{event: product.viewed, within: 7d, where: {category: {eq: hats}}}", False),
        ("{event: product.viewed, where: {price: {gt: 80, lt: 90}}}", True),
        ("{event: order.completed, where: {total: {gte: 100}}, at_least: 2}", True),
        ("{event: order.completed, where: {items.0.sku: A}}", True),
        ("{event: order.completed, last: {total: {gt: 100}}}", True),
        ("{event: order.completed, last: {total: {gt: 200}}}", False),
        ("{event: order.completed, within: 10d, last: {total: 120}}", True),
        ("{event: order.completed, where: {total: {lt: 100}}, last: {total: 59}}", True),
        ("{event: order.completed, at_most: 5, within: 1d, last: {total: 120}}", False),
    ],
)
def test_event_rules(text: str, expected: bool) -> None:
    assert evaluate(rule(text), facts(events=EVENTS), NOW) is expected


def test_event_window_boundaries() -> None:
    """within: 30d counts events in (now - 30d, now]: exactly 30 days ago is out."""
    at_edge = facts(events=(order(30),))
    just_inside = facts(
        events=(EventFact("order.completed", NOW - 30 * DAY + timedelta(microseconds=1)),)
    )
    in_future = facts(events=(order(-1),))
    within = rule("{event: order.completed, within: 30d}")
    assert not evaluate(within, at_edge, NOW)
    assert evaluate(within, just_inside, NOW)
    assert evaluate(within, facts(events=(order(0),)), NOW)
    assert not evaluate(within, in_future, NOW)
    assert not evaluate(rule("{event: order.completed}"), in_future, NOW)


def test_last_is_the_newest_occurrence_ties_going_to_the_later_one() -> None:
    tie = facts(events=(order(1, total=10), order(1, total=500), order(5, total=1000)))
    assert evaluate(rule("{event: order.completed, last: {total: 500}}"), tie, NOW)
    unordered = facts(events=(order(1, total=10), order(5, total=1000)))
    assert evaluate(rule("{event: order.completed, last: {total: 10}}"), unordered, NOW)


# -- engagement ---------------------------------------------------------------------------

ENGAGEMENTS = (
    opened(2, "welcome-1", flow="welcome", step="intro"),
    click(
        5,
        "first-offer",
        flow="welcome",
        step="first-offer",
        url="https://example.com/products/shoes?utm=x",
    ),
    click(12, "bf-1", campaign="black-friday", url="https://example.com/about"),
    opened(20, "bf-1", campaign="black-friday"),
)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("{opened: any}", True),
        ("{opened: any, within: 1d}", False),
        ("{opened: any, within: 7d}", True),
        ("{clicked: any, at_least: 2}", True),
        ("{clicked: any, at_least: 2, within: 7d}", False),
        ("{clicked: {template: first-offer}, within: 14d}", True),
        ("{clicked: {template: first-offer}, within: 4d}", False),
        ("{opened: {template: first-offer}}", False),
        ("{clicked: {flow: welcome, step: first-offer}}", True),
        ("{clicked: {flow: welcome, step: intro}}", False),
        ("{clicked: {link: 'https://example.com/products/*'}}", True),
        ("{clicked: {link: 'https://example.com/products'}}", False),
        ("{clicked: {link: 'https://EXAMPLE.com/*'}}", False),
        ("{clicked: {link: '*/about'}}", True),
        ("{clicked: {link: 'https://example.com/[ab]bout'}}", True),
        ("{clicked: {flow: welcome, step: first-offer, link: '*shoes*'}}", True),
        ("{opened: {campaign: black-friday}}", True),
        ("{opened: {campaign: black-friday}, within: 14d}", False),
        ("{clicked: {campaign: black-friday}, within: 14d}", True),
    ],
)
def test_engagement_rules(text: str, expected: bool) -> None:
    assert evaluate(rule(text), facts(engagements=ENGAGEMENTS), NOW) is expected


# -- membership, buckets, composition -----------------------------------------------------


def test_lists_and_segments() -> None:
    member = facts(lists=frozenset({"newsletter"}), segments=frozenset({"vip"}))
    assert evaluate(rule("{in_list: newsletter}"), member, NOW)
    assert not evaluate(rule("{in_list: other}"), member, NOW)
    assert evaluate(rule("{in_list: 12345}"), facts(lists=frozenset({"12345"})), NOW)
    assert evaluate(rule("{in_segment: vip}"), member, NOW)
    assert not evaluate(rule("{in_segment: engaged}"), member, NOW)


def test_buckets_are_stable_and_uniform() -> None:
    counts = Counter(bucket_of(contact_id, "") for contact_id in range(10_000))
    assert set(counts) == set(range(100))
    assert max(counts.values()) < 140 and min(counts.values()) > 60  # ~100 each
    half = rule("{bucket: {lt: 50}}")
    inside = sum(evaluate(half, facts(contact_id=i), NOW) for i in range(10_000))
    assert 4_800 < inside < 5_200
    assert bucket_of(42, "") == bucket_of(42, "")
    assert evaluate(half, facts(contact_id=42), NOW) == (bucket_of(42, "") < 50)


def test_bucket_salt_reshuffles() -> None:
    plain = [bucket_of(i, "") for i in range(200)]
    salted = [bucket_of(i, "exp-1") for i in range(200)]
    assert plain != salted
    salted_rule = rule("{bucket: {between: [10, 19]}, salt: exp-1}")
    for contact_id in range(200):
        expected = 10 <= bucket_of(contact_id, "exp-1") <= 19
        assert evaluate(salted_rule, facts(contact_id=contact_id), NOW) is expected
    assert evaluate(rule("{bucket: {in: [3, 5]}}"), facts(contact_id=next(
        i for i in range(1000) if bucket_of(i, "") == 5)), NOW)  # fmt: skip


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("{all: [{property: a, eq: 1}, {property: b, eq: 2}]}", True),
        ("{all: [{property: a, eq: 1}, {property: b, eq: 3}]}", False),
        ("{any: [{property: a, eq: 9}, {property: b, eq: 2}]}", True),
        ("{any: [{property: a, eq: 9}, {property: b, eq: 9}]}", False),
        ("{not: {property: a, eq: 1}}", False),
        ("{not: {not: {property: a, eq: 1}}}", True),
        ("{all: [{any: [{in_list: x}, {property: a, gt: 0}]}, {not: {in_segment: y}}]}", True),
    ],
)
def test_composition(text: str, expected: bool) -> None:
    assert evaluate(rule(text), facts(properties={"a": "1", "b": 2}), NOW) is expected


# -- recheck_at ---------------------------------------------------------------------------


def test_recheck_when_the_older_of_two_orders_leaves_the_window() -> None:
    two_in_30 = rule("{event: order.completed, at_least: 2, within: 30d}")
    history = facts(events=(order(40), order(20), order(3)))
    assert evaluate(two_in_30, history, NOW)
    assert recheck_at(two_in_30, history, NOW) == NOW - 20 * DAY + 30 * DAY
    later = NOW + 10 * DAY
    assert not evaluate(two_in_30, history, later)
    assert recheck_at(two_in_30, history, later) is None  # only a new order changes it now


def test_recheck_skips_expiries_that_do_not_change_the_answer() -> None:
    """Three orders, at_least 1: the answer flips only when the newest leaves."""
    any_in_30 = rule("{event: order.completed, within: 30d}")
    history = facts(events=(order(25), order(10), order(2)))
    assert recheck_at(any_in_30, history, NOW) == NOW + 28 * DAY
    at_most_one = rule("{event: order.completed, within: 30d, at_most: 1}")
    assert recheck_at(at_most_one, history, NOW) == NOW + 20 * DAY  # 2 left, then 1


def test_recheck_for_a_negated_window_and_future_events() -> None:
    no_recent = rule("{not: {event: order.completed, within: 7d}}")
    assert recheck_at(no_recent, facts(events=(order(2),)), NOW) == NOW + 5 * DAY
    assert recheck_at(no_recent, facts(events=(order(9),)), NOW) is None
    ahead = facts(events=(order(-3),))  # a simulation knows it is coming
    assert recheck_at(no_recent, ahead, NOW) == NOW + 3 * DAY
    assert recheck_at(rule("{event: order.completed}"), ahead, NOW) == NOW + 3 * DAY


def test_recheck_for_engagement_windows() -> None:
    engaged = rule("{any: [{opened: any, within: 30d}, {clicked: any, within: 30d}]}")
    history = facts(engagements=(opened(25), click(10), opened(40)))
    assert recheck_at(engaged, history, NOW) == NOW + 20 * DAY


@pytest.mark.parametrize(
    ("text", "value", "expected"),
    [
        ("{property: d, within_last: 30d}", "2026-01-21T12:00:00Z", NOW + 20 * DAY),
        ("{property: d, within_last: 30d}", "2026-02-02T12:00:00Z", NOW + 2 * DAY),
        ("{property: d, within_last: 30d}", "2025-12-01", None),
        ("{property: d, more_than_ago: 30d}", "2026-01-21T12:00:00Z", NOW + 20 * DAY),
        ("{property: d, more_than_ago: 30d}", "2025-12-01", None),
        ("{property: d, more_than_ago: 30d}", "garbage", None),
        ("{not: {property: d, within_last: 1d}}", "2026-01-31T00:00:00Z", NOW + DAY / 2),
        ("{property: d, before: 2026-03-01}", "2026-01-21", None),  # fixed dates: never
        ("{property: d, after: 2026-03-01}", "2026-01-21", None),
        ("{property: d, eq: x}", "x", None),
    ],
)
def test_recheck_for_date_properties(text: str, value: str, expected: datetime | None) -> None:
    contact = facts(properties={"d": value})
    assert recheck_at(rule(text), contact, NOW) == expected
    if expected is not None:  # the answer really changes then, and not just before
        before = evaluate(rule(text), contact, expected - timedelta(milliseconds=1))
        assert evaluate(rule(text), contact, NOW) == before
        assert evaluate(rule(text), contact, expected) != before


def test_recheck_of_compositions() -> None:
    recent = {"event": "order.completed", "within": "7d"}
    history = facts(events=(order(2),), properties={"d": "2026-01-25"})
    both = rule(f"{{all: [{json.dumps(recent)}, {{property: d, within_last: 30d}}]}}")
    assert recheck_at(both, history, NOW) == NOW + 5 * DAY  # the first part to turn
    # False because of a part that time cannot change: no recheck at all.
    blocked = rule(f"{{all: [{json.dumps(recent)}, {{in_list: never}}]}}")
    assert recheck_at(blocked, history, NOW) is None
    # True because of a part time cannot change: no recheck either.
    held = rule(f"{{any: [{json.dumps(recent)}, {{property: d, exists: true}}]}}")
    assert recheck_at(held, history, NOW) is None
    # False and waiting on two windows to turn: the later of the two.
    two = rule("{all: [{property: d, more_than_ago: 10d}, {property: d, more_than_ago: 20d}]}")
    assert recheck_at(two, history, NOW) == datetime(2026, 2, 14, tzinfo=UTC)


# -- history_window, references, serialisation -------------------------------------------


def test_history_window() -> None:
    assert history_window(rule("{property: a, eq: 1}")) == timedelta(0)
    assert history_window(rule("{event: x, within: 30d}")) == 30 * DAY
    assert (
        history_window(rule("{any: [{event: x, within: 7d}, {opened: any, within: 90d}]}"))
        == 90 * DAY
    )
    assert history_window(rule("{all: [{event: x, within: 7d}, {not: {event: y}}]}")) is None
    assert history_window(rule("{clicked: any}")) is None


def test_references() -> None:
    r = rule(
        "{all: [{property: a.b, eq: 1}, {event: order.completed, where: {total: 1}},"
        " {any: [{in_list: news}, {in_segment: vip}]}, {not: {in_segment: engaged}}]}"
    )
    assert referenced_properties(r) == {"a.b"}
    assert referenced_events(r) == {"order.completed"}
    assert referenced_lists(r) == {"news"}
    assert referenced_segments(r) == {"vip", "engaged"}


SERIALISED = [
    "{property: lifecyclestage, eq: customer}",
    "{property: a, in: [x, 1, 2.5, true]}",
    "{property: a, between: [1, 10]}",
    "{property: a, exists: false}",
    "{property: a, before: '2026-01-05T10:00:00+01:00'}",
    "{property: a, within_last: {days: 1, hours: 2}}",
    "{property: a, more_than_ago: 30d}",
    "{event: order.completed, at_least: 2, at_most: 5, within: 30d,"
    " where: {total: {gt: 100}, category: shoes}, last: {total: {lt: 500}}}",
    "{clicked: {flow: welcome, step: first-offer, link: 'https://x/*'}, within: 14d}",
    "{opened: {campaign: bf}, exactly: 2}",
    "{bucket: {not_in: [1, 2]}, salt: exp}",
    "{all: [{in_list: a}, {any: [{in_segment: b}, {not: {bucket: {lt: 5}}}]}]}",
]


@pytest.mark.parametrize("text", SERIALISED)
def test_round_trip_through_json(text: str) -> None:
    original = rule(text)
    data = rule_to_dict(original)
    restored = rule_from_dict(json.loads(json.dumps(data)))
    assert restored == original
    assert rule_to_dict(restored) == data
    assert hash(restored) == hash(original)


def test_dicts_are_canonical_and_durations_are_seconds() -> None:
    data = rule_to_dict(rule("{event: x, within: 1d}"))
    assert data == {
        "kind": "event",
        "event": "x",
        "at_least": 1,
        "at_most": None,
        "within": 86400,
        "where": [],
        "last": [],
    }
    assert rule_to_dict(rule("{property: a, within_last: 24h}")) == rule_to_dict(
        rule("{property: a, within_last: {days: 1}}")
    )
    with pytest.raises(ValueError, match="unknown rule kind 'nope'"):
        rule_from_dict({"kind": "nope"})


def test_recheck_when_a_dated_event_property_turns() -> None:
    """`where` tests on event properties can depend on time too (shipped within 2 days)."""
    shipped = rule("{event: order.shipped, where: {eta: {within_last: 2d}}}")
    history = facts(events=(EventFact("order.shipped", NOW - 5 * DAY, {"eta": "2026-01-30"}),))
    assert evaluate(shipped, history, NOW)
    assert recheck_at(shipped, history, NOW) == datetime(2026, 2, 1, tzinfo=UTC)
    assert not evaluate(shipped, history, datetime(2026, 2, 1, tzinfo=UTC))
