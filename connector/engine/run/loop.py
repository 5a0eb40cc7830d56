"""Running an enrollment until it blocks: consecutive decisions at one moment, up to the
first Sleep, Exit or Complete."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime

from connector.engine.facts import ContactFacts
from connector.engine.flows import Flow
from connector.engine.run.decide import decide
from connector.engine.run.decisions import (
    BLOCKING,
    EXIT_LOOP,
    Complete,
    Decision,
    EnrollmentState,
    Exit,
    Policy,
    Sleep,
    UpdateProperty,
)

# A run far longer than any flow is a loop that rewrites properties back and forth.
MAX_RUN_DECISIONS = 1000


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
