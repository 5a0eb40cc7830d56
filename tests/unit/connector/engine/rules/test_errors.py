"""Every validation error of a rule, with its exact message (path inside the rule) and line.
Expected messages are written relative to the source: ":3: rule..." means "r.yaml:3: rule...".
"""

from __future__ import annotations

import pytest
from yaml.nodes import Node

from connector.engine.rules import parse_rule, parse_rule_text
from connector.engine.yamlnodes import Context, DefinitionErrors

RULE = "a rule (a mapping such as {property: lifecyclestage, eq: customer})"
KINDS = (
    "(expected one of: property, event, opened, clicked, in_list, in_segment, bucket, "
    "all, any, not)"
)
OPS = (
    "eq, neq, in, not_in, contains, gt, gte, lt, lte, between, exists, before, after, "
    "within_last, more_than_ago"
)
DATE = "an ISO date or date-time such as 2026-01-31 or 2026-01-31T09:00:00Z"
EXAMPLES = "(e.g. '30s', '15m', '2h', '3d', '1w' or '1d12h')"
NAME_CHARS = "(letters, digits, '.', '_', ':' and '-')"
ID_CHARS = "(lowercase letters, digits and '-')"
BUCKET_OPS = "(expected one of: eq, neq, in, not_in, gt, gte, lt, lte, between)"
VALUE = "expected text, a number or true/false"

