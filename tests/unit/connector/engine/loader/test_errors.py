"""Every validation error of a flow file, with its exact message and line."""

from __future__ import annotations

import pytest

from connector.engine.loader import FlowErrors, parse_flow

HEAD = "name: x\ntrigger: {type: contact.created}\n"  # lines 1-2
EXPECTED_KINDS = (
    "(expected one of: send, wait, wait_for, branch, split, holdout, update_property, "
    "create_task, webhook, goto, exit)"
)
TRIGGER_TYPES = (
    "(expected one of: contact.created, property.changed, segment.entered, segment.left, "
    "event, date, inactivity, engagement)"
)
EXAMPLES = "(e.g. '30s', '15m', '2h', '3d', '1w' or '1d12h')"


def errors_of(text: str, source: str = "flows/f.yaml") -> list[str]:
    with pytest.raises(FlowErrors) as caught:
        parse_flow(text, source)
    return [str(error) for error in caught.value.errors]


CASES: dict[str, tuple[str, list[str]]] = {
    # -- the document -------------------------------------------------------------------
    "empty file": (
        "# nothing here\n",
        ["flows/f.yaml: the file is empty; expected a mapping with name, trigger and steps"],
    ),
    "list document": (
        "- send: welcome\n",
        ["flows/f.yaml:1: expected a mapping with name, trigger and steps, got a list"],
    ),
    "scalar document": (
        "hello\n",
        ["flows/f.yaml:1: expected a mapping with name, trigger and steps, got a string 'hello'"],
    ),
    "two documents": (
        HEAD + "steps: [{send: a}]\n---\nname: y\n",
        [
            "flows/f.yaml:4: YAML syntax error: expected a single document in the stream, "
            "but found another document"
        ],
    ),
    "missing keys": (
        "description: lonely\n",
        [
            "flows/f.yaml:1: missing required key 'name'",
            "flows/f.yaml:1: missing required key 'trigger'",
            "flows/f.yaml:1: missing required key 'steps'",
        ],
    ),
    "unknown top key": (
        HEAD + "stpes: [{send: a}]\n",
        [
            "flows/f.yaml:1: missing required key 'steps'",
            "flows/f.yaml:3: unknown key 'stpes' (did you mean 'steps'?)",
        ],
    ),
    "unknown key without a close match": (
        HEAD + "owner: me\nsteps: [{send: a}]\n",
        [
            "flows/f.yaml:3: unknown key 'owner' (expected one of: id, name, description, "
            "trigger, settings, steps)"
        ],
    ),
    "duplicate key": (
        HEAD + "name: y\nsteps: [{send: a}]\n",
        ["flows/f.yaml:3: duplicate key 'name' (first on line 1)"],
    ),
    "non-word key": (
        HEAD + "[a]: 1\nsteps: [{send: a}]\n",
        ["flows/f.yaml:3: keys must be plain words, got a list"],
    ),
    "name of the wrong type": (
        "name: 5\ntrigger: {type: contact.created}\nsteps: [{send: a}]\n",
        ["flows/f.yaml:1: name: expected a flow name, got an integer 5"],
    ),
    "empty name": (
        "name: ''\ntrigger: {type: contact.created}\nsteps: [{send: a}]\n",
        ["flows/f.yaml:1: name: expected a flow name, got an empty string"],
    ),
    "description of the wrong type": (
        HEAD + "description: [a]\nsteps: [{send: a}]\n",
        ["flows/f.yaml:3: description: expected text, got a list"],
    ),
    "invalid id": (
        "id: Welcome_1\n" + HEAD + "steps: [{send: a}]\n",
        ["flows/f.yaml:1: id: invalid flow id 'Welcome_1' (lowercase letters, digits and '-')"],
    ),
    # -- YAML itself --------------------------------------------------------------------
    "syntax error": (
        "name: x\n  trigger: y\n",
        ["flows/f.yaml:2: YAML syntax error: mapping values are not allowed here"],
    ),
    "unclosed flow mapping": (
        "name: x\ntrigger: {type: contact.created\nsteps: []\n",
        [
            "flows/f.yaml:3: YAML syntax error: while parsing a flow mapping started on line 2, "
            "expected ',' or '}', but got ':'"
        ],
    ),
    "unclosed quote": (
        "name: 'x\n\n",
        [
            "flows/f.yaml:3: YAML syntax error: while scanning a quoted scalar started on line 1, "
            "found unexpected end of stream"
        ],
    ),
    "control character": (
        "name: x\nsteps: a\x07b\n",
        ["flows/f.yaml:2: YAML syntax error: unacceptable character #x0007"],
    ),
    "anchor": (
        HEAD + "steps:\n  - &hello {send: a}\n",
        ["flows/f.yaml:4: YAML anchors and aliases are not allowed ('hello')"],
    ),
    "alias bomb": (
        'a: &a ["lol","lol"]\nb: &b [*a,*a,*a]\nc: [*b,*b,*b]\n',
        ["flows/f.yaml:1: YAML anchors and aliases are not allowed ('a')"],
    ),
    "python tag": (
        HEAD + "steps: !!python/object/apply:os.system [ls]\n",
        ["flows/f.yaml:3: unsupported YAML tag '!!python/object/apply:os.system'"],
    ),
    "binary tag": (
        "name: !!binary aGk=\ntrigger: {type: contact.created}\nsteps: [{send: a}]\n",
        ["flows/f.yaml:1: unsupported YAML tag '!!binary'"],
    ),
    "merge key": (
        HEAD + "<<: {steps: [{send: a}]}\n",
        ["flows/f.yaml:3: unsupported YAML tag '!!merge'"],
    ),
    "nesting bomb": (
        "[" * 100_000 + "]" * 100_000,
        ["flows/f.yaml:1: YAML nesting is deeper than 32 levels"],
    ),
    "deep nesting": (
        HEAD + "steps:\n" + "".join("  " * i + "- \n" for i in range(40)),
        ["flows/f.yaml:35: YAML nesting is deeper than 32 levels"],
    ),
    # -- trigger ------------------------------------------------------------------------
    "trigger not a mapping": (
        "name: x\ntrigger: contact.created\nsteps: [{send: a}]\n",
        [
            "flows/f.yaml:2: trigger: expected a mapping such as {type: contact.created}, "
            "got a string 'contact.created'"
        ],
    ),
    "trigger without type": (
        "name: x\ntrigger: {event: x}\nsteps: [{send: a}]\n",
        ["flows/f.yaml:2: trigger: missing required key 'type'"],
    ),
    "unsupported trigger type": (
        "name: x\ntrigger:\n  type: contact.updated\nsteps: [{send: a}]\n",
        [
            "flows/f.yaml:3: trigger: unsupported trigger type 'contact.updated' "
            "(did you mean 'contact.created'?)"
        ],
    ),
    "key of another trigger type": (
        "name: x\ntrigger:\n  type: contact.created\n  event: x\nsteps: [{send: a}]\n",
        [
            "flows/f.yaml:4: trigger: unknown key 'event' for trigger type 'contact.created' "
            "(expected one of: type, if)"
        ],
    ),
    "event trigger without event": (
        "name: x\ntrigger:\n  type: event\n  evnt: order.completed\nsteps: [{send: a}]\n",
        [
            "flows/f.yaml:3: trigger: missing required key 'event'",
            "flows/f.yaml:4: trigger: unknown key 'evnt' for trigger type 'event' "
            "(did you mean 'event'?)",
        ],
    ),
    "invalid event name": (
        "name: x\ntrigger: {type: event, event: order completed}\nsteps: [{send: a}]\n",
        [
            "flows/f.yaml:2: trigger: event: invalid event name 'order completed' "
            "(letters, digits, '.', '_', ':' and '-'; at most 100 characters)"
        ],
    ),
    "where not a mapping": (
        "name: x\ntrigger: {type: event, event: e, where: [a]}\nsteps: [{send: a}]\n",
        ["flows/f.yaml:2: trigger: where: expected a mapping, got a list"],
    ),
    "where with nested mapping, list and bad path": (
        "name: x\ntrigger:\n  type: event\n  event: e\n  where:\n"
        "    customer: {tier: gold}\n    sku: [a, b]\n    a..b: 1\nsteps: [{send: a}]\n",
        [
            "flows/f.yaml:6: trigger: where: 'customer': nested mappings are not matched; "
            "use dotted keys such as 'customer.tier'",
            "flows/f.yaml:7: trigger: where: 'sku': expected one value to match exactly, "
            "got a list",
            "flows/f.yaml:8: trigger: where: invalid property path 'a..b'",
        ],
    ),
    # -- settings -----------------------------------------------------------------------
    "settings not a mapping": (
        HEAD + "settings: [a]\nsteps: [{send: a}]\n",
        ["flows/f.yaml:3: settings: expected a mapping, got a list"],
    ),
    "bad settings": (
        HEAD + "settings:\n  transactional: yes\n  exit_on_unsubscribe: 1\n"
        "  reentry: twice\n  rentry: once\nsteps: [{send: a}]\n",
        [
            "flows/f.yaml:4: settings: transactional: expected true or false, got a string 'yes'",
            "flows/f.yaml:5: settings: exit_on_unsubscribe: expected true or false, "
            "got an integer 1",
            "flows/f.yaml:6: settings: reentry: unsupported value 'twice' "
            "(expected once, always or {cooldown: <duration>})",
            "flows/f.yaml:7: settings: unknown key 'rentry' (did you mean 'reentry'?)",
        ],
    ),
    # -- steps --------------------------------------------------------------------------
    "empty steps": (
        HEAD + "steps: []\n",
        ["flows/f.yaml:3: steps: a flow needs at least one step"],
    ),
    "null steps": (HEAD + "steps:\n", ["flows/f.yaml:3: steps: a flow needs at least one step"]),
    "steps not a list": (
        HEAD + "steps: {send: a}\n",
        ["flows/f.yaml:3: steps: expected a list of steps, got a mapping"],
    ),
    "step not a mapping": (
        HEAD + "steps:\n  - welcome\n",
        [
            "flows/f.yaml:4: step 1: expected a mapping such as {send: template-name}, "
            "got a string 'welcome'"
        ],
    ),
    "unknown step kind": (
        HEAD + "steps:\n  - sned: welcome\n",
        ["flows/f.yaml:4: step 1: unknown step kind 'sned' (did you mean 'send'?)"],
    ),
    "missing step kind": (
        HEAD + "steps:\n  - id: lonely\n",
        [f"flows/f.yaml:4: step 1: missing step kind {EXPECTED_KINDS}"],
    ),
    "two step kinds": (
        HEAD + "steps:\n  - send: welcome\n    wait: 2d\n",
        ["flows/f.yaml:5: step 1: a step has one kind, found 'send' and 'wait'"],
    ),
    "option of another kind": (
        HEAD + "steps:\n  - wait: 2d\n    subject: Hi\n",
        [
            "flows/f.yaml:5: step 1: unknown key 'subject' for a wait step "
            "(expected one of: wait, id)"
        ],
    ),
    "duplicate step ids": (
        HEAD + "steps:\n  - id: hello\n    send: a\n  - send: b\n    id: hello\n",
        ["flows/f.yaml:7: step 2: duplicate step id 'hello' (also step 1 on line 4)"],
    ),
    "explicit id taking a default id": (
        HEAD + "steps:\n  - send: a\n    id: step-2\n  - send: b\n",
        [
            "flows/f.yaml:6: step 2: duplicate step id 'step-2' (also step 1 on line 5); "
            "give this step an explicit id"
        ],
    ),
    "invalid step id": (
        HEAD + "steps:\n  - send: a\n    id: Hello World\n",
        [
            "flows/f.yaml:5: step 1: id: invalid step id 'Hello World' "
            "(lowercase letters, digits, '-' and '_', at most 64)"
        ],
    ),
    "send without template": (
        HEAD + "steps:\n  - send:\n",
        ["flows/f.yaml:4: step 1: send: expected a template name, got nothing"],
    ),
    "send with a list": (
        HEAD + "steps:\n  - send: [a, b]\n",
        ["flows/f.yaml:4: step 1: send: expected a template name, got a list"],
    ),
    "invalid template name": (
        HEAD + "steps:\n  - send: ../secrets\n",
        [
            "flows/f.yaml:4: step 1: send: invalid template name '../secrets' "
            "(letters, digits, '-' and '_')"
        ],
    ),
    "multi-line subject": (
        HEAD + 'steps:\n  - send: a\n    subject: "Hi\\nBcc: x"\n',
        ["flows/f.yaml:5: step 1: subject: must be a single line"],
    ),
    "subject of the wrong type": (
        HEAD + "steps:\n  - send: a\n    subject: 42\n",
        ["flows/f.yaml:5: step 1: subject: expected a subject line, got an integer 42"],
    ),
    "unknown step kind far from any": (
        HEAD + "steps:\n  - teleport: x\n",
        [f"flows/f.yaml:4: step 1: unknown step kind 'teleport' {EXPECTED_KINDS}"],
    ),
    "exit with an unknown option": (
        HEAD + "steps:\n  - exit: {why: done}\n",
        ["flows/f.yaml:4: step 1: exit: unknown key 'why' (expected one of: reason)"],
    ),
    "exit with a value": (
        HEAD + "steps:\n  - exit: now\n",
        ["flows/f.yaml:4: step 1: exit: expected {} or {reason: text}, got a string 'now'"],
    ),
    # -- durations ----------------------------------------------------------------------
    "zero wait": (
        HEAD + "steps:\n  - wait: 0s\n",
        ["flows/f.yaml:4: step 1: wait: duration '0s' is zero; it must be longer than zero"],
    ),
    "negative wait": (
        HEAD + "steps:\n  - wait: -1d\n",
        [
            "flows/f.yaml:4: step 1: wait: duration '-1d' is negative; "
            "it must be longer than zero"
        ],
    ),
    "garbage wait": (
        HEAD + "steps:\n  - wait: soon\n",
        [f"flows/f.yaml:4: step 1: wait: invalid duration 'soon' {EXAMPLES}"],
    ),
    "wait without unit": (
        HEAD + "steps:\n  - wait: 30\n",
        [f"flows/f.yaml:4: step 1: wait: 30 needs a unit {EXAMPLES}"],
    ),
    "wait without duration": (
        HEAD + "steps:\n  - wait:\n",
        [f"flows/f.yaml:4: step 1: wait: expected a duration {EXAMPLES[:-1]}), got nothing"],
    ),
    "wait mapping with typo": (
        HEAD + "steps:\n  - wait:\n      days: 1\n      hourz: 2\n",
        ["flows/f.yaml:6: step 1: wait: unknown duration unit 'hourz' (did you mean 'hours'?)"],
    ),
    "wait mapping with text": (
        HEAD + "steps:\n  - wait: {days: two}\n",
        ["flows/f.yaml:4: step 1: wait: 'days' must be a whole number, got a string 'two'"],
    ),
    "wait mapping negative": (
        HEAD + "steps:\n  - wait:\n      days: -1\n",
        ["flows/f.yaml:5: step 1: wait: 'days' is negative; it must be longer than zero"],
    ),
    "wait mapping zero": (
        HEAD + "steps:\n  - wait: {days: 0}\n",
        [
            "flows/f.yaml:4: step 1: wait: duration {days: 0} is zero; "
            "it must be longer than zero"
        ],
    ),
    "wait too long": (
        HEAD + "steps:\n  - wait: 600w\n",
        ["flows/f.yaml:4: step 1: wait: duration '600w' is longer than 3650 days"],
    ),
}


@pytest.mark.parametrize(("text", "expected"), CASES.values(), ids=CASES.keys())
def test_validation_error(text: str, expected: list[str]) -> None:
    assert errors_of(text) == expected


def test_file_stem_that_is_not_an_id() -> None:
    assert errors_of(HEAD + "steps: [{send: a}]\n", source="flows/Welcome Series.yaml") == [
        "flows/Welcome Series.yaml: the file name 'Welcome Series' is not a valid flow id "
        "(lowercase letters, digits and '-'); rename the file or add 'id:'"
    ]
    # An explicit id makes any file name fine.
    assert parse_flow("id: welcome\n" + HEAD + "steps: [{send: a}]\n", "Welcome Series.yaml")


def test_oversized_text() -> None:
    text = HEAD + "steps: [{send: a}]\n" + "#" * (256 * 1024)
    assert errors_of(text) == [
        f"flows/f.yaml: the file is too large ({len(text)} bytes; the limit is 256 KiB)"
    ]
