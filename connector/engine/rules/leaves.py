"""Leaf rules about the contact itself: properties, list and segment membership, and the
stable random bucket. Each evaluates itself and serialises itself (see tree.py)."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, ClassVar

from connector.engine.facts import ContactFacts
from connector.engine.rules.values import (
    DATE_OPERATORS,
    WINDOW_OPERATORS,
    Test,
    as_instant_ms,
    build_test,
    lookup,
    path_of,
    window_change,
)


def operand_to_json(op: str, value: Any) -> Any:
    if isinstance(value, timedelta):
        return int(value.total_seconds())
    return list(value) if isinstance(value, tuple) else value


def operand_from_json(op: str, value: Any) -> Any:
    if op in WINDOW_OPERATORS:
        return timedelta(seconds=value)
    return tuple(value) if isinstance(value, list) else value


@dataclass(frozen=True)
class PropertyRule:
    """A test of one contact property (or, inside `where`/`last`, one event property).

    `value` is the operand as written: a scalar, a tuple for in/not_in/between, a bool for
    exists, ISO text for before/after, a timedelta for within_last/more_than_ago.
    """

    property: str
    op: str
    value: Any
    kind: ClassVar[str] = "property"
    path: tuple[str, ...] = field(init=False, repr=False, compare=False)
    test: Test = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        operand = as_instant_ms(self.value) if self.op in DATE_OPERATORS else self.value
        object.__setattr__(self, "path", path_of(self.property))
        object.__setattr__(self, "test", build_test(self.op, operand))

    def holds(self, facts: ContactFacts, now: datetime) -> bool:
        return self.test(lookup(facts.properties, self.path), now)

    def holds_on(self, properties: Mapping[str, Any], now: datetime) -> bool:
        return self.test(lookup(properties, self.path), now)

    def changes_at(self, facts: ContactFacts, now: datetime) -> datetime | None:
        return self.changes_on(facts.properties, now)

    def changes_on(self, properties: Mapping[str, Any], now: datetime) -> datetime | None:
        if self.op not in WINDOW_OPERATORS:
            return None  # before/after compare with fixed dates: time alone changes nothing
        return window_change(self.op, self.value, lookup(properties, self.path), now)

    def children(self) -> tuple[()]:  # a leaf
        return ()

    def to_dict(self) -> dict[str, Any]:
        value = operand_to_json(self.op, self.value)
        return {"kind": self.kind, "property": self.property, "op": self.op, "value": value}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> PropertyRule:
        return cls(data["property"], data["op"], operand_from_json(data["op"], data["value"]))


@dataclass(frozen=True)
class ListRule:
    """A member of a static (CRM or imported) list."""

    list: str
    kind: ClassVar[str] = "list"

    def holds(self, facts: ContactFacts, now: datetime) -> bool:
        return self.list in facts.lists

    def changes_at(self, facts: ContactFacts, now: datetime) -> datetime | None:
        return None

    def children(self) -> tuple[()]:  # a leaf
        return ()

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "list": self.list}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ListRule:
        return cls(data["list"])


@dataclass(frozen=True)
class SegmentRule:
    """In another segment right now (facts.segments)."""

    segment: str
    kind: ClassVar[str] = "segment"

    def holds(self, facts: ContactFacts, now: datetime) -> bool:
        return self.segment in facts.segments

    def changes_at(self, facts: ContactFacts, now: datetime) -> datetime | None:
        return None  # evaluate_all() adds the other segment's own recheck time

    def children(self) -> tuple[()]:  # a leaf
        return ()

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "segment": self.segment}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> SegmentRule:
        return cls(data["segment"])


BUCKET_OPERATORS = ("eq", "neq", "in", "not_in", "gt", "gte", "lt", "lte", "between")


def bucket_of(contact_id: int, salt: str) -> int:
    """A stable random bucket 0..99 per contact and salt."""
    digest = hashlib.sha256(f"{contact_id}:{salt}".encode()).digest()
    return int.from_bytes(digest, "big") % 100


@dataclass(frozen=True)
class BucketRule:
    """A stable random slice of contacts: the bucket (0..99) passes `op value`."""

    op: str
    value: Any
    salt: str = ""
    kind: ClassVar[str] = "bucket"
    test: Test = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "test", build_test(self.op, self.value))

    def holds(self, facts: ContactFacts, now: datetime) -> bool:
        return self.test(bucket_of(facts.contact_id, self.salt), now)

    def changes_at(self, facts: ContactFacts, now: datetime) -> datetime | None:
        return None

    def children(self) -> tuple[()]:  # a leaf
        return ()

    def to_dict(self) -> dict[str, Any]:
        value = operand_to_json(self.op, self.value)
        return {"kind": self.kind, "op": self.op, "value": value, "salt": self.salt}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> BucketRule:
        return cls(data["op"], operand_from_json(data["op"], data["value"]), data["salt"])


# -- composition -------------------------------------------------------------------------
