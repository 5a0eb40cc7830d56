"""`connector flows validate`: schema errors and lints for a directory or file of flows."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from connector.email.templates import TemplateStore
from connector.engine.flows import Flow
from connector.engine.loader import lint_flow, load_flows, parse_flow
from connector.engine.segments import load_segments
from connector.engine.yamlnodes import DefinitionErrors
from connector.workspaces.build import read_catalogue as parse_catalogue
from connector.workspaces.files import CATALOGUE


@dataclass
class Report:
    lines: list[str] = field(default_factory=list)
    flows: int = 0
    errors: int = 0
    warnings: int = 0


def validate_flows(
    target: Path, *, templates_dir: Path, segments_dir: Path, flows_dir: Path | None = None
) -> Report:
    report = Report()
    flows = _load(target, report)
    segments = _segments(segments_dir, report)
    catalogue_dir = target if target.is_dir() else target.parent
    properties = read_catalogue(catalogue_dir / CATALOGUE)
    if properties is None and flows_dir is not None:
        properties = read_catalogue(flows_dir / CATALOGUE)
    templates = TemplateStore.from_directory(templates_dir).names()
    for key, flow in sorted(flows.items()):
        lints = lint_flow(flow, templates=templates, segments=segments, known_properties=properties)
        for lint in lints:
            report.lines.append(str(lint))
            report.errors += lint.severity == "error"
            report.warnings += lint.severity == "warning"
        report.lines.append(
            f"ok  {key}  ({len(flow.steps)} steps, version {flow.version})"
            if not any(lint.severity == "error" for lint in lints)
            else f"failed  {key}"
        )
    report.flows = len(flows)
    return report


def read_catalogue(path: Path) -> frozenset[str] | None:
    return parse_catalogue(path.read_text()) if path.is_file() else None


def _load(target: Path, report: Report) -> dict[str, Flow]:
    try:
        if target.is_dir():
            return load_flows(target)
        flow = parse_flow(target.read_text(), str(target))
        return {flow.key: flow}
    except DefinitionErrors as exc:
        report.lines += [str(e) for e in exc.errors]
        report.errors += len(exc.errors)
        return {}


def _segments(directory: Path, report: Report) -> frozenset[str] | None:
    try:
        return frozenset(load_segments(directory))
    except DefinitionErrors as exc:
        report.lines += [str(e) for e in exc.errors]
        report.errors += len(exc.errors)
        return None
