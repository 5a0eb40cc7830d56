"""The run loop: an enrollment's consecutive decisions at one moment, until it has to wait.

The one loop both the services (connector/services/enrollments.py, which apply each
decision to the database) and `run_until_blocked` (tests, previews) go through, so a run
stops in the same place, for the same reason, wherever it is driven from.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from datetime import datetime

from connector.engine.facts import ContactFacts, SendFact
from connector.engine.flows import Flow
from connector.engine.run.decide import decide
from connector.engine.run.decisions import (
    BLOCKING,
    EXIT_LOOP,
    Decision,
    EnrollmentState,
    Exit,
    Policy,
    Send,
    UpdateProperty,
)

# A safety net only: a flow alone cannot loop this long without repeating a state (which
# stops it at once, below); it takes a caller reporting new facts on every turn.
MAX_RUN_DECISIONS = 1000


class Run:
    """The decisions of one enrollment at `now`, in order, up to the first Sleep, Exit or
    Complete. Iterate it once.

    Between two decisions the run moves its own state on, the way the services store it:
    the cursor goes to `next_cursor`, `step_started_at` becomes `now`, an UpdateProperty
    shows in `facts`. What only the caller knows, it reports before taking the next
    decision: `sent()` after a Send that really went out (not one skipped as sent before).

    `now` is fixed and decide() is pure, so coming back to the same step with the same
    start time and equal facts would repeat forever: the run ends there with
    Exit(<that step>, EXIT_LOOP). A loop that changes something on the way (a property
    flipped back and forth, a first send) gets one more turn, until its state repeats.
    """

    def __init__(
        self,
        flow: Flow,
        state: EnrollmentState,
        facts: ContactFacts,
        now: datetime,
        policy: Policy = Policy(),  # noqa: B008 - frozen, so one shared default is safe
    ) -> None:
        self.flow, self.state, self.facts, self.now, self.policy = flow, state, facts, now, policy

    def __iter__(self) -> Iterator[Decision]:
        seen: set[tuple[int, datetime, int]] = set()
        facts_seen: list[ContactFacts] = []
        last_facts, last_number = None, -1
        for _ in range(MAX_RUN_DECISIONS):
            if self.facts is not last_facts:  # changed: equal to facts met earlier?
                last_facts, last_number = self.facts, _number(facts_seen, self.facts)
            where = (self.state.cursor, self.state.step_started_at or self.now, last_number)
            if where in seen:
                yield self._loop_exit()
                return
            seen.add(where)
            decision = decide(self.flow, self.state, self.facts, self.now, self.policy)
            yield decision
            if isinstance(decision, BLOCKING):
                return
            if isinstance(decision, UpdateProperty):
                properties = {**self.facts.properties, decision.property: decision.value}
                self.facts = replace(self.facts, properties=properties)
            self.state = replace(self.state, cursor=decision.next_cursor, step_started_at=self.now)
        yield self._loop_exit()

    def sent(self) -> None:
        """The last Send went out: later decisions of this run count it (frequency cap)."""
        settings = self.flow.settings
        sent = SendFact(at=self.now, flow=self.flow.key, transactional=settings.transactional)
        self.facts = replace(self.facts, sends=(*self.facts.sends, sent))

    def _loop_exit(self) -> Exit:
        steps = self.flow.steps
        cursor = self.state.cursor
        return Exit(steps[cursor].id if cursor < len(steps) else None, EXIT_LOOP)


def _number(known: list[ContactFacts], facts: ContactFacts) -> int:
    """The position of facts equal to `facts` in `known`, appending them if new."""
    for number, seen in enumerate(known):
        if seen == facts:
            return number
    known.append(facts)
    return len(known) - 1


def run_until_blocked(
    flow: Flow,
    state: EnrollmentState,
    facts: ContactFacts,
    now: datetime,
    policy: Policy = Policy(),  # noqa: B008
) -> list[Decision]:
    """All the decisions of a Run, applied the way the services apply them: each send
    step goes out once (the ledger skips a step sent before) and then counts."""
    run = Run(flow, state, facts, now, policy)
    decisions: list[Decision] = []
    sent: set[str] = set()
    for decision in run:
        decisions.append(decision)
        if isinstance(decision, Send) and decision.step_id not in sent:
            sent.add(decision.step_id)
            run.sent()
    return decisions
