"""Seed scenarios run through the engine alone on a virtual clock, applying decisions the
way the services do (cursor, step_started_at, early wake-ups for wait_for)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from datetime import UTC, datetime, timedelta

from connector.engine.facts import ContactFacts, EventFact
from connector.engine.flows import Flow
from connector.engine.loader import parse_flow
from connector.engine.run import Complete, EnrollmentState, Exit, Send, Sleep, decide
from tests.unit.connector.engine.factories import NOW, facts

POST_PURCHASE = """\
id: post-purchase
name: Post-purchase
trigger: {type: event, event: order.completed, dedup: order_id}
settings: {reentry: always}
steps:
  - {id: thanks, send: order-thanks}
  - {wait: 1d}
  - {id: survey, send: order-survey}
  - id: shipped
    wait_for:
      event: order.shipped
      where: {order_id: "{{ event.order_id }}"}
      timeout: 30d
      on_timeout: exit
  - {id: tracking, send: tracking-update}
  - id: delivered
    wait_for: {event: order.delivered, where: {order_id: "{{ event.order_id }}"}, timeout: 30d}
  - {wait: 7d}
  - {id: review, send: review-request}
  - {wait: 14d}
  - {id: referral, send: referral-offer}
  - {wait: {until_date: {event_property: ordered_at, offset: 365d, at: "10:00"}}}
  - {id: anniversary, send: anniversary-offer}
"""


def simulate(
    flow: Flow, contact: ContactFacts, trigger: Mapping[str, object], days: int
) -> list[tuple[float, str]]:
    """(days since entry, template) of every send, or ("exit: reason") at the end."""
    start = now = NOW
    state = EnrollmentState(0, start, start, {"event": trigger})
    events = sorted(contact.events, key=lambda e: e.at)
    timeline: list[tuple[float, str]] = []
    while now <= start + timedelta(days=days):
        seen = replace(contact, events=tuple(e for e in events if e.at <= now))
        decision = decide(flow, state, seen, now)
        at = (now - start) / timedelta(days=1)
        if isinstance(decision, Exit | Complete):
            timeline.append(
                (at, f"exit: {decision.reason}" if isinstance(decision, Exit) else "done")
            )
            return timeline
        if isinstance(decision, Sleep):
            wake = decision.until
            if decision.waiting_for is not None:  # the services wake it when the event comes
                wake = min([wake, *(e.at for e in events if now < e.at < wake)])
            moved = decision.next_cursor != state.cursor
            state = replace(
                state,
                cursor=decision.next_cursor,
                step_started_at=wake if moved else (state.step_started_at or now),
            )
            now = wake
            continue
        if isinstance(decision, Send):
            timeline.append((at, decision.template))
        state = replace(state, cursor=decision.next_cursor, step_started_at=now)
    return timeline


def event(name: str, days: float, **properties: object) -> EventFact:
    return EventFact(name, NOW + timedelta(days=days), properties)


def test_post_purchase_sends_six_emails_at_the_right_days() -> None:
    flow = parse_flow(POST_PURCHASE, "flows/post-purchase.yaml")
    contact = facts(
        events=(
            event("order.shipped", 1.5, order_id="OTHER"),  # another order: not this one
            event("order.shipped", 2.5, order_id="A1"),
            event("order.delivered", 4, order_id="A1"),
        )
    )
    trigger = {"name": "order.completed", "order_id": "A1", "ordered_at": NOW.isoformat()}
    assert simulate(flow, contact, trigger, days=400) == [
        (0, "order-thanks"),
        (1, "order-survey"),
        (2.5, "tracking-update"),
        (11, "review-request"),  # a week after delivery
        (25, "referral-offer"),  # two weeks after that
        (365 + 1 / 24, "anniversary-offer"),  # a year after the order, at 10:00 UTC
        (365 + 1 / 24, "done"),
    ]


def test_post_purchase_stops_when_the_order_never_ships() -> None:
    flow = parse_flow(POST_PURCHASE, "flows/post-purchase.yaml")
    trigger = {"name": "order.completed", "order_id": "A1"}
    assert simulate(flow, facts(), trigger, days=60) == [
        (0, "order-thanks"),
        (1, "order-survey"),
        (31, "exit: wait_for timeout"),
    ]


BROWSE = """\
id: browse-abandonment
name: Browse abandonment
trigger: {type: event, event: product.viewed}
settings:
  goals: [{name: purchased, when: {event: order.completed}}]
