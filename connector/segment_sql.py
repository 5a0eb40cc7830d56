"""Whole-audience evaluation (campaigns): as much of a rule as possible runs as one SQL
query over the account's contacts; what cannot (the residual) is evaluated in Python for
each candidate, in batches. The SQL gives exactly the Python answers, on SQLite and
PostgreSQL (coercions in connector/segment_sql_values.py).

Pushed down:
- property: eq, neq, in, not_in, gt, gte, lt, lte, between, exists (text, numbers and
  numeric strings, booleans), before, after, within_last, more_than_ago (epoch numbers and
  ISO text), on the contacts.properties JSON column;
- event: counts (EXISTS, or a correlated COUNT) in the time window, with `where`, and
  `last` as the newest matching event (ties: the higher id, the loader's order);
- engagement: opens and clicks with template / flow / step / campaign (via messages and
  the campaigns' keys) and link globs made of `*` and `?`;
- in_list, in_segment (current segment_memberships rows);
- all: the parts that can be; any and not: only when every part can be.
Not pushed (left to Python): contains, bucket (sha256), link globs with [...] classes,
property paths with a digits-only segment (list indexes read differently in SQLite).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Select, and_, exists, false, func, not_, or_, select
from sqlalchemy.orm import Session, aliased

from connector.engine.facts import ContactFacts
from connector.engine.rules import (
    DATE_OPERATORS,
    NEGATIONS,
    WINDOW_OPERATORS,
    All,
    Any_,
    EngagementRule,
    EventRule,
    ListRule,
    Not,
    PropertyRule,
    Rule,
    SegmentRule,
    as_instant_ms,
    as_number,
    evaluate,
    micros,
)
from connector.models import (
    CampaignRun,
    Contact,
    ContactEvent,
    EngagementEvent,
    ListMembership,
    Message,
    SegmentMembership,
)
from connector.segment_sql_values import (
    CodePointText,
    GlobMatch,
    JsonInstantMs,
    JsonKind,
    JsonNumber,
    JsonText,
)

Sql = ColumnElement[bool]


@dataclass(frozen=True)
class _Scope:
    account_id: int
    now: datetime
    after: int | None = None  # a keyset page: only contacts with a greater id


def audience_query(
    rule: Rule, *, account_id: int, now: datetime, after: int | None = None
) -> tuple[Select[Any], Rule | None]:
    """SELECT contacts.id (ordered) of the account's contacts passing the pushed part of
    the rule, and the residual rule still to check in Python (None: nothing left).

    `after`: the keyset page after that contact id. It is written into each list and
    segment membership test as well: PostgreSQL does not carry `contacts.id > after` over
    to the membership index, and would read it from its start for every page."""
    condition, residual = _push(rule, _Scope(account_id, now, after))
    query = select(Contact.id).where(Contact.account_id == account_id)
    if after is not None:
        query = query.where(Contact.id > after)
    if condition is not None:
        query = query.where(condition)
    return query.order_by(Contact.id), residual


def audience(
    session: Session,
    rule: Rule,
    *,
    account_id: int,
    now: datetime,
    load_facts: Callable[[Sequence[int]], Mapping[int, ContactFacts]],
    batch: int = 1000,
) -> Iterator[int]:
    """The ids of the account's contacts in the audience, ascending, read in keyset pages
    of `batch` (no cursor stays open while `load_facts` queries)."""
    after: int | None = None
    while True:
        page, residual = audience_query(rule, account_id=account_id, now=now, after=after)
        ids = list(session.scalars(page.limit(batch)))
        if not ids:
            return
        after = ids[-1]
        if residual is None:
            yield from ids
            continue
        facts = load_facts(ids)
        # A contact deleted since the query has no facts: it is not in the audience.
        yield from (i for i in ids if i in facts and evaluate(residual, facts[i], now))


# -- composition ------------------------------------------------------------------------


def _push(rule: Rule, scope: _Scope) -> tuple[Sql | None, Rule | None]:
    """(SQL for the pushed part or None, the residual rule or None)."""
    if isinstance(rule, All):
        parts = [_push(part, scope) for part in rule.rules]
        pushed = [sql for sql, _ in parts if sql is not None]
        left = [rest for _, rest in parts if rest is not None]
        residual = None if not left else left[0] if len(left) == 1 else All(tuple(left))
        return (and_(*pushed) if pushed else None), residual
    if isinstance(rule, Any_):
        parts = [_push(part, scope) for part in rule.rules]
        if any(rest is not None or sql is None for sql, rest in parts):
            return None, rule
        return or_(*(sql for sql, _ in parts if sql is not None)), None
    if isinstance(rule, Not):
        sql, rest = _push(rule.rule, scope)
        return (None, rule) if rest is not None or sql is None else (not_(sql), None)
    push_leaf = LEAVES.get(type(rule))
    sql = None if push_leaf is None else push_leaf(rule, scope)
    return (None, rule) if sql is None else (sql, None)


# -- properties ---------------------------------------------------------------------------


@dataclass(frozen=True)
class _Value:
    """One property of one row's JSON column, with the coercions of engine.rules.values."""

    column: Any
    path: tuple[str, ...]

    @property
    def kind(self) -> ColumnElement[Any]:
        return JsonKind(self.column, self.path)

    @property
    def text(self) -> ColumnElement[Any]:
        return JsonText(self.column, self.path)

    @property
    def number(self) -> ColumnElement[Any]:
        return JsonNumber(self.column, self.path)

    @property
    def instant_ms(self) -> ColumnElement[Any]:
        return JsonInstantMs(self.column, self.path)


