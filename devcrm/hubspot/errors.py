"""HubSpot's error bodies, and the exception the routes raise to answer with one."""

from __future__ import annotations

import json
import uuid
from typing import Any


def correlation_id() -> str:
    return str(uuid.uuid4())


def error_body(message: str, category: str, **extra: Any) -> dict[str, Any]:
    """The shape of every CRM v3 error: status, message, correlationId, category."""
    return {"status": "error", "message": message, "correlationId": correlation_id(),
            "category": category, **extra}


class ApiError(Exception):
    """An HTTP error answer with HubSpot's JSON body."""

    def __init__(self, status: int, body: dict[str, Any]) -> None:
        super().__init__(body.get("message", ""))
        self.status = status
        self.body = body


def validation_error(message: str, **extra: Any) -> ApiError:
    return ApiError(400, error_body(message, "VALIDATION_ERROR", **extra))


def not_found(message: str = "resource not found") -> ApiError:
    return ApiError(404, error_body(message, "OBJECT_NOT_FOUND"))


def invalid_properties(problems: list[dict[str, Any]]) -> ApiError:
    """HubSpot's "Property values were not valid" 400: the per-property list is embedded as
    a JSON string in the message (a real quirk), with the same list under `errors`."""
    message = "Property values were not valid: " + json.dumps(problems, separators=(",", ":"))
    errors = [{"message": p["message"], "code": p["error"],
               "context": {"propertyName": [p["name"]]}} for p in problems]
    return validation_error(message, errors=errors)


def property_problem(name: str, error: str, message: str) -> dict[str, Any]:
    return {"isValid": False, "message": message, "error": error, "name": name,
            "localizedErrorMessage": message}


def standard_error(message: str, category: str, ids: list[str],
                   status: str = "error") -> dict[str, Any]:
    """One entry of a batch answer's `errors` (the client's StandardError needs every key)."""
    return {"status": status, "category": category, "message": message,
            "context": {"ids": ids}, "links": {}, "errors": []}
