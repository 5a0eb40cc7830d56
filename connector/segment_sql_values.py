"""Portable SQL for the rule value coercions of connector/engine/rules/values.py, so that a
pushed-down rule gives exactly the answers the Python evaluator gives.

Each construct reads one value out of a JSON column at a property path and compiles per
dialect (SQLite's json_type/json_extract, PostgreSQL's #> / #>> / json_typeof): its JSON
kind, its text, its number (JSON numbers and numeric strings, else NULL) and its instant
in epoch milliseconds (epoch numbers and ISO text, else NULL). Plus a glob match for links
and code-point ordering of text.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy import (
    ARRAY,
    TIMESTAMP,
    BigInteger,
    Boolean,
    ColumnElement,
    Integer,
    Numeric,
    String,
    Text,
    and_,
    case,
    cast,
    extract,
    func,
    literal,
)
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.functions import FunctionElement

from connector.engine.rules import DATE_PATTERN, EPOCH_MS_FROM, MAX_MS, MIN_MS, NUMBER_PATTERN

# SQLite's REGEXP is Python's re.search; PostgreSQL's `$` already means the very end.
SQLITE_NUMBER = rf"^(?:{NUMBER_PATTERN})\Z"
SQLITE_DATE = rf"^(?:{DATE_PATTERN})\Z"
PG_NUMBER = rf"^({NUMBER_PATTERN})$"
PG_DATE = rf"^({DATE_PATTERN})$"
SQLITE_KINDS = {"text": "string", "integer": "number", "real": "number",
                "true": "boolean", "false": "boolean"}  # fmt: skip
UNIX_EPOCH_JULIAN_DAY = 2440587.5


def sqlite_json_path(path: tuple[str, ...]) -> str:
    # Rule paths never hold '"' or '\\' (rules.operands.PROPERTY_PATH), so quoting is plain.
    return "$" + "".join(f'."{key}"' for key in path)


class _JsonPart(FunctionElement[Any]):
    """(column, SQLite path, PostgreSQL path): each dialect renders the path it reads."""

    inherit_cache = True

    def __init__(self, column: Any, path: tuple[str, ...]) -> None:
        super().__init__(
            column, literal(sqlite_json_path(path)), literal(list(path), ARRAY(Text()))
        )

    def parts(self) -> tuple[ColumnElement[Any], ColumnElement[Any], ColumnElement[Any]]:
        column, sqlite_path, pg_path = self.clauses.clauses
        return column, sqlite_path, pg_path


class JsonKind(_JsonPart):
    """'string', 'number', 'boolean', 'null', 'object', 'array', or NULL when absent."""

    type = String()
    name = "json_kind"
    inherit_cache = True


class JsonText(_JsonPart):
    """The text of a string value ('true'/'false' for booleans); meaningful for those."""

    type = Text()
    name = "json_text"
    inherit_cache = True


class JsonNumber(_JsonPart):
    type = Numeric()
    name = "json_number"
    inherit_cache = True


class JsonInstantMs(_JsonPart):
    type = BigInteger()
    name = "json_instant_ms"
    inherit_cache = True


# -- SQLite -------------------------------------------------------------------------------


def _sqlite(element: _JsonPart) -> tuple[ColumnElement[Any], ColumnElement[Any]]:
    column, path, _ = element.parts()
    return func.json_type(column, path), func.json_extract(column, path)


def _sqlite_number(element: _JsonPart) -> ColumnElement[Any]:
    kind, raw = _sqlite(element)
    numeric_text = case((cast(raw, Text).regexp_match(SQLITE_NUMBER), cast(raw, Numeric)))
    return case((kind.in_(("integer", "real")), raw), (kind == "text", numeric_text))


def _sqlite_date_ms(text: ColumnElement[Any]) -> ColumnElement[Any]:
    """ISO text -> epoch ms: the offset gets its colon, the fraction keeps 3 digits."""
    glob = text.op("GLOB")
    zone_length = case(
        (glob("*Z"), 1),
        (glob("*[+-][0-9][0-9]:[0-9][0-9]"), 6),
        (glob("*[+-][0-9][0-9][0-9][0-9]"), 5),
        else_=0,
    )
    length = func.length(text)
    whole = func.substr(text, 1, length - zone_length)
    dot = func.instr(whole, ".")
    body = case((dot > 0, func.substr(whole, 1, dot + 3)), else_=whole)
    zone = case(
        (zone_length == 5, func.substr(text, -5, 3).concat(":").concat(func.substr(text, -2))),
        else_=func.substr(text, length - zone_length + 1),
    )
    day = func.substr(text, 1, 10)
    millis = func.round((func.julianday(body.concat(zone)) - UNIX_EPOCH_JULIAN_DAY) * 86_400_000.0)
    # julianday() rolls February 30th over into March; Python refuses it.
    return case((func.date(func.julianday(day)) == day, cast(millis, Integer)))


@compiles(JsonKind, "sqlite")
def _kind_sqlite(element: JsonKind, compiler: SQLCompiler, **kw: Any) -> str:
    kind, _ = _sqlite(element)
    return compiler.process(case(SQLITE_KINDS, value=kind, else_=kind), **kw)


@compiles(JsonText, "sqlite")
def _text_sqlite(element: JsonText, compiler: SQLCompiler, **kw: Any) -> str:
    kind, raw = _sqlite(element)
    expression = case({"true": "true", "false": "false"}, value=kind, else_=cast(raw, Text))
    return compiler.process(expression, **kw)


@compiles(JsonNumber, "sqlite")
def _number_sqlite(element: JsonNumber, compiler: SQLCompiler, **kw: Any) -> str:
    return compiler.process(_sqlite_number(element), **kw)


@compiles(JsonInstantMs, "sqlite")
def _instant_sqlite(element: JsonInstantMs, compiler: SQLCompiler, **kw: Any) -> str:
    kind, raw = _sqlite(element)
    text = cast(raw, Text)
    is_date = and_(kind == "text", text.regexp_match(SQLITE_DATE))
    expression = case(
        (_sqlite_number(element).is_not(None), _epoch_ms(_sqlite_number(element), _sqlite_int)),
        (is_date, _sqlite_date_ms(text)),
    )
    return compiler.process(expression, **kw)


# -- PostgreSQL ---------------------------------------------------------------------------


def _pg(element: _JsonPart) -> tuple[ColumnElement[Any], ColumnElement[Any]]:
    column, _, path = element.parts()
    path = cast(path, ARRAY(Text()))
    return func.json_typeof(column.op("#>")(path)), column.op("#>>", return_type=Text())(path)


def _pg_number(element: _JsonPart) -> ColumnElement[Any]:
    kind, text = _pg(element)
    return case(
        (kind == "number", cast(text, Numeric)),
        (and_(kind == "string", text.regexp_match(PG_NUMBER)), cast(text, Numeric)),
    )


def _pg_date_ms(text: ColumnElement[Any]) -> ColumnElement[Any]:
    day = func.substr(text, 1, 10)
    first = func.make_date(
        cast(func.substr(text, 1, 4), Integer), cast(func.substr(text, 6, 2), Integer), 1
    )
    real_day = func.to_char(first + (cast(func.substr(text, 9, 2), Integer) - 1), "YYYY-MM-DD")
    millis_only = func.regexp_replace(text, r"(\.[0-9]{3})[0-9]+", r"\1")
    has_zone = and_(func.length(text) > 10, text.regexp_match(r"(Z|[+-][0-9]{2}:?[0-9]{2})$"))
    moment = case(
        (has_zone, cast(millis_only, TIMESTAMP(timezone=True))),
        else_=func.timezone("UTC", cast(millis_only, TIMESTAMP())),
    )
    millis = cast(func.trunc(extract("epoch", moment) * 1000), BigInteger)
    # The casts raise on February 30th, so the day is checked first (CASE is lazy).
    return case((real_day == day, millis))


@compiles(JsonKind, "postgresql")
def _kind_pg(element: JsonKind, compiler: SQLCompiler, **kw: Any) -> str:
    return compiler.process(_pg(element)[0], **kw)


@compiles(JsonText, "postgresql")
def _text_pg(element: JsonText, compiler: SQLCompiler, **kw: Any) -> str:
    return compiler.process(_pg(element)[1], **kw)


@compiles(JsonNumber, "postgresql")
def _number_pg(element: JsonNumber, compiler: SQLCompiler, **kw: Any) -> str:
    return compiler.process(_pg_number(element), **kw)


@compiles(JsonInstantMs, "postgresql")
def _instant_pg(element: JsonInstantMs, compiler: SQLCompiler, **kw: Any) -> str:
    kind, text = _pg(element)
    is_date = and_(kind == "string", text.regexp_match(PG_DATE))
    expression = case(
        (_pg_number(element).is_not(None), _epoch_ms(_pg_number(element), _pg_int)),
        (is_date, _pg_date_ms(text)),
    )
    return compiler.process(expression, **kw)


def _epoch_ms(
    number: ColumnElement[Any], truncate: Callable[[ColumnElement[Any]], ColumnElement[Any]]
) -> ColumnElement[Any]:
    """Epoch milliseconds from a number: |n| >= 1e11 is ms, else seconds; toward zero."""
    millis = case((func.abs(number) >= EPOCH_MS_FROM, number), else_=number * 1000)
    return case((millis.between(MIN_MS, MAX_MS), truncate(millis)))


def _sqlite_int(number: ColumnElement[Any]) -> ColumnElement[Any]:
    return cast(number, Integer)  # SQLite's CAST truncates toward zero


def _pg_int(number: ColumnElement[Any]) -> ColumnElement[Any]:
    return cast(func.trunc(number), BigInteger)  # PostgreSQL's CAST would round


# -- globs and ordering -------------------------------------------------------------------


class GlobMatch(FunctionElement[bool]):
    """fnmatchcase() for patterns made of literal text, `*` and `?` only."""

    type = Boolean()
    name = "glob_match"
    inherit_cache = True

    def __init__(self, column: Any, pattern: str) -> None:
        escaped = pattern.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        like = escaped.replace("*", "%").replace("?", "_")
        super().__init__(column, literal(pattern), literal(like))


@compiles(GlobMatch, "sqlite")
def _glob_sqlite(element: GlobMatch, compiler: SQLCompiler, **kw: Any) -> str:
    column, pattern, _ = element.clauses.clauses
    return f"({compiler.process(column, **kw)} GLOB {compiler.process(pattern, **kw)})"


@compiles(GlobMatch, "postgresql")
def _glob_pg(element: GlobMatch, compiler: SQLCompiler, **kw: Any) -> str:
    column, _, like = element.clauses.clauses
    return f"({compiler.process(column, **kw)} LIKE {compiler.process(like, **kw)})"


class CodePointText(FunctionElement[str]):
    """Text that orders by code point, as Python strings do (not by the locale)."""

    type = Text()
    name = "code_point_text"
    inherit_cache = True


@compiles(CodePointText, "sqlite")
def _code_point_sqlite(element: CodePointText, compiler: SQLCompiler, **kw: Any) -> str:
    return compiler.process(element.clauses.clauses[0], **kw)  # BINARY is the default


@compiles(CodePointText, "postgresql")
def _code_point_pg(element: CodePointText, compiler: SQLCompiler, **kw: Any) -> str:
    return f'({compiler.process(element.clauses.clauses[0], **kw)} COLLATE "C")'
