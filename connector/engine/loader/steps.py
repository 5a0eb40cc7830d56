"""The `steps:` section of a flow file: one syntax per step key (its options and a
builder). Step ids are checked for uniqueness, and every goto / on_timeout / branch / split
target against the ids of the flow, once all steps are read."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from email.utils import parseaddr
from urllib.parse import urlsplit

from yaml.nodes import MappingNode, Node, SequenceNode

from connector.engine.common import did_you_mean
from connector.engine.flows import (
    CreateTaskStep,
    ExitStep,
    GotoStep,
    HoldoutStep,
    SendStep,
    Step,
    UpdatePropertyStep,
    WebhookStep,
)
from connector.engine.loader.routes import parse_branch, parse_split
from connector.engine.loader.values import (
    INVALID,
    STEP_ID,
    TEMPLATE_NAME,
    Fields,
    StepScope,
    json_value,
    key_name,
    name,
    number,
    property_name,
    scalar_value,
    single_line,
)
from connector.engine.loader.waits import parse_wait, parse_wait_for
from connector.engine.yamlnodes import (
    Context,
    describe,
    is_null,
    line_of,
    mapping,
    read_duration,
    string,
    unknown_keys,
)

LOCAL_HOSTS = ("localhost", "127.0.0.1")


@dataclass(frozen=True)
class StepSyntax:
    options: tuple[str, ...]  # keys allowed besides the kind key and "id"
    build: Callable[[StepScope, str, Node], Step | None]  # scope, step id, value


def parse_steps(ctx: Context, node: Node | None, lines: dict[str, int]) -> list[Step]:
    """The steps, each step's line recorded in `lines` as "step:<id>"."""
    if node is None:
        return []
    if is_null(node) or (isinstance(node, SequenceNode) and not node.value):
        ctx.error(node, "steps: a flow needs at least one step")
        return []
    if not isinstance(node, SequenceNode):
        ctx.error(node, f"steps: expected a list of steps, got {describe(node)}")
        return []
    steps: list[Step] = []
    targets: list[tuple[str, Node, str]] = []
    first_use: dict[str, tuple[int, int]] = {}
    for number_, step_node in enumerate(node.value, start=1):
        scope_targets: list[tuple[str, Node, str]] = []
        parsed = _parse_step(ctx, step_node, number_, scope_targets)
        if parsed is None:
            continue
        step_id, id_line, explicit, step = parsed
        targets += scope_targets
        if step_id in first_use:
            other, other_line = first_use[step_id]
            hint = "" if explicit else "; give this step an explicit id"
            ctx.error(
                id_line,
                f"step {number_}: duplicate step id '{step_id}' "
                f"(also step {other} on line {other_line}){hint}",
            )
            continue
        first_use[step_id] = (number_, id_line)
        lines[f"step:{step_id}"] = line_of(step_node)
        if step is not None:
            steps.append(step)
    for target, target_node, label in targets:
        if target not in first_use:
            hint = did_you_mean(target, first_use)
            ctx.error(target_node, f"{label}: no step '{target}' in this flow{hint}")
    return steps


def _parse_step(
    ctx: Context, node: Node, number_: int, targets: list[tuple[str, Node, str]]
) -> tuple[str, int, bool, Step | None] | None:
    """(id, line of the id, whether it was written, the step or None on errors), or None
    when the step has no usable id."""
    prefix = f"step {number_}: "
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
            hint = did_you_mean(unknown[0], STEP_SYNTAX)
            ctx.error(step.keys[unknown[0]], f"{prefix}unknown step kind '{unknown[0]}'{hint}")
        else:
            ctx.error(node, f"{prefix}missing step kind {expected}")
        return None
    kind = kinds[0]
    syntax = STEP_SYNTAX[kind]
    unknown_keys(ctx, step, (kind, "id", *syntax.options), prefix, f" for a {kind} step")
    step_id, id_line = f"step-{number_}", line_of(step.keys[kind])
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
    scope = StepScope(ctx, step, prefix, targets)
    built = syntax.build(scope, step_id, step.values[kind])
    return step_id, id_line, id_node is not None, built


def _send(scope: StepScope, step_id: str, value: Node) -> Step | None:
    ctx, prefix = scope.ctx, scope.prefix
    template = name(
        ctx, value, f"{prefix}send", TEMPLATE_NAME, "template name", "letters, digits, '-' and '_'"
    )
    options = Fields(ctx, scope.step, prefix)
    subject = options.get("subject", single_line, "a subject line")
    sender = options.get("from", _sender)
    if template is None or options.failed:
        return None
    return SendStep(id=step_id, template=template, subject=subject, sender=sender)


def _sender(ctx: Context, node: Node, label: str) -> str | None:
    value = single_line(ctx, node, label, "an address such as 'Ann <ann@shop.example>'")
    if value is not None and "@" not in parseaddr(value)[1]:
        ctx.error(
            node, f"{label}: expected an address such as 'Ann <ann@shop.example>', got '{value}'"
        )
        return None
    return value


