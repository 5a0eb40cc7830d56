"""Load flow definitions from YAML, with errors that name the file and the line.

The YAML is composed into a node tree (yamlnodes.py) and walked by hand instead of being
constructed wholesale: every value keeps its line, and a file reports all of its problems
at once. The sections have their own modules: triggers.py, settings.py, steps.py (with
waits.py and routes.py); values.py reads single values.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from connector.engine.flows import Flow
from connector.engine.loader.settings import parse_settings
from connector.engine.loader.steps import parse_steps
from connector.engine.loader.triggers import parse_trigger
from connector.engine.loader.values import FLOW_ID
from connector.engine.yamlnodes import (
    MAX_FILE_BYTES,
    Context,
    DefinitionError,
    DefinitionErrors,
    YamlMap,
    definition_key,
    line_of,
    load_folder,
    mapping,
    required,
    string,
    too_large,
    unknown_keys,
)

# Flow files report errors of the general definition kind.
FlowError = DefinitionError
FlowErrors = DefinitionErrors

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
    return load_folder(directory, load_flow_texts)


def load_flow_texts(texts: Mapping[str, str]) -> dict[str, Flow]:
    """The flows of `texts` (source -> YAML), keyed and sorted by key; FlowErrors with every
    problem of every text, including flow ids used twice."""
    errors: list[FlowError] = []
    flows: dict[str, tuple[Flow, str]] = {}
    for source in sorted(texts):
        ctx = Context(source)
        parsed = _parse_flow(texts[source], ctx)
        if parsed is None:
            errors.extend(ctx.sorted_errors())
        elif parsed[0].key in flows:
            flow, id_line = parsed
            message = f"duplicate flow id '{flow.key}' (also in {flows[flow.key][1]})"
            errors.append(FlowError(source, id_line, message))
        else:
            flows[parsed[0].key] = (parsed[0], source)
    if errors:
        raise FlowErrors(errors)
    return {key: flows[key][0] for key in sorted(flows)}


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
    lines: dict[str, int] = {}
    key, id_line = _flow_key(ctx, doc)
    name = string(ctx, required(ctx, doc, "name", ""), "name", "a flow name")
    description = string(ctx, doc.values.get("description"), "description", "text")
    trigger_node = required(ctx, doc, "trigger", "")
    trigger = parse_trigger(ctx, trigger_node)
    settings = parse_settings(ctx, doc.values.get("settings"), lines)
    steps = parse_steps(ctx, required(ctx, doc, "steps", ""), lines)
    if ctx.errors or key is None or name is None or trigger is None or trigger_node is None:
        return None
    lines["trigger"] = line_of(doc.keys["trigger"])
    flow = Flow.create(
        key=key,
        name=name,
        trigger=trigger,
        steps=steps,
        settings=settings,
        source=ctx.source,
        description=description or "",
        lines=lines,
    )
    return flow, id_line


def _flow_key(ctx: Context, doc: YamlMap) -> tuple[str | None, int | None]:
    return definition_key(ctx, doc.values.get("id"), kind="flow", pattern=FLOW_ID)
