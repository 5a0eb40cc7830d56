"""A small SOQL subset: SELECT fields FROM Contact|Lead|Task [WHERE cond AND ...]
[ORDER BY field [ASC|DESC]] [LIMIT n], where a condition is `field op literal` (=, !=, <,
<=, >, >=) or `field IN (literals)`, literals being quoted strings, datetimes, true/false,
null and numbers."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from devcrm.salesforce.errors import SfError, malformed
from devcrm.salesforce.objects import FIELDS, field_name

_TOKEN = re.compile(r"\s*(?:(?P<str>'(?:[^'\\]|\\.)*')|(?P<dt>\d{4}-\d\d-\d\dT[\d:.]+"
                    r"(?:Z|[+-]\d\d:?\d\d))|(?P<num>-?\d+(?:\.\d+)?)|(?P<op>!=|<=|>=|[=<>(),])"
                    r"|(?P<word>[A-Za-z_][A-Za-z0-9_.]*))")
_OPS = {"=", "!=", "<", "<=", ">", ">="}


@dataclass
class Condition:
    field: str
    op: str
    value: Any  # a literal, or a list of them for IN


@dataclass
class Query:
    fields: list[str]
    sobject: str
    where: list[Condition] = field(default_factory=list)
    order_by: str | None = None
    descending: bool = False
    limit: int | None = None

    def matches(self, record: dict[str, Any]) -> bool:
        return all(_holds(c, record.get(c.field)) for c in self.where)


def _tokens(text: str) -> list[tuple[str, Any]]:
    out: list[tuple[str, Any]] = []
    pos, text = 0, text.strip()
    while pos < len(text):
        match = _TOKEN.match(text, pos)
        if match is None or match.end() == pos:
            raise malformed(f"unexpected token: '{text[pos:].split()[0]}'")
        pos = match.end()
        kind = match.lastgroup
        raw = match.group(kind or "")
        if kind == "str":
            out.append(("lit", re.sub(r"\\(.)", r"\1", raw[1:-1])))
        elif kind == "dt":
            out.append(("lit", datetime.fromisoformat(raw.replace("Z", "+00:00"))))
        elif kind == "num":
            out.append(("lit", float(raw) if "." in raw else int(raw)))
        elif kind == "op":
            out.append(("op", raw))
        else:
            lowered = raw.lower()
            literal = {"true": True, "false": False, "null": None}
            out.append(("lit", literal[lowered]) if lowered in literal else ("word", raw))
    return out


class _Parser:
    def __init__(self, text: str) -> None:
        self.tokens, self.pos = _tokens(text), 0

    def peek(self) -> tuple[str, Any] | None:
        return self.tokens[self.pos] if self.pos < len(self.tokens) else None

    def take(self) -> tuple[str, Any]:
        token = self.peek()
        if token is None:
            raise malformed("unexpected end of query")
        self.pos += 1
        return token

    def keyword(self, word: str) -> bool:
        token = self.peek()
        if token and token[0] == "word" and str(token[1]).upper() == word:
            self.pos += 1
            return True
        return False

    def expect(self, word: str) -> None:
        if not self.keyword(word):
            raise malformed(f"expecting '{word}'")

    def word(self) -> str:
        kind, value = self.take()
        if kind != "word":
            raise malformed(f"unexpected token: '{value}'")
        return str(value)


def parse(text: str) -> Query:
    """The query, with field names canonicalised; MALFORMED_QUERY or INVALID_FIELD if not."""
    p = _Parser(text)
    p.expect("SELECT")
    names = [p.word()]
    while p.peek() == ("op", ","):
        p.take()
        names.append(p.word())
    p.expect("FROM")
    sobject = p.word()
    sobject = next((s for s in FIELDS if s.lower() == sobject.lower()), sobject)
    if sobject not in FIELDS:
        raise SfError(400, "INVALID_TYPE", f"sObject type '{sobject}' is not supported.")
    query = Query([field_name(sobject, n) for n in names], sobject)
    if p.keyword("WHERE"):
        query.where.append(_condition(p, sobject))
        while p.keyword("AND"):
            query.where.append(_condition(p, sobject))
    if p.keyword("ORDER"):
        p.expect("BY")
        query.order_by = field_name(sobject, p.word())
        query.descending = p.keyword("DESC")
        if not query.descending:
            p.keyword("ASC")
    if p.keyword("LIMIT"):
        kind, value = p.take()
        if kind != "lit" or not isinstance(value, int) or value < 0:
            raise malformed("LIMIT needs a non-negative integer")
        query.limit = value
    if p.peek() is not None:
        raise malformed(f"unexpected token: '{p.take()[1]}'")
    return query


def _condition(p: _Parser, sobject: str) -> Condition:
    name = field_name(sobject, p.word())
    if p.keyword("IN"):
        if p.take() != ("op", "("):
            raise malformed("expecting '('")
        values = []
        while True:
            kind, value = p.take()
            if kind != "lit":
                raise malformed(f"unexpected token: '{value}'")
            values.append(value)
            kind, value = p.take()
            if (kind, value) == ("op", ")"):
                return Condition(name, "IN", values)
            if (kind, value) != ("op", ","):
                raise malformed("expecting ',' or ')'")
    kind, op = p.take()
    if kind != "op" or op not in _OPS:
        raise malformed(f"unexpected token: '{op}'")
    kind, value = p.take()
    if kind != "lit":
        raise malformed(f"unexpected token: '{value}'")
    return Condition(name, op, value)


def _comparable(stored: Any, literal: Any) -> tuple[Any, Any]:
    if isinstance(literal, datetime) and isinstance(stored, str):
        return datetime.fromisoformat(stored.replace("+0000", "+00:00")), literal
    if isinstance(literal, str) and isinstance(stored, str):
        return stored.lower(), literal.lower()  # SOQL string equality ignores case
    return stored, literal


def _holds(cond: Condition, stored: Any) -> bool:
    if cond.op == "IN":
        if cond.field.endswith("Id") and isinstance(stored, str):
            return any(isinstance(v, str) and v[:15] == stored[:15] for v in cond.value)
        return any(_equal(stored, v) for v in cond.value)
    if cond.op in ("=", "!="):
        if cond.field.endswith("Id") and isinstance(stored, str) and isinstance(cond.value, str):
            equal = stored[:15] == cond.value[:15]
        else:
            equal = _equal(stored, cond.value)
        return equal if cond.op == "=" else not equal
    if stored is None or cond.value is None:
        return False
    left, right = _comparable(stored, cond.value)
    try:
        return bool({"<": left < right, "<=": left <= right, ">": left > right,
                     ">=": left >= right}[cond.op])
    except TypeError:
        return False


def _equal(stored: Any, literal: Any) -> bool:
    left, right = _comparable(stored, literal)
    return bool(left == right)
