"""Decide what an enrollment does next, one decision at a time.

Pure: the flow, the enrollment's state, facts about the contact, the time and the
deployment's policy come in; a Decision comes out. The caller applies it, stores
`next_cursor` (resetting `step_started_at` when the cursor moves) and calls again, or
sleeps until `Sleep.until`. Before every step: suppression, then goals, then exit criteria.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

from connector.engine.decisions import (
    BLOCKING,
    EXIT_CRITERIA,
    EXIT_LOOP,
    EXIT_STEP,
    EXIT_UNSUBSCRIBED,
    EXIT_WAIT_TIMEOUT,
    GOAL_PREFIX,
    HOLDOUT_PREFIX,
    CallWebhook,
    Complete,
    CreateTask,
    Decision,
    EnrollmentState,
    Exit,
    Jump,
    Policy,
    Send,
    Sleep,
    UpdateProperty,
)
from connector.engine.definitions import Flow
from connector.engine.facts import ContactFacts
from connector.engine.rules import evaluate
from connector.engine.steps import StepContext, run_step

# A run far longer than any flow is a loop that rewrites properties back and forth.
MAX_RUN_DECISIONS = 1000


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
        return Exit(step_id=None, reason=EXIT_UNSUBSCRIBED)
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


def run_until_blocked(
    flow: Flow,
    state: EnrollmentState,
    facts: ContactFacts,
    now: datetime,
    policy: Policy = Policy(),  # noqa: B008
) -> list[Decision]:
    """Consecutive decisions from `state` up to the first Sleep, Exit or Complete.

    Applies what a decision means for the next one, as the services do: the cursor moves,
    step_started_at becomes `now`, an UpdateProperty shows in the facts. Coming back to a
    step without time passing and without a property change is a loop that would never
    end; it stops with Exit(reason="loop without a wait").
    """
    decisions: list[Decision] = []
    visited: set[int] = set()
    while len(decisions) < MAX_RUN_DECISIONS:
        if state.cursor in visited:
            decisions.append(Exit(flow.steps[state.cursor].id, EXIT_LOOP))
            return decisions
        visited.add(state.cursor)
        decision = decide(flow, state, facts, now, policy)
        decisions.append(decision)
        if isinstance(decision, BLOCKING):
            return decisions
        if isinstance(decision, UpdateProperty):
            properties = {**facts.properties, decision.property: decision.value}
            if properties != dict(facts.properties):
                visited.clear()
            facts = replace(facts, properties=properties)
        assert not isinstance(decision, Complete | Exit | Sleep)
        state = replace(state, cursor=decision.next_cursor, step_started_at=now)
    decisions.append(Exit(flow.steps[state.cursor].id, EXIT_LOOP))
    return decisions


__all__ = [
    "EXIT_CRITERIA",
    "EXIT_LOOP",
    "EXIT_STEP",
    "EXIT_UNSUBSCRIBED",
    "EXIT_WAIT_TIMEOUT",
    "GOAL_PREFIX",
    "HOLDOUT_PREFIX",
    "CallWebhook",
    "Complete",
    "ContactFacts",
    "CreateTask",
    "Decision",
    "EnrollmentState",
    "Exit",
    "Jump",
    "Policy",
    "Send",
    "Sleep",
    "UpdateProperty",
    "decide",
    "run_until_blocked",
]