def condition_sql(cond: PropertyRule, column: Any, now: datetime) -> Sql | None:
    """A property condition on a JSON column, never NULL (so NOT works), or None."""
    if any(key.isdigit() for key in cond.path):
        return None
    value = _Value(column, cond.path)
    op = NEGATIONS.get(cond.op, cond.op)
    build = OPERATORS.get(op)
    sql = None if build is None else build(value, _operand(cond), now)
    if sql is None:
        return None
    sql = func.coalesce(sql, false())
    return not_(sql) if cond.op in NEGATIONS else sql


def _operand(cond: PropertyRule) -> Any:
    return as_instant_ms(cond.value) if cond.op in DATE_OPERATORS else cond.value


def _equals(value: _Value, operand: Any) -> Sql:
    if isinstance(operand, bool):
        word = "true" if operand else "false"
        return or_(
            and_(value.kind == "boolean", value.text == word),
            and_(value.kind == "string", func.lower(value.text) == word),
        )
    number = as_number(operand)
    if number is not None:
        return value.number == number
    same_text = and_(value.kind == "string", value.text == operand)
    if operand.lower() in ("true", "false"):
        return or_(same_text, and_(value.kind == "boolean", value.text == operand.lower()))
    return same_text


def _ordered(compare: Callable[[Any, Any], Sql]) -> Callable[[_Value, Any, datetime], Sql]:
    def build(value: _Value, operand: Any, now: datetime) -> Sql:
        number = as_number(operand)
        if number is not None:
            return compare(value.number, number)
        text = CodePointText(value.text)
        return and_(value.kind == "string", value.text != "", compare(text, operand))

    return build


def _between(value: _Value, operand: Any, now: datetime) -> Sql:
    low, high = operand
    return and_(
        _ordered(lambda a, b: a >= b)(value, low, now),
        _ordered(lambda a, b: a <= b)(value, high, now),
    )


def _exists(value: _Value, operand: Any, now: datetime) -> Sql:
    present = and_(
        value.kind.is_not(None),
        value.kind != "null",
        or_(value.kind != "string", value.text != ""),
    )
    return present if operand else not_(func.coalesce(present, false()))


def _window_bounds(operand: Any, now: datetime) -> tuple[int, int]:
    """(start, now) in whole ms: value_ms * 1000 > start_us  <=>  value_ms > start_us // 1000."""
    now_us = micros(now)
    return (now_us - int(operand.total_seconds()) * 1_000_000) // 1000, now_us // 1000


OPERATORS: dict[str, Callable[[_Value, Any, datetime], Sql | None]] = {
    "eq": lambda value, operand, now: _equals(value, operand),
    "in": lambda value, operand, now: or_(*(_equals(value, item) for item in operand)),
    "contains": lambda value, operand, now: None,
    "gt": _ordered(lambda a, b: a > b),
    "gte": _ordered(lambda a, b: a >= b),
    "lt": _ordered(lambda a, b: a < b),
    "lte": _ordered(lambda a, b: a <= b),
    "between": _between,
    "exists": _exists,
    "before": lambda value, millis, now: value.instant_ms < millis,
    "after": lambda value, millis, now: value.instant_ms > millis,
    "within_last": lambda value, window, now: value.instant_ms.between(
        _window_bounds(window, now)[0] + 1, _window_bounds(window, now)[1]
    ),
    "more_than_ago": lambda value, window, now: value.instant_ms <= _window_bounds(window, now)[0],
}
assert set(OPERATORS) >= set(WINDOW_OPERATORS)


