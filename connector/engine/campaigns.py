"""Campaign definitions (`campaigns/<key>.yaml`): a one-time send to an audience, with an
optional subject/content A/B test, a schedule, a throttle and UTM parameters.

Pure and frozen, like flows and segments: the loader (engine/loader/campaigns.py) builds
these from YAML, the workspace checks them against its templates and segments, and the
sending side (not built yet) reads them. Time comes in as an argument.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, time, timedelta, tzinfo
from functools import cached_property
from typing import Any, Literal

from connector.engine.common import FrozenMap, canonical_json, format_duration, format_time
from connector.engine.rules import (
    All,
    Any_,
    ListRule,
    Not,
    Rule,
    SegmentRule,
    referenced_lists,
    rule_to_dict,
)

PickBy = Literal["clicks", "opens"]
PICK_BY: tuple[PickBy, ...] = ("clicks", "opens")
# What `throttle: N/<unit>` may count per; a bare unit is one of it ("2000/h").
THROTTLE_UNITS = {"s": 1, "m": 60, "h": 3_600, "d": 86_400}
# The UTM parameters a campaign may add to its links (utm_<key>): Google Analytics' set.
UTM_KEYS = (
    "source",
    "medium",
    "campaign",
    "term",
    "content",
    "id",
    "source_platform",
    "creative_format",
    "marketing_tactic",
)


@dataclass(frozen=True)
class Membership:
    """A segment or a static list, as an audience or an exclusion."""

    kind: Literal["segment", "list"]
    key: str

    def as_rule(self) -> Rule:
        return SegmentRule(self.key) if self.kind == "segment" else ListRule(self.key)

    def describe(self) -> str:
        return f"{self.kind} {self.key}"


@dataclass(frozen=True)
class InlineRule:
    """An audience written as a rule of the segment language in the campaign file."""

    rule: Rule
    kind: Literal["rule"] = "rule"

    def as_rule(self) -> Rule:
        return self.rule

    def describe(self) -> str:
        return "an inline rule"


@dataclass(frozen=True)
class Audience:
    """Who a campaign goes to: one source minus everyone in any exclusion."""

    source: Membership | InlineRule
    exclude: tuple[Membership, ...] = ()

    def as_rule(self) -> Rule:
        """The whole audience as one rule, the form the SQL pushdown resolves."""
        include = self.source.as_rule()
        if not self.exclude:
            return include
        excluded = [member.as_rule() for member in self.exclude]
        return All((include, Not(excluded[0] if len(excluded) == 1 else Any_(tuple(excluded)))))

    def lists(self) -> frozenset[str]:
        """Every list it names, inside an inline rule too."""
        return referenced_lists(self.as_rule())


@dataclass(frozen=True)
class Variant:
    """One arm of an A/B test: `sample` is its share of the audience (0 < sample < 1)."""

    key: str
    template: str
    sample: float
    subject: str | None = None


@dataclass(frozen=True)
class ABTest:
    """Variants sent to samples of the audience; after `pick_after` the one with the most
    unique human `pick_by` (clicks or opens) goes to the rest. When the samples add up to
    the whole audience there is no rest and no pick (`pick_after` is None)."""

    variants: tuple[Variant, ...]
    pick_after: timedelta | None
    pick_by: PickBy = "clicks"

    @property
    def rest(self) -> float:
        """The share of the audience left for the winner."""
        return max(0.0, round(1 - sum(v.sample for v in self.variants), 9))


@dataclass(frozen=True)
class Throttle:
    """At most `count` emails per `per` for this campaign (the deployment's SEND_RATE
    applies on top)."""

    count: int
    per: timedelta

    @property
    def per_second(self) -> float:
        return self.count / self.per.total_seconds()

    def __str__(self) -> str:
        seconds = int(self.per.total_seconds())
        unit = next((u for u, size in THROTTLE_UNITS.items() if size == seconds), None)
        return f"{self.count}/{unit or format_duration(self.per)}"


@dataclass(frozen=True)
class Campaign:
    """One campaign definition. Exactly one of `template` and `test` is set; at most one of
    `send_at` and `local_time`. `send_at` is naive when written without an offset: a wall
    time in the account's timezone, resolved by `starts_at`."""

    key: str
    name: str
    audience: Audience
    source: str
    template: str | None = None
    test: ABTest | None = None
    subject: str | None = None
    sender: str | None = None
    send_at: datetime | None = None
    local_time: time | None = None
    throttle: Throttle | None = None
    respect_frequency_cap: bool = True
    utm: Mapping[str, str] = field(default_factory=FrozenMap)
    description: str = ""
    # Where each part was written (for messages that name the line): "template",
    # "audience", "audience.exclude:0", "variant:a", "send_at", ...
    lines: Mapping[str, int] = field(default_factory=FrozenMap, compare=False, repr=False)

    def __post_init__(self) -> None:
        if (self.template is None) == (self.test is None):
            raise ValueError(f"campaign {self.key}: give a template or an A/B test, not both")
        if self.send_at is not None and self.local_time is not None:
            raise ValueError(f"campaign {self.key}: send_at and local_time exclude each other")

    @property
    def templates(self) -> list[str]:
        """Every template it may send, in the order written."""
        if self.test is None:
            return [self.template] if self.template else []
        return list(dict.fromkeys(v.template for v in self.test.variants))

    def starts_at(self, timezone: tzinfo) -> datetime | None:
        """`send_at` as a UTC instant; a naive one is read in `timezone`. As everywhere in
        the engine, a wall time skipped by DST moves forward by the gap, and one that
        happens twice is the first."""
        if self.send_at is None:
            return None
        local = self.send_at if self.send_at.tzinfo else self.send_at.replace(tzinfo=timezone)
        return local.astimezone(UTC)

    def to_dict(self) -> dict[str, Any]:
        """The canonical JSON form (what `version` hashes)."""
        test = None if self.test is None else {
            "variants": [
                {"key": v.key, "template": v.template, "sample": v.sample, "subject": v.subject}
                for v in self.test.variants
            ],
            "pick_after": None if self.test.pick_after is None
            else format_duration(self.test.pick_after),
            "pick_by": self.test.pick_by,
        }
        return {
            "key": self.key,
            "name": self.name,
            "template": self.template,
            "test": test,
            "subject": self.subject,
            "sender": self.sender,
            "audience": {
                "source": rule_to_dict(self.audience.source.as_rule())
                | {"as": self.audience.source.kind},
                "exclude": [rule_to_dict(m.as_rule()) for m in self.audience.exclude],
            },
            "send_at": None if self.send_at is None else self.send_at.isoformat(),
            "local_time": None if self.local_time is None else format_time(self.local_time),
            "throttle": None if self.throttle is None else str(self.throttle),
            "respect_frequency_cap": self.respect_frequency_cap,
            "utm": dict(self.utm),
        }

    @cached_property
    def version(self) -> str:
        """Changes exactly when what would be sent, to whom or when may change."""
        return hashlib.sha256(canonical_json(self.to_dict()).encode()).hexdigest()[:16]
