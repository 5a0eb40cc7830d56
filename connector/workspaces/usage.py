"""Which contact properties a workspace reads: what the HubSpot webhook processing fetches
for a contact and what the HubSpot app subscribes to changes of.

Flows and segments are read through the lints' own walk (`flow_properties`,
`referenced_properties`); templates by walking the Jinja AST of every file, layouts and
partials included, for merge tags on `contact` (`contact.firstname`, `contact['firstname']`,
`contact.get('firstname')`, `contact | attr('firstname')`, with any filters around them),
also through `{% set c = contact %}` / `{% with %}` aliases and macros that are passed
`contact` as an argument.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field

from jinja2 import Environment, TemplateSyntaxError, nodes

from connector.engine.loader import flow_properties
from connector.engine.rules import referenced_properties
from connector.workspaces.build import Workspace

CONTACT = "contact"
# Every contact carries these whatever the definitions say (the address, the CRM's object
# id), and `crm_id` is no CRM property at all: they are never in the result, so callers
# add what they always need themselves (the HubSpot app adds `email` to its subscriptions).
IDENTITY = frozenset({"email", "crm_id"})
# The read-only mapping methods the template sandbox leaves reachable on `contact`.
_METHODS = frozenset({"get", "keys", "values"})
# Parsing needs no sandbox: the store's environment differs only in how it renders.
_PARSER = Environment()


def properties_used(workspace: Workspace) -> frozenset[str]:
    """`read_properties`, once per workspace version (the events worker asks for every
    chunk of CRM events, and walking the templates takes a fifth of a second)."""
    with _LOCK:
        found = _BY_DIGEST.get(workspace.digest)
        if found is not None:
            _BY_DIGEST.move_to_end(workspace.digest)
            return found
    found = read_properties(workspace)
    with _LOCK:
        _BY_DIGEST[workspace.digest] = found
        while len(_BY_DIGEST) > _CACHED:
            _BY_DIGEST.popitem(last=False)
    return found


_BY_DIGEST: OrderedDict[str, frozenset[str]] = OrderedDict()
_CACHED = 256
_LOCK = threading.Lock()


def read_properties(workspace: Workspace) -> frozenset[str]:
    """CRM property names the workspace's flows (triggers, conditions, branches, goals,
    waits, update steps), segments and templates read or write, without IDENTITY.

    A path such as `address.city` counts as its CRM property, `address`. What a template
    reads dynamically (`contact[name]`, `contact.keys()`, `contact | tojson`) cannot be
    named and is not included.
    """
    paths: set[str] = set()
    for flow in workspace.flows.values():
        paths |= flow_properties(flow)
    for segment in workspace.segments.values():
        paths |= referenced_properties(segment.rule)
    paths |= template_properties(workspace.templates.files)
    return frozenset(path.split(".", 1)[0] for path in paths) - IDENTITY


def template_properties(files: Mapping[str, str]) -> frozenset[str]:
    """Keys of `contact` that the template files (`welcome/body.mjml` -> source) read.

    A file with a syntax error is skipped: it renders nothing, and deploy refuses it."""
    trees = []
    for _, source in sorted(files.items()):
        try:
            trees.append(_PARSER.parse(source))
        except TemplateSyntaxError:
            continue
    macros: dict[str, list[nodes.Macro]] = {}
    renames: dict[str, str] = {}  # {% from ... import card as c %}: c -> card
    for tree in trees:
        for macro in tree.find_all(nodes.Macro):
            macros.setdefault(macro.name, []).append(macro)
        for imported in tree.find_all(nodes.FromImport):
            for name in imported.names:
                if isinstance(name, tuple):
                    renames[name[1]] = name[0]
    # Which macro parameters are handed `contact`, found to a fixed point since a macro
    # may pass its parameter on to another.
    handed: dict[int, set[str]] = {id(m): set() for group in macros.values() for m in group}
    while True:
        scopes = [_Scope(tree, frozenset({CONTACT})) for tree in trees]
        scopes += [
            _Scope(m, frozenset({CONTACT} - _params(m) | handed[id(m)]))
            for group in macros.values()
            for m in group
        ]
        changed = False
        for scope in scopes:
            for callee, where in scope.passes:
                for macro in macros.get(renames.get(callee, callee), []):
                    param = _param(macro, where)
                    if param is not None and param not in handed[id(macro)]:
                        handed[id(macro)].add(param)
                        changed = True
        if not changed:
            return frozenset(name for scope in scopes for name in scope.reads)


@dataclass
class _Scope:
    """One template's top level or one macro's body (nested macros are scopes of their own),
    with the names that stand for the contact in it."""

    root: nodes.Node
    given: frozenset[str]
    reads: set[str] = field(default_factory=set)
    passes: set[tuple[str, int | str]] = field(default_factory=set)  # (callee, position | key)

    def __post_init__(self) -> None:
        aliases = self._aliases()
        for node in _nodes_in(self.root):
            self._look(node, aliases)

    def _aliases(self) -> frozenset[str]:
        found = set(self.given)
        while True:
            more = {
                target.name
                for target, value in _bindings(self.root)
                if isinstance(target, nodes.Name) and _is_alias(value, found)
            } - found
            if not more:
                return frozenset(found)
            found |= more

    def _look(self, node: nodes.Node, aliases: frozenset[str]) -> None:
        if isinstance(node, nodes.Getattr) and _is_alias(node.node, aliases):
            if node.attr not in _METHODS:
                self.reads.add(node.attr)
        elif isinstance(node, nodes.Getitem) and _is_alias(node.node, aliases):
            self._read_const(node.arg)
        elif isinstance(node, nodes.Filter) and node.name == "attr":
            if _is_alias(node.node, aliases) and node.args:
                self._read_const(node.args[0])
        elif isinstance(node, nodes.Call):
            self._look_at_call(node, aliases)

    def _look_at_call(self, call: nodes.Call, aliases: frozenset[str]) -> None:
        callee = call.node
        owner = callee.node if isinstance(callee, nodes.Getattr) and callee.attr == "get" else None
        if call.args and _is_alias(owner, aliases):
            self._read_const(call.args[0])
            return
        name = _callee(callee)
        if name is not None:
            self.passes |= {(name, i) for i, arg in enumerate(call.args) if _is_alias(arg, aliases)}
            self.passes |= {(name, kw.key) for kw in call.kwargs if _is_alias(kw.value, aliases)}

    def _read_const(self, node: nodes.Node) -> None:
        if isinstance(node, nodes.Const) and isinstance(node.value, str):
            self.reads.add(node.value)


def _nodes_in(root: nodes.Node) -> Iterator[nodes.Node]:
    """Every node under `root` but not inside a macro defined under it."""
    stack = list(root.iter_child_nodes())
    while stack:
        node = stack.pop()
        if isinstance(node, nodes.Macro):
            continue
        yield node
        stack.extend(node.iter_child_nodes())


def _bindings(root: nodes.Node) -> Iterator[tuple[nodes.Node, nodes.Node]]:
    """(target, value) of every `{% set %}` and `{% with %}` in the scope."""
    for node in _nodes_in(root):
        if isinstance(node, nodes.Assign):
            yield node.target, node.node
        elif isinstance(node, nodes.With):
            yield from zip(node.targets, node.values, strict=False)


def _is_alias(node: nodes.Node | None, aliases: set[str] | frozenset[str]) -> bool:
    return isinstance(node, nodes.Name) and node.name in aliases


def _callee(node: nodes.Node) -> str | None:
    """The macro a call names: `card(...)` or `ui.card(...)`."""
    if isinstance(node, nodes.Name):
        return str(node.name)
    if isinstance(node, nodes.Getattr):
        return str(node.attr)
    return None


def _params(macro: nodes.Macro) -> frozenset[str]:
    return frozenset(arg.name for arg in macro.args)


def _param(macro: nodes.Macro, where: int | str) -> str | None:
    names = [arg.name for arg in macro.args]
    if isinstance(where, int):
        return names[where] if where < len(names) else None
    return where if where in names else None
