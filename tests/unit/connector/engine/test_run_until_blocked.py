"""run_until_blocked(): decisions applied in order until the enrollment has to wait."""

from __future__ import annotations

from datetime import timedelta

from connector.engine.flows import (
    BranchCase,
    BranchStep,
    CreateTaskStep,
    GotoStep,
    SendStep,
    UpdatePropertyStep,
    WaitForStep,
    WebhookStep,
)
from connector.engine.run import (
    CallWebhook,
    Complete,
    CreateTask,
    Exit,
    Jump,
    Send,
    Sleep,
    UpdateProperty,
    run_until_blocked,
)
from tests.unit.connector.engine.factories import NOW, facts, make_flow, rule, state


def test_actions_and_jumps_run_on_until_a_wait() -> None:
    flow = make_flow(
        CreateTaskStep("task", "Call"),
        WebhookStep("hook", "https://hooks.example.com/x"),
        GotoStep("skip", "wait"),
        SendStep("never", "never"),
        WaitForStep("wait", timedelta(days=1), segment="vip"),
    )
    assert run_until_blocked(flow, state(), facts(), NOW) == [
        CreateTask("task", "Call", None, None, 1),
        CallWebhook("hook", "https://hooks.example.com/x", {}, 2),
        Jump("skip", 4, "goto"),
        # step_started_at was reset to now by the jump: the timeout counts from now
        Sleep("wait", NOW + timedelta(days=1), 4, "wait for", "segment:vip"),
    ]


def test_an_old_start_time_is_not_carried_to_the_next_step() -> None:
    flow = make_flow(SendStep("hi", "hi"), WaitForStep("wait", timedelta(days=1), segment="vip"))
    decisions = run_until_blocked(flow, state(0, started=NOW - timedelta(days=5)), facts(), NOW)
    assert decisions[-1] == Sleep("wait", NOW + timedelta(days=1), 1, "wait for", "segment:vip")


def test_an_updated_property_is_seen_by_later_steps() -> None:
    flow = make_flow(
        UpdatePropertyStep("promote", "lifecyclestage", "opportunity"),
        BranchStep(
            "route", (BranchCase(rule("{property: lifecyclestage, eq: opportunity}"), "sales"),)
        ),
        SendStep("marketing", "nurture"),
        SendStep("sales", "demo"),
    )
    assert run_until_blocked(flow, state(), facts(), NOW) == [
        UpdateProperty("promote", "lifecyclestage", "opportunity", 1),
        Jump("route", 3, "branch: case 1"),
        Send("sales", "demo", None, None, 4),
        Complete(),
    ]


def test_a_loop_without_a_wait_stops_with_an_exit() -> None:
    flow = make_flow(SendStep("a", "a"), GotoStep("back", "a"))
    assert run_until_blocked(flow, state(), facts(), NOW) == [
        Send("a", "a", None, None, 1),
        Jump("back", 0, "goto"),
        Exit("a", "loop without a wait"),
    ]


def test_a_loop_that_keeps_changing_a_property_is_stopped_too() -> None:
    flow = make_flow(
        UpdatePropertyStep("on", "flag", "on"),
        UpdatePropertyStep("off", "flag", "off"),
        GotoStep("again", "on"),
    )
    decisions = run_until_blocked(flow, state(), facts(), NOW)
    assert len(decisions) == 1001
    assert isinstance(decisions[-1], Exit) and decisions[-1].reason == "loop without a wait"
