"""Load flow definitions from YAML, with errors that name the file and the line.

The YAML is composed into a node tree and walked by hand instead of being constructed
wholesale: every value keeps its line, duplicate keys are caught, anchors and aliases are
refused (no alias bombs), and a file reports all of its problems at once.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from connector.engine.definitions import (
    REENTRY_MODES,
    ContactCreated,
    EventTrigger,
    ExitStep,
    Flow,
    FlowSettings,
    SendStep,
    Step,
    Trigger,
    WaitStep,
)
from connector.engine.durations import (
    EXAMPLES,
    DurationError,
    duration_from_parts,
    parse_duration,
)
from connector.engine.yamlnodes import (
    MAX_FILE_BYTES,
    Context,
    DefinitionError,
    DefinitionErrors,
    YamlMap,
    describe,
    flag,
    is_null,
    line_of,
    mapping,
    required,
    string,
    too_large,
    unknown_keys,
)

# Flow files report errors of the general definition kind.
FlowError = DefinitionError
FlowErrors = DefinitionErrors

FLOW_ID = re.compile(r"[a-z0-9-]{1,64}")
STEP_ID = re.compile(r"[a-z0-9_-]{1,64}")
TEMPLATE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,99}")
EVENT_NAME = re.compile(r"[A-Za-z0-9_.:-]{1,200}")
PROPERTY_PATH = re.compile(r"[^.\s]+(?:\.[^.\s]+)*")
TOP_KEYS = ("id", "name", "description", "trigger", "settings", "steps")


def parse_flow(text: str, source: str) -> Flow:
    """Parse one flow; its key is `id:` or else the stem of `source`. Raises FlowErrors."""
    ctx = Context(source)
    parsed = _parse_flow(text, ctx)
    if parsed is None:
        raise FlowErrors(ctx.sorted_errors())
    return parsed[0]


def load_flows(directory: Path) -> dict[str, Flow]:
    """Load every *.yaml / *.yml flow in `directory` (not recursive), keyed and sorted by key.

    Raises FlowErrors with every problem of every file, including flow ids used twice.
    """
    directory = Path(directory)
    if not directory.is_dir():
        raise FlowErrors([FlowError(str(directory), None, "flows directory not found")])
    errors: list[FlowError] = []
    flows: dict[str, tuple[Flow, Path]] = {}
    for path in sorted(directory.iterdir()):
        # Dot-files are editor leftovers (".#welcome.yaml"), not flows.
        if path.suffix not in (".yaml", ".yml") or path.name.startswith(".") or not path.is_file():
            continue
        ctx = Context(str(path))
        parsed = _parse_file(path, ctx)
        if parsed is None:
            errors.extend(ctx.sorted_errors())
        elif parsed[0].key in flows:
            flow, id_line = parsed
            message = f"duplicate flow id '{flow.key}' (also in {flows[flow.key][1]})"
            errors.append(FlowError(str(path), id_line, message))
        else:
            flows[parsed[0].key] = (parsed[0], path)
    if errors:
        raise FlowErrors(errors)
    return {key: flows[key][0] for key in sorted(flows)}


# -- flow schema ------------------------------------------------------------------------


def _parse_file(path: Path, ctx: Context) -> tuple[Flow, int | None] | None:
    size = path.stat().st_size
    if size > MAX_FILE_BYTES:  # checked before reading: never load a huge file
        ctx.error(None, too_large(size))
        return None
    raw = path.read_bytes()
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        ctx.error(raw.count(b"\n", 0, exc.start) + 1, "the file is not UTF-8 text")
        return None
    return _parse_flow(text, ctx)


def _parse_flow(text: str, ctx: Context) -> tuple[Flow, int | None] | None:
    """The flow and the line of its `id:` (for duplicate-id messages), or None on errors."""
    size = len(text.encode("utf-8", "surrogatepass"))
    if size > MAX_FILE_BYTES:
        ctx.error(None, too_large(size))
        return None
    root = ctx.compose(text)
    doc = None if root is None else mapping(ctx, root, "", "a mapping with name, trigger and steps")
    if doc is None:
        return None
    unknown_keys(ctx, doc, TOP_KEYS, "")
    key, id_line = _flow_key(ctx, doc)
    name = string(ctx, required(ctx, doc, "name", ""), "name", "a flow name")
    description = string(ctx, doc.values.get("description"), "description", "text")
    trigger = _parse_trigger(ctx, required(ctx, doc, "trigger", ""))
    settings = _parse_settings(ctx, doc.values.get("settings"))
    steps = _parse_steps(ctx, required(ctx, doc, "steps", ""))
    if ctx.errors or key is None or name is None or trigger is None:
        return None
    flow = Flow.create(
        key=key,
        name=name,
        trigger=trigger,
        steps=steps,
        settings=settings,
        source=ctx.source,
        description=description or "",
    )
    return flow, id_line


def _flow_key(ctx: Context, doc: YamlMap) -> tuple[str | None, int | None]:
    id_node = doc.values.get("id")
    if id_node is None:
        stem = Path(ctx.source).stem
        if not FLOW_ID.fullmatch(stem):
            ctx.error(
                None,
                f"the file name '{stem}' is not a valid flow id "
                "(lowercase letters, digits and '-'); rename the file or add 'id:'",
            )
        return stem, None
    key = string(ctx, id_node, "id", "a flow id")
    if key is not None and not FLOW_ID.fullmatch(key):
        ctx.error(id_node, f"id: invalid flow id '{key}' (lowercase letters, digits and '-')")
    return key, line_of(id_node)


@dataclass(frozen=True)
class _TriggerSyntax:
    keys: tuple[str, ...]
    build: Callable[[Context, YamlMap], Trigger | None]


def _parse_trigger(ctx: Context, node: Node | None) -> Trigger | None:
    if node is None:
        return None
    trigger = mapping(ctx, node, "trigger: ", "a mapping such as {type: contact.created}")
    if trigger is None:
        return None
    type_node = required(ctx, trigger, "type", "trigger: ")
    kind = string(ctx, type_node, "trigger: type", "a trigger type")
    if type_node is None or kind is None:
        return None
    syntax = TRIGGER_SYNTAX.get(kind)
    if syntax is None:
        expected = ", ".join(TRIGGER_SYNTAX)
        ctx.error(
            type_node, f"trigger: unsupported trigger type '{kind}' (expected one of: {expected})"
        )
        return None
    unknown_keys(ctx, trigger, syntax.keys, "trigger: ", f" for trigger type '{kind}'")
    return syntax.build(ctx, trigger)


def _build_event_trigger(ctx: Context, trigger: YamlMap) -> Trigger | None:
    event_node = required(ctx, trigger, "event", "trigger: ")
    event = string(ctx, event_node, "trigger: event", "an event name such as order.completed")
    if event is not None and not EVENT_NAME.fullmatch(event):
        ctx.error(
            event_node,
            f"trigger: event: invalid event name '{event}' "
            "(letters, digits, '.', '_', ':' and '-')",
        )
        return None
    where = _parse_where(ctx, trigger.values.get("where"))
    return None if event is None else EventTrigger(event=event, where=where)


def _parse_where(ctx: Context, node: Node | None) -> dict[str, Any]:
    filters = None if node is None or is_null(node) else mapping(ctx, node, "trigger: where: ")
    if filters is None:
        return {}
    where: dict[str, Any] = {}
    for path, value_node in filters.values.items():
        if not PROPERTY_PATH.fullmatch(path):
            ctx.error(filters.keys[path], f"trigger: where: invalid property path '{path}'")
        elif isinstance(value_node, MappingNode):
            inner = next((k.value for k, _ in value_node.value if isinstance(k, ScalarNode)), "x")
            ctx.error(
                value_node,
                f"trigger: where: '{path}': nested mappings are not matched; "
                f"use dotted keys such as '{path}.{inner}'",
            )
        elif not isinstance(value_node, ScalarNode):
            ctx.error(
                value_node,
                f"trigger: where: '{path}': expected one value to match "
                f"exactly, got {describe(value_node)}",
            )
        else:
            where[path] = ctx.scalar(value_node)
    return where


TRIGGER_SYNTAX: dict[str, _TriggerSyntax] = {
    ContactCreated.kind: _TriggerSyntax(("type",), lambda ctx, trigger: ContactCreated()),
    EventTrigger.kind: _TriggerSyntax(("type", "event", "where"), _build_event_trigger),
}


def _parse_settings(ctx: Context, node: Node | None) -> FlowSettings:
    settings = None if node is None or is_null(node) else mapping(ctx, node, "settings: ")
    if settings is None:
        return FlowSettings()
    unknown_keys(ctx, settings, tuple(SETTING_READERS), "settings: ")
    values = {
        key: SETTING_READERS[key](ctx, value, f"settings: {key}")
        for key, value in settings.values.items()
        if key in SETTING_READERS
    }
    if any(value is None for value in values.values()):
        return FlowSettings()  # the errors are recorded; the flow will not be built
    return FlowSettings(**values)


def _reentry(ctx: Context, node: Node, label: str) -> str | None:
    reentry = string(ctx, node, label, "a re-entry rule")
    if reentry is not None and reentry not in REENTRY_MODES:
        expected = ", ".join(REENTRY_MODES)
        ctx.error(node, f"{label}: unsupported value '{reentry}' (expected one of: {expected})")
        return None
    return reentry


SETTING_READERS: dict[str, Callable[[Context, Node, str], Any]] = {
    "transactional": flag,
    "exit_on_unsubscribe": flag,
    "reentry": _reentry,
}


@dataclass(frozen=True)
class _StepSyntax:
    options: tuple[str, ...]  # keys allowed besides the kind key and "id"
    build: Callable[[Context, str, Node, YamlMap, str], Step | None]  # ctx, id, value, step, prefix


def _parse_steps(ctx: Context, node: Node | None) -> list[Step]:
    if node is None:
        return []
    if is_null(node) or (isinstance(node, SequenceNode) and not node.value):
        ctx.error(node, "steps: a flow needs at least one step")
        return []
    if not isinstance(node, SequenceNode):
        ctx.error(node, f"steps: expected a list of steps, got {describe(node)}")
        return []
    steps: list[Step] = []
    first_use: dict[str, tuple[int, int]] = {}
    for number, step_node in enumerate(node.value, start=1):
        parsed = _parse_step(ctx, step_node, number)
        if parsed is None:
            continue
        step, id_line, explicit = parsed
        if step.id in first_use:
            other, other_line = first_use[step.id]
            hint = "" if explicit else "; give this step an explicit id"
            ctx.error(
                id_line,
                f"step {number}: duplicate step id '{step.id}' "
                f"(also step {other} on line {other_line}){hint}",
            )
        else:
            first_use[step.id] = (number, id_line)
        steps.append(step)
    return steps


def _parse_step(ctx: Context, node: Node, number: int) -> tuple[Step, int, bool] | None:
    """The step, the line of its id and whether the id was written, or None on errors."""
    prefix = f"step {number}: "
    step = mapping(ctx, node, prefix, "a mapping such as {send: template-name}")
    if step is None:
        return None
    kinds = [key for key in step.keys if key in STEP_SYNTAX]
    expected = f"(expected one of: {', '.join(STEP_SYNTAX)})"
    if len(kinds) > 1:
        ctx.error(
            step.keys[kinds[1]], f"{prefix}a step has one kind, found '{kinds[0]}' and '{kinds[1]}'"
        )
        return None
    if not kinds:
        known = {"id"}.union(*(syntax.options for syntax in STEP_SYNTAX.values()))
        unknown = [key for key in step.keys if key not in known]
        if unknown:
            ctx.error(step.keys[unknown[0]], f"{prefix}unknown step kind '{unknown[0]}' {expected}")
        else:
            ctx.error(node, f"{prefix}missing step kind {expected}")
        return None
    kind = kinds[0]
    syntax = STEP_SYNTAX[kind]
    unknown_keys(ctx, step, (kind, "id", *syntax.options), prefix, f" for a {kind} step")
    step_id, id_line = f"step-{number}", line_of(step.keys[kind])
    id_node = step.values.get("id")
    if id_node is not None:
        given = string(ctx, id_node, f"{prefix}id", "a step id")
        if given is not None and not STEP_ID.fullmatch(given):
            ctx.error(
                id_node,
                f"{prefix}id: invalid step id '{given}' "
                "(lowercase letters, digits, '-' and '_', at most 64)",
            )
        step_id, id_line = given or step_id, line_of(id_node)
    built = syntax.build(ctx, step_id, step.values[kind], step, prefix)
    return None if built is None else (built, id_line, id_node is not None)


def _build_send(ctx: Context, step_id: str, value: Node, step: YamlMap, prefix: str) -> Step | None:
    template = string(ctx, value, f"{prefix}send", "a template name")
    if template is not None and not TEMPLATE_NAME.fullmatch(template):
        ctx.error(
            value,
            f"{prefix}send: invalid template name '{template}' (letters, digits, '-' and '_')",
        )
        return None
    subject_node = step.values.get("subject")
    subject = string(ctx, subject_node, f"{prefix}subject", "a subject line")
    if subject is not None:
        subject = subject.strip()  # block scalars (">") end with a newline
        if "\n" in subject or "\r" in subject:
            ctx.error(subject_node, f"{prefix}subject: must be a single line")
    return None if template is None else SendStep(id=step_id, template=template, subject=subject)


def _build_wait(ctx: Context, step_id: str, value: Node, step: YamlMap, prefix: str) -> Step | None:
    label = f"{prefix}wait: "
    parts = mapping(ctx, value, label) if isinstance(value, MappingNode) else None
    try:
        if parts is not None:
            amounts: dict[str, object] = {}
            for name, part in parts.values.items():
                amount = ctx.scalar(part) if isinstance(part, ScalarNode) else None
                if isinstance(amount, bool) or not isinstance(amount, int):
                    message = f"'{name}' must be a whole number, got {describe(part)}"
                    raise DurationError(message, key=name)
                amounts[name] = amount
            duration = duration_from_parts(amounts)
        else:
            text = ctx.scalar(value) if isinstance(value, ScalarNode) else None
            if isinstance(text, int | float) and not isinstance(text, bool):
                raise DurationError(f"{value.value} needs a unit ({EXAMPLES})")
            if not isinstance(text, str):
                raise DurationError(f"expected a duration ({EXAMPLES}), got {describe(value)}")
            duration = parse_duration(text)
    except DurationError as exc:
        where = parts.keys[exc.key] if parts is not None and exc.key in parts.keys else value
        ctx.error(where, f"{label}{exc.message}")
        return None
    return WaitStep(id=step_id, duration=duration)


def _build_exit(ctx: Context, step_id: str, value: Node, step: YamlMap, prefix: str) -> Step | None:
    if not (is_null(value) or (isinstance(value, MappingNode) and not value.value)):
        ctx.error(value, f"{prefix}exit: takes no options; write 'exit: {{}}'")
        return None
    return ExitStep(id=step_id)


STEP_SYNTAX: dict[str, _StepSyntax] = {
    SendStep.kind: _StepSyntax(("subject",), _build_send),
    WaitStep.kind: _StepSyntax((), _build_wait),
    ExitStep.kind: _StepSyntax((), _build_exit),
}
