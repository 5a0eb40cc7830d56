"""Fuzz every operation of the OpenAPI document against the real app, in process (WSGI):
no 5xx, and status codes, content types and bodies as the document says.

Cases come from the document (positive and negative data), half of them aimed at rows
that exist (the flow `welcome`, the template `welcome`, the contact with crm_id 501), so
the fuzzer reaches the success paths and not only the 404s. Deterministic (derandomize)
and bounded, so CI is stable and quick.
"""

from __future__ import annotations

from typing import Any

import hypothesis.strategies as st
import pytest
import schemathesis
from flask import Flask
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.generation import GenerationMode
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from connector.services.accounts import AccountView
from tests.functional.api.conftest import auth

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]
EXISTING = {"key": "welcome", "name": "welcome", "crm_id": "501"}
EXAMPLES = {GenerationMode.POSITIVE: 30, GenerationMode.NEGATIVE: 15}


def fuzz(app: Flask, account: AccountView, mode: GenerationMode) -> list[str]:
    schema = schemathesis.openapi.from_wsgi("/v1/openapi.json", app)
    headers = auth(account)
    seen = []
    for result in schema.get_all_operations():
        operation = result.ok()
        seen.append(f"{operation.method.upper()} {operation.path}")
        params = {p.name for p in operation.path_parameters}
        existing = {k: v for k, v in EXISTING.items() if k in params}
        strategy = operation.as_strategy(generation_mode=mode)
        if existing:
            strategy = st.one_of(
                strategy, operation.as_strategy(generation_mode=mode, path_parameters=existing)
            )

        @given(case=strategy)
        @settings(
            max_examples=EXAMPLES[mode],
            derandomize=True,
            database=None,
            deadline=None,
            phases=[Phase.explicit, Phase.generate, Phase.shrink],
            suppress_health_check=list(HealthCheck),
        )
        def run(case: Any) -> None:
            case.call_and_validate(headers=headers, checks=CHECKS)

        run()
    return seen


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE])
def test_every_operation_holds_under_fuzzing(
    app: Flask, account: AccountView, ada: None, mode: GenerationMode
) -> None:
    seen = fuzz(app, account, mode)
    assert "POST /v1/templates/{name}/preview" in seen
    assert "POST /v1/workspace" in seen
    assert "POST /v1/events" in seen
