"""What is checked before every step: suppression, then goals, then exit criteria; goals
and exit criteria see only behaviour since the contact entered."""

from __future__ import annotations

from datetime import timedelta

import pytest

from connector.engine.facts import EngagementFact, EventFact
from connector.engine.flows import Goal, SendStep
from connector.engine.run import Complete, Exit, Send, decide
from tests.unit.connector.engine.factories import NOW, facts, make_flow, rule, state

PURCHASED = Goal("purchased", rule("{event: order.completed}"))
CLICKED = Goal("clicked", rule("{clicked: {template: offer}}"))
CUSTOMER = rule("{property: lifecyclestage, eq: customer}")
FLOW = make_flow(
    SendStep("one", "one"),
    SendStep("two", "two"),
    goals=(PURCHASED, CLICKED),
    exit_when=(CUSTOMER,),
)
ENTERED = NOW - timedelta(days=2)


def purchase(at: object) -> EventFact:
    return EventFact("order.completed", at, {})  # type: ignore[arg-type]


def test_nothing_met_runs_the_step() -> None:
    assert decide(FLOW, state(1, ENTERED), facts(), NOW) == Send("two", "two", None, None, 2)


def test_a_goal_met_since_entering_ends_the_enrollment() -> None:
    contact = facts(events=(purchase(NOW - timedelta(days=1)),))
    assert decide(FLOW, state(1, ENTERED), contact, NOW) == Exit(None, "goal:purchased")


def test_behaviour_before_entering_does_not_count() -> None:
    contact = facts(
        events=(purchase(ENTERED - timedelta(seconds=1)),),
        engagements=(EngagementFact("click", ENTERED - timedelta(days=9), "offer"),),
    )
    assert decide(FLOW, state(1, ENTERED), contact, NOW) == Send("two", "two", None, None, 2)


def test_behaviour_at_the_entry_time_does_not_count() -> None:
    # The event that started the enrollment happens at (or before) entry: never a goal.
    contact = facts(events=(purchase(ENTERED),))
    assert not isinstance(decide(FLOW, state(1, ENTERED), contact, NOW), Exit)
    later = facts(events=(purchase(ENTERED + timedelta(seconds=1)),))
    assert decide(FLOW, state(1, ENTERED), later, NOW) == Exit(None, "goal:purchased")


def test_goals_are_checked_in_order_then_exit_criteria() -> None:
    everything = facts(
        properties={"lifecyclestage": "customer"},
        events=(purchase(NOW),),
        engagements=(EngagementFact("click", NOW, "offer"),),
    )
    assert decide(FLOW, state(0, ENTERED), everything, NOW) == Exit(None, "goal:purchased")
    clicked_customer = facts(
        properties={"lifecyclestage": "customer"},
        engagements=(EngagementFact("click", NOW, "offer"),),
    )
    assert decide(FLOW, state(0, ENTERED), clicked_customer, NOW) == Exit(None, "goal:clicked")
    customer = facts(properties={"lifecyclestage": "customer"})
    assert decide(FLOW, state(0, ENTERED), customer, NOW) == Exit(None, "exit criteria")


def test_properties_count_whenever_they_were_set() -> None:
    # Properties have no history: a customer before entering is a customer now.
    customer = facts(properties={"lifecyclestage": "customer"})
    assert decide(FLOW, state(0, NOW), customer, NOW) == Exit(None, "exit criteria")


def test_suppression_comes_first() -> None:
    gone = facts(suppressed=True, events=(purchase(NOW),))
    assert decide(FLOW, state(0, ENTERED), gone, NOW) == Exit(None, "unsubscribed")


def test_without_exit_on_unsubscribe_goals_still_apply() -> None:
    flow = make_flow(SendStep("one", "one"), goals=(PURCHASED,), exit_on_unsubscribe=False)
    gone = facts(suppressed=True)
    assert decide(flow, state(0, ENTERED), gone, NOW) == Send("one", "one", None, None, 1)
    bought = facts(suppressed=True, events=(purchase(NOW),))
    assert decide(flow, state(0, ENTERED), bought, NOW) == Exit(None, "goal:purchased")


@pytest.mark.parametrize("suppressed", [False, True])
def test_past_the_last_step_it_completes_whatever_was_met(suppressed: bool) -> None:
    contact = facts(suppressed=suppressed, events=(purchase(NOW),))
    assert decide(FLOW, state(2, ENTERED), contact, NOW) == Complete()
