"""Validation errors of the newer trigger types, step kinds and settings: exact messages
and lines (test_errors.py covers the document, YAML itself, send, wait and exit)."""

from __future__ import annotations

import pytest

from connector.engine.loader import FlowErrors, parse_flow

HEAD = "name: x\ntrigger: {type: contact.created}\n"  # lines 1-2


def errors_of(text: str) -> list[str]:
    with pytest.raises(FlowErrors) as caught:
        parse_flow(text, "flows/f.yaml")
    return [str(error) for error in caught.value.errors]


CASES: dict[str, tuple[str, list[str]]] = {
    # -- steps ---------------------------------------------------------------------------
    "goto unknown": (
        HEAD + "steps:\n  - send: a\n  - goto: nowhere\n",
        [
            "flows/f.yaml:5: step 2: goto: no step 'nowhere' in this flow (expected one of: "
            "step-1, step-2)",
        ],
    ),
    "goto close": (
        HEAD + "steps:\n  - {id: hello, send: a}\n  - goto: helo\n",
        [
            "flows/f.yaml:5: step 2: goto: no step 'helo' in this flow (did you mean 'hello'?)",
        ],
    ),
    "on_timeout unknown": (
        HEAD + "steps:\n  - wait_for: {event: x, timeout: 1d, on_timeout: later}\n",
        [
            "flows/f.yaml:4: step 1: wait_for: on_timeout: no step 'later' in this flow "
            "(expected one of: step-1)",
        ],
    ),
    "wait_for no timeout": (
        HEAD + "steps:\n  - wait_for: {event: x}\n",
        [
            "flows/f.yaml:4: step 1: wait_for: missing required key 'timeout'",
        ],
    ),
    "wait_for both": (
        HEAD + "steps:\n  - wait_for: {event: x, segment: vip, timeout: 1d}\n",
        [
            "flows/f.yaml:4: step 1: wait_for: give either 'event' or 'segment'",
        ],
    ),
    "wait_for neither": (
        HEAD + "steps:\n  - wait_for: {timeout: 1d}\n",
        [
            "flows/f.yaml:4: step 1: wait_for: give either 'event' or 'segment'",
        ],
    ),
    "wait_for where segment": (
        HEAD + "steps:\n  - wait_for: {segment: vip, where: {a: 1}, timeout: 1d}\n",
        [
            "flows/f.yaml:4: step 1: wait_for: where: filters apply to events only",
        ],
    ),
    "wait_for not mapping": (
        HEAD + "steps:\n  - wait_for: order.shipped\n",
        [
            "flows/f.yaml:4: step 1: wait_for: expected a mapping such as {event: "
            "order.shipped, timeout: 14d}, got a string 'order.shipped'",
        ],
    ),
    "bad weekday": (
        HEAD + "steps:\n  - wait: {until: '09:00', weekdays: [mon, fir]}\n",
        [
            "flows/f.yaml:4: step 1: wait: weekdays: unknown weekday 'fir' (did you mean 'fri'?)",
        ],
    ),
    "empty weekdays": (
        HEAD + "steps:\n  - wait: {until: '09:00', weekdays: []}\n",
        [
            "flows/f.yaml:4: step 1: wait: weekdays: needs at least one day (leave it out "
            "for any day)",
        ],
    ),
    "bad time": (
        HEAD + "steps:\n  - wait: {until: '9am'}\n",
        [
            "flows/f.yaml:4: step 1: wait: until: expected a time such as '09:00' (HH:MM), "
            "got a string '9am'",
        ],
    ),
    "bad time 24": (
        HEAD + "steps:\n  - wait: {until: '24:00'}\n",
        [
            "flows/f.yaml:4: step 1: wait: until: expected a time such as '09:00' (HH:MM), "
            "got a string '24:00'",
        ],
    ),
    "until typo": (
        HEAD + "steps:\n  - wait: {untill: '09:00'}\n",
        [
            "flows/f.yaml:4: step 1: wait: unknown key 'untill' (did you mean 'until'?)",
        ],
    ),
    "until extra": (
        HEAD + "steps:\n  - wait: {until: '09:00', days: 1}\n",
        [
            "flows/f.yaml:4: step 1: wait: unknown key 'days' (did you mean 'weekdays'?)",
        ],
    ),
    "until_date neither": (
        HEAD + "steps:\n  - wait: {until_date: {offset: 1d}}\n",
        [
            "flows/f.yaml:4: step 1: wait: until_date: give either 'property' or 'event_property'",
        ],
    ),
    "until_date both": (
        HEAD + "steps:\n  - wait: {until_date: {property: a, event_property: b}}\n",
        [
            "flows/f.yaml:4: step 1: wait: until_date: give either 'property' or 'event_property'",
        ],
    ),
    "until_date bad offset": (
        HEAD + "steps:\n  - wait: {until_date: {property: a, offset: 3x}}\n",
        [
            "flows/f.yaml:4: step 1: wait: until_date: offset: invalid duration '3x' (e.g. "
            "'30s', '15m', '2h', '3d', '1w' or '1d12h')",
        ],
    ),
    "until_date neg offset bad": (
        HEAD + "steps:\n  - wait: {until_date: {property: a, offset: -3x}}\n",
        [
            "flows/f.yaml:4: step 1: wait: until_date: offset: invalid duration '-3x' (e.g. "
            "'30s', '15m', '2h', '3d', '1w' or '1d12h')",
        ],
    ),
    "branch empty": (
        HEAD + "steps:\n  - branch: []\n",
        [
            "flows/f.yaml:4: step 1: branch: needs at least one case with 'if' and 'goto'",
        ],
    ),
    "branch else first": (
        HEAD + "steps:\n  - {id: a, branch: [{else: a}, {if: {in_segment: vip}, goto: a}]}\n",
        [
            "flows/f.yaml:4: step 1: branch: case 1: 'else' must be the last case",
        ],
    ),
    "branch only else": (
        HEAD + "steps:\n  - {id: a, branch: [{else: a}]}\n",
        [
            "flows/f.yaml:4: step 1: branch: needs at least one case with 'if' and 'goto'",
        ],
    ),
    "branch case missing goto": (
        HEAD + "steps:\n  - branch:\n      - if: {in_segment: vip}\n",
        [
            "flows/f.yaml:5: step 1: branch: case 1: missing required key 'goto'",
        ],
    ),
    "branch bad rule": (
        HEAD + "steps:\n  - {id: a, branch: [{if: {property: x, eqq: 1}, goto: a}]}\n",
        [
            "flows/f.yaml:4: step 1: branch: case 1: if: unknown operator 'eqq' (did you "
            "mean 'eq'?)",
        ],
    ),
    "split one": (
        HEAD + "steps:\n  - {id: a, split: [{name: a, weight: 1, goto: a}]}\n",
        [
            "flows/f.yaml:4: step 1: split: needs at least two variants",
        ],
    ),
    "split bad weight": (
        HEAD
        + "steps:\n  - id: a\n    split:\n"
        + "      - {name: a, weight: 0, goto: a}\n"
        + "      - {name: b, weight: -1, goto: a}\n"
        + "      - {name: c, weight: x, goto: a}\n",
        [
            "flows/f.yaml:6: step 1: split: variant 1: weight: must be positive, got 0",
            "flows/f.yaml:7: step 1: split: variant 2: weight: must be positive, got -1",
            "flows/f.yaml:8: step 1: split: variant 3: weight: expected a number, got a string 'x'",
        ],
    ),
    "split dup names": (
        HEAD
        + "steps:\n"
        + "  - {id: a, split: [{name: a, weight: 1, goto: a}, {name: a, weight: 1, goto: a}]}\n",
        [
            "flows/f.yaml:4: step 1: split: variant 2: name: variant 'a' is also variant 1",
        ],
    ),
    "holdout bad": (
        HEAD
        + "steps:\n"
        + "  - holdout: {percent: 100}\n"
        + "  - holdout: {percent: 0}\n"
        + "  - holdout: {percent: ten}\n"
        + "  - holdout: 10\n",
        [
            "flows/f.yaml:4: step 1: holdout: percent: must be more than 0 and less than "
            "100, got 100",
            "flows/f.yaml:5: step 2: holdout: percent: must be more than 0 and less than "
            "100, got 0",
            "flows/f.yaml:6: step 3: holdout: percent: expected a number, got a string 'ten'",
            "flows/f.yaml:7: step 4: holdout: expected a mapping such as {percent: 10, "
            "name: control}, got an integer 10",
        ],
    ),
    "update missing value": (
        HEAD + "steps:\n  - update_property: {property: lifecyclestage}\n",
        [
            "flows/f.yaml:4: step 1: update_property: missing required key 'value'",
        ],
    ),
    "update bad": (
        HEAD + "steps:\n  - update_property: {property: 'life stage', value: [a]}\n",
        [
            "flows/f.yaml:4: step 1: update_property: property: invalid property name 'life "
            "stage' (a letter, then letters, digits, '_')",
            "flows/f.yaml:4: step 1: update_property: value: expected one value, got a list",
        ],
    ),
    "task missing subject": (
        HEAD + "steps:\n  - create_task: {body: x, due_in: soon}\n",
        [
            "flows/f.yaml:4: step 1: create_task: missing required key 'subject'",
            "flows/f.yaml:4: step 1: create_task: due_in: invalid duration 'soon' (e.g. "
            "'30s', '15m', '2h', '3d', '1w' or '1d12h')",
        ],
    ),
    "webhook http": (
        HEAD + "steps:\n  - webhook: {url: 'http://hooks.example.com/x'}\n",
        [
            "flows/f.yaml:4: step 1: webhook: url: expected an https URL (http only for "
            "localhost or 127.0.0.1), got 'http://hooks.example.com/x'",
        ],
    ),
    "webhook ftp": (
        HEAD + "steps:\n  - webhook: {url: 'ftp://x'}\n",
        [
            "flows/f.yaml:4: step 1: webhook: url: expected an https URL (http only for "
            "localhost or 127.0.0.1), got 'ftp://x'",
        ],
    ),
    "webhook body list": (
        HEAD + "steps:\n  - webhook: {url: 'https://x.example', body: [1]}\n",
        [
            "flows/f.yaml:4: step 1: webhook: body: expected a mapping, got a list",
        ],
    ),
    "webhook body inf": (
        HEAD + "steps:\n  - webhook: {url: 'https://x.example', body: {a: .inf}}\n",
        [
            "flows/f.yaml:4: step 1: webhook: body: a: expected a finite number, got a number .inf",
        ],
    ),
    "send bad from": (
        HEAD + "steps:\n  - {send: a, from: 'Ann'}\n",
        [
            "flows/f.yaml:4: step 1: from: expected an address such as 'Ann "
            "<ann@shop.example>', got 'Ann'",
        ],
    ),
    "exit reason multi": (
        HEAD + 'steps:\n  - exit: {reason: "a\\nb"}\n',
        [
            "flows/f.yaml:4: step 1: exit: reason: must be a single line",
        ],
    ),
    # -- triggers ------------------------------------------------------------------------
    "pc no prop": (
        "name: x\ntrigger: {type: property.changed}\nsteps: [{send: a}]\n",
        [
            "flows/f.yaml:2: trigger: missing required key 'property'",
        ],
    ),
    "pc bad from": (
        "name: x\n"
        + "trigger: {type: property.changed, property: x, from: [a]}\n"
        + "steps: [{send: a}]\n",
        [
            "flows/f.yaml:2: trigger: from: expected one value, got a list",
        ],
    ),
    "seg bad": (
        "name: x\ntrigger: {type: segment.entered, segment: VIP}\nsteps: [{send: a}]\n",
        [
            "flows/f.yaml:2: trigger: segment: invalid segment id 'VIP' (lowercase "
            "letters, digits and '-')",
        ],
    ),
    "event bad dedup": (
        "name: x\ntrigger: {type: event, event: e, dedup: 'a..b'}\nsteps: [{send: a}]\n",
        [
            "flows/f.yaml:2: trigger: dedup: invalid property path 'a..b' (names joined by '.')",
        ],
    ),
    "event ref where": (
        "name: x\n"
        + "trigger: {type: event, event: e, where: {a: '{{ event.a }}'}}\n"
        + "steps: [{send: a}]\n",
        [
            "flows/f.yaml:2: trigger: where: 'a': {{ event.* }} refers to the trigger "
            "event, which only steps can see",
        ],
    ),
    "date bad": (
        "name: x\n"
        + "trigger: {type: date, property: birthday, offset: 3 days, yearly: yes, at: 9}\n"
        + "steps: [{send: a}]\n",
        [
            "flows/f.yaml:2: trigger: offset: invalid duration '3 days' (e.g. '30s', '15m', "
            "'2h', '3d', '1w' or '1d12h')",
            "flows/f.yaml:2: trigger: yearly: expected true or false, got a string 'yes'",
            "flows/f.yaml:2: trigger: at: expected a time such as '09:00' (HH:MM), got an "
            "integer 9",
        ],
    ),
    "date no prop": (
        "name: x\ntrigger: {type: date}\nsteps: [{send: a}]\n",
        [
            "flows/f.yaml:2: trigger: missing required key 'property'",
        ],
    ),
    "inactivity": (
        "name: x\ntrigger: {type: inactivity, for: 0d}\nsteps: [{send: a}]\n",
        [
            "flows/f.yaml:2: trigger: for: duration '0d' is zero; it must be longer than zero",
        ],
    ),
    "inactivity none": (
        "name: x\ntrigger: {type: inactivity}\nsteps: [{send: a}]\n",
        [
            "flows/f.yaml:2: trigger: missing required key 'for'",
        ],
    ),
    "eng bad": (
        "name: x\ntrigger: {type: engagement, action: bounced}\nsteps: [{send: a}]\n",
        [
            "flows/f.yaml:2: trigger: action: unsupported value 'bounced' (expected one of: "
            "clicked, opened)",
        ],
    ),
    "eng link open": (
        "name: x\n"
        + "trigger: {type: engagement, action: opened, link: 'https://x/*'}\n"
        + "steps: [{send: a}]\n",
        [
            "flows/f.yaml:2: trigger: link: only clicks have a link; use action: clicked",
        ],
    ),
    "eng filters bad": (
        "name: x\nsteps: [{send: a}]\ntrigger:\n  type: engagement\n  action: clicked\n"
        + "  template: ../x\n  flow: Bad_Flow\n  step: 'a b'\n  campaign: 'c d'\n",
        [
            "flows/f.yaml:6: trigger: template: invalid template name '../x' (letters, "
            "digits, '-' and '_')",
            "flows/f.yaml:7: trigger: flow: invalid flow id 'Bad_Flow' (lowercase letters, "
            "digits and '-')",
            "flows/f.yaml:8: trigger: step: invalid step id 'a b' (lowercase letters, digits, "
            "'-' and '_', at most 64)",
            "flows/f.yaml:9: trigger: campaign: invalid campaign key 'c d' (letters, digits, "
            "'.', '_', ':' and '-')",
        ],
    ),
    "if bad": (
        "name: x\ntrigger: {type: contact.created, if: 5}\nsteps: [{send: a}]\n",
        [
            "flows/f.yaml:2: trigger: if: expected a rule (a mapping such as {property: "
            "lifecyclestage, eq: customer}), got an integer 5",
        ],
    ),
    # -- settings ------------------------------------------------------------------------
    "settings bad": (
        HEAD
        + "settings:\n"
        + "  reentry: {cooldown: 0d}\n"
        + "  status: live\n"
        + "  quiet_hours: {start: '21:00', end: '21:00'}\n"
        + "  frequency_cap: 3\n"
        + "  goals: {name: x}\n"
        + "  exit_when: {property: a, eq: 1}\n"
        + "steps: [{send: a}]\n",
        [
            "flows/f.yaml:4: settings: reentry: cooldown: duration '0d' is zero; it "
            "must be longer than zero",
            "flows/f.yaml:5: settings: status: unsupported value 'live' (expected one of: "
            "active, paused, archived)",
            "flows/f.yaml:6: settings: quiet_hours: start and end are the same time",
            "flows/f.yaml:7: settings: frequency_cap: expected true or false, got an integer 3",
            "flows/f.yaml:8: settings: goals: expected a list of {name, when} goals, got a mapping",
            "flows/f.yaml:9: settings: exit_when: expected a list of rules, got a mapping",
        ],
    ),
    "reentry typo": (
        HEAD + "settings:\n  reentry: {cooldwn: 1d}\nsteps: [{send: a}]\n",
        [
            "flows/f.yaml:4: settings: reentry: unknown key 'cooldwn' (did you mean 'cooldown'?)",
            "flows/f.yaml:4: settings: reentry: missing required key 'cooldown'",
        ],
    ),
    "quiet missing": (
        HEAD + "settings:\n  quiet_hours: {start: '21:00'}\nsteps: [{send: a}]\n",
        [
            "flows/f.yaml:4: settings: quiet_hours: missing required key 'end'",
        ],
    ),
    "goals bad": (
        HEAD
        + "settings:\n"
        + "  goals:\n"
        + "    - {name: a, when: {event: x}}\n"
        + "    - {name: a, when: {event: y}}\n"
        + "    - {when: {event: z}}\n"
        + "    - nope\n"
        + "steps: [{send: a}]\n",
        [
            "flows/f.yaml:6: settings: goals: goal 2: name: goal 'a' is also goal 1",
            "flows/f.yaml:7: settings: goals: goal 3: missing required key 'name'",
            "flows/f.yaml:8: settings: goals: goal 4: expected a mapping such as {name: "
            "purchased, when: <rule>}, got a string 'nope'",
        ],
    ),
}


@pytest.mark.parametrize(("text", "expected"), CASES.values(), ids=CASES.keys())
def test_validation_error(text: str, expected: list[str]) -> None:
    assert errors_of(text) == expected


ACCEPTED = {
    "unquoted times (YAML 1.1 would read 21:00 as 1260)": HEAD
    + "settings: {quiet_hours: {start: 21:00, end: 08:00}}\nsteps:\n  - wait: {until: 21:00}\n",
    "http webhooks to this machine": HEAD
    + "steps:\n  - webhook: {url: 'http://localhost:8080/x'}\n"
    + "  - webhook: {url: 'http://127.0.0.1/x'}\n",
    "a goto to itself (lint reports the loop)": HEAD + "steps:\n  - {id: a, goto: a}\n",
    "a step id that looks like a keyword": HEAD
    + "steps:\n  - wait_for: {segment: vip, timeout: 1d, on_timeout: exit}\n"
    + "  - {id: next, exit: {}}\n",
}


@pytest.mark.parametrize("text", ACCEPTED.values(), ids=ACCEPTED.keys())
def test_accepted(text: str) -> None:
    assert parse_flow(text, "flows/f.yaml")
