"""The rule language shared by segments, flow branches, goals and exit criteria.

A rule is a tree of frozen dataclasses (tree.py, leaves.py, history.py), read from YAML
(syntax.py, syntax_leaves.py, operands.py) and evaluated against a contact's facts at a
given time (evaluation.py). Value coercion is documented in values.py; its constants are
exported for the SQL compiler (connector/segment_sql*.py), which must give the same answers.
"""

from __future__ import annotations

from connector.engine.rules.evaluation import evaluate, history_window, recheck_at
from connector.engine.rules.history import EngagementRule, EventRule
from connector.engine.rules.leaves import ListRule, PropertyRule, SegmentRule, bucket_of
from connector.engine.rules.syntax import parse_rule, parse_rule_text
from connector.engine.rules.syntax_leaves import SEGMENT_ID
from connector.engine.rules.tree import (
    RULE_KINDS,
    All,
    Any_,
    Not,
    Rule,
    referenced_events,
    referenced_lists,
    referenced_properties,
    referenced_segments,
    rule_from_dict,
    rule_to_dict,
)
from connector.engine.rules.values import (
    DATE_OPERATORS,
    DATE_PATTERN,
    EPOCH_MS_FROM,
    MAX_MS,
    MIN_MS,
    NEGATIONS,
    NUMBER_PATTERN,
    WINDOW_OPERATORS,
    as_instant_ms,
    as_number,
    micros,
)

__all__ = [
    "DATE_OPERATORS",
    "DATE_PATTERN",
    "EPOCH_MS_FROM",
    "MAX_MS",
    "MIN_MS",
    "NEGATIONS",
    "NUMBER_PATTERN",
    "RULE_KINDS",
    "SEGMENT_ID",
    "WINDOW_OPERATORS",
    "All",
    "Any_",
    "EngagementRule",
    "EventRule",
    "ListRule",
    "Not",
    "PropertyRule",
    "Rule",
    "SegmentRule",
    "as_instant_ms",
    "as_number",
    "bucket_of",
    "evaluate",
    "history_window",
    "micros",
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
