"""Salesforce's REST error bodies (a JSON list of {message, errorCode[, fields]}) and the
exception the routes raise to answer with one."""

from __future__ import annotations

from typing import Any


def error_list(error_code: str, message: str, fields: list[str] | None = None
               ) -> list[dict[str, Any]]:
    entry: dict[str, Any] = {"message": message, "errorCode": error_code}
    if fields is not None:
        entry["fields"] = fields
    return [entry]


class SfError(Exception):
    """An HTTP error answer with Salesforce's JSON list body."""

    def __init__(self, status: int, error_code: str, message: str,
                 fields: list[str] | None = None) -> None:
        super().__init__(message)
        self.status, self.error_code, self.fields = status, error_code, fields

    @property
    def body(self) -> list[dict[str, Any]]:
        return error_list(self.error_code, str(self), self.fields)

    def as_result(self) -> dict[str, Any]:
        """The per-record error of a composite answer (statusCode, not errorCode)."""
        return {"statusCode": self.error_code, "message": str(self),
                "fields": self.fields or []}


def not_found() -> SfError:
    return SfError(404, "NOT_FOUND", "The requested resource does not exist")


def invalid_field(name: str, sobject: str) -> SfError:
    return SfError(400, "INVALID_FIELD", f"No such column '{name}' on sobject of type {sobject}")


def malformed(message: str) -> SfError:
    return SfError(400, "MALFORMED_QUERY", message)
