"""Small answer builders shared by the route modules."""

from __future__ import annotations

from flask import Response, jsonify


def token_error(error: str, description: str, status: int = 400) -> tuple[Response, int]:
    """The OAuth endpoints' error shape (not the REST API's list)."""
    return jsonify({"error": error, "error_description": description}), status