steps:
  - {send: who-we-are}
  - {wait: 1d}
  - {send: bestsellers}
  - {wait: 2d}
  - {send: offer}
  - {wait: 2d}
  - {send: offer-expiring}
"""


def test_browse_abandonment_ends_with_a_purchase() -> None:
    flow = parse_flow(BROWSE, "flows/browse-abandonment.yaml")
    old_order = event("order.completed", -30)  # before entering: does not count
    assert simulate(flow, facts(events=(old_order,)), {"name": "product.viewed"}, 10) == [
        (0, "who-we-are"),
        (1, "bestsellers"),
        (3, "offer"),
        (5, "offer-expiring"),
        (5, "done"),
    ]
    bought = facts(events=(old_order, event("order.completed", 2)))
    assert simulate(flow, bought, {"name": "product.viewed"}, 10) == [
        (0, "who-we-are"),
        (1, "bestsellers"),
        (3, "exit: goal:purchased"),
    ]


def test_wait_for_since_entry_counts_an_event_before_the_step() -> None:
    flow = parse_flow(
        POST_PURCHASE.replace("      timeout: 30d\n      on_timeout: exit",
                              "      since: entry\n      timeout: 30d\n      on_timeout: exit"),
        "flows/post-purchase.yaml",
    )
    contact = facts(events=(event("order.shipped", 0.5, order_id="A1"),
                            event("order.delivered", 4, order_id="A1")))
    trigger = {"name": "order.completed", "order_id": "A1", "ordered_at": NOW.isoformat()}
    timeline = simulate(flow, contact, trigger, days=30)
    # Shipped before the survey went out: the tracking email follows the survey at once.
    assert timeline[:3] == [(0, "order-thanks"), (1, "order-survey"), (1, "tracking-update")]


def test_wait_for_since_step_misses_an_event_before_the_step() -> None:
    flow = parse_flow(POST_PURCHASE, "flows/post-purchase.yaml")
    contact = facts(events=(event("order.shipped", 0.5, order_id="A1"),))
    trigger = {"name": "order.completed", "order_id": "A1"}
    assert simulate(flow, contact, trigger, days=40)[-1] == (31, "exit: wait_for timeout")


def test_until_date_years_is_a_calendar_year_even_across_a_leap_day() -> None:
    flow = parse_flow(
        "name: Y\ntrigger: {type: event, event: order.completed}\nsteps:\n"
        "  - {id: year, wait: {until_date: {event_property: at, years: 1, at: '10:00'}}}\n"
        "  - {id: promo, send: purchase-anniversary}\n",
        "flows/y.yaml",
    )
    bought = datetime(2027, 3, 2, 15, 0, tzinfo=UTC)  # 2028 has a 29 February
    state = EnrollmentState(0, bought, bought, {"event": {"at": bought.isoformat()}})
    decision = decide(flow, state, facts(), bought)
    assert isinstance(decision, Sleep)
    assert decision.until == datetime(2028, 3, 2, 10, 0, tzinfo=UTC)
    leap = datetime(2028, 2, 29, 9, 0, tzinfo=UTC)
    state = EnrollmentState(0, leap, leap, {"event": {"at": leap.isoformat()}})
    decision = decide(flow, state, facts(), leap)
    assert isinstance(decision, Sleep) and decision.until == datetime(2029, 2, 28, 10, 0,
                                                                       tzinfo=UTC)


def test_until_date_years_must_be_a_whole_number() -> None:
    from connector.engine.loader import FlowErrors

    text = ("name: Y\ntrigger: {type: contact.created}\nsteps:\n"
            "  - {wait: {until_date: {property: renewal_date, years: 1.5}}}\n")
    try:
        parse_flow(text, "flows/y.yaml")
    except FlowErrors as exc:
        assert [str(e) for e in exc.errors] == [
            "flows/y.yaml:4: step 1: wait: until_date: years: expected a whole number of "
            "years, got a number 1.5"]
    else:
        raise AssertionError("years: 1.5 was accepted")