CASES: dict[str, tuple[str, list[str]]] = {
    "empty": ("# nothing\n", [f": the document is empty; expected {RULE}"]),
    "list": ("- a\n", [f":1: rule: expected {RULE}, got a list"]),
    "scalar": ("hello\n", [f":1: rule: expected {RULE}, got a string 'hello'"]),
    "syntax": (
        "{property: a, eq: [1}\n",
        [":1: YAML syntax error: while parsing a flow sequence, expected ',' or ']', but got '}'"],
    ),
    "no kind": ("eq: x\n", [f":1: rule: missing the rule kind {KINDS}"]),
    "unknown kind": (
        "propery: a\neq: x\n",
        [":1: rule: unknown rule kind 'propery' (did you mean 'property'?)"],
    ),
    "unknown kind far": ("color: red\n", [f":1: rule: unknown rule kind 'color' {KINDS}"]),
    "two kinds": (
        "property: a\nevent: x\n",
        [
            ":2: rule: a rule has one kind, found 'property' and 'event' "
            "(combine rules with all: or any:)"
        ],
    ),
    "unknown operator": (
        "property: a\ngtt: 5\n",
        [":2: rule: unknown operator 'gtt' (did you mean 'gt'?)"],
    ),
    "unknown operator far": (
        "property: a\nlike: x\n",
        [f":2: rule: unknown operator 'like' (expected one of: {OPS})"],
    ),
    "no operator": ("property: a\n", [f":1: rule: missing an operator (one of: {OPS})"]),
    "two operators": (
        "property: a\ngt: 1\nlt: 5\n",
        [":3: rule: one operator per property rule, found 'gt' and 'lt' (use between: or all:)"],
    ),
    "bad path": (
        "{property: 'a..b', eq: 1}\n",
        [":1: rule.property: invalid property path 'a..b' (names joined by '.', no spaces)"],
    ),
    "path with space": (
        "{property: 'a b', eq: 1}\n",
        [":1: rule.property: invalid property path 'a b' (names joined by '.', no spaces)"],
    ),
    "property not string": (
        "{property: 5, eq: 1}\n",
        [":1: rule.property: expected a property name, got an integer 5"],
    ),
    "eq null": (
        "{property: a, eq: null}\n",
        [f":1: rule.eq: {VALUE}, got nothing (use exists: false)"],
    ),
    "eq empty": (
        "{property: a, eq: ''}\n",
        [f":1: rule.eq: {VALUE}, got an empty string (use exists: false)"],
    ),
    "eq list": ("{property: a, eq: [1]}\n", [f":1: rule.eq: {VALUE}, got a list"]),
    "in scalar": (
        "{property: a, in: x}\n",
        [":1: rule.in: expected a list of values such as [lead, customer], got a string 'x'"],
    ),
    "in empty": (
        "{property: a, in: []}\n",
        [":1: rule.in: expected a list of values such as [lead, customer], got an empty list"],
    ),
    "in nested": ("{property: a, in: [x, [y]]}\n", [f":1: rule.in[1]: {VALUE}, got a list"]),
    "gt bool": (
        "{property: a, gt: true}\n",
        [":1: rule.gt: expected a number or text, got a boolean true"],
    ),
    "between one": (
        "{property: a, between: [1]}\n",
        [":1: rule.between: expected [low, high], got a list"],
    ),
    "between mixed": (
        "{property: a, between: [1, b]}\n",
        [":1: rule.between: low and high must both be numbers or both be text"],
    ),
    "between reversed": (
        "{property: a, between: [10, 1]}\n",
        [":1: rule.between: low 10 is above high 1"],
    ),
    "exists str": (
        "{property: a, exists: yes}\n",
        [":1: rule.exists: expected true or false, got a string 'yes'"],
    ),
    "before bad": (
        "{property: a, before: yesterday}\n",
        [f":1: rule.before: expected {DATE}, got a string 'yesterday'"],
    ),
    "before epoch": (
        "{property: a, before: 1704067200000}\n",
        [f":1: rule.before: expected {DATE}, got an integer 1704067200000"],
    ),
    "before feb30": (
        "{property: a, before: 2026-02-30}\n",
        [f":1: rule.before: expected {DATE}, got a string '2026-02-30'"],
    ),
    "within_last unitless": (
        "{property: a, within_last: 30}\n",
        [f":1: rule.within_last: 30 needs a unit {EXAMPLES}"],
    ),
    "within_last bad": (
        "{property: a, within_last: 30x}\n",
        [f":1: rule.within_last: invalid duration '30x' {EXAMPLES}"],
    ),
    "within_last zero": (
        "{property: a, within_last: 0d}\n",
        [":1: rule.within_last: duration '0d' is zero; it must be longer than zero"],
    ),
    "within_last map bad": (
        "property: a\nwithin_last:\n  days: 1\n  yrs: 2\n",
        [
            ":4: rule.within_last: unknown duration unit 'yrs' "
            "(expected one of: weeks, days, hours, minutes, seconds)"
        ],
    ),
    "event bad name": (
        "{event: 'order completed'}\n",
        [
            ":1: rule.event: invalid event name 'order completed' "
            "(letters, digits, '.', '_', ':' and '-'; at most 100 characters)"
        ],
    ),
    "event not string": (
        "{event: 5}\n",
        [":1: rule.event: expected an event name such as order.completed, got an integer 5"],
    ),
    "event unknown key": (
        "{event: x, withn: 3d}\n",
        [":1: rule: unknown key 'withn' for an event rule (did you mean 'within'?)"],
    ),
    "at_least neg": (
        "{event: x, at_least: -1}\n",
        [":1: rule.at_least: expected a whole number (0 or more), got an integer -1"],
    ),
    "at_least str": (
        "{event: x, at_least: two}\n",
        [":1: rule.at_least: expected a whole number (0 or more), got a string 'two'"],
    ),
    "at_least 0": (
        "{event: x, at_least: 0}\n",
        [":1: rule.at_least: 0 always holds (did you mean at_most: 0?)"],
    ),
    "exactly combo": (
        "{event: x, exactly: 2, at_least: 1}\n",
        [":1: rule: exactly cannot be combined with at_least or at_most"],
    ),
    "at_least>at_most": (
        "event: x\nat_least: 5\nat_most: 2\n",
        [":3: rule: at_least 5 is above at_most 2"],
    ),
    "where list": (
        "{event: x, where: [a]}\n",
        [":1: rule.where: expected a mapping of properties such as {category: shoes}, got a list"],
    ),
    "where list value": (
        "{event: x, where: {a: [1, 2]}}\n",
        [":1: rule.where.a: expected a value or operators, got a list (use {in: [...]})"],
    ),
    "where null": (
        "{event: x, where: {a: null}}\n",
        [":1: rule.where.a: expected a value or operators, got nothing (use {exists: false})"],
    ),
    "where bad op": (
        "event: x\nwhere:\n  total: {gtt: 1}\n",
        [":3: rule.where.total: unknown operator 'gtt' (did you mean 'gt'?)"],
    ),
    "where empty ops": (
        "{event: x, where: {total: {}}}\n",
        [":1: rule.where.total: expected at least one operator such as {eq: shoes}"],
    ),
    "last never": (
        "{event: x, at_most: 0, last: {a: 1}}\n",
        [":1: rule.last: never holds when no event may occur"],
    ),
    "opened bad": (
        "{opened: all}\n",
        [
            ":1: rule.opened: expected 'any' or a mapping such as {template: first-offer}, "
            "got a string 'all'"
        ],
    ),
    "opened link": (
        "{opened: {link: 'x*'}}\n",
        [
            ":1: rule.opened: unknown key 'link' for opened "
            "(expected one of: template, flow, step, campaign)"
        ],
    ),
    "clicked unknown": (
        "{clicked: {templat: x}}\n",
        [":1: rule.clicked: unknown key 'templat' for clicked (did you mean 'template'?)"],
    ),
    "clicked step no flow": (
        "{clicked: {step: x}}\n",
        [":1: rule.clicked.step: needs flow (step ids are per flow)"],
    ),
    "clicked empty template": (
        "{clicked: {template: ''}}\n",
        [":1: rule.clicked.template: expected a template name, got an empty string"],
    ),
    "in_list bad": (
        "{in_list: 'a b'}\n",
        [f":1: rule.in_list: invalid list name 'a b' {NAME_CHARS}"],
    ),
    "in_segment bad": (
        "{in_segment: VIP}\n",
        [f":1: rule.in_segment: invalid segment id 'VIP' {ID_CHARS}"],
    ),
    "bucket scalar": (
        "{bucket: 50}\n",
        [":1: rule.bucket: expected a comparison such as {lt: 50}, got an integer 50"],
    ),
    "bucket two": (
        "{bucket: {lt: 50, gt: 1}}\n",
        [":1: rule.bucket: expected one comparison such as {lt: 50}"],
    ),
    "bucket op": (
        "{bucket: {contains: 5}}\n",
        [f":1: rule.bucket: unknown operator 'contains' {BUCKET_OPS}"],
    ),
    "bucket range": (
        "{bucket: {lt: 500}}\n",
        [":1: rule.bucket.lt: expected a whole number from 0 to 100, got an integer 500"],
    ),
    "bucket between": (
        "{bucket: {between: [50, 10]}}\n",
        [":1: rule.bucket.between: expected [low, high] with low <= high"],
    ),
    "bucket in scalar": (
        "{bucket: {in: 5}}\n",
        [":1: rule.bucket.in: expected a list of whole numbers, got an integer 5"],
    ),
    "bucket salt": ("{bucket: {lt: 5}, salt: [x]}\n", [":1: rule.salt: expected text, got a list"]),
    "bucket extra": (
        "{bucket: {lt: 5}, seed: 1}\n",
        [":1: rule: unknown key 'seed' for a bucket rule (expected one of: bucket, salt)"],
    ),
    "all empty": ("{all: []}\n", [":1: rule.all: expected a list of rules, got an empty list"]),
    "all scalar": ("{all: x}\n", [":1: rule.all: expected a list of rules, got a string 'x'"]),
    "any nested": (
        "any:\n  - {property: a, eq: 1}\n  - all:\n"
        "      - {in_list: x}\n      - {property: b, gtt: 2}\n",
        [":5: rule.any[1].all[1]: unknown operator 'gtt' (did you mean 'gt'?)"],
    ),
    "not list": ("{not: [x]}\n", [f":1: rule.not: expected {RULE}, got a list"]),
    "all extra": (
        "{all: [{in_list: a}], name: x}\n",
        [":1: rule: unknown key 'name' for an all rule (expected one of: all)"],
    ),
    "anchor": (
        "a: &x {in_list: a}\nall: [*x]\n",
        [":1: YAML anchors and aliases are not allowed ('x')"],
    ),
}


