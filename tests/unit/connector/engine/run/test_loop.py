"""The run loop (Run, run_until_blocked): decisions applied in order until the enrollment
has to wait, and loops without a wait stopped."""

from __future__ import annotations

from datetime import timedelta

from connector.engine.facts import SendFact
from connector.engine.flows import (
    BranchCase,
    BranchStep,
    CreateTaskStep,
    GotoStep,
    SendStep,
    UpdatePropertyStep,
    WaitForStep,
    WaitStep,
    WebhookStep,
)
from connector.engine.run import (
    EXIT_LOOP,
    MAX_RUN_DECISIONS,
    CallWebhook,
    Complete,
    CreateTask,
    Exit,
    Jump,
    Policy,
    Run,
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
        # facts changed by the first send: one more turn (the services skip this send as
        # already sent), then the same step with the same facts is a loop
        Send("a", "a", None, None, 1),
        Exit("back", "loop without a wait"),
    ]


def test_a_loop_that_keeps_changing_a_property_is_stopped_too() -> None:
    flow = make_flow(
        UpdatePropertyStep("on", "flag", "on"),
        UpdatePropertyStep("off", "flag", "off"),
        GotoStep("again", "on"),
    )
    # Stopped as soon as a step comes back with facts it has run with before: one turn.
    assert run_until_blocked(flow, state(), facts(), NOW) == [
        UpdateProperty("on", "flag", "on", 1),
        UpdateProperty("off", "flag", "off", 2),
        Jump("again", 0, "goto"),
        UpdateProperty("on", "flag", "on", 1),
        Exit("off", EXIT_LOOP),
    ]


def test_a_run_that_never_repeats_itself_stops_at_the_cap() -> None:
    flow = make_flow(SendStep("a", "a"), GotoStep("back", "a"))
    run = Run(flow, state(), facts(), NOW)
    decisions = []
    for decision in run:
        decisions.append(decision)
        if isinstance(decision, Send):
            run.sent()  # a caller that reports a new send every time: facts never repeat
    assert len(decisions) == MAX_RUN_DECISIONS + 1
    assert decisions[-1] == Exit("a", EXIT_LOOP)
    assert len(run.facts.sends) == MAX_RUN_DECISIONS // 2


def test_sends_of_a_run_count_towards_the_frequency_cap() -> None:
    flow = make_flow(SendStep("one", "one"), SendStep("two", "two"))
    capped = Policy(frequency_cap=(1, timedelta(days=7)))
    assert run_until_blocked(flow, state(), facts(), NOW, capped) == [
        Send("one", "one", None, None, 1),
        Sleep("two", NOW + timedelta(days=7), 1, "frequency cap"),
    ]


def test_a_run_keeps_its_state_and_facts_current() -> None:
    flow = make_flow(
        UpdatePropertyStep("promote", "stage", "customer"),
        SendStep("hi", "hi"),
        WaitStep("pause", timedelta(days=1)),
        key="promo",
    )
    run = Run(flow, state(started=NOW - timedelta(days=3)), facts(), NOW)
    seen = []
    for decision in run:
        seen.append((run.state.cursor, run.state.step_started_at))
        if isinstance(decision, Send):
            run.sent()
    assert seen == [(0, NOW - timedelta(days=3)), (1, NOW), (2, NOW)]
    assert run.facts.properties == {"stage": "customer"}
    assert run.facts.sends == (SendFact(at=NOW, flow="promo", transactional=False),)


def test_a_skipped_send_is_not_counted() -> None:
    flow = make_flow(SendStep("hi", "hi"), WaitStep("pause", timedelta(days=1)))
    run = Run(flow, state(), facts(), NOW)
    assert [type(d) for d in run] == [Send, Sleep]  # nothing reported: nothing went out
    assert run.facts.sends == ()
