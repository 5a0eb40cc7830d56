"""decide() for every step kind, with the contact's timezone where it matters."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from connector.engine.facts import EventFact
from connector.engine.flows import (
    BranchCase,
    BranchStep,
    CreateTaskStep,
    ExitStep,
    Flow,
    GotoStep,
    SendStep,
    UpdatePropertyStep,
    WaitForStep,
    WaitUntilDateStep,
    WaitUntilStep,
    WebhookStep,
)
from connector.engine.run import (
    CallWebhook,
    CreateTask,
    Exit,
    Jump,
    Send,
    Sleep,
    UpdateProperty,
    decide,
)
from tests.unit.connector.engine.factories import NOW, facts, make_flow, rule, state

NY = ZoneInfo("America/New_York")
PARIS = ZoneInfo("Europe/Paris")
MON_FRI = frozenset(range(5))
TAIL = SendStep(id="after", template="after")


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


# -- send -------------------------------------------------------------------------------


def test_send_carries_subject_and_sender_overrides() -> None:
    flow = make_flow(SendStep("hello", "welcome", "Hi!", "Ann <ann@shop.example>"))
    assert decide(flow, state(), facts(), NOW) == Send(
        "hello", "welcome", "Hi!", "Ann <ann@shop.example>", next_cursor=1
    )


# -- wait until a time of day -----------------------------------------------------------


def wait_until(at: str, weekdays: frozenset[int] | None = None) -> WaitUntilStep:
    hours, minutes = map(int, at.split(":"))
    return WaitUntilStep("until", time(hours, minutes), weekdays)


@pytest.mark.parametrize(
    ("local_now", "expected_local"),
    [
        # Friday after 09:00 -> Monday 09:00, over the weekend
        (datetime(2026, 1, 9, 10, 0, tzinfo=PARIS), datetime(2026, 1, 12, 9, 0, tzinfo=PARIS)),
        # Friday before 09:00 -> the same day
        (datetime(2026, 1, 9, 8, 0, tzinfo=PARIS), datetime(2026, 1, 9, 9, 0, tzinfo=PARIS)),
        # exactly 09:00 -> strictly after: the next weekday
        (datetime(2026, 1, 9, 9, 0, tzinfo=PARIS), datetime(2026, 1, 12, 9, 0, tzinfo=PARIS)),
        # Saturday -> Monday
        (datetime(2026, 1, 10, 7, 0, tzinfo=PARIS), datetime(2026, 1, 12, 9, 0, tzinfo=PARIS)),
        # a weekend with the switch to summer time: Monday 09:00 is 07:00 UTC, not 08:00
        (datetime(2026, 3, 27, 10, 0, tzinfo=PARIS), datetime(2026, 3, 30, 9, 0, tzinfo=PARIS)),
    ],
)
def test_wait_until_weekdays_in_the_contacts_timezone(
    local_now: datetime, expected_local: datetime
) -> None:
    flow = make_flow(wait_until("09:00", MON_FRI), TAIL)
    decision = decide(flow, state(), facts(timezone="Europe/Paris"), local_now)
    assert decision == Sleep("until", expected_local.astimezone(UTC), 1, "wait until")
    assert decision.until.tzinfo is UTC


def test_wait_until_without_weekdays_is_the_next_such_time() -> None:
    flow = make_flow(wait_until("09:00"), TAIL)
    saturday = datetime(2026, 1, 10, 10, 0, tzinfo=NY)
    decision = decide(flow, state(), facts(timezone="America/New_York"), saturday)
    assert decision == Sleep("until", utc(2026, 1, 11, 14, 0), 1, "wait until")


def test_unknown_timezone_falls_back_to_utc() -> None:
    flow = make_flow(wait_until("09:00"), TAIL)
    decision = decide(flow, state(), facts(timezone="Mars/Olympus_Mons"), utc(2026, 1, 5, 8))
    assert decision == Sleep("until", utc(2026, 1, 5, 9), 1, "wait until")


# -- wait until a date ------------------------------------------------------------------


RENEWAL = WaitUntilDateStep(
    "before-renewal", property="renewal_date", offset=timedelta(days=-7), at=time(10)
)
DELIVERED = WaitUntilDateStep("after-delivery", event_property="delivered_at", offset=timedelta(7))


@pytest.mark.parametrize(
    "value",
    ["2026-02-01", 1_769_904_000_000, "1769904000000", "2026-02-01T18:00:00Z"],
    ids=["iso date", "epoch ms", "epoch ms text", "iso datetime"],
)
def test_wait_until_a_date_property(value: object) -> None:
    flow = make_flow(RENEWAL, TAIL)
    contact = facts(timezone="America/New_York", properties={"renewal_date": value})
    # 7 days before 1 February at 10:00 in New York (EST, UTC-5)
    assert decide(flow, state(), contact, NOW) == Sleep(
        "before-renewal", utc(2026, 1, 25, 15), 1, "wait until"
    )


def test_wait_until_an_event_property_keeps_its_time_of_day_across_dst() -> None:
    flow = make_flow(DELIVERED, TAIL)
    delivered = {"name": "order.delivered", "delivered_at": "2026-03-05T14:32:00Z"}
    contact = facts(timezone="America/New_York")
    decision = decide(flow, state(event=delivered), contact, utc(2026, 3, 5, 15))
    # 09:32 EST + 7 days is 09:32 EDT: 13:32 UTC after the switch on 8 March
    assert decision == Sleep("after-delivery", utc(2026, 3, 12, 13, 32), 1, "wait until")


@pytest.mark.parametrize(
    ("step", "properties", "event", "reason"),
    [
        (RENEWAL, {}, None, "date missing: property renewal_date"),
        (RENEWAL, {"renewal_date": ""}, None, "date missing: property renewal_date"),
        (
            RENEWAL,
            {"renewal_date": "soon"},
            None,
            "date unreadable: property renewal_date = 'soon'",
        ),
        (RENEWAL, {"renewal_date": "2026-01-10"}, None, "date passed: property renewal_date"),
        (
            RENEWAL,
            {"renewal_date": "0001-01-02"},
            None,
            "date unreadable: property renewal_date = '0001-01-02'",
        ),
        (DELIVERED, {}, None, "date missing: event_property delivered_at"),
        (DELIVERED, {}, {"name": "x"}, "date missing: event_property delivered_at"),
        (
            DELIVERED,
            {},
            {"delivered_at": True},
            "date unreadable: event_property delivered_at = True",
        ),
    ],
)
def test_wait_until_a_date_without_a_usable_date_goes_on_at_once(
    step: WaitUntilDateStep,
    properties: dict[str, object],
    event: dict[str, object] | None,
    reason: str,
) -> None:
    flow = make_flow(step, TAIL)
    decision = decide(flow, state(event=event), facts(properties=properties), NOW)
    assert decision == Jump(step.id, 1, reason)


# -- wait for an event or a segment -----------------------------------------------------


SHIPPED = WaitForStep(
    "shipped",
    timeout=timedelta(days=14),
    event="order.shipped",
    where={"order_id": "{{ event.order_id }}"},
    on_timeout="exit",
)
ORDER = {"name": "order.completed", "order_id": "A1"}
T0 = NOW


def shipped(order_id: str, at: datetime) -> EventFact:
    return EventFact("order.shipped", at, {"order_id": order_id})


def wait_for_flow(step: WaitForStep = SHIPPED) -> Flow:
    return make_flow(SendStep("thanks", "thanks"), step, TAIL, SendStep("other", "other"))


def test_wait_for_sleeps_until_the_timeout_and_says_what_would_wake_it() -> None:
    other_order = facts(events=(shipped("A2", T0 + timedelta(days=1)),))
    decision = decide(
        wait_for_flow(), state(1, started=T0, event=ORDER), other_order, T0 + timedelta(days=2)
    )
    assert decision == Sleep(
        "shipped", T0 + timedelta(days=14), 1, "wait for", waiting_for="event:order.shipped"
    )


def test_wait_for_is_met_by_a_matching_event_after_the_step_started() -> None:
    contact = facts(events=(shipped("A1", T0 + timedelta(days=2)),))
    decision = decide(
        wait_for_flow(), state(1, started=T0, event=ORDER), contact, T0 + timedelta(days=2)
    )
    assert decision == Jump("shipped", 2, "wait for met: event:order.shipped")


@pytest.mark.parametrize(
    "at",
    [T0 - timedelta(hours=1), T0 + timedelta(days=3)],
    ids=["before the step started", "not yet happened"],
)
def test_wait_for_ignores_events_outside_the_step(at: datetime) -> None:
    contact = facts(events=(shipped("A1", at),))
    decision = decide(
        wait_for_flow(), state(1, started=T0, event=ORDER), contact, T0 + timedelta(days=2)
    )
    assert isinstance(decision, Sleep)


def test_wait_for_with_a_reference_the_trigger_event_lacks_never_matches() -> None:
    contact = facts(events=(shipped("A1", T0 + timedelta(hours=1)),))
    decision = decide(
        wait_for_flow(), state(1, started=T0, event={"name": "x"}), contact, T0 + timedelta(hours=2)
    )
    assert isinstance(decision, Sleep)


@pytest.mark.parametrize(
    ("on_timeout", "expected"),
    [
        ("exit", Exit("shipped", "wait_for timeout")),
        ("next", Jump("shipped", 2, "wait for timeout: event:order.shipped")),
        ("other", Jump("shipped", 3, "wait for timeout: event:order.shipped")),
    ],
)
def test_wait_for_timeout(on_timeout: str, expected: object) -> None:
    step = WaitForStep("shipped", timedelta(days=14), "order.shipped", {}, None, on_timeout)
    decision = decide(wait_for_flow(step), state(1, started=T0), facts(), T0 + timedelta(days=14))
    assert decision == expected


def test_wait_for_without_a_start_time_starts_now() -> None:
    decision = decide(wait_for_flow(), state(1), facts(), NOW)
    assert isinstance(decision, Sleep) and decision.until == NOW + timedelta(days=14)


def test_wait_for_a_segment() -> None:
    step = WaitForStep("vip", timedelta(days=7), segment="vip", on_timeout="exit")
    flow = wait_for_flow(step)
    waiting = decide(flow, state(1, started=T0), facts(), T0)
    assert waiting == Sleep("vip", T0 + timedelta(days=7), 1, "wait for", "segment:vip")
    met = decide(flow, state(1, started=T0), facts(segments=frozenset({"vip"})), T0)
    assert met == Jump("vip", 2, "wait for met: segment:vip")


# -- branch, goto, exit -----------------------------------------------------------------


BRANCH = BranchStep(
    "route",
    (
        BranchCase(rule("{property: plan, eq: pro}"), "pro"),
        BranchCase(rule("{property: plan, in: [pro, team]}"), "team"),
    ),
    otherwise="free",
)
ROUTED = make_flow(
    BRANCH, SendStep("pro", "pro"), SendStep("team", "team"), SendStep("free", "free")
)


@pytest.mark.parametrize(
    ("plan", "expected"),
    [
        ("pro", Jump("route", 1, "branch: case 1")),  # first match wins
        ("team", Jump("route", 2, "branch: case 2")),
        ("free", Jump("route", 3, "branch: else")),
    ],
)
def test_branch(plan: str, expected: Jump) -> None:
    assert decide(ROUTED, state(), facts(properties={"plan": plan}), NOW) == expected


def test_branch_without_else_falls_through() -> None:
    flow = make_flow(BranchStep("route", BRANCH.cases), SendStep("pro", "p"), SendStep("team", "t"))
    assert decide(flow, state(), facts(), NOW) == Jump("route", 1, "branch: no match")


def test_goto_and_exit_with_a_reason() -> None:
    flow = make_flow(GotoStep("jump", "bye"), TAIL, ExitStep("bye", reason="not for them"))
    assert decide(flow, state(), facts(), NOW) == Jump("jump", 2, "goto")
    assert decide(flow, state(2), facts(), NOW) == Exit("bye", "not for them")


# -- CRM and webhook actions ------------------------------------------------------------


def test_actions_carry_their_payload_and_move_on() -> None:
    flow = make_flow(
        UpdatePropertyStep("promote", "lifecyclestage", "opportunity"),
        CreateTaskStep("task", "Hot lead clicked pricing", "Call today", timedelta(days=1)),
        WebhookStep("hook", "https://hooks.example.com/x", {"a": [1, {"b": None}]}),
    )
    assert decide(flow, state(0), facts(), NOW) == UpdateProperty(
        "promote", "lifecyclestage", "opportunity", 1
    )
    assert decide(flow, state(1), facts(), NOW) == CreateTask(
        "task", "Hot lead clicked pricing", "Call today", timedelta(days=1), 2
    )
    hook = decide(flow, state(2), facts(), NOW)
    assert hook == CallWebhook("hook", "https://hooks.example.com/x", {"a": [1, {"b": None}]}, 3)
    assert isinstance(hook, CallWebhook) and type(hook.body) is dict  # JSON-ready
    assert type(hook.body["a"]) is list