@pytest.mark.parametrize(("text", "expected"), CASES.values(), ids=list(CASES))
def test_error(text: str, expected: list[str]) -> None:
    with pytest.raises(DefinitionErrors) as caught:
        parse_rule_text(text, "r.yaml")
    assert [str(error).removeprefix("r.yaml") for error in caught.value.errors] == expected


def test_all_errors_are_reported_at_once_in_line_order() -> None:
    text = (
        "all:\n"
        "  - {property: a, gtt: 1}\n"
        "  - {event: x, within: 3x}\n"
        "  - any:\n"
        "      - {in_segment: Bad}\n"
        "      - {opened: {flow: f, step: s}, withn: 1d}\n"
    )
    with pytest.raises(DefinitionErrors) as caught:
        parse_rule_text(text, "segments/s.yaml")
    assert [str(error) for error in caught.value.errors] == [
        "segments/s.yaml:2: rule.all[0]: unknown operator 'gtt' (did you mean 'gt'?)",
        "segments/s.yaml:3: rule.all[1].within: invalid duration '3x' "
        "(e.g. '30s', '15m', '2h', '3d', '1w' or '1d12h')",
        "segments/s.yaml:5: rule.all[2].any[0].in_segment: invalid segment id 'Bad' "
        "(lowercase letters, digits and '-')",
        "segments/s.yaml:6: rule.all[2].any[1]: unknown key 'withn' for an opened rule "
        "(did you mean 'within'?)",
    ]


def test_json_text_is_accepted() -> None:
    rule = parse_rule_text('{"property": "amount", "gt": 10}', "api")
    assert rule == parse_rule_text("{property: amount, gt: 10}", "api")


def test_parse_rule_reports_through_the_callers_context_with_its_label() -> None:
    """The flow loader embeds rules: errors carry its label and its file's lines."""
    ctx = Context("flows/f.yaml")
    root = ctx.compose("steps:\n  - branch:\n      - if: {property: a, eqq: 1}\n")
    assert root is not None
    node: Node = root.value[0][1].value[0].value[0][1].value[0].value[0][1]
    assert parse_rule(ctx, node, "steps[0].branch[0].if") is None
    assert [str(e) for e in ctx.errors] == [
        "flows/f.yaml:3: steps[0].branch[0].if: unknown operator 'eqq' (did you mean 'eq'?)"
    ]
    good = ctx.compose("{in_list: a}")
    assert good is not None
    assert parse_rule(ctx, good, "x") is not None
