"""One event-name pattern: a flow may name exactly the events POST /v1/events accepts."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from connector.engine.loader import FlowErrors, parse_flow
from connector.engine.rules import parse_rule_text
from connector.engine.yamlnodes import DefinitionErrors
from webhooks.events import EventIn

NAMES = [
    "order.completed", "signed_up", "Shop:Order-Done", "Order_Completed__e", "pe1_x",
    "a" * 100, "a" * 101, "Order Completed", "orders/create", "é", "",
]


def loader_accepts(name: str) -> bool:
    text = f"name: x\ntrigger: {{type: event, event: '{name}'}}\nsteps: [{{send: a}}]\n"
    try:
        parse_flow(text, "flows/f.yaml")
    except FlowErrors:
        return False
    return True


def rules_accept(name: str) -> bool:
    try:
        parse_rule_text(f"{{event: '{name}'}}\n", "rule")
    except DefinitionErrors:
        return False
    return True


def api_accepts(name: str) -> bool:
    try:
        EventIn.model_validate({"contact": {"email": "a@example.com"}, "event": name})
    except ValidationError:
        return False
    return True


@pytest.mark.parametrize("name", NAMES)
def test_flows_segments_and_the_api_agree_on_every_name(name: str) -> None:
    assert loader_accepts(name) == rules_accept(name) == api_accepts(name)


def test_the_shipped_names_and_namespaced_ones_are_names() -> None:
    assert api_accepts("Shop:Order-Done") and loader_accepts("Shop:Order-Done")
    assert not api_accepts("Order Completed")
