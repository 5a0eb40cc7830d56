"""Lints: problems a flow file can have that are not schema errors, because they depend
on the rest of the deployment (templates, segments, CRM properties) or on the shape of the
step graph. `connector flows validate` prints them after the schema errors.

Waits that never end are not a lint: wait_for requires a timeout, so the loader refuses
them. Loops without a wait are errors here (the run loop stops them at run time too).
"""

from __future__ import annotations

from collections.abc import Collection, Iterator
from dataclasses import dataclass
from typing import Literal

from connector.engine.common import did_you_mean
from connector.engine.flows import (
    BranchStep,
    DateTrigger,
    EngagementTrigger,
    Flow,
    PropertyChanged,
    SegmentEntered,
    SegmentLeft,
    SendStep,
    UpdatePropertyStep,
    WaitForStep,
    WaitUntilDateStep,
)
from connector.engine.rules import Rule, referenced_properties, referenced_segments

Severity = Literal["error", "warning"]


@dataclass(frozen=True)
class Lint:
    path: str
    line: int | None
    message: str
    severity: Severity

    def __str__(self) -> str:
        where = self.path if self.line is None else f"{self.path}:{self.line}"
        return f"{where}: {self.severity}: {self.message}"


def lint_flow(
    flow: Flow,
    *,
    templates: Collection[str],
    segments: Collection[str] | None = None,
    known_properties: Collection[str] | None = None,
) -> list[Lint]:
    """Every lint of `flow`, in line order. Segments and properties are checked only when
    the caller knows them (None: not checked)."""
    found: list[tuple[str | None, str, Severity]] = []  # (lines key, message, severity)
    found += _unreachable(flow)
    found += _loops_without_a_wait(flow)
    found += _missing_templates(flow, templates)
    if segments is not None:
        found += _unknown(flow, _segment_uses(flow), "segment", segments, "error")
    if known_properties is not None:
        found += _unknown(flow, _property_uses(flow), "property", known_properties, "warning")
    lints = [
        Lint(flow.source, None if key is None else flow.lines.get(key), message, severity)
        for key, message, severity in found
    ]
    return sorted(lints, key=lambda lint: lint.line or 0)


def step_graph(flow: Flow) -> list[set[int]]:
    """For each step, the indexes of the steps it may run next (the end is not a node)."""
    index = {step.id: i for i, step in enumerate(flow.steps)}
    graph = []
    for i, step in enumerate(flow.steps):
        nexts = {index[target] for target in step.jumps()}
        if step.falls_through() and i + 1 < len(flow.steps):
            nexts.add(i + 1)
        graph.append(nexts)
    return graph


def _reachable(graph: list[set[int]], start: int, allowed: set[int] | None = None) -> set[int]:
    seen: set[int] = set()
    stack = [start]
    while stack:
        for nxt in graph[stack.pop()]:
            if nxt not in seen and (allowed is None or nxt in allowed):
                seen.add(nxt)
                stack.append(nxt)
    return seen


def _unreachable(flow: Flow) -> Iterator[tuple[str | None, str, Severity]]:
    reached = _reachable(step_graph(flow), 0) | {0}
    for i, step in enumerate(flow.steps):
        if i not in reached:
            yield f"step:{step.id}", f"step '{step.id}' is unreachable", "warning"


def _loops_without_a_wait(flow: Flow) -> Iterator[tuple[str | None, str, Severity]]:
    graph = step_graph(flow)
    quick = {i for i, step in enumerate(flow.steps) if not step.waits}
    reach = {i: _reachable(graph, i, quick) for i in quick}
    reported: set[int] = set()
    for i in sorted(quick):
        if i in reported or i not in reach[i]:
            continue
        loop = sorted(j for j in reach[i] if i in reach[j])
        reported.update(loop)
        ids = " -> ".join(flow.steps[j].id for j in [*loop, loop[0]])
        message = f"steps {ids} loop without a wait"
        yield f"step:{flow.steps[loop[0]].id}", message, "error"


def _missing_templates(
    flow: Flow, templates: Collection[str]
) -> Iterator[tuple[str | None, str, Severity]]:
    for step in flow.steps:
        if isinstance(step, SendStep) and step.template not in templates:
            hint = did_you_mean(step.template, sorted(templates)) if templates else ""
            yield (
                f"step:{step.id}",
                f"step '{step.id}': no template '{step.template}'{hint}",
                "error",
            )
    trigger = flow.trigger
    template = trigger.template if isinstance(trigger, EngagementTrigger) else None
    if template is not None and template not in templates:
        yield "trigger", f"trigger: no template '{template}'", "warning"


Use = tuple[str | None, str, str]  # (lines key, where, name)


def flow_rules(flow: Flow) -> Iterator[tuple[str | None, str, Rule]]:
    """Every rule a flow evaluates: trigger `if:`, branch cases, goals, exit criteria."""
    if flow.trigger.condition is not None:
        yield "trigger", "trigger", flow.trigger.condition
    for step in flow.steps:
        if isinstance(step, BranchStep):
            for case in step.cases:
                yield f"step:{step.id}", f"step '{step.id}'", case.condition
    for goal in flow.settings.goals:
        yield f"goal:{goal.name}", f"goal '{goal.name}'", goal.when
    for n, rule in enumerate(flow.settings.exit_when):
        yield f"exit_when:{n}", f"exit_when rule {n + 1}", rule


def _segment_uses(flow: Flow) -> Iterator[Use]:
    if isinstance(flow.trigger, SegmentEntered | SegmentLeft):
        yield "trigger", "trigger", flow.trigger.segment
    for step in flow.steps:
        if isinstance(step, WaitForStep) and step.segment is not None:
            yield f"step:{step.id}", f"step '{step.id}'", step.segment
    for key, where, rule in flow_rules(flow):
        for segment in sorted(referenced_segments(rule)):
            yield key, where, segment


def flow_properties(flow: Flow) -> frozenset[str]:
    """Contact properties the flow reads or writes, as written (`address.city` is a path
    into the `address` property); what the property lint checks."""
    return frozenset(name for _, _, name in _property_uses(flow))


def _property_uses(flow: Flow) -> Iterator[Use]:
    if isinstance(flow.trigger, PropertyChanged | DateTrigger):
        yield "trigger", "trigger", flow.trigger.property
    for step in flow.steps:
        if isinstance(step, WaitUntilDateStep | UpdatePropertyStep) and step.property:
            yield f"step:{step.id}", f"step '{step.id}'", step.property
    for key, where, rule in flow_rules(flow):
        for prop in sorted(referenced_properties(rule)):
            yield key, where, prop


def _unknown(
    flow: Flow, uses: Iterator[Use], noun: str, known: Collection[str], severity: Severity
) -> Iterator[tuple[str | None, str, Severity]]:
    for key, where, name in uses:
        if name not in known and name.split(".")[0] not in known:
            hint = did_you_mean(name, sorted(known)) if known else ""
            yield key, f"{where}: unknown {noun} '{name}'{hint}", severity
