"""The rule language shared by segments, flow branches, goals and exit criteria.

A rule is a tree of frozen dataclasses (rule_tree.py and friends), read from YAML
(rule_syntax.py) and evaluated against a contact's facts at a given time. This module is
the public face: parse, evaluate, say when to look again, serialise, and list what a rule
depends on. Value coercion is documented in rule_values.py.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from connector.engine.facts import ContactFacts
from connector.engine.rule_history import EngagementRule, EventRule
from connector.engine.rule_leaves import BucketRule, ListRule, PropertyRule, SegmentRule, bucket_of
from connector.engine.rule_syntax import parse_rule, parse_rule_text
from connector.engine.rule_tree import RULE_KINDS, All, Any_, Not, Rule, rule_from_dict, walk

__all__ = [
    "RULE_KINDS",
    "All",
    "Any_",
    "BucketRule",
    "EngagementRule",
    "EventRule",
    "ListRule",
    "Not",
    "PropertyRule",
    "Rule",
    "SegmentRule",
    "bucket_of",
    "evaluate",
    "history_window",
    "parse_rule",
    "parse_rule_text",
    "recheck_at",
    "referenced_events",
    "referenced_lists",
    "referenced_properties",
    "referenced_segments",
    "rule_from_dict",
    "rule_to_dict",
]


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


def rule_to_dict(rule: Rule) -> dict[str, Any]:
    """Canonical JSON-ready form (durations in seconds); equal rules give equal dicts."""
    return rule.to_dict()


def referenced_segments(rule: Rule) -> frozenset[str]:
    return frozenset(part.segment for part in walk(rule) if isinstance(part, SegmentRule))


def referenced_lists(rule: Rule) -> frozenset[str]:
    return frozenset(part.list for part in walk(rule) if isinstance(part, ListRule))


def referenced_properties(rule: Rule) -> frozenset[str]:
    """Contact properties the rule reads (event `where`/`last` paths are event properties)."""
    return frozenset(part.property for part in walk(rule) if isinstance(part, PropertyRule))


def referenced_events(rule: Rule) -> frozenset[str]:
    return frozenset(part.event for part in walk(rule) if isinstance(part, EventRule))
