"""Decide what an enrollment does next, one decision at a time.

Pure: the flow, the enrollment's state, facts about the contact, the time and the
deployment's policy come in; a Decision comes out. loop.py calls it until the enrollment
has to wait. Before every step: suppression, then goals, then exit criteria.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

from connector.engine.facts import ContactFacts
from connector.engine.flows import Flow
from connector.engine.rules import evaluate
from connector.engine.run.decisions import (
    EXIT_CRITERIA,
    EXIT_UNSUBSCRIBED,
    GOAL_PREFIX,
    Complete,
    Decision,
    EnrollmentState,
    Exit,
    Policy,
)
from connector.engine.run.steps import StepContext, run_step


def decide(
    flow: Flow,
    state: EnrollmentState,
    facts: ContactFacts,
    now: datetime,
    policy: Policy = Policy(),  # noqa: B008 - frozen, so one shared default is safe
) -> Decision:
    """The next thing the enrollment does; `now` must be timezone-aware."""
    if now.tzinfo is None or now.utcoffset() is None:
        raise ValueError(f"now must be timezone-aware, got naive {now.isoformat()}")
    cursor = state.cursor
    if isinstance(cursor, bool) or not 0 <= cursor <= len(flow.steps):
        raise ValueError(f"cursor {cursor!r} is outside flow {flow.key!r} (0..{len(flow.steps)})")
    # Past the last step there is nothing left to stop: a contact who unsubscribed (or met
    # a goal) after the final email still completed the flow.
    if cursor == len(flow.steps):
        return Complete()
    if facts.suppressed and flow.settings.exit_on_unsubscribe:
        # The suppression's own reason: a hard bounce is no unsubscribe.
        return Exit(step_id=None, reason=facts.suppressed_because or EXIT_UNSUBSCRIBED)
    now = now.astimezone(UTC)
    stopped = check_goals_and_exit_criteria(flow, state, facts, now)
    if stopped is not None:
        return stopped
    return run_step(flow.steps[cursor], StepContext(flow, state, facts, now, policy))


def check_goals_and_exit_criteria(
    flow: Flow, state: EnrollmentState, facts: ContactFacts, now: datetime
) -> Exit | None:
    """Exit for the first goal met, else for exit criteria met, else None.

    Both look at events and engagements since the contact entered only ("a purchase ends
    it" means a purchase after entering); properties, lists and segments as they are now.
    """
    settings = flow.settings
    if not settings.goals and not settings.exit_when:
        return None
    recent = since_entered(facts, state.entered_at)
    for goal in settings.goals:
        if evaluate(goal.when, recent, now):
            return Exit(step_id=None, reason=f"{GOAL_PREFIX}{goal.name}")
    if any(evaluate(rule, recent, now) for rule in settings.exit_when):
        return Exit(step_id=None, reason=EXIT_CRITERIA)
    return None


def since_entered(facts: ContactFacts, entered_at: datetime) -> ContactFacts:
    """The facts with only what happened after `entered_at`: the event that started the
    enrollment (at or before entry) never counts as reaching a goal."""
    return replace(
        facts,
        events=tuple(e for e in facts.events if e.at > entered_at),
        engagements=tuple(e for e in facts.engagements if e.at > entered_at),
    )
