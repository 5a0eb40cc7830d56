"""The shipped seed flows, each run over virtual time through the real stack
(`connector.cli.simulate`: services, jobs, engine, a real database and Redis)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from connector.cli.simulate import SimulatedEvent, TimelineEntry, simulate
from connector.settings import Settings
from tests.support.paths import ROOT

T0 = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)  # a Monday
CONTACT = {"email": "alan@example.com", "timezone": "Europe/London",
           "properties": {"firstname": "Alan"}}


def at(days: float = 0, hours: float = 0) -> datetime:
    return T0 + timedelta(days=days, hours=hours)


def sends(timeline: list[TimelineEntry]) -> list[tuple[float, str | None]]:
    """(days after T0, template) of every email."""
    return [(round((e.at - T0) / timedelta(days=1), 3), e.template)
            for e in timeline if e.action == "send"]


def run(settings: Settings, flow: str, events: list[SimulatedEvent], days: int,
        contact: dict[str, Any] | None = None, start: datetime = T0) -> list[TimelineEntry]:
    return simulate(settings, ROOT / "flows" / f"{flow}.yaml", contact or CONTACT, events,
                    start=start, days=days)


ORDER = {"order_id": "1001", "total": "59.00", "currency": "EUR",
         "items": [{"name": "Desk organiser", "quantity": 1, "price": "39.00"}]}


def test_post_purchase_six_emails_at_the_right_days(settings: Settings) -> None:
    timeline = run(settings, "post-purchase", [
        SimulatedEvent("order.completed", at(0), ORDER),
        SimulatedEvent("order.shipped", at(1, 5), {"order_id": "1001", "carrier": "DHL"}),
        SimulatedEvent("order.delivered", at(3, 2), {"order_id": "1001"}),
    ], days=400)
    assert sends(timeline) == [
        (0, "order-thanks"),            # within a minute of the purchase
        (1, "order-survey"),            # the next day
        (1.208, "order-shipped"),       # when it ships
        (10.083, "review-request"),     # a week after delivery
        (24.083, "referral-offer"),     # two weeks after that
        (365, "purchase-anniversary"),  # the purchase's first anniversary, 10:00 London
    ]
    assert timeline[-1].action == "complete"


def test_post_purchase_ignores_another_orders_shipment(settings: Settings) -> None:
    timeline = run(settings, "post-purchase", [
        SimulatedEvent("order.completed", at(0), ORDER),
        SimulatedEvent("order.shipped", at(2), {"order_id": "9999"}),
    ], days=40)
    assert "order-shipped" not in [t for _, t in sends(timeline)]


def test_browse_abandonment_four_emails_and_a_purchase_ends_it(settings: Settings) -> None:
    viewed = SimulatedEvent("product.viewed", at(0), {"product": {"name": "Linen notebook"}})
    assert [t for _, t in sends(run(settings, "browse-abandonment", [viewed], days=10))] == [
        "browse-who-we-are", "browse-bestsellers", "browse-offer", "browse-offer-expiring",
    ]
    bought = SimulatedEvent("order.completed", at(1, 12), ORDER)
    timeline = run(settings, "browse-abandonment", [viewed, bought], days=10)
    assert [t for _, t in sends(timeline)] == ["browse-who-we-are", "browse-bestsellers"]
    assert timeline[-1].action == "exit" and timeline[-1].detail["reason"] == "goal:purchased"


def test_browse_abandonment_does_not_start_for_a_recent_buyer(settings: Settings) -> None:
    timeline = run(settings, "browse-abandonment", [
        SimulatedEvent("order.completed", at(0), ORDER),
        SimulatedEvent("product.viewed", at(1), {"product": {"name": "Pen"}}),
    ], days=10)
    assert sends(timeline) == []


def test_browse_abandonment_respects_quiet_hours(settings: Settings) -> None:
    # Viewed at 20:30 London: the first email (2 h later) would land at 22:30 -> 08:00.
    evening = datetime(2026, 3, 2, 20, 30, tzinfo=UTC)
    timeline = run(settings, "browse-abandonment",
                   [SimulatedEvent("product.viewed", evening, {})], days=2, start=evening)
    first = next(e for e in timeline if e.action == "send")
    assert first.at == datetime(2026, 3, 3, 8, 0, tzinfo=UTC)


def test_cart_abandonment_reminds_then_last_call_and_purchase_ends_it(
    settings: Settings,
) -> None:
    cart = SimulatedEvent("cart.updated", at(0), {"cart_id": "c1", "items": ORDER["items"]})
    assert sends(run(settings, "cart-abandonment", [cart], days=3)) == [
        (0.042, "cart-reminder"), (1.042, "cart-last-call")]
    same_cart = SimulatedEvent("cart.updated", at(0, 0.5), {"cart_id": "c1", "items": []})
    timeline = run(settings, "cart-abandonment", [
        cart, same_cart, SimulatedEvent("order.completed", at(0, 3), ORDER)], days=3)
    assert [t for _, t in sends(timeline)] == ["cart-reminder"]  # one series per cart


def test_welcome_series(settings: Settings) -> None:
    timeline = run(settings, "welcome", [], days=7)
    assert sends(timeline) == [(0, "welcome"), (2, "getting-started"), (5, "first-offer")]


def test_win_back_after_90_quiet_days_then_marks_the_contact_dormant(
    settings: Settings,
) -> None:
    timeline = run(settings, "win-back", [SimulatedEvent("product.viewed", at(0), {})],
                   days=120)
    assert sends(timeline) == [(90, "winback-offer")]
    update = next(e for e in timeline if e.action == "update_property")
    assert round((update.at - T0) / timedelta(days=1)) == 104


def test_win_back_exits_on_engagement(settings: Settings) -> None:
    timeline = run(settings, "win-back", [
        SimulatedEvent("product.viewed", at(0), {}),
        SimulatedEvent("order.completed", at(95), ORDER),
    ], days=120)
    assert [t for _, t in sends(timeline)] == ["winback-offer"]
    assert timeline[-1].detail.get("reason") == "goal:re-engaged"


@pytest.mark.parametrize("tz", ["Europe/London", "America/New_York"])
def test_anniversary_yearly_at_nine_in_the_contacts_timezone(settings: Settings,
                                                             tz: str) -> None:
    contact = {**CONTACT, "timezone": tz, "properties": {"customer_since": "2024-03-10"}}
    timeline = run(settings, "anniversary", [], days=800, contact=contact)
    local = [e.at.astimezone(ZoneInfo(tz)) for e in timeline
             if e.action == "send"]
    assert [(d.year, d.month, d.day, d.hour) for d in local] == [
        (2026, 3, 10, 9), (2027, 3, 10, 9), (2028, 3, 10, 9)]
