"""Matching every trigger kind against signals, `if:` conditions and the YAML status."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from connector.engine.entry import Signal, flows_triggered, is_scheduled
from connector.engine.flows import (
    ANY,
    ContactCreated,
    DateTrigger,
    EngagementTrigger,
    EventTrigger,
    Flow,
    InactivityTrigger,
    PropertyChanged,
    SegmentEntered,
    SegmentLeft,
    SendStep,
    Trigger,
)
from tests.unit.connector.engine.factories import NOW, facts, make_flow, rule


def flow(trigger: Trigger, key: str = "f", **settings: Any) -> Flow:
    return make_flow(SendStep("s", "t"), trigger=trigger, key=key, **settings)


def fires(trigger: Trigger, signal: Signal) -> bool:
    return bool(flows_triggered([flow(trigger)], signal))


def changed(name: str, old: Any, new: Any) -> Signal:
    return Signal("property.changed", name, {"from": old, "to": new})


@pytest.mark.parametrize(
    ("trigger", "signal", "expected"),
    [
        (PropertyChanged("lifecyclestage"), changed("lifecyclestage", "lead", "customer"), True),
        (PropertyChanged("lifecyclestage"), changed("lifecyclestage", None, "lead"), True),
        (PropertyChanged("lifecyclestage"), changed("lifecyclestage", "lead", "lead"), False),
        (PropertyChanged("lifecyclestage"), changed("other", "lead", "customer"), False),
        (
            PropertyChanged("lifecyclestage", to_value="customer"),
            changed("lifecyclestage", "lead", "customer"),
            True,
        ),
        (
            PropertyChanged("lifecyclestage", to_value="customer"),
            changed("lifecyclestage", "customer", "lead"),
            False,
        ),
        (
            PropertyChanged("lifecyclestage", from_value="lead"),
            changed("lifecyclestage", "lead", "opportunity"),
            True,
        ),
        (
            PropertyChanged("lifecyclestage", from_value="lead"),
            changed("lifecyclestage", "mql", "opportunity"),
            False,
        ),
        (
            PropertyChanged("stage", from_value="lead", to_value="customer"),
            changed("stage", "lead", "customer"),
            True,
        ),
        (
            PropertyChanged("stage", from_value="lead", to_value="customer"),
            changed("stage", "mql", "customer"),
            False,
        ),
        # CRM values are text: numbers and booleans written in YAML match their spelling
        (PropertyChanged("score", to_value=5), changed("score", "4", "5"), True),
        (PropertyChanged("score", to_value=5), changed("score", "4", "5.0"), False),
        (PropertyChanged("vip", to_value=True), changed("vip", "false", "true"), True),
        # null and "" both mean "no value"
        (PropertyChanged("owner", from_value=None), changed("owner", "", "ann"), True),
        (PropertyChanged("owner", to_value=None), changed("owner", "ann", None), True),
        (PropertyChanged("owner"), changed("owner", "", None), False),
    ],
)
def test_property_changed(trigger: Trigger, signal: Signal, expected: bool) -> None:
    assert fires(trigger, signal) is expected


def test_property_changed_defaults_to_any_value() -> None:
    trigger = PropertyChanged("x")
    assert trigger.from_value is ANY and trigger.to_value is ANY


@pytest.mark.parametrize(
    ("trigger", "signal", "expected"),
    [
        (SegmentEntered("vip"), Signal("segment.entered", "vip"), True),
        (SegmentEntered("vip"), Signal("segment.left", "vip"), False),
        (SegmentEntered("vip"), Signal("segment.entered", "churned"), False),
        (SegmentLeft("vip"), Signal("segment.left", "vip"), True),
        (SegmentLeft("vip"), Signal("segment.entered", "vip"), False),
    ],
)
def test_segment_entered_and_left(trigger: Trigger, signal: Signal, expected: bool) -> None:
    assert fires(trigger, signal) is expected


def engagement(action: str, **properties: Any) -> Signal:
    return Signal("engagement", properties={"action": action, **properties})


CLICK = {"template": "a", "flow": "welcome", "step": "hello", "url": "https://shop.example/p/42"}


@pytest.mark.parametrize(
    ("trigger", "signal", "expected"),
    [
        (EngagementTrigger("clicked"), engagement("click", **CLICK), True),
        (EngagementTrigger("clicked"), engagement("open", template="a"), False),
        (EngagementTrigger("opened"), engagement("open", template="a"), True),
        (EngagementTrigger("opened", template="a"), engagement("open", template="b"), False),
        (
            EngagementTrigger("clicked", flow="welcome", step="hello"),
            engagement("click", **CLICK),
            True,
        ),
        (EngagementTrigger("clicked", step="other"), engagement("click", **CLICK), False),
        (EngagementTrigger("clicked", campaign="spring"), engagement("click", **CLICK), False),
        (
            EngagementTrigger("clicked", campaign="spring"),
            engagement("click", campaign="spring"),
            True,
        ),
        (
            EngagementTrigger("clicked", link="https://shop.example/p/*"),
            engagement("click", **CLICK),
            True,
        ),
        (
            EngagementTrigger("clicked", link="https://shop.example/c/*"),
            engagement("click", **CLICK),
            False,
        ),
        (EngagementTrigger("clicked", link="https://shop.example/p/*"), engagement("click"), False),
        (EngagementTrigger("clicked"), Signal("event", "click"), False),
    ],
)
def test_engagement(trigger: Trigger, signal: Signal, expected: bool) -> None:
    assert fires(trigger, signal) is expected


def test_engagement_trigger_invariants() -> None:
    with pytest.raises(ValueError, match="clicked or opened"):
        EngagementTrigger("bounced")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="needs action 'clicked'"):
        EngagementTrigger("opened", link="https://x/*")


@pytest.mark.parametrize(
    "trigger", [DateTrigger("birthday"), InactivityTrigger(timedelta(days=90))]
)
def test_scheduled_triggers_never_match_a_signal(trigger: Trigger) -> None:
    assert is_scheduled(flow(trigger))
    for signal in (
        Signal("contact.created"),
        Signal("event", "birthday"),
        changed("birthday", None, "2000-01-01"),
    ):
        assert not fires(trigger, signal)


def test_signal_triggers_are_not_scheduled() -> None:
    assert not is_scheduled(flow(ContactCreated()))


def test_if_condition_is_checked_with_facts_and_time() -> None:
    gated = flow(EventTrigger("order.completed", condition=rule("{property: country, eq: FR}")))
    signal = Signal("event", "order.completed")
    assert flows_triggered([gated], signal, facts(properties={"country": "FR"}), NOW) == [gated]
    assert flows_triggered([gated], signal, facts(properties={"country": "DE"}), NOW) == []
    # without facts and time a condition cannot hold
    assert flows_triggered([gated], signal) == []
    assert flows_triggered([gated], signal, facts(properties={"country": "FR"})) == []


def test_only_flows_active_in_their_yaml_match() -> None:
    flows = [
        flow(ContactCreated(), key="on"),
        flow(ContactCreated(), key="paused", status="paused"),
        flow(ContactCreated(), key="archived", status="archived"),
    ]
    assert [f.key for f in flows_triggered(flows, Signal("contact.created"))] == ["on"]


@pytest.mark.parametrize(
    ("kind", "name", "properties", "message"),
    [
        ("property.changed", None, {}, "a property.changed signal needs a name"),
        ("segment.entered", "", {}, "a segment.entered signal needs a name"),
        ("segment.left", None, {}, "a segment.left signal needs a name"),
        ("engagement", None, {"action": "bounce"}, "needs action 'open' or 'click'"),
    ],
)
def test_signal_validation(
    kind: str, name: str | None, properties: dict[str, object], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        Signal(kind, name, properties)  # type: ignore[arg-type]
