"""What every receiver shares: the runtime of this app, JSON errors, API-key auth."""

from __future__ import annotations

from typing import Any

from flask import Flask, Response, current_app, jsonify, request
from werkzeug.exceptions import HTTPException

from connector.runtime import Runtime


def runtime() -> Runtime:
    rt: Runtime = current_app.extensions["runtime"]
    return rt


def error(status: int, message: str, **extra: Any) -> tuple[Response, int]:
    return jsonify({"error": message, **extra}), status


def authenticated_account_id() -> int | None:
    """The account whose API key is in `Authorization: Bearer` or `X-API-Key`."""
    header = request.headers.get("Authorization", "")
    key = header[7:].strip() if header.lower().startswith("bearer ") else ""
    key = key or request.headers.get("X-API-Key", "").strip()
    if not key or len(key) > 200:
        return None
    return runtime().api_keys.account_id(key)


def install_json_errors(app: Flask) -> None:
    """API paths answer errors as JSON with the right status, never an HTML page."""

    @app.errorhandler(HTTPException)
    def _http_error(exc: HTTPException) -> Any:
        if not request.path.startswith(("/v1/", "/webhooks/")):
            return exc
        messages = {413: f"body larger than {current_app.config['MAX_CONTENT_LENGTH']} bytes"}
        return error(exc.code or 500, messages.get(exc.code or 0, exc.description or exc.name))
