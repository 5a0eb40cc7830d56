"""Behaviour and engagement rules: counting a contact's events or email opens/clicks,
optionally within a time window, and knowing when occurrences leave that window."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from fnmatch import fnmatchcase
from typing import Any, ClassVar, Literal, TypeAlias

from connector.engine.facts import ContactFacts, EngagementFact, EventFact
from connector.engine.rules.leaves import PropertyRule
from connector.engine.rules.values import WINDOW_OPERATORS


def earliest(times: Iterable[datetime | None]) -> datetime | None:
    return min((t for t in times if t is not None), default=None)


def _seconds(duration: timedelta | None) -> int | None:
    return None if duration is None else int(duration.total_seconds())


def _duration(seconds: int | None) -> timedelta | None:
    return None if seconds is None else timedelta(seconds=seconds)


Occurrence: TypeAlias = EventFact | EngagementFact


@dataclass(frozen=True, kw_only=True)
class _Counted:
    """Shared by event and engagement facts: how many matching occurrences, in which
    window (`at` in (now - within, now]; occurrences after `now` are not counted yet)."""

    at_least: int = 1
    at_most: int | None = None
    within: timedelta | None = None

    def candidates(self, facts: ContactFacts) -> Sequence[Occurrence]:
        """The occurrences of the right kind (cheap tests, made first)."""
        raise NotImplementedError

    def matches(self, item: Any, now: datetime) -> bool:
        """Whether a candidate passes the remaining filters."""
        raise NotImplementedError

    def last_holds(self, item: Occurrence | None, now: datetime) -> bool:
        return True

    def conditions_change(self, facts: ContactFacts, now: datetime) -> datetime | None:
        """When a property test on an occurrence could turn with time alone."""
        return None

    def _window(self, facts: ContactFacts, now: datetime) -> list[Occurrence]:
        items = self.candidates(facts)
        if self.within is None:
            return [item for item in items if item.at <= now and self.matches(item, now)]
        start = now - self.within
        return [item for item in items if start < item.at <= now and self.matches(item, now)]

    def _decide(self, count: int, last_ok: bool) -> bool:
        if count < self.at_least or (self.at_most is not None and count > self.at_most):
            return False
        return last_ok

    def holds(self, facts: ContactFacts, now: datetime) -> bool:
        found = self._window(facts, now)
        return self._decide(len(found), self.last_holds(_newest(found), now))

    def changes_at(self, facts: ContactFacts, now: datetime) -> datetime | None:
        arrivals = (
            item.at for item in self.candidates(facts) if item.at > now and self.matches(item, now)
        )
        # Facts known ahead (simulations) arrive; dated `where`/`last` tests may turn.
        arriving = earliest((min(arrivals, default=None), self.conditions_change(facts, now)))
        if self.within is None or not (found := self._window(facts, now)):
            return arriving
        # The oldest leave the window first; the newest (the `last`) leaves last.
        last_ok = self.last_holds(_newest(found), now)
        current = self._decide(len(found), last_ok)
        leaving = sorted(item.at for item in found)
        for gone, moment in enumerate(leaving, start=1):
            left = len(found) - gone
            if left == 0:
                last_ok = self.last_holds(None, now)
            if self._decide(left, last_ok) != current:
                return earliest((arriving, moment + self.within))
        return arriving


def _newest(items: Sequence[Occurrence]) -> Occurrence | None:
    newest = None
    for item in items:
        if newest is None or item.at >= newest.at:  # ties: the later one in the history
            newest = item
    return newest


@dataclass(frozen=True, kw_only=True)
class EventRule(_Counted):
    """Performed `event` between at_least and at_most times (in the window), the events
    passing `where`, and the last of them passing `last`."""

    event: str
    where: tuple[PropertyRule, ...] = ()
    last: tuple[PropertyRule, ...] = ()
    kind: ClassVar[str] = "event"

    def candidates(self, facts: ContactFacts) -> Sequence[Occurrence]:
        return [event for event in facts.events if event.name == self.event]

    def matches(self, item: Any, now: datetime) -> bool:
        return all(cond.holds_on(item.properties, now) for cond in self.where)

    def last_holds(self, item: Occurrence | None, now: datetime) -> bool:
        if not isinstance(item, EventFact):
            return not self.last  # no occurrence: a `last` condition cannot pass
        return all(cond.holds_on(item.properties, now) for cond in self.last)

    def conditions_change(self, facts: ContactFacts, now: datetime) -> datetime | None:
        tests = (*self.where, *self.last)
        if not any(test.op in WINDOW_OPERATORS for test in tests):
            return None
        return earliest(
            test.changes_on(item.properties, now)
            for item in self.candidates(facts)
            if isinstance(item, EventFact)
            for test in tests
        )

    def children(self) -> tuple[()]:  # a leaf
        return ()

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "event": self.event,
            "at_least": self.at_least,
            "at_most": self.at_most,
            "within": _seconds(self.within),
            "where": [cond.to_dict() for cond in self.where],
            "last": [cond.to_dict() for cond in self.last],
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> EventRule:
        return cls(
            event=data["event"],
            at_least=data["at_least"],
            at_most=data["at_most"],
            within=_duration(data["within"]),
            where=tuple(PropertyRule.from_dict(d) for d in data["where"]),
            last=tuple(PropertyRule.from_dict(d) for d in data["last"]),
        )


ENGAGEMENT_FILTERS = ("template", "flow", "step", "campaign")


@dataclass(frozen=True, kw_only=True)
class EngagementRule(_Counted):
    """Opened or clicked our emails, optionally one template / flow step / campaign, and
    for clicks a link glob (fnmatch, case-sensitive) on the original URL."""

    action: Literal["open", "click"]
    template: str | None = None
    flow: str | None = None
    step: str | None = None
    campaign: str | None = None
    link: str | None = None
    kind: ClassVar[str] = "engagement"

    def candidates(self, facts: ContactFacts) -> Sequence[Occurrence]:
        return facts.engagements

    def matches(self, item: Any, now: datetime) -> bool:
        return (
            item.action == self.action
            and (self.template is None or item.template == self.template)
            and (self.flow is None or item.flow == self.flow)
            and (self.step is None or item.step == self.step)
            and (self.campaign is None or item.campaign == self.campaign)
            and (self.link is None or (item.url is not None and fnmatchcase(item.url, self.link)))
        )

    def children(self) -> tuple[()]:  # a leaf
        return ()

    def to_dict(self) -> dict[str, Any]:
        filters = {name: getattr(self, name) for name in (*ENGAGEMENT_FILTERS, "link")}
        counts = {"at_least": self.at_least, "at_most": self.at_most}
        return {"kind": self.kind, "action": self.action, **filters, **counts,
                "within": _seconds(self.within)}  # fmt: skip

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> EngagementRule:
        filters = {name: data[name] for name in (*ENGAGEMENT_FILTERS, "link")}
        return cls(
            action=data["action"],
            at_least=data["at_least"],
            at_most=data["at_most"],
            within=_duration(data["within"]),
            **filters,
        )
