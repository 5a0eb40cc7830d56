"""Trigger matching: which flows a signal starts, including `where` filters."""

from __future__ import annotations

from typing import Any

import pytest

from connector.engine.entry import Signal, flows_triggered
from connector.engine.flows import ContactCreated, EventTrigger, Flow, SendStep, Trigger


def flow(key: str, trigger: Trigger) -> Flow:
    return Flow.create(
        key=key, name=key, trigger=trigger, steps=[SendStep(id="s", template="welcome")]
    )


def keys(flows: list[Flow]) -> list[str]:
    return [f.key for f in flows]


WELCOME = flow("welcome", ContactCreated())
ORDERS = flow("orders", EventTrigger(event="order.completed"))
EUR_ORDERS = flow("eur-orders", EventTrigger(event="order.completed", where={"currency": "EUR"}))
GOLD = flow(
    "gold", EventTrigger(event="order.completed", where={"customer.tier": "gold", "total": 100})
)
ALL = [WELCOME, ORDERS, EUR_ORDERS, GOLD]


def test_contact_created_signal_starts_contact_created_flows_only() -> None:
    assert keys(flows_triggered(ALL, Signal(kind="contact.created"))) == ["welcome"]


def test_event_signal_matches_by_name() -> None:
    signal = Signal(kind="event", name="order.completed", properties={"currency": "USD"})
    assert keys(flows_triggered(ALL, signal)) == ["orders"]


def test_other_event_names_match_nothing() -> None:
    for name in ("order.created", "Order.Completed", "order.completed.v2", "order"):
        signal = Signal(kind="event", name=name, properties={"currency": "EUR"})
        assert flows_triggered(ALL, signal) == []


def test_where_filters_must_all_match_and_extra_properties_are_ignored() -> None:
    signal = Signal(
        kind="event",
        name="order.completed",
        properties={"currency": "EUR", "customer": {"tier": "gold"}, "total": 100, "x": 1},
    )
    assert keys(flows_triggered(ALL, signal)) == ["eur-orders", "gold", "orders"]


def test_result_is_sorted_by_key_whatever_the_input_order() -> None:
    signal = Signal(
        kind="event",
        name="order.completed",
        properties={"currency": "EUR", "customer.tier": "gold", "total": 100.0},
    )
    assert keys(flows_triggered(reversed(ALL), signal)) == ["eur-orders", "gold", "orders"]
    assert keys(flows_triggered(iter(ALL), signal)) == ["eur-orders", "gold", "orders"]


def matches(where: dict[str, Any], properties: dict[str, Any]) -> bool:
    candidate = flow("f", EventTrigger(event="e", where=where))
    return bool(flows_triggered([candidate], Signal("event", "e", properties)))


@pytest.mark.parametrize(
    ("where", "properties", "expected"),
    [
        ({}, {}, True),
        ({"currency": "EUR"}, {"currency": "EUR"}, True),
        ({"currency": "EUR"}, {"currency": "eur"}, False),
        ({"currency": "EUR"}, {}, False),
        # dotted keys reach into nested objects, or match a flattened key as written
        ({"customer.tier": "gold"}, {"customer": {"tier": "gold"}}, True),
        ({"customer.tier": "gold"}, {"customer.tier": "gold"}, True),
        ({"a.b.c": 1}, {"a": {"b": {"c": 1}}}, True),
        ({"customer.tier": "gold"}, {"customer": {"tier": "silver"}}, False),
        ({"customer.tier": "gold"}, {"customer": "gold"}, False),
        ({"customer.tier": "gold"}, {"customer": None}, False),
        ({"customer.tier": "gold"}, {"customer": ["tier"]}, False),
        ({"customer.tier": "gold"}, {"customer": {}}, False),
        # exact means the type too; numbers compare by value
        ({"total": 100}, {"total": 100.0}, True),
        ({"total": 100}, {"total": "100"}, False),
        ({"gift": True}, {"gift": 1}, False),
        ({"count": 1}, {"count": True}, False),
        ({"gift": False}, {"gift": False}, True),
        ({"gift": False}, {"gift": 0}, False),
        # null matches an explicit null only, never a missing property
        ({"coupon": None}, {"coupon": None}, True),
        ({"coupon": None}, {}, False),
        ({"coupon": None}, {"coupon": ""}, False),
    ],
)
def test_where_exact_match(
    where: dict[str, Any], properties: dict[str, Any], expected: bool
) -> None:
    assert matches(where, properties) is expected


def test_an_event_signal_needs_a_name() -> None:
    with pytest.raises(ValueError, match="needs a name"):
        Signal(kind="event")
    assert dict(Signal(kind="contact.created").properties) == {}
