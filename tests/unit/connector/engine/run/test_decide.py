"""decide() and run_until_blocked(): what an enrollment does next, at a given time."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from connector.engine.facts import ContactFacts
from connector.engine.flows import ContactCreated, ExitStep, Flow, FlowSettings, SendStep, WaitStep
from connector.engine.loader import load_flows
from connector.engine.run import (
    Complete,
    EnrollmentState,
    Exit,
    Send,
    Sleep,
    decide,
    run_until_blocked,
)

ROOT = Path(__file__).resolve().parents[5]
NOW = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
ANN = ContactFacts(email="ann@example.com", suppressed=False, properties={"firstname": "Ann"})
GONE = ContactFacts(email="bob@example.com", suppressed=True, properties={})


def at(cursor: int, entered_at: datetime = NOW) -> EnrollmentState:
    return EnrollmentState(cursor=cursor, entered_at=entered_at)


def make_flow(*steps: SendStep | WaitStep | ExitStep, **settings: object) -> Flow:
    return Flow.create(
        key="f",
        name="F",
        trigger=ContactCreated(),
        steps=steps,
        settings=FlowSettings(**settings),  # type: ignore[arg-type]
    )


FLOW = make_flow(
    SendStep(id="hello", template="welcome", subject="Hi {{ contact.firstname }}"),
    WaitStep(id="pause", duration=timedelta(days=2)),
    ExitStep(id="stop"),
    SendStep(id="never", template="unreachable"),
)


def test_send_step() -> None:
    assert decide(FLOW, at(0), ANN, NOW) == Send(
        step_id="hello",
        template="welcome",
        subject="Hi {{ contact.firstname }}",
        sender=None,
        next_cursor=1,
    )


def test_wait_step_sleeps_until_now_plus_duration() -> None:
    assert decide(FLOW, at(1), ANN, NOW) == Sleep(
        step_id="pause", until=datetime(2026, 1, 7, 9, 0, tzinfo=UTC), next_cursor=2, reason="wait"
    )


def test_wait_is_elapsed_time_in_utc_across_a_dst_change() -> None:
    paris = ZoneInfo("Europe/Paris")
    before_dst = datetime(2026, 3, 28, 12, 0, tzinfo=paris)  # clocks go forward on the 29th
    decision = decide(
        make_flow(WaitStep(id="w", duration=timedelta(days=1))), at(0), ANN, before_dst
    )
    assert isinstance(decision, Sleep)
    assert decision.until == datetime(2026, 3, 29, 11, 0, tzinfo=UTC)  # 13:00 in Paris
    assert decision.until.tzinfo is UTC
    assert decision.until - before_dst.astimezone(UTC) == timedelta(hours=24)


def test_wait_from_another_offset_is_the_same_instant() -> None:
    plus_two = timezone(timedelta(hours=2))
    decision = decide(FLOW, at(1), ANN, NOW.astimezone(plus_two))
    assert isinstance(decision, Sleep)
    assert decision.until == NOW + timedelta(days=2)
    assert decision.until.tzinfo is UTC


def test_exit_step() -> None:
    assert decide(FLOW, at(2), ANN, NOW) == Exit(step_id="stop", reason="exit step")


def test_past_the_last_step_is_complete() -> None:
    assert decide(FLOW, at(4), ANN, NOW) == Complete()


def test_suppressed_contact_exits_before_any_step() -> None:
    for cursor in range(len(FLOW.steps)):
        assert decide(FLOW, at(cursor), GONE, NOW) == Exit(step_id=None, reason="unsubscribed")


def test_suppressed_contact_at_the_end_still_completes() -> None:
    assert decide(FLOW, at(4), GONE, NOW) == Complete()


def test_suppression_is_ignored_when_the_flow_says_so() -> None:
    receipts = make_flow(SendStep(id="receipt", template="receipt"), exit_on_unsubscribe=False)
    assert decide(receipts, at(0), GONE, NOW) == Send(
        "receipt", "receipt", None, None, next_cursor=1
    )


@pytest.mark.parametrize(
    "naive", [datetime(2026, 1, 5, 9, 0), datetime(2026, 1, 5, 9, 0).replace(tzinfo=None)]
)
def test_naive_now_is_rejected(naive: datetime) -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        decide(FLOW, at(0), ANN, naive)
    with pytest.raises(ValueError, match="timezone-aware"):
        run_until_blocked(FLOW, at(0), ANN, naive)


@pytest.mark.parametrize("cursor", [-1, 5, 100, True])
def test_cursor_outside_the_flow_is_rejected(cursor: int) -> None:
    with pytest.raises(ValueError, match=r"outside flow 'f' \(0\.\.4\)"):
        decide(FLOW, at(cursor), ANN, NOW)


def test_run_until_blocked_over_the_shipped_welcome_flow() -> None:
    welcome = load_flows(ROOT / "flows")["welcome"]

    first = run_until_blocked(welcome, at(0), ANN, NOW)
    assert first == [
        Send("welcome", "welcome", None, None, next_cursor=1),
        Sleep("wait-before-getting-started", NOW + timedelta(days=2), next_cursor=2, reason="wait"),
    ]

    later = NOW + timedelta(days=2)
    second = run_until_blocked(welcome, at(2), ANN, later)
    assert second == [
        Send("getting-started", "getting-started", None, None, next_cursor=3),
        Sleep("wait-before-offer", later + timedelta(days=3), next_cursor=4, reason="wait"),
    ]

    last = run_until_blocked(welcome, at(4), ANN, later + timedelta(days=3))
    assert last == [Send("first-offer", "first-offer", None, None, next_cursor=5), Complete()]


def test_run_until_blocked_stops_at_an_exit_and_on_suppression() -> None:
    assert run_until_blocked(FLOW, at(2), ANN, NOW) == [Exit("stop", "exit step")]
    assert run_until_blocked(FLOW, at(0), GONE, NOW) == [Exit(None, "unsubscribed")]


def test_run_until_blocked_lists_consecutive_sends() -> None:
    burst = make_flow(*(SendStep(id=f"s{i}", template=f"t{i}") for i in range(3)))
    assert run_until_blocked(burst, at(1), ANN, NOW) == [
        Send("s1", "t1", None, None, next_cursor=2),
        Send("s2", "t2", None, None, next_cursor=3),
        Complete(),
    ]


def test_simulating_a_whole_enrollment_on_a_virtual_clock() -> None:
    # What `flows simulate` does: apply each decision, jump the clock to each wake-up.
    welcome = load_flows(ROOT / "flows")["welcome"]
    now, cursor, sent = NOW, 0, []
    while True:
        decisions = run_until_blocked(welcome, EnrollmentState(cursor, NOW, now), ANN, now)
        sent += [(d.template, now) for d in decisions if isinstance(d, Send)]
        last = decisions[-1]
        if not isinstance(last, Sleep):
            break
        now, cursor = last.until, last.next_cursor
    assert last == Complete()
    assert sent == [
        ("welcome", NOW),
        ("getting-started", NOW + timedelta(days=2)),
        ("first-offer", NOW + timedelta(days=5)),
    ]
