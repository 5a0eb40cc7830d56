"""Parsing every trigger type, step kind and setting of a flow file."""

from __future__ import annotations

from datetime import time, timedelta
from pathlib import Path

import pytest

from connector.engine.flows import (
    ANY,
    BranchCase,
    BranchStep,
    ContactCreated,
    Cooldown,
    CreateTaskStep,
    DateTrigger,
    EngagementTrigger,
    EventTrigger,
    ExitStep,
    FlowSettings,
    Goal,
    GotoStep,
    HoldoutStep,
    InactivityTrigger,
    PropertyChanged,
    QuietHours,
    SegmentEntered,
    SegmentLeft,
    SendStep,
    SplitStep,
    SplitVariant,
    Trigger,
    UpdatePropertyStep,
    WaitForStep,
    WaitStep,
    WaitUntilDateStep,
    WaitUntilStep,
    WebhookStep,
)
from connector.engine.loader import parse_flow
from tests.unit.connector.engine.factories import rule

FULL = (Path(__file__).parents[1] / "full_flow.yaml").read_text()


def test_every_step_kind() -> None:
    flow = parse_flow(FULL, "flows/browse.yaml")
    assert flow.steps == (
        SendStep("hello", "welcome", "Still looking?", "Ann <ann@shop.example>"),
        WaitStep("step-2", timedelta(days=1)),
        WaitUntilStep("step-3", time(9), frozenset({0, 1, 2, 3, 4})),
        WaitUntilDateStep("step-4", "renewal_date", None, timedelta(days=-7), time(10)),
        WaitUntilDateStep("step-5", None, "delivered_at", timedelta(days=7), None),
        WaitForStep(
            "shipped",
            timedelta(days=14),
            "order.shipped",
            {"order_id": "{{ event.order_id }}"},
            None,
            "exit",
        ),
        WaitForStep("vip-wait", timedelta(days=7), segment="vip", on_timeout="route"),
        BranchStep(
            "route",
            (
                BranchCase(rule("{in_segment: vip}"), "step-a"),
                BranchCase(rule("{property: plan, eq: pro}"), "step-b"),
            ),
            otherwise="control",
        ),
        SplitStep("ab", (SplitVariant("a", 50, "step-a"), SplitVariant("b", 50, "step-b"))),
        HoldoutStep("control", 10, "control"),
        UpdatePropertyStep("step-a", "lifecyclestage", "opportunity"),
        CreateTaskStep("step-b", "Hot lead clicked pricing", "Call them", timedelta(days=1)),
        WebhookStep(
            "step-13", "https://hooks.example.com/x", {"any": "json", "n": [1, 2.5, None, True]}
        ),
        GotoStep("step-14", "hello"),
        ExitStep("step-15", "done"),
        ExitStep("step-16"),
    )


def test_every_setting() -> None:
    flow = parse_flow(FULL, "flows/browse.yaml")
    assert flow.settings == FlowSettings(
        transactional=False,
        exit_on_unsubscribe=True,
        reentry=Cooldown(timedelta(days=30)),
        status="paused",
        quiet_hours=QuietHours(time(21), time(8)),
        frequency_cap=False,
        goals=(Goal("purchased", rule("{event: order.completed}")),),
        exit_when=(rule("{property: lifecyclestage, eq: customer}"),),
    )
    assert flow.trigger == EventTrigger(
        "product.viewed",
        {"source": "web"},
        dedup="product.id",
        condition=rule("{property: lifecyclestage, neq: customer}"),
    )


def test_lines_are_kept_for_messages() -> None:
    lines = parse_flow(FULL, "flows/browse.yaml").lines
    assert lines["trigger"] == 4
    assert lines["goal:purchased"] == 18
    assert lines["exit_when:0"] == 20
    assert lines["step:hello"] == 22
    assert lines["step:route"] == 30


HEAD = "name: x\nsteps: [{send: a}]\ntrigger:\n"


@pytest.mark.parametrize(
    ("yaml", "expected"),
    [
        ("  type: contact.created", ContactCreated()),
        ("  type: property.changed\n  property: lifecyclestage", PropertyChanged("lifecyclestage")),
        (
            "  type: property.changed\n  property: lifecyclestage\n  from: lead\n  to: customer",
            PropertyChanged("lifecyclestage", "lead", "customer"),
        ),
        (
            "  type: property.changed\n  property: owner\n  from: null",
            PropertyChanged("owner", from_value=None, to_value=ANY),
        ),
        ("  type: segment.entered\n  segment: vip", SegmentEntered("vip")),
        ("  type: segment.left\n  segment: vip", SegmentLeft("vip")),
        (
            "  type: event\n  event: order.completed\n  dedup: order_id",
            EventTrigger("order.completed", dedup="order_id"),
        ),
        ("  type: date\n  property: birthday", DateTrigger("birthday")),
        (
            "  type: date\n  property: birthday\n  offset: -3d\n  yearly: true\n  at: 18:30",
            DateTrigger("birthday", timedelta(days=-3), True, time(18, 30)),
        ),
        ("  type: date\n  property: renewal\n  offset: 0", DateTrigger("renewal")),
        (
            "  type: date\n  property: renewal\n  offset: +1d12h",
            DateTrigger("renewal", timedelta(hours=36)),
        ),
        ("  type: inactivity\n  for: 90d", InactivityTrigger(timedelta(days=90))),
        ("  type: engagement\n  action: opened", EngagementTrigger("opened")),
        (
            "  type: engagement\n  action: clicked\n  template: launch\n  flow: welcome\n"
            "  step: hello\n  campaign: spring-sale\n  link: 'https://shop.example/p/*'",
            EngagementTrigger(
                "clicked", "launch", "welcome", "hello", "spring-sale", "https://shop.example/p/*"
            ),
        ),
        (
            "  type: segment.entered\n  segment: vip\n  if: {property: country, eq: FR}",
            SegmentEntered("vip", condition=rule("{property: country, eq: FR}")),
        ),
    ],
)
def test_every_trigger_type(yaml: str, expected: Trigger) -> None:
    assert parse_flow(f"{HEAD}{yaml}\n", "flows/t.yaml").trigger == expected


def test_event_references_have_one_spelling() -> None:
    def where_of(value: str) -> tuple[dict[str, object], str]:
        text = (
            "name: x\ntrigger: {type: event, event: e}\nsteps:\n"
            f"  - wait_for: {{event: f, timeout: 1d, where: {{id: '{value}'}}}}\n"
        )
        flow = parse_flow(text, "flows/x.yaml")
        step = flow.steps[0]
        assert isinstance(step, WaitForStep)
        return dict(step.where), flow.version

    assert where_of("{{event.order.id}}") == where_of("{{  event.order.id }}")
    assert where_of("{{event.id}}")[0] == {"id": "{{ event.id }}"}
