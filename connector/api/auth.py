"""Every admin API request but the document is an account's: the same API key as
POST /v1/events (`Authorization: Bearer <key>` or `X-API-Key`), checked before anything
else, so an anonymous caller learns nothing (not even whether its body was valid)."""

from __future__ import annotations

from typing import Any

from flask import g, request

from webhooks.http import authenticated_account_id, error, read_json_body

# Endpoints that take a JSON body: it must be JSON, and valid JSON, before validation.
JSON_BODY_ENDPOINTS: set[str] = set()
PUBLIC_ENDPOINTS: set[str] = set()


def current_account_id() -> int:
    """The authenticated account of this request (set by `require_api_key`)."""
    account_id: int = g.api_account_id
    return account_id


def require_api_key() -> Any:
    """Blueprint `before_request`: 401 without a valid key; 400/415 for a JSON endpoint
    whose body is not JSON (spectree alone would read a broken body as `{}`)."""
    if request.method == "OPTIONS" or request.endpoint in PUBLIC_ENDPOINTS:
        return None  # Flask answers OPTIONS itself; it runs no view
    account_id = authenticated_account_id()
    if account_id is None:
        return error(401, "missing or unknown API key")
    g.api_account_id = account_id
    if request.endpoint in JSON_BODY_ENDPOINTS:
        return _check_json_body()
    return None


def _check_json_body() -> Any:
    if request.mimetype != "application/json":
        return error(415, "send the body as JSON with Content-Type: application/json")
    # The same strict reader as POST /v1/events (400/413 with a message); the bytes are
    # cached for spectree, which parses them again.
    read_json_body(cache=True)
    return None