# -- leaves -------------------------------------------------------------------------------


def _property(rule: Any, scope: _Scope) -> Sql | None:
    return condition_sql(rule, Contact.properties, scope.now)


def _counted(rule: EventRule | EngagementRule, conditions: list[Sql], last: Sql | None) -> Sql:
    """The count test on the rows matching `conditions`, and the `last` test if any."""
    matching = select(1).where(*conditions)
    if rule.at_least == 1 and rule.at_most is None:
        counted: Sql = exists(matching)
    elif rule.at_least == 0 and rule.at_most == 0:
        counted = not_(exists(matching))
    else:
        count = select(func.count()).where(*conditions).scalar_subquery()
        bounds = [count >= rule.at_least]
        if rule.at_most is not None:
            bounds.append(count <= rule.at_most)
        counted = and_(*bounds)
    return counted if last is None else and_(counted, last)


def _event(rule: Any, scope: _Scope) -> Sql | None:
    assert isinstance(rule, EventRule)
    event = aliased(ContactEvent)
    conditions = [*_window(event, rule, scope), event.name == rule.event]
    for cond in rule.where:
        sql = condition_sql(cond, event.properties, scope.now)
        if sql is None:
            return None
        conditions.append(sql)
    last = None
    if rule.last:
        newest = (
            select(event.id)
            .where(*conditions)
            .order_by(event.occurred_at.desc(), event.id.desc())
            .limit(1)
            .correlate(Contact)  # two levels down: auto-correlation stops at one
            .scalar_subquery()
        )
        chosen = aliased(ContactEvent)
        tests = [condition_sql(cond, chosen.properties, scope.now) for cond in rule.last]
        if any(test is None for test in tests):
            return None
        last = exists(select(1).where(chosen.id == newest, *tests))  # type: ignore[arg-type]
    return _counted(rule, conditions, last)


def _window(table: Any, rule: EventRule | EngagementRule, scope: _Scope) -> list[Sql]:
    conditions = [
        table.account_id == scope.account_id,
        table.contact_id == Contact.id,
        table.occurred_at <= scope.now,
    ]
    if rule.within is not None:
        conditions.append(table.occurred_at > scope.now - rule.within)
    return conditions


def _engagement(rule: Any, scope: _Scope) -> Sql | None:
    assert isinstance(rule, EngagementRule)
    if rule.link is not None and "[" in rule.link:
        return None
    engagement = aliased(EngagementEvent)
    conditions = [*_window(engagement, rule, scope), engagement.kind == rule.action,
                  engagement.machine.is_(False)]  # as the loader: a person's only
    columns = {"template": rule.template, "flow_key": rule.flow, "step_id": rule.step}
    wanted = [getattr(Message, name) == value for name, value in columns.items() if value]
    if rule.campaign is not None:
        # The email's campaign by key (keys are unique per account, as messages are).
        wanted.append(Message.campaign_id.in_(select(CampaignRun.id).where(
            CampaignRun.account_id == scope.account_id, CampaignRun.key == rule.campaign)))
    if wanted:
        conditions.append(exists(select(1).where(Message.id == engagement.message_id, *wanted)))
    if rule.link is not None:
        conditions.append(GlobMatch(engagement.url, rule.link))
    return _counted(rule, conditions, None)


def _in_list(rule: Any, scope: _Scope) -> Sql:
    return exists(
        select(1).where(
            ListMembership.account_id == scope.account_id,
            ListMembership.contact_id == Contact.id,
            ListMembership.list_key == rule.list,
            *_page(ListMembership.contact_id, scope),
        )
    )


def _in_segment(rule: Any, scope: _Scope) -> Sql:
    return exists(
        select(1).where(
            SegmentMembership.account_id == scope.account_id,
            SegmentMembership.contact_id == Contact.id,
            SegmentMembership.segment_key == rule.segment,
            SegmentMembership.left_at.is_(None),
            *_page(SegmentMembership.contact_id, scope),
        )
    )


def _page(contact_id: Any, scope: _Scope) -> list[Sql]:
    return [] if scope.after is None else [contact_id > scope.after]


LEAVES: dict[type, Callable[[Any, _Scope], Sql | None]] = {
    PropertyRule: _property,
    EventRule: _event,
    EngagementRule: _engagement,
    ListRule: _in_list,
    SegmentRule: _in_segment,
}
