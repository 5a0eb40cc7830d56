"""The rule tree: one frozen dataclass per kind of condition, each able to evaluate itself,
say when its answer could change with time alone, and serialise itself.

Per-kind behaviour lives on the classes (a table by `kind` for deserialising), so a new
kind is one class plus a registration. Nothing here does I/O or reads the clock.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, ClassVar, Self, TypeAlias

from connector.engine.facts import ContactFacts
from connector.engine.rules.history import EngagementRule, EventRule, earliest
from connector.engine.rules.leaves import BucketRule, ListRule, PropertyRule, SegmentRule


def _latest_or_never(times: Iterable[datetime | None]) -> datetime | None:
    """The latest of the times, or None if any is None (that part never changes alone)."""
    result = None
    for moment in times:
        if moment is None:
            return None
        result = moment if result is None else max(result, moment)
    return result


@dataclass(frozen=True)
class _Group:
    """`all` and `any`: a list of rules, walked and serialised alike."""

    rules: tuple[Rule, ...]
    kind: ClassVar[str]

    def children(self) -> tuple[Rule, ...]:
        return self.rules

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "rules": [rule.to_dict() for rule in self.rules]}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Self:
        return cls(tuple(rule_from_dict(d) for d in data["rules"]))


@dataclass(frozen=True)
class All(_Group):
    kind: ClassVar[str] = "all"

    def holds(self, facts: ContactFacts, now: datetime) -> bool:
        for rule in self.rules:  # noqa: SIM110 -- a plain loop: this is the hot path
            if not rule.holds(facts, now):
                return False
        return True

    def changes_at(self, facts: ContactFacts, now: datetime) -> datetime | None:
        failing = [rule for rule in self.rules if not rule.holds(facts, now)]
        if failing:  # true only once every failing part has turned
            return _latest_or_never(rule.changes_at(facts, now) for rule in failing)
        return earliest(rule.changes_at(facts, now) for rule in self.rules)


@dataclass(frozen=True)
class Any_(_Group):
    kind: ClassVar[str] = "any"

    def holds(self, facts: ContactFacts, now: datetime) -> bool:
        for rule in self.rules:  # noqa: SIM110 -- a plain loop: this is the hot path
            if rule.holds(facts, now):
                return True
        return False

    def changes_at(self, facts: ContactFacts, now: datetime) -> datetime | None:
        passing = [rule for rule in self.rules if rule.holds(facts, now)]
        if passing:  # false only once every passing part has turned
            return _latest_or_never(rule.changes_at(facts, now) for rule in passing)
        return earliest(rule.changes_at(facts, now) for rule in self.rules)


@dataclass(frozen=True)
class Not:
    rule: Rule
    kind: ClassVar[str] = "not"

    def holds(self, facts: ContactFacts, now: datetime) -> bool:
        return not self.rule.holds(facts, now)

    def changes_at(self, facts: ContactFacts, now: datetime) -> datetime | None:
        return self.rule.changes_at(facts, now)

    def children(self) -> tuple[Rule, ...]:
        return (self.rule,)

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "rule": self.rule.to_dict()}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Not:
        return cls(rule_from_dict(data["rule"]))


Rule: TypeAlias = (
    PropertyRule | EventRule | EngagementRule | ListRule | SegmentRule | BucketRule
    | All | Any_ | Not
)  # fmt: skip
RULE_KINDS: dict[str, type[Rule]] = {
    kind.kind: kind
    for kind in (
        PropertyRule, EventRule, EngagementRule, ListRule, SegmentRule, BucketRule, All, Any_, Not
    )
}  # fmt: skip


def rule_from_dict(data: Mapping[str, Any]) -> Rule:
    """The rule that rule.to_dict() described; ValueError on an unknown kind."""
    kind = RULE_KINDS.get(data.get("kind", ""))
    if kind is None:
        raise ValueError(f"unknown rule kind {data.get('kind')!r}")
    return kind.from_dict(data)


def walk(rule: Rule) -> Iterable[Rule]:
    """The rule and every rule under it, depth first."""
    stack: list[Rule] = [rule]
    while stack:
        current = stack.pop()
        yield current
        stack.extend(reversed(current.children()))


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
