"""Evaluating a rule: does the contact pass it now, when could the answer change with
time alone, and how much history must be loaded to know."""

from __future__ import annotations

from datetime import datetime, timedelta

from connector.engine.facts import ContactFacts
from connector.engine.rules.history import EngagementRule, EventRule
from connector.engine.rules.tree import Rule, walk


def evaluate(rule: Rule, facts: ContactFacts, now: datetime) -> bool:
    """Whether the contact passes the rule at `now` (aware)."""
    return rule.holds(facts, now)


def recheck_at(rule: Rule, facts: ContactFacts, now: datetime) -> datetime | None:
    """The earliest time after `now` at which the answer could change without new facts
    (an event leaving a window, a date property crossing a within_last / more_than_ago
    bound, a known future event arriving); None when only new facts can change it.

    Conservative: the answer may still be the same then, never different earlier.
    """
    moment = rule.changes_at(facts, now)
    return moment if moment is not None and moment > now else None


def history_window(rule: Rule) -> timedelta | None:
    """How far back events and engagements must be loaded to evaluate the rule: the
    longest `within`, None when some part counts over all history, zero when none counts."""
    longest = timedelta(0)
    for part in walk(rule):
        if isinstance(part, EventRule | EngagementRule):
            if part.within is None:
                return None
            longest = max(longest, part.within)
    return longest
