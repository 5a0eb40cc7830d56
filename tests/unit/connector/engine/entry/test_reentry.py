"""entry_key() and may_reenter(): once, every time, after a cooldown, once per dedup value."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from connector.engine.entry import Signal, entry_key, may_reenter
from connector.engine.flows import (
    ContactCreated,
    Cooldown,
    DateTrigger,
    EventTrigger,
    Flow,
    Reentry,
    SendStep,
    Trigger,
)
from tests.unit.connector.engine.factories import NOW, make_flow

ORDERS = EventTrigger("order.completed", dedup="order.id")


def flow_with(trigger: Trigger, reentry: Reentry = "always") -> Flow:
    return make_flow(SendStep("s", "t"), trigger=trigger, reentry=reentry)


def order(**properties: object) -> Signal:
    return Signal("event", "order.completed", properties)


@pytest.mark.parametrize(
    ("signal", "expected"),
    [
        (order(order={"id": "A1"}), "dedup:A1"),
        (order(**{"order.id": 1234}), "dedup:1234"),
        (order(order={"id": "1234"}), "dedup:1234"),  # one order id, however it is typed
        (order(order={"id": 12.5}), "dedup:12.5"),
        (order(order={"id": None}), "event:7"),
        (order(order={"id": ""}), "event:7"),
        (order(), "event:7"),
    ],
)
def test_dedup_key_when_the_event_carries_it(signal: Signal, expected: str) -> None:
    assert entry_key(flow_with(ORDERS), signal, 7) == expected


def test_long_dedup_values_are_hashed_to_fit_the_key_column() -> None:
    long_id = "https://shop.example/orders/" + "9" * 40
    key = entry_key(flow_with(ORDERS), order(order={"id": long_id}), 7)
    assert key.startswith("dedup#") and len(key) == 40
    assert key == entry_key(flow_with(ORDERS), order(order={"id": long_id}), 8)
    assert key != entry_key(flow_with(ORDERS), order(order={"id": long_id + "0"}), 7)


def test_dedup_applies_under_a_cooldown_too() -> None:
    cooled = flow_with(ORDERS, Cooldown(timedelta(days=30)))
    assert entry_key(cooled, order(order={"id": "A1"}), 7) == "dedup:A1"


def test_once_is_once_whatever_the_signal() -> None:
    once = flow_with(ORDERS, "once")
    assert entry_key(once, order(order={"id": "A1"}), 7) == "once"
    assert entry_key(flow_with(ContactCreated(), "once"), None, None) == "once"


def test_every_time_keys_on_the_inbox_event_or_the_firing_time() -> None:
    always = flow_with(ContactCreated())
    assert entry_key(always, Signal("contact.created"), 42) == "event:42"
    birthday = flow_with(DateTrigger("birthday"))
    fired = datetime(2026, 2, 28, 10, 0, tzinfo=timezone(timedelta(hours=1)))
    assert entry_key(birthday, None, None, fired) == "at:2026-02-28T09:00:00+00:00"
    with pytest.raises(ValueError, match="needs an inbox event id or the time"):
        entry_key(always, Signal("contact.created"), None)


def test_cooldown() -> None:
    cooled = flow_with(ContactCreated(), Cooldown(timedelta(days=30)))
    assert may_reenter(cooled, None, NOW)
    assert not may_reenter(cooled, NOW - timedelta(days=29, hours=23), NOW)
    assert may_reenter(cooled, NOW - timedelta(days=30), NOW)


@pytest.mark.parametrize("reentry", ["once", "always"])
def test_without_cooldown_may_reenter_leaves_it_to_the_key(reentry: Reentry) -> None:
    assert may_reenter(flow_with(ContactCreated(), reentry), NOW, NOW)


def test_cooldown_must_be_positive() -> None:
    with pytest.raises(ValueError, match="cooldown must be positive"):
        Cooldown(timedelta(0))
