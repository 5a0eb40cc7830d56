"""Small builders for engine tests: flows from steps, enrollment states, facts, rules."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from connector.engine.facts import ContactFacts
from connector.engine.flows import ContactCreated, Flow, FlowSettings, Step, Trigger
from connector.engine.rules import Rule, parse_rule_text
from connector.engine.run import EnrollmentState

NOW = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)  # a Monday


def make_flow(
    *steps: Step, trigger: Trigger | None = None, key: str = "f", **settings: Any
) -> Flow:
    return Flow.create(
        key=key,
        name=key.title(),
        trigger=trigger or ContactCreated(),
        steps=steps,
        settings=FlowSettings(**settings),
    )


def state(
    cursor: int = 0,
    entered_at: datetime = NOW,
    started: datetime | None = None,
    event: Mapping[str, Any] | None = None,
) -> EnrollmentState:
    context = {} if event is None else {"event": dict(event)}
    return EnrollmentState(cursor, entered_at, started, context)


def facts(**fields: Any) -> ContactFacts:
    fields.setdefault("email", "ann@example.com")
    fields.setdefault("suppressed", False)
    return ContactFacts(**fields)


def rule(text: str) -> Rule:
    return parse_rule_text(text, "<test>")
