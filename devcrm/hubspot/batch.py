"""The shape of batch answers (200/201 complete, 207 with per-input errors)."""

from __future__ import annotations

from typing import Any

from flask import Response, jsonify

from devcrm.hubspot.errors import validation_error
from devcrm.hubspot.records import iso

MAX_INPUTS = 100


def inputs_of(data: Any, limit: int = MAX_INPUTS) -> list[dict[str, Any]]:
    inputs = data.get("inputs") if isinstance(data, dict) else None
    if not isinstance(inputs, list):
        raise validation_error("Invalid input JSON: inputs is required")
    if len(inputs) > limit:
        raise validation_error(f"Batch input limit exceeded: {len(inputs)} inputs, at most "
                               f"{limit} allowed", errorType="VALIDATION_ERROR")
    return inputs


def batch_answer(results: list[dict[str, Any]], errors: list[dict[str, Any]], started: float,
           completed: float, ok_status: int) -> tuple[Response, int]:
    payload: dict[str, Any] = {"status": "COMPLETE", "results": results,
                               "startedAt": iso(started), "completedAt": iso(completed)}
    if errors:
        payload.update(numErrors=len(errors), errors=errors)
        return jsonify(payload), 207
    return jsonify(payload), ok_status