def _holdout(scope: StepScope, step_id: str, value: Node) -> Step | None:
    fields = scope.fields(value, "holdout", "{percent: 10, name: control}")
    if fields is None:
        return None
    unknown_keys(scope.ctx, fields.data, ("percent", "name"), fields.prefix)
    percent = fields.get("percent", number, required=True)
    if percent is not None and not 0 < percent < 100:
        scope.ctx.error(
            fields.node("percent"),
            f"{fields.prefix}percent: must be more than 0 and less than 100, got {percent}",
        )
        return None
    holdout_name = fields.get("name", key_name, "holdout name", default="control")
    return None if fields.failed else HoldoutStep(step_id, percent, holdout_name)


def _update_property(scope: StepScope, step_id: str, value: Node) -> Step | None:
    fields = scope.fields(value, "update_property", "{property: lifecyclestage, value: customer}")
    if fields is None:
        return None
    unknown_keys(scope.ctx, fields.data, ("property", "value"), fields.prefix)
    prop = fields.get("property", property_name, required=True)
    new = fields.get("value", scalar_value, required=True, nullable=True, default=INVALID)
    return None if fields.failed else UpdatePropertyStep(step_id, prop, new)


def _create_task(scope: StepScope, step_id: str, value: Node) -> Step | None:
    fields = scope.fields(value, "create_task", "{subject: 'Call this lead', due_in: 1d}")
    if fields is None:
        return None
    unknown_keys(scope.ctx, fields.data, ("subject", "body", "due_in"), fields.prefix)
    subject = fields.get("subject", single_line, "a task subject", required=True)
    body = fields.get("body", string, "text")
    due_in = fields.get("due_in", read_duration)
    return None if fields.failed else CreateTaskStep(step_id, subject, body, due_in)


def _webhook(scope: StepScope, step_id: str, value: Node) -> Step | None:
    fields = scope.fields(value, "webhook", "{url: 'https://hooks.example.com/x'}")
    if fields is None:
        return None
    unknown_keys(scope.ctx, fields.data, ("url", "body"), fields.prefix)
    url = fields.get("url", _https_url, required=True)
    body = fields.get("body", _json_object, default={})
    return None if fields.failed else WebhookStep(step_id, url, body)


def _https_url(ctx: Context, node: Node, label: str) -> str | None:
    value = single_line(ctx, node, label, "an https URL")
    if value is None:
        return None
    try:
        parts = urlsplit(value)
        host = parts.hostname
    except ValueError:
        host = None
    if host and (parts.scheme == "https" or (parts.scheme == "http" and host in LOCAL_HOSTS)):
        return value
    ctx.error(
        node,
        f"{label}: expected an https URL (http only for localhost or 127.0.0.1), got '{value}'",
    )
    return None


def _json_object(ctx: Context, node: Node, label: str) -> object:
    if not isinstance(node, MappingNode):
        ctx.error(node, f"{label}: expected a mapping, got {describe(node)}")
        return INVALID
    return json_value(ctx, node, label)


def _goto(scope: StepScope, step_id: str, value: Node) -> Step | None:
    target = scope.target(scope.ctx, value, f"{scope.prefix}goto")
    return None if target is None else GotoStep(step_id, target)


def _exit(scope: StepScope, step_id: str, value: Node) -> Step | None:
    if is_null(value):
        return ExitStep(id=step_id)
    if not isinstance(value, MappingNode):
        scope.ctx.error(
            value, f"{scope.prefix}exit: expected {{}} or {{reason: text}}, got {describe(value)}"
        )
        return None
    fields = scope.fields(value, "exit", "{reason: text}")
    if fields is None:
        return None
    unknown_keys(scope.ctx, fields.data, ("reason",), fields.prefix)
    reason = fields.get("reason", single_line, "a reason")
    return None if fields.failed else ExitStep(id=step_id, reason=reason)


STEP_SYNTAX: dict[str, StepSyntax] = {
    "send": StepSyntax(("subject", "from"), _send),
    "wait": StepSyntax((), parse_wait),
    "wait_for": StepSyntax((), parse_wait_for),
    "branch": StepSyntax((), parse_branch),
    "split": StepSyntax((), parse_split),
    "holdout": StepSyntax((), _holdout),
    "update_property": StepSyntax((), _update_property),
    "create_task": StepSyntax((), _create_task),
    "webhook": StepSyntax((), _webhook),
    "goto": StepSyntax((), _goto),
    "exit": StepSyntax((), _exit),
}
# Which stored kinds each YAML key produces (`wait:` has three forms).
STEP_KINDS_BY_KEY: dict[str, tuple[str, ...]] = {
    "wait": ("wait", "wait_until", "wait_until_date"),
    **{key: (key,) for key in STEP_SYNTAX if key != "wait"},
}
